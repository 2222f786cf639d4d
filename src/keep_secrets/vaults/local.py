"""The embedded `local` vault: SQLite, one row per secret version, values sealed with AES-256-GCM.

* Each value has its own 96-bit nonce; the associated data is the vault id, stage, key and
  version, so a ciphertext copied to another row, version or vault fails to open.
* Integrity (format 2): every row carries an HMAC-SHA256 (key derived from the data key) of
  its metadata - a version row of its nonce, ciphertext, `secure`, time and author; a secret
  row of `current`, `deleted_at`, its last version number and its purged versions. The meta
  table holds a generation counter (one per write transaction) and an XOR of every secret
  row's MAC, itself under a MAC: a row edited, replayed from an older copy, added or removed,
  a version row removed, or `current` pointed elsewhere is refused as tampered (exit 1, naming
  the key) - never a wrong value. The last generation this user wrote is kept next to the key
  (`<vault-id>.state`), so a whole file put back from an older copy is detected too, on the
  machines and accounts that wrote it. Not detectable: a rollback seen by an account without
  that state file, or with the state file rolled back too; a database emptied to a new file.
* Databases of format 1 (associated data `stage/key`, no MACs) are read as they are and
  migrated to format 2 in the first write transaction (every value re-sealed).
* `PRAGMA secure_delete=ON`: purged values are overwritten in the file, not just unlinked.
* Reads never create the database: a missing file is "no local data yet" (with its path).
* The 256-bit data key never sits in the project: `KEEP_LOCAL_KEY` (base64), else a key file
  in the user's config dir (`~/.config/keep/keys/<vault-id>.key`, 0600) made on first use.
* Writes run in `BEGIN IMMEDIATE` transactions so concurrent processes never lose an update.
* Every version is kept; delete is soft (restorable) until purged.
"""

from __future__ import annotations

import _thread
import builtins
import contextlib
import functools
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from .. import fsutil
from ..fsutil import cannot
from ..model import (
    AccessDenied,
    Conflict,
    Expect,
    KeepError,
    NotFound,
    OutsideProject,
    Secret,
    UsageError,
    Version,
    WriteResult,
)
from ..record import record
from .base import DeletedSecret, Vault
from .primitives import b64decode, b64encode, equal, hmac_sha256
from .registry import Capabilities, Driver, Option

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: `keep get` start-up)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from ..project import VaultConfig
    from .base import ListsDeleted

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
_SCHEMA_V2 = (
    _SCHEMA.replace(
        "    deleted_at TEXT,\n", "    deleted_at TEXT,\n    last INTEGER,\n    purged TEXT,\n    mac BLOB,\n"
    ).replace("    created_by TEXT,\n", "    created_by TEXT,\n    mac BLOB,\n")
)
#: format 2 adds these columns (ALTER TABLE on migration)
_V2_COLUMNS = (
    ("secrets", "last", "INTEGER"),
    ("secrets", "purged", "TEXT"),
    ("secrets", "mac", "BLOB"),
    ("versions", "mac", "BLOB"),
)
FORMAT = "2"
_ZERO = bytes(32)

_KEY_CHECK = b"keep-local-key-check"


def _create_tables(conn: sqlite3.Connection) -> None:
    """A database without keep's tables (new, or being created by another process this moment)
    gets all the format-2 tables and its format row in one write transaction, so a racing process
    sees none or all of them: never another process's format-2 `meta` next to format-1 tables of
    its own (every later write then failed: 'no column named mac'). An existing database is left
    as it is (format 1 is migrated by the first write)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'secrets'").fetchone() is None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'secrets'").fetchone() is None:
                for statement in _SCHEMA_V2.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT OR IGNORE INTO meta(name, value) VALUES ('format', ?)", (FORMAT,))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    conn.executescript(_SCHEMA)


def _key_text(vault_id: str) -> str:
    """The vault's key file, as text (`keep get` imports no pathlib)."""
    return _config_text("keys", f"{vault_id}.key")


def _state_text(vault_id: str) -> str:
    """The file remembering the newest generation this account wrote, as text."""
    return _config_text("state", f"{vault_id}.generation")


def config_dir() -> Path:
    from pathlib import Path

    return Path(_config_base()) / "keep"


def _config_base() -> str:
    return os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")


def _config_text(*names: str) -> str:
    """`str(config_dir().joinpath(*names))` (plain names), without pathlib where the base is
    already spelled as pathlib spells it (SPEC §12: `keep get` imports no pathlib)."""
    base = _config_base()
    if fsutil.plain(base):
        return "/".join((base, "keep", *names))
    return str(config_dir().joinpath(*names))


KEYRING_SERVICE = "keep-local-vault"


def _decode_key(text: str, what: str, error: type[KeepError]) -> bytes:
    try:
        key = b64decode(text)
    except ValueError:
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
        import getpass  # only for writes: termios and pwd are not needed to read

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
    return b64encode(nonce + aead.encrypt(nonce, _KEY_CHECK, b"key-check"))


class Tampered(KeepError):
    """A row or the database as a whole fails its integrity check (exit 1)."""


class CorruptVault(UsageError):
    """The database file cannot be read as a keep vault (exit 2)."""


def _field(value: object) -> bytes:
    if value is None:
        return b"\xff"
    data = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
    return len(data).to_bytes(4, "big") + data


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _stderr_notice(text: str) -> None:
    try:
        sys.stderr.write(f"keep: notice: {text}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # pragma: no cover - stderr closed
        pass


def _create_key_file(path: Path, key: bytes) -> bytes:
    """Write `key` to `path` unless a key file is already there; returns the key the file holds.
    The key goes to a temporary file of this thread's own and is hard-linked into place: link()
    never replaces an existing file, and no other writer can ever open the same temporary."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{_thread.get_ident()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(b64encode(key) + "\n")
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


def data_file(project_root: Path, config: VaultConfig) -> Path:
    """The database file: the vault's `path` (relative to the project), else
    .keep/local/<slug>.db (so it follows a rename of the slug)."""
    from pathlib import Path

    raw = config.get("path")
    if raw:
        path = Path(os.path.expanduser(str(raw)))
        return path if path.is_absolute() else project_root / path
    return project_root / ".keep" / "local" / f"{config.slug}.db"


class LocalVault(Vault):
    driver = "local"

    def __init__(self, config: VaultConfig, namespace: str, project_root: str | None = None) -> None:
        super().__init__(config, namespace, project_root)
        root = project_root or "."
        self._path: Path | None = None
        if not config.get("path") and fsutil.plain(root):
            #: str(self.path): what `keep get` works with (it imports no pathlib)
            self._path_text = f"{root}/.keep/local/{config.slug}.db"
        else:
            from pathlib import Path

            self._path = data_file(Path(root), config)
            self._path_text = str(self._path)
        self._conn: sqlite3.Connection | None = None
        self._aead: AESGCM | None = None
        self._key_bytes: bytes | None = None
        self._mac_secret: bytes | None = None
        self._said_no_data = False
        self.notice: Callable[[str], None] = _stderr_notice
        # one connection shared by the threads of a concurrent fetch, used one at a time
        self._lock = _thread.RLock()

    @property
    def path(self) -> Path:
        """The database file."""
        if self._path is None:
            from pathlib import Path

            self._path = Path(self._path_text)
        return self._path

    # -- storage plumbing ------------------------------------------------------------------
    def _check_location(self) -> None:
        """A database outside the project is opened only when the user confirmed that path
        (their workspace file, `.keep/local/workspace.json`, which is never committed)."""
        if self.project_root is None:
            return
        root = fsutil.resolve(self.project_root)
        path = fsutil.resolve(self._path_text)
        if fsutil.is_within(path, root):
            return
        try:
            with open(os.path.join(root, ".keep", "local", "workspace.json")) as handle:
                confirmed = json.loads(handle.read()).get("outside_paths")
        except (OSError, ValueError, AttributeError):
            confirmed = None
        if isinstance(confirmed, dict) and confirmed.get(self.slug) == path:
            return
        raise OutsideProject(
            f"Local vault '{self.slug}' keeps its database outside this project ({path}); "
            "it is not opened until you confirm that path",
            slug=self.slug,
            path=path,
        )

    def _check_binding(self, conn: sqlite3.Connection, write: bool) -> None:
        """The database belongs to one project (its namespace): a vault file pointing at another
        project's database is refused instead of reading that project's secrets."""
        row = conn.execute("SELECT value FROM meta WHERE name = 'namespace'").fetchone()
        if row is None:
            if write:
                conn.execute("INSERT OR IGNORE INTO meta(name, value) VALUES ('namespace', ?)", (self.namespace,))
            return
        if str(row[0]) != self.namespace:
            raise UsageError(
                f"Local vault database {self.path} belongs to the project with namespace '{row[0]}', "
                f"not to this one ('{self.namespace}'); keep did not use it",
                hint="point the vault's path at this project's own database",
            )

    def _db(self, create: bool = True) -> sqlite3.Connection:
        """The connection; with `create=False` (reads) a missing file raises NoLocalData
        instead of being created."""
        if self._conn is None:
            self._check_location()
            try:
                missing = not fsutil.exists(self._path_text)
                if missing and not create:
                    raise NoLocalData(self.slug, self.path)
                if missing:
                    _create_private_file(self.path)
                if not os.access(self._path_text, os.R_OK):
                    raise PermissionError(13, "Permission denied", self._path_text)
            except OSError as exc:
                raise cannot("open local vault database", self._path_text, exc) from None
            try:
                conn = sqlite3.connect(self._path_text, timeout=60, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA secure_delete=ON")
                _create_tables(conn)
            except sqlite3.DatabaseError as exc:
                raise self._corrupt(exc) from None
            self._conn = conn
        return self._conn

    def _corrupt(self, exc: Exception) -> CorruptVault:
        return CorruptVault(
            f"Local vault database {self.path} is damaged or not a keep vault ({exc})",
            hint="restore it from a backup, or move it away to start an empty vault",
        )

    def _has_db(self) -> bool:
        return self._conn is not None or fsutil.exists(self._path_text)

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
        row = self._db(create=False).execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def _cipher(self) -> AESGCM:
        # under the instance lock: the threads of a concurrent fetch or probe share one instance
        with self._lock:
            if self._aead is None:
                self._aead = self._open_cipher()
            return self._aead

    def _open_cipher(self) -> AESGCM:
        key = self._load_key()
        aead = aesgcm(key)
        self._key_bytes = key
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
        try:
            blob = b64decode(check)
        except ValueError as exc:
            raise self._corrupt(ValueError(f"unreadable key check: {exc}")) from None
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
            self._db()
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
        from pathlib import Path

        return Path(_key_text(self._vault_id()))

    def _stored_key(self, path: str, ring: Callable[[], Any], vault_id: str) -> bytes | None:
        """The vault's key from its key file or the OS keyring, None when there is none yet.
        `ring()` is asked only when there is no key file: importing keyring and finding its
        backend costs more than the rest of a `keep get`."""
        try:
            with open(path) as handle:  # Path.read_text()
                text = handle.read().strip()
        except FileNotFoundError:
            text = ""
        except OSError as exc:
            raise KeepError(f"Cannot read key file {path}: {exc.strerror or exc}") from None
        else:
            self._tighten(path)
            return _decode_key(text, f"Key file {path}", KeepError)
        if ring() is not None:
            stored = _keyring_get(ring(), vault_id)
            if stored:
                return _decode_key(stored, "The keyring entry for this vault", KeepError)
        return None

    def _tighten(self, path: str) -> None:
        """A key file others can read is made private again, with a warning (as ssh does)."""
        try:
            mode = os.stat(path).st_mode & 0o777
        except OSError:
            return
        if mode & 0o077:
            try:
                os.chmod(path, 0o600)
            except OSError as exc:
                self.notice(f"key file {path} is readable by others (mode {mode:04o}) and cannot be fixed: {exc}")
                return
            self.notice(f"key file {path} was readable by others (mode {mode:04o}); changed to 0600")

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
        path = _key_text(vault_id)
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
                    ring().set_password(KEYRING_SERVICE, vault_id, b64encode(key))
                    stored = True
                except Exception:  # a keyring that fails to store: fall back to the key file
                    pass
            if not stored:
                from pathlib import Path

                key = _create_key_file(Path(path), key)
            conn.execute(
                "INSERT OR IGNORE INTO meta(name, value) VALUES ('key_check', ?)", (_seal_check(aesgcm(key)),)
            )
            return key

    # -- integrity ---------------------------------------------------------------------------
    def _mac_key(self) -> bytes:
        if self._mac_secret is None:
            # a subkey of the data key: the AEAD key itself is never used for anything else
            self._mac_secret = hmac_sha256(self._raw_key(), b"keep-local-row-mac/2")
        return self._mac_secret

    def _raw_key(self) -> bytes:
        self._cipher()
        assert self._key_bytes is not None
        return self._key_bytes

    def _mac(self, kind: bytes, *fields: object) -> bytes:
        return hmac_sha256(self._mac_key(), kind, *(_field(value) for value in fields))

    def _secret_mac(self, stage: str, key: str, current: int, deleted_at: str | None, last: int, purged: str) -> bytes:
        return self._mac(b"secret", self._vault_id(), stage, key, current, deleted_at, last, purged)

    def _version_mac(
        self, stage: str, key: str, version: int, nonce: bytes, ciphertext: bytes, secure: int,
        created_at: str, created_by: str | None,
    ) -> bytes:
        return self._mac(
            b"version", self._vault_id(), stage, key, version, nonce, ciphertext, int(secure), created_at, created_by
        )

    def _manifest_mac(self, generation: int, accumulator: bytes) -> bytes:
        return self._mac(b"manifest", self._vault_id(), generation, accumulator)

    def _aad(self, legacy: bool, stage: str, key: str, version: int) -> bytes:
        if legacy:
            return f"{stage}/{key}".encode()
        return b"keep-local/2" + _field(self._vault_id()) + _field(stage) + _field(key) + _field(version)

    def _is_legacy(self, conn: sqlite3.Connection) -> bool:
        row = conn.execute("SELECT value FROM meta WHERE name = 'format'").fetchone()
        return row is None or str(row[0]) != FORMAT

    def _tampered(self, stage: str, key: str, what: str) -> Tampered:
        return Tampered(
            f"Secret '{key}' in local vault '{self.slug}' ({stage}) fails its integrity check: {what}; "
            f"the database {self.path} was modified outside keep",
            key=key,
            hint="restore the database from a backup",
        )

    def state_file(self) -> Path:
        from pathlib import Path

        return Path(_state_text(self._vault_id()))

    def _seen_generation(self) -> int:
        try:
            with open(_state_text(self._vault_id())) as handle:
                return int(handle.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _save_generation(self, generation: int) -> None:
        """Remember the newest generation this account wrote (never lowered)."""
        path = self.state_file()
        if self._seen_generation() >= generation:
            return
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{_thread.get_ident()}.tmp")
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(f"{generation}\n")
            os.replace(tmp, path)
        with contextlib.suppress(OSError):
            os.unlink(tmp)

    def _counters(self, conn: sqlite3.Connection) -> tuple[int, bytes]:
        rows = dict(conn.execute("SELECT name, value FROM meta WHERE name IN ('generation', 'accumulator')"))
        try:
            return int(rows.get("generation", 0)), bytes.fromhex(str(rows.get("accumulator", _ZERO.hex())))
        except ValueError:
            raise self._whole("its generation counter is unreadable") from None

    def _whole(self, what: str) -> Tampered:
        return Tampered(
            f"Local vault database {self.path} fails its integrity check: {what}",
            hint="restore the database from a backup; keep did not use it",
        )

    def _verify(self, conn: sqlite3.Connection) -> None:
        """The database as a whole (format 2): the XOR of every secret row's MAC and the
        generation are as the last write left them, and no older than this account last wrote."""
        generation, accumulator = self._counters(conn)
        actual = _ZERO
        for (mac,) in conn.execute("SELECT mac FROM secrets"):
            if not isinstance(mac, bytes) or len(mac) != 32:
                raise self._whole("a secret row has no valid MAC")
            actual = _xor(actual, mac)
        if not equal(actual, accumulator):
            raise self._whole("secret rows were added, removed or replaced by older copies")
        row = conn.execute("SELECT value FROM meta WHERE name = 'manifest'").fetchone()
        if generation or row is not None:
            try:
                stored = bytes.fromhex(str(row[0])) if row is not None else b""
            except ValueError:
                stored = b""
            if not equal(stored, self._manifest_mac(generation, accumulator)):
                raise self._whole("its counters were modified")
        seen = self._seen_generation()
        if seen > generation:
            raise self._whole(
                f"it is older than the last state this account wrote (generation {generation} < {seen}): "
                "the file was rolled back to an earlier copy"
            )

    def _secret_row(self, conn: sqlite3.Connection, legacy: bool, stage: str, key: str) -> _Row | None:
        found = conn.execute(
            "SELECT current, deleted_at, " + ("NULL, NULL, NULL" if legacy else "last, purged, mac")
            + " FROM secrets WHERE stage = ? AND key = ?",
            (stage, key),
        ).fetchone()
        return None if found is None else self._checked_row(legacy, stage, key, found)

    def _checked_row(self, legacy: bool, stage: str, key: str, found: tuple[Any, ...]) -> _Row:
        current, deleted_at, last, purged, mac = found
        row = _Row(int(current), deleted_at, int(last or current), str(purged or ""))
        if not legacy:
            expected = self._secret_mac(stage, key, row.current, row.deleted_at, row.last, row.purged)
            if not isinstance(mac, bytes) or not equal(mac, expected):
                raise self._tampered(stage, key, "its current version, deletion or history record was changed")
        return row

    @contextlib.contextmanager
    def _read(self) -> Iterator[tuple[sqlite3.Connection, bool]]:
        """A consistent snapshot for one read (the whole-database check and the rows agree)."""
        with self._lock:
            conn = self._db(create=False)
            self._check_binding(conn, write=False)  # before the key: never unlock another project's data
            # the id and the key first: opening them may write (first use), which cannot
            # happen inside the read transaction
            self._vault_id()
            self._cipher()
            try:
                conn.execute("BEGIN")
                try:
                    legacy = self._is_legacy(conn)
                    if not legacy:
                        self._verify(conn)
                    yield conn, legacy
                finally:
                    conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                raise self._corrupt(exc) from None

    @contextlib.contextmanager
    def _change(self) -> Iterator[_Tx]:
        """One write transaction on a verified (and, for a format-1 file, migrated) database,
        which bumps the generation and the whole-database MAC."""
        with self._lock:  # the connection may be shared by threads: never used without the lock
            self._check_binding(self._db(create=True), write=False)
        self._vault_id()
        self._cipher()  # the key before the write lock
        with self._write() as conn:
            try:
                self._check_binding(conn, write=True)
                if self._is_legacy(conn):
                    self._migrate(conn)
                self._verify(conn)
                generation, accumulator = self._counters(conn)
                tx = _Tx(self, conn, generation + 1, accumulator)
                yield tx
                tx.finish()
            except sqlite3.IntegrityError as exc:
                raise self._whole(f"unexpected rows ({exc})") from None
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and "readonly" in str(exc):
                    raise
                raise self._corrupt(exc) from None
        self._save_generation(tx.generation)

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Format 1 -> 2 inside the caller's write transaction: new columns, every value
        re-sealed with the new associated data, every row MAC-ed, counters set."""
        for table, column, kind in _V2_COLUMNS:
            columns = {str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")}
            if column not in columns:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        cipher = self._cipher()
        rows = conn.execute(
            "SELECT stage, key, version, nonce, ciphertext, secure, created_at, created_by FROM versions"
        ).fetchall()
        for stage, key, version, nonce, ciphertext, secure, created_at, created_by in rows:
            try:
                plain = cipher.decrypt(nonce, ciphertext, self._aad(True, stage, key, version))
            except Exception:
                raise self._tampered(stage, key, f"version {version} fails authentication") from None
            fresh = os.urandom(12)
            sealed = cipher.encrypt(fresh, plain, self._aad(False, stage, key, version))
            mac = self._version_mac(stage, key, version, fresh, sealed, secure, created_at, created_by)
            conn.execute(
                "UPDATE versions SET nonce = ?, ciphertext = ?, mac = ? WHERE stage = ? AND key = ? AND version = ?",
                (fresh, sealed, mac, stage, key, version),
            )
        accumulator = _ZERO
        for stage, key, current, deleted_at in conn.execute(
            "SELECT stage, key, current, deleted_at FROM secrets"
        ).fetchall():
            last = conn.execute(
                "SELECT COALESCE(MAX(version), ?) FROM versions WHERE stage = ? AND key = ?", (current, stage, key)
            ).fetchone()[0]
            present = {int(v) for (v,) in conn.execute(
                "SELECT version FROM versions WHERE stage = ? AND key = ?", (stage, key)
            )}
            purged = ",".join(str(v) for v in range(1, int(last) + 1) if v not in present)
            mac = self._secret_mac(stage, key, int(current), deleted_at, int(last), purged)
            conn.execute(
                "UPDATE secrets SET last = ?, purged = ?, mac = ? WHERE stage = ? AND key = ?",
                (int(last), purged, mac, stage, key),
            )
            accumulator = _xor(accumulator, mac)
        conn.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('format', ?)", (FORMAT,))
        conn.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('generation', '0')")
        conn.execute("INSERT OR REPLACE INTO meta(name, value) VALUES ('accumulator', ?)", (accumulator.hex(),))
        conn.execute(
            "INSERT OR REPLACE INTO meta(name, value) VALUES ('manifest', ?)",
            (self._manifest_mac(0, accumulator).hex(),),
        )

    # -- values --------------------------------------------------------------------------------
    def _seal(self, stage: str, key: str, version: int, value: str) -> tuple[bytes, bytes]:
        nonce = os.urandom(12)
        return nonce, self._cipher().encrypt(nonce, value.encode("utf-8"), self._aad(False, stage, key, version))

    def _open(self, legacy: bool, stage: str, key: str, version: int, nonce: bytes, ciphertext: bytes) -> str:
        cipher = self._cipher()
        try:
            plain = cipher.decrypt(nonce, ciphertext, self._aad(legacy, stage, key, version))
        except Exception:
            raise self._tampered(stage, key, f"the value of version {version} fails authentication") from None
        return plain.decode("utf-8")

    def _version_row(self, legacy: bool, stage: str, key: str, found: tuple[Any, ...]) -> tuple[Any, ...]:
        """A version row (version, nonce, ciphertext, secure, created_at, created_by, mac),
        its MAC checked."""
        version, nonce, ciphertext, secure, created_at, created_by, mac = found
        if not legacy:
            expected = self._version_mac(stage, key, int(version), nonce, ciphertext, secure, created_at, created_by)
            if not isinstance(mac, bytes) or not equal(mac, expected):
                raise self._tampered(stage, key, f"version {version} was changed")
        return found

    def _secret(self, legacy: bool, stage: str, key: str, found: tuple[Any, ...]) -> Secret:
        version, nonce, ciphertext, secure, created_at, _, _ = self._version_row(legacy, stage, key, found)
        return Secret(
            key=key,
            value=self._open(legacy, stage, key, int(version), nonce, ciphertext),
            revision=str(version),
            modified=self._time(stage, key, created_at),
            vault=self.slug,
            stage=stage,
            secure=bool(secure),
            path=self.remote_name(stage, key),
        )

    def _time(self, stage: str, key: str, text: str | None) -> datetime | None:
        try:
            return _parse_time(text)
        except (TypeError, ValueError):
            raise self._corrupt(ValueError(f"bad timestamp {str(text)[:40]!r} on {stage}/{key}")) from None

    # -- the interface ----------------------------------------------------------------------
    def remote_name(self, stage: str, key: str) -> str:
        return f"{stage}/{key}"

    def list(self, stage: str) -> builtins.list[Secret]:
        if not self._has_db():
            self._say_no_data()
            return []
        with self._read() as (conn, legacy):
            extra = "NULL, NULL, NULL" if legacy else "s.last, s.purged, s.mac"
            vmac = "NULL" if legacy else "v.mac"
            rows = conn.execute(
                f"SELECT s.key, s.current, s.deleted_at, {extra}, v.version, v.nonce, v.ciphertext, v.secure, "
                f"v.created_at, v.created_by, {vmac} FROM secrets s LEFT JOIN versions v "
                "ON v.stage = s.stage AND v.key = s.key AND v.version = s.current WHERE s.stage = ? ORDER BY s.key",
                (stage,),
            ).fetchall()
            out = []
            for found in rows:
                key = str(found[0])
                row = self._checked_row(legacy, stage, key, found[1:6])
                if row.deleted_at is not None:
                    continue
                if found[6] is None:
                    raise self._tampered(stage, key, f"its current version {row.current} is missing")
                out.append(self._secret(legacy, stage, key, found[6:]))
            return out

    def _say_no_data(self) -> None:
        # a path that could never hold the file (a file where a directory must be) is an
        # error, not "no data yet"
        for parent in self.path.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise cannot("open local vault database", self.path, NotADirectoryError(20, "Not a directory"))
                break
        if not self._said_no_data:
            self._said_no_data = True
            self.notice(f"local vault '{self.slug}' has no data yet ({self.path} does not exist)")

    def _not_found(self, stage: str, key: str) -> NotFound:
        where = "" if self._has_db() else f" (no local data yet: {self.path} does not exist)"
        return NotFound(
            f"Secret '{key}' not found in {self.slug}:{stage}{where}",
            key=key,
            remote_name=self.remote_name(stage, key),
        )

    def get(self, stage: str, key: str, version: str | None = None) -> Secret:
        if version is not None:
            try:
                wanted: int | None = int(version)
            except ValueError:
                raise UsageError(f"Invalid version '{version}' for the local vault: use a version number") from None
        else:
            wanted = None
        if not self._has_db():
            raise self._not_found(stage, key)
        with self._read() as (conn, legacy):
            row = self._secret_row(conn, legacy, stage, key)
            if row is None:
                raise self._not_found(stage, key)
            if wanted is None:
                if row.deleted_at is not None:
                    raise NotFound(
                        f"Secret '{key}' in {self.slug}:{stage} is deleted",
                        key=key,
                        remote_name=self.remote_name(stage, key),
                        deleted=True,
                    )
                wanted = row.current
            found = conn.execute(
                "SELECT version, nonce, ciphertext, secure, created_at, created_by, "
                + ("NULL" if legacy else "mac")
                + " FROM versions WHERE stage = ? AND key = ? AND version = ?",
                (stage, key, wanted),
            ).fetchone()
            if found is None:
                if wanted == row.current or (not legacy and 1 <= wanted <= row.last and wanted not in row.purged_set):
                    raise self._tampered(stage, key, f"version {wanted} is missing")
                raise NotFound(
                    f"Version {version} of '{key}' not found in {self.slug}:{stage}",
                    key=key,
                    remote_name=self.remote_name(stage, key),
                    version=version,
                )
            return self._secret(legacy, stage, key, found)

    def _append_version(self, tx: _Tx, stage: str, key: str, value: str, secure: bool) -> WriteResult:
        row = self._secret_row(tx.conn, False, stage, key)
        if row is not None and row.deleted_at is not None:
            raise Conflict(
                f"Secret '{key}' in {self.slug}:{stage} is deleted",
                key=key,
                remote_name=self.remote_name(stage, key),
                deleted=True,
            )
        version = (row.last if row else 0) + 1
        nonce, ciphertext = self._seal(stage, key, version, value)
        tx.add_version(stage, key, version, nonce, ciphertext, int(secure), _now(), _user())
        tx.put_secret(stage, key, version, None, version, row.purged if row else "")
        return WriteResult(revision=str(version), created=row is None)

    def set(self, stage: str, key: str, value: str, secure: bool = True) -> WriteResult:
        with self._change() as tx:
            return self._append_version(tx, stage, key, value, secure)

    def set_if(self, stage: str, key: str, value: str, expect: Expect, secure: bool = True) -> WriteResult:
        """The check and the write in one `BEGIN IMMEDIATE` transaction: no other process can
        write between them."""
        with self._change() as tx:
            row = self._secret_row(tx.conn, False, stage, key)
            current = None if row is None or row.deleted_at is not None else str(row.current)
            if not expect.holds(current):
                raise expect.failure(f"{self.slug}:{stage}", key, current)
            # a deleted key counts as absent: the write's own error then says "restore it first"
            return self._append_version(tx, stage, key, value, secure)

    def _existing(self, stage: str, key: str) -> None:
        if not self._has_db():
            raise self._not_found(stage, key)

    def delete(self, stage: str, key: str, purge: bool = False) -> None:
        self._existing(stage, key)
        with self._change() as tx:
            row = self._secret_row(tx.conn, False, stage, key)
            if row is None or (row.deleted_at is not None and not purge):
                raise self._not_found(stage, key)
            if purge:
                tx.conn.execute("DELETE FROM versions WHERE stage = ? AND key = ?", (stage, key))
                tx.drop_secret(stage, key)
            else:
                tx.put_secret(stage, key, row.current, _now(), row.last, row.purged)

    def purge_version(self, stage: str, key: str, version: str) -> None:
        """Remove one old version for good (`delete --purge --version V`); the current one
        cannot be removed this way."""
        try:
            wanted = int(version)
        except ValueError:
            raise UsageError(f"Invalid version '{version}' for the local vault: use a version number") from None
        self._existing(stage, key)
        with self._change() as tx:
            row = self._secret_row(tx.conn, False, stage, key)
            if row is None:
                raise self._not_found(stage, key)
            if wanted == row.current:
                raise self._purging_current(stage, key, wanted, f"'{key}' in {self.slug}:{stage}")
            gone = tx.conn.execute(
                "DELETE FROM versions WHERE stage = ? AND key = ? AND version = ?", (stage, key, wanted)
            ).rowcount
            if not gone:
                raise NotFound(
                    f"Version {version} of '{key}' not found in {self.slug}:{stage}",
                    key=key,
                    remote_name=self.remote_name(stage, key),
                    version=version,
                )
            purged = ",".join(str(v) for v in sorted({*row.purged_set, wanted}))
            tx.put_secret(stage, key, row.current, row.deleted_at, row.last, purged)

    def deleted_listing(self) -> ListsDeleted:
        return self

    def deleted(self, stage: str) -> builtins.list[DeletedSecret]:
        """The stage's soft-deleted keys (purged ones have no row left), each row's MAC checked."""
        if not self._has_db():
            return []
        with self._read() as (conn, legacy):
            extra = "NULL, NULL, NULL" if legacy else "last, purged, mac"
            rows = conn.execute(
                f"SELECT key, current, deleted_at, {extra} FROM secrets "
                "WHERE stage = ? AND deleted_at IS NOT NULL ORDER BY key",
                (stage,),
            ).fetchall()
            out = []
            for found in rows:
                key = str(found[0])
                row = self._checked_row(legacy, stage, key, found[1:])
                out.append(DeletedSecret(key=key, vault=self.slug, stage=stage, name=self.remote_name(stage, key),
                                         deleted=self._time(stage, key, row.deleted_at)))
            return out

    def restore(self, stage: str, key: str) -> None:
        self._existing(stage, key)
        with self._change() as tx:
            row = self._secret_row(tx.conn, False, stage, key)
            if row is None:
                raise self._not_found(stage, key)
            if row.deleted_at is None:
                raise Conflict(f"Secret '{key}' in {self.slug}:{stage} is not deleted")
            tx.put_secret(stage, key, row.current, None, row.last, row.purged)

    def history(self, stage: str, key: str, limit: int | None = None) -> builtins.list[Version]:
        if not self._has_db():
            raise self._not_found(stage, key)
        with self._read() as (conn, legacy):
            row = self._secret_row(conn, legacy, stage, key)
            if row is None:
                raise self._not_found(stage, key)
            found = conn.execute(
                "SELECT version, nonce, ciphertext, secure, created_at, created_by, "
                + ("NULL" if legacy else "mac")
                + " FROM versions WHERE stage = ? AND key = ? ORDER BY version DESC",
                (stage, key),
            ).fetchall()
            if not legacy:
                present = {int(f[0]) for f in found}
                expected = {v for v in range(1, row.last + 1) if v not in row.purged_set}
                if present != expected:
                    missing = sorted(expected - present)
                    what = f"version(s) {', '.join(map(str, missing))} missing" if missing else "unexpected versions"
                    raise self._tampered(stage, key, what)
            if limit is not None:
                found = found[: max(limit, 0)]
            out = []
            for entry in found:
                version, nonce, ciphertext, secure, created_at, created_by, _ = self._version_row(
                    legacy, stage, key, entry
                )
                out.append(
                    Version(
                        version=str(version),
                        value=self._open(legacy, stage, key, int(version), nonce, ciphertext),
                        modified=self._time(stage, key, created_at),
                        by=created_by,
                        labels=("current",) if version == row.current else (),
                        current=version == row.current,
                        secure=bool(secure),
                    )
                )
            return out

    def rollback(self, stage: str, key: str, version: str) -> WriteResult:
        old = self.get(stage, key, version)
        with self._change() as tx:
            return self._append_version(tx, stage, key, old.value, old.secure)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@record(frozen=True)
class _Row:
    """A secret row's state."""

    current: int
    deleted_at: str | None
    last: int
    purged: str

    @property
    def purged_set(self) -> set[int]:
        return {int(v) for v in self.purged.split(",") if v.isdigit()}


class _Tx:
    """The rows one write transaction changes, keeping the whole-database MAC current."""

    def __init__(self, vault: LocalVault, conn: sqlite3.Connection, generation: int, accumulator: bytes) -> None:
        self.vault = vault
        self.conn = conn
        self.generation = generation
        self.accumulator = accumulator

    def _old_mac(self, stage: str, key: str) -> bytes | None:
        found = self.conn.execute("SELECT mac FROM secrets WHERE stage = ? AND key = ?", (stage, key)).fetchone()
        return None if found is None else bytes(found[0])

    def put_secret(self, stage: str, key: str, current: int, deleted_at: str | None, last: int, purged: str) -> None:
        old = self._old_mac(stage, key)
        if old is not None:
            self.accumulator = _xor(self.accumulator, old)
        mac = self.vault._secret_mac(stage, key, current, deleted_at, last, purged)
        self.conn.execute(
            "INSERT INTO secrets(stage, key, current, deleted_at, last, purged, mac) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(stage, key) DO UPDATE SET current = excluded.current, deleted_at = excluded.deleted_at, "
            "last = excluded.last, purged = excluded.purged, mac = excluded.mac",
            (stage, key, current, deleted_at, last, purged, mac),
        )
        self.accumulator = _xor(self.accumulator, mac)

    def drop_secret(self, stage: str, key: str) -> None:
        old = self._old_mac(stage, key)
        if old is not None:
            self.accumulator = _xor(self.accumulator, old)
        self.conn.execute("DELETE FROM secrets WHERE stage = ? AND key = ?", (stage, key))

    def add_version(
        self, stage: str, key: str, version: int, nonce: bytes, ciphertext: bytes, secure: int,
        created_at: str, created_by: str | None,
    ) -> None:
        mac = self.vault._version_mac(stage, key, version, nonce, ciphertext, secure, created_at, created_by)
        self.conn.execute(
            "INSERT INTO versions(stage, key, version, nonce, ciphertext, secure, created_at, created_by, mac) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (stage, key, version, nonce, ciphertext, secure, created_at, created_by, mac),
        )

    def finish(self) -> None:
        for name, value in (
            ("generation", str(self.generation)),
            ("accumulator", self.accumulator.hex()),
            ("manifest", self.vault._manifest_mac(self.generation, self.accumulator).hex()),
        ):
            self.conn.execute("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", (name, value))


class NoLocalData(NotFound):
    """A read of a local vault whose database file does not exist (nothing was created)."""

    def __init__(self, slug: str, path: Path) -> None:
        super().__init__(f"Local vault '{slug}' has no data yet: {path} does not exist")
        self.path = path


DRIVER = Driver(
    name="local",
    label="Local encrypted vault",
    vault_class=LocalVault,
    options=(Option("path", "Database file of a local vault (default .keep/local/<slug>.db)"),),
    data_file=data_file,
    quiet_notices=True,
    # the `secure` mark is kept (a copy to SSM stores a plain String) but every value is sealed
    capabilities=Capabilities(
        restore=True, list_deleted=True, plain_marker=True, history=True, conditional_writes=True,
    ),
)
