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


def sign_in(client: TestClient, secret: str) -> str:
    """Exchange a one-time sign-in secret for a session secret, as the page does."""
    response = client.post("/api/session", json={"secret": secret})
    assert response.status_code == 201, response.text
    session = response.json()["session"]
    assert isinstance(session, str)
    return session


@pytest.fixture
def client(web_project: Path, auth: Auth) -> Iterator[TestClient]:
    """A client signed in as the page is: the link's secret exchanged for a session, sent
    as `Authorization: Session ...` on every call."""
    with TestClient(create_app(web_project, auth), base_url=BASE, follow_redirects=False) as c:
        c.headers["Authorization"] = f"Session {sign_in(c, auth.link_token)}"
        yield c


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str  # the one-time sign-in link (the secret is in its fragment)
    base: str
    stderr: list[str]
    terminal: int | None = None  # the controlling side of the server's stdin pty, if any

    @property
    def secret(self) -> str:
        return self.url.split("#signin=", 1)[1]

    def read_until(self, text: str, timeout: float = 15) -> list[str]:
        """stderr lines until one contains `text` (or the timeout)."""
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
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
                self.stderr.append(line)
                if text in line:
                    return lines
        return lines

    def new_link(self) -> str:
        """Press Enter in the server's terminal; the new one-time link it prints."""
        assert self.terminal is not None, "start the server with tty=True"
        os.write(self.terminal, b"\n")
        for line in self.read_until("New one-time sign-in link"):
            if "New one-time sign-in link" in line:
                return line.split(": ", 1)[1].strip()
        raise AssertionError(f"no new link printed; stderr: {self.stderr!r}")

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
        if self.terminal is not None:
            os.close(self.terminal)
            self.terminal = None
        return self.proc.returncode


def start_server(cwd: Path, env: dict[str, str], *args: str, browser: bool = False, tty: bool = False) -> Server:
    """`keep server [--no-browser] --port 0 ARGS`, waiting (at most 20 s) for the link line;
    with `tty`, stdin is a pseudo-terminal (Enter prints a new link: Server.new_link)."""
    options = ["--port", "0"] if browser else ["--no-browser", "--port", "0"]
    controller: int | None = None
    stdin: int = subprocess.DEVNULL
    if tty:
        import pty

        controller, stdin = pty.openpty()
    proc = subprocess.Popen(
        [*KEEP, "server", *options, *args],
        cwd=cwd, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    if tty:
        os.close(stdin)
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
        # byte by byte once the link is near: what follows it stays in the pipe for read_until
        chunk = os.read(fd, 1)
        if not chunk:
            break
        buffer += chunk
        if chunk != b"\n":
            continue
        line = buffer.decode("utf-8", "replace").rstrip("\n")
        buffer = b""
        lines.append(line)
        match = re.search(r"(http://[^\s/]+)/#signin=\S+", line)
        if match:
            return Server(proc, match.group(0), match.group(1), lines, controller)
    proc.kill()
    proc.wait(5)
    if controller is not None:
        os.close(controller)
    raise AssertionError(f"keep server did not print its link; stderr: {lines!r} {buffer!r}")


@pytest.fixture
def server(web_project: Path, web_home: Path) -> Iterator[Server]:
    running = start_server(web_project, base_env(web_home))
    try:
        yield running
    finally:
        running.stop()


# -- browser-test artefacts ------------------------------------------------------------------

#: where a failing browser test leaves its screenshot (CI uploads this directory)
ARTEFACTS = Path(os.environ.get("KEEP_TEST_ARTEFACTS", "/tmp/keep-test-artefacts")) / "web"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    # the page fixtures look at this to screenshot a failed test before closing the page
    setattr(item, f"report_{report.when}", report)
    return report


def failed(request: pytest.FixtureRequest) -> bool:
    report = getattr(request.node, "report_call", None)
    return report is None or report.failed
