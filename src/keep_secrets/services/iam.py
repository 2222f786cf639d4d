"""Least-privilege IAM policies for keep's AWS vaults (SPEC §9). Pure: no AWS calls.

Shapes follow the seed page's documented policies, with the corrections PHP Keep needed
(its §12.6):

* Secrets Manager access is granted by **tags**, not names: read/write actions require the
  secret's `ManagedBy=Keep` and `Namespace` tags (and its stage tag when stages are limited);
  `CreateSecret` requires the same values as request tags and allows no tag keys beyond the
  four keep writes (`ForAllValues:StringEquals aws:TagKeys`). `ListSecrets` and
  `BatchGetSecretValue` are account-wide (AWS cannot scope them), which is safe because
  `BatchGetSecretValue` still needs `GetSecretValue` on every secret it returns.
* Tagging on create: AWS also checks `secretsmanager:TagResource` when `CreateSecret` carries
  tags. It is granted in its own statement that requires keep's tag values on both the secret
  and the request, so it can never move a foreign secret into the namespace.
* SSM access is granted by parameter ARN per stage: the stage path itself (what
  `GetParametersByPath` is authorised against) and everything below it. `ssm:DescribeParameters`
  (the listing's names and versions, never values) cannot be scoped to a path, so it is
  granted on `*` in its own statement; values still need `ssm:GetParameters` on the stage's
  parameters. Without it keep lists with `GetParametersByPath` instead (slower, same output).
* KMS: a key ARN is used as the resource; an alias (including the AWS-managed
  `alias/aws/secretsmanager` / `alias/aws/ssm`) becomes `kms:ResourceAliases`, because IAM
  evaluates key ARNs and an alias ARN as a resource grants nothing. Every KMS grant is limited
  to use through the vault's service (`kms:ViaService`).
* Single values are emitted as strings, several as lists (what the IAM console writes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..project import VaultConfig

AWS_DRIVERS = ("ssm", "secretsmanager")
POLICY_VERSION = "2012-10-17"

SSM_READ_ACTIONS = (
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
)
SSM_LIST_ACTION = "ssm:DescribeParameters"  # names and versions only; AWS allows no resource but *
SSM_WRITE_ACTIONS = (
    "ssm:PutParameter",
    "ssm:DeleteParameter",
)

SM_READ_ACTIONS = (
    "secretsmanager:GetSecretValue",
    "secretsmanager:DescribeSecret",
    "secretsmanager:ListSecretVersionIds",
)
SM_WRITE_ACTIONS = (
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
    "secretsmanager:DeleteSecret",
    "secretsmanager:RestoreSecret",
    "secretsmanager:RotateSecret",
)
SM_REPLICA_ACTIONS = (
    "secretsmanager:ReplicateSecretToRegions",
    "secretsmanager:RemoveRegionsFromReplication",
)
SM_ACCOUNT_WIDE_ACTIONS = (
    "secretsmanager:ListSecrets",
    "secretsmanager:BatchGetSecretValue",
)
SM_CREATE_ACTION = "secretsmanager:CreateSecret"
SM_TAG_ACTION = "secretsmanager:TagResource"

KMS_READ_ACTIONS = ("kms:Decrypt",)
# SSM encrypts Standard parameters with Encrypt and Advanced ones with GenerateDataKey;
# Secrets Manager uses GenerateDataKey (+ Decrypt) for every new version.
KMS_WRITE_ACTIONS = {
    "ssm": ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"),
    "secretsmanager": ("kms:Decrypt", "kms:GenerateDataKey"),
}
DEFAULT_KEYS = {"ssm": "alias/aws/ssm", "secretsmanager": "alias/aws/secretsmanager"}

@dataclass(frozen=True)
class PolicyRequest:
    """What to generate: the namespace, the AWS vaults and stages, and the scenario."""

    namespace: str
    vaults: Sequence[VaultConfig]
    stages: Sequence[str]
    #: add the stage tag condition to Secrets Manager statements (stages chosen with --stage);
    #: SSM resources are always per stage
    limit_stages: bool = False
    read_only: bool = False


def is_aws(config: VaultConfig) -> bool:
    """The vault's policy is this module's IAM document (not its driver's `access_policy`)."""
    return config.driver in AWS_DRIVERS


def scopes_granted_by_tags(vaults: Sequence[VaultConfig]) -> list[str]:
    """The vaults whose scope the policy cannot narrow: Secrets Manager grants by tags, and
    the scope is only part of the secret names."""
    return [c.slug for c in vaults if c.driver == "secretsmanager" and c.scope]


def rotates_with_lambda(vaults: Sequence[VaultConfig]) -> bool:
    """A vault whose driver rotates through a Lambda (capability `lambda_rotation`): that
    also needs lambda:InvokeFunction on the function."""
    from ..vaults import registry

    return any(registry.get(c.driver).capabilities.lambda_rotation for c in vaults)


def _one_or_many(values: Iterable[str]) -> str | list[str]:
    unique = list(dict.fromkeys(values))
    return unique[0] if len(unique) == 1 else unique


def _region(config: VaultConfig) -> str:
    return str(config.get("region") or "*")


def _sid(base: str, index: int) -> str:
    return base if index == 0 else f"{base}{index + 1}"


def ssm_resources(namespace: str, config: VaultConfig, stages: Sequence[str]) -> list[str]:
    """Both the stage path (for GetParametersByPath) and every parameter below it."""
    prefix = f"arn:aws:ssm:{_region(config)}:*:parameter/{namespace}"
    if config.scope:
        prefix += f"/{config.scope}"
    out: list[str] = []
    for stage in stages:
        out += [f"{prefix}/{stage}", f"{prefix}/{stage}/*"]
    return out


def _kms_statement(sid: str, driver: str, key: str, regions: Sequence[str], read_only: bool) -> dict[str, Any]:
    actions = KMS_READ_ACTIONS if read_only else KMS_WRITE_ACTIONS[driver]
    via = [f"{driver}.{region}.amazonaws.com" for region in regions]  # each driver is named as its service
    region_part = _one_or_many(regions) if len(set(regions)) == 1 else "*"
    condition: dict[str, Any] = {"StringLike": {"kms:ViaService": _one_or_many(via)}}
    if key.startswith("arn:aws:kms:") and ":key/" in key:
        resource: str | list[str] = key
    elif key.startswith("alias/") or (key.startswith("arn:aws:kms:") and ":alias/" in key):
        alias = "alias/" + key.split(":alias/", 1)[1] if key.startswith("arn:") else key
        resource = f"arn:aws:kms:{region_part}:*:key/*"
        condition["ForAnyValue:StringEquals"] = {"kms:ResourceAliases": alias}
    else:
        resource = f"arn:aws:kms:{region_part}:*:key/{key}"
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": _one_or_many(actions),
        "Resource": resource,
        "Condition": condition,
    }


def _kms_statements(base_sid: str, driver: str, vaults: Sequence[VaultConfig], read_only: bool) -> list[dict[str, Any]]:
    by_key: dict[str, list[str]] = {}
    for config in vaults:
        key = str(config.get("key") or DEFAULT_KEYS[driver])
        by_key.setdefault(key, []).append(_region(config))
        for replica in config.get("replica_regions") or []:
            by_key[key].append(str(replica))
    statements = []
    for index, (key, regions) in enumerate(by_key.items()):
        unique = list(dict.fromkeys(regions))
        if "*" in unique:
            unique = ["*"]
        statements.append(_kms_statement(_sid(base_sid, index), driver, key, unique, read_only))
    return statements


def _ssm_statements(request: PolicyRequest, vaults: Sequence[VaultConfig]) -> list[dict[str, Any]]:
    resources: list[str] = []
    for config in vaults:
        resources += ssm_resources(request.namespace, config, request.stages)
    actions = SSM_READ_ACTIONS if request.read_only else SSM_READ_ACTIONS + SSM_WRITE_ACTIONS
    access = {
        "Sid": "KeepSsmRead" if request.read_only else "KeepSsmReadWrite",
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": _one_or_many(resources),
    }
    listing = {"Sid": "KeepSsmList", "Effect": "Allow", "Action": SSM_LIST_ACTION, "Resource": "*"}
    return [access, listing, *_kms_statements("KeepSsmKms", "ssm", vaults, request.read_only)]


def _sm_statements(request: PolicyRequest, vaults: Sequence[VaultConfig]) -> list[dict[str, Any]]:
    stage_tags = list(dict.fromkeys(str(c.get("stage_tag") or "Stage") for c in vaults))
    statements: list[dict[str, Any]] = []
    for index, stage_tag in enumerate(stage_tags):
        group = [c for c in vaults if str(c.get("stage_tag") or "Stage") == stage_tag]
        resource_tags: dict[str, Any] = {
            "secretsmanager:ResourceTag/ManagedBy": "Keep",
            "secretsmanager:ResourceTag/Namespace": request.namespace,
        }
        request_tags: dict[str, Any] = {
            "aws:RequestTag/ManagedBy": "Keep",
            "aws:RequestTag/Namespace": request.namespace,
        }
        if request.limit_stages:
            resource_tags[f"secretsmanager:ResourceTag/{stage_tag}"] = _one_or_many(request.stages)
            request_tags[f"aws:RequestTag/{stage_tag}"] = _one_or_many(request.stages)
        actions = list(SM_READ_ACTIONS)
        if not request.read_only:
            actions += SM_WRITE_ACTIONS
            if any(c.get("replica_regions") for c in group):
                actions += SM_REPLICA_ACTIONS
        statements.append({
            "Sid": _sid("KeepSecretsManagerRead" if request.read_only else "KeepSecretsManagerReadWrite", index),
            "Effect": "Allow",
            "Action": actions,
            "Resource": "*",
            "Condition": {"StringEquals": resource_tags},
        })
        if request.read_only:
            continue
        tag_keys = {"ForAllValues:StringEquals": {"aws:TagKeys": ["ManagedBy", "Namespace", stage_tag, "VaultSlug"]}}
        statements.append({
            "Sid": _sid("KeepSecretsManagerCreate", index),
            "Effect": "Allow",
            "Action": SM_CREATE_ACTION,
            "Resource": "*",
            "Condition": {"StringEquals": dict(request_tags), **tag_keys},
        })
        statements.append({
            "Sid": _sid("KeepSecretsManagerTagOnCreate", index),
            "Effect": "Allow",
            "Action": SM_TAG_ACTION,
            "Resource": "*",
            "Condition": {"StringEquals": {**resource_tags, **request_tags}, **tag_keys},
        })
    statements.append({
        "Sid": "KeepSecretsManagerList",
        "Effect": "Allow",
        "Action": list(SM_ACCOUNT_WIDE_ACTIONS),
        "Resource": "*",
    })
    statements += _kms_statements("KeepSecretsManagerKms", "secretsmanager", vaults, request.read_only)
    return statements


def build_policy(request: PolicyRequest) -> dict[str, Any]:
    """The policy document for the request's AWS vaults (other drivers need no IAM)."""
    ssm = [c for c in request.vaults if c.driver == "ssm"]
    sm = [c for c in request.vaults if c.driver == "secretsmanager"]
    statements: list[dict[str, Any]] = []
    if ssm:
        statements += _ssm_statements(request, ssm)
    if sm:
        statements += _sm_statements(request, sm)
    return {"Version": POLICY_VERSION, "Statement": statements}
