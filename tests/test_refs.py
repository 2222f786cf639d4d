"""`keep refs` (SPEC §14): references for ECS, CloudFormation and External Secrets Operator
from listing calls only. On moto over HTTP through the counting proxy, which proves that no
value-reading operation is ever called."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from keep_secrets.model import UsageError
from keep_secrets.services import references
from keep_secrets.vaults.base import Reference
from tests.aws.proxy import Proxy

from .conftest import KeepRunner
from .export_support import seed

pytestmark = pytest.mark.aws

VALUE_READS = {"GetSecretValue", "BatchGetSecretValue", "GetParameter", "GetParameters", "GetParametersByPath",
               "GetParameterHistory", "ListSecretVersionIds"}
SSM = {f"SSM_{i:02d}": f"fake-ssm-value-{i:02d}" for i in range(23)}  # several DescribeParameters pages
SM = {"DB_PASSWORD": "fake-db-password", "API_KEY": "fake-api-key-0123"}
SM_ARN = re.compile(r"arn:aws:secretsmanager:us-east-1:\d{12}:secret:myapp/production/(\w+)-\w{6}")
SSM_ARN = re.compile(r"arn:aws:ssm:us-east-1:\d{12}:parameter/myapp/production/(\w+)")


@pytest.fixture
def aws(kp: KeepRunner, counted: Proxy) -> KeepRunner:
    for driver in ("ssm", "secretsmanager"):
        kp.ok("vault:add", "--driver", driver, "--slug", driver, "--region", "us-east-1",
              "--endpoint-url", counted.url, "--no-verify", "-n")
    seed(kp, "production", SSM, vault="ssm")
    seed(kp, "production", {"PLAIN": "fake-plain-value"}, vault="local")  # never listed by refs on ssm
    seed(kp, "production", SM, vault="secretsmanager")
    seed(kp, "staging", {"OTHER_STAGE": "fake-other"}, vault="secretsmanager")
    counted.reset_counts()
    return kp


def _no_value_read(proxy: Proxy) -> None:
    read = {op: n for op, n in proxy.counts.items() if op in VALUE_READS}
    assert read == {}, f"refs read values: {read}"


def test_ecs_secrets_manager_arns_from_list_secrets_only(aws: KeepRunner, counted: Proxy) -> None:
    result = aws.ok("refs", "--stage=production", "--vault=secretsmanager", "--format=ecs")
    entries = result.json()
    assert isinstance(entries, list)
    assert [e["name"] for e in entries] == ["API_KEY", "DB_PASSWORD"]
    for entry in entries:
        match = SM_ARN.fullmatch(entry["valueFrom"])
        assert match and match.group(1) == entry["name"]
    _no_value_read(counted)
    assert set(counted.counts) == {"ListSecrets"}
    counted.reset_counts()
    mixed = aws("refs", "--stage=production", "--vault=secretsmanager,local", "--format=ecs")
    assert mixed.code == 2 and "no remote references" in mixed.stderr
    assert sum(counted.counts.values()) == 0  # refused before any call
    for value in SM.values():
        assert value not in result.stdout + result.stderr


def test_ecs_ssm_arns_without_reading_parameters(aws: KeepRunner, counted: Proxy) -> None:
    result = aws.ok("refs", "--stage=production", "--vault=ssm", "--format=ecs")
    entries = result.json()
    assert isinstance(entries, list)
    assert [e["name"] for e in entries] == sorted(SSM)
    for entry in entries:
        match = SSM_ARN.fullmatch(entry["valueFrom"])
        assert match and match.group(1) == entry["name"]
    _no_value_read(counted)
    # paged (AWS gives up to 50 per page, moto 10): every key above came through the NextTokens
    assert 1 <= counted.counts["DescribeParameters"] <= 3
    # moto's DescribeParameters has no ARN field (AWS has): one GetCallerIdentity, no permission needed
    assert counted.counts["GetCallerIdentity"] <= 1
    assert set(counted.counts) <= {"DescribeParameters", "GetCallerIdentity"}


def test_cloudformation_dynamic_references(aws: KeepRunner, counted: Proxy) -> None:
    sm = aws.ok("refs", "--stage=production", "--vault=secretsmanager", "--format=cloudformation").json()
    assert isinstance(sm, dict) and set(sm) == set(SM)
    for key, ref in sm.items():
        match = re.fullmatch(r"\{\{resolve:secretsmanager:(.+):SecretString\}\}", ref)
        assert match and SM_ARN.fullmatch(match.group(1)) and key in match.group(1)
    ssm = aws.ok("refs", "--stage=production", "--vault=ssm", "--format=cloudformation", "--only=SSM_0*").json()
    assert ssm == {k: f"{{{{resolve:ssm-secure:/myapp/production/{k}}}}}" for k in SSM if k.startswith("SSM_0")}
    _no_value_read(counted)


def test_external_secrets_manifest(aws: KeepRunner, counted: Proxy) -> None:
    result = aws.ok("refs", "--stage=production", "--vault=secretsmanager", "--format=external-secrets",
                    "--store=aws-sm", "--store-kind=ClusterSecretStore")
    manifest = yaml.safe_load(result.stdout)
    assert manifest["apiVersion"] == "external-secrets.io/v1"
    assert manifest["kind"] == "ExternalSecret"
    assert manifest["metadata"]["name"] == "myapp-production"
    assert manifest["spec"]["secretStoreRef"] == {"name": "aws-sm", "kind": "ClusterSecretStore"}
    assert manifest["spec"]["target"]["name"] == "myapp-production"
    assert manifest["spec"]["data"] == [
        {"secretKey": "API_KEY", "remoteRef": {"key": "myapp/production/API_KEY"}},
        {"secretKey": "DB_PASSWORD", "remoteRef": {"key": "myapp/production/DB_PASSWORD"}},
    ]
    ssm = yaml.safe_load(aws.ok("refs", "--stage=production", "--vault=ssm", "--format=external-secrets",
                                "--store=ps", "--only=SSM_00", "--name=My_App").stdout)
    assert ssm["metadata"]["name"] == "my-app"
    assert ssm["spec"]["data"] == [{"secretKey": "SSM_00", "remoteRef": {"key": "/myapp/production/SSM_00"}}]
    missing = aws("refs", "--stage=production", "--vault=secretsmanager", "--format=external-secrets")
    assert missing.code == 2 and "--store" in missing.stderr and missing.stdout == ""
    mixed = aws("refs", "--stage=production", "--vault=ssm,secretsmanager", "--format=external-secrets",
                "--store=x")
    assert mixed.code == 2 and "one store" in mixed.stderr
    assert aws("refs", "--stage=production", "--vault=ssm", "--store=x").code == 2  # --store without ESO
    _no_value_read(counted)


def test_json_lists_both_vaults(aws: KeepRunner, counted: Proxy) -> None:
    rows = aws.ok("refs", "--stage=production", "--vault=ssm,secretsmanager", "--format=json", "--only=DB_*,SSM_01"
                  ).json()
    assert isinstance(rows, list)
    assert [(r["key"], r["vault"], r["service"], r["name"]) for r in rows] == [
        ("DB_PASSWORD", "secretsmanager", "secretsmanager", "myapp/production/DB_PASSWORD"),
        ("SSM_01", "ssm", "ssm", "/myapp/production/SSM_01"),
    ]
    assert all(r["arn"].startswith("arn:aws:") and r["stage"] == "production" for r in rows)
    _no_value_read(counted)


def test_local_vault_has_no_remote_references(kp: KeepRunner) -> None:
    seed(kp, "staging", {"A": "fake-a-value"})
    result = kp("refs", "--stage=staging", "--format=ecs")
    assert result.code == 2 and result.stdout == ""
    assert "no remote references" in result.stderr and "Traceback" not in result.stderr


def test_refs_help(kp: KeepRunner) -> None:
    out = " ".join(kp.ok("refs", "--help").stdout.split())
    assert "without reading any value" in out and "--store" in out


# -- rendering of driver-supplied references (e.g. an OpenBao KV path) ------------------------

BAO = Reference(key="DB_PASSWORD", vault="bao", stage="prod", service="openbao", name="myapp/prod/DB_PASSWORD",
                extra={"property": "value"}, addresses={"external-secrets": "myapp/prod/DB_PASSWORD"})


def test_openbao_reference_in_an_external_secret() -> None:
    manifest = yaml.safe_load(references.render([BAO], "external-secrets", name="x", store="vault-backend"))
    assert manifest["spec"]["data"] == [
        {"secretKey": "DB_PASSWORD", "remoteRef": {"key": "myapp/prod/DB_PASSWORD", "property": "value"}}]


@pytest.mark.parametrize("fmt", ["ecs", "cloudformation"])
def test_openbao_reference_refused_where_the_format_has_none(fmt: str) -> None:
    with pytest.raises(UsageError, match="cannot reference secrets of vault 'bao'"):
        references.render([BAO], fmt)
    assert json.loads(references.render([BAO], "json"))[0]["extra"] == {"property": "value"}


def test_plain_ssm_parameter_uses_the_ssm_resolver(aws: KeepRunner, counted: Proxy) -> None:
    aws.ok("set", "PLAIN_ONE", "fake-plain-one", "--plain", "--stage=production", "--vault=ssm")
    counted.reset_counts()
    cfn = aws.ok("refs", "--stage=production", "--vault=ssm", "--format=cloudformation",
                 "--only=PLAIN_ONE,SSM_00").json()
    assert cfn == {"PLAIN_ONE": "{{resolve:ssm:/myapp/production/PLAIN_ONE}}",
                   "SSM_00": "{{resolve:ssm-secure:/myapp/production/SSM_00}}"}
    _no_value_read(counted)


def test_formats_come_from_the_reference_not_from_a_store_name() -> None:
    """A store keep has never heard of is addressed in exactly the formats its driver names."""
    ecs_only = Reference(key="TOKEN", vault="mine", stage="s", service="mystore", name="s/TOKEN",
                         arn="arn:aws:mystore:::s/TOKEN", addresses={"ecs": "arn:aws:mystore:::s/TOKEN"})
    assert json.loads(references.render([ecs_only], "ecs")) == [
        {"name": "TOKEN", "valueFrom": "arn:aws:mystore:::s/TOKEN"}]
    for fmt in ("cloudformation", "external-secrets"):
        with pytest.raises(UsageError, match=r"cannot reference secrets of vault 'mine' \(mystore\)") as info:
            references.render([ecs_only], fmt, store="x")
        assert info.value.hint == "formats for it: ecs, json"
    assert json.loads(references.render([ecs_only], "json"))[0]["service"] == "mystore"
    none = Reference(key="TOKEN", vault="mine", stage="s", service="mystore", name="s/TOKEN")
    with pytest.raises(UsageError) as info:
        references.render([none], "ecs")
    assert info.value.hint == "formats for it: json"


# -- OpenBao end to end (real `bao` dev server) ---------------------------------------------

def test_openbao_refs_end_to_end(bao_project: KeepRunner) -> None:
    seed(bao_project, "staging", {"API_KEY": "fake-bao-api-key"}, vault="bao")
    manifest = yaml.safe_load(bao_project.ok(
        "refs", "--stage=staging", "--vault=bao", "--format=external-secrets", "--store=vault-backend").stdout)
    assert manifest["spec"]["data"] == [
        {"secretKey": "API_KEY", "remoteRef": {"key": "myapp/staging/API_KEY", "property": "value"}}]
    ecs = bao_project("refs", "--stage=staging", "--vault=bao", "--format=ecs")
    assert ecs.code == 2 and ecs.stdout == "" and "cannot reference secrets of vault 'bao'" in ecs.stderr
    assert "fake-bao-api-key" not in ecs.stderr


def test_ecs_refuses_a_key_that_is_no_variable_name() -> None:
    bad = Reference(key="my-key", vault="sm", stage="s", service="secretsmanager", name="n/s/my-key",
                    arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:n/s/my-key-AbCdEf",
                    addresses={"ecs": "arn:aws:secretsmanager:us-east-1:123456789012:secret:n/s/my-key-AbCdEf",
                               "cloudformation": "{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:"
                                                 "123456789012:secret:n/s/my-key-AbCdEf:SecretString}}"})
    with pytest.raises(UsageError, match="not an environment variable name") as info:
        references.render([bad], "ecs")
    assert "--except" in (info.value.hint or "")
    assert json.loads(references.render([bad], "cloudformation"))["my-key"].startswith("{{resolve:secretsmanager:")
