"""Shared fixtures: isolated HOME, a project directory, a `keep` subprocess runner, and one
moto server per test session (reset between the tests that use it)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

KEEP = [sys.executable, "-c", "import sys; from keep_secrets.cli import main; sys.exit(main())"]
FAKE_REGION = "us-east-1"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def out(self) -> str:
        return self.stdout

    def json(self) -> object:
        return json.loads(self.stdout)


class KeepRunner:
    """Runs `keep` as a real subprocess in `cwd` with an isolated HOME."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env

    def __call__(
        self,
        *args: str,
        input: str | bytes | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> Result:
        full_env = dict(self.env)
        if env:
            full_env.update(env)
        proc = subprocess.run(
            [*KEEP, *args],
            cwd=cwd or self.cwd,
            env=full_env,
            input=input.encode() if isinstance(input, str) else input,
            capture_output=True,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))

    def ok(self, *args: str, **kwargs: object) -> Result:
        result = self(*args, **kwargs)  # type: ignore[arg-type]
        assert result.code == 0, f"keep {' '.join(args)} -> {result.code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
        return result


def base_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "KEEP_")) and k not in ("NO_COLOR", "XDG_CONFIG_HOME", "XDG_DATA_HOME")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=FAKE_REGION,
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("AWS_PROFILE", None)
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    path = tmp_path / "proj"
    path.mkdir()
    return path


@pytest.fixture
def keep(project_dir: Path, home: Path) -> KeepRunner:
    """`keep(...)` runs the CLI in an empty directory (not initialised)."""
    return KeepRunner(project_dir, base_env(home))


@pytest.fixture
def kp(keep: KeepRunner) -> KeepRunner:
    """`kp(...)` runs the CLI in a freshly initialised project (namespace `myapp`, default
    vault `local`, stages local/staging/production)."""
    keep.ok("init", "--no-interaction", "--name", "My App", "--namespace", "myapp")
    return keep


@pytest.fixture
def fixed_key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    key = base64.b64encode(b"k" * 32).decode()
    monkeypatch.setenv("KEEP_LOCAL_KEY", key)
    return key


# -- moto ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server (HTTP, 127.0.0.1, random port) for the whole test session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The moto endpoint, reset to empty, with fake credentials in this process's env."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).read()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", FAKE_REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server


@pytest.fixture
def counted(moto: str) -> Iterator[object]:
    """A counting, fault-injecting proxy (tests/aws/proxy.py) in front of the reset moto server;
    a fixed seed so injected faults repeat."""
    from tests.aws.proxy import Proxy

    proxy = Proxy(moto, seed=1234).start()
    try:
        yield proxy
    finally:
        proxy.stop()
