"""What a `keep` process imports (SPEC §12: heavy imports only where used). Each case runs the
console-script entry point in a real subprocess and reads `sys.modules` at exit; counting
modules, not timing (the start-up times themselves are measured by bench/startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import KeepRunner

HEAVY = ("boto3", "botocore", "rich", "prompt_toolkit", "starlette", "uvicorn", "yaml", "hvac", "httpx", "keyring")

PROBE = (
    "import atexit, json, sys\n"
    "def report():\n"
    "    sys.stderr.write('MODULES=' + json.dumps(sorted({m.split('.')[0] for m in sys.modules})) + '\\n')\n"
    "atexit.register(report)\n"
    "from keep_secrets.cli import main\n"
    "main()\n"
)


def imported(kp: KeepRunner, *args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=kp.cwd, env=kp.env, capture_output=True,
                          text=True, timeout=60)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES="))
    return proc, set(json.loads(line.removeprefix("MODULES=")))


@pytest.mark.parametrize("fmt", ["table", "raw", "json"])
def test_get_on_the_local_vault_imports_nothing_heavy(kp: KeepRunner, fmt: str) -> None:
    kp.ok("set", "FAKE_KEY", "fake-value", "--stage", "local")  # creates the key file
    proc, modules = imported(kp, "get", "FAKE_KEY", "--stage", "local", "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    assert "fake-value" in proc.stdout
    # keyring included: with a key file there is no reason to look for an OS keyring
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))
