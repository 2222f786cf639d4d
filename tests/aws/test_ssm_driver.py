"""The SSM Parameter Store driver on moto's server over HTTP, through the counting proxy."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from keep_secrets.model import AccessDenied, NotFound, UsageError
from keep_secrets.vaults.ssm import SsmVault
from tests.aws.conftest import REGION
from tests.aws.proxy import Proxy, ProxyRequest, ProxyResponse

MakeSsm = Callable[..., SsmVault]


def sent(proxy: Proxy, operation: str) -> list[dict[str, Any]]:
    return [r.json for r in proxy.requests if r.operation == operation]


def ssm_client(endpoint: str) -> Any:
    return boto3.client("ssm", endpoint_url=endpoint, region_name=REGION)


def test_set_is_one_put_parameter(proxy: Proxy, make_ssm: MakeSsm) -> None:
    vault = make_ssm(proxy.url)
    first = vault.set("production", "DB_PASSWORD", "fake-db-pass-123")
    second = vault.set("production", "DB_PASSWORD", "fake-db-pass-456")
    assert (first.revision, first.created) == ("1", True)
    assert (second.revision, second.created) == ("2", False)
    assert proxy.counts == {"PutParameter": 2}
    assert sent(proxy, "PutParameter")[0] == {
        "Name": "/myapp/production/DB_PASSWORD",
        "Value": "fake-db-pass-123",
        "Type": "SecureString",
        "Overwrite": True,
        "Tier": "Standard",
    }


def test_kms_key_only_for_secure_strings(proxy: Proxy, make_ssm: MakeSsm) -> None:
    vault = make_ssm(proxy.url, key="alias/aws/ssm", scope="app2", tier="Advanced")
    vault.set("staging", "SECRET", "fake-secret")
    vault.set("staging", "PLAIN", "fake-plain", secure=False)
    secure, plain = sent(proxy, "PutParameter")
    assert secure["KeyId"] == "alias/aws/ssm" and secure["Type"] == "SecureString"
    assert secure["Name"] == "/myapp/app2/staging/SECRET" and secure["Tier"] == "Advanced"
    assert "KeyId" not in plain and plain["Type"] == "String"
    assert vault.get("staging", "PLAIN").secure is False
    assert vault.get("staging", "SECRET").secure is True


@pytest.mark.parametrize(
    ("tier", "limit"), [("Standard", 4096), ("Advanced", 8192), ("Intelligent-Tiering", 8192)]
)
def test_size_limit_is_checked_before_any_call(proxy: Proxy, make_ssm: MakeSsm, tier: str, limit: int) -> None:
    vault = make_ssm(proxy.url, tier=tier)
    with pytest.raises(UsageError) as caught:
        vault.set("staging", "BIG", "x" * (limit + 1))
    assert str(limit) in caught.value.message
    assert caught.value.hint and ("Advanced" in caught.value.hint or "Secrets Manager" in caught.value.hint)
    with pytest.raises(UsageError):
        vault.set("staging", "MULTIBYTE", "é" * (limit // 2 + 1))  # bytes count, not characters
    with pytest.raises(UsageError, match="empty"):
        vault.set("staging", "EMPTY", "")
    assert proxy.total == 0
    assert vault.set("staging", "FITS", "y" * limit).created is True


def test_list_pages_of_ten(proxy: Proxy, make_ssm: MakeSsm) -> None:
    client = ssm_client(proxy.url)
    for i in range(45):
        client.put_parameter(Name=f"/myapp/staging/KEY_{i:03d}", Value=f"fake-{i}", Type="SecureString")
    vault = make_ssm(proxy.url)
    proxy.reset_counts()
    listed = vault.list("staging")
    assert [s.key for s in listed] == [f"KEY_{i:03d}" for i in range(45)]
    assert [s.value for s in listed] == [f"fake-{i}" for i in range(45)]
    assert proxy.counts == {"GetParametersByPath": math.ceil(45 / 10)}
    request = sent(proxy, "GetParametersByPath")[0]
    assert request == {"Path": "/myapp/staging", "Recursive": True, "WithDecryption": True, "MaxResults": 10}


def test_isolation_between_namespaces_stages_and_scopes(proxy: Proxy, make_ssm: MakeSsm) -> None:
    vault = make_ssm(proxy.url)
    vault.set("staging", "MINE", "fake-mine")
    vault.set("production", "PROD", "fake-prod")
    make_ssm(proxy.url, namespace="otherapp").set("staging", "THEIRS", "fake-theirs")
    make_ssm(proxy.url, scope="app2").set("staging", "SCOPED", "fake-scoped")
    ssm_client(proxy.url).put_parameter(Name="/myapp/stagingx/LOOKALIKE", Value="fake-look", Type="String")
    assert [s.key for s in vault.list("staging")] == ["MINE"]
    assert [s.path for s in vault.list("staging")] == ["/myapp/staging/MINE"]


def test_history_all_pages_newest_first_and_rollback(proxy: Proxy, make_ssm: MakeSsm) -> None:
    vault = make_ssm(proxy.url)
    for i in range(1, 56):
        vault.set("staging", "LONG", f"fake-{i}")
    proxy.reset_counts()
    history = vault.history("staging", "LONG")
    assert [v.version for v in history] == [str(i) for i in range(55, 0, -1)]
    assert history[0].value == "fake-55" and history[0].current
    assert not any(v.current for v in history[1:])
    assert proxy.counts["GetParameterHistory"] == 2  # 50 per page
    assert [v.value for v in vault.history("staging", "LONG", limit=3)] == ["fake-55", "fake-54", "fake-53"]
    result = vault.rollback("staging", "LONG", "2")
    assert (result.revision, result.created) == ("56", False)
    assert vault.get("staging", "LONG").value == "fake-2"
    assert vault.get("staging", "LONG", "55").value == "fake-55"
    with pytest.raises(NotFound, match="Version 999"):
        vault.rollback("staging", "LONG", "999")


def test_not_found_names_the_full_parameter(proxy: Proxy, make_ssm: MakeSsm) -> None:
    vault = make_ssm(proxy.url, scope="app2")
    with pytest.raises(NotFound) as caught:
        vault.get("staging", "MISSING")
    assert "/myapp/app2/staging/MISSING" in caught.value.message
    assert caught.value.hint and "keep show" in caught.value.hint
    with pytest.raises(NotFound):
        vault.delete("staging", "MISSING")
    with pytest.raises(NotFound):
        vault.history("staging", "MISSING")


def test_access_denied_names_action_and_resource(proxy: Proxy, make_ssm: MakeSsm) -> None:
    def deny(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation == "GetParametersByPath":
            return ProxyResponse.aws_error(
                request, 400, "AccessDeniedException",
                "User: arn:aws:iam::123456789012:user/fake is not authorized to perform: ssm:GetParametersByPath",
            )
        return None

    proxy.hooks.append(deny)
    with pytest.raises(AccessDenied) as caught:
        make_ssm(proxy.url).list("production")
    assert caught.value.exit_code == 4
    assert caught.value.message.startswith("Access denied: GetParametersByPath on /myapp/production")


def test_throttling_is_absorbed(proxy: Proxy, make_ssm: MakeSsm) -> None:
    vault = make_ssm(proxy.url)
    for i in range(12):
        vault.set("staging", f"K{i:02d}", f"fake-{i}")
    proxy.throttle_rate = 0.3
    assert [s.value for s in vault.list("staging")] == [f"fake-{i}" for i in range(12)]
    assert vault.set("staging", "K00", "fake-new").revision == "2"
    assert proxy.injected["throttle"] > 0


@pytest.mark.parametrize(
    ("code", "status"),
    [("ExpiredTokenException", 400), ("UnrecognizedClientException", 400), ("InvalidClientTokenId", 403)],
)
def test_bad_credentials_suggest_sso_login(proxy: Proxy, make_ssm: MakeSsm, code: str, status: int) -> None:
    proxy.hooks.append(lambda request: ProxyResponse.aws_error(request, status, code, "The security token is bad"))
    with pytest.raises(AccessDenied) as caught:
        make_ssm(proxy.url).get("staging", "ANY")
    assert caught.value.exit_code == 4
    assert code in caught.value.message
    assert caught.value.hint and "aws sso login" in caught.value.hint
