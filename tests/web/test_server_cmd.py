"""`keep server` as a real process: the printed one-time link, the socket it binds, and a
clean stop on Ctrl+C."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import KeepRunner, base_env
from tests.conftest import _run_in_process as run_in_process

from .conftest import Server, start_server


def _request(base: str, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    return conn.getresponse()


def _post(base: str, path: str, body: object, headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def _sign_in(base: str, secret: str) -> dict[str, str]:
    status, data = _post(base, "/api/session", {"secret": secret})
    assert status == 201, data
    return {"Authorization": f"Session {data['session']}"}


def test_link_signs_in_once_then_ctrl_c_stops_cleanly(server: Server) -> None:
    assert server.base.startswith("http://127.0.0.1:")
    assert server.url == f"{server.base}/#signin={server.secret}"
    page = _request(server.base, "/")
    assert page.status == 200 and page.getheader("Set-Cookie") is None
    headers = _sign_in(server.base, server.secret)
    api = _request(server.base, "/api/secrets?stage=local", headers)
    assert api.status == 200
    body = json.loads(api.read())
    assert [s["key"] for s in body["secrets"]] == ["API_KEY", "DB_PASSWORD"]
    assert _post(server.base, "/api/session", {"secret": server.secret})[0] == 403  # the link works once
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
        # the script token is not a browser session, and a browser session is not a Bearer token
        assert _request(running.base, "/api/context", {"Authorization": f"Session {token}"}).status == 401
        session = _sign_in(running.base, running.secret)["Authorization"].split(" ", 1)[1]
        assert _request(running.base, "/api/context", {"Authorization": f"Bearer {session}"}).status == 401
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
    for option in ("--port", "--host", "--no-browser", "--idle-timeout"):
        assert option in out


def test_quiet_still_prints_the_link(web_project: Path, web_home: Path) -> None:
    running = start_server(web_project, base_env(web_home), "-q")
    try:
        assert running.url.startswith("http://127.0.0.1:")
    finally:
        assert running.stop() == 0  # Ctrl+C right after the link: a clean stop
    assert not [line for line in running.stderr if "Traceback" in line or "Exception ignored" in line]


def test_ctrl_c_before_uvicorn_takes_over_stops_the_server(
    web_project: Path, web_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl+C pressed as the link appears, while uvicorn was still importing what it runs on:
    the KeyboardInterrupt landed in an import, importlib dropped it ("Exception ignored in
    _get_module_lock"), and the server ran on (seen as a hung stop on a busy CI machine)."""
    import uvicorn

    seen: list[bool] = []

    def run(self: uvicorn.Server, sockets: object = None) -> None:
        with contextlib.suppress(KeyboardInterrupt):  # what importlib does with one raised in its lock callback
            signal.raise_signal(signal.SIGINT)
        seen.append(self.should_exit)

    monkeypatch.setattr(uvicorn.Server, "run", run)
    result = run_in_process(["server", "--no-browser", "--port", "0"], web_project, base_env(web_home), None)
    assert result.code == 0, result.stderr
    assert seen == [True]  # the Ctrl+C asked the server to stop


def test_sigterm_stops_the_server(server: Server) -> None:
    server.proc.terminate()
    try:
        code = server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        raise
    assert code in (0, -15, 143)


def test_browser_is_opened_on_a_private_file_and_the_secret_is_on_no_command_line(
    web_project: Path, web_home: Path, tmp_path: Path
) -> None:
    record = tmp_path / "argv.txt"
    opener = tmp_path / "fake-browser.sh"
    # the stand-in browser records its whole command line (what `ps` shows every local user)
    opener.write_text(f'#!/bin/sh\nprintf "%s\\n" "$0" "$@" > {record}.tmp && mv {record}.tmp {record}\n')
    opener.chmod(0o755)
    env = {**base_env(web_home), "BROWSER": f"{opener} %s"}
    running = start_server(web_project, env, browser=True)
    try:
        for _ in range(100):
            if record.exists():
                break
            time.sleep(0.1)
        argv = record.read_text()
        [target] = [a for a in argv.splitlines() if a.startswith("file://")]
        path = Path(urlsplit(target).path)
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
        match = re.search(r"#signin=([A-Za-z0-9_-]+)", path.read_text())
        assert match is not None
        secret = match.group(1)
        assert secret not in argv and running.secret not in argv
        assert secret != running.secret
        assert not any(secret in line for line in running.stderr)
        # the page exchanges it once; the file is then removed
        _sign_in(running.base, secret)
        assert not path.exists()
        assert _post(running.base, "/api/session", {"secret": secret})[0] == 403
        # the printed link still works for someone who copies it
        _sign_in(running.base, running.secret)
    finally:
        assert running.stop() == 0
    assert not any(secret in line for line in running.stderr)


def test_signin_file_is_removed_when_the_server_stops(web_project: Path, web_home: Path, tmp_path: Path) -> None:
    record = tmp_path / "argv.txt"
    opener = tmp_path / "fake-browser.sh"
    opener.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {record}.tmp && mv {record}.tmp {record}\n')
    opener.chmod(0o755)
    running = start_server(web_project, {**base_env(web_home), "BROWSER": f"{opener} %s"}, browser=True)
    for _ in range(100):
        if record.exists():
            break
        time.sleep(0.1)
    path = Path(urlsplit(record.read_text()).path)
    assert path.exists()
    assert running.stop() == 0
    assert not path.exists() and not path.parent.exists()


def test_all_interfaces_warns_and_prints_a_link_with_the_machine_name(web_project: Path, web_home: Path) -> None:
    running = start_server(web_project, base_env(web_home), "--host", "0.0.0.0")
    try:
        name = socket.gethostname().lower()
        assert any("other machines on your network" in line for line in running.stderr)
        port = urlsplit(running.base).port
        if name and name != "localhost":
            assert running.url.startswith(f"http://{name}:{port}/#signin=")
        # the link's host name passes the Host check; we connect over loopback (no LAN traffic)
        local = f"http://127.0.0.1:{port}"
        headers = _sign_in(local, running.secret)
        assert _request(local, "/api/context", {**headers, "Host": f"{name}:{port}"}).status == 200
        assert _request(local, "/api/context", {**headers, "Host": f"evil.example:{port}"}).status == 403
        assert _request(local, "/api/context").status == 401
    finally:
        assert running.stop() == 0


def test_enter_on_a_terminal_prints_a_new_link(web_project: Path, web_home: Path) -> None:
    running = start_server(web_project, base_env(web_home), tty=True)
    try:
        assert any("Press Enter for a new one-time sign-in link" in line for line in running.read_until("Press"))
        first = running.secret
        _sign_in(running.base, first)
        second = running.new_link()
        assert second.startswith(running.base + "/#signin=")
        secret = second.split("#signin=", 1)[1]
        assert secret != first
        _sign_in(running.base, secret)
        assert _post(running.base, "/api/session", {"secret": secret})[0] == 403
    finally:
        assert running.stop() == 0


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


def test_another_spelling_of_the_all_interfaces_address_works_like_it(web_project: Path, web_home: Path) -> None:
    # `::0` and `0:0:0:0:0:0:0:0` are `::`; the link and the Host check used to take the
    # spelling literally, so the link (a browser writes it `[::]`) was refused with 403
    running = start_server(web_project, base_env(web_home), "--host", "0:0:0:0:0:0:0:0")
    try:
        assert any("other machines on your network" in line for line in running.stderr)
        port = urlsplit(running.base).port
        assert "[0:0:0:0:0:0:0:0]" not in running.url
        local = f"http://[::1]:{port}"
        headers = _sign_in(local, running.secret)
        assert _request(local, "/api/context", headers).status == 200
        assert _request(local, "/api/context", {**headers, "Host": f"evil.example:{port}"}).status == 403
    finally:
        assert running.stop() == 0


def test_a_server_started_in_the_background_of_a_terminal_keeps_serving(web_project: Path, web_home: Path) -> None:
    """`keep server --no-browser &` in an interactive shell: stdin is the terminal, but the job
    is not in the foreground, so reading it (for "Enter prints a new link") stopped the whole
    server (SIGTTIN: every request hung) until it was brought back with `fg`."""
    import os
    import pty
    import shlex
    import shutil
    import signal

    from tests.conftest import KEEP

    setsid = shutil.which("setsid")
    if setsid is None:
        import pytest

        pytest.skip("needs util-linux setsid (it gives the shell a controlling terminal)")
    controller, terminal = pty.openpty()
    keep_server = shlex.join([*KEEP, "server", "--no-browser", "--port", "0"])
    # a job-control shell owning the terminal runs the server as a background job
    shell = subprocess.Popen(
        [setsid, "-c", "bash", "-c", f"set -m; {keep_server} & echo $! ; sleep 60"],
        cwd=web_project, env=base_env(web_home), stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    os.close(terminal)
    server_pid = None
    try:
        assert shell.stdout is not None and shell.stderr is not None
        server_pid = int(shell.stdout.readline())
        base = None
        buffer = b""
        deadline = time.monotonic() + 20
        while base is None and time.monotonic() < deadline:
            chunk = os.read(shell.stderr.fileno(), 1)
            if not chunk:
                break
            buffer += chunk
            match = re.search(rb"(http://[^\s/]+)/#signin=", buffer)
            base = match.group(1).decode() if match else None
        assert base is not None, buffer
        time.sleep(1.0)  # the terminal reader has started by now
        for _ in range(2):
            page = _request(base, "/")
            assert page.status == 200
            time.sleep(0.5)
    finally:
        for group in (server_pid, shell.pid):
            if group is not None:
                with contextlib.suppress(OSError):
                    os.killpg(group, signal.SIGKILL)
        shell.wait(10)
        os.close(controller)
