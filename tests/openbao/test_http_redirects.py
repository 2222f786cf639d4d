"""The OpenBao HTTP client's redirect and retry path (BaoHttp.request), against two real local
HTTP servers: a "standby" that answers 307 to the "active" node, as an HA cluster does. Fast
stand-in for the slow Raft fail-over test, on what it relies on."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from keep_secrets.model import Unreachable
from keep_secrets.vaults.openbao import BaoHttp


class _Node(http.server.ThreadingHTTPServer):
    def __init__(self, answer: Any) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer  # (handler) -> (status, headers, body)
        self.paths: list[str] = []
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Node
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        status, headers, body = self.server.answer(self)
        raw = json.dumps(body).encode()
        self.send_response(status)
        # no keep-alive: once a node is stopped, nothing of it answers any more
        for name, value in {**headers, "Content-Length": str(len(raw)), "Connection": "close"}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def nodes() -> Iterator[tuple[_Node, _Node]]:
    active = _Node(lambda h: (200, {}, {"data": {"node": "active", "path": h.path}}))
    standby = _Node(lambda h: (307, {"Location": active.url + h.path}, {}))
    yield standby, active
    for node in (standby, active):
        node.stop()


def test_a_redirect_is_followed_and_the_active_node_is_used_directly(nodes: tuple[_Node, _Node]) -> None:
    standby, active = nodes
    client = BaoHttp(standby.url, lambda: "fake-token")
    try:
        first = client.request("GET", "/v1/secret/data/a", query={"version": "2"})
        assert first.status == 200 and first.body == {"node": "active", "path": "/v1/secret/data/a?version=2"}
        second = client.request("GET", "/v1/secret/data/b")
        assert second.body["path"] == "/v1/secret/data/b"
        assert standby.paths == ["/v1/secret/data/a?version=2"]  # the second went to the active node at once
        assert active.paths == ["/v1/secret/data/a?version=2", "/v1/secret/data/b"]
    finally:
        client.close()


def test_when_the_active_node_fails_the_configured_address_is_asked_again(nodes: tuple[_Node, _Node]) -> None:
    standby, active = nodes
    client = BaoHttp(standby.url, lambda: "fake-token")
    client.retry_seconds = 0.5
    try:
        assert client.request("GET", "/v1/secret/data/a").status == 200
        active.stop()
        with pytest.raises(Unreachable) as failed:
            client.request("GET", "/v1/secret/data/a", what="reading a")
        message = failed.value.message
        assert message.startswith(f"OpenBao at {standby.url} did not answer reading a: ")
        assert f"(where {standby.url} redirected)" in message and "attempts over" in message
        assert len(standby.paths) >= 3  # each retry starts at the configured address again
    finally:
        client.close()


def test_a_retryable_status_is_retried_then_reported(nodes: tuple[_Node, _Node]) -> None:
    standby, _active = nodes
    standby.answer = lambda h: (503, {}, {"errors": ["Vault is sealed"]})
    client = BaoHttp(standby.url, lambda: "fake-token")
    client.retry_seconds = 0.3
    try:
        with pytest.raises(Unreachable, match=r"HTTP 503: Vault is sealed \(\d+ attempts over"):
            client.request("GET", "/v1/secret/data/a")
        assert len(standby.paths) >= 2
    finally:
        client.close()
