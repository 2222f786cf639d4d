"""A faithful boto3 re-enactment of the PHP tool Keep's AWS calls (keep-php-behaviour.md
§4.1-§4.3), so keep's access pattern can be compared with Keep's on the same server.

Nothing here is "keep": it is what Keep does, call for call, sequentially (Keep has no
concurrency), with Keep's page sizes. Values are turned into keep's Secret rows and rendered
with keep's own env renderer, so both sides pay the same local CPU and only the access
pattern differs. The "floor" functions make only the calls no client can avoid, one after
the other, with no processing: the listing's sequential pages plus one round trip for values.
"""

from __future__ import annotations

from typing import Any

from keep_secrets.formats.render import render
from keep_secrets.model import Secret

SM_PAGE = 20  # Keep: ListSecrets MaxResults=20, then one BatchGetSecretValue per page
SSM_PAGE = 10  # Keep: GetParametersByPath MaxResults=10


def sm_tag_filters(namespace: str, stage: str, stage_tag: str = "Stage") -> list[dict[str, Any]]:
    return [
        {"Key": "tag-key", "Values": ["ManagedBy"]},
        {"Key": "tag-value", "Values": ["Keep"]},
        {"Key": "tag-key", "Values": ["Namespace"]},
        {"Key": "tag-value", "Values": [namespace]},
        {"Key": "tag-key", "Values": [stage_tag]},
        {"Key": "tag-value", "Values": [stage]},
    ]


def sm_list(client: Any, namespace: str, stage: str, vault: str = "sm") -> list[Secret]:
    """Keep's SecretsManagerVault::list(): ListSecrets(20) -> BatchGetSecretValue(page ARNs),
    one page after the other, per-secret batch errors ignored."""
    base = f"{namespace}/{stage}"
    params: dict[str, Any] = {
        "MaxResults": SM_PAGE,
        "IncludePlannedDeletion": False,
        "Filters": sm_tag_filters(namespace, stage),
    }
    secrets: list[Secret] = []
    while True:
        page = client.list_secrets(**params)
        entries = page.get("SecretList", [])
        if not entries:
            break
        batch = client.batch_get_secret_value(SecretIdList=[e["ARN"] for e in entries])
        for item in batch.get("SecretValues", []):
            name = str(item.get("Name", ""))
            if not name.startswith(base + "/"):
                continue
            key = name[len(base) + 1 :]
            if key:
                secrets.append(
                    Secret(key, str(item.get("SecretString", "")), str(item.get("VersionId", "")),
                           item.get("CreatedDate"), vault, stage, True, name)
                )
        token = page.get("NextToken")
        if not token:
            break
        params["NextToken"] = token
    secrets.sort(key=lambda s: s.key)
    return secrets


def sm_export(client: Any, namespace: str, stage: str) -> str:
    return render("env", sm_list(client, namespace, stage))


def sm_set(client: Any, namespace: str, stage: str, key: str, value: str, slug: str = "sm") -> None:
    """Keep's set() on an existing secret: has() = a full list, then PutSecretValue +
    TagResource, then get() to return the stored secret: 2*ceil(N/20) + 3 calls."""
    name = f"{namespace}/{stage}/{key}"
    exists = any(s.path == name for s in sm_list(client, namespace, stage, slug))
    tags = [
        {"Key": "ManagedBy", "Value": "Keep"},
        {"Key": "Namespace", "Value": namespace},
        {"Key": "Stage", "Value": stage},
        {"Key": "VaultSlug", "Value": slug},
    ]
    if exists:
        client.put_secret_value(SecretId=name, SecretString=value)
        client.tag_resource(SecretId=name, Tags=tags)
    else:
        client.create_secret(Name=name, SecretString=value, Tags=tags,
                             Description=f"Keep secret: {key} for {stage} environment in {slug} vault")
    client.get_secret_value(SecretId=name)


def sm_floor(client: Any, namespace: str, stage: str) -> int:
    """The round-trip floor of any Secrets Manager listing (SPEC §12): the ceil(N/100)
    ListSecrets pages, one after the other (each needs the previous page's token), plus one
    round trip for values (a BatchGetSecretValue of 20 ids); no processing. Returns the number
    of values read."""
    params: dict[str, Any] = {"MaxResults": 100, "Filters": [{"Key": "name", "Values": [f"{namespace}/{stage}/"]}]}
    while True:
        page = client.list_secrets(**params)
        arns = [e["ARN"] for e in page.get("SecretList", [])]
        token = page.get("NextToken")
        if not token:
            break
        params["NextToken"] = token
    return len(client.batch_get_secret_value(SecretIdList=arns[:20]).get("SecretValues", []))


def ssm_list(client: Any, namespace: str, stage: str, vault: str = "ssm") -> list[Secret]:
    """Keep's SsmVault::list(): GetParametersByPath(Recursive, WithDecryption, 10) pages."""
    base = f"/{namespace}/{stage}"
    params: dict[str, Any] = {"Path": base, "Recursive": True, "WithDecryption": True, "MaxResults": SSM_PAGE}
    secrets: list[Secret] = []
    while True:
        page = client.get_parameters_by_path(**params)
        for param in page.get("Parameters", []):
            name = str(param["Name"])
            key = name.replace(base, "").strip("/")
            secrets.append(
                Secret(key, str(param.get("Value", "")), str(param.get("Version", "")),
                       param.get("LastModifiedDate"), vault, stage, param.get("Type") == "SecureString", name)
            )
        token = page.get("NextToken")
        if not token:
            break
        params["NextToken"] = token
    secrets.sort(key=lambda s: s.key)
    return secrets


def ssm_export(client: Any, namespace: str, stage: str) -> str:
    return render("env", ssm_list(client, namespace, stage))


def ssm_set(client: Any, namespace: str, stage: str, key: str, value: str) -> None:
    """Keep's SSM set(): PutParameter then GetParameter (2 calls)."""
    name = f"/{namespace}/{stage}/{key}"
    client.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
    client.get_parameter(Name=name, WithDecryption=True)


def ssm_floor(client: Any, namespace: str, stage: str) -> int:
    """The round-trip floor of any SSM listing (SPEC §12): the ceil(N/50) DescribeParameters
    pages (names only, one after the other: each needs the previous page's token), plus one
    round trip for values (a GetParameters of 10 names); no processing. Returns the number of
    values read."""
    params: dict[str, Any] = {
        "ParameterFilters": [{"Key": "Path", "Option": "Recursive", "Values": [f"/{namespace}/{stage}"]}],
        "MaxResults": 50,
    }
    while True:
        page = client.describe_parameters(**params)
        names = [p["Name"] for p in page.get("Parameters", [])]
        token = page.get("NextToken")
        if not token:
            break
        params["NextToken"] = token
    return len(client.get_parameters(Names=names[:10], WithDecryption=True).get("Parameters", []))
