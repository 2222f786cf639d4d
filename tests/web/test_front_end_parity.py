"""The CLI and the web answer the same case with the same class of error (one error table:
exit 3 <-> 404, exit 4 <-> 403), each with its own hint, and no web answer quotes CLI syntax."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from keep_secrets.cli import run_args
from keep_secrets.vaults.local import LocalVault
from keep_secrets.vaults.secretsmanager import NotFoundOrDenied
from tests.conftest import KeepRunner


def _no_cli_syntax(text: str) -> None:
    assert "`" not in text and "keep " not in text and " --" not in text, text


def test_missing_secret_is_exit_3_and_404(client: TestClient, cli: KeepRunner) -> None:
    result = cli("get", "MISSING", "--stage", "local")
    assert result.code == 3 and "`keep show` lists" in result.stderr
    response = client.get("/api/secret", params={"stage": "local", "key": "MISSING"})
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404 and "MISSING" in body["error"]
    _no_cli_syntax(body["error"] + (body["hint"] or ""))


def test_deleted_secret_is_exit_3_and_404_with_each_front_ends_hint(client: TestClient, cli: KeepRunner) -> None:
    cli.ok("delete", "API_KEY", "--stage", "local", "--force")
    result = cli("get", "API_KEY", "--stage", "local")
    assert result.code == 3 and "keep restore API_KEY" in result.stderr
    response = client.get("/api/secret", params={"stage": "local", "key": "API_KEY"})
    assert response.status_code == 404
    body = response.json()
    assert "restore it" in body["hint"]
    _no_cli_syntax(body["error"] + body["hint"])
    written = client.post("/api/secret", json={"stage": "local", "key": "API_KEY", "value": "x-fake"})
    assert written.status_code == 409
    _no_cli_syntax(written.json()["error"] + (written.json()["hint"] or ""))
    assert cli("set", "API_KEY", "x-fake", "--stage", "local").code == 5


def test_not_found_or_denied_is_exit_4_and_403(
    client: TestClient, web_project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def denied(self: LocalVault, stage: str, key: str, version: str | None = None) -> object:
        raise NotFoundOrDenied(
            f"Secret {key} not found or not permitted: denied GetSecretValue",
            key=key, remote_name=f"{stage}/{key}", action="GetSecretValue",
        )

    monkeypatch.setattr(LocalVault, "get", denied)
    response = client.get("/api/secret", params={"stage": "local", "key": "DB_PASSWORD"})
    assert response.status_code == 403
    _no_cli_syntax(response.json()["error"] + response.json()["hint"])
    monkeypatch.chdir(web_project)
    assert run_args(["get", "DB_PASSWORD", "--stage", "local"]) == 4
    assert "`keep iam`" in capsys.readouterr().err


def test_export_reads_the_same_vaults_in_cli_and_web(client: TestClient, cli: KeepRunner) -> None:
    """Several vaults in the workspace: `keep export` and `POST /api/export` without a vault
    list read the same ones (every workspace vault, the default last) and give the same keys."""
    cli.ok("vault:add", "--driver", "local", "--slug", "team", "--no-verify", "-n")
    cli.ok("set", "TEAM_ONLY", "fake-team-value", "--vault", "team", "--stage", "local")
    cli.ok("set", "API_KEY", "fake-team-api-key", "--vault", "team", "--stage", "local")
    exported = cli.ok("export", "--stage", "local", "--format", "json").json()
    assert isinstance(exported, dict)
    response = client.post("/api/export", json={"stage": "local", "format": "json", "reveal": True})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["vaults"] == ["team", "local"]
    web = json.loads(body["content"])
    assert set(web) == set(exported) == {"API_KEY", "DB_PASSWORD", "TEAM_ONLY"}
    assert web == exported  # the default vault (local) wins the shared key in both


def test_a_remedy_is_worded_by_each_front_end(client: TestClient, cli: KeepRunner) -> None:
    """The service says what fixes it (make another vault the default); the CLI names the
    command, the page names its own controls."""
    cli.ok("vault:add", "--driver", "local", "--slug", "team", "--no-verify", "-n")
    refused = cli("vault:delete", "local", "--force")
    assert refused.code == 5 and "`keep vault:default team`" in refused.stderr
    response = client.delete("/api/vaults", params={"slug": "local"})
    assert response.status_code == 409
    body = response.json()
    assert "Settings" in body["hint"]
    _no_cli_syntax(body["error"] + body["hint"])
    unknown = client.get("/api/secrets", params={"stage": "uat"})
    assert unknown.status_code == 400 and "Settings" in (unknown.json()["hint"] or "")
    _no_cli_syntax(unknown.json()["error"] + unknown.json()["hint"])


def _set_default(project: Path, slug: str | None) -> None:
    path = project / ".keep" / "settings.json"
    data = json.loads(path.read_text())
    data["default_vault"] = slug
    path.write_text(json.dumps(data))


def test_the_vault_a_request_works_on_is_the_clis(client: TestClient, cli: KeepRunner, web_project: Path) -> None:
    """Without a vault named, the CLI and the web choose the same one (services.secret_ops
    .working_vault): the default, else the workspace's only vault; a default naming no
    configured vault is the same configuration error in both; several and no default: both
    require one."""
    cli.ok("vault:add", "--driver", "local", "--slug", "team", "--no-verify", "-n")
    cli.ok("set", "TEAM_ONLY", "fake-team-value", "--vault", "team", "--stage", "local")
    _set_default(web_project, None)
    workspace = web_project / ".keep" / "local" / "workspace.json"
    workspace.write_text(json.dumps({"vaults": ["team"], "stages": []}))
    assert cli.ok("get", "TEAM_ONLY", "--stage", "local", "--format", "raw").stdout.strip() == "fake-team-value"
    only = client.get("/api/secret", params={"stage": "local", "key": "TEAM_ONLY"})
    assert only.status_code == 200, only.text
    assert only.json()["secret"]["vault"] == "team" and only.json()["secret"]["value"] == "fake-team-value"

    _set_default(web_project, "gone")
    stale = cli("get", "TEAM_ONLY", "--stage", "local")
    assert stale.code == 2 and "default_vault 'gone'" in stale.stderr
    response = client.get("/api/secret", params={"stage": "local", "key": "TEAM_ONLY"})
    assert response.status_code == 400 and "default_vault 'gone'" in response.json()["error"]

    _set_default(web_project, None)
    workspace.unlink()
    several = cli("get", "TEAM_ONLY", "--stage", "local", "-n")
    assert several.code == 2 and "--vault is required" in several.stderr
    response = client.get("/api/secret", params={"stage": "local", "key": "TEAM_ONLY"})
    assert response.status_code == 400 and "Missing required field 'vault'" in response.json()["error"]
    _no_cli_syntax(response.json()["error"])
