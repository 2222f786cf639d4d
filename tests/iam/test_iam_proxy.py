"""The IAM emulation hook itself, driven with boto3 through the proxy (moto behind it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from keep_secrets.project import VaultConfig
from keep_secrets.services.iam import PolicyRequest, build_policy
from tests.aws.iam_proxy import IamEmulator
from tests.aws.proxy import Proxy

pytestmark = pytest.mark.aws

REGION = "us-east-1"
SEEDS = Path(__file__).parent / "policies"
TAGS = [{"Key": "ManagedBy", "Value": "Keep"}, {"Key": "Namespace", "Value": "myapp"},
        {"Key": "Stage", "Value": "production"}, {"Key": "VaultSlug", "Value": "secretsmanager"}]


def seed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SEEDS / f"seed_{name}.json").read_text())
    return data


def tags(stage: str) -> list[dict[str, str]]:
    return [t if t["Key"] != "Stage" else {"Key": "Stage", "Value": stage} for t in TAGS]


@pytest.fixture
def iam(moto: str) -> Iterator[IamEmulator]:
    proxy = Proxy(moto).start()
    try:
        yield IamEmulator(moto).attach(proxy)
    finally:
        proxy.stop()


def client(service: str, url: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name=REGION,
                        config=Config(retries={"mode": "standard", "max_attempts": 1}))


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_no_policy_means_no_iam(iam: IamEmulator) -> None:
    sm = client("secretsmanager", iam.url)
    sm.create_secret(Name="anything/at/all", SecretString="fake-1")
    assert sm.get_secret_value(SecretId="anything/at/all")["SecretString"] == "fake-1"
    assert iam.decisions == []


def test_denial_is_a_real_access_denied_exception(iam: IamEmulator, moto: str) -> None:
    client("secretsmanager", moto).create_secret(Name="myapp/staging/K", SecretString="fake-1", Tags=tags("staging"))
    iam.policy = seed("production_readonly")
    sm = client("secretsmanager", iam.url)
    with pytest.raises(ClientError) as denied:
        sm.get_secret_value(SecretId="myapp/staging/K")
    assert code_of(denied) == "AccessDeniedException"
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = denied.value.response["Error"]["Message"]
    assert message.startswith("User: arn:aws:iam::123456789012:user/keep-test is not authorized to perform: "
                              "secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:"
                              "123456789012:secret:myapp/staging/K-")
    assert message.endswith("because no identity-based policy allows the secretsmanager:GetSecretValue action")
    [record] = iam.decisions
    assert (record.operation, record.effect, record.exists) == ("GetSecretValue", "ImplicitDeny", True)


def test_explicit_deny_message(iam: IamEmulator, moto: str) -> None:
    client("secretsmanager", moto).create_secret(Name="myapp/production/K", SecretString="fake-1",
                                                 Tags=tags("production"))
    deny = {"Statement": [{"Effect": "Deny", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
    iam.policy = [seed("full_developer"), deny]
    with pytest.raises(ClientError) as denied:
        client("secretsmanager", iam.url).get_secret_value(SecretId="myapp/production/K")
    assert "with an explicit deny in an identity-based policy" in denied.value.response["Error"]["Message"]


def test_missing_secret_under_tag_conditions_is_denied_not_missing(iam: IamEmulator) -> None:
    iam.policy = seed("full_developer")
    with pytest.raises(ClientError) as denied:
        client("secretsmanager", iam.url).put_secret_value(SecretId="myapp/local/NEW", SecretString="fake-1")
    assert code_of(denied) == "AccessDeniedException"
    assert "on resource: myapp/local/NEW because" in denied.value.response["Error"]["Message"]
    assert iam.denied()[0].exists is False
    # without IAM moto answers what it knows
    iam.policy = None
    with pytest.raises(ClientError) as missing:
        client("secretsmanager", iam.url).put_secret_value(SecretId="myapp/local/NEW", SecretString="fake-1")
    assert code_of(missing) == "ResourceNotFoundException"


def test_create_secret_request_tags_and_tag_keys(iam: IamEmulator) -> None:
    iam.policy = seed("environment_specific")
    sm = client("secretsmanager", iam.url)
    sm.create_secret(Name="myapp/staging/OK", SecretString="fake-1", Tags=tags("staging"))
    for name, request_tags in [
        ("myapp/local/NO", tags("local")),
        ("myapp/staging/EXTRA", [*tags("staging"), {"Key": "Owner", "Value": "me"}]),
        ("myapp/staging/UNTAGGED", []),
    ]:
        with pytest.raises(ClientError) as denied:
            sm.create_secret(Name=name, SecretString="fake-1", Tags=request_tags)
        assert code_of(denied) == "AccessDeniedException", name
    assert iam.actions() == ["secretsmanager:CreateSecret", "secretsmanager:TagResource",
                             "secretsmanager:CreateSecret", "secretsmanager:CreateSecret",
                             "secretsmanager:CreateSecret"]


def test_tagging_on_create_needs_tag_resource(iam: IamEmulator) -> None:
    no_tagging = seed("full_developer")
    no_tagging["Statement"][0]["Action"].remove("secretsmanager:TagResource")
    iam.policy = no_tagging
    with pytest.raises(ClientError) as denied:
        client("secretsmanager", iam.url).create_secret(Name="myapp/local/K", SecretString="fake-1",
                                                        Tags=tags("local"))
    assert "secretsmanager:TagResource" in denied.value.response["Error"]["Message"]


def test_batch_get_moves_denied_secrets_to_errors(iam: IamEmulator, moto: str) -> None:
    direct = client("secretsmanager", moto)
    arns = {stage: direct.create_secret(Name=f"myapp/{stage}/K", SecretString=f"fake-{stage}",
                                        Tags=tags(stage))["ARN"] for stage in ("staging", "production")}
    iam.policy = seed("production_readonly")
    response = client("secretsmanager", iam.url).batch_get_secret_value(SecretIdList=list(arns.values()))
    assert [v["Name"] for v in response["SecretValues"]] == ["myapp/production/K"]
    [error] = response["Errors"]
    assert error["SecretId"] == arns["staging"] and error["ErrorCode"] == "AccessDeniedException"
    assert "secretsmanager:GetSecretValue" in error["Message"]
    # with no BatchGetSecretValue grant the whole call is refused
    iam.policy = {"Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
    with pytest.raises(ClientError) as denied:
        client("secretsmanager", iam.url).batch_get_secret_value(SecretIdList=list(arns.values()))
    assert code_of(denied) == "AccessDeniedException"


def test_ssm_path_arn_is_what_get_parameters_by_path_needs(iam: IamEmulator, moto: str) -> None:
    client("ssm", moto).put_parameter(Name="/myapp/production/K", Value="fake-1", Type="SecureString")
    # PHP Keep's per-env policy: only `/*` below the path (its bug 58)
    iam.policy = {"Statement": [{"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParametersByPath"],
                                 "Resource": "arn:aws:ssm:*:*:parameter/myapp/production/*"}]}
    ssm = client("ssm", iam.url)
    assert ssm.get_parameter(Name="/myapp/production/K", WithDecryption=True)["Parameter"]["Value"] == "fake-1"
    assert ssm.get_parameter(Name="/myapp/production/K:1", WithDecryption=True)["Parameter"]["Value"] == "fake-1"
    with pytest.raises(ClientError) as denied:
        ssm.get_parameters_by_path(Path="/myapp/production", Recursive=True)
    assert code_of(denied) == "AccessDeniedException"
    assert "parameter/myapp/production because" in denied.value.response["Error"]["Message"]
    vault = VaultConfig(slug="ssm", driver="ssm", name="ssm", options={"region": REGION})
    iam.policy = build_policy(PolicyRequest("myapp", [vault], ["production"], limit_stages=True))
    assert [p["Name"] for p in ssm.get_parameters_by_path(Path="/myapp/production", Recursive=True)["Parameters"]] == [
        "/myapp/production/K"]
    with pytest.raises(ClientError):
        ssm.get_parameters_by_path(Path="/myapp/staging", Recursive=True)


@pytest.fixture
def customer_key(moto: str) -> str:
    kms = client("kms", moto)
    key_id = str(kms.create_key(Description="keep test key")["KeyMetadata"]["KeyId"])
    kms.create_alias(AliasName="alias/keep-fake", TargetKeyId=key_id)
    return key_id


@pytest.mark.parametrize("driver", ["secretsmanager", "ssm"])
def test_customer_managed_key_needs_its_kms_grant(iam: IamEmulator, customer_key: str, driver: str) -> None:
    vault = VaultConfig(slug=driver, driver=driver, name=driver, options={"region": REGION, "key": "alias/keep-fake"})
    policy = build_policy(PolicyRequest("myapp", [vault], ["production"], limit_stages=True))
    without_kms = {"Statement": [s for s in policy["Statement"] if "Kms" not in s["Sid"]]}

    def write(name: str) -> None:
        if driver == "secretsmanager":
            client(driver, iam.url).create_secret(Name=f"myapp/production/{name}", SecretString="fake-1",
                                                  KmsKeyId="alias/keep-fake", Tags=TAGS)
        else:
            client(driver, iam.url).put_parameter(Name=f"/myapp/production/{name}", Value="fake-1",
                                                  Type="SecureString", KeyId="alias/keep-fake")

    def read(name: str) -> str:
        if driver == "secretsmanager":
            return str(client(driver, iam.url).get_secret_value(SecretId=f"myapp/production/{name}")["SecretString"])
        return str(client(driver, iam.url).get_parameter(Name=f"/myapp/production/{name}",
                                                         WithDecryption=True)["Parameter"]["Value"])

    iam.policy = without_kms
    with pytest.raises(ClientError) as denied:
        write("A")
    assert "kms:" in denied.value.response["Error"]["Message"]
    assert f"key/{customer_key}" in denied.value.response["Error"]["Message"]

    iam.reset()
    iam.policy = policy
    write("B")
    assert read("B") == "fake-1"
    kms_checks = [d for d in iam.decisions if d.action.startswith("kms:")]
    assert kms_checks and all(d.allowed and d.resource.endswith(customer_key) for d in kms_checks)

    iam.policy = without_kms
    with pytest.raises(ClientError) as denied:
        read("B")
    assert "kms:Decrypt" in denied.value.response["Error"]["Message"]

    read_only = build_policy(PolicyRequest("myapp", [vault], ["production"], limit_stages=True, read_only=True))
    iam.policy = read_only
    assert read("B") == "fake-1"
    with pytest.raises(ClientError):
        write("C")
