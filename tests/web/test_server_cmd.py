"""`keep server` as a real process: the printed one-time link, the socket it binds, and a
clean stop on Ctrl+C."""

from __future__ import annotations

import http.client
import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import KEEP, KeepRunner, base_env

from .conftest import Server, start_server


def _request(base: str, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    return conn.getresponse()


def test_link_signs_in_once_then_ctrl_c_stops_cleanly(server: Server) -> None:
    assert server.base.startswith("http://127.0.0.1:")
    path = server.url[len(server.base):]
    first = _request(server.base, path)
    assert first.status == 303 and first.getheader("Location") == "/"
    cookie = first.getheader("Set-Cookie") or ""
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    session = cookie.split(";")[0]
    api = _request(server.base, "/api/secrets?stage=local", {"Cookie": session})
    assert api.status == 200
    body = json.loads(api.read())
    assert [s["key"] for s in body["secrets"]] == ["API_KEY", "DB_PASSWORD"]
    assert _request(server.base, path).status == 403  # the link works once
    assert _request(server.base, "/api/context").status == 401
    code = server.stop()
    assert code == 0, server.stderr
    assert "Server stopped." in server.stderr
    assert server.proc.stdout is not None
    assert server.proc.stdout.read() == b""  # stdout is for data; the server prints none
    assert not any("Traceback" in line for line in server.stderr)


def test_preset_token_for_scripts(web_project: Path, web_home: Path) -> None:
    token = "fake-script-token-0123456789-abcdefghij"
    env = {**base_env(web_home), "KEEP_SERVER_TOKEN": token}
    running = start_server(web_project, env)
    try:
        ok = _request(running.base, "/api/context", {"Authorization": f"Bearer {token}"})
        assert ok.status == 200
        assert json.loads(ok.read())["namespace"] == "webdemo"
        host = urlsplit(running.base).netloc
        headers = {"Authorization": f"Bearer {token}", "Host": "evil.example:" + host.split(":")[1]}
        rebind = _request(running.base, "/api/context", headers)
        assert rebind.status == 403
    finally:
        assert running.stop() == 0


def test_short_preset_token_is_refused(web_project: Path, web_home: Path) -> None:
    run = KeepRunner(web_project, {**base_env(web_home), "KEEP_SERVER_TOKEN": "short"})
    result = run("server", "--no-browser", "--port", "0")
    assert result.code == 2
    assert "KEEP_SERVER_TOKEN" in result.stderr


def test_busy_port_moves_to_the_next_one(web_project: Path, web_home: Path) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    busy = blocker.getsockname()[1]
    try:
        proc_env = base_env(web_home)
        running = _start_on(web_project, proc_env, busy)
        try:
            assert running.base != f"http://127.0.0.1:{busy}"
            assert any(f"port {busy} is in use" in line for line in running.stderr)
        finally:
            running.stop()
    finally:
        blocker.close()


def _start_on(cwd: Path, env: dict[str, str], port: int) -> Server:
    # start_server passes --port 0 first; a later --port wins in click
    return start_server(cwd, env, "--port", str(port))


def test_not_initialised_is_one_line_exit_2(keep: KeepRunner) -> None:
    result = keep("server", "--no-browser", "--port", "0")
    assert result.code == 2
    assert "keep init" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_host_is_exit_2(cli: KeepRunner) -> None:
    result = cli("server", "--no-browser", "--port", "0", "--host", "not a host")
    assert result.code == 2
    assert "--host" in result.stderr


def test_server_help_lists_options(cli: KeepRunner) -> None:
    out = cli.ok("server", "--help").stdout
    for option in ("--port", "--host", "--no-browser"):
        assert option in out


def test_quiet_still_prints_the_link(web_project: Path, web_home: Path) -> None:
    running = start_server(web_project, base_env(web_home), "-q")
    try:
        assert running.url.startswith("http://127.0.0.1:")
    finally:
        assert running.stop() == 0


def test_sigterm_stops_the_server(server: Server) -> None:
    server.proc.terminate()
    try:
        code = server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        raise
    assert code in (0, -15, 143)


def test_browser_is_opened_with_the_link_once_the_server_answers(
    web_project: Path, web_home: Path, tmp_path: Path
) -> None:
    record = tmp_path / "opened.txt"
    opener = tmp_path / "fake-browser.sh"
    # the stand-in browser fetches what it was given, as a real one would, then records it
    opener.write_text(
        "#!/bin/sh\n"
        f"{sys.executable} -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "
        f"\"$1\" 2>/dev/null\n"
        f"echo \"$1\" > {record}\n"
    )
    opener.chmod(0o755)
    env = {**base_env(web_home), "BROWSER": f"{opener} %s"}
    running = start_server(web_project, env, browser=True)
    try:
        for _ in range(100):
            if record.exists() and record.read_text().strip():
                break
            time.sleep(0.1)
        assert record.read_text().strip() == running.url
        # the link was used by the "browser": it cannot be used again
        assert _request(running.base, running.url[len(running.base):]).status == 403
    finally:
        assert running.stop() == 0


def test_all_interfaces_warns_and_prints_a_loopback_link(web_project: Path, web_home: Path) -> None:
    running = start_server(web_project, base_env(web_home), "--host", "0.0.0.0")
    try:
        assert running.url.startswith("http://127.0.0.1:")
        assert any("other machines on your network" in line for line in running.stderr)
        assert _request(running.base, "/api/context").status == 401
    finally:
        assert running.stop() == 0


def test_enter_on_a_terminal_prints_a_new_link(web_project: Path, web_home: Path) -> None:
    import pty

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [*KEEP, "server", "--no-browser", "--port", "0"], cwd=web_project, env=base_env(web_home),
            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        running = _wait_for_link(proc)
        try:
            assert any("Press Enter for a new one-time link" in line for line in _more_lines(proc, "Press"))
            first = running.url
            assert _request(running.base, first[len(running.base):]).status == 303
            os.write(controller, b"\n")
            [line] = [x for x in _more_lines(proc, "New one-time link") if "New one-time link" in x]
            second = line.split(": ", 1)[1].strip()
            assert second != first and second.startswith(running.base + "/?token=")
            assert _request(running.base, second[len(running.base):]).status == 303
            assert _request(running.base, second[len(running.base):]).status == 403
        finally:
            assert running.stop() == 0
    finally:
        os.close(controller)
        os.close(terminal)


def _wait_for_link(proc: subprocess.Popen[bytes]) -> Server:
    for line in _more_lines(proc, "one-time link"):
        if "token=" in line:
            url = line.split(": ", 1)[1].strip()
            return Server(proc, url, url.split("/?token=")[0], [line])
    raise AssertionError("no link printed")


def _more_lines(proc: subprocess.Popen[bytes], until: str, timeout: float = 15) -> list[str]:
    """stderr lines read until one contains `until` (or the timeout)."""
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    lines: list[str] = []
    buffer = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        chunk = os.read(fd, 1)
        if not chunk:
            break
        buffer += chunk
        if chunk == b"\n":
            line = buffer.decode("utf-8", "replace").rstrip("\n")
            buffer = b""
            lines.append(line)
            if until in line:
                return lines
    return lines


def test_unknown_starting_stage_or_vault_is_exit_2(cli: KeepRunner) -> None:
    bad_stage = cli("server", "--no-browser", "--port", "0", "--stage", "prod")
    assert bad_stage.code == 2 and "Unknown stage 'prod'" in bad_stage.stderr
    bad_vault = cli("server", "--no-browser", "--port", "0", "--vault", "nope")
    assert bad_vault.code == 2 and "Unknown vault 'nope'" in bad_vault.stderr


def test_concurrent_writes_through_the_real_server_all_land(web_project: Path, web_home: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    token = "fake-script-token-concurrency-0123456789"
    running = start_server(web_project, {**base_env(web_home), "KEEP_SERVER_TOKEN": token})
    parts = urlsplit(running.base)

    def create(n: int) -> int:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        body = json.dumps({"stage": "production", "key": f"CONCURRENT_{n:02d}", "value": f"fake-value-{n}"})
        conn.request("POST", "/api/secret", body=body,
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        status = conn.getresponse().status
        conn.close()
        return status

    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(create, range(30)))
        assert statuses == [201] * 30
        listed = _request(running.base, "/api/secrets?stage=production", {"Authorization": f"Bearer {token}"})
        keys = [s["key"] for s in json.loads(listed.read())["secrets"]]
        assert keys == [f"CONCURRENT_{n:02d}" for n in range(30)]
    finally:
        assert running.stop() == 0
