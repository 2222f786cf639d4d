"""The single-secret commands end to end on the AWS vaults: real `keep` processes talking HTTP
to the session's moto server (SSM and Secrets Manager vault configs written as project files
with `endpoint_url`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import KeepRunner, Result

pytestmark = pytest.mark.aws


@pytest.fixture
def aws(kp: KeepRunner, moto: str) -> KeepRunner:
    """`kp` with two more vaults, `sm` (Secrets Manager) and `ssm`, both on moto."""
    vaults = kp.cwd / ".keep" / "vaults"
    for slug, driver in (("sm", "secretsmanager"), ("ssm", "ssm")):
        config = {"slug": slug, "driver": driver, "name": slug.upper(), "region": "us-east-1", "endpoint_url": moto}
        (vaults / f"{slug}.json").write_text(json.dumps(config))
    return kp


def ok(kp: KeepRunner, *args: str, **kwargs: Any) -> Result:
    result = kp.ok(*args, **kwargs)
    assert "Traceback" not in result.stderr
    return result


def refused(kp: KeepRunner, code: int, *args: str, match: str) -> Result:
    result = kp(*args)
    assert result.code == code, f"{result.code}\n{result.stdout}\n{result.stderr}"
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("keep: ") and match in lines[0], result.stderr
    return result


def get_json(kp: KeepRunner, key: str, *where: str, version: str | None = None) -> dict[str, Any]:
    extra = ("--version", version) if version else ()
    data = json.loads(ok(kp, "get", key, *where, "--format", "json", *extra).stdout)
    assert isinstance(data, dict)
    return data


def versions(kp: KeepRunner, key: str, *where: str) -> list[dict[str, Any]]:
    data = json.loads(ok(kp, "history", key, *where, "--format", "json", "--unmask", "--limit", "0").stdout)
    assert isinstance(data, list)
    return data


SM = ("--stage", "staging", "--vault", "sm")
SSM = ("--stage", "staging", "--vault", "ssm")


def test_secretsmanager_lifecycle(aws: KeepRunner) -> None:
    first = ok(aws, "set", "DB_PASSWORD", "fake-sm-pass-1", *SM)
    assert first.stdout == "" and "created DB_PASSWORD in sm:staging (revision " in first.stderr
    assert "updated DB_PASSWORD" in ok(aws, "set", "DB_PASSWORD", "fake-sm-pass-2", *SM).stderr
    current = get_json(aws, "DB_PASSWORD", *SM)
    assert (current["value"], current["vault"], current["stage"], current["secure"]) == (
        "fake-sm-pass-2", "sm", "staging", True,
    )
    assert get_json(aws, "DB_PASSWORD", *SM, version="AWSPREVIOUS")["value"] == "fake-sm-pass-1"

    history = versions(aws, "DB_PASSWORD", *SM)
    assert [h["value"] for h in history] == ["fake-sm-pass-2", "fake-sm-pass-1"]
    assert "AWSCURRENT" in history[0]["labels"] and history[0]["current"] is True
    assert "AWSPREVIOUS" in history[1]["labels"]
    assert history[0]["version"] == current["revision"]

    shown = json.loads(ok(aws, "show", *SM, "--format", "json").stdout)
    assert [(s["key"], s["value"]) for s in shown] == [("DB_PASSWORD", "f********")]
    found = json.loads(ok(aws, "search", "SM-PASS", *SM, "--format", "json", "--unmask").stdout)
    assert [(s["key"], s["value"]) for s in found] == [("DB_PASSWORD", "fake-sm-pass-2")]

    # (checked with `get` only: moto's BatchGetSecretValue ignores a moved AWSCURRENT label)
    ok(aws, "rollback", "DB_PASSWORD", "--to", history[1]["version"], *SM)
    assert get_json(aws, "DB_PASSWORD", *SM)["value"] == "fake-sm-pass-1"
    assert versions(aws, "DB_PASSWORD", *SM)[0]["value"] == "fake-sm-pass-1"


def test_secretsmanager_delete_restore_rename_rotate(aws: KeepRunner) -> None:
    ok(aws, "set", "API_TOKEN", "fake-sm-token", *SM)
    refused(aws, 2, "delete", "API_TOKEN", *SM, match="pass --force")
    deleted = ok(aws, "delete", "API_TOKEN", "--force", *SM)
    assert "keep restore API_TOKEN" in deleted.stderr
    refused(aws, 3, "get", "API_TOKEN", *SM, match="scheduled for deletion")
    ok(aws, "restore", "API_TOKEN", *SM)
    assert get_json(aws, "API_TOKEN", *SM)["value"] == "fake-sm-token"

    ok(aws, "rename", "API_TOKEN", "SERVICE_TOKEN", *SM)
    assert get_json(aws, "SERVICE_TOKEN", *SM)["value"] == "fake-sm-token"
    refused(aws, 3, "get", "API_TOKEN", *SM, match="API_TOKEN")

    ok(aws, "set", "OTHER", "fake-sm-other", *SM)
    refused(aws, 5, "rename", "SERVICE_TOKEN", "OTHER", *SM, match="already exists")
    assert get_json(aws, "OTHER", *SM)["value"] == "fake-sm-other"

    rotated = ok(aws, "rotate", "SERVICE_TOKEN", "--length", "48", "--charset", "hex", *SM)
    assert "rotated SERVICE_TOKEN in sm:staging" in rotated.stderr
    value = get_json(aws, "SERVICE_TOKEN", *SM)["value"]
    assert len(value) == 48 and set(value) <= set("0123456789abcdef")
    assert versions(aws, "SERVICE_TOKEN", *SM)[1]["value"] == "fake-sm-token"

    refused(aws, 2, "set", "PLAIN", "fake-v", "--plain", *SM, match="storage is not supported")
    ok(aws, "delete", "OTHER", "--force", "--purge", *SM)
    refused(aws, 3, "get", "OTHER", *SM, match="OTHER")
    assert [s["key"] for s in json.loads(ok(aws, "show", *SM, "--format", "json").stdout)] == ["SERVICE_TOKEN"]


def test_ssm_lifecycle(aws: KeepRunner) -> None:
    ok(aws, "set", "DB_HOST", "fake-ssm-host-1", "--plain", *SSM)
    ok(aws, "set", "DB_HOST", "fake-ssm-host-2", *SSM)
    current = get_json(aws, "DB_HOST", *SSM)
    assert (current["value"], current["revision"], current["secure"]) == ("fake-ssm-host-2", "2", True)
    first = get_json(aws, "DB_HOST", *SSM, version="1")
    assert (first["value"], first["revision"], first["secure"]) == ("fake-ssm-host-1", "1", False)
    assert [h["version"] for h in versions(aws, "DB_HOST", *SSM)] == ["2", "1"]
    assert "now revision 3" in ok(aws, "rollback", "DB_HOST", "--to", "1", *SSM).stderr
    rolled = get_json(aws, "DB_HOST", *SSM)
    assert (rolled["value"], rolled["revision"], rolled["secure"]) == ("fake-ssm-host-1", "3", False)

    ok(aws, "rename", "DB_HOST", "DATABASE_HOST", *SSM)
    moved = get_json(aws, "DATABASE_HOST", *SSM)
    assert (moved["value"], moved["secure"]) == ("fake-ssm-host-1", False)
    refused(aws, 3, "get", "DB_HOST", *SSM, match="/myapp/staging/DB_HOST")

    ok(aws, "rotate", "DATABASE_HOST", *SSM)
    assert get_json(aws, "DATABASE_HOST", *SSM)["secure"] is False
    refused(aws, 2, "rotate", "DATABASE_HOST", *SSM, "--lambda",
            "arn:aws:lambda:us-east-1:123456789012:function:fake-rotator", match="Only Secrets Manager")

    assert "for good" in ok(aws, "delete", "DATABASE_HOST", "--force", *SSM).stderr
    refused(aws, 2, "restore", "DATABASE_HOST", *SSM, match="cannot restore")
    refused(aws, 2, "set", "BIG", "x" * 5000, *SSM, match="Standard tier")


def test_stages_and_vaults_stay_apart(aws: KeepRunner) -> None:
    ok(aws, "set", "SHARED", "fake-local-value", "--stage", "staging")
    ok(aws, "set", "SHARED", "fake-sm-value", *SM)
    ok(aws, "set", "SHARED", "fake-ssm-value", *SSM)
    ok(aws, "set", "SHARED", "fake-sm-prod-value", "--stage", "production", "--vault", "sm")
    assert get_json(aws, "SHARED", "--stage", "staging")["value"] == "fake-local-value"
    assert get_json(aws, "SHARED", *SM)["value"] == "fake-sm-value"
    assert get_json(aws, "SHARED", *SSM)["value"] == "fake-ssm-value"
    assert get_json(aws, "SHARED", "--stage", "production", "--vault", "sm")["value"] == "fake-sm-prod-value"
    refused(aws, 3, "get", "SHARED", "--stage", "production", "--vault", "ssm", match="SHARED")
