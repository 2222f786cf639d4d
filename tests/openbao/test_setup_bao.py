"""Configuring an openbao vault: `vault:add` / `vault:edit` flags (from the registry), the
permission probe against the real server, and the web settings API - never a token in .keep/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KeepRunner
from tests.openbao.server import Api
from tests.web.conftest import _project_template, auth, client, web_home, web_project  # noqa: F401

pytestmark = pytest.mark.openbao


def test_vault_add_and_edit_with_flags(kp: KeepRunner, bao: Api) -> None:
    env = {"BAO_TOKEN": bao.token}
    added = kp("vault:add", "--driver", "openbao", "--slug", "bao", "--name", "Team OpenBao",
               "--address", bao.address, "--mount", "secret", "-n", env=env)
    assert added.code == 0, added.stderr
    assert "✓" in added.stderr or "✓" in added.stdout  # the probe ran against the server
    path = kp.cwd / ".keep" / "vaults" / "bao.json"
    saved = json.loads(path.read_text())
    assert saved == {"slug": "bao", "driver": "openbao", "name": "Team OpenBao", "scope": "",
                     "address": bao.address, "mount": "secret"}
    assert bao.token not in path.read_text()
    kp.ok("set", "K", "fake-k", "--vault", "bao", "--stage", "staging", env=env)
    assert bao.ok("GET", "secret/data/myapp/staging/K")["data"]["data"] == {"value": "fake-k"}

    kp.ok("vault:edit", "bao", "--scope", "web", "--no-verify", "-n", env=env)
    assert json.loads(path.read_text())["scope"] == "web"
    kp.ok("set", "K", "fake-scoped", "--vault", "bao", "--stage", "staging", env=env)
    assert bao.ok("GET", "secret/data/myapp/web/staging/K")["data"]["data"] == {"value": "fake-scoped"}


@pytest.mark.parametrize(("args", "message"), [
    (["--address", "ftp://bao.internal"], "--address"),
    (["--mount", "bad mount"], "--mount"),
    (["--region", "us-east-1"], "--region does not apply to the openbao driver"),
])
def test_vault_add_refuses_bad_options(kp: KeepRunner, bao: Api, args: list[str], message: str) -> None:
    result = kp("vault:add", "--driver", "openbao", "--slug", "bad", "--name", "Bad", *args, "-n")
    assert result.code == 2 and message in result.stderr, result.stderr
    assert not (kp.cwd / ".keep" / "vaults" / "bad.json").exists()


def test_a_token_in_the_vault_file_is_refused(bao_project: KeepRunner) -> None:
    path = bao_project.cwd / ".keep" / "vaults" / "bao.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "token": "s.fake-committed-token"}))
    result = bao_project("show", "--vault", "bao", "--stage", "staging")
    assert result.code == 2 and "never stored in .keep/" in result.stderr
    assert "s.fake-committed-token" not in result.stderr


def test_web_settings_add_verify_and_use(
    web_project: Path, client: Any, bao: Api  # noqa: F811
) -> None:
    drivers = {d["driver"]: d for d in client.get("/api/context").json()["drivers"]}
    options = [o["name"] for o in drivers["openbao"]["options"]]
    assert options == ["address", "mount", "scope", "vault_namespace", "ca_cert"]  # the token is not a field
    added = client.post("/api/vaults", json={"driver": "openbao", "slug": "bao", "name": "OpenBao",
                                             "address": bao.address, "token": "s.fake-ignored"})
    assert added.status_code == 201, added.text
    saved = (web_project / ".keep" / "vaults" / "bao.json").read_text()
    assert "s.fake-ignored" not in saved and json.loads(saved)["address"] == bao.address
    probe = client.post("/api/verify", json={"vaults": "bao", "stages": "staging"})
    assert probe.status_code == 200 and probe.json()["ok"] is True, probe.text
    where = {"vault": "bao", "stage": "staging"}
    assert client.post("/api/secret", json={**where, "key": "FROM_WEB", "value": "fake-web"}).status_code == 201
    assert bao.ok("GET", "secret/data/webdemo/staging/FROM_WEB")["data"]["data"] == {"value": "fake-web"}
