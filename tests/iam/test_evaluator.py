"""Unit tests of the test-suite IAM evaluator, including the seed page's three policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .evaluator import (
    ALLOW,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    PolicyError,
    action_matches,
    evaluate,
    evaluate_all,
    resource_matches,
    tag_context,
)

POLICIES = Path(__file__).parent / "policies"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:myapp/production/DB_PASSWORD-AbCdEf"
KMS_ALIAS = "arn:aws:kms:us-east-1:123456789012:alias/aws/secretsmanager"
FOUR_KEYS = ("ManagedBy", "Namespace", "Stage", "VaultSlug")


def seed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((POLICIES / f"seed_{name}.json").read_text())
    return data


def tags(stage: str, namespace: str = "myapp", **extra: str) -> dict[str, str]:
    out = {"ManagedBy": "Keep", "Namespace": namespace, "Stage": stage, "VaultSlug": "secretsmanager"}
    out.update(extra)
    return out


def on_secret(stage: str, namespace: str = "myapp") -> dict[str, Any]:
    return dict(tag_context("secretsmanager", resource_tags=tags(stage, namespace)))


def create(stage: str, namespace: str = "myapp", **extra: str) -> dict[str, Any]:
    return dict(tag_context("secretsmanager", request_tags=tags(stage, namespace, **extra)))


def allow(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **s} for s in statements]}


# -- matching primitives ----------------------------------------------------------------------

def test_action_wildcards_are_case_insensitive() -> None:
    assert action_matches("secretsmanager:UpdateSecret*", "secretsmanager:UpdateSecretVersionStage")
    assert action_matches("secretsmanager:UpdateSecret*", "secretsmanager:UpdateSecret")
    assert action_matches("SecretsManager:getsecretvalue", "secretsmanager:GetSecretValue")
    assert action_matches("ssm:Get?arameter", "ssm:GetParameter")
    assert not action_matches("ssm:GetParameter", "ssm:GetParameters")
    assert not action_matches("secretsmanager:UpdateSecret", "secretsmanager:UpdateSecretVersionStage")
    assert action_matches("*", "kms:Decrypt")


def test_resource_wildcards_stay_in_their_segment() -> None:
    assert resource_matches("*", SECRET)
    assert resource_matches("arn:aws:ssm:*:*:parameter/myapp/production/*",
                            "arn:aws:ssm:us-east-1:123456789012:parameter/myapp/production/DB")
    # the path ARN itself (what GetParametersByPath is authorised against) is not under `/*`
    assert not resource_matches("arn:aws:ssm:*:*:parameter/myapp/production/*",
                                "arn:aws:ssm:us-east-1:123456789012:parameter/myapp/production")
    assert resource_matches("arn:aws:ssm:*:*:parameter/myapp/production",
                            "arn:aws:ssm:us-east-1:123456789012:parameter/myapp/production")
    # `*` in the region segment cannot swallow the account and service
    assert not resource_matches("arn:aws:*:parameter/x", "arn:aws:ssm:us-east-1:1:parameter/x")
    # resource names are case-sensitive
    assert not resource_matches("arn:aws:ssm:*:*:parameter/MyApp/*", "arn:aws:ssm:r:1:parameter/myapp/K")
    # `*` inside the resource part spans `/` and `:`
    assert resource_matches("arn:aws:kms:*:*:alias/aws/*", KMS_ALIAS)


# -- effects ----------------------------------------------------------------------------------

def test_no_statement_matching_is_an_implicit_deny() -> None:
    policy = allow({"Action": "ssm:GetParameter", "Resource": "*"})
    assert evaluate(policy, "ssm:PutParameter", "*").effect == IMPLICIT_DENY
    assert not evaluate(policy, "ssm:PutParameter", "*")


def test_explicit_deny_wins_over_allow() -> None:
    policy = {
        "Statement": [
            {"Sid": "All", "Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
            {"Sid": "NoProd", "Effect": "Deny", "Action": "ssm:PutParameter",
             "Resource": "arn:aws:ssm:*:*:parameter/myapp/production/*"},
        ]
    }
    prod = "arn:aws:ssm:us-east-1:1:parameter/myapp/production/K"
    decision = evaluate(policy, "ssm:PutParameter", prod)
    assert decision.effect == EXPLICIT_DENY and decision.matched == ("NoProd",)
    assert evaluate(policy, "ssm:PutParameter", "arn:aws:ssm:us-east-1:1:parameter/myapp/staging/K").effect == ALLOW
    assert evaluate(policy, "ssm:GetParameter", prod).matched == ("All",)


def test_not_action_and_not_resource() -> None:
    policy = allow({"NotAction": ["ssm:Delete*"], "NotResource": "arn:aws:ssm:*:*:parameter/secret/*"})
    assert evaluate(policy, "ssm:GetParameter", "arn:aws:ssm:r:1:parameter/app/K")
    assert not evaluate(policy, "ssm:DeleteParameter", "arn:aws:ssm:r:1:parameter/app/K")
    assert not evaluate(policy, "ssm:GetParameter", "arn:aws:ssm:r:1:parameter/secret/K")


def test_single_statement_object_is_accepted() -> None:
    policy = {"Statement": {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}}
    assert evaluate(policy, "kms:Decrypt", "*")


def test_several_policies_are_a_union_and_deny_still_wins() -> None:
    read = allow({"Action": "ssm:GetParameter", "Resource": "*"})
    write = allow({"Action": "ssm:PutParameter", "Resource": "*"})
    deny = {"Statement": [{"Effect": "Deny", "Action": "ssm:PutParameter", "Resource": "*"}]}
    assert evaluate_all([read, write], "ssm:PutParameter", "*")
    assert not evaluate_all([read, write, deny], "ssm:PutParameter", "*")


@pytest.mark.parametrize(
    "bad",
    [
        {"Statement": [{"Effect": "Permit", "Action": "*", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "x", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                        "Condition": {"NumericLessThan": {"aws:x": "1"}}}]},
        {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                        "Condition": {"ForSomeValues:StringEquals": {"aws:x": "1"}}}]},
        {"Version": "2012-10-17"},
        {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:ssm:*:*:parameter/${aws:username}/*"}]},
        {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]},
    ],
)
def test_policies_it_does_not_understand_are_errors_not_allows(bad: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        evaluate(bad, "ssm:GetParameter", "*", {"aws:x": "1"})


# -- conditions -------------------------------------------------------------------------------

def cond(condition: dict[str, Any]) -> dict[str, Any]:
    return allow({"Action": "*", "Resource": "*", "Condition": condition})


def test_string_equals_values_are_ored_and_keys_anded() -> None:
    policy = cond({"StringEquals": {"aws:ResourceTag/Stage": ["staging", "production"],
                                    "aws:ResourceTag/Namespace": "myapp"}})
    assert evaluate(policy, "a:b", "*", {"aws:ResourceTag/Stage": "staging", "aws:ResourceTag/Namespace": "myapp"})
    assert not evaluate(policy, "a:b", "*", {"aws:ResourceTag/Stage": "local", "aws:ResourceTag/Namespace": "myapp"})
    assert not evaluate(policy, "a:b", "*", {"aws:ResourceTag/Stage": "staging", "aws:ResourceTag/Namespace": "other"})
    assert not evaluate(policy, "a:b", "*", {"aws:ResourceTag/Stage": "staging"})


def test_string_equals_is_case_sensitive_on_values_not_on_key_names() -> None:
    policy = cond({"StringEquals": {"aws:RequestTag/Namespace": "myapp"}})
    assert evaluate(policy, "a:b", "*", {"AWS:requesttag/namespace": "myapp"})
    assert not evaluate(policy, "a:b", "*", {"aws:RequestTag/Namespace": "MyApp"})
    ignore = cond({"StringEqualsIgnoreCase": {"aws:RequestTag/Namespace": "myapp"}})
    assert evaluate(ignore, "a:b", "*", {"aws:RequestTag/Namespace": "MyApp"})


def test_missing_key_fails_positive_operators_and_passes_negated_ones() -> None:
    assert not evaluate(cond({"StringEquals": {"aws:ResourceTag/Stage": "x"}}), "a:b", "*", {})
    assert not evaluate(cond({"StringLike": {"aws:ResourceTag/Stage": "*"}}), "a:b", "*", {})
    assert evaluate(cond({"StringNotEquals": {"aws:ResourceTag/Stage": "x"}}), "a:b", "*", {})
    assert evaluate(cond({"StringEqualsIfExists": {"aws:ResourceTag/Stage": "x"}}), "a:b", "*", {})
    assert not evaluate(cond({"StringEqualsIfExists": {"aws:ResourceTag/Stage": "x"}}), "a:b", "*",
                        {"aws:ResourceTag/Stage": "y"})


def test_string_like_and_not_like() -> None:
    like = cond({"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}})
    assert evaluate(like, "kms:Decrypt", "*", {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"})
    assert not evaluate(like, "kms:Decrypt", "*", {"kms:ViaService": "ssm.us-east-1.amazonaws.com"})
    not_like = cond({"StringNotLike": {"aws:ResourceTag/Stage": ["prod*", "live"]}})
    assert evaluate(not_like, "a:b", "*", {"aws:ResourceTag/Stage": "staging"})
    assert not evaluate(not_like, "a:b", "*", {"aws:ResourceTag/Stage": "production"})
    assert not evaluate(not_like, "a:b", "*", {"aws:ResourceTag/Stage": "live"})


def test_for_all_values_is_a_subset_test_and_vacuous_when_absent() -> None:
    policy = cond({"ForAllValues:StringEquals": {"aws:TagKeys": list(FOUR_KEYS)}})
    assert evaluate(policy, "a:b", "*", {"aws:TagKeys": ["ManagedBy", "Namespace"]})
    assert evaluate(policy, "a:b", "*", {"aws:TagKeys": list(FOUR_KEYS)})
    assert not evaluate(policy, "a:b", "*", {"aws:TagKeys": [*FOUR_KEYS, "Owner"]})
    assert evaluate(policy, "a:b", "*", {})
    assert evaluate(policy, "a:b", "*", {"aws:TagKeys": []})
    negated = cond({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["Owner"]}})
    assert evaluate(negated, "a:b", "*", {"aws:TagKeys": ["ManagedBy"]})
    assert not evaluate(negated, "a:b", "*", {"aws:TagKeys": ["ManagedBy", "Owner"]})


def test_for_any_value_needs_one_match_and_fails_when_absent() -> None:
    policy = cond({"ForAnyValue:StringEquals": {"aws:ResourceTag/Stage": ["staging", "production"]}})
    assert evaluate(policy, "a:b", "*", {"aws:ResourceTag/Stage": "production"})
    assert evaluate(policy, "a:b", "*", {"aws:ResourceTag/Stage": ["local", "staging"]})
    assert not evaluate(policy, "a:b", "*", {"aws:ResourceTag/Stage": "local"})
    assert not evaluate(policy, "a:b", "*", {})
    negated = cond({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["ManagedBy"]}})
    assert evaluate(negated, "a:b", "*", {"aws:TagKeys": ["ManagedBy", "Owner"]})
    assert not evaluate(negated, "a:b", "*", {"aws:TagKeys": ["ManagedBy"]})


def test_null_and_bool() -> None:
    must_have = cond({"Null": {"aws:RequestTag/Stage": "false"}})
    assert evaluate(must_have, "a:b", "*", {"aws:RequestTag/Stage": "x"})
    assert not evaluate(must_have, "a:b", "*", {})
    must_lack = cond({"Null": {"aws:RequestTag/Stage": "true"}})
    assert evaluate(must_lack, "a:b", "*", {})
    assert not evaluate(must_lack, "a:b", "*", {"aws:RequestTag/Stage": "x"})
    secure = cond({"Bool": {"aws:SecureTransport": "true"}})
    assert evaluate(secure, "a:b", "*", {"aws:SecureTransport": "true"})
    assert evaluate(secure, "a:b", "*", {"aws:SecureTransport": "TRUE"})
    assert not evaluate(secure, "a:b", "*", {"aws:SecureTransport": "false"})
    assert not evaluate(secure, "a:b", "*", {})
    assert evaluate(cond({"Bool": {"aws:SecureTransport": True}}), "a:b", "*", {"aws:SecureTransport": "true"})


def test_arn_like() -> None:
    policy = cond({"ArnLike": {"aws:SourceArn": "arn:aws:lambda:*:*:function:rotate-*"}})
    assert evaluate(policy, "a:b", "*", {"aws:SourceArn": "arn:aws:lambda:us-east-1:1:function:rotate-db"})
    assert not evaluate(policy, "a:b", "*", {"aws:SourceArn": "arn:aws:lambda:us-east-1:1:function:other"})


def test_tag_context_exposes_both_resource_tag_spellings() -> None:
    context = tag_context("secretsmanager", resource_tags={"Stage": "local"}, request_tags={"Owner": "x"})
    assert context["aws:ResourceTag/Stage"] == "local"
    assert context["secretsmanager:ResourceTag/Stage"] == "local"
    assert context["aws:RequestTag/Owner"] == "x"
    assert context["aws:TagKeys"] == ["Owner"]
    assert tag_context("secretsmanager", tag_keys=["A"])["aws:TagKeys"] == ["A"]


# -- the seed page's policies ----------------------------------------------------------------

READ_WRITE = [
    "secretsmanager:GetSecretValue",
    "secretsmanager:DescribeSecret",
    "secretsmanager:ListSecretVersionIds",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
    "secretsmanager:DeleteSecret",
    "secretsmanager:RestoreSecret",
    "secretsmanager:TagResource",
]


def test_seed_full_developer_access() -> None:
    policy = seed("full_developer")
    for stage in ("local", "staging", "production", "qa"):
        for action in READ_WRITE:
            assert evaluate(policy, action, SECRET, on_secret(stage)), (action, stage)
        assert evaluate(policy, "secretsmanager:CreateSecret", "*", create(stage))
    # UpdateSecret* also covers rollback's UpdateSecretVersionStage
    assert evaluate(policy, "secretsmanager:UpdateSecretVersionStage", SECRET, on_secret("local")).matched == (
        "ReadWriteMyAppSecrets",
    )
    for action in ("secretsmanager:ListSecrets", "secretsmanager:BatchGetSecretValue"):
        assert evaluate(policy, action, "*").matched == ("ListSecretsAccountWide",)
    # another namespace's secrets, and untagged ones, are out of reach
    assert not evaluate(policy, "secretsmanager:GetSecretValue", SECRET, on_secret("production", "other"))
    assert not evaluate(policy, "secretsmanager:GetSecretValue", SECRET, {})
    assert not evaluate(policy, "secretsmanager:CreateSecret", "*", create("local", "other"))
    # creating with a tag key outside the four is refused; creating untagged is refused
    assert not evaluate(policy, "secretsmanager:CreateSecret", "*", create("local", Owner="me"))
    assert not evaluate(policy, "secretsmanager:CreateSecret", "*", {})
    # actions it does not grant
    assert not evaluate(policy, "secretsmanager:DeleteResourcePolicy", SECRET, on_secret("local"))
    assert not evaluate(policy, "secretsmanager:RotateSecret", SECRET, on_secret("local"))
    # KMS: the alias ARN of the AWS-managed key, in any region and account
    for action in ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"):
        assert evaluate(policy, action, KMS_ALIAS)
    assert not evaluate(policy, "kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-fake")


def test_seed_environment_specific_access() -> None:
    policy = seed("environment_specific")
    for stage in ("staging", "production"):
        for action in READ_WRITE:
            assert evaluate(policy, action, SECRET, on_secret(stage)), (action, stage)
        assert evaluate(policy, "secretsmanager:CreateSecret", "*", create(stage))
    for action in READ_WRITE:
        assert not evaluate(policy, action, SECRET, on_secret("local")), action
    assert not evaluate(policy, "secretsmanager:CreateSecret", "*", create("local"))
    # ManagedBy=Keep is required on both the secret and the request
    unmanaged = on_secret("staging")
    unmanaged["secretsmanager:ResourceTag/ManagedBy"] = "Terraform"
    assert not evaluate(policy, "secretsmanager:GetSecretValue", SECRET, unmanaged)
    request = create("staging")
    del request["aws:RequestTag/ManagedBy"]
    request["aws:TagKeys"] = ["Namespace", "Stage", "VaultSlug"]
    assert not evaluate(policy, "secretsmanager:CreateSecret", "*", request)
    assert not evaluate(policy, "secretsmanager:CreateSecret", "*", create("staging", Owner="me"))
    # it names UpdateSecret exactly (no wildcard), but lists UpdateSecretVersionStage itself
    assert evaluate(policy, "secretsmanager:UpdateSecret", SECRET, on_secret("staging"))
    assert not evaluate(policy, "secretsmanager:UpdateSecretRotation", SECRET, on_secret("staging"))
    assert evaluate(policy, "secretsmanager:ListSecrets", "*")


def test_seed_production_read_only() -> None:
    policy = seed("production_readonly")
    for action in ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"):
        assert evaluate(policy, action, SECRET, on_secret("production"))
        assert not evaluate(policy, action, SECRET, on_secret("staging"))
        assert not evaluate(policy, action, SECRET, on_secret("production", "other"))
    for action in ("secretsmanager:PutSecretValue", "secretsmanager:DeleteSecret",
                   "secretsmanager:ListSecretVersionIds", "secretsmanager:UpdateSecretVersionStage",
                   "secretsmanager:TagResource"):
        assert not evaluate(policy, action, SECRET, on_secret("production")), action
    assert not evaluate(policy, "secretsmanager:CreateSecret", "*", create("production"))
    assert evaluate(policy, "secretsmanager:BatchGetSecretValue", "*")
    assert evaluate(policy, "kms:Decrypt", KMS_ALIAS)
    assert not evaluate(policy, "kms:GenerateDataKey", KMS_ALIAS)
    assert not evaluate(policy, "kms:Encrypt", KMS_ALIAS)


def test_seed_policies_are_stored_word_for_word() -> None:
    reference = Path("/work/shared/reference/seed-aws-secrets-manager.md")
    if not reference.exists():
        pytest.skip("the shared reference page is not on this machine")
    import re

    blocks = re.findall(r"```json\n(.*?)```", reference.read_text(), re.S)
    stored = [(POLICIES / f"seed_{n}.json").read_text()
              for n in ("full_developer", "environment_specific", "production_readonly")]
    assert blocks == stored
