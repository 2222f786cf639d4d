"""Local-driver specifics the conformance suite cannot see: keys, file modes, sealing."""

from __future__ import annotations

import base64
import sqlite3
import stat
from pathlib import Path

import pytest

from keep_secrets.model import AccessDenied, KeepError, UsageError
from keep_secrets.project import VaultConfig
from keep_secrets.services.fetch import fetch_cells
from keep_secrets.vaults.local import LocalVault


@pytest.fixture
def cfg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("KEEP_LOCAL_KEY", raising=False)
    return tmp_path / "config"


def make(root: Path) -> LocalVault:
    return LocalVault(VaultConfig("local", "local", "Local"), "myapp", str(root))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_file_and_db_are_private(tmp_path: Path, cfg_home: Path) -> None:
    vault = make(tmp_path)
    vault.set("local", "K", "fake-value-123")
    key_file = vault.key_file()
    assert key_file.parent.parent == cfg_home / "keep"
    assert mode(key_file) == 0o600
    assert mode(key_file.parent) == 0o700
    assert mode(vault.path) == 0o600
    assert len(base64.b64decode(key_file.read_text())) == 32


def test_plaintext_never_in_database(tmp_path: Path, cfg_home: Path) -> None:
    vault = make(tmp_path)
    vault.set("local", "K", "fake-distinctive-plaintext")
    vault.close()
    assert b"fake-distinctive-plaintext" not in vault.path.read_bytes()


def test_same_value_twice_gives_different_ciphertexts(tmp_path: Path, cfg_home: Path) -> None:
    vault = make(tmp_path)
    vault.set("local", "A", "fake-same")
    vault.set("local", "B", "fake-same")
    vault.close()
    rows = sqlite3.connect(vault.path).execute("SELECT nonce, ciphertext FROM versions").fetchall()
    assert len({r[0] for r in rows}) == 2
    assert len({r[1] for r in rows}) == 2


def test_ciphertext_moved_to_another_key_fails_authentication(tmp_path: Path, cfg_home: Path) -> None:
    vault = make(tmp_path)
    vault.set("local", "A", "fake-a")
    vault.set("local", "B", "fake-b")
    vault.close()
    conn = sqlite3.connect(vault.path)
    nonce, ct = conn.execute("SELECT nonce, ciphertext FROM versions WHERE key = 'A'").fetchone()
    conn.execute("UPDATE versions SET nonce = ?, ciphertext = ? WHERE key = 'B'", (nonce, ct))
    conn.commit()
    conn.close()
    reopened = make(tmp_path)
    with pytest.raises(KeepError, match="fails its integrity check"):
        reopened.get("local", "B")
    assert reopened.get("local", "A").value == "fake-a"


def test_env_key_is_used_and_wrong_key_is_refused(
    tmp_path: Path, cfg_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEP_LOCAL_KEY", base64.b64encode(b"a" * 32).decode())
    vault = make(tmp_path)
    vault.set("local", "K", "fake-v")
    vault.close()
    assert not (cfg_home / "keep" / "keys").exists()
    monkeypatch.setenv("KEEP_LOCAL_KEY", base64.b64encode(b"b" * 32).decode())
    with pytest.raises(AccessDenied, match="does not open"):
        make(tmp_path).get("local", "K")


@pytest.mark.parametrize("bad", ["not-base64!!", base64.b64encode(b"short").decode()])
def test_malformed_env_key(tmp_path: Path, cfg_home: Path, monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("KEEP_LOCAL_KEY", bad)
    with pytest.raises(UsageError, match="KEEP_LOCAL_KEY"):
        make(tmp_path).set("local", "K", "fake-v")


def test_lost_key_file_is_an_error_not_a_new_key(tmp_path: Path, cfg_home: Path) -> None:
    vault = make(tmp_path)
    vault.set("local", "K", "fake-v")
    key_file = vault.key_file()
    vault.close()
    key_file.unlink()
    with pytest.raises(AccessDenied, match="missing"):
        make(tmp_path).get("local", "K")
    assert not key_file.exists()


def test_versions_are_all_kept(tmp_path: Path, cfg_home: Path) -> None:
    vault = make(tmp_path)
    for i in range(5):
        vault.set("local", "K", f"fake-{i}")
    assert [v.value for v in vault.history("local", "K")] == [f"fake-{i}" for i in range(4, -1, -1)]


def test_concurrent_reads_of_several_stages(tmp_path: Path, cfg_home: Path) -> None:
    vault = make(tmp_path)
    stages = ["local", "staging", "production", "qa"]
    for stage in stages:
        for i in range(20):
            vault.set(stage, f"K{i:02d}", f"fake-{stage}-{i}")
    cells = fetch_cells(lambda slug: vault, [("local", s) for s in stages])
    for stage in stages:
        assert [s.value for s in cells[("local", stage)]] == [f"fake-{stage}-{i}" for i in range(20)]


def test_custom_path_relative_to_project(tmp_path: Path, cfg_home: Path) -> None:
    vault = LocalVault(VaultConfig("team", "local", "Team", options={"path": "data/team.db"}), "myapp", str(tmp_path))
    vault.set("local", "K", "fake-v")
    assert (tmp_path / "data" / "team.db").exists()


# -- OS keyring ------------------------------------------------------------------------------

class _MemoryKeyring:
    """A working keyring backend stand-in (what a desktop session would give)."""

    priority = 5

    def __init__(self) -> None:
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password


@pytest.fixture
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> _MemoryKeyring:
    keyring = pytest.importorskip("keyring")
    ring = _MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: ring)
    monkeypatch.setattr(keyring, "get_password", ring.get_password)
    monkeypatch.setattr(keyring, "set_password", ring.set_password)
    monkeypatch.delenv("KEEP_KEYRING", raising=False)
    return ring


def test_key_goes_to_a_working_keyring_not_a_file(tmp_path: Path, cfg_home: Path,
                                                  memory_keyring: _MemoryKeyring) -> None:
    vault = make(tmp_path)
    vault.set("local", "K", "fake-keyring-value")
    vault.close()
    assert not (cfg_home / "keep" / "keys").exists()
    [(service, _)] = memory_keyring.store
    assert service == "keep-local-vault"
    assert make(tmp_path).get("local", "K").value == "fake-keyring-value"


def test_keyring_can_be_switched_off(tmp_path: Path, cfg_home: Path, memory_keyring: _MemoryKeyring,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEP_KEYRING", "0")
    vault = make(tmp_path)
    vault.set("local", "K", "fake-v")
    assert vault.key_file().exists()
    assert memory_keyring.store == {}


def test_existing_key_file_wins_over_keyring(tmp_path: Path, cfg_home: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    keyring = pytest.importorskip("keyring")
    vault = make(tmp_path)  # no working keyring here: the key goes to a file
    vault.set("local", "K", "fake-file-keyed")
    vault.close()
    ring = _MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: ring)
    monkeypatch.setattr(keyring, "get_password", ring.get_password)
    monkeypatch.setattr(keyring, "set_password", ring.set_password)
    assert make(tmp_path).get("local", "K").value == "fake-file-keyed"
    assert ring.store == {}


def test_lost_keyring_entry_is_reported(tmp_path: Path, cfg_home: Path, memory_keyring: _MemoryKeyring) -> None:
    vault = make(tmp_path)
    vault.set("local", "K", "fake-v")
    vault.close()
    memory_keyring.store.clear()
    with pytest.raises(AccessDenied, match="OS keyring"):
        make(tmp_path).get("local", "K")
