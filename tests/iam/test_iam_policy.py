"""`keep iam`: the generated policies (checked with the evaluator) and the command's output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keep_secrets.project import VaultConfig
from keep_secrets.services.iam import PolicyRequest, build_policy, ssm_resources

from ..conftest import KeepRunner
from .evaluator import evaluate, tag_context

STAGES = ["local", "staging", "production"]
ACCOUNT = "123456789012"


def sm_vault(**options: Any) -> VaultConfig:
    return VaultConfig(slug="secretsmanager", driver="secretsmanager", name="SM",
                       options={"region": "us-east-1", **options})


def ssm_vault(**options: Any) -> VaultConfig:
    scope = options.pop("scope", "")
    return VaultConfig(slug="ssm", driver="ssm", name="SSM", scope=scope, options={"region": "us-east-1", **options})


def policy(vaults: list[VaultConfig], stages: list[str] | None = None, *, read_only: bool = False) -> dict[str, Any]:
    return build_policy(PolicyRequest("myapp", vaults, stages or STAGES, limit_stages=stages is not None,
                                      read_only=read_only))


def by_sid(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in doc["Statement"]}


def secret_arn(stage: str, key: str = "DB_PASSWORD") -> str:
    return f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:myapp/{stage}/{key}-AbCdEf"


def param_arn(path: str) -> str:
    return f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter{path}"


def sm_tags(stage: str, namespace: str = "myapp", stage_tag: str = "Stage") -> dict[str, str]:
    return {"ManagedBy": "Keep", "Namespace": namespace, stage_tag: stage, "VaultSlug": "secretsmanager"}


def sm_allows(doc: dict[str, Any], action: str, stage: str, namespace: str = "myapp") -> bool:
    """What AWS checks for one Secrets Manager action keep makes on a secret of `stage`."""
    if action == "secretsmanager:CreateSecret":
        request = tag_context("secretsmanager", request_tags=sm_tags(stage, namespace))
        created = tag_context("secretsmanager", resource_tags=sm_tags(stage, namespace),
                              request_tags=sm_tags(stage, namespace))
        return bool(evaluate(doc, action, "*", request)) and bool(
            evaluate(doc, "secretsmanager:TagResource", secret_arn(stage), created))
    context = tag_context("secretsmanager", resource_tags=sm_tags(stage, namespace))
    return bool(evaluate(doc, action, secret_arn(stage), context))


SM_READS = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:ListSecretVersionIds"]
SM_WRITES = ["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret",
             "secretsmanager:RestoreSecret", "secretsmanager:UpdateSecretVersionStage"]
SSM_READS = ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParameterHistory"]
SSM_WRITES = ["ssm:PutParameter", "ssm:DeleteParameter"]


# -- Secrets Manager --------------------------------------------------------------------------

def test_secretsmanager_full_access_follows_the_seed_shape() -> None:
    doc = policy([sm_vault()])
    assert doc["Version"] == "2012-10-17"
    sids = by_sid(doc)
    assert list(sids) == ["KeepSecretsManagerReadWrite", "KeepSecretsManagerCreate",
                          "KeepSecretsManagerTagOnCreate", "KeepSecretsManagerList", "KeepSecretsManagerKms"]
    assert sids["KeepSecretsManagerReadWrite"]["Condition"] == {"StringEquals": {
        "secretsmanager:ResourceTag/ManagedBy": "Keep", "secretsmanager:ResourceTag/Namespace": "myapp"}}
    create = sids["KeepSecretsManagerCreate"]
    assert create["Action"] == "secretsmanager:CreateSecret"
    assert create["Condition"]["ForAllValues:StringEquals"] == {
        "aws:TagKeys": ["ManagedBy", "Namespace", "Stage", "VaultSlug"]}
    assert create["Condition"]["StringEquals"] == {"aws:RequestTag/ManagedBy": "Keep",
                                                   "aws:RequestTag/Namespace": "myapp"}
    assert sids["KeepSecretsManagerList"] == {
        "Sid": "KeepSecretsManagerList", "Effect": "Allow",
        "Action": ["secretsmanager:ListSecrets", "secretsmanager:BatchGetSecretValue"], "Resource": "*"}
    for stage in [*STAGES, "qa"]:
        for action in SM_READS + SM_WRITES:
            assert sm_allows(doc, action, stage), (action, stage)
    for action in SM_READS + SM_WRITES:
        assert not sm_allows(doc, action, "production", namespace="otherapp"), action


def test_secretsmanager_stage_limited() -> None:
    doc = policy([sm_vault()], ["staging", "production"])
    rw = by_sid(doc)["KeepSecretsManagerReadWrite"]
    assert rw["Condition"]["StringEquals"]["secretsmanager:ResourceTag/Stage"] == ["staging", "production"]
    for stage in ("staging", "production"):
        for action in SM_READS + SM_WRITES:
            assert sm_allows(doc, action, stage), (action, stage)
    for stage in ("local", "qa"):
        for action in SM_READS + SM_WRITES:
            assert not sm_allows(doc, action, stage), (action, stage)
    one = policy([sm_vault()], ["production"])
    assert by_sid(one)["KeepSecretsManagerCreate"]["Condition"]["StringEquals"][
        "aws:RequestTag/Stage"] == "production"


def test_secretsmanager_read_only() -> None:
    doc = policy([sm_vault()], ["production"], read_only=True)
    assert list(by_sid(doc)) == ["KeepSecretsManagerRead", "KeepSecretsManagerList", "KeepSecretsManagerKms"]
    for action in SM_READS:
        assert sm_allows(doc, action, "production")
        assert not sm_allows(doc, action, "staging")
    for action in SM_WRITES:
        assert not sm_allows(doc, action, "production"), action
    kms = by_sid(doc)["KeepSecretsManagerKms"]
    assert kms["Action"] == "kms:Decrypt"


def test_tag_on_create_cannot_pull_a_foreign_secret_into_the_namespace() -> None:
    doc = policy([sm_vault()])
    foreign = tag_context("secretsmanager", resource_tags={"Namespace": "otherapp", "ManagedBy": "Keep"},
                          request_tags=sm_tags("production"))
    assert not evaluate(doc, "secretsmanager:TagResource", secret_arn("production"), foreign)
    # nor add a tag key beyond the four
    extra = tag_context("secretsmanager", resource_tags=sm_tags("production"),
                        request_tags={**sm_tags("production"), "Owner": "me"})
    assert not evaluate(doc, "secretsmanager:TagResource", secret_arn("production"), extra)


def test_stage_tag_env_and_replicas() -> None:
    doc = policy([sm_vault(stage_tag="Env", replica_regions=["eu-west-1"])], ["production"])
    sids = by_sid(doc)
    assert "secretsmanager:ResourceTag/Env" in sids["KeepSecretsManagerReadWrite"]["Condition"]["StringEquals"]
    assert sids["KeepSecretsManagerCreate"]["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"] == [
        "ManagedBy", "Namespace", "Env", "VaultSlug"]
    assert "secretsmanager:ReplicateSecretToRegions" in sids["KeepSecretsManagerReadWrite"]["Action"]
    assert "secretsmanager:ReplicateSecretToRegions" not in by_sid(policy([sm_vault()]))[
        "KeepSecretsManagerReadWrite"]["Action"]
    kms = sids["KeepSecretsManagerKms"]
    assert kms["Condition"]["StringLike"]["kms:ViaService"] == [
        "secretsmanager.us-east-1.amazonaws.com", "secretsmanager.eu-west-1.amazonaws.com"]


def test_kms_default_key_is_matched_by_alias_and_service() -> None:
    kms = by_sid(policy([sm_vault()]))["KeepSecretsManagerKms"]
    assert kms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-0000-4000-8000-fakefakefake"
    via = {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com",
           "kms:ResourceAliases": ["alias/aws/secretsmanager"]}
    doc = {"Statement": [kms]}
    assert evaluate(doc, "kms:GenerateDataKey", key_arn, via)
    assert not evaluate(doc, "kms:GenerateDataKey", key_arn, {**via, "kms:ViaService": "s3.us-east-1.amazonaws.com"})
    assert not evaluate(doc, "kms:Decrypt", key_arn, {**via, "kms:ResourceAliases": ["alias/other"]})


@pytest.mark.parametrize(
    ("key", "resource", "alias"),
    [
        ("arn:aws:kms:us-east-1:123456789012:key/1111-fake", "arn:aws:kms:us-east-1:123456789012:key/1111-fake", None),
        ("1111-fake", "arn:aws:kms:us-east-1:*:key/1111-fake", None),
        ("alias/keep-fake", "arn:aws:kms:us-east-1:*:key/*", "alias/keep-fake"),
        ("arn:aws:kms:us-east-1:123456789012:alias/keep-fake", "arn:aws:kms:us-east-1:*:key/*", "alias/keep-fake"),
    ],
)
def test_custom_kms_key_forms(key: str, resource: str, alias: str | None) -> None:
    kms = by_sid(policy([ssm_vault(key=key)]))["KeepSsmKms"]
    assert kms["Resource"] == resource
    if alias:
        assert kms["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": alias}
    else:
        assert "ForAnyValue:StringEquals" not in kms["Condition"]
    assert kms["Condition"]["StringLike"] == {"kms:ViaService": "ssm.us-east-1.amazonaws.com"}


# -- SSM --------------------------------------------------------------------------------------

def test_ssm_resources_include_the_path_itself() -> None:
    assert ssm_resources("myapp", ssm_vault(), ["production"]) == [
        "arn:aws:ssm:us-east-1:*:parameter/myapp/production",
        "arn:aws:ssm:us-east-1:*:parameter/myapp/production/*",
    ]
    assert ssm_resources("myapp", ssm_vault(scope="app2"), ["staging"])[1] == (
        "arn:aws:ssm:us-east-1:*:parameter/myapp/app2/staging/*")
    no_region = VaultConfig(slug="ssm", driver="ssm", name="SSM")
    assert ssm_resources("myapp", no_region, ["local"])[0] == "arn:aws:ssm:*:*:parameter/myapp/local"


@pytest.mark.parametrize(
    ("stages", "allowed"), [(None, STAGES), (["staging", "production"], ["staging", "production"])]
)
def test_ssm_full_and_stage_limited(stages: list[str] | None, allowed: list[str]) -> None:
    doc = policy([ssm_vault()], stages)
    assert list(by_sid(doc)) == ["KeepSsmReadWrite", "KeepSsmList", "KeepSsmKms"]
    assert evaluate(doc, "ssm:DescribeParameters", "*")
    for stage in STAGES:
        expected = stage in allowed
        assert bool(evaluate(doc, "ssm:GetParametersByPath", param_arn(f"/myapp/{stage}"))) is expected
        for action in SSM_READS + SSM_WRITES:
            assert bool(evaluate(doc, action, param_arn(f"/myapp/{stage}/DB_PASSWORD"))) is expected, action
    assert not evaluate(doc, "ssm:GetParametersByPath", param_arn("/myapp"))
    assert not evaluate(doc, "ssm:GetParameter", param_arn("/otherapp/production/DB_PASSWORD"))
    assert not evaluate(doc, "ssm:GetParameter", param_arn("/myapp/productionx/DB_PASSWORD"))


def test_ssm_read_only() -> None:
    doc = policy([ssm_vault()], ["production"], read_only=True)
    assert list(by_sid(doc)) == ["KeepSsmRead", "KeepSsmList", "KeepSsmKms"]
    # names and versions only: DescribeParameters returns no value
    assert by_sid(doc)["KeepSsmList"] == {"Sid": "KeepSsmList", "Effect": "Allow",
                                          "Action": "ssm:DescribeParameters", "Resource": "*"}
    assert evaluate(doc, "ssm:GetParametersByPath", param_arn("/myapp/production"))
    for action in SSM_READS:
        assert evaluate(doc, action, param_arn("/myapp/production/K"))
        assert not evaluate(doc, action, param_arn("/myapp/staging/K"))
    for action in SSM_WRITES:
        assert not evaluate(doc, action, param_arn("/myapp/production/K"))
    assert by_sid(doc)["KeepSsmKms"]["Action"] == "kms:Decrypt"


def test_ssm_and_secretsmanager_together_and_two_ssm_vaults() -> None:
    doc = policy([ssm_vault(), sm_vault()])
    assert [s["Sid"] for s in doc["Statement"]][:3] == ["KeepSsmReadWrite", "KeepSsmList", "KeepSsmKms"]
    two = policy([ssm_vault(), VaultConfig(slug="ssm2", driver="ssm", name="x", scope="app2",
                                          options={"region": "eu-west-1"})], ["production"])
    resources = by_sid(two)["KeepSsmReadWrite"]["Resource"]
    assert resources == [
        "arn:aws:ssm:us-east-1:*:parameter/myapp/production",
        "arn:aws:ssm:us-east-1:*:parameter/myapp/production/*",
        "arn:aws:ssm:eu-west-1:*:parameter/myapp/app2/production",
        "arn:aws:ssm:eu-west-1:*:parameter/myapp/app2/production/*",
    ]
    assert by_sid(two)["KeepSsmKms"]["Resource"] == "arn:aws:kms:*:*:key/*"


def test_local_vaults_contribute_nothing() -> None:
    doc = policy([VaultConfig(slug="local", driver="local", name="Local"), ssm_vault()])
    assert all(s["Sid"].startswith("KeepSsm") for s in doc["Statement"])


# -- the command --------------------------------------------------------------------------------

def add_vault(project: Path, slug: str, driver: str, **fields: Any) -> None:
    data = {"slug": slug, "driver": driver, "name": slug, "scope": "", "region": "us-east-1", **fields}
    (project / ".keep" / "vaults" / f"{slug}.json").write_text(json.dumps(data))


def test_iam_command_prints_json_on_stdout_and_summary_on_stderr(kp: KeepRunner) -> None:
    add_vault(kp.cwd, "secretsmanager", "secretsmanager")
    add_vault(kp.cwd, "ssm", "ssm", key="alias/keep-fake")
    result = kp.ok("iam")
    doc = json.loads(result.stdout)
    assert doc == policy([VaultConfig.from_dict(json.loads((kp.cwd / ".keep/vaults/secretsmanager.json").read_text())),
                          VaultConfig.from_dict(json.loads((kp.cwd / ".keep/vaults/ssm.json").read_text()))])
    assert "namespace 'myapp'" in result.stderr
    assert "Stages: local, staging, production (all configured)" in result.stderr
    assert "Vault:  ssm (ssm, us-east-1)" in result.stderr
    assert "Not covered (no IAM needed): local" in result.stderr


def test_iam_command_options(kp: KeepRunner) -> None:
    add_vault(kp.cwd, "secretsmanager", "secretsmanager")
    add_vault(kp.cwd, "ssm", "ssm")
    limited = kp.ok("iam", "--stage", "staging,production").json()
    assert isinstance(limited, dict)
    rw = by_sid(limited)["KeepSecretsManagerReadWrite"]
    assert rw["Condition"]["StringEquals"]["secretsmanager:ResourceTag/Stage"] == ["staging", "production"]
    read_only = kp.ok("iam", "--read-only", "--vault", "ssm", "--stage", "production").json()
    assert isinstance(read_only, dict)
    assert [s["Sid"] for s in read_only["Statement"]] == ["KeepSsmRead", "KeepSsmList", "KeepSsmKms"]
    assert by_sid(read_only)["KeepSsmRead"]["Resource"] == [
        "arn:aws:ssm:us-east-1:*:parameter/myapp/production", "arn:aws:ssm:us-east-1:*:parameter/myapp/production/*"]
    assert kp.ok("iam", "--env", "production", "--vault", "secretsmanager").json() == policy(
        [sm_vault()], ["production"])


def test_iam_command_workspace_and_all(kp: KeepRunner) -> None:
    add_vault(kp.cwd, "secretsmanager", "secretsmanager")
    add_vault(kp.cwd, "ssm", "ssm")
    (kp.cwd / ".keep" / "local" / "workspace.json").write_text(json.dumps({"vaults": ["ssm"], "stages": []}))
    scoped = kp.ok("iam").json()
    assert isinstance(scoped, dict)
    assert {s["Sid"] for s in scoped["Statement"]} == {"KeepSsmReadWrite", "KeepSsmList", "KeepSsmKms"}
    everything = kp.ok("iam", "--all").json()
    assert isinstance(everything, dict)
    assert "KeepSecretsManagerCreate" in {s["Sid"] for s in everything["Statement"]}


def test_iam_command_errors(kp: KeepRunner) -> None:
    result = kp("iam")
    assert result.code == 2 and result.stdout == ""
    assert "only ssm and secretsmanager vaults need an IAM policy" in result.stderr
    add_vault(kp.cwd, "ssm", "ssm")
    for args, needle in [(("--stage", "stagin"), "Unknown stage 'stagin'"),
                         (("--vault", "nope"), "Unknown vault 'nope'"),
                         (("--vault", "local"), "No AWS vault selected")]:
        result = kp("iam", *args)
        assert result.code == 2, result
        assert result.stdout == ""
        assert needle in result.stderr
        assert "Traceback" not in result.stderr


def test_iam_command_notes_follow_the_secrets_manager_vaults(kp: KeepRunner) -> None:
    """The scope note (Secrets Manager grants by tags) and the Lambda note name exactly the
    vaults they concern; an SSM-only or read-only policy has neither."""
    add_vault(kp.cwd, "sm", "secretsmanager", scope="team-a")
    add_vault(kp.cwd, "ssm", "ssm", scope="team-b")
    both = kp.ok("iam").stderr
    assert "Note: the scope of sm is part of the secret names only" in both
    assert "lambda:InvokeFunction" in both
    ssm_only = kp.ok("iam", "--vault", "ssm").stderr
    assert "scope of" not in ssm_only and "lambda:InvokeFunction" not in ssm_only
    read_only = kp.ok("iam", "--vault", "sm", "--read-only").stderr
    assert "scope of sm" in read_only and "lambda:InvokeFunction" not in read_only
