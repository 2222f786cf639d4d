"""A fault-injecting HTTP proxy in front of moto's server, for tests and benchmarks.

It forwards every request to `upstream` (a moto server URL) and, on the way:

* counts operations (`X-Amz-Target: secretsmanager.GetSecretValue` -> `GetSecretValue`, or
  the `Action` form field of query-protocol services such as STS): `proxy.counts` is a
  `collections.Counter`, `proxy.reset_counts()` clears it;
* adds `latency_ms` of delay to every request;
* answers a fraction `throttle_rate` of requests with `ThrottlingException` (HTTP 400) and a
  fraction `fail_5xx_rate` with HTTP 500 `InternalFailure`;
* answers every request signed for a region in `fail_regions` with HTTP 503 (or, with
  `fail_mode = "reset"`, closes the connection without an answer).

No pytest here: `bench/` imports it too. The API is stable:
`Proxy(upstream, hooks=None, *, latency_ms=0, throttle_rate=0.0, fail_5xx_rate=0.0,
fail_regions=(), seed=None)`, `start()`, `stop()`, `.url`, `.counts`, `.reset_counts()`,
`.requests` (every `ProxyRequest` seen, in order), `.upstream`, and the mutable attributes `latency_ms`,
`throttle_rate`, `fail_5xx_rate`, `fail_regions`, `fail_mode`. It is also a context manager.

Hooks
-----
`hooks` is a list of callables `hook(request: ProxyRequest) -> ProxyResponse | None`, run in
order for every request after it is counted and before any fault injection. The first hook
that returns a `ProxyResponse` answers the request (it is not forwarded); `None` lets the
request go on. A `ProxyRequest` exposes `method`, `path`, `headers` (a case-insensitive
mapping), `body` (bytes), `operation` (e.g. `CreateSecret`), `service` and `region` (from the
SigV4 credential scope), `json` (the parsed JSON body, or None) and `form` (the parsed
form body for query-protocol calls). `ProxyResponse.aws_error(request, status, code, message)`
builds an error in the right wire format for the request's protocol (JSON or XML), e.g. an
IAM emulation hook answers denied calls with
`ProxyResponse.aws_error(req, 400, "AccessDeniedException", "... not authorized ...")`.
Hooks run on the proxy's request threads, so they must be thread-safe.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class _Headers(Mapping[str, str]):
    """Case-insensitive read-only header mapping."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._data: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            self._data[name.lower()] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._data[name.lower()][1]

    def __iter__(self) -> Any:
        return (original for original, _ in self._data.values())

    def __len__(self) -> int:
        return len(self._data)


@dataclass
class ProxyRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    operation: str | None = None
    service: str | None = None
    region: str | None = None
    json: Any = None
    form: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_json_protocol(self) -> bool:
        return "X-Amz-Target" in self.headers

    @classmethod
    def parse(cls, method: str, path: str, headers: Mapping[str, str], body: bytes) -> ProxyRequest:
        request = cls(method=method, path=path, headers=headers, body=body)
        match = _CREDENTIAL_SCOPE.search(headers.get("Authorization", ""))
        if match:
            request.region, request.service = match.group(1), match.group(2)
        target = headers.get("X-Amz-Target")
        if target:
            request.operation = target.rsplit(".", 1)[-1]
            try:
                request.json = json.loads(body or b"{}")
            except ValueError:
                request.json = None
        else:
            content_type = headers.get("Content-Type", "")
            if "x-www-form-urlencoded" in content_type:
                request.form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            else:
                query = urllib.parse.urlsplit(path).query
                request.form = urllib.parse.parse_qs(query)
            action = request.form.get("Action")
            if action:
                request.operation = action[0]
        return request


@dataclass
class ProxyResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def aws_error(cls, request: ProxyRequest, status: int, code: str, message: str) -> ProxyResponse:
        request_id = str(uuid.uuid4())
        if request.is_json_protocol:
            body = json.dumps({"__type": code, "message": message}).encode()
            headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id}
            if code:
                headers["x-amzn-ErrorType"] = code
            return cls(status, body, headers)
        kind = "Receiver" if status >= 500 else "Sender"
        xml = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return cls(status, xml.encode(), {"Content-Type": "text/xml", "x-amzn-RequestId": request_id})


Hook = Callable[[ProxyRequest], "ProxyResponse | None"]


class Proxy:
    def __init__(
        self,
        upstream: str,
        hooks: Iterable[Hook] | None = None,
        *,
        latency_ms: float = 0,
        throttle_rate: float = 0.0,
        fail_5xx_rate: float = 0.0,
        fail_regions: Iterable[str] = (),
        fail_mode: str = "503",
        seed: int | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if not parsed.hostname or not parsed.port:
            raise ValueError(f"upstream must be http://host:port, not {upstream!r}")
        self.upstream = upstream
        self.upstream_host = parsed.hostname
        self.upstream_port = parsed.port
        self.hooks: list[Hook] = list(hooks or [])
        self.latency_ms = latency_ms
        self.throttle_rate = throttle_rate
        self.fail_5xx_rate = fail_5xx_rate
        self.fail_regions: set[str] = set(fail_regions)
        self.fail_mode = fail_mode
        self.counts: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.requests: list[ProxyRequest] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("proxy not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Proxy:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="aws-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.injected.clear()
            self.requests.clear()

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    # -- request path --------------------------------------------------------------------
    def _chance(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate

    def handle(self, request: ProxyRequest) -> ProxyResponse | None:
        """Decide the answer for one request; None means "drop the connection"."""
        with self._lock:
            self.counts[request.operation or f"{request.method} {request.path}"] += 1
            self.requests.append(request)
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        for hook in self.hooks:
            answer = hook(request)
            if answer is not None:
                return answer
        if request.region is not None and request.region in self.fail_regions:
            self._note("region")
            if self.fail_mode == "reset":
                return None
            return ProxyResponse.aws_error(request, 503, "ServiceUnavailable", f"{request.region} is down (injected)")
        if self._chance(self.throttle_rate):
            self._note("throttle")
            code = "ThrottlingException" if request.is_json_protocol else "Throttling"
            return ProxyResponse.aws_error(request, 400, code, "Rate exceeded (injected)")
        if self._chance(self.fail_5xx_rate):
            self._note("5xx")
            return ProxyResponse.aws_error(request, 500, "InternalFailure", "injected server error")
        return self.forward(request)

    def _note(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    def forward(self, request: ProxyRequest) -> ProxyResponse:
        conn = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=60)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Content-Length"] = str(len(request.body))
            conn.request(request.method, request.path, body=request.body, headers=headers)
            upstream = conn.getresponse()
            body = upstream.read()
            out = {k: v for k, v in upstream.getheaders() if k.lower() not in _HOP_BY_HOP | {"content-length"}}
            return ProxyResponse(upstream.status, body, out)
        finally:
            conn.close()


class _Handler(BaseHTTPRequestHandler):
    owner: Proxy
    protocol_version = "HTTP/1.1"
    # headers and body go out in separate writes; with Nagle on, the client's delayed ACK
    # adds ~40 ms to every answer on a kept-alive connection, which swamps injected latency
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = ProxyRequest.parse(self.command, self.path, _Headers(self.headers.items()), body)
        try:
            answer = self.owner.handle(request)
        except Exception as exc:  # a broken hook must show up as a server error, not a hang
            answer = ProxyResponse.aws_error(request, 500, "ProxyError", f"{type(exc).__name__}: {exc}")
        if answer is None:
            self.close_connection = True
            return
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve
