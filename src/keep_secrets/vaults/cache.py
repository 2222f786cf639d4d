"""The encrypted incremental cache of remote vaults, and the offline fallback (SPEC §13).

* Where: `$XDG_CACHE_HOME/keep/` or `~/.cache/keep/` (directory 0700), one SQLite file per
  vault *location* (`<id>.db`, 0600): the id hashes driver, namespace, slug, scope, region,
  endpoint and profile, so two projects or regions never share entries. A file holds one row
  per (stage, key) with the version id it was read at; names and version ids are plaintext,
  values are sealed with AES-256-GCM, the associated data binding location id, stage, key and
  version, so a ciphertext moved to another row, stage, vault or version fails to open.
* The cache key is kept like the local vault's data key: a 0600 key file
  `~/.config/keep/keys/cache.key` (the config dir, never beside the cache), else the OS keyring
  (service `keep-cache`) where one works; made on first use. A corrupt file or a value that
  fails to open discards that vault's cache with one warning, never a failure.
* Refresh: drivers with the `incremental` capability list a stage with each key's current
  version and read the values of only the keys whose version is not cached
  (:class:`Incremental`); keys gone from the listing are dropped. Writes through keep update
  (set) or drop (delete, rollback, Lambda rotation) their entries.
* Offline: a read that fails with :class:`~keep_secrets.model.Unreachable` (connection
  errors, timeouts, 5xx after retries) is answered from the cache when the stage's last
  refresh is younger than `cache_max_stale`, with one notice; access denied, bad credentials
  and every other error propagate untouched. `--offline` makes no call at all.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import functools
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..model import (
    AccessDenied,
    Expect,
    KeepError,
    NotFound,
    RemoteError,
    Secret,
    Unreachable,
    Version,
    WriteResult,
)
from .base import DeletedSecret, Reference, Vault
from .durations import DEFAULT_MAX_STALE, parse_duration

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from ..project import VaultConfig
    from .base import LambdaRotating, ListsDeleted, ReplicaChange, Replicating
    from .registry import Driver

Mode = Literal["auto", "off", "offline"]

KEYRING_SERVICE = "keep-cache"
KEYRING_NAME = "cache"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stages (stage TEXT PRIMARY KEY, refreshed REAL NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    stage TEXT NOT NULL,
    key TEXT NOT NULL,
    version TEXT NOT NULL,
    nonce BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    secure INTEGER NOT NULL,
    modified TEXT,
    path TEXT NOT NULL,
    fetched REAL NOT NULL,
    PRIMARY KEY (stage, key)
);
"""


# -- options ------------------------------------------------------------------------------------

def human_age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{int(seconds)} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 2 * 86400:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} d"


def enabled(config: VaultConfig) -> bool:
    return str(config.get("cache") or "off").lower() == "on"


def max_stale(config: VaultConfig) -> int:
    try:
        return parse_duration(str(config.get("cache_max_stale") or DEFAULT_MAX_STALE))
    except ValueError:
        return parse_duration(DEFAULT_MAX_STALE)


def env_disabled() -> bool:
    return os.environ.get("KEEP_NO_CACHE", "").strip().lower() not in ("", "0", "false", "no", "off")


# -- the capability drivers supply ----------------------------------------------------------------

class Incremental(Protocol):
    """A store that can list a stage with each key's current version, and read the values of
    only the keys a caller does not hold at that version (capability `incremental`)."""

    def list_changed(
        self, stage: str, known: Callable[[str, str], bool]
    ) -> tuple[builtins.list[tuple[str, str]], builtins.list[Secret]]:
        """(every (key, current version) of the stage's listing, the secrets read for the keys
        where `known(key, version)` is False). Reads are batched and concurrent as `list()`'s;
        a key deleted between listing and read is left out of the secrets."""
        ...


# -- where and with which key ------------------------------------------------------------------------

def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "keep"


def key_path() -> Path:
    from .local import config_dir

    return config_dir() / "keys" / "cache.key"


_key_lock = threading.Lock()


def load_key() -> bytes:
    """The cache key: the key file, else the OS keyring, else a new one (keyring where one
    works, else a 0600 key file; made atomically like the local vault's)."""
    from .local import _create_key_file, _decode_key, _keyring

    path = key_path()
    with _key_lock:
        try:
            return _decode_key(path.read_text().strip(), f"Key file {path}", KeepError)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise KeepError(f"Cannot read key file {path}: {exc.strerror or exc}") from None
        ring = functools.cache(_keyring)
        if ring() is not None:
            with contextlib.suppress(Exception):
                stored = ring().get_password(KEYRING_SERVICE, KEYRING_NAME)
                if stored:
                    return _decode_key(str(stored), "The keyring entry of keep's cache", KeepError)
        key = os.urandom(32)
        if ring() is not None:
            try:
                ring().set_password(KEYRING_SERVICE, KEYRING_NAME, base64.b64encode(key).decode())
                return key
            except Exception:  # a keyring that fails to store: the key file
                pass
        return _create_key_file(path, key)


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)


# -- one vault location's file ------------------------------------------------------------------------

@dataclass
class Entry:
    key: str
    version: str
    value: str
    secure: bool
    modified: datetime | None
    path: str
    fetched: float


class Store:
    """The cache file of one vault location. Every method is safe to call from several threads
    and processes (SQLite transactions; each write is atomic). Failures of the file itself
    (corrupt, unreadable, undecryptable) discard it once with a warning via `warn`."""

    def __init__(self, ident: str, label: dict[str, str], warn: Callable[[str], None]) -> None:
        self.ident = ident
        self.label = label
        self.warn = warn
        self.path = cache_dir() / f"{ident}.db"
        self._cipher: AESGCM | None = None
        self._lock = threading.Lock()
        self._warned = False
        self.broken = False

    # -- plumbing --------------------------------------------------------------------------
    def _aead(self) -> AESGCM:
        if self._cipher is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._cipher = AESGCM(load_key())
        return self._cipher

    def _aad(self, stage: str, key: str, version: str) -> bytes:
        return "\0".join((self.ident, stage, key, version)).encode("utf-8")

    @contextlib.contextmanager
    def _db(self, create: bool) -> Iterator[sqlite3.Connection | None]:
        if not self.path.exists():
            if not create:
                yield None
                return
            _private_dir(self.path.parent)
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        if self.path.stat().st_mode & 0o077:
            os.chmod(self.path, 0o600)
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA secure_delete = ON")
            yield conn
        finally:
            conn.close()

    def discard(self, reason: str) -> None:
        """Drop the whole file (one warning per process and vault); it is rebuilt by the next
        refresh, or left unused when it cannot even be removed."""
        try:
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
        except OSError:
            self.broken = True
        if not self._warned:
            self._warned = True
            self.warn(f"the cache of vault '{self.label.get('slug', '?')}' was discarded ({reason})")

    def _guard(self, func: Callable[[], Any], default: Any) -> Any:
        if self.broken:
            return default
        try:
            with self._lock:
                return func()
        except (sqlite3.DatabaseError, OSError) as exc:
            self.discard(f"{type(exc).__name__}: {exc}")
        except KeepError as exc:  # the cache key cannot be read
            self.broken = True
            if not self._warned:
                self._warned = True
                self.warn(f"the cache is not used: {exc.message}")
        return default

    # -- reads ---------------------------------------------------------------------------
    def load(self, stage: str) -> tuple[dict[str, Entry], float | None] | None:
        """(entries by key, time of the stage's last refresh) or None when nothing is cached."""
        return self._guard(lambda: self._load(stage), None)  # type: ignore[no-any-return]

    def _load(self, stage: str) -> tuple[dict[str, Entry], float | None] | None:
        with self._db(create=False) as conn:
            if conn is None:
                return None
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT refreshed FROM stages WHERE stage = ?", (stage,)).fetchone()
            rows = conn.execute(
                "SELECT key, version, nonce, ciphertext, secure, modified, path, fetched FROM entries WHERE stage = ?",
                (stage,),
            ).fetchall()
        if row is None and not rows:
            return None
        aead = self._aead() if rows else None
        entries: dict[str, Entry] = {}
        for key, version, nonce, ciphertext, secure, modified, path, fetched in rows:
            assert aead is not None
            try:
                value = aead.decrypt(nonce, ciphertext, self._aad(stage, key, version)).decode("utf-8")
            except Exception:
                self.discard("a value failed to decrypt")
                return None
            entries[key] = Entry(
                key, version, value, bool(secure), datetime.fromisoformat(modified) if modified else None, path,
                float(fetched),
            )
        return entries, (float(row[0]) if row else None)

    # -- writes --------------------------------------------------------------------------
    def update(
        self,
        stage: str,
        put: Sequence[Secret] = (),
        drop: Sequence[str] = (),
        refreshed: float | None = None,
        forget: bool = False,
    ) -> None:
        """Store `put` (at their revisions), remove `drop`, and mark the stage refreshed at
        `refreshed` (a complete listing) - or, with `forget`, no longer refreshed at all - in
        one transaction."""
        self._guard(lambda: self._update(stage, put, drop, refreshed, forget), None)

    def _update(
        self, stage: str, put: Sequence[Secret], drop: Sequence[str], refreshed: float | None, forget: bool
    ) -> None:
        now = time.time()
        rows = []
        if put:
            aead = self._aead()
            for secret in put:
                nonce = os.urandom(12)
                aad = self._aad(stage, secret.key, secret.revision)
                sealed = aead.encrypt(nonce, secret.value.encode("utf-8"), aad)
                modified = secret.modified.isoformat() if secret.modified else None
                rows.append((stage, secret.key, secret.revision, nonce, sealed, int(secret.secure), modified,
                             secret.path, now))
        with self._db(create=True) as conn:
            assert conn is not None
            conn.executescript(_SCHEMA)
            conn.execute("BEGIN IMMEDIATE")
            try:
                for name, value in self.label.items():
                    conn.execute("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", (name, value))
                conn.executemany("DELETE FROM entries WHERE stage = ? AND key = ?", [(stage, k) for k in drop])
                conn.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                if refreshed is not None:
                    conn.execute("INSERT OR REPLACE INTO stages(stage, refreshed) VALUES (?, ?)", (stage, refreshed))
                if forget:
                    conn.execute("DELETE FROM stages WHERE stage = ?", (stage,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise


# -- status and clear (keep cache ...) ------------------------------------------------------------------

@dataclass
class StageStatus:
    slug: str
    namespace: str
    driver: str
    stage: str
    entries: int
    refreshed: float | None
    bytes: int
    file: str


def status() -> builtins.list[StageStatus]:
    """Every cached vault location and stage, from the files under the cache directory."""
    found: builtins.list[StageStatus] = []
    root = cache_dir()
    if not root.is_dir():
        return found
    for path in sorted(root.glob("*.db")):
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            try:
                meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
                refreshed = dict(conn.execute("SELECT stage, refreshed FROM stages").fetchall())
                counts = {
                    stage: (int(count), int(size or 0))
                    for stage, count, size in conn.execute(
                        "SELECT stage, COUNT(*), SUM(LENGTH(ciphertext) + LENGTH(nonce) + LENGTH(key)"
                        " + LENGTH(version)) FROM entries GROUP BY stage"
                    ).fetchall()
                }
            finally:
                conn.close()
        except sqlite3.DatabaseError:
            found.append(StageStatus("?", "?", "?", "?", 0, None, path.stat().st_size, str(path)))
            continue
        for stage in sorted(set(refreshed) | set(counts)):
            count, size = counts.get(stage, (0, 0))
            found.append(StageStatus(
                meta.get("slug", "?"), meta.get("namespace", "?"), meta.get("driver", "?"), stage, count,
                refreshed.get(stage), size, str(path),
            ))
    return found


def clear(slug: str | None = None, namespace: str | None = None) -> int:
    """Delete the cache files (of vault `slug`, in `namespace` when given). Returns how many."""
    root = cache_dir()
    if not root.is_dir():
        return 0
    removed = 0
    for path in sorted(root.glob("*.db")):
        if slug is not None:
            try:
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
                try:
                    meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
                finally:
                    conn.close()
            except sqlite3.DatabaseError:
                meta = {}
            if meta.get("slug") != slug or (namespace is not None and meta.get("namespace") != namespace):
                continue
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        removed += 1
    return removed


# -- the wrapping layer ----------------------------------------------------------------------------------

class NotCached(RemoteError):
    """Offline (no call allowed) and the cache cannot answer (exit 1). `vault` names the vault;
    `needs_store` is True for what never comes from the cache (writes, history); `cache_off`
    when the vault's cache is not on. Front ends word the remedy."""

    def __init__(self, message: str, vault: str, *, needs_store: bool = False, cache_off: bool = False) -> None:
        fix = ("cache:online",) if needs_store else ("cache:on", vault) if cache_off else ("cache:fill",)
        super().__init__(message, fix=fix)
        self.vault = vault
        self.needs_store = needs_store
        self.cache_off = cache_off


def _location(inner: Vault) -> tuple[str, dict[str, str]]:
    """The cache file's name (a digest of where the inner vault's store is, as the driver
    says: :meth:`Vault.cache_location`) and the label kept inside it."""
    parts = inner.cache_location()
    digest = hashlib.sha256("\0".join(f"{k}={v}" for k, v in sorted(parts.items())).encode()).hexdigest()[:32]
    return digest, {"slug": inner.slug, "namespace": inner.namespace, "driver": inner.driver}


class CachedVault(Vault):
    """`inner` with the cache in front (mode `auto`), or with no network at all (`offline`).
    Everything the cache does not concern is delegated unchanged. It is the inner driver to
    everyone: `driver`, `declaration` (label, capabilities, options) and errors are its."""

    def __init__(self, inner: Vault, mode: Mode) -> None:
        super().__init__(inner.config, inner.namespace, inner.project_root)
        self.inner = inner
        self.driver = inner.driver
        self.mode = mode
        self._incremental: Incremental | None = inner.incremental()
        self.notice = inner.notice
        ident, label = _location(inner)
        self.store = Store(ident, label, lambda text: self.notice(text))
        self.max_stale = max_stale(inner.config)
        self.caching = enabled(inner.config) and self._incremental is not None

    # -- identity: the inner driver's -------------------------------------------------------
    @property
    def declaration(self) -> Driver:
        return self.inner.declaration

    def __getattr__(self, name: str) -> Any:  # driver-specific attributes (region, notice...)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def replication(self) -> Replicating | None:
        found = self.inner.replication()
        if found is None:
            return None
        replicating: Replicating = found
        outer = self

        class _Online:  # replicas hold no cached value; offline, no call at all
            def replication_plan(self, stage: str) -> builtins.list[ReplicaChange]:
                outer._online("replicating secrets")
                return replicating.replication_plan(stage)

            def replicate(self, stage: str, dry_run: bool = False) -> builtins.list[ReplicaChange]:
                outer._online("replicating secrets")
                return replicating.replicate(stage, dry_run)

        return _Online()

    def incremental(self) -> Incremental | None:
        return self._incremental

    def lambda_rotation(self) -> LambdaRotating | None:
        found = self.inner.lambda_rotation()
        if found is None:
            return None
        rotating: LambdaRotating = found
        outer = self

        class _Dropping:
            def rotate_with_lambda(self, stage: str, key: str, lambda_arn: str,
                                   every_days: int | None = None) -> WriteResult:
                outer._online("rotate")
                try:
                    return rotating.rotate_with_lambda(stage, key, lambda_arn, every_days)
                finally:
                    outer._drop(stage, key)

        return _Dropping()

    def deleted_listing(self) -> ListsDeleted | None:
        found = self.inner.deleted_listing()
        if found is None:
            return None
        listing: ListsDeleted = found
        outer = self

        class _Online:
            def deleted(self, stage: str) -> builtins.list[DeletedSecret]:
                outer._online("the deleted secrets")
                return listing.deleted(stage)

        return _Online()

    def remote_name(self, stage: str, key: str) -> str:
        return self.inner.remote_name(stage, key)

    def delete_is_restorable(self, purge: bool = False) -> bool:
        return self.inner.delete_is_restorable(purge)

    def unmanaged(self, stage: str, values: bool = False) -> builtins.list[Secret]:
        # the inner driver saw them in the listing it just made (the cache holds keep's own
        # secrets only); offline, or with the store unreachable, there is nothing to add
        if self.mode == "offline":
            return []
        try:
            return self.inner.unmanaged(stage, values)
        except Unreachable:
            return []

    def close(self) -> None:
        self.inner.close()

    # -- offline helpers ----------------------------------------------------------------------
    def _online(self, what: str) -> None:
        if self.mode == "offline":
            raise NotCached(
                f"Offline: {what} in vault '{self.slug}' needs the store, and no call is made offline",
                self.slug, needs_store=True,
            )

    def _fresh(self, stage: str) -> tuple[dict[str, Entry], float] | None:
        loaded = self.store.load(stage) if self.caching or self.mode == "offline" else None
        if loaded is None or loaded[1] is None:
            return None
        return loaded[0], loaded[1]

    def _served(self, stage: str, age: float, why: str) -> None:
        self.notice(f"{self.slug}:{stage} served from the cache, {human_age(age)} old: {why}")

    def _too_old(self, age: float) -> str:
        return (f"the cache is {human_age(age)} old, older than cache_max_stale "
                f"({self.config.get('cache_max_stale') or DEFAULT_MAX_STALE})")

    def _as_secret(self, stage: str, entry: Entry) -> Secret:
        return Secret(key=entry.key, value=entry.value, revision=entry.version, modified=entry.modified,
                      vault=self.slug, stage=stage, secure=entry.secure, path=entry.path)

    def _drop(self, stage: str, key: str) -> None:
        if self.caching:
            self.store.update(stage, drop=[key])

    # -- reads ----------------------------------------------------------------------------------
    def list(self, stage: str) -> builtins.list[Secret]:
        if self.mode == "offline":
            return self._offline_list(stage)
        if not self.caching:
            return self.inner.list(stage)
        loaded = self.store.load(stage)
        cached = loaded[0] if loaded else {}
        try:
            return self._refresh(stage, cached)
        except AccessDenied as exc:
            if _revoked(exc):  # a policy now denies it: not even --offline serves it any more
                self.store.update(stage, drop=builtins.list(cached), forget=True)
            raise
        except Unreachable as exc:
            fresh = self._fresh(stage)
            if fresh is None:
                raise
            age = time.time() - fresh[1]
            if age > self.max_stale:
                exc.hint = self._too_old(age) + (f"; {exc.hint}" if exc.hint else "")
                raise
            self._served(stage, age, f"{_service_name(self.inner)} unreachable")
            return sorted((self._as_secret(stage, e) for e in fresh[0].values()), key=lambda s: s.key)

    def _refresh(self, stage: str, cached: dict[str, Entry]) -> builtins.list[Secret]:
        assert self._incremental is not None
        started = time.time()

        def known(key: str, version: str) -> bool:
            entry = cached.get(key)
            return bool(version) and entry is not None and entry.version == version

        listed, fetched = self._incremental.list_changed(stage, known)
        by_key = {secret.key: secret for secret in fetched}
        secrets: builtins.list[Secret] = []
        for key, version in listed:
            secret = by_key.get(key)
            if secret is not None:
                secrets.append(secret)
            elif known(key, version):
                secrets.append(self._as_secret(stage, cached[key]))
        current = dict(listed)
        # gone from the listing, or listed at a version that was not read (deleted meanwhile)
        gone = [key for key in cached if key not in by_key and not known(key, current.get(key, ""))]
        self.store.update(stage, put=fetched, drop=gone, refreshed=started)
        secrets.sort(key=lambda s: s.key)
        return secrets

    def _offline_list(self, stage: str) -> builtins.list[Secret]:
        fresh = self._fresh(stage)
        if fresh is None:
            raise NotCached(
                f"Offline: {self.slug}:{stage} is not cached"
                + ("" if enabled(self.config) else f" (the cache is off for vault '{self.slug}')"),
                self.slug, cache_off=not enabled(self.config),
            )
        age = time.time() - fresh[1]
        if age > self.max_stale:
            raise NotCached(f"Offline: {self.slug}:{stage} is not cached within cache_max_stale: "
                            + self._too_old(age), self.slug)
        self._served(stage, age, "offline")
        return sorted((self._as_secret(stage, e) for e in fresh[0].values()), key=lambda s: s.key)

    def get(self, stage: str, key: str, version: str | None = None) -> Secret:
        """One value read (never a listing); its result is cached. Offline or unreachable: the
        cached entry, under the same freshness rule as a listing."""
        if self.mode == "offline":
            if version is None:
                return self._cached_one(stage, key, "offline", None)
            self._online(f"reading version {version} of {key}")
        if not self.caching or version is not None:
            return self.inner.get(stage, key, version)
        try:
            secret = self.inner.get(stage, key)
        except NotFound:  # NotFoundOrDenied too
            self._drop(stage, key)
            raise
        except AccessDenied as exc:
            if _revoked(exc):
                self._drop(stage, key)
            raise
        except Unreachable as exc:
            return self._cached_one(stage, key, f"{_service_name(self.inner)} unreachable", exc)
        self.store.update(stage, put=[secret])
        return secret

    def _cached_one(self, stage: str, key: str, why: str, error: Unreachable | None) -> Secret:
        loaded = self.store.load(stage)
        entry = loaded[0].get(key) if loaded else None
        if entry is None:
            if error is not None:
                raise error
            raise NotCached(f"Offline: '{key}' of {self.slug}:{stage} is not cached", self.slug,
                            cache_off=not enabled(self.config))
        seen = max(entry.fetched, loaded[1] or 0.0) if loaded else entry.fetched
        age = time.time() - seen
        if age > self.max_stale:
            if error is not None:
                error.hint = self._too_old(age) + (f"; {error.hint}" if error.hint else "")
                raise error
            raise NotCached(f"Offline: '{key}' of {self.slug}:{stage} is not cached within cache_max_stale: "
                            + self._too_old(age), self.slug)
        self._served(stage, age, why)
        return self._as_secret(stage, entry)

    def exists(self, stage: str, key: str) -> bool:
        self._online(f"checking {key}")
        return self.inner.exists(stage, key)

    def history(self, stage: str, key: str, limit: int | None = None) -> builtins.list[Version]:
        self._online(f"the history of {key}")
        return self.inner.history(stage, key, limit)

    def references(self, stage: str) -> builtins.list[Reference]:
        self._online("references")
        return self.inner.references(stage)

    # -- writes: through, then the entry follows ----------------------------------------------------
    def _put(self, stage: str, key: str, value: str, secure: bool, result: WriteResult) -> None:
        if self.caching and result.revision:
            path = self.inner.remote_name(stage, key)
            self.store.update(stage, put=[Secret(key=key, value=value, revision=result.revision,
                                                 modified=datetime.now(UTC), vault=self.slug, stage=stage,
                                                 secure=secure, path=path)])
        else:
            self._drop(stage, key)

    def set(self, stage: str, key: str, value: str, secure: bool = True) -> WriteResult:
        self._online(f"writing {key}")
        try:
            result = self.inner.set(stage, key, value, secure)
        except BaseException:
            self._drop(stage, key)
            raise
        self._put(stage, key, value, secure, result)
        return result

    def set_if(self, stage: str, key: str, value: str, expect: Expect, secure: bool = True) -> WriteResult:
        self._online(f"writing {key}")
        try:
            result = self.inner.set_if(stage, key, value, expect, secure)
        except BaseException:
            self._drop(stage, key)
            raise
        self._put(stage, key, value, secure, result)
        return result

    def delete(self, stage: str, key: str, purge: bool = False) -> None:
        self._online(f"deleting {key}")
        try:
            self.inner.delete(stage, key, purge)
        finally:
            self._drop(stage, key)

    def restore(self, stage: str, key: str) -> None:
        self._online(f"restoring {key}")
        self.inner.restore(stage, key)

    def purge_version(self, stage: str, key: str, version: str) -> None:
        self._online(f"removing a version of {key}")
        try:
            self.inner.purge_version(stage, key, version)
        finally:
            self._drop(stage, key)

    def rollback(self, stage: str, key: str, version: str) -> WriteResult:
        self._online(f"rolling back {key}")
        try:
            return self.inner.rollback(stage, key, version)
        finally:
            self._drop(stage, key)


def _revoked(exc: AccessDenied) -> bool:
    """A denial by policy (not missing, expired or invalid credentials, after which a new
    sign-in reads the same values again)."""
    from .aws import CREDENTIAL_CODES

    code = str(getattr(exc, "code", "") or "")
    return code not in CREDENTIAL_CODES and "credentials" not in exc.message.lower()


def _service_name(inner: Vault) -> str:
    return inner.declaration.label


def wrap(inner: Vault, mode: Mode) -> Vault:
    """`inner` behind the cache where that changes anything: the cache is on for it (and not
    turned off by --no-cache / KEEP_NO_CACHE), or --offline for a remote store."""
    if mode == "off" or (mode == "auto" and env_disabled()):
        return inner
    if mode == "offline":
        if not inner.declaration.remote:
            return inner
    elif not (enabled(inner.config) and inner.incremental() is not None):
        return inner
    return CachedVault(inner, mode)
