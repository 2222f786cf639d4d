"""The SSM Parameter Store driver on moto's server over HTTP, through the counting proxy."""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keep_secrets.model import AccessDenied, NotFound, UsageError
from keep_secrets.vaults.ssm import SsmVault
from tests.aws.conftest import REGION, list_with_slow_next_pages
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


def put_many(endpoint: str, stage: str, count: int, prefix: str = "KEY_") -> None:
    client = ssm_client(endpoint)
    for i in range(count):
        client.put_parameter(Name=f"/myapp/{stage}/{prefix}{i:03d}", Value=f"fake-{i}", Type="SecureString")


def deny(*operations: str) -> Callable[[ProxyRequest], ProxyResponse | None]:
    def hook(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation in operations:
            return ProxyResponse.aws_error(
                request, 400, "AccessDeniedException",
                f"User: arn:aws:iam::123456789012:user/fake is not authorized to perform: ssm:{request.operation}",
            )
        return None

    return hook


@pytest.mark.parametrize("count", [0, 7, 45, 120])
def test_list_describes_50_names_per_page_and_reads_10_values_per_call(
    proxy: Proxy, make_ssm: MakeSsm, count: int
) -> None:
    put_many(proxy.url, "staging", count)
    vault = make_ssm(proxy.url)
    proxy.reset_counts()
    listed = vault.list("staging")
    assert [s.key for s in listed] == [f"KEY_{i:03d}" for i in range(count)]
    assert [s.value for s in listed] == [f"fake-{i}" for i in range(count)]
    expected = {"DescribeParameters": max(1, math.ceil(count / 50))}
    if count:
        expected["GetParameters"] = math.ceil(count / 10)
    assert proxy.counts == expected
    describe = sent(proxy, "DescribeParameters")[0]
    assert describe == {"ParameterFilters": [{"Key": "Path", "Option": "Recursive", "Values": ["/myapp/staging"]}],
                        "MaxResults": 50}
    batches = sent(proxy, "GetParameters")
    assert all(b["WithDecryption"] is True and 1 <= len(b["Names"]) <= 10 for b in batches)
    assert sorted(n for b in batches for n in b["Names"]) == [f"/myapp/staging/KEY_{i:03d}" for i in range(count)]


def test_value_reads_start_while_names_are_still_being_listed(proxy: Proxy, make_ssm: MakeSsm) -> None:
    """Every later DescribeParameters page is answered only once a GetParameters call has
    arrived (or after 10 s, recorded as a failure): a listing that read values after the last
    page would fail the assertion (ordering, not timing). The next page's request may arrive
    before the first value read; it must not be answered before one."""
    put_many(proxy.url, "staging", 120)
    first_values = threading.Event()
    answered_after_a_read: list[bool] = []

    def hold(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation == "GetParameters":
            first_values.set()
        elif request.operation == "DescribeParameters" and "NextToken" in (request.json or {}):
            answered_after_a_read.append(first_values.wait(timeout=10))
        return None

    proxy.hooks.append(hold)
    proxy.reset_counts()
    assert len(make_ssm(proxy.url).list("staging")) == 120
    assert answered_after_a_read == [True, True]


def test_list_pages_give_keys_and_versions_without_values(proxy: Proxy, make_ssm: MakeSsm) -> None:
    """What a cache needs before deciding which values to fetch: the listing alone."""
    put_many(proxy.url, "staging", 55)
    vault = make_ssm(proxy.url)
    vault.set("staging", "KEY_003", "fake-changed")
    proxy.reset_counts()
    pages = list(vault.list_pages("staging"))
    assert [len(page) for page in pages] == [50, 5]
    assert proxy.counts == {"DescribeParameters": 2}
    listed = {item.key: item.version for page in pages for item in page}
    assert listed == {s.key: s.revision for s in vault.list("staging")}
    assert listed["KEY_003"] == "2"


def test_value_reads_overlap_up_to_keep_max_concurrency(
    proxy: Proxy, make_ssm: MakeSsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.inflight import InFlight

    put_many(proxy.url, "staging", 50)
    monkeypatch.setenv("KEEP_MAX_CONCURRENCY", "3")
    # each GetParameters held until 3 are in flight together: counted, not timed
    gauge = InFlight(3, hold=0.05)
    proxy.hooks.append(lambda request: gauge(request) if request.operation == "GetParameters" else None)
    assert len(make_ssm(proxy.url).list("staging")) == 50
    # five batches of one page: they overlap, but never beyond the limit
    assert gauge.reached.is_set(), f"never 3 GetParameters in flight at once (peak {gauge.peak})"
    assert gauge.peak == 3 and gauge.calls == 5


def test_describe_denied_falls_back_to_pages_by_path_once_per_process(proxy: Proxy, make_ssm: MakeSsm) -> None:
    put_many(proxy.url, "staging", 25)
    put_many(proxy.url, "production", 3, prefix="PROD_")
    ssm_client(proxy.url).put_parameter(Name="/myapp/staging/nested/DEEP", Value="fake-deep", Type="String")
    allowed = make_ssm(proxy.url).list("staging")
    proxy.hooks.append(deny("DescribeParameters"))
    proxy.reset_counts()
    vault = make_ssm(proxy.url)
    assert vault.list("staging") == allowed
    assert proxy.counts == {"DescribeParameters": 1, "GetParametersByPath": 3}
    proxy.reset_counts()
    assert [s.key for s in vault.list("production")] == ["PROD_000", "PROD_001", "PROD_002"]
    assert [s.key for s in make_ssm(proxy.url).list("staging")] == [s.key for s in allowed]
    # the denial is remembered for the process: no second DescribeParameters
    assert proxy.counts == {"GetParametersByPath": 1 + 3}


def test_get_parameters_denied_falls_back_too(proxy: Proxy, make_ssm: MakeSsm) -> None:
    put_many(proxy.url, "staging", 12)
    allowed = make_ssm(proxy.url).list("staging")
    proxy.hooks.append(deny("GetParameters"))
    proxy.reset_counts()
    assert make_ssm(proxy.url).list("staging") == allowed
    assert proxy.counts["GetParametersByPath"] == 2


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    keys=st.lists(
        st.from_regex(r"[A-Z][A-Z0-9_]{0,8}(/[A-Z][A-Z0-9_]{0,5})?", fullmatch=True), min_size=0, max_size=70,
        unique=True,
    ),
    plain=st.sets(st.integers(0, 69)),
)
def test_fallback_listing_is_identical(proxy: Proxy, make_ssm: MakeSsm, keys: list[str], plain: set[int]) -> None:
    """Whatever the stage holds (nested keys, plain Strings, page boundaries), the pipelined
    listing and the GetParametersByPath fallback return the same secrets."""
    stage = f"prop{uuid.uuid4().hex[:8]}"
    client = ssm_client(proxy.url)
    for i, key in enumerate(keys):
        client.put_parameter(Name=f"/myapp/{stage}/{key}", Value=f"fake-{i}",
                             Type="String" if i in plain else "SecureString")
    client.put_parameter(Name=f"/myapp/{stage}x/OUTSIDE", Value="fake-outside", Type="String")
    vault = make_ssm(proxy.url)
    pipelined = vault.list(stage)
    assert sorted(s.key for s in pipelined) == sorted(keys)
    assert vault._list_by_path(stage) == pipelined


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
    assert caught.value.key == "MISSING" and caught.value.remote_name == "/myapp/app2/staging/MISSING"
    with pytest.raises(NotFound):
        vault.delete("staging", "MISSING")
    with pytest.raises(NotFound):
        vault.history("staging", "MISSING")


def test_access_denied_names_action_and_resource(proxy: Proxy, make_ssm: MakeSsm) -> None:
    proxy.hooks.append(deny("DescribeParameters", "GetParametersByPath"))
    with pytest.raises(AccessDenied) as caught:
        make_ssm(proxy.url).list("production")
    assert caught.value.exit_code == 4
    assert caught.value.message.startswith("Access denied: GetParametersByPath on /myapp/production")


def test_throttling_is_absorbed(proxy: Proxy, make_ssm: MakeSsm) -> None:
    """30% of the calls throttled: the pipelined listing (2 pages of names, 6 batches of values)
    returns exactly what an unthrottled one does."""
    vault = make_ssm(proxy.url)
    put_many(proxy.url, "staging", 60)
    calm = vault.list("staging")
    proxy.throttle_rate = 0.3
    assert make_ssm(proxy.url).list("staging") == calm
    assert vault.set("staging", "KEY_000", "fake-new").revision == "2"
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


def test_each_next_page_is_requested_before_the_previous_pages_value_reads(proxy: Proxy, make_ssm: MakeSsm) -> None:
    """Pages of 50, 50, 30 names: page 1's 5 reads wait until the request for page 2 leaves,
    page 2's until page 3's does, so the listing's next page never queues behind value reads
    (in this process, at the call gate, at the server), even when preparing that request takes
    a while. Ordering of sends, not timing."""
    put_many(proxy.url, "staging", 130)
    reads, before = list_with_slow_next_pages(make_ssm(proxy.url), "staging", "DescribeParameters", 130)
    assert reads == 13 and len(before) == 2
    assert before[0] == 0 and before[1] <= 5


# -- review: keys Parameter Store cannot hold ------------------------------------------------

@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(suffix=st.one_of(st.integers(1, 3).map(str), st.just("fake-label"),
                        st.from_regex(r"[@#%*+=,~!$&;'\"<>?|\\^]+[A-Za-z0-9]*", fullmatch=True)))
def test_a_key_parameter_store_cannot_hold_is_not_found(proxy: Proxy, make_ssm: MakeSsm, suffix: str) -> None:
    """Parameter Store reads `NAME:3` as version 3 of NAME and `NAME:label` as a label, and
    its names hold only letters, digits and `_.-/`. `keep get DB:1` (a lookup key may hold
    any printable character) returned DB's old version 1 as if it were a secret `DB:1`; other
    characters got AWS's validation error (exit 1). Such a key is not found (exit 3), with no
    call, and DB itself is untouched."""
    vault = make_ssm(proxy.url)
    stage = f"p{uuid.uuid4().hex[:8]}"
    vault.set(stage, "DB", "fake-old-version")
    vault.set(stage, "DB", "fake-current")
    ssm_client(proxy.url).label_parameter_version(Name=f"/myapp/{stage}/DB", ParameterVersion=1, Labels=["fake-label"])
    key = f"DB:{suffix}" if suffix[:1].isalnum() else f"DB{suffix}"
    proxy.reset_counts()
    for read in (lambda: vault.get(stage, key), lambda: vault.history(stage, key),
                 lambda: vault.delete(stage, key), lambda: vault.rollback(stage, key, "1")):
        with pytest.raises(NotFound) as caught:
            read()
        assert caught.value.exit_code == 3 and key in caught.value.message
    assert proxy.total == 0
    assert vault.get(stage, "DB").value == "fake-current"
    assert vault.get(stage, "DB", "fake-label").value == "fake-old-version"


def test_a_kms_denial_is_no_reason_for_the_fallback_listing(proxy: Proxy, make_ssm: MakeSsm) -> None:
    """GetParameters refused because the caller may not use a parameter's KMS key is no missing
    ssm:GetParameters permission: the GetParametersByPath fallback decrypts the same values and
    fails the same way, yet keep switched to it and remembered that for the whole process (a
    `keep server` then listed every stage 10 parameters a call, and its cache re-read every
    value, until restarted). The KMS denial is the answer (exit 4, KMS hint), and once the key
    may be used the next listing is the usual one."""
    put_many(proxy.url, "staging", 12)
    refused = [True]

    def kms_denied(request: ProxyRequest) -> ProxyResponse | None:
        if refused[0] and request.operation in ("GetParameters", "GetParametersByPath"):
            return ProxyResponse.aws_error(
                request, 400, "AccessDeniedException",
                "User: arn:aws:iam::123456789012:user/fake is not authorized to perform: kms:Decrypt on resource: "
                "arn:aws:kms:us-east-1:123456789012:key/fake-key-id",
            )
        return None

    proxy.hooks.append(kms_denied)
    vault = make_ssm(proxy.url)
    with pytest.raises(AccessDenied) as caught:
        vault.list("staging")
    assert caught.value.exit_code == 4 and caught.value.hint and "KMS" in caught.value.hint
    assert proxy.counts["GetParametersByPath"] == 0
    refused[0] = False
    proxy.reset_counts()
    assert len(vault.list("staging")) == 12
    assert proxy.counts == {"DescribeParameters": 1, "GetParameters": 2}
