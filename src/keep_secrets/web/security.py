"""The web UI's security layer: one pure ASGI middleware in front of every request.

What it defends against (SPEC §11; Keep's §12.5 is the cautionary tale):

* Ambient credentials: cookies are shared by every port of a host, so a page served on
  another local port could receive (and replay) a session cookie. There is none: the page
  keeps its session secret in origin-scoped storage (per port) and sends it as
  `Authorization: Session <secret>` on every `/api/` call; a cookie opens nothing.
* Leaked sign-in secrets: the one-time sign-in secret travels in a URL *fragment*
  (`/#signin=...`), which no server log, proxy or Referer sees, and is exchanged once by a
  POST to `/api/session`; the browser is opened on a 0600 file that carries it, so it is on
  no process's command line. Sessions expire when idle and can be ended (Sign out).
* Scripts: `Authorization: Bearer` is accepted only for `KEEP_SERVER_TOKEN` (32+ characters),
  never for a browser session.
* DNS rebinding: a page on `evil.example` whose name re-resolves to 127.0.0.1 reaches us with
  `Host: evil.example:PORT`. Only the bound host:port (and loopback spellings of it; the
  machine's own name when bound to every interface) pass.
* CSRF and cross-site reads: a foreign `Origin` (or `Sec-Fetch-Site` other than same-origin
  on the API) is refused, and write requests must be JSON (which a form on another site
  cannot send without a CORS preflight we never answer).
* Caching and framing: API answers are `no-store`; every answer carries a strict CSP,
  `frame-ancestors 'none'`, `nosniff` and `Referrer-Policy: no-referrer`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
NO_STORE = (b"cache-control", b"no-store")

#: Largest request body accepted (an imported .env or a template is far smaller).
MAX_BODY = 2 * 1024 * 1024

_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _split_host(value: str) -> tuple[str, str]:
    """`host:port` -> (host, port); IPv6 literals keep their brackets."""
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return value, ""
        rest = value[end + 1:]
        return value[: end + 1], rest[1:] if rest.startswith(":") else ""
    host, _, port = value.rpartition(":")
    if not host:
        return value, ""
    return host, port


#: `Authorization` scheme of a browser session (Bearer is reserved for KEEP_SERVER_TOKEN)
SESSION_SCHEME = "session"
#: default idle time after which a browser session ends (`keep server --idle-timeout`)
DEFAULT_IDLE_SECONDS = 60 * 60
#: KEEP_SERVER_TOKEN must be at least this long
MIN_API_TOKEN = 32


def _digest(token: str) -> str:
    # sessions are looked up by a hash of the secret: no timing signal about the secret itself
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def valid_api_token(token: str | None) -> bool:
    return bool(token) and len(str(token)) >= MIN_API_TOKEN and str(token).isascii() and not any(
        c.isspace() for c in str(token)
    )


@dataclass
class Auth:
    """The credentials of one server run.

    `link_token` is the one-time sign-in secret of the link printed on the terminal and
    `file_token` the one of the file the browser is opened on (each works once, so the
    printed link still works after the browser used its own); a successful sign-in creates a
    session (a fresh random secret the page keeps in its origin's storage) that ends after
    `idle_timeout` seconds without a request (0: only when the server stops) or on sign-out.
    `api_token` is KEEP_SERVER_TOKEN, the only secret accepted as `Bearer`."""

    host: str
    port: int
    idle_timeout: float = DEFAULT_IDLE_SECONDS
    api_token: str | None = None
    #: extra names the Host header may carry (the machine's own names when bound to every
    #: interface, so a link with the host name works from the LAN)
    host_names: tuple[str, ...] = ()
    link_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    file_token: str | None = None
    link_used: bool = False
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    #: called (with the token) when the file sign-in has been used: the file can go
    on_file_used: Callable[[], None] | None = field(default=None, repr=False)
    _sessions: dict[str, float] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.api_token is not None and not valid_api_token(self.api_token):
            raise ValueError(f"KEEP_SERVER_TOKEN must be at least {MIN_API_TOKEN} printable ASCII characters")
        self.host_names = tuple(n.lower() for n in self.host_names if n)

    @property
    def url_host(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = self.host_names[0] if self.host_names else "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return host

    @property
    def base_url(self) -> str:
        return f"http://{self.url_host}:{self.port}"

    @property
    def local_base_url(self) -> str:
        """The address for a browser on this machine (loopback when bound to every interface)."""
        if self.host in ("0.0.0.0", ""):
            return f"http://127.0.0.1:{self.port}"
        if self.host == "::":
            return f"http://[::1]:{self.port}"
        return self.base_url

    def signin_url(self, token: str, *, local: bool = False) -> str:
        return f"{self.local_base_url if local else self.base_url}/#signin={token}"

    @property
    def login_url(self) -> str:
        """The printed link: the page at `/`, the secret in the fragment."""
        return self.signin_url(self.link_token)

    def new_link(self) -> str:
        """A fresh one-time link (for a second browser, or after closing the tab); the old
        printed link stops working, sessions already signed in stay valid."""
        with self._lock:
            self.link_token = secrets.token_urlsafe(32)
            self.link_used = False
        return self.login_url

    def new_file_token(self) -> str:
        with self._lock:
            self.file_token = secrets.token_urlsafe(32)
        return self.file_token

    # -- sessions -----------------------------------------------------------------------------
    def sign_in(self, token: str) -> str | None:
        """A new session secret for an unused sign-in secret (each one works once), else None."""
        given = token.encode("utf-8", "surrogatepass")
        used_file = False
        with self._lock:
            if not self.link_used and hmac.compare_digest(given, self.link_token.encode()):
                self.link_used = True
            elif self.file_token is not None and hmac.compare_digest(given, self.file_token.encode()):
                self.file_token = None
                used_file = True
            else:
                return None
            session = secrets.token_urlsafe(32)
            self._sessions[_digest(session)] = self.clock()
        if used_file and self.on_file_used is not None:
            self.on_file_used()
        return session

    def check_session(self, token: str | None) -> bool:
        """True for a live session (and the request counts as activity)."""
        if not token:
            return False
        digest = _digest(token)
        now = self.clock()
        with self._lock:
            last = self._sessions.get(digest)
            if last is None:
                return False
            if self.idle_timeout and now - last > self.idle_timeout:
                del self._sessions[digest]
                return False
            self._sessions[digest] = now
            return True

    def end_session(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            return self._sessions.pop(_digest(token), None) is not None

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def check_api_token(self, token: str | None) -> bool:
        if not token or self.api_token is None:
            return False
        return hmac.compare_digest(token.encode("utf-8", "surrogatepass"), self.api_token.encode())

    def host_allowed(self, value: str) -> bool:
        """The Host header must name this server: its bound host:port, or a loopback spelling
        of it. Bound to every interface, any IP literal is fine (a rebinding attack needs a
        DNS name) and so are the machine's own names; other names are refused."""
        host, port = _split_host(value.strip().lower())
        if port != str(self.port):
            return False
        bound = self.host.lower()
        wildcard = bound in ("0.0.0.0", "::", "")
        if wildcard:
            return host in _LOOPBACK_NAMES or _is_ip_literal(host) or host in self.host_names
        if host in (bound, f"[{bound}]"):
            return True
        return _is_loopback(bound) and host in _LOOPBACK_NAMES


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        # a repeated Host/Origin/Cookie is suspicious; keep the first and let checks fail closed
        out.setdefault(name, value)
    return out


def authorization(headers: dict[str, str]) -> tuple[str, str | None]:
    """(scheme in lower case, credential) of the `Authorization` header."""
    raw = headers.get("authorization", "")
    scheme, _, token = raw.strip().partition(" ")
    return scheme.lower(), token.strip() or None


async def _send(
    send: Send, status: int, body: bytes, content_type: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), NO_STORE]
    headers.extend(SECURITY_HEADERS)
    headers.extend(extra or [])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _json_error(send: Send, status: int, message: str, hint: str | None = None) -> None:
    body = json.dumps({"error": message, "hint": hint, "status": status}).encode()
    await _send(send, status, body, b"application/json")


class SecurityMiddleware:
    """Host/Origin checks, the one-time link exchange, authentication and response headers."""

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            # no websockets: close anything else before it reaches the app
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return
        headers = _headers(scope)
        if not self.auth.host_allowed(headers.get("host", "")):
            await _json_error(send, 403, "Forbidden: unexpected Host header")
            return
        origin = headers.get("origin")
        if origin is not None and origin.lower() != f"http://{headers.get('host', '').lower()}":
            await _json_error(send, 403, "Forbidden: cross-origin request")
            return
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET").upper()
        # opening the page itself from elsewhere (the sign-in file, a link in a chat) is fine:
        # the page holds no secret and acts on nothing but a sign-in secret it is given
        navigation = path == "/" and method in ("GET", "HEAD") and (
            headers.get("sec-fetch-mode", "navigate").lower() == "navigate"
        )
        if headers.get("sec-fetch-site", "").lower() == "cross-site" and not navigation:
            await _json_error(send, 403, "Forbidden: cross-site request")
            return
        if path.startswith("/api/") or path == "/api":
            # a page on another port of this host is "same-site", and a no-cors GET (<script
            # src>) carries no Origin. Only our own page (same-origin) or a non-browser client
            # (no header / "none") may call the API.
            if headers.get("sec-fetch-site", "same-origin").lower() not in ("same-origin", "none"):
                await _json_error(send, 403, "Forbidden: the API only answers this server's own page")
                return
            signing_in = path == "/api/session" and method == "POST"
            if not signing_in and not self.authenticated(headers):
                await _json_error(
                    send, 401, "Unauthorized: sign in with the link printed by `keep server`",
                    "press Enter in the terminal running `keep server` for a new sign-in link",
                )
                return
            if method in _WRITE_METHODS and self._has_body(headers):
                content_type = headers.get("content-type", "").split(";")[0].strip().lower()
                if content_type != "application/json":
                    await _json_error(send, 415, "Request bodies must be application/json")
                    return
                length = headers.get("content-length", "")
                if length.isdigit() and int(length) > MAX_BODY:
                    await _json_error(send, 413, f"Request body too large (limit {MAX_BODY} bytes)")
                    return
            await self.app(scope, receive, self._with_headers(send, no_store=True))
            return
        # the page and its assets hold no secret: they are served to anyone who passed the
        # Host/Origin checks (the page signs itself in with the secret in its URL fragment)
        static = path.startswith("/static/") or path == "/favicon.ico"
        await self.app(scope, receive, self._with_headers(send, no_store=not static))

    def authenticated(self, headers: dict[str, str]) -> bool:
        """A live browser session (`Session`), or KEEP_SERVER_TOKEN as `Bearer`; a cookie is
        never a credential."""
        scheme, token = authorization(headers)
        if scheme == SESSION_SCHEME:
            return self.auth.check_session(token)
        if scheme == "bearer":
            return self.auth.check_api_token(token)
        return False

    @staticmethod
    def _has_body(headers: dict[str, str]) -> bool:
        length = headers.get("content-length")
        if length is not None:
            return length.strip() not in ("", "0")
        return "transfer-encoding" in headers

    @staticmethod
    def _with_headers(send: Send, *, no_store: bool) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value) for name, value in message.get("headers", [])
                    if name.lower() not in {h for h, _ in SECURITY_HEADERS} and (
                        not no_store or name.lower() != b"cache-control"
                    )
                ]
                headers.extend(SECURITY_HEADERS)
                if no_store:
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        return wrapped
