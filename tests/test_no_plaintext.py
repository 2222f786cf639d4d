"""No plaintext secret value ever touches disk (SPEC §4.1), and the local vault's files are
private (0600 files, 0700 key directory).

After writing values every way the CLI allows (argument, stdin, rotate, rename, rollback,
restore) every file under the project and HOME is read as bytes and searched for each
value, in UTF-8 and UTF-16 in case something re-encodes it.
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

from .conftest import KeepRunner

VALUES = {
    "DB_PASSWORD": "fake-db-pass-plaintext-4f1c",
    "API_TOKEN": "fake-api-token-plaintext-93ab",
    "PEM": "-----BEGIN FAKE-----\nfake-pem-plaintext-77de\n-----END FAKE-----",
    "UNICODE": "fake-ünïcødé-plaintext-✓",
}


def _all_files(*roots: Path) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        files.extend(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    return files


def _needles(value: str) -> list[bytes]:
    return [value.encode("utf-8"), value.encode("utf-16-le"), base64.b64encode(value.encode())]


def _assert_nowhere(values: list[str], *roots: Path) -> int:
    files = _all_files(*roots)
    for path in files:
        data = path.read_bytes()
        for value in values:
            for needle in _needles(value):
                assert needle not in data, f"plaintext of a secret found in {path}"
    return len(files)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_no_plaintext_anywhere_after_writes(kp: KeepRunner, project_dir: Path, home: Path) -> None:
    kp.ok("set", "DB_PASSWORD", VALUES["DB_PASSWORD"], "--stage", "local")
    kp.ok("set", "API_TOKEN", "--stdin", "--stage", "staging", input=VALUES["API_TOKEN"] + "\n")
    kp.ok("set", "PEM", "-", "--stage", "production", input=VALUES["PEM"])
    kp.ok("set", "UNICODE", VALUES["UNICODE"], "--plain", "--stage", "local")
    kp.ok("set", "DB_PASSWORD", "fake-second-version-0000", "--stage", "local")
    kp.ok("rollback", "DB_PASSWORD", "--to", "1", "--stage", "local")
    kp.ok("rename", "UNICODE", "UNICODE_RENAMED", "--stage", "local")
    kp.ok("delete", "API_TOKEN", "--force", "--stage", "staging")
    kp.ok("restore", "API_TOKEN", "--stage", "staging")
    kp.ok("rotate", "DB_PASSWORD", "--stage", "local")
    rotated = kp.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout[:-1]
    # reads must not leave anything behind either
    kp.ok("show", "--stage", "local", "--unmask")
    kp.ok("history", "DB_PASSWORD", "--stage", "local", "--unmask", "--limit", "0")
    kp.ok("search", "plaintext", "--stage", "local", "--unmask")

    stored = json.loads(kp.ok("get", "PEM", "--stage", "production", "--format", "json").stdout)
    assert stored["value"] == VALUES["PEM"]  # the values really are in the vault

    values = [*VALUES.values(), "fake-second-version-0000", rotated]
    checked = _assert_nowhere(values, project_dir, home)
    assert checked >= 4  # settings, vault config, db, key file at least

    db = project_dir / ".keep" / "local" / "local.db"
    assert db.exists()
    assert db.read_bytes().startswith(b"SQLite format 3\x00")


def test_db_and_key_files_are_private(kp: KeepRunner, project_dir: Path, home: Path) -> None:
    kp.ok("set", "DB_PASSWORD", "fake-db-pass-123", "--stage", "local")
    db = project_dir / ".keep" / "local" / "local.db"
    assert _mode(db) == 0o600
    for sidecar in db.parent.glob("local.db-*"):  # journal / wal, if present
        assert _mode(sidecar) & 0o077 == 0, sidecar
    key_dir = home / ".config" / "keep" / "keys"
    keys = list(key_dir.glob("*.key"))
    assert len(keys) == 1
    assert _mode(keys[0]) == 0o600
    assert _mode(key_dir) == 0o700
    assert len(base64.b64decode(keys[0].read_text().strip())) == 32
    # the key never sits in the project
    key_bytes = keys[0].read_bytes().strip()
    for path in _all_files(project_dir):
        assert key_bytes not in path.read_bytes(), path


def test_env_key_leaves_no_key_file(kp: KeepRunner, project_dir: Path, home: Path) -> None:
    env_key = base64.b64encode(b"fake-local-key-for-tests-32bytes").decode()
    kp.ok("set", "DB_PASSWORD", "fake-env-keyed-value-5521", "--stage", "local", env={"KEEP_LOCAL_KEY": env_key})
    out = kp.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw", env={"KEEP_LOCAL_KEY": env_key})
    assert out.stdout == "fake-env-keyed-value-5521\n"
    assert not list((home / ".config").rglob("*.key"))
    _assert_nowhere(["fake-env-keyed-value-5521", env_key], project_dir, home)
    # without the key the value cannot be read: access denied, nothing shown
    denied = kp("get", "DB_PASSWORD", "--stage", "local", "--format", "raw")
    assert denied.code == 4, denied.stderr
    assert denied.stdout == ""
    assert "fake-env-keyed-value-5521" not in denied.stderr
