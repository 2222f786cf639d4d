"""What a `keep` process imports (SPEC §12: heavy imports only where used). Each case runs the
console-script entry point in a real subprocess and reads `sys.modules` at exit; counting
modules, not timing (the start-up times themselves are measured by bench/startup.py)."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from .conftest import KeepRunner

HEAVY = ("boto3", "botocore", "rich", "prompt_toolkit", "starlette", "uvicorn", "yaml", "hvac", "httpx", "keyring")

PROBE = (
    "import atexit, sys\n"
    "def report():\n"
    "    sys.stderr.write('MODULES=' + repr(sorted(sys.modules)) + '\\n')\n"
    "atexit.register(report)\n"
    "from keep_secrets.console import main\n"  # the console script's entry point
    "main()\n"
)


def imported(kp: KeepRunner, *args: str, probe: str = PROBE) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    proc = subprocess.run([sys.executable, "-c", probe, *args], cwd=kp.cwd, env=kp.env, capture_output=True,
                          text=True, timeout=60)
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES="))
    names = ast.literal_eval(line.removeprefix("MODULES="))
    return proc, {name.split(".")[0] for name in names} | set(names)


@pytest.mark.parametrize("fmt", ["table", "raw", "json"])
def test_get_on_the_local_vault_imports_nothing_heavy(kp: KeepRunner, fmt: str) -> None:
    kp.ok("set", "FAKE_KEY", "fake-value", "--stage", "local")  # creates the key file
    proc, modules = imported(kp, "get", "FAKE_KEY", "--stage", "local", "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    assert "fake-value" in proc.stdout
    # keyring included: with a key file there is no reason to look for an OS keyring
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_get_and_version_need_no_click(kp: KeepRunner) -> None:
    """The fast path (keep_secrets/cli/quick.py): click alone costs more than the rest of a
    `keep get`; tests/test_quick_path.py proves the output is click's to the byte."""
    kp.ok("set", "FAKE_KEY", "fake-value", "--stage", "local")
    proc, modules = imported(kp, "get", "FAKE_KEY", "--stage", "local", "--format", "raw")
    assert proc.returncode == 0 and proc.stdout == "fake-value\n", proc.stderr
    assert "click" not in modules
    # AESGCM straight from cryptography's Rust bindings, not through every cipher module
    assert "cryptography.hazmat.primitives.ciphers" not in modules
    proc, modules = imported(kp, "--version")
    assert proc.returncode == 0 and proc.stdout.startswith("keep ")
    # beyond what the interpreter itself loads here (this machine's site hooks import typing)
    _, bare = imported(kp, probe=PROBE.split("from keep_secrets")[0])
    added = modules - bare
    assert not added & {"click", "cryptography", "sqlite3", "_sqlite3", "json", "typing", "keep_secrets.cli"}, added


def test_aesgcm_is_cryptographys_public_class() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from keep_secrets.vaults.local import aesgcm

    key = b"k" * 32
    sealed = aesgcm(key).encrypt(b"n" * 12, b"fake-value", b"local/KEY")
    assert type(aesgcm(key)) is AESGCM
    assert AESGCM(key).decrypt(b"n" * 12, sealed, b"local/KEY") == b"fake-value"


def test_get_builds_no_dataclass(kp: KeepRunner) -> None:
    """`@dataclass` compiles each generated method with exec at import, and `dataclasses`
    imports `inspect` (ast, dis, tokenize...): the value classes of the `get` path are
    keep_secrets.record's instead (tests/test_record.py holds them to dataclass behaviour)."""
    kp.ok("set", "FAKE_KEY", "fake-value", "--stage", "local")
    proc, modules = imported(kp, "get", "FAKE_KEY", "--stage", "local")
    assert proc.returncode == 0, proc.stderr
    assert not modules & {"dataclasses", "inspect", "ast", "dis", "tokenize"}, sorted(modules)
