"""What a `keep` process imports (SPEC §12: heavy imports only where used). Each case runs the
console-script entry point in a real subprocess and reads `sys.modules` at exit; counting
modules, not timing (the start-up times themselves are measured by bench/startup.py)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

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


# Everything `keep get` on the local vault imports beyond a bare `python -S` (SPEC §12: its
# start-up within 4x `python -c pass`; bench/startup.py measures it). A module that joins this
# path must be added here on purpose, with its cost in mind (README, Performance).
GET_PATH_KEEP = {
    "keep_secrets", "keep_secrets.console", "keep_secrets.record", "keep_secrets.model", "keep_secrets.names",
    "keep_secrets.project", "keep_secrets.fsutil", "keep_secrets.cli", "keep_secrets.cli.quick",
    "keep_secrets.cli.context", "keep_secrets.cli.getting", "keep_secrets.formats", "keep_secrets.formats.table",
    "keep_secrets.services", "keep_secrets.services.secret_ops", "keep_secrets.vaults", "keep_secrets.vaults.base",
    "keep_secrets.vaults.registry", "keep_secrets.vaults.local", "keep_secrets.vaults.primitives",
}
GET_PATH_STDLIB = {
    # the interpreter's own start-up without site (os, re, enum... load for `site` and the console script anyway)
    "__future__", "_collections", "_collections_abc", "_functools", "_operator", "_sre", "_stat", "collections",
    "collections.abc", "copyreg", "enum", "errno", "functools", "genericpath", "itertools", "keyword", "operator",
    "os", "os.path", "posixpath", "re", "re._casefix", "re._compiler", "re._constants", "re._parser", "reprlib",
    "stat", "types", "warnings", "importlib", "importlib._bootstrap", "importlib._bootstrap_external",
    # what reading the project and the vault needs
    "json", "json.decoder", "json.encoder", "json.scanner", "_json",  # .keep/*.json
    "contextlib", "datetime", "_datetime", "math",  # sqlite3 needs datetime
    "sqlite3", "sqlite3.dbapi2", "_sqlite3", "binascii", "_sha256", "_sha2",  # the vault and its MACs
}
GET_PATH_THIRD_PARTY = ("cryptography", "_cffi_backend", "_openssl")  # AES-GCM (prefixes: its layout varies)
#: what this path used to import, and must not again (each is in no allowance above)
NOT_ON_GET_PATH = {"typing", "dataclasses", "inspect", "hashlib", "hmac", "_hashlib", "base64", "struct", "threading",
                   "getpass", "termios", "string", "unicodedata", "click", "tempfile", "shutil", "random", "secrets",
                   "pathlib", "urllib.parse", "ipaddress"}


def _imported_without_site(kp: KeepRunner, *args: str) -> set[str]:
    """The modules `keep ARGS` adds to a bare interpreter, in a `python -S` process (no site hook
    of the machine adds its own), keep and cryptography found through PYTHONPATH."""
    import cryptography

    import keep_secrets

    here = {str(Path(module.__file__ or "").parent.parent) for module in (keep_secrets, cryptography)}
    env = {**kp.env, "PYTHONPATH": os.pathsep.join(sorted(here))}

    def modules(probe: str, *argv: str) -> set[str]:
        proc = subprocess.run([sys.executable, "-S", "-c", probe, *argv], cwd=kp.cwd, env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES="))
        names: set[str] = set(ast.literal_eval(line.removeprefix("MODULES=")))
        return names

    return modules(PROBE, *args) - modules(PROBE.split("from keep_secrets")[0])


def test_get_imports_only_its_allowance(kp: KeepRunner) -> None:
    """The modules of `keep get` (quick path, local vault), counted in a `python -S` process so
    that no site hook of the machine adds its own: a list, not a timing, so it cannot drift."""
    kp.ok("set", "FAKE_KEY", "fake-value", "--stage", "local")
    for fmt in ("table", "json", "raw"):
        added = _imported_without_site(kp, "get", "FAKE_KEY", "--stage", "local", "--format", fmt)
        assert "keep_secrets.vaults.local" in added  # the probe did run the get
        assert not added & NOT_ON_GET_PATH, sorted(added & NOT_ON_GET_PATH)
        unexpected = {name for name in added - GET_PATH_KEEP - GET_PATH_STDLIB
                      if not name.startswith(GET_PATH_THIRD_PARTY)}
        assert not unexpected, f"new on the `keep get` path: {sorted(unexpected)}"


@pytest.mark.parametrize("driver", ["secretsmanager", "ssm"])
def test_get_on_the_local_vault_beside_an_aws_vault_loads_no_cache_or_pool(
    kp: KeepRunner, driver: str, closed_port: int
) -> None:
    """Reading the workspace validates every vault's settings against its driver's declaration,
    which imports the driver's module: that module must not bring the cache, the thread pools
    (concurrent.futures, logging) or dataclasses with it (bench/run.py measures `keep get` in a
    project that also has an AWS vault: 6.3x `python -c pass` with them, the budget is 4x)."""
    import json

    kp.ok("set", "FAKE_KEY", "fake-value", "--stage", "local")
    config = {"slug": "aws", "driver": driver, "name": "aws", "scope": "", "region": "us-east-1",
              "endpoint_url": f"http://127.0.0.1:{closed_port}", "cache": "on", "cache_max_stale": "2h"}
    (kp.cwd / ".keep" / "vaults" / "aws.json").write_text(json.dumps(config))
    proc, modules = imported(kp, "get", "FAKE_KEY", "--stage", "local", "--vault", "local", "--format", "raw")
    assert proc.returncode == 0 and proc.stdout == "fake-value\n", proc.stderr
    assert f"keep_secrets.vaults.{driver}" in modules  # its declaration was read
    _, bare = imported(kp, probe=PROBE.split("from keep_secrets")[0])  # this machine's site hooks
    unwanted = {"keep_secrets.vaults.cache", "concurrent.futures", "logging", "dataclasses", "queue", "random", *HEAVY}
    loaded = (modules - bare) & unwanted
    assert not loaded, sorted(loaded)
    # nor typing or threading (~16 ms of a 80 ms `keep get` with them): counted without the
    # machine's site hooks (`python -S`), which import typing themselves
    added = _imported_without_site(kp, "get", "FAKE_KEY", "--stage", "local", "--vault", "local", "--format", "raw")
    assert not added & {"typing", "threading"}, sorted(added & {"typing", "threading"})
