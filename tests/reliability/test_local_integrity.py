"""Local vault integrity (issue 16 item 5) and reads that never create a database (item 7):
tamper tests edit the SQLite file directly, then keep must refuse with one clear error naming
the key - never serve a wrong value."""

from __future__ import annotations

import base64
import os
import shutil
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from keep_secrets.model import Conflict, KeepError, NotFound, UsageError
from keep_secrets.project import VaultConfig
from keep_secrets.vaults.local import LocalVault, Tampered
from tests.conftest import KeepRunner


@pytest.fixture
def cfg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("KEEP_LOCAL_KEY", raising=False)
    return tmp_path / "config"


def make(root: Path, slug: str = "local") -> LocalVault:
    return LocalVault(VaultConfig(slug, "local", "Local"), "myapp", str(root))


def seeded(root: Path) -> LocalVault:
    vault = make(root)
    vault.set("staging", "API_KEY", "fake-v1")
    vault.set("staging", "API_KEY", "fake-v2")
    vault.set("staging", "OTHER", "fake-other")
    vault.close()
    return vault


def sql(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


TAMPERS: dict[str, Callable[[Path], None]] = {
    "copy v1 ciphertext into v2": lambda p: sql(
        p,
        "UPDATE versions SET nonce = (SELECT nonce FROM versions WHERE key = 'API_KEY' AND version = 1), "
        "ciphertext = (SELECT ciphertext FROM versions WHERE key = 'API_KEY' AND version = 1) "
        "WHERE key = 'API_KEY' AND version = 2",
    ),
    "point current at the old version": lambda p: sql(p, "UPDATE secrets SET current = 1 WHERE key = 'API_KEY'"),
    "delete a version row": lambda p: sql(p, "DELETE FROM versions WHERE key = 'API_KEY' AND version = 1"),
    "delete the current version row": lambda p: sql(p, "DELETE FROM versions WHERE key = 'API_KEY' AND version = 2"),
    "flip secure": lambda p: sql(p, "UPDATE versions SET secure = 0 WHERE key = 'API_KEY'"),
    "clear deleted_at": lambda p: sql(p, "UPDATE secrets SET deleted_at = NULL WHERE key = 'OTHER'"),
    "delete a whole key": lambda p: sql(p, "DELETE FROM secrets WHERE key = 'OTHER'",
                                        "DELETE FROM versions WHERE key = 'OTHER'"),
}


@pytest.mark.parametrize("name", sorted(TAMPERS))
def test_tampering_is_detected_never_a_wrong_value(tmp_path: Path, cfg_home: Path, name: str) -> None:
    vault = seeded(tmp_path)
    if name == "clear deleted_at":
        vault.delete("staging", "OTHER")
        vault.close()
    TAMPERS[name](vault.path)
    reopened = make(tmp_path)
    truth: dict[str, Callable[[], object]] = {
        "get": lambda: reopened.get("staging", "API_KEY").value == "fake-v2",
        "list": lambda: {s.key: s.value for s in reopened.list("staging")} == {"API_KEY": "fake-v2",
                                                                                "OTHER": "fake-other"},
        "history": lambda: [v.value for v in reopened.history("staging", "API_KEY")] == ["fake-v2", "fake-v1"],
    }
    refused = []
    for what, read in truth.items():
        try:
            assert read() is True, f"{name}: {what} returned something other than the truth"
        except Tampered as exc:
            assert exc.exit_code == 1 and "integrity check" in exc.message
            refused.append(what)
    assert refused, f"{name}: every read succeeded"


def test_a_tampered_row_names_its_key_in_one_cli_line(kp: KeepRunner) -> None:
    kp.ok("set", "API_KEY", "fake-v1", "--stage", "staging")
    kp.ok("set", "API_KEY", "fake-v2", "--stage", "staging")
    sql(kp.cwd / ".keep" / "local" / "local.db", "UPDATE secrets SET current = 1 WHERE key = 'API_KEY'")
    result = kp("get", "API_KEY", "--stage", "staging", "--format", "raw")
    assert result.code == 1 and result.stdout == ""
    assert "API_KEY" in result.stderr and "integrity check" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "fake-v1" not in result.stderr


def test_a_whole_file_put_back_from_an_older_copy_is_detected(tmp_path: Path, cfg_home: Path) -> None:
    vault = seeded(tmp_path)
    backup = tmp_path / "old.db"
    shutil.copy(vault.path, backup)
    vault.set("staging", "API_KEY", "fake-v3")
    vault.close()
    shutil.copy(backup, vault.path)
    with pytest.raises(Tampered, match="rolled back"):
        make(tmp_path).get("staging", "API_KEY")
    with pytest.raises(Tampered, match="rolled back"):
        make(tmp_path).set("staging", "API_KEY", "fake-on-top")  # never build on a rolled-back file


def test_ciphertext_from_another_vault_fails(tmp_path: Path, cfg_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEP_LOCAL_KEY", base64.b64encode(b"k" * 32).decode())
    one, two = make(tmp_path / "one"), make(tmp_path / "two")
    one.set("staging", "K", "fake-one")
    two.set("staging", "K", "fake-two")
    one.close()
    two.close()
    conn = sqlite3.connect(one.path)
    row = conn.execute("SELECT nonce, ciphertext FROM versions").fetchone()
    conn.close()
    sql(two.path)
    conn = sqlite3.connect(two.path)
    conn.execute("UPDATE versions SET nonce = ?, ciphertext = ?", row)
    conn.commit()
    conn.close()
    with pytest.raises(Tampered):
        make(tmp_path / "two").get("staging", "K")


def test_secure_delete_and_purge_of_one_version(tmp_path: Path, cfg_home: Path) -> None:
    vault = seeded(tmp_path)
    vault.set("staging", "API_KEY", "fake-v3")
    vault.purge_version("staging", "API_KEY", "1")
    assert [v.version for v in vault.history("staging", "API_KEY")] == ["3", "2"]
    with pytest.raises(Conflict):
        vault.purge_version("staging", "API_KEY", "3")
    with pytest.raises(NotFound):
        vault.purge_version("staging", "API_KEY", "1")
    assert vault.get("staging", "API_KEY").value == "fake-v3"
    assert vault._db().execute("PRAGMA secure_delete").fetchone()[0] == 1
    vault.close()
    assert b"fake-v1" not in vault.path.read_bytes()
    assert make(tmp_path).get("staging", "API_KEY", "2").value == "fake-v2"


def test_cli_delete_purge_version(kp: KeepRunner) -> None:
    for n in (1, 2, 3):
        kp.ok("set", "API_KEY", f"fake-v{n}", "--stage", "staging")
    kp.ok("delete", "API_KEY", "--purge", "--version", "1", "--force", "--stage", "staging")
    history = kp.ok("history", "API_KEY", "--format", "json", "--stage", "staging").json()
    assert isinstance(history, list) and [h["version"] for h in history] == ["3", "2"]
    current = kp("delete", "API_KEY", "--purge", "--version", "3", "--force", "--stage", "staging")
    assert current.code == 5
    assert kp.ok("get", "API_KEY", "--format", "raw", "--stage", "staging").stdout == "fake-v3\n"


def legacy_db(path: Path, key: bytes) -> None:
    """A database as the previous keep version wrote it (format 1: AAD `stage/key`, no MACs)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    path.parent.mkdir(parents=True, exist_ok=True)
    aead = AESGCM(key)
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE secrets (stage TEXT NOT NULL, key TEXT NOT NULL, current INTEGER NOT NULL, deleted_at TEXT,"
        " PRIMARY KEY (stage, key));"
        "CREATE TABLE versions (stage TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL, nonce BLOB NOT NULL,"
        " ciphertext BLOB NOT NULL, secure INTEGER NOT NULL, created_at TEXT NOT NULL, created_by TEXT,"
        " PRIMARY KEY (stage, key, version));"
    )
    nonce = os.urandom(12)
    check = base64.b64encode(nonce + aead.encrypt(nonce, b"keep-local-key-check", b"key-check")).decode()
    conn.execute("INSERT INTO meta VALUES ('vault_id', 'legacy0123456789'), ('key_check', ?)", (check,))
    for version, value in ((1, "fake-old-1"), (2, "fake-old-2")):
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, value.encode(), b"staging/K")
        conn.execute("INSERT INTO versions VALUES ('staging', 'K', ?, ?, ?, 1, '2025-01-01T00:00:00+00:00', 'me')",
                     (version, nonce, sealed))
    conn.execute("INSERT INTO secrets VALUES ('staging', 'K', 2, NULL)")
    conn.commit()
    conn.close()


def test_previous_format_is_read_then_migrated_on_first_write(
    tmp_path: Path, cfg_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEP_LOCAL_KEY", base64.b64encode(b"L" * 32).decode())
    vault = make(tmp_path)
    legacy_db(vault.path, b"L" * 32)
    assert vault.get("staging", "K").value == "fake-old-2"
    assert [v.value for v in vault.history("staging", "K")] == ["fake-old-2", "fake-old-1"]
    vault.set("staging", "NEW", "fake-new")
    vault.close()
    conn = sqlite3.connect(vault.path)
    assert conn.execute("SELECT value FROM meta WHERE name = 'format'").fetchone() == ("2",)
    assert conn.execute("SELECT COUNT(*) FROM versions WHERE mac IS NULL").fetchone() == (0,)
    conn.close()
    again = make(tmp_path)
    assert [v.value for v in again.history("staging", "K")] == ["fake-old-2", "fake-old-1"]
    assert again.get("staging", "NEW").value == "fake-new"
    again.close()
    sql(vault.path, "UPDATE secrets SET current = 1 WHERE key = 'K'")  # now protected
    with pytest.raises(Tampered):
        make(tmp_path).get("staging", "K")


# -- item 7: reads never create a database -----------------------------------------------------

def test_reads_never_create_the_database(kp: KeepRunner) -> None:
    db = kp.cwd / ".keep" / "local" / "local.db"
    assert not db.exists()
    shown = kp("show", "--stage", "staging")
    assert shown.code == 0 and "no data yet" in shown.stderr and str(db) in shown.stderr
    got = kp("get", "NOPE", "--stage", "staging")
    assert got.code == 3 and "no local data yet" in got.stderr
    for args in (("history", "NOPE"), ("delete", "NOPE", "--force"), ("export", "--format", "env")):
        kp(*args, "--stage", "staging")
    (kp.cwd / ".env.template").write_text("API_KEY={local:API_KEY}\n")
    ran = kp.process()("run", "--stage", "staging", "--template", ".env.template", "--", "true")
    assert ran.code != 0
    assert not db.exists()
    kp.ok("set", "API_KEY", "fake-value", "--stage", "staging")
    assert db.exists()


@pytest.mark.parametrize("damage", ["garbage", "missing columns", "bad timestamp", "bad key check"])
def test_corrupt_database_is_exit_2_with_path_and_hint(kp: KeepRunner, damage: str) -> None:
    kp.ok("set", "API_KEY", "fake-value", "--stage", "staging")
    db = kp.cwd / ".keep" / "local" / "local.db"
    if damage == "garbage":
        db.write_bytes(b"this is not a database" * 100)
    elif damage == "missing columns":
        sql(db, "DROP TABLE versions", "CREATE TABLE versions (stage TEXT)")
    elif damage == "bad timestamp":
        sql(db, "UPDATE versions SET created_at = 'yesterday-ish'")
    else:
        sql(db, "UPDATE meta SET value = '!!not base64!!' WHERE name = 'key_check'")
    result = kp("get", "API_KEY", "--stage", "staging")
    assert result.code in (1, 2), result.stderr
    assert "unexpected error" not in result.stderr and "Traceback" not in result.stderr
    if damage != "bad timestamp":  # a timestamp is covered by the row MAC: tampered (exit 1)
        assert result.code == 2 and str(db) in result.stderr and "backup" in result.stderr, result.stderr


# -- item 8: key file mode ---------------------------------------------------------------------

def test_a_key_file_readable_by_others_is_tightened_with_a_warning(
    tmp_path: Path, cfg_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vault = make(tmp_path)
    vault.set("staging", "K", "fake")
    key_file = vault.key_file()
    vault.close()
    os.chmod(key_file, 0o644)
    assert make(tmp_path).get("staging", "K").value == "fake"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    err = capsys.readouterr().err
    assert "readable by others" in err and "0644" in err


def test_usage_error_type_for_corrupt(tmp_path: Path, cfg_home: Path) -> None:
    vault = make(tmp_path)
    vault.path.parent.mkdir(parents=True)
    vault.path.write_bytes(b"x" * 4096)
    with pytest.raises(UsageError, match="damaged"):
        vault.list("staging")
    with pytest.raises(KeepError):
        vault.set("staging", "K", "v")
