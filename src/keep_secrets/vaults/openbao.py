"""The `openbao` driver: OpenBao / HashiCorp Vault, KV version 2 (SPEC §4.5).

* Config: `address` (default `BAO_ADDR`, then `VAULT_ADDR`), `mount` (default `secret`),
  `vault_namespace` (sent as `X-Vault-Namespace`), `ca_cert` (default `BAO_CACERT`, then
  `VAULT_CACERT`). The token is never stored in `.keep/`: `BAO_TOKEN`, then `VAULT_TOKEN` (an
  empty variable counts as unset), then `~/.vault-token` (what `bao login` writes).
* Layout: `{mount}/data/{namespace}/{scope/}{stage}/{KEY}` holding `{"value": ...}`, with
  `custom_metadata` `ManagedBy=Keep, Namespace, Stage, VaultSlug` (the Secrets Manager tags).
  An entry another client wrote with other fields reads as the JSON object of its fields, so
  `--field` works on it; keep refuses to replace such an entry with a single value.
* Versions: KV versions are revisions. `delete` soft-deletes the current version
  (`restore` undeletes it), `purge` deletes the metadata and every version; `history` is the
  metadata's version map, newest first; `rollback` writes the old data as a new version.
* Writes use check-and-set: `set` sends the version it just read (0 for a new key) and, when
  another writer got there first, reads again and retries, so concurrent writers each add a
  version and none is lost; `set_if` / `rollback` fail with Conflict instead (the caller
  expected a version). Mounts with `cas_required` work unchanged.
* `list` = one `LIST {mount}/metadata/{ns}/{stage}/`, then the entries read concurrently (at
  most 16 requests in flight per vault).
* Errors: 403 -> AccessDenied naming the path and capability (and whether the token itself
  is invalid); missing token -> AccessDenied saying what to set; unreachable / 5xx / sealed /
  no active node -> bounded retries (see the HTTP client below), then RemoteError naming the
  address; 404 -> NotFound.

The HTTP client is the standard library's `http.client` (see :class:`BaoHttp` for why), so an
`openbao` vault costs no third-party import and a local-only command loads none of this.
"""

from __future__ import annotations

import builtins
import json
import os
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..model import (
    AccessDenied,
    Conflict,
    Expect,
    KeepError,
    NotFound,
    PreconditionFailed,
    RemoteError,
    Secret,
    Unreachable,
    UsageError,
    Version,
    WriteResult,
)
from .base import DeletedSecret, Reference, Vault
from .registry import AccessPolicy, Capabilities, Driver, Option, PolicyRequest

if TYPE_CHECKING:
    import http.client
    import ssl
    from concurrent.futures import ThreadPoolExecutor

    from ..project import VaultConfig
    from .base import ListsDeleted

# http.client, ssl, socket and concurrent.futures are imported where they are used: the
# registry imports this module to read its declaration whenever a project has an openbao
# vault, and a `keep get` on the local vault must not pay for the HTTP stack.

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_MOUNT = "secret"
#: requests in flight per vault (listing reads, history values)
READ_CONCURRENCY = 16
#: attempts of a check-and-set write that lost a race before giving up
CAS_ATTEMPTS = 20

# -- configuration -------------------------------------------------------------------------------

_MOUNT_RE = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_NAMESPACE_RE = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/?")


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value and value.strip():
            return value.strip()
    return None


def validate_options(options: dict[str, Any]) -> None:
    """Check the driver's fields of a vault config (raises UsageError naming the field)."""
    for name in ("address", "mount", "vault_namespace", "ca_cert"):
        value = options.get(name)
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{name} must be a string")
    address = options.get("address")
    if address:
        parse_address(address)
    mount = options.get("mount")
    if mount and not _MOUNT_RE.fullmatch(mount.strip("/")):
        raise UsageError(f"invalid mount {mount!r}: use a KV v2 mount path such as 'secret' or 'kv/team'")
    namespace = options.get("vault_namespace")
    if namespace and not _NAMESPACE_RE.fullmatch(namespace):
        raise UsageError(f"invalid vault_namespace {namespace!r}: use a namespace path such as 'team' or 'org/team'")
    ca_cert = options.get("ca_cert")
    if ca_cert is not None and not ca_cert.strip():
        raise UsageError("ca_cert must name a PEM file")


def token_sources() -> str:
    return "BAO_TOKEN, VAULT_TOKEN or ~/.vault-token"


def find_token() -> tuple[str, str] | None:
    """(token, where it came from): BAO_TOKEN, then VAULT_TOKEN (empty = unset), then
    ~/.vault-token. None when there is none."""
    for name in ("BAO_TOKEN", "VAULT_TOKEN"):
        value = _env(name)
        if value:
            return value, name
    path = Path(os.path.expanduser("~")) / ".vault-token"
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return (text, str(path)) if text else None


# -- HTTP ----------------------------------------------------------------------------------------

DEFAULT_RETRY_SECONDS = 12.0
DEFAULT_TIMEOUT = 10.0
MAX_REDIRECTS = 3
RETRY_STATUSES = frozenset({412, 429, 500, 502, 503, 504})
_FIRST_DELAY = 0.1
_MAX_DELAY = 2.0


def _env_float(name: str, default: float, low: float, high: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return max(low, min(value, high))


def retry_seconds() -> float:
    return _env_float("KEEP_OPENBAO_RETRY_SECONDS", DEFAULT_RETRY_SECONDS, 0.0, 300.0)


def request_timeout() -> float:
    return _env_float("KEEP_OPENBAO_TIMEOUT", DEFAULT_TIMEOUT, 0.5, 300.0)


@dataclass(frozen=True)
class Response:
    status: int
    data: dict[str, Any]
    #: the server's clock when it answered (its `Date` header), None without one
    date: datetime | None = None

    @property
    def errors(self) -> list[str]:
        raw = self.data.get("errors")
        if not isinstance(raw, list):
            return []
        return [" ".join(str(e).split()) for e in raw if str(e).strip()]

    @property
    def error_text(self) -> str:
        return "; ".join(self.errors) or f"HTTP {self.status}"

    @property
    def body(self) -> dict[str, Any]:
        """The `data` member of a successful answer ({} when absent)."""
        inner = self.data.get("data")
        return inner if isinstance(inner, dict) else {}


def _http_date(text: str | None) -> datetime | None:
    if not text:
        return None
    from email.utils import parsedate_to_datetime

    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_address(address: str) -> urllib.parse.SplitResult:
    parsed = urllib.parse.urlsplit(address.strip())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UsageError(f"Invalid OpenBao address {address!r}: use http(s)://host[:port]")
    try:
        parsed.port  # noqa: B018 - validates the port
    except ValueError:
        raise UsageError(f"Invalid OpenBao address {address!r}: the port is not a number") from None
    return parsed


_PROXY_VARIABLES = frozenset({"https_proxy", "http_proxy", "all_proxy"})


def _proxy_headers(proxy: urllib.parse.SplitResult) -> dict[str, str]:
    if proxy.username is None:
        return {}
    import base64

    raw = f"{urllib.parse.unquote(proxy.username)}:{urllib.parse.unquote(proxy.password or '')}"
    return {"Proxy-Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


def _upgrading(response: Response) -> bool:
    """A KV v2 mount that is still being set up (just mounted, or a node that has not caught up
    with the primary) answers 400 "upgrading"/"Waiting for the primary to upgrade": transient."""
    return response.status == 400 and "upgrad" in response.error_text.lower()


def _reason(exc: BaseException) -> str:
    import http.client
    import socket

    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name ({exc.strerror or exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


class BaoHttp:
    """Thread-safe: each thread keeps its own keep-alive connection per host."""

    def __init__(
        self,
        address: str,
        token: Callable[[], str],
        *,
        namespace: str | None = None,
        ca_cert: str | None = None,
        concurrency: int = 16,
    ) -> None:
        self.address = address.rstrip("/")
        self._parsed = parse_address(address)
        self._prefix = self._parsed.path.rstrip("/")
        #: (scheme, netloc) of the active node a standby redirected to, while it answers
        self._active: tuple[str, str] | None = None
        self._token = token
        #: the X-Vault-Namespace sent, None without one
        self.namespace = namespace
        self._ca_cert = ca_cert
        self._ssl: ssl.SSLContext | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPConnection] = []
        self._gate = threading.BoundedSemaphore(max(1, concurrency))
        self.timeout = request_timeout()
        self.retry_seconds = retry_seconds()

    # -- connections -------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        import ssl

        if self._ssl is None:
            try:
                self._ssl = ssl.create_default_context(cafile=self._ca_cert) if self._ca_cert else (
                    ssl.create_default_context()
                )
            except (OSError, ssl.SSLError) as exc:
                raise UsageError(f"Cannot load the CA certificate {self._ca_cert}: {_reason(exc)}") from None
        return self._ssl

    def _connection(self, scheme: str, netloc: str) -> http.client.HTTPConnection:
        import http.client

        pool: dict[tuple[str, str], http.client.HTTPConnection] | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = {}
            self._local.pool = pool
        conn = pool.get((scheme, netloc))
        if conn is None:
            proxy = self._proxy(scheme, netloc)
            if proxy is not None and scheme == "https":
                # through the proxy's CONNECT tunnel, TLS end to end with the server
                conn = http.client.HTTPSConnection(
                    proxy.hostname or "", proxy.port or 80, timeout=self.timeout, context=self._ssl_context()
                )
                conn.set_tunnel(netloc, headers=_proxy_headers(proxy))
            elif proxy is not None:
                conn = http.client.HTTPConnection(proxy.hostname or "", proxy.port or 80, timeout=self.timeout)
            elif scheme == "https":
                conn = http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self._ssl_context())
            else:
                conn = http.client.HTTPConnection(netloc, timeout=self.timeout)
            pool[(scheme, netloc)] = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _proxy(self, scheme: str, netloc: str) -> urllib.parse.SplitResult | None:
        """The proxy from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY for this host unless NO_PROXY
        exempts it or it is a loopback address (the variables and rules the bao CLI follows);
        None without one."""
        if not any(name.lower() in _PROXY_VARIABLES for name in os.environ):
            return None
        import urllib.request

        proxies = urllib.request.getproxies_environment()
        chosen = proxies.get(scheme) or proxies.get("all")
        host = urllib.parse.urlsplit("//" + netloc).hostname or netloc
        # like Go's ProxyFromEnvironment (what the bao CLI uses): loopback is never proxied
        loopback = host == "localhost" or host.startswith("127.") or host == "::1"
        if not chosen or loopback or urllib.request.proxy_bypass(host):
            return None
        parsed = urllib.parse.urlsplit(chosen if "://" in chosen else f"http://{chosen}")
        if parsed.scheme not in ("http", "") or not parsed.hostname:
            raise UsageError(f"Unsupported proxy {chosen!r} for OpenBao: use http://host:port")
        return parsed

    def _drop(self, scheme: str, netloc: str) -> None:
        pool = getattr(self._local, "pool", None) or {}
        conn = pool.pop((scheme, netloc), None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    # -- requests ----------------------------------------------------------------------------
    def _headers(self, has_body: bool) -> dict[str, str]:
        headers = {"X-Vault-Token": self._token(), "X-Vault-Request": "true", "Accept": "application/json"}
        if self.namespace:
            headers["X-Vault-Namespace"] = self.namespace
        if has_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _once(
        self, method: str, url: urllib.parse.SplitResult, body: bytes | None
    ) -> tuple[int, dict[str, Any], str, datetime | None]:
        """One HTTP exchange. Returns (status, JSON body, Location header, Date header)."""
        target = url.path + (f"?{url.query}" if url.query else "")
        headers = self._headers(body is not None)
        with self._gate:
            conn = self._connection(url.scheme, url.netloc)
            if url.scheme == "http" and conn.host != url.hostname:
                # plain HTTP through a proxy: the absolute URI, and the proxy's credentials
                proxy = self._proxy(url.scheme, url.netloc)
                target = urllib.parse.urlunsplit(url._replace(fragment=""))
                headers.update(_proxy_headers(proxy) if proxy is not None else {})
            try:
                conn.request(method, target, body=body, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except BaseException:
                self._drop(url.scheme, url.netloc)
                raise
            if response.will_close:
                self._drop(url.scheme, url.netloc)
        location = response.getheader("Location") or ""
        date = _http_date(response.getheader("Date"))
        data: dict[str, Any] = {}
        if raw.strip():
            try:
                parsed = json.loads(raw)
            except ValueError:
                text = raw.decode("utf-8", "replace").strip()
                parsed = {"errors": [text[:200]]}
            if isinstance(parsed, dict):
                data = parsed
        return response.status, data, location, date

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        what: str = "",
    ) -> Response:
        """Send `method` to `/v1/...` path `path`; retried as the module docstring says.
        Any answer other than a retryable one is returned for the caller to classify."""
        first_url = self._parsed._replace(
            path=self._prefix + path, query=urllib.parse.urlencode(query or {}), fragment=""
        )
        active = self._active
        url = first_url._replace(scheme=active[0], netloc=active[1]) if active else first_url
        payload = None if body is None else json.dumps(body).encode("utf-8")
        started: float | None = None
        attempts = 0
        redirects = 0
        while True:
            attempts += 1
            response, location, reason = self._exchange(method, url, first_url, payload)
            if response is not None:
                if response.status in (307, 308) and location and redirects < MAX_REDIRECTS:
                    redirects += 1
                    attempts -= 1
                    url = self._follow(url, location)
                    continue
                if response.status not in RETRY_STATUSES and not _upgrading(response):
                    return response
                reason = f"HTTP {response.status}: {response.error_text}"
            if started is None:
                started = time.monotonic()
            self._back_off(started, attempts, f"{what or method + ' ' + path}: {reason}")
            # a standby redirects to the active node; after a failure ask the configured address
            # again, which knows the new active node once an election is over
            url = first_url
            redirects = 0
            self._active = None

    def _exchange(
        self, method: str, url: urllib.parse.SplitResult, first_url: urllib.parse.SplitResult, payload: bytes | None
    ) -> tuple[Response | None, str, str]:
        """One attempt: (the answer, its Location header, "") or, when no answer came,
        (None, "", why). A certificate that does not verify is final (RemoteError)."""
        import http.client
        import ssl

        try:
            status, data, location, date = self._once(method, url, payload)
        except ssl.SSLCertVerificationError as exc:
            raise RemoteError(
                f"TLS verification of OpenBao at {self.address} failed: {exc.verify_message or exc}",
                hint="set the vault's ca_cert (or BAO_CACERT) to the CA that signed the server's certificate",
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            reason = _reason(exc)
            if url.netloc != first_url.netloc:
                reason += f" at {url.scheme}://{url.netloc} (where {self.address} redirected)"
            return None, "", reason
        return Response(status, data, date), location, ""

    def _follow(self, url: urllib.parse.SplitResult, location: str) -> urllib.parse.SplitResult:
        """Where a 307/308 sends the request. The same request on another node is the active
        one: go there directly from now on (until it fails), instead of a redirect per request."""
        target = urllib.parse.urlsplit(urllib.parse.urljoin(urllib.parse.urlunsplit(url), location))
        if target.path == url.path and target.scheme in ("http", "https"):
            self._active = (target.scheme, target.netloc)
        return target

    def _back_off(self, started: float, attempts: int, failure: str) -> None:
        """Wait before attempt `attempts + 1` (exponential, jittered), or raise Unreachable
        once retry_seconds have passed since the first failure."""
        delay = min(_MAX_DELAY, _FIRST_DELAY * 2 ** (attempts - 1)) * random.uniform(0.8, 1.2)
        elapsed = time.monotonic() - started
        if elapsed >= self.retry_seconds:
            span = f" over {elapsed:.1f} s" if attempts > 1 else ""
            raise Unreachable(
                f"OpenBao at {self.address} did not answer {failure} "
                f"({attempts} attempt{'s' if attempts != 1 else ''}{span})",
                hint="check that the server is running, unsealed and has an active node",
            )
        time.sleep(min(delay, self.retry_seconds - elapsed))


# -- ACL policy (`keep iam`) -----------------------------------------------------------------------

#: path kind -> (capabilities for read and write, capabilities for read-only), per stage.
#: data: read values (and old versions), create new keys (cas=0), update existing ones;
#: metadata/<stage>/: the LIST of the stage; metadata/*: read versions and state, update keep's
#: custom_metadata, delete = purge; delete/undelete: soft delete and restore of a version;
#: destroy: `delete --purge --version` removes one version's data for good.
#: `+` is one path segment: a key, never a deeper path.
POLICY_PATHS: tuple[tuple[str, str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("data", "/+", ("create", "read", "update"), ("read",)),
    ("metadata", "/", ("list",), ("list",)),
    ("metadata", "/+", ("read", "update", "delete"), ("read",)),
    ("delete", "/+", ("update",), ()),
    ("undelete", "/+", ("update",), ()),
    ("destroy", "/+", ("update",), ()),
)


def policy_paths(config: VaultConfig, namespace: str, stages: Sequence[str], read_only: bool = False) -> list[
    tuple[str, tuple[str, ...]]
]:
    """(path, capabilities) pairs of the ACL policy for one vault and the stages."""
    mount = str(config.get("mount") or DEFAULT_MOUNT).strip("/")
    scope = config.scope.strip("/")
    out: list[tuple[str, tuple[str, ...]]] = []
    for stage in stages:
        base = "/".join(part for part in (namespace, scope, stage) if part)
        for kind, tail, full, reading in POLICY_PATHS:
            capabilities = reading if read_only else full
            if capabilities:
                out.append((f"{mount}/{kind}/{base}{tail}", capabilities))
    return out


def acl_policy(configs: Sequence[VaultConfig], namespace: str, stages: Sequence[str], read_only: bool = False) -> str:
    """The HCL ACL policy granting exactly what keep does on these vaults and stages."""
    scenario = "read-only" if read_only else "read and write"
    vaults = ", ".join(f"{c.slug} (mount {str(c.get('mount') or DEFAULT_MOUNT).strip('/')})" for c in configs)
    lines = [
        f"# keep: {scenario} access for namespace {namespace!r}, stages {', '.join(stages)}",
        f"# vaults: {vaults}",
    ]
    seen: set[str] = set()
    for config in configs:
        for path, capabilities in policy_paths(config, namespace, stages, read_only):
            if path in seen:
                continue
            seen.add(path)
            caps = ", ".join(f'"{c}"' for c in capabilities)
            lines += ["", f'path "{path}" {{', f"  capabilities = [{caps}]", "}"]
    return "\n".join(lines) + "\n"


def access_policy(request: PolicyRequest) -> AccessPolicy:
    """`keep iam` for openbao vaults (the registry's `access_policy` hook)."""
    document = acl_policy(request.vaults, request.namespace, request.stages, read_only=request.read_only)
    scenario = "read-only" if request.read_only else "read and write"
    name = f"keep-{request.namespace}" + ("-read" if request.read_only else "")
    return AccessPolicy(
        document,
        (
            f"OpenBao ACL policy for namespace '{request.namespace}' ({scenario})",
            f"  Stages: {', '.join(request.stages)}" + ("" if request.limited else " (all configured)"),
            f"Apply it with 'bao policy write {name} policy.hcl', then 'bao token create -policy={name}' "
            "(or attach it to an auth role); the permission probe checks the result.",
        ),
    )


# -- the driver ----------------------------------------------------------------------------------

def _parse_time(text: Any) -> datetime | None:
    """RFC 3339 with up to nanoseconds ("2026-12-01T09:39:17.432760217Z"); None when empty."""
    if not isinstance(text, str) or not text:
        return None
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", text)
    if not match:
        return None
    base, fraction, zone = match.groups()
    micro = (fraction or "0")[:6].ljust(6, "0")
    try:
        moment = datetime.fromisoformat(f"{base}.{micro}{'+00:00' if zone in (None, 'Z') else zone}")
    except ValueError:
        return None
    return moment.astimezone(UTC)


def decode_data(data: Any) -> str:
    """The value keep shows for an entry's data: the `value` field of keep's own entries,
    else the JSON object of the fields (what `--field` reads)."""
    if isinstance(data, dict) and set(data) == {"value"} and isinstance(data["value"], str):
        return data["value"]
    return json.dumps(data if data is not None else {}, ensure_ascii=False)


def _is_keep_shaped(data: Any) -> bool:
    return isinstance(data, dict) and set(data) <= {"value"} and isinstance(data.get("value", ""), str)


def _version_number(version: str, key: str) -> int:
    try:
        number = int(str(version).strip())
    except ValueError:
        number = 0
    if number < 1:
        raise UsageError(f"Invalid version {version!r} of '{key}': OpenBao versions are numbers from 1")
    return number


@dataclass(frozen=True)
class _Meta:
    """The parts of a KV v2 metadata entry keep uses."""

    current: int
    versions: dict[int, dict[str, Any]]
    custom: dict[str, str]
    #: the server's clock when it answered (a version's deletion_time is compared to it)
    now: datetime

    @classmethod
    def parse(cls, body: dict[str, Any], now: datetime | None = None) -> _Meta:
        versions: dict[int, dict[str, Any]] = {}
        for number, entry in (body.get("versions") or {}).items():
            try:
                versions[int(number)] = entry if isinstance(entry, dict) else {}
            except ValueError:
                continue
        custom = body.get("custom_metadata") or {}
        return cls(
            current=int(body.get("current_version") or 0),
            versions=versions,
            custom={str(k): str(v) for k, v in custom.items()} if isinstance(custom, dict) else {},
            now=now or datetime.now(UTC),
        )

    def state(self, number: int | None = None) -> str:
        """'live', 'deleted', 'destroyed' or 'missing' for a version (default: the current)."""
        entry = self.versions.get(self.current if number is None else number)
        if entry is None:
            return "missing"
        if entry.get("destroyed"):
            return "destroyed"
        deletion = entry.get("deletion_time")
        if deletion:
            # `delete_version_after` (on the mount or the key) gives every live version the
            # deletion_time it will expire at: deleted only once that has passed. The server's
            # Date header has whole seconds, so a second's margin keeps a version deleted just
            # now (in the same second) deleted.
            when = _parse_time(deletion)
            if when is None or when < self.now + timedelta(seconds=1):
                return "deleted"
        return "live"


class OpenBaoVault(Vault):
    driver = "openbao"

    def __init__(self, config: VaultConfig, namespace: str, project_root: str | None = None) -> None:
        super().__init__(config, namespace, project_root)
        validate_options(config.options)
        self.mount = str(config.get("mount") or DEFAULT_MOUNT).strip("/")
        address = config.get("address") or _env("BAO_ADDR", "VAULT_ADDR")
        if not address:
            raise UsageError(
                f"OpenBao vault '{config.slug}' has no address: set the vault's address, or BAO_ADDR (or VAULT_ADDR)"
            )
        self.address = str(address).rstrip("/")
        ca_cert = config.get("ca_cert") or _env("BAO_CACERT", "VAULT_CACERT")
        if ca_cert:
            path = Path(os.path.expanduser(str(ca_cert)))
            if not path.is_absolute() and project_root:
                path = Path(project_root) / path
            ca_cert = str(path)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._token: tuple[str, str] | None = None
        self._token_checked: bool | None = None
        #: why the mount is not KV v2 ("" when it is or cannot be told), asked once, on a 404
        self._mount_checked: str | None = None
        self.http = BaoHttp(
            self.address,
            self._token_value,
            namespace=config.get("vault_namespace") or None,
            ca_cert=ca_cert or None,
            concurrency=READ_CONCURRENCY,
        )

    # -- names -----------------------------------------------------------------------------
    def base_path(self, stage: str) -> str:
        parts = [self.namespace, self.config.scope.strip("/"), stage]
        return "/".join(part for part in parts if part)

    def remote_name(self, stage: str, key: str) -> str:
        return f"{self.mount}/data/{self.base_path(stage)}/{key}"

    def _logical(self, kind: str, stage: str, key: str | None) -> str:
        """`{mount}/{kind}/{ns}/{scope/}{stage}/{key}`: the path ACL policies match."""
        tail = f"/{key}" if key is not None else "/"
        return f"{self.mount}/{kind}/{self.base_path(stage)}{tail}"

    def custom_metadata(self, stage: str) -> dict[str, str]:
        return {"ManagedBy": "Keep", "Namespace": self.namespace, "Stage": stage, "VaultSlug": self.slug}

    # -- token and errors ------------------------------------------------------------------
    def _token_value(self) -> str:
        if self._token is None:
            found = find_token()
            if found is None:
                raise AccessDenied(
                    f"No OpenBao token for vault '{self.slug}' ({self.address}): set BAO_TOKEN (or VAULT_TOKEN), "
                    "or log in with 'bao login', which writes ~/.vault-token"
                )
            token, source = found
            odd = next((c for c in token if not "!" <= c <= "~"), None)
            if odd is not None:
                # never sent (an HTTP header cannot carry it) and never echoed: it is a credential
                what = "a line break" if odd in "\r\n\u2028\u2029" else (
                    "a space" if odd.isspace() else "a control character" if not odd.isprintable()
                    else "a non-ASCII character"
                )
                raise AccessDenied(
                    f"The OpenBao token from {source} for vault '{self.slug}' contains {what}: "
                    "tokens are printable ASCII",
                    hint="set it again without the stray character, or log in again with 'bao login'",
                )
            self._token = found
        return self._token[0]

    def _token_valid(self) -> bool:
        """Whether the server accepts the token at all (asked once, after a 403):
        `auth/token/lookup-self`, which the default policy grants; when that is refused too,
        `sys/internal/ui/mounts`, which answers any valid token (one minted with
        `-no-default-policy` may not look itself up) and refuses an invalid one."""
        if self._token_checked is None:
            try:
                answer = self.http.request("GET", "/v1/auth/token/lookup-self", what="token lookup")
                if answer.status == 403:
                    answer = self.http.request("GET", "/v1/sys/internal/ui/mounts", what="token check")
            except KeepError:
                return True
            self._token_checked = answer.status != 403
        return self._token_checked

    def _denied(self, capability: str, logical: str, answer: Response, key: str | None) -> AccessDenied:
        source = self._token[1] if self._token else "the token"
        if not self._token_valid():
            return AccessDenied(
                f"OpenBao at {self.address} refused the token from {source}: it is invalid or expired",
                hint="log in again ('bao login'), or set BAO_TOKEN to a valid token",
            )
        return AccessDenied(
            f"Access denied: OpenBao at {self.address} refused '{capability}' on {logical} "
            f"(token from {source}: {answer.error_text})",
            hint="the token's policies must grant that capability on that path",
            key=key,
            remote_name=logical,
            action=capability,
        )

    def _call(
        self,
        method: str,
        kind: str,
        stage: str,
        key: str | None,
        capability: str,
        *,
        query: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Response:
        """One request on `{mount}/{kind}/...`; 2xx, 404 and 400 answers are returned, every
        other failure raised as the model's errors."""
        logical = self._logical(kind, stage, key)
        path = "/v1/" + urllib.parse.quote(logical, safe="/-_.~")
        answer = self.http.request(method, path, query=query, body=body, what=f"'{capability}' on {logical}")
        if answer.status < 300 or answer.status == 400:
            return answer
        if answer.status == 404:
            text = answer.error_text.lower()
            if "no handler for route" in text or "unsupported path" in text:
                raise NotFound(
                    f"OpenBao at {self.address} has no KV v2 mount '{self.mount}' ({answer.error_text})",
                    hint="check the vault's mount ('bao secrets list')",
                )
            if "namespace not found" in text:
                # every path of a missing namespace answers this: not an empty stage, not a missing key
                raise NotFound(
                    f"OpenBao at {self.address} has no namespace '{self.http.namespace}' (the vault's vault_namespace)",
                    hint="check the vault's vault_namespace ('bao namespace list')",
                )
            return answer
        if answer.status in (401, 403):
            raise self._denied(capability, logical, answer, key)
        raise RemoteError(f"OpenBao at {self.address} answered {answer.error_text} to '{capability}' on {logical}")

    def _mount_problem(self) -> UsageError | None:
        """Why the mount is not a KV version 2 engine, or None (it is, or the server will not
        say). Asked once per vault, only after a 404 or a write answered without a version,
        which is how a KV v1 mount (`bao secrets enable kv`) or another engine answers keep's
        `data/`/`metadata/` paths."""
        if self._mount_checked is None:
            self._mount_checked = ""
            try:
                answer = self.http.request(
                    "GET", "/v1/sys/internal/ui/mounts/" + urllib.parse.quote(self.mount, safe="/-_.~"),
                    what=f"the type of mount '{self.mount}'",
                )
            except KeepError:
                return None
            body = answer.body
            kind = str(body.get("type") or "")
            options = body.get("options") if isinstance(body.get("options"), dict) else {}
            version = str((options or {}).get("version") or "1")
            if answer.status == 200 and kind in ("kv", "generic") and version != "2":
                self._mount_checked = f"mount '{self.mount}' is a KV version 1 engine; keep needs KV version 2"
            elif answer.status == 200 and kind and kind not in ("kv", "generic"):
                self._mount_checked = f"mount '{self.mount}' is a '{kind}' engine, not KV version 2"
        if not self._mount_checked:
            return None
        upgrade = ""
        if "version 1" in self._mount_checked:
            upgrade = f"upgrade it with 'bao kv enable-versioning {self.mount}', or "
        return UsageError(
            f"OpenBao at {self.address}: {self._mount_checked}",
            hint=f"{upgrade}set the vault's mount to a KV version 2 mount ('bao secrets list -detailed')",
        )

    def _bad_request(self, answer: Response, logical: str) -> RemoteError:
        return RemoteError(f"OpenBao at {self.address} rejected the request on {logical}: {answer.error_text}")

    def _not_found(self, stage: str, key: str) -> KeepError:
        problem = self._mount_problem()
        if problem is not None:
            return problem
        name = self.remote_name(stage, key)
        return NotFound(f"Secret {name} not found in vault {self.slug}", key=key, remote_name=name)

    def _deleted(self, stage: str, key: str) -> NotFound:
        name = self.remote_name(stage, key)
        return NotFound(f"Secret {name} is deleted", key=key, remote_name=name, deleted=True)

    def _version_missing(self, stage: str, key: str, number: int, state: str = "") -> NotFound:
        name = self.remote_name(stage, key)
        return NotFound(
            f"Version {number} of secret {name} " + (f"is {state}" if state else "not found"),
            key=key,
            remote_name=name,
            version=str(number),
        )

    def _deleted_conflict(self, stage: str, key: str) -> Conflict:
        name = self.remote_name(stage, key)
        return Conflict(f"Secret {name} is deleted", key=key, remote_name=name, deleted=True)

    # -- reads -----------------------------------------------------------------------------
    def _metadata(self, stage: str, key: str) -> _Meta | None:
        answer = self._call("GET", "metadata", stage, key, "read")
        if answer.status == 404:
            return None
        if answer.status == 400:
            raise self._bad_request(answer, self._logical("metadata", stage, key))
        return _Meta.parse(answer.body, answer.date)

    def _read(self, stage: str, key: str, version: int | None = None) -> Response:
        query = {"version": str(version)} if version is not None else None
        answer = self._call("GET", "data", stage, key, "read", query=query)
        if answer.status == 400:
            raise self._bad_request(answer, self._logical("data", stage, key))
        return answer

    def _secret(self, stage: str, key: str, body: dict[str, Any]) -> Secret:
        metadata = body.get("metadata") or {}
        return Secret(
            key=key,
            value=decode_data(body.get("data")),
            revision=str(metadata.get("version", "")),
            modified=_parse_time(metadata.get("created_time")),
            vault=self.slug,
            stage=stage,
            secure=True,
            path=self.remote_name(stage, key),
        )

    def get(self, stage: str, key: str, version: str | None = None) -> Secret:
        number = _version_number(version, key) if version is not None else None
        answer = self._read(stage, key, number)
        if answer.status == 404:
            metadata = answer.body.get("metadata") or {}
            if number is not None:
                state = "destroyed" if metadata.get("destroyed") else "deleted" if metadata.get("deletion_time") else ""
                raise self._version_missing(stage, key, number, state)
            if metadata.get("deletion_time"):
                raise self._deleted(stage, key)
            raise self._not_found(stage, key)
        return self._secret(stage, key, answer.body)

    def list_keys(self, stage: str) -> builtins.list[str]:
        """The entry names directly under the stage (sub-folders are not keys)."""
        answer = self._call("GET", "metadata", stage, None, "list", query={"list": "true"})
        if answer.status == 404:
            problem = self._mount_problem()
            if problem is not None:
                raise problem
            return []
        if answer.status == 400:
            raise self._bad_request(answer, self._logical("metadata", stage, None))
        keys = answer.body.get("keys") or []
        return sorted(str(k) for k in keys if isinstance(k, str) and k and not k.endswith("/"))

    def list(self, stage: str) -> builtins.list[Secret]:
        keys = self.list_keys(stage)

        def read(key: str) -> Secret | None:
            answer = self._read(stage, key)
            if answer.status == 404:  # deleted (or purged since the listing): not a current secret
                return None
            return self._secret(stage, key, answer.body)

        return [secret for secret in self._map(read, keys) if secret is not None]

    def _map(self, func: Callable[[T], R], items: Sequence[T]) -> builtins.list[R]:
        """`[func(x) for x in items]` on the vault's own pool of READ_CONCURRENCY threads. The
        pool lives as long as the vault, so its threads' keep-alive connections stay open from
        one listing to the next."""
        if len(items) <= 1:
            return [func(item) for item in items]
        from concurrent.futures import ThreadPoolExecutor

        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(READ_CONCURRENCY, thread_name_prefix=f"keep-bao-{self.slug}")
            pool = self._pool
        return builtins.list(pool.map(func, items))

    def references(self, stage: str) -> builtins.list[Reference]:
        """The stage's KV paths for a deployment (External Secrets' Vault provider), from the
        LIST and each entry's metadata - never a value read. `name` is the path inside the
        mount; `extra` has the mount and, for keep's own entries, the field (`value`); an entry
        another client wrote is referenced whole (the JSON of its fields)."""
        keys = self.list_keys(stage)

        def reference(key: str) -> Reference | None:
            meta = self._metadata(stage, key)
            if meta is None or meta.state() != "live":
                return None
            extra = {"mount": self.mount}
            if meta.custom.get("ManagedBy") == "Keep":
                extra["property"] = "value"
            if self.config.get("vault_namespace"):
                extra["namespace"] = str(self.config.get("vault_namespace"))
            path = f"{self.base_path(stage)}/{key}"
            return Reference(
                key=key, vault=self.slug, stage=stage, service=self.driver, name=path, arn=None, secure=True,
                extra=extra, addresses={"external-secrets": path},  # ECS / CloudFormation cannot read it
            )

        return [ref for ref in self._map(reference, keys) if ref is not None]

    def deleted_listing(self) -> ListsDeleted:
        return self

    def deleted(self, stage: str) -> builtins.list[DeletedSecret]:
        """The stage's entries whose current version is deleted but not destroyed (undelete
        brings it back), from the LIST and each entry's metadata - no value read."""
        keys = self.list_keys(stage)

        def deleted(key: str) -> DeletedSecret | None:
            meta = self._metadata(stage, key)
            if meta is None or meta.state() != "deleted":
                return None
            when = _parse_time(meta.versions[meta.current].get("deletion_time"))
            return DeletedSecret(key=key, vault=self.slug, stage=stage, name=self.remote_name(stage, key),
                                 deleted=when)

        return [item for item in self._map(deleted, keys) if item is not None]

    # -- writes ----------------------------------------------------------------------------
    def _write_data(self, stage: str, key: str, data: dict[str, Any], cas: int) -> tuple[int, dict[str, str]] | None:
        """Write a new version with check-and-set `cas`: the new version number and the entry's
        custom metadata (the answer carries it), or None when another writer changed the entry
        first."""
        answer = self._call(
            "POST", "data", stage, key, "create" if cas == 0 else "update",
            body={"data": data, "options": {"cas": cas}},
        )
        if answer.status == 400:
            if "check-and-set" in answer.error_text:
                return None
            raise self._bad_request(answer, self._logical("data", stage, key))
        if answer.status == 404:
            raise self._not_found(stage, key)
        if not answer.body.get("version"):
            # a KV v2 write always answers its version: this mount is something else, which
            # stored keep's request as is - take it back
            problem = self._mount_problem()
            self._call("DELETE", "data", stage, key, "delete")
            raise problem or RemoteError(
                f"OpenBao at {self.address} answered a write of {self._logical('data', stage, key)} without a "
                f"version: mount '{self.mount}' does not behave as KV version 2"
            )
        custom = answer.body.get("custom_metadata") or {}
        custom = {str(k): str(v) for k, v in custom.items()} if isinstance(custom, dict) else {}
        return int(answer.body.get("version") or 0), custom

    def _tag(self, stage: str, key: str, custom: dict[str, str]) -> None:
        """Give the entry keep's custom metadata, keeping what another client set (`custom`:
        the entry's custom metadata as the write answered it)."""
        wanted = self.custom_metadata(stage)
        existing = dict(custom)
        if all(existing.get(k) == v for k, v in wanted.items()):
            return
        existing.update(wanted)
        answer = self._call("POST", "metadata", stage, key, "update", body={"custom_metadata": existing})
        if answer.status == 400:
            raise self._bad_request(answer, self._logical("metadata", stage, key))

    def _check_writable(self, stage: str, key: str, meta: _Meta) -> None:
        if meta.current and meta.state() == "deleted":
            raise self._deleted_conflict(stage, key)
        if meta.current and meta.state() == "live" and meta.custom.get("ManagedBy") != "Keep":
            answer = self._read(stage, key)
            if answer.status == 200 and not _is_keep_shaped(answer.body.get("data")):
                fields = ", ".join(sorted(str(f) for f in (answer.body.get("data") or {}))) or "none"
                raise Conflict(
                    f"Secret {self.remote_name(stage, key)} was written by another client with the fields "
                    f"{fields}; keep would replace them with a single value",
                    hint="change it with 'bao kv patch', or purge it first",
                    key=key,
                    remote_name=self.remote_name(stage, key),
                )

    def set(self, stage: str, key: str, value: str, secure: bool = True) -> WriteResult:
        return self._set(stage, key, value, expected=None, strict=False)

    def set_if(self, stage: str, key: str, value: str, expect: Expect, secure: bool = True) -> WriteResult:
        """Write only if the current revision is `expect.revision` (None: only if the key does
        not exist): an atomic check-and-set; PreconditionFailed when someone else changed it."""
        return self._set(stage, key, value, expected=expect.revision, strict=True)

    def _set(self, stage: str, key: str, value: str, *, expected: str | None, strict: bool) -> WriteResult:
        if strict and expected is None:
            return self._create(stage, key, value)
        for attempt in range(CAS_ATTEMPTS):
            meta = self._metadata(stage, key)
            if meta is not None:
                self._check_writable(stage, key, meta)
            current = meta.current if meta is not None else 0
            if strict:
                want = 0 if expected is None else _version_number(expected, key)
                if want != current:
                    raise self._changed(stage, key, expected, current)
            written = self._write_data(stage, key, {"value": value}, current)
            if written is None:
                if strict:
                    raise self._changed(stage, key, expected, None)
                time.sleep(random.uniform(0.0, 0.02 * (attempt + 1)))
                continue
            version, custom = written
            self._tag(stage, key, custom)
            return WriteResult(revision=str(version), created=current == 0)
        raise Conflict(
            f"Secret {self.remote_name(stage, key)} kept changing while keep wrote it "
            f"({CAS_ATTEMPTS} check-and-set attempts)",
            hint="try again",
            key=key,
            remote_name=self.remote_name(stage, key),
        )

    def _create(self, stage: str, key: str, value: str) -> WriteResult:
        """Create only if absent (a planned create): the write itself checks, with cas=0, so a
        new key costs 2 requests (the write, keep's custom metadata). Only when it fails is the
        entry read, to say why (deleted, or written by someone else)."""
        written = self._write_data(stage, key, {"value": value}, 0)
        if written is None:
            meta = self._metadata(stage, key)
            if meta is not None and meta.current and meta.state() == "deleted":
                raise self._deleted_conflict(stage, key)
            raise self._changed(stage, key, None, meta.current if meta is not None else None)
        version, custom = written
        self._tag(stage, key, custom)
        return WriteResult(revision=str(version), created=True)

    def _changed(self, stage: str, key: str, expected: str | None, current: int | None) -> Conflict:
        was = "not to exist" if expected is None else f"at version {expected}"
        now = "" if current is None else (" (it does not exist)" if current == 0 else f" (it is at version {current})")
        return PreconditionFailed(
            f"Secret {self.remote_name(stage, key)} changed: expected it {was}{now}",
            hint="read it again before changing it",
            key=key,
            remote_name=self.remote_name(stage, key),
        )

    def delete(self, stage: str, key: str, purge: bool = False) -> None:
        meta = self._metadata(stage, key)
        if meta is None:
            raise self._not_found(stage, key)
        if purge:
            self._call("DELETE", "metadata", stage, key, "delete")
            return
        if meta.state() != "live":
            if meta.state() == "deleted":
                raise self._deleted(stage, key)
            raise self._not_found(stage, key)
        self._call("POST", "delete", stage, key, "update", body={"versions": [meta.current]})

    def restore(self, stage: str, key: str) -> None:
        meta = self._metadata(stage, key)
        if meta is None:
            raise self._not_found(stage, key)
        state = meta.state()
        if state == "live":
            raise Conflict(
                f"Secret {self.remote_name(stage, key)} is not deleted; nothing to restore",
                key=key,
                remote_name=self.remote_name(stage, key),
            )
        if state != "deleted":
            raise NotFound(
                f"Secret {self.remote_name(stage, key)} cannot be restored: its current version is {state}",
                key=key,
                remote_name=self.remote_name(stage, key),
            )
        self._call("POST", "undelete", stage, key, "update", body={"versions": [meta.current]})

    def purge_version(self, stage: str, key: str, version: str) -> None:
        """`delete --purge --version V`: destroy one old version's data for good (KV `destroy/`;
        its metadata entry stays, marked destroyed). The current version cannot be removed
        this way (as on the local vault): delete or purge the secret instead."""
        number = _version_number(version, key)
        meta = self._metadata(stage, key)
        if meta is None:
            raise self._not_found(stage, key)
        if number == meta.current:
            raise self._purging_current(stage, key, number, self.remote_name(stage, key))
        if number not in meta.versions:
            raise self._version_missing(stage, key, number)
        self._call("POST", "destroy", stage, key, "update", body={"versions": [number]})

    def destroy(self, stage: str, key: str, versions: Sequence[str]) -> None:
        """Destroy the data of some versions for good (their metadata stays)."""
        numbers = [_version_number(v, key) for v in versions]
        meta = self._metadata(stage, key)
        if meta is None:
            raise self._not_found(stage, key)
        missing = [n for n in numbers if n not in meta.versions]
        if missing:
            raise self._version_missing(stage, key, missing[0])
        self._call("POST", "destroy", stage, key, "update", body={"versions": numbers})

    # -- history ---------------------------------------------------------------------------
    def history(self, stage: str, key: str, limit: int | None = None) -> builtins.list[Version]:
        meta = self._metadata(stage, key)
        if meta is None or not meta.versions:
            raise self._not_found(stage, key)
        numbers = sorted(meta.versions, reverse=True)
        if limit is not None:
            numbers = numbers[: max(limit, 0)]

        def value_of(number: int) -> str | None:
            if meta.state(number) != "live":
                return None
            answer = self._read(stage, key, number)
            return decode_data(answer.body.get("data")) if answer.status == 200 else None

        values = self._map(value_of, numbers)
        out = []
        for number, value in zip(numbers, values, strict=True):
            state = meta.state(number)
            labels: tuple[str, ...] = ()
            if number == meta.current:
                labels += ("current",)
            if state in ("deleted", "destroyed"):
                labels += (state,)
            out.append(
                Version(
                    version=str(number),
                    value=value,
                    modified=_parse_time(meta.versions[number].get("created_time")),
                    by=None,
                    labels=labels,
                    current=number == meta.current and state == "live",
                    secure=True,
                )
            )
        return out

    def rollback(self, stage: str, key: str, version: str) -> WriteResult:
        number = _version_number(version, key)
        meta = self._metadata(stage, key)
        if meta is None:
            raise self._not_found(stage, key)
        if meta.state() == "deleted":
            raise self._deleted_conflict(stage, key)
        if number not in meta.versions:
            raise self._version_missing(stage, key, number)
        if number == meta.current and meta.state() == "live":
            return WriteResult(revision=str(number), created=False)
        if meta.state(number) != "live":
            raise self._version_missing(stage, key, number, meta.state(number))
        answer = self._read(stage, key, number)
        if answer.status == 404:
            raise self._version_missing(stage, key, number, "no longer readable")
        written = self._write_data(stage, key, answer.body.get("data") or {}, meta.current)
        if written is None:
            raise Conflict(
                f"Secret {self.remote_name(stage, key)} changed while keep rolled it back",
                hint="look at its history again and retry",
                key=key,
                remote_name=self.remote_name(stage, key),
            )
        return WriteResult(revision=str(written[0]), created=False)

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        self.http.close()


# -- the registry declaration (vaults/registry.py) ---------------------------------------------

def _rule(name: str) -> Callable[[str], str]:
    """A registry validator from validate_options: the reason without the field's name."""

    def validate(value: str) -> str:
        try:
            validate_options({name: value})
        except UsageError as exc:
            raise ValueError(exc.message.split(": ", 1)[-1]) from None
        return value

    return validate


DRIVER = Driver(
    name="openbao",
    label="OpenBao / HashiCorp Vault (KV v2)",
    vault_class=OpenBaoVault,
    options=(
        Option("address", "Server URL (default BAO_ADDR, then VAULT_ADDR)", validate=_rule("address"),
               prompt="Address (empty = BAO_ADDR / VAULT_ADDR)", env=("BAO_ADDR", "VAULT_ADDR"), reprobe=True),
        Option("mount", "KV v2 mount path", default=DEFAULT_MOUNT, validate=_rule("mount"),
               prompt="KV v2 mount", reprobe=True),
        Option("scope", "Extra path segment after the namespace", prompt="Scope (optional extra path segment)",
               reprobe=True),
        Option("vault_namespace", "OpenBao / Vault Enterprise namespace (X-Vault-Namespace)",
               validate=_rule("vault_namespace"), reprobe=True),
        Option("ca_cert", "CA certificate (PEM) of the server (default BAO_CACERT, then VAULT_CACERT)",
               validate=_rule("ca_cert"), env=("BAO_CACERT", "VAULT_CACERT"), reprobe=True),
        Option("token", "Access token", secret=True, env=("BAO_TOKEN", "VAULT_TOKEN")),
    ),
    capabilities=Capabilities(
        restore=True, list_deleted=True, history=True, field_access=True, native_versions=True,
        conditional_writes=True, references=True,
    ),
    remote=True,
    # what grants each `verify` step (the paths of `keep iam`'s policy)
    probe_hints={
        "list": "'list' on MOUNT/metadata/NAMESPACE/STAGE/",
        "write": "'create' and 'update' on MOUNT/data/NAMESPACE/STAGE/+, 'read' and 'update' on "
        "MOUNT/metadata/NAMESPACE/STAGE/+",
        "read": "'read' on MOUNT/data/NAMESPACE/STAGE/+",
        "history": "'read' on MOUNT/metadata/NAMESPACE/STAGE/+ and MOUNT/data/NAMESPACE/STAGE/+",
        "delete": "'delete' on MOUNT/metadata/NAMESPACE/STAGE/+ (the probe purges its test key)",
    },
    access_policy=access_policy,
)
