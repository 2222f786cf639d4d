"""The embedded `local` vault: SQLite, one row per secret version, values sealed with AES-256-GCM.

* Each value has its own 96-bit nonce; `stage/key` is the associated data, so a ciphertext
  moved to another row fails to open.
* The 256-bit data key never sits in the project: `KEEP_LOCAL_KEY` (base64), else a key file
  in the user's config dir (`~/.config/keep/keys/<vault-id>.key`, 0600) made on first use.
* Writes run in `BEGIN IMMEDIATE` transactions so concurrent processes never lose an update.
* Every version is kept; delete is soft (restorable) until purged.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import functools
import getpass
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..fsutil import cannot
from ..model import (
    AccessDenied,
    Conflict,
    Expect,
    KeepError,
    NotFound,
    Secret,
    UsageError,
    Version,
    WriteResult,
)
from .base import Vault
from .registry import Capabilities, Driver, Option

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from ..project import VaultConfig

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS secrets (
    stage TEXT NOT NULL,
    key TEXT NOT NULL,
    current INTEGER NOT NULL,
    deleted_at TEXT,
    PRIMARY KEY (stage, key)
);
CREATE TABLE IF NOT EXISTS versions (
    stage TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    secure INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT,
    PRIMARY KEY (stage, key, version)
);
"""

_KEY_CHECK = b"keep-local-key-check"


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "keep"


KEYRING_SERVICE = "keep-local-vault"


def _decode_key(text: str, what: str, error: type[KeepError]) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise error(f"{what} must be 32 random bytes, base64-encoded")
    return key


def _keyring() -> Any:
    """The `keyring` module when it is installed and has a working backend (a desktop session,
    macOS Keychain, Windows Credential Locker); None otherwise or with KEEP_KEYRING=0."""
    if os.environ.get("KEEP_KEYRING", "").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        import keyring
        from keyring.backends import fail
    except Exception:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 1) <= 0:
        return None
    return keyring


def _keyring_get(ring: Any, vault_id: str) -> str | None:
    try:
        value = ring.get_password(KEYRING_SERVICE, vault_id)
    except Exception:
        return None
    return str(value) if value else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no passwd entry
        return "unknown"


def _create_private_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def aesgcm(key: bytes) -> AESGCM:
    """cryptography's AESGCM for `key`. The class is taken from the Rust bindings it lives in
    (`cryptography.hazmat.primitives.ciphers.aead` only re-exports it): the public module's
    package imports every cipher, mode and algorithm first, a third of `keep get`'s import
    time. Any other layout of cryptography falls back to the public import."""
    try:
        from cryptography.hazmat.bindings._rust import openssl

        cls: type[AESGCM] = openssl.aead.AESGCM
    except (ImportError, AttributeError):  # pragma: no cover - another cryptography layout
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM as cls
    return cls(key)


def _seal_check(aead: AESGCM) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + aead.encrypt(nonce, _KEY_CHECK, b"key-check")).decode()


def _create_key_file(path: Path, key: bytes) -> bytes:
    """Write `key` to `path` unless a key file is already there; returns the key the file holds.
    The key goes to a temporary file of this thread's own and is hard-linked into place: link()
    never replaces an existing file, and no other writer can ever open the same temporary."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.b64encode(key).decode() + "\n")
        os.link(tmp, path)
    except FileExistsError:
        # made by someone outside this vault's lock (e.g. a copy of the database): that key it is
        return _decode_key(path.read_text().strip(), f"Key file {path}", KeepError)
    except OSError as exc:
        raise KeepError(f"Cannot create key file {path}: {exc.strerror or exc}") from None
    finally:
        # the temp copy holds the data key: never leave it behind, whatever happened
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return key


class LocalVault(Vault):
    driver = "local"

    def __init__(self, config: VaultConfig, namespace: str, project_root: str | None = None) -> None:
        super().__init__(config, namespace, project_root)
        raw = config.get("path")
        root = Path(project_root or ".")
        if raw:
            path = Path(os.path.expanduser(str(raw)))
            self.path = path if path.is_absolute() else root / path
        else:
            self.path = root / ".keep" / "local" / f"{config.slug}.db"
        self._conn: sqlite3.Connection | None = None
        self._aead: AESGCM | None = None
        # one connection shared by the threads of a concurrent fetch, used one at a time
        self._lock = threading.RLock()

    # -- storage plumbing ------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                if not self.path.exists():
                    _create_private_file(self.path)
                if not os.access(self.path, os.R_OK):
                    raise PermissionError(13, "Permission denied", str(self.path))
            except OSError as exc:
                raise cannot("open local vault database", self.path, exc) from None
            try:
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
                conn.executescript(_SCHEMA)
            except sqlite3.DatabaseError as exc:
                raise KeepError(f"Cannot open local vault database {self.path}: {exc}") from None
            self._conn = conn
        return self._conn

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._db()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                else:
                    conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if "readonly" in str(exc):
                    raise KeepError(
                        f"Cannot write {self.path}: Permission denied (the database is read-only)"
                    ) from None
                raise KeepError(f"Cannot write local vault database {self.path}: {exc}") from None

    def _meta(self, name: str) -> str | None:
        row = self._db().execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _cipher(self) -> AESGCM:
        # under the instance lock: the threads of a concurrent fetch or probe share one instance
        with self._lock:
            if self._aead is None:
                self._aead = self._open_cipher()
            return self._aead

    def _open_cipher(self) -> AESGCM:
        aead = aesgcm(self._load_key())
        check = self._meta("key_check")
        if check is None:
            # a key from KEEP_LOCAL_KEY or an existing key file opening a vault with no data yet:
            # the first writer's check stands, so a different key later is refused
            with self._write() as conn:
                conn.execute(
                    "INSERT OR IGNORE INTO meta(name, value) VALUES ('key_check', ?)", (_seal_check(aead),)
                )
            check = self._meta("key_check")
        assert check is not None
        blob = base64.b64decode(check)
        try:
            aead.decrypt(blob[:12], blob[12:], b"key-check")
        except Exception:
            raise AccessDenied(
                f"The data key does not open local vault '{self.slug}' ({self.path})",
                hint="check KEEP_LOCAL_KEY or the key file in ~/.config/keep/keys/",
            ) from None
        return aead

    def _vault_id(self) -> str:
        with self._lock:
            vault_id = self._meta("vault_id")
            if vault_id is None:
                with self._write() as conn:
                    conn.execute(
                        "INSERT OR IGNORE INTO meta(name, value) VALUES ('vault_id', ?)", (os.urandom(16).hex(),)
                    )
                vault_id = self._meta("vault_id")
            assert vault_id is not None
            return vault_id

    def key_file(self) -> Path:
        return config_dir() / "keys" / f"{self._vault_id()}.key"

    def _stored_key(self, path: Path, ring: Callable[[], Any], vault_id: str) -> bytes | None:
        """The vault's key from its key file or the OS keyring, None when there is none yet.
        `ring()` is asked only when there is no key file: importing keyring and finding its
        backend costs more than the rest of a `keep get`."""
        try:
            text = path.read_text().strip()
        except FileNotFoundError:
            text = ""
        except OSError as exc:
            raise KeepError(f"Cannot read key file {path}: {exc.strerror or exc}") from None
        else:
            return _decode_key(text, f"Key file {path}", KeepError)
        if ring() is not None:
            stored = _keyring_get(ring(), vault_id)
            if stored:
                return _decode_key(stored, "The keyring entry for this vault", KeepError)
        return None

    def _load_key(self) -> bytes:
        """KEEP_LOCAL_KEY, else the key file, else the OS keyring; a new key only for a vault
        that holds no data yet (kept in the keyring where one works, else in a key file).

        Creation is atomic across threads and processes: it runs inside the database's write
        lock (BEGIN IMMEDIATE), looks again for a key there, and stores the key check in the
        same transaction. So exactly one key ever exists for a vault, and a vault that holds
        data (a key check or any version) never gets a new one."""
        env_key = os.environ.get("KEEP_LOCAL_KEY")
        if env_key:
            return _decode_key(env_key, "KEEP_LOCAL_KEY", UsageError)
        vault_id = self._vault_id()
        path = config_dir() / "keys" / f"{vault_id}.key"
        ring = functools.cache(_keyring)
        found = self._stored_key(path, ring, vault_id)
        if found is not None:
            return found
        with self._write() as conn:  # one creator at a time; the others wait, then read its key
            found = self._stored_key(path, ring, vault_id)
            if found is not None:
                return found
            has_data = (
                conn.execute("SELECT 1 FROM meta WHERE name = 'key_check'").fetchone() is not None
                or conn.execute("SELECT 1 FROM versions LIMIT 1").fetchone() is not None
            )
            if has_data:
                where = f"{path} or the OS keyring (service '{KEYRING_SERVICE}')" if ring() else str(path)
                raise AccessDenied(
                    f"The key for local vault '{self.slug}' is missing ({where})",
                    hint="restore the key file or set KEEP_LOCAL_KEY",
                )
            key = os.urandom(32)
            stored = False
            if ring() is not None:
                try:
                    ring().set_password(KEYRING_SERVICE, vault_id, base64.b64encode(key).decode())
                    stored = True
                except Exception:  # a keyring that fails to store: fall back to the key file
                    pass
            if not stored:
                key = _create_key_file(path, key)
            conn.execute(
                "INSERT OR IGNORE INTO meta(name, value) VALUES ('key_check', ?)", (_seal_check(aesgcm(key)),)
            )
            return key

    def _seal(self, stage: str, key: str, value: str) -> tuple[bytes, bytes]:
        nonce = os.urandom(12)
        return nonce, self._cipher().encrypt(nonce, value.encode("utf-8"), f"{stage}/{key}".encode())

    def _open(self, stage: str, key: str, nonce: bytes, ciphertext: bytes) -> str:
        cipher = self._cipher()
        try:
            plain = cipher.decrypt(nonce, ciphertext, f"{stage}/{key}".encode())
        except Exception:
            raise KeepError(f"Value of {stage}/{key} in local vault '{self.slug}' fails authentication") from None
        return plain.decode("utf-8")

    def _secret(self, stage: str, key: str, row: tuple[Any, ...]) -> Secret:
        version, nonce, ciphertext, secure, created_at = row
        return Secret(
            key=key,
            value=self._open(stage, key, nonce, ciphertext),
            revision=str(version),
            modified=_parse_time(created_at),
            vault=self.slug,
            stage=stage,
            secure=bool(secure),
            path=self.remote_name(stage, key),
        )

    # -- the interface ----------------------------------------------------------------------
    def remote_name(self, stage: str, key: str) -> str:
        return f"{stage}/{key}"

    def list(self, stage: str) -> builtins.list[Secret]:
        with self._lock:
            return self._list(stage)

    def _list(self, stage: str) -> builtins.list[Secret]:
        rows = self._db().execute(
            "SELECT s.key, v.version, v.nonce, v.ciphertext, v.secure, v.created_at FROM secrets s "
            "JOIN versions v ON v.stage = s.stage AND v.key = s.key AND v.version = s.current "
            "WHERE s.stage = ? AND s.deleted_at IS NULL ORDER BY s.key",
            (stage,),
        ).fetchall()
        return [self._secret(stage, row[0], row[1:]) for row in rows]

    def _state(self, stage: str, key: str) -> tuple[int, str | None] | None:
        row = self._db().execute(
            "SELECT current, deleted_at FROM secrets WHERE stage = ? AND key = ?", (stage, key)
        ).fetchone()
        return None if row is None else (int(row[0]), row[1])

    def _not_found(self, stage: str, key: str) -> NotFound:
        return NotFound(
            f"Secret '{key}' not found in {self.slug}:{stage}", key=key, remote_name=self.remote_name(stage, key)
        )

    def get(self, stage: str, key: str, version: str | None = None) -> Secret:
        with self._lock:
            return self._get(stage, key, version)

    def _get(self, stage: str, key: str, version: str | None = None) -> Secret:
        state = self._state(stage, key)
        if state is None:
            raise self._not_found(stage, key)
        current, deleted_at = state
        if version is None:
            if deleted_at is not None:
                raise NotFound(
                    f"Secret '{key}' in {self.slug}:{stage} is deleted",
                    key=key,
                    remote_name=self.remote_name(stage, key),
                    deleted=True,
                )
            wanted = current
        else:
            try:
                wanted = int(version)
            except ValueError:
                raise UsageError(f"Invalid version '{version}' for the local vault: use a version number") from None
        row = self._db().execute(
            "SELECT version, nonce, ciphertext, secure, created_at FROM versions "
            "WHERE stage = ? AND key = ? AND version = ?",
            (stage, key, wanted),
        ).fetchone()
        if row is None:
            raise NotFound(
                f"Version {version} of '{key}' not found in {self.slug}:{stage}",
                key=key,
                remote_name=self.remote_name(stage, key),
                version=version,
            )
        return self._secret(stage, key, row)

    def _append_version(
        self, conn: sqlite3.Connection, stage: str, key: str, value: str, secure: bool, allow_deleted: bool = False
    ) -> WriteResult:
        nonce, ciphertext = self._seal(stage, key, value)
        row = conn.execute(
            "SELECT current, deleted_at FROM secrets WHERE stage = ? AND key = ?", (stage, key)
        ).fetchone()
        if row is not None and row[1] is not None and not allow_deleted:
            raise Conflict(
                f"Secret '{key}' in {self.slug}:{stage} is deleted",
                key=key,
                remote_name=self.remote_name(stage, key),
                deleted=True,
            )
        last = conn.execute(
            "SELECT COALESCE(MAX(version), 0) FROM versions WHERE stage = ? AND key = ?", (stage, key)
        ).fetchone()[0]
        version = int(last) + 1
        conn.execute(
            "INSERT INTO versions(stage, key, version, nonce, ciphertext, secure, created_at, created_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (stage, key, version, nonce, ciphertext, int(secure), _now(), _user()),
        )
        conn.execute(
            "INSERT INTO secrets(stage, key, current, deleted_at) VALUES (?, ?, ?, NULL) "
            "ON CONFLICT(stage, key) DO UPDATE SET current = excluded.current",
            (stage, key, version),
        )
        return WriteResult(revision=str(version), created=row is None)

    def set(self, stage: str, key: str, value: str, secure: bool = True) -> WriteResult:
        self._cipher()  # open the key before taking the write lock
        with self._write() as conn:
            return self._append_version(conn, stage, key, value, secure)

    def set_if(self, stage: str, key: str, value: str, expect: Expect, secure: bool = True) -> WriteResult:
        """The check and the write in one `BEGIN IMMEDIATE` transaction: no other process can
        write between them."""
        self._cipher()
        with self._write() as conn:
            row = conn.execute(
                "SELECT current, deleted_at FROM secrets WHERE stage = ? AND key = ?", (stage, key)
            ).fetchone()
            current = None if row is None or row[1] is not None else str(row[0])
            if not expect.holds(current):
                raise expect.failure(f"{self.slug}:{stage}", key, current)
            # a deleted key counts as absent: the write's own error then says "restore it first"
            return self._append_version(conn, stage, key, value, secure)

    def delete(self, stage: str, key: str, purge: bool = False) -> None:
        with self._write() as conn:
            row = conn.execute(
                "SELECT deleted_at FROM secrets WHERE stage = ? AND key = ?", (stage, key)
            ).fetchone()
            if row is None or (row[0] is not None and not purge):
                raise self._not_found(stage, key)
            if purge:
                conn.execute("DELETE FROM versions WHERE stage = ? AND key = ?", (stage, key))
                conn.execute("DELETE FROM secrets WHERE stage = ? AND key = ?", (stage, key))
            else:
                conn.execute(
                    "UPDATE secrets SET deleted_at = ? WHERE stage = ? AND key = ?", (_now(), stage, key)
                )

    def restore(self, stage: str, key: str) -> None:
        with self._write() as conn:
            row = conn.execute(
                "SELECT deleted_at FROM secrets WHERE stage = ? AND key = ?", (stage, key)
            ).fetchone()
            if row is None:
                raise self._not_found(stage, key)
            if row[0] is None:
                raise Conflict(f"Secret '{key}' in {self.slug}:{stage} is not deleted")
            conn.execute("UPDATE secrets SET deleted_at = NULL WHERE stage = ? AND key = ?", (stage, key))

    def history(self, stage: str, key: str, limit: int | None = None) -> builtins.list[Version]:
        with self._lock:
            return self._history(stage, key, limit)

    def _history(self, stage: str, key: str, limit: int | None = None) -> builtins.list[Version]:
        state = self._state(stage, key)
        if state is None:
            raise self._not_found(stage, key)
        current = state[0]
        sql = (
            "SELECT version, nonce, ciphertext, secure, created_at, created_by FROM versions "
            "WHERE stage = ? AND key = ? ORDER BY version DESC"
        )
        params: tuple[Any, ...] = (stage, key)
        if limit is not None:
            sql += " LIMIT ?"
            params = (stage, key, limit)
        out = []
        for version, nonce, ciphertext, secure, created_at, created_by in self._db().execute(sql, params):
            out.append(
                Version(
                    version=str(version),
                    value=self._open(stage, key, nonce, ciphertext),
                    modified=_parse_time(created_at),
                    by=created_by,
                    labels=("current",) if version == current else (),
                    current=version == current,
                    secure=bool(secure),
                )
            )
        return out

    def rollback(self, stage: str, key: str, version: str) -> WriteResult:
        old = self.get(stage, key, version)
        with self._write() as conn:
            return self._append_version(conn, stage, key, old.value, old.secure)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


DRIVER = Driver(
    name="local",
    label="Local encrypted vault",
    vault_class=LocalVault,
    options=(Option("path", "Database file of a local vault (default .keep/local/<slug>.db)"),),
    # the `secure` mark is kept (a copy to SSM stores a plain String) but every value is sealed
    capabilities=Capabilities(restore=True, plain_marker=True, history=True, conditional_writes=True),
)
