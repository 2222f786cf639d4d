"""The web UI's security layer: one pure ASGI middleware in front of every request.

What it defends against (SPEC §11; Keep's §12.5 is the cautionary tale):

* DNS rebinding: a page on `evil.example` whose name re-resolves to 127.0.0.1 reaches us with
  `Host: evil.example:PORT`. Only the bound host:port (and loopback spellings of it) pass.
* CSRF and cross-site reads: a foreign `Origin` (or `Sec-Fetch-Site: cross-site`) is refused,
  the session cookie is SameSite=Strict, and write requests must be JSON (which a form on
  another site cannot send without a CORS preflight we never answer).
* Token leaks: the page never embeds a token. The token travels once, in the URL printed on
  the terminal; its first use swaps it for an HttpOnly session cookie and redirects to `/`,
  and it can never be used again (a URL left in the browser history is worthless).
* Caching and framing: API answers are `no-store`; every answer carries a strict CSP,
  `frame-ancestors 'none'`, `nosniff` and `Referrer-Policy: no-referrer`.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

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


@dataclass
class Auth:
    """The credentials of one server run. `link_token` is the one-time token in the printed
    URL; `session_token` is what the cookie (or an `Authorization: Bearer` header) carries."""

    host: str
    port: int
    link_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    session_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    link_used: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def cookie_name(self) -> str:
        # cookies are shared by every port of a host: two servers must not clobber each other
        return f"keep_session_{self.port}"

    @property
    def url_host(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return host

    @property
    def base_url(self) -> str:
        return f"http://{self.url_host}:{self.port}"

    @property
    def login_url(self) -> str:
        return f"{self.base_url}/?token={self.link_token}"

    def use_link(self, token: str) -> bool:
        """True exactly once, for the right token."""
        with self._lock:
            if self.link_used or not hmac.compare_digest(token.encode(), self.link_token.encode()):
                return False
            self.link_used = True
            return True

    def new_link(self) -> str:
        """A fresh one-time link (for a second browser, or after closing the tab); the old
        link stops working, sessions already signed in stay valid."""
        with self._lock:
            self.link_token = secrets.token_urlsafe(32)
            self.link_used = False
        return self.login_url

    def valid_session(self, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token).encode(), self.session_token.encode())

    def host_allowed(self, value: str) -> bool:
        """The Host header must name this server: its bound host:port, or a loopback spelling
        of it. Bound to every interface, any IP literal is fine (a rebinding attack needs a
        DNS name), but names other than localhost are still refused."""
        host, port = _split_host(value.strip().lower())
        if port != str(self.port):
            return False
        bound = self.host.lower()
        wildcard = bound in ("0.0.0.0", "::", "")
        if wildcard:
            return host in _LOOPBACK_NAMES or _is_ip_literal(host)
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


def _cookie(headers: dict[str, str], name: str) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header is simply "no session"
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def _bearer(headers: dict[str, str]) -> str | None:
    raw = headers.get("authorization", "")
    scheme, _, token = raw.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


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


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>keep</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/app.css"></head>
<body class="gate"><main class="gate-box"><h1>keep</h1><h2>{title}</h2><p>{text}</p></main></body></html>
"""


async def _page(send: Send, status: int, title: str, text: str) -> None:
    body = _PAGE.format(title=title, text=text).encode()
    await _send(send, status, body, b"text/html; charset=utf-8")


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
        if headers.get("sec-fetch-site", "").lower() == "cross-site":
            await _json_error(send, 403, "Forbidden: cross-site request")
            return
        path: str = scope.get("path", "")
        method: str = scope.get("method", "GET").upper()
        if path.startswith("/static/") or path == "/favicon.ico":
            await self.app(scope, receive, self._with_headers(send, no_store=False))
            return
        authenticated = self.auth.valid_session(_cookie(headers, self.auth.cookie_name)) or self.auth.valid_session(
            _bearer(headers)
        )
        if path == "/" and method in ("GET", "HEAD"):
            token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
            if token is not None:
                if method == "HEAD":
                    # link checkers probe with HEAD: that must not spend the one-time link
                    await _send(send, 200, b"", b"text/html; charset=utf-8")
                    return
                await self._exchange(send, token[0], authenticated)
                return
            if not authenticated:
                await _page(
                    send, 401, "Open the link printed by <code>keep server</code>",
                    "This page needs the one-time link shown in the terminal where <code>keep server</code> "
                    "runs. If that one was already used, press Enter in that terminal for a new one.",
                )
                return
        elif path.startswith("/api/") or path == "/api":
            if not authenticated:
                await _json_error(send, 401, "Unauthorized: open the one-time link printed by `keep server`")
                return
            # a page on another port of this host is "same-site": SameSite=Strict still sends
            # the cookie, and a no-cors GET (<script src>) carries no Origin. Only our own page
            # (same-origin) or a non-browser client (no header / "none") may call the API.
            if headers.get("sec-fetch-site", "same-origin").lower() not in ("same-origin", "none"):
                await _json_error(send, 403, "Forbidden: the API only answers this server's own page")
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
        elif not authenticated:
            await _json_error(send, 401, "Unauthorized")
            return
        await self.app(scope, receive, self._with_headers(send, no_store=True))

    @staticmethod
    def _has_body(headers: dict[str, str]) -> bool:
        length = headers.get("content-length")
        if length is not None:
            return length.strip() not in ("", "0")
        return "transfer-encoding" in headers

    async def _exchange(self, send: Send, token: str, authenticated: bool) -> None:
        if self.auth.use_link(token):
            cookie = f"{self.auth.cookie_name}={self.auth.session_token}; HttpOnly; SameSite=Strict; Path=/"
            extra = [(b"location", b"/"), (b"set-cookie", cookie.encode())]
            await _send(send, 303, b"", b"text/plain", extra)
            return
        if authenticated:
            # already signed in (e.g. the link reopened in the same browser): just drop the token
            await _send(send, 303, b"", b"text/plain", [(b"location", b"/")])
            return
        await _page(
            send, 403, "This link is no longer valid",
            "Each link printed by <code>keep server</code> works once. Press Enter in the terminal "
            "where it runs for a new one.",
        )

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
