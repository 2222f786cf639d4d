"""Secrets Manager secrets under a stage's name prefix that keep did not make (created in the
console or by the AWS CLI, without keep's tags): `show` and `diff` mention them, `show --format
json` lists them as `"managed": false`, and `keep set` on one gives it keep's four tags so it
becomes managed and appears everywhere. Against moto over HTTP."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from .conftest import KeepRunner

pytestmark = pytest.mark.aws

SM = ("--vault", "sm")


@pytest.fixture(params=["off", "on"], ids=["no-cache", "cache"])
def sm(kp: KeepRunner, moto: str, request: pytest.FixtureRequest) -> tuple[KeepRunner, Any]:
    config = {"slug": "sm", "driver": "secretsmanager", "name": "SM", "region": "us-east-1", "endpoint_url": moto,
              "cache": request.param}
    (kp.cwd / ".keep" / "vaults" / "sm.json").write_text(json.dumps(config))
    kp.ok("set", "MANAGED_KEY", "fake-managed-value", *SM, "--stage", "staging")
    client = boto3.client("secretsmanager", endpoint_url=moto, region_name="us-east-1")
    client.create_secret(Name="myapp/staging/CONSOLE_MADE", SecretString="fake-console-value-123")
    client.create_secret(Name="myapp/staging/OTHER_TOOL", SecretString="fake-other-value-4567",
                         Tags=[{"Key": "Owner", "Value": "fake-team"}])
    client.create_secret(Name="myapp/stagingX/NOT_UNDER_PREFIX", SecretString="fake-elsewhere")
    return kp, client


def tags_of(client: Any, name: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in client.describe_secret(SecretId=name).get("Tags", [])}


def test_show_names_them_and_json_marks_them(sm: tuple[KeepRunner, Any]) -> None:
    kp, _ = sm
    table = kp.ok("show", *SM, "--stage", "staging")
    assert [line.split()[0] for line in table.stdout.splitlines()[2:]] == ["MANAGED_KEY"]
    warnings = [line for line in table.stderr.splitlines() if "not made by keep" in line]
    assert warnings == [
        "warning: 2 secrets in sm:staging not made by keep (no keep tags), not shown: CONSOLE_MADE, OTHER_TOOL; "
        "`keep set KEY` on one adds keep's tags"
    ]

    rows = kp.ok("show", *SM, "--stage", "staging", "--format", "json").json()
    assert isinstance(rows, list)
    assert [(r["key"], r.get("managed", True)) for r in rows] == [
        ("MANAGED_KEY", True), ("CONSOLE_MADE", False), ("OTHER_TOOL", False),
    ]
    assert "managed" not in rows[0]
    assert rows[1]["value"] == "fa********"  # masked by the one rule (22 characters)
    assert "fake-console-value-123" not in json.dumps(rows)
    unmasked = kp.ok("show", *SM, "--stage", "staging", "--format", "json", "--unmask").json()
    assert isinstance(unmasked, list)
    assert {r["key"]: r["value"] for r in unmasked}["CONSOLE_MADE"] == "fake-console-value-123"

    # export stays what keep manages (and says nothing it could not stand behind)
    assert kp.ok("export", *SM, "--stage", "staging").stdout == "MANAGED_KEY=fake-managed-value\n"


def test_diff_mentions_them(sm: tuple[KeepRunner, Any]) -> None:
    kp, _ = sm
    result = kp.ok("diff", *SM, "--stage", "staging,production")
    assert (
        "warning: not compared, made outside keep (no keep tags): sm:staging CONSOLE_MADE, OTHER_TOOL "
        "(`keep set KEY` on one adds keep's tags)"
    ) in result.stderr
    assert "CONSOLE_MADE" not in result.stdout


def test_set_on_one_adopts_it(sm: tuple[KeepRunner, Any]) -> None:
    kp, client = sm
    kp.ok("set", "CONSOLE_MADE", "fake-console-value-new", *SM, "--stage", "staging")
    assert tags_of(client, "myapp/staging/CONSOLE_MADE") == {
        "ManagedBy": "Keep", "Namespace": "myapp", "Stage": "staging", "VaultSlug": "sm",
    }
    assert tags_of(client, "myapp/staging/OTHER_TOOL") == {"Owner": "fake-team"}  # untouched
    shown = kp.ok("show", *SM, "--stage", "staging", "--unmask", "--format", "env")
    assert shown.stdout == "CONSOLE_MADE=fake-console-value-new\nMANAGED_KEY=fake-managed-value\n"
    assert "not made by keep" in shown.stderr and "OTHER_TOOL" in shown.stderr and "CONSOLE_MADE" not in shown.stderr
    exported = kp.ok("export", *SM, "--stage", "staging").stdout
    assert exported == "CONSOLE_MADE=fake-console-value-new\nMANAGED_KEY=fake-managed-value\n"


def test_import_over_one_says_it_was_made_outside_keep(sm: tuple[KeepRunner, Any]) -> None:
    kp, client = sm
    (kp.cwd / "in.env").write_text("CONSOLE_MADE=fake-import-1\nBRAND_NEW=fake-import-2\n")
    result = kp("import", "in.env", *SM, "--stage", "staging")
    assert result.code == 1, result.stderr
    assert (
        "Secret myapp/staging/CONSOLE_MADE exists but was not made by keep (no keep tags); not overwritten"
    ) in result.stderr
    assert "someone else" not in result.stderr
    assert client.get_secret_value(SecretId="myapp/staging/CONSOLE_MADE")["SecretString"] == "fake-console-value-123"
    assert "created       BRAND_NEW" in result.stderr
