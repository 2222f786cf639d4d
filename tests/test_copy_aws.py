"""`copy`, `import` and `diff` across an SSM and a Secrets Manager vault on moto's server,
through the `keep` CLI. The vaults talk to moto through the counting proxy of
tests/aws/proxy.py, so write calls are counted on the wire."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.aws.conftest import proxy  # noqa: F401 - fixture
from tests.aws.proxy import Proxy, ProxyRequest, ProxyResponse

from .conftest import KeepRunner
from .moving_support import report

pytestmark = pytest.mark.aws

WRITES = ("PutParameter", "PutSecretValue", "CreateSecret", "TagResource", "UpdateSecret")
VALUES = {
    "DB_PASSWORD": "fake-db-pass-123",
    "API_KEY": "fake-api-key-456",
    "PEM": "-----BEGIN FAKE KEY-----\nAAAA\n-----END FAKE KEY-----",
    "QUOTED": "fake 'quoted' \"value\" $HOME # not a comment",
}


def writes(proxy: Proxy) -> int:  # noqa: F811
    return sum(proxy.counts.get(op, 0) for op in WRITES)


@pytest.fixture
def aws_project(kp: KeepRunner, proxy: Proxy) -> KeepRunner:  # noqa: F811
    for slug, driver in (("ssm", "ssm"), ("secretsmanager", "secretsmanager")):
        config = {"slug": slug, "driver": driver, "name": slug, "scope": "", "region": "us-east-1",
                  "endpoint_url": proxy.url}
        (kp.cwd / ".keep" / "vaults" / f"{slug}.json").write_text(json.dumps(config))
    kp.env["KEEP_WRITE_INTERVAL"] = "0"
    (kp.cwd / "in.json").write_text(json.dumps(VALUES))
    kp.ok("import", "in.json", "--vault=ssm", "--stage=staging")
    return kp


def test_copy_ssm_to_secrets_manager_and_rerun_makes_zero_writes(aws_project: KeepRunner,
                                                                  proxy: Proxy) -> None:  # noqa: F811
    proxy.reset_counts()
    result = aws_project.ok("copy", "--only=*", "--from=ssm:staging", "--to=secretsmanager:production")
    assert report(result.stderr) == {key: "created" for key in VALUES}
    assert proxy.counts["CreateSecret"] == len(VALUES)

    client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=proxy.upstream)
    for key, value in VALUES.items():
        stored = client.get_secret_value(SecretId=f"myapp/production/{key}")
        assert stored["SecretString"] == value
        tags = {t["Key"]: t["Value"] for t in client.describe_secret(SecretId=f"myapp/production/{key}")["Tags"]}
        assert tags == {"ManagedBy": "Keep", "Namespace": "myapp", "Stage": "production",
                        "VaultSlug": "secretsmanager"}

    proxy.reset_counts()
    again = aws_project.ok("copy", "--only=*", "--from=ssm:staging", "--to=secretsmanager:production",
                           "--overwrite")
    assert set(report(again.stderr).values()) == {"unchanged"}
    assert writes(proxy) == 0

    proxy.reset_counts()
    back = aws_project.ok("import", "in.json", "--vault=ssm", "--stage=staging")
    assert set(report(back.stderr).values()) == {"unchanged"}
    assert writes(proxy) == 0


def test_secrets_manager_to_ssm_protection_and_overwrite(aws_project: KeepRunner, proxy: Proxy) -> None:  # noqa: F811
    aws_project.ok("copy", "--only=*", "--from=ssm:staging", "--to=secretsmanager:production")
    aws_project.ok("set", "API_KEY", "fake-changed-key", "--vault=secretsmanager", "--stage=production")
    proxy.reset_counts()
    refused = aws_project("copy", "--only=*", "--from=secretsmanager:production", "--to=ssm:staging")
    assert refused.code == 5, refused.stderr
    assert "API_KEY" in refused.stderr
    assert writes(proxy) == 0

    proxy.reset_counts()
    done = aws_project.ok("copy", "API_KEY", "--from=secretsmanager:production", "--to=ssm:staging", "--overwrite")
    assert report(done.stderr) == {"API_KEY": "updated"}
    assert proxy.counts["PutParameter"] == 1
    ssm = boto3.client("ssm", region_name="us-east-1", endpoint_url=proxy.upstream)
    parameter = ssm.get_parameter(Name="/myapp/staging/API_KEY", WithDecryption=True)["Parameter"]
    assert parameter["Value"] == "fake-changed-key"
    assert parameter["Type"] == "SecureString"

    diff = aws_project.ok("diff", "--vault=ssm,secretsmanager", "--stage=staging,production", "--format=json",
                          "--unmask").json()
    assert isinstance(diff, dict)
    assert diff["columns"] == ["ssm:staging", "ssm:production", "secretsmanager:staging",
                               "secretsmanager:production"]
    statuses = {row["key"]: row["status"] for row in diff["rows"]}
    assert statuses == {key: "incomplete" for key in VALUES}
    rows = {row["key"]: row["values"] for row in diff["rows"]}
    assert rows["API_KEY"]["ssm:staging"] == rows["API_KEY"]["secretsmanager:production"] == "fake-changed-key"


def test_partial_failure_reports_what_was_and_was_not_copied(aws_project: KeepRunner,
                                                             proxy: Proxy) -> None:  # noqa: F811
    def deny_pem(request: ProxyRequest) -> ProxyResponse | None:
        body = request.json if isinstance(request.json, dict) else {}
        if request.operation == "CreateSecret" and str(body.get("Name", "")).endswith("/PEM"):
            return ProxyResponse.aws_error(request, 400, "AccessDeniedException",
                                           "User is not authorized to perform: secretsmanager:CreateSecret")
        return None

    proxy.hooks.append(deny_pem)
    result = aws_project("copy", "--only=*", "--from=ssm:staging", "--to=secretsmanager:production")
    assert result.code in (1, 4), result.stderr
    outcome = report(result.stderr)
    assert outcome["PEM"] == "failed"
    # keys sort API_KEY, DB_PASSWORD, PEM, QUOTED: access denied stops the run
    assert outcome["API_KEY"] == outcome["DB_PASSWORD"] == "created"
    assert outcome["QUOTED"] == "not attempted"
    assert result.code == 1
    assert "2 created, 1 failed, 1 not attempted" in result.stderr
    client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=proxy.upstream)
    names = {s["Name"] for s in client.list_secrets()["SecretList"]}
    assert names == {"myapp/production/API_KEY", "myapp/production/DB_PASSWORD"}


def test_access_denied_before_any_write_exits_4(aws_project: KeepRunner, proxy: Proxy) -> None:  # noqa: F811
    def deny_writes(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation in ("CreateSecret", "PutSecretValue"):
            return ProxyResponse.aws_error(request, 400, "AccessDeniedException",
                                           f"User is not authorized to perform: secretsmanager:{request.operation}")
        return None

    proxy.hooks.append(deny_writes)
    result = aws_project("copy", "--only=*", "--from=ssm:staging", "--to=secretsmanager:production")
    assert result.code == 4, result.stderr
    outcome = report(result.stderr)
    assert outcome["API_KEY"] == "failed"
    assert {outcome[k] for k in ("DB_PASSWORD", "PEM", "QUOTED")} == {"not attempted"}
    assert "1 failed, 3 not attempted" in result.stderr
