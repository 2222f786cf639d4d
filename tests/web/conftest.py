"""Fixtures for the web UI tests: a project with a few fake secrets, an in-process app with
Starlette's TestClient, and a real `keep server` subprocess for the server and browser tests."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from keep_secrets.web.app import create_app
from keep_secrets.web.security import Auth
from tests.conftest import KEEP, KeepRunner, base_env

HOST = "127.0.0.1"
PORT = 4000
BASE = f"http://{HOST}:{PORT}"

FAKE_DB = "fake-db-pass-123"
FAKE_API = "fake-api-key-4567890123456789"
FAKE_STAGING_DB = "fake-db-pass-staging"


@pytest.fixture(scope="session")
def _project_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Built once per session with the real CLI, then copied for each test (a fresh project
    per test costs a few keep subprocesses otherwise)."""
    base = tmp_path_factory.mktemp("web-template")
    home, project = base / "home", base / "proj"
    home.mkdir()
    project.mkdir()
    run = KeepRunner(project, base_env(home))
    run.ok("init", "--no-interaction", "--name", "Web Demo", "--namespace", "webdemo")
    run.ok("set", "DB_PASSWORD", FAKE_DB, "--stage", "local")
    run.ok("set", "API_KEY", FAKE_API, "--stage", "local")
    run.ok("set", "DB_PASSWORD", FAKE_STAGING_DB, "--stage", "staging")
    return home, project


@pytest.fixture
def web_home(_project_template: tuple[Path, Path], tmp_path: Path) -> Path:
    home = tmp_path / "web-home"
    shutil.copytree(_project_template[0], home, symlinks=True)
    return home


@pytest.fixture
def web_project(
    _project_template: tuple[Path, Path], web_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A project (namespace `webdemo`, local vault) with DB_PASSWORD and API_KEY in `local`
    and a different DB_PASSWORD in `staging`. This process gets the same HOME, so the
    in-process app opens the vault with the key the CLI created."""
    project = tmp_path / "web-proj"
    shutil.copytree(_project_template[1], project, symlinks=True)
    for name, value in base_env(web_home).items():
        if name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
            monkeypatch.setenv(name, value)
    for name in list(os.environ):
        if name.startswith("KEEP_"):
            monkeypatch.delenv(name)
    return project


@pytest.fixture
def cli(web_project: Path, web_home: Path) -> KeepRunner:
    """The real `keep` CLI on the same project, to check what the web UI wrote."""
    return KeepRunner(web_project, base_env(web_home))


@pytest.fixture
def auth() -> Auth:
    return Auth(host=HOST, port=PORT)


@pytest.fixture
def anon(web_project: Path, auth: Auth) -> Iterator[TestClient]:
    """A client without credentials."""
    with TestClient(create_app(web_project, auth), base_url=BASE, follow_redirects=False) as client:
        yield client


@pytest.fixture
def client(web_project: Path, auth: Auth) -> Iterator[TestClient]:
    """A client signed in with the session token as a Bearer header (as a script would)."""
    headers = {"Authorization": f"Bearer {auth.session_token}"}
    with TestClient(create_app(web_project, auth), base_url=BASE, headers=headers, follow_redirects=False) as c:
        yield c


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str  # the one-time link
    base: str
    stderr: list[str]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        assert self.proc.stderr is not None
        rest = self.proc.stderr.read().decode("utf-8", "replace")
        self.stderr.extend(rest.splitlines())
        return self.proc.returncode


def start_server(cwd: Path, env: dict[str, str], *args: str, browser: bool = False) -> Server:
    """`keep server [--no-browser] --port 0 ARGS`, waiting (at most 20 s) for the link line."""
    options = ["--port", "0"] if browser else ["--no-browser", "--port", "0"]
    proc = subprocess.Popen(
        [*KEEP, "server", *options, *args],
        cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    lines: list[str] = []
    buffer = b""
    deadline = time.monotonic() + 20
    fd = proc.stderr.fileno()
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        buffer += chunk
        *complete, buffer_rest = buffer.split(b"\n")
        buffer = buffer_rest
        for raw in complete:
            line = raw.decode("utf-8", "replace")
            lines.append(line)
            match = re.search(r"(http://[^\s/]+)/\?token=\S+", line)
            if match:
                return Server(proc, match.group(0), match.group(1), lines)
    proc.kill()
    proc.wait(5)
    raise AssertionError(f"keep server did not print its link; stderr: {lines!r} {buffer!r}")


@pytest.fixture
def server(web_project: Path, web_home: Path) -> Iterator[Server]:
    running = start_server(web_project, base_env(web_home))
    try:
        yield running
    finally:
        running.stop()
