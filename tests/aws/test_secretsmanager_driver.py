"""The Secrets Manager driver on moto's server over HTTP, through the counting/fault proxy:
the seed's names and tags, call budgets, isolation, the tag-conditioned-policy behaviour,
deletion/restore, history/rollback, rotation parameters, replication and replica fallback."""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keep_secrets.model import AccessDenied, Conflict, NotFound, RemoteError, UsageError
from keep_secrets.vaults.aws import Unreachable
from keep_secrets.vaults.secretsmanager import NotFoundOrDenied, PartialList, SecretsManagerVault
from tests.aws.conftest import REGION, REPLICA, list_with_slow_next_pages
from tests.aws.moto_gaps import SEED_TAG_KEYS, aws_like_hooks, paginate_version_ids, tag_policy
from tests.aws.proxy import Proxy, ProxyRequest, ProxyResponse

MakeSm = Callable[..., SecretsManagerVault]


def sm_client(endpoint: str, region: str = REGION) -> Any:
    return boto3.client("secretsmanager", endpoint_url=endpoint, region_name=region)


def seed_stage(endpoint: str, stage: str, count: int, namespace: str = "myapp") -> None:
    """Secrets as keep creates them, written straight to moto (one call each)."""
    client = sm_client(endpoint)
    for i in range(count):
        client.create_secret(
            Name=f"{namespace}/{stage}/KEY_{i:03d}",
            SecretString=f"fake-{stage}-{i}",
            Tags=[
                {"Key": "ManagedBy", "Value": "Keep"},
                {"Key": "Namespace", "Value": namespace},
                {"Key": "Stage", "Value": stage},
                {"Key": "VaultSlug", "Value": "secretsmanager"},
            ],
        )


def sent(proxy: Proxy, operation: str) -> list[dict[str, Any]]:
    return [r.json for r in proxy.requests if r.operation == operation]


# -- names, tags, description ----------------------------------------------------------------

def test_create_sends_exactly_the_seed_tags_inside_create_secret(proxy: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(proxy.url)
    result = vault.set("production", "NIGHTWATCH_TOKEN", "fake-token-123")
    assert result.created is True
    creates = sent(proxy, "CreateSecret")
    assert len(creates) == 1
    create = creates[0]
    assert create["Name"] == "myapp/production/NIGHTWATCH_TOKEN"
    assert create["Tags"] == [
        {"Key": "ManagedBy", "Value": "Keep"},
        {"Key": "Namespace", "Value": "myapp"},
        {"Key": "Stage", "Value": "production"},
        {"Key": "VaultSlug", "Value": "secretsmanager"},
    ]
    assert create["Description"] == "Keep secret: NIGHTWATCH_TOKEN (production, vault secretsmanager)"
    assert "KmsKeyId" not in create and "AddReplicaRegions" not in create
    # no tagging afterwards: TagResource would need permissions the seed's create path lacks
    assert proxy.counts["TagResource"] == 0
    assert proxy.counts == {"PutSecretValue": 1, "CreateSecret": 1}


def test_scope_in_name_only_stage_tag_key_kms_and_replicas(proxy: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(
        proxy.url, scope="app2", stage_tag="Env", key="alias/fake-keep-key", replica_regions=[REPLICA],
    )
    kms = boto3.client("kms", endpoint_url=proxy.url, region_name=REGION)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/fake-keep-key", TargetKeyId=key_id)
    proxy.reset_counts()
    vault.set("staging", "DB_PASSWORD", "fake-db-pass-123")
    create = sent(proxy, "CreateSecret")[0]
    assert create["Name"] == "myapp/app2/staging/DB_PASSWORD"
    assert {t["Key"] for t in create["Tags"]} == {"ManagedBy", "Namespace", "Env", "VaultSlug"}
    assert {"Key": "Env", "Value": "staging"} in create["Tags"]
    assert create["KmsKeyId"] == "alias/fake-keep-key"
    assert create["AddReplicaRegions"] == [{"Region": REPLICA}]
    assert [s.key for s in vault.list("staging")] == ["DB_PASSWORD"]


# -- call budgets ----------------------------------------------------------------------------

def test_set_on_existing_key_is_put_and_tag_whatever_the_stage_size(proxy: Proxy, make_sm: MakeSm) -> None:
    seed_stage(proxy.url, "staging", 60)
    vault = make_sm(proxy.url)
    proxy.reset_counts()
    result = vault.set("staging", "KEY_042", "fake-new-value")
    assert result.created is False and result.note is None
    assert proxy.total <= 2
    # the idempotent TagResource adopts a secret made outside keep (tests/test_unmanaged_secrets.py)
    assert proxy.counts == {"PutSecretValue": 1, "TagResource": 1}
    assert vault.get("staging", "KEY_042").value == "fake-new-value"


def test_set_of_new_key_is_two_calls_without_listing(proxy: Proxy, make_sm: MakeSm) -> None:
    seed_stage(proxy.url, "staging", 60)
    vault = make_sm(proxy.url)
    proxy.reset_counts()
    assert vault.set("staging", "BRAND_NEW", "fake-v").created is True
    assert proxy.counts == {"PutSecretValue": 1, "CreateSecret": 1}


@pytest.mark.parametrize("count", [45, 101])
def test_show_budget(proxy: Proxy, make_sm: MakeSm, count: int) -> None:
    seed_stage(proxy.url, "staging", count)
    vault = make_sm(proxy.url)
    proxy.reset_counts()
    listed = vault.list("staging")
    assert [s.key for s in listed] == [f"KEY_{i:03d}" for i in range(count)]
    assert all(s.value == f"fake-staging-{int(s.key[4:])}" for s in listed)
    assert proxy.total <= math.ceil(count / 20) + math.ceil(count / 100)
    assert proxy.counts["ListSecrets"] == math.ceil(count / 100)
    assert proxy.counts["BatchGetSecretValue"] == math.ceil(count / 20)
    batches = sent(proxy, "BatchGetSecretValue")
    assert all(len(b["SecretIdList"]) <= 20 for b in batches)
    assert all(r["MaxResults"] == 100 for r in sent(proxy, "ListSecrets"))


# -- isolation -------------------------------------------------------------------------------

def test_only_this_namespace_stage_and_keep_tags_are_listed(proxy: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(proxy.url)
    vault.set("staging", "MINE", "fake-mine")
    make_sm(proxy.url, namespace="otherapp").set("staging", "THEIRS", "fake-theirs")
    vault.set("production", "PROD_ONLY", "fake-prod")
    make_sm(proxy.url, scope="app2").set("staging", "SCOPED", "fake-scoped")
    client = sm_client(proxy.url)
    # a name under the prefix but no tags, wrong tags, or a near-miss tag value
    client.create_secret(Name="myapp/staging/UNTAGGED", SecretString="fake-untagged")
    client.create_secret(
        Name="myapp/staging/WRONG_NS",
        SecretString="fake-wrong",
        Tags=[{"Key": "ManagedBy", "Value": "Keep"}, {"Key": "Namespace", "Value": "other"},
              {"Key": "Stage", "Value": "staging"}],
    )
    client.create_secret(
        Name="myapp/staging/KEEPER",
        SecretString="fake-keeper",
        Tags=[{"Key": "ManagedBy", "Value": "Keeper"}, {"Key": "Namespace", "Value": "myapp"},
              {"Key": "Stage", "Value": "staging"}],
    )
    client.create_secret(
        Name="myapp/staging/OTHER_STAGE_TAG",
        SecretString="fake-ost",
        Tags=[{"Key": "ManagedBy", "Value": "Keep"}, {"Key": "Namespace", "Value": "myapp"},
              {"Key": "Stage", "Value": "production"}],
    )
    client.create_secret(
        Name="myapp/stagingx/LOOKALIKE",
        SecretString="fake-look",
        Tags=[{"Key": "ManagedBy", "Value": "Keep"}, {"Key": "Namespace", "Value": "myapp"},
              {"Key": "Stage", "Value": "staging"}],
    )
    assert [(s.key, s.value) for s in vault.list("staging")] == [("MINE", "fake-mine")]
    # a vault reading the newer `Env` tag does not see `Stage`-tagged secrets, and vice versa
    assert make_sm(proxy.url, stage_tag="Env").list("staging") == []


# -- tag-conditioned IAM policies (the real-AWS behaviour moto does not show) -----------------

@pytest.fixture
def policed(moto: str) -> Any:
    with Proxy(moto, hooks=[tag_policy(moto), *aws_like_hooks(moto)]) as proxy:
        yield proxy


def test_set_creates_new_secret_when_put_is_denied(policed: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(policed.url)
    result = vault.set("staging", "NEW_UNDER_POLICY", "fake-v1")
    assert result.created is True
    assert policed.counts == {"PutSecretValue": 1, "CreateSecret": 1}
    policed.reset_counts()
    updated = vault.set("staging", "NEW_UNDER_POLICY", "fake-v2")
    assert updated.created is False and updated.note is None  # the tag policy allows keep's own tags
    assert policed.counts == {"PutSecretValue": 1, "TagResource": 1}
    assert vault.get("staging", "NEW_UNDER_POLICY").value == "fake-v2"


def test_get_missing_under_policy_says_not_found_or_not_permitted(policed: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(policed.url)
    with pytest.raises(NotFoundOrDenied) as caught:
        vault.get("staging", "MISSING")
    assert "myapp/staging/MISSING not found or not permitted" in caught.value.message
    # AWS did deny the call (exit 4); it is also a NotFound so `exists()` is False
    assert caught.value.exit_code == 4
    assert isinstance(caught.value, NotFound) and isinstance(caught.value, AccessDenied)
    assert vault.exists("staging", "MISSING") is False
    with pytest.raises(NotFound):
        vault.delete("staging", "MISSING")
    with pytest.raises(NotFound):
        vault.history("staging", "MISSING")


def test_denied_write_to_someone_elses_secret_stays_denied(policed: Proxy, make_sm: MakeSm) -> None:
    sm_client(policed.upstream).create_secret(
        Name="myapp/staging/FOREIGN",
        SecretString="fake-foreign",
        Tags=[{"Key": "ManagedBy", "Value": "Keep"}, {"Key": "Namespace", "Value": "other-team"}],
    )
    vault = make_sm(policed.url)
    with pytest.raises(AccessDenied) as caught:
        vault.set("staging", "FOREIGN", "fake-overwrite")
    assert caught.value.exit_code == 4
    assert "PutSecretValue" in caught.value.message and "myapp/staging/FOREIGN" in caught.value.message
    value = sm_client(policed.upstream).get_secret_value(SecretId="myapp/staging/FOREIGN")["SecretString"]
    assert value == "fake-foreign"


def test_create_never_sends_tag_keys_the_policy_forbids(policed: Proxy, make_sm: MakeSm) -> None:
    make_sm(policed.url, scope="team-a").set("staging", "SCOPED_KEY", "fake-v")
    for create in sent(policed, "CreateSecret"):
        assert {t["Key"] for t in create["Tags"]} <= SEED_TAG_KEYS


def test_moto_style_403_xml_is_access_denied(proxy: Proxy, make_sm: MakeSm) -> None:
    def forbid(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation == "GetSecretValue":
            body = (
                b'<?xml version="1.0" encoding="UTF-8"?><ErrorResponse><Errors><Error>'
                b"<Code>AccessDenied</Code><Message>User: moto is not authorized to perform: "
                b"secretsmanager:GetSecretValue</Message></Error></Errors></ErrorResponse>"
            )
            return ProxyResponse(403, body, {"Content-Type": "text/xml"})
        return None

    proxy.hooks.append(forbid)
    vault = make_sm(proxy.url)
    with pytest.raises(AccessDenied) as caught:
        vault.get("staging", "ANY")
    assert "GetSecretValue" in caught.value.message
    assert "myapp/staging/ANY" in caught.value.message


def test_kms_denial_is_access_denied_with_grant_hint(proxy: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(proxy.url)
    vault.set("staging", "KMS_LOCKED", "fake-v")

    def kms_denied(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation == "GetSecretValue":
            return ProxyResponse.aws_error(
                request, 400, "AccessDeniedException",
                "Access to KMS is not allowed. The ciphertext refers to a customer master key that is not permitted",
            )
        return None

    proxy.hooks.append(kms_denied)
    with pytest.raises(AccessDenied) as caught:
        vault.get("staging", "KMS_LOCKED")
    assert not isinstance(caught.value, NotFound)
    assert caught.value.hint and "KMS" in caught.value.hint


# -- list edge cases -------------------------------------------------------------------------

def test_batch_errors_are_reported_not_dropped(proxy: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(proxy.url)
    for key in ("GOOD_A", "BAD", "GOOD_B"):
        vault.set("staging", key, f"fake-{key}")

    def break_one(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation != "BatchGetSecretValue":
            return None
        import json

        answer = proxy.forward(request)
        data = json.loads(answer.body)
        bad = [v for v in data["SecretValues"] if v["Name"].endswith("/BAD")]
        data["SecretValues"] = [v for v in data["SecretValues"] if not v["Name"].endswith("/BAD")]
        data["Errors"] = [
            {"SecretId": v["ARN"], "ErrorCode": "DecryptionFailure", "Message": "fake KMS failure"} for v in bad
        ]
        return ProxyResponse(200, json.dumps(data).encode(), {"Content-Type": "application/x-amz-json-1.1"})

    proxy.hooks.append(break_one)
    with pytest.raises(PartialList) as caught:
        vault.list("staging")
    assert "myapp/staging/BAD" in caught.value.message and "DecryptionFailure" in caught.value.message
    assert caught.value.exit_code == 1
    assert [s.key for s in caught.value.secrets] == ["GOOD_A", "GOOD_B"]
    assert list(caught.value.failures) == ["myapp/staging/BAD"]


def test_secret_pending_deletion_never_breaks_the_listing(proxy: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(proxy.url)
    for key in ("STAYS", "GOES", "RACES"):
        vault.set("staging", key, f"fake-{key}")
    vault.delete("staging", "GOES")

    def race(request: ProxyRequest) -> ProxyResponse | None:
        # RACES is deleted between ListSecrets and BatchGetSecretValue
        if request.operation == "BatchGetSecretValue":
            sm_client(proxy.upstream).delete_secret(SecretId="myapp/staging/RACES", RecoveryWindowInDays=7)
        return None

    proxy.hooks.append(race)
    assert [s.key for s in vault.list("staging")] == ["STAYS"]


# -- delete / restore ------------------------------------------------------------------------

def test_deleted_listing_is_keeps_own_of_the_stage_without_reading_a_value(proxy: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(proxy.url)
    vault.set("staging", "MINE", "fake-mine")
    vault.set("staging", "LIVE", "fake-live")
    vault.delete("staging", "MINE")
    other = make_sm(proxy.url, namespace="otherapp")
    other.set("staging", "THEIRS", "fake-theirs")
    other.delete("staging", "THEIRS")
    client = sm_client(proxy.url)
    # under the prefix but made without keep's tags, or with another stage's tag
    client.create_secret(Name="myapp/staging/UNTAGGED", SecretString="fake-untagged")
    client.create_secret(
        Name="myapp/staging/OTHER_STAGE_TAG",
        SecretString="fake-ost",
        Tags=[{"Key": "ManagedBy", "Value": "Keep"}, {"Key": "Namespace", "Value": "myapp"},
              {"Key": "Stage", "Value": "production"}],
    )
    for name in ("myapp/staging/UNTAGGED", "myapp/staging/OTHER_STAGE_TAG"):
        client.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    proxy.reset_counts()
    listing = vault.deleted_listing()
    assert listing is not None
    assert [(d.key, d.name) for d in listing.deleted("staging")] == [("MINE", "myapp/staging/MINE")]
    assert {r.operation for r in proxy.requests} == {"ListSecrets"}
    assert all(body.get("IncludePlannedDeletion") is True for body in sent(proxy, "ListSecrets"))
    assert other.deleted_listing().deleted("staging")[0].key == "THEIRS"  # type: ignore[union-attr]


def test_delete_uses_the_recovery_window_and_purge_forces(proxy: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(proxy.url)
    vault.set("staging", "A", "fake-a")
    vault.delete("staging", "A")
    assert sent(proxy, "DeleteSecret")[-1] == {"SecretId": "myapp/staging/A", "RecoveryWindowInDays": 7}
    vault.delete("staging", "A", purge=True)
    assert sent(proxy, "DeleteSecret")[-1] == {"SecretId": "myapp/staging/A", "ForceDeleteWithoutRecovery": True}
    window = make_sm(proxy.url, recovery_window_days=30)
    window.set("staging", "B", "fake-b")
    window.delete("staging", "B")
    assert sent(proxy, "DeleteSecret")[-1]["RecoveryWindowInDays"] == 30
    instant = make_sm(proxy.url, recovery_window_days=0)
    instant.set("staging", "C", "fake-c")
    instant.delete("staging", "C")
    assert sent(proxy, "DeleteSecret")[-1]["ForceDeleteWithoutRecovery"] is True


def test_restore_and_its_errors(moto: str, make_sm: MakeSm) -> None:
    with Proxy(moto, hooks=aws_like_hooks(moto)) as proxy:
        vault = make_sm(proxy.url)
        vault.set("staging", "BACK", "fake-back")
        with pytest.raises(Conflict, match="not scheduled for deletion"):
            vault.restore("staging", "BACK")
        vault.delete("staging", "BACK")
        with pytest.raises(NotFound, match="scheduled for deletion") as caught:
            vault.get("staging", "BACK")
        assert caught.value.deleted and caught.value.key == "BACK"
        with pytest.raises(Conflict) as refused:
            vault.set("staging", "BACK", "fake-new")
        assert refused.value.deleted and refused.value.key == "BACK"
        vault.restore("staging", "BACK")
        assert vault.get("staging", "BACK").value == "fake-back"
        with pytest.raises(NotFound):
            vault.restore("staging", "NEVER_THERE")


def test_too_large_or_empty_value_is_refused_before_any_call(proxy: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(proxy.url)
    with pytest.raises(UsageError, match="65536"):
        vault.set("staging", "BIG", "x" * 65537)
    with pytest.raises(UsageError, match="empty"):
        vault.set("staging", "EMPTY", "")
    assert proxy.total == 0
    assert vault.set("staging", "MAX", "y" * 65536).created is True


# -- versions, history, rollback -------------------------------------------------------------

def test_get_reads_awscurrent_and_versions_by_id_or_label(proxy: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(proxy.url)
    first = vault.set("staging", "V", "fake-1")
    vault.set("staging", "V", "fake-2")
    proxy.reset_counts()
    assert vault.get("staging", "V").value == "fake-2"
    assert sent(proxy, "GetSecretValue")[-1] == {"SecretId": "myapp/staging/V", "VersionStage": "AWSCURRENT"}
    assert vault.get("staging", "V", "AWSPREVIOUS").value == "fake-1"
    assert vault.get("staging", "V", first.revision).value == "fake-1"
    assert sent(proxy, "GetSecretValue")[-1] == {"SecretId": "myapp/staging/V", "VersionId": first.revision}
    with pytest.raises(NotFound, match="Version NOPE_LABEL"):
        vault.get("staging", "V", "NOPE_LABEL")


def test_history_all_pages_newest_first_with_labels(
    proxy: Proxy, make_sm: MakeSm, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keep_secrets.vaults import secretsmanager

    monkeypatch.setattr(secretsmanager, "HISTORY_PAGE_SIZE", 2)
    proxy.hooks.append(paginate_version_ids(proxy.forward))
    vault = make_sm(proxy.url)
    revisions = [vault.set("staging", "H", f"fake-{i}").revision for i in range(5)]
    proxy.reset_counts()
    history = vault.history("staging", "H")
    assert [v.value for v in history] == ["fake-4", "fake-3", "fake-2", "fake-1", "fake-0"]
    assert [v.version for v in history] == revisions[::-1]
    assert history[0].labels == ("AWSCURRENT",) and history[0].current
    assert history[1].labels == ("AWSPREVIOUS",)
    assert proxy.counts["ListSecretVersionIds"] == 3
    assert all(r["IncludeDeprecated"] is True for r in sent(proxy, "ListSecretVersionIds"))
    limited = vault.history("staging", "H", limit=2)
    assert [v.value for v in limited] == ["fake-4", "fake-3"]


def test_rollback_moves_awscurrent(proxy: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(proxy.url)
    good = vault.set("staging", "R", "fake-good")
    bad = vault.set("staging", "R", "fake-bad")
    proxy.reset_counts()
    result = vault.rollback("staging", "R", "AWSPREVIOUS")
    assert result.revision == good.revision
    assert sent(proxy, "UpdateSecretVersionStage") == [
        {
            "SecretId": "myapp/staging/R",
            "VersionStage": "AWSCURRENT",
            "MoveToVersionId": good.revision,
            "RemoveFromVersionId": bad.revision,
        }
    ]
    assert proxy.total == 2
    assert vault.get("staging", "R").value == "fake-good"
    vault.rollback("staging", "R", bad.revision)
    assert vault.get("staging", "R").value == "fake-bad"


# -- rotation (moto's Lambda rotation is broken: check the request with botocore's Stubber) ----

def test_rotate_with_lambda_sends_rotate_secret(moto: str, make_sm: MakeSm) -> None:
    vault = make_sm(moto)
    arn = "arn:aws:lambda:us-east-1:123456789012:function:fake-rotator"
    with Stubber(vault.client()) as stub:
        stub.add_response(
            "rotate_secret",
            {"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:myapp/production/DB-abc123",
             "Name": "myapp/production/DB", "VersionId": "fake-version-id-0000000000000000000001"},
            expected_params={
                "SecretId": "myapp/production/DB",
                "RotationLambdaARN": arn,
                "RotationRules": {"AutomaticallyAfterDays": 30},
                "RotateImmediately": True,
            },
        )
        stub.add_response(
            "rotate_secret",
            {"Name": "myapp/production/DB"},
            expected_params={"SecretId": "myapp/production/DB", "RotationLambdaARN": arn, "RotateImmediately": True},
        )
        result = vault.rotate_with_lambda("production", "DB", arn, 30)
        assert result.revision == "fake-version-id-0000000000000000000001"
        vault.rotate_with_lambda("production", "DB", arn, None)
        stub.assert_no_pending_responses()
    with pytest.raises(UsageError):
        vault.rotate_with_lambda("production", "DB", arn, 0)


# -- replication -----------------------------------------------------------------------------

def test_replica_regions_on_create_are_readable_in_the_replica(proxy: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(proxy.url, replica_regions=[REPLICA])
    vault.set("production", "REPLICATED", "fake-everywhere")
    replica = sm_client(proxy.url, REPLICA).get_secret_value(SecretId="myapp/production/REPLICATED")
    assert replica["SecretString"] == "fake-everywhere"
    # a purge removes the replicas first (AWS refuses to delete a replicated secret)
    vault.delete("production", "REPLICATED", purge=True)
    with pytest.raises(NotFound):
        vault.get("production", "REPLICATED")


def test_replicate_brings_existing_secrets_in_line(proxy: Proxy, make_sm: MakeSm) -> None:
    plain = make_sm(proxy.url)
    plain.set("staging", "OLD_ONE", "fake-old")
    plain.set("staging", "OLD_TWO", "fake-two")
    vault = make_sm(proxy.url, replica_regions=[REPLICA])
    plan = vault.replication_plan("staging")
    assert [(c.key, c.add, c.remove) for c in plan] == [("OLD_ONE", [REPLICA], []), ("OLD_TWO", [REPLICA], [])]
    assert vault.replicate("staging", dry_run=True)[0].changed
    assert proxy.counts["ReplicateSecretToRegions"] == 0
    done = vault.replicate("staging")
    assert all(c.error is None for c in done)
    assert proxy.counts["ReplicateSecretToRegions"] == 2
    value = sm_client(proxy.url, REPLICA).get_secret_value(SecretId="myapp/staging/OLD_TWO")["SecretString"]
    assert value == "fake-two"
    assert not any(c.changed for c in vault.replication_plan("staging"))
    # a vault without replica_regions removes them again
    assert [c.remove for c in plain.replicate("staging")] == [[REPLICA], [REPLICA]]
    assert proxy.counts["RemoveRegionsFromReplication"] == 2


def test_reads_fall_back_to_a_replica_when_the_primary_is_down(
    proxy: Proxy, make_sm: MakeSm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEP_AWS_MAX_ATTEMPTS", "2")
    vault = make_sm(proxy.url, replica_regions=[REPLICA])
    vault.set("production", "DB", "fake-db-pass-123")
    vault.set("production", "DB", "fake-db-pass-456")
    notices: list[str] = []
    vault.notice = notices.append
    proxy.fail_regions = {REGION}
    proxy.reset_counts()
    assert vault.get("production", "DB").value == "fake-db-pass-456"
    assert [s.key for s in vault.list("production")] == ["DB"]
    assert [v.value for v in vault.history("production", "DB")] == ["fake-db-pass-456", "fake-db-pass-123"]
    assert len(notices) == 3 and all(f"replica region {REPLICA}" in n for n in notices)
    assert REGION in notices[0]
    regions = {r.region for r in proxy.requests}
    assert regions == {REGION, REPLICA}
    # writes never go to a replica
    with pytest.raises(Unreachable):
        vault.set("production", "DB", "fake-db-pass-789")
    assert {r.region for r in proxy.requests if r.operation == "PutSecretValue"} == {REGION}


def test_connection_resets_also_fall_back(proxy: Proxy, make_sm: MakeSm, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEP_AWS_MAX_ATTEMPTS", "2")
    vault = make_sm(proxy.url, replica_regions=[REPLICA])
    vault.set("production", "DB", "fake-db-pass-123")
    vault.notice = lambda text: None
    proxy.fail_regions = {REGION}
    proxy.fail_mode = "reset"
    assert vault.get("production", "DB").value == "fake-db-pass-123"


def test_access_denied_never_falls_back(proxy: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(proxy.url, replica_regions=[REPLICA])
    vault.set("production", "DB", "fake-db-pass-123")

    def deny_primary(request: ProxyRequest) -> ProxyResponse | None:
        if request.region == REGION and request.operation == "GetSecretValue":
            return ProxyResponse.aws_error(request, 400, "AccessDeniedException", "not authorized (fake)")
        return None

    proxy.hooks.append(deny_primary)
    proxy.reset_counts()
    with pytest.raises(AccessDenied):
        vault.get("production", "DB")
    assert {r.region for r in proxy.requests} == {REGION}


# -- resilience ------------------------------------------------------------------------------

def test_thirty_percent_throttling_changes_no_result(proxy: Proxy, make_sm: MakeSm) -> None:
    seed_stage(proxy.url, "staging", 45)
    vault = make_sm(proxy.url)
    expected = [(s.key, s.value) for s in vault.list("staging")]
    proxy.throttle_rate = 0.3
    assert [(s.key, s.value) for s in vault.list("staging")] == expected
    assert vault.set("staging", "KEY_007", "fake-throttled").created is False
    assert vault.set("staging", "THROTTLE_NEW", "fake-new").created is True
    assert vault.get("staging", "KEY_007").value == "fake-throttled"
    assert [v.value for v in vault.history("staging", "KEY_007")] == ["fake-throttled", "fake-staging-7"]
    assert proxy.injected["throttle"] > 0


def test_server_errors_are_retried(proxy: Proxy, make_sm: MakeSm) -> None:
    seed_stage(proxy.url, "staging", 25)
    vault = make_sm(proxy.url)
    proxy.fail_5xx_rate = 0.3
    assert len(vault.list("staging")) == 25
    assert vault.get("staging", "KEY_003").value == "fake-staging-3"
    assert proxy.injected["5xx"] > 0


def test_exhausted_throttling_names_the_call_and_attempts(
    proxy: Proxy, make_sm: MakeSm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEP_AWS_MAX_ATTEMPTS", "3")
    vault = make_sm(proxy.url)
    proxy.throttle_rate = 1.0
    with pytest.raises(RemoteError) as caught:
        vault.get("staging", "ANY")
    assert caught.value.message == "GetSecretValue on myapp/staging/ANY was throttled by AWS; gave up after 3 attempts"
    assert proxy.counts["GetSecretValue"] == 3


def test_unreachable_endpoint_is_a_clean_error(
    make_sm: MakeSm, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    monkeypatch.setenv("KEEP_AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    endpoint = f"http://127.0.0.1:{closed_port}"
    vault = make_sm(endpoint)
    with pytest.raises(Unreachable) as caught:
        vault.get("staging", "ANY")
    message = caught.value.message
    assert endpoint in message and "us-east-1" in message and "GetSecretValue" in message
    assert "after 2 attempts" in message
    assert caught.value.exit_code == 1


def test_missing_credentials_suggest_sso_login(
    make_sm: MakeSm, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, closed_port: int
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    vault = make_sm(f"http://127.0.0.1:{closed_port}")
    with pytest.raises(AccessDenied) as caught:
        vault.get("staging", "ANY")
    assert caught.value.exit_code == 4
    assert caught.value.hint and "aws sso login" in caught.value.hint and "AWS_PROFILE" in caught.value.hint


def test_unknown_profile_is_a_usage_error(make_sm: MakeSm, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    vault = make_sm("http://127.0.0.1:1", profile="fake-missing-profile")
    with pytest.raises(UsageError, match="fake-missing-profile"):
        vault.get("staging", "ANY")


def test_set_denied_for_put_and_create_names_both(policed: Proxy, make_sm: MakeSm) -> None:
    # the policy allows namespace `myapp` only; this vault writes `otherapp`
    vault = make_sm(policed.url, namespace="otherapp")
    with pytest.raises(AccessDenied) as caught:
        vault.set("staging", "NOT_MINE", "fake-v")
    assert "PutSecretValue and CreateSecret on otherapp/staging/NOT_MINE" in caught.value.message
    assert policed.counts == {"PutSecretValue": 1, "CreateSecret": 1}


def test_region_mismatch_is_named(proxy: Proxy, make_sm: MakeSm) -> None:
    def wrong_region(request: ProxyRequest) -> ProxyResponse | None:
        return ProxyResponse.aws_error(
            request, 400, "InvalidSignatureException",
            "Credential should be scoped to a valid region, not 'us-east-1'.",
        )

    proxy.hooks.append(wrong_region)
    with pytest.raises(AccessDenied) as caught:
        make_sm(proxy.url).get("staging", "ANY")
    assert caught.value.message.startswith("Region mismatch for GetSecretValue on myapp/staging/ANY")
    assert caught.value.hint and "region" in caught.value.hint


def test_listing_more_than_one_page_pipelines_batches(proxy: Proxy, make_sm: MakeSm) -> None:
    seed_stage(proxy.url, "staging", 130)
    vault = make_sm(proxy.url)
    proxy.reset_counts()
    assert len(vault.list("staging")) == 130
    assert proxy.counts == {"ListSecrets": 2, "BatchGetSecretValue": 7}


def test_batches_start_while_the_next_list_page_is_pending(proxy: Proxy, make_sm: MakeSm) -> None:
    """The second ListSecrets page is answered only once a BatchGetSecretValue of the first
    page has arrived (or after 10 s, recorded as a failure): batches sent after the last page
    fail the assertion. The second page's request may arrive before the first batch; it must
    not be answered before one."""
    seed_stage(proxy.url, "staging", 130)
    first_batch = threading.Event()
    answered_after_a_batch: list[bool] = []

    def hold(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation == "BatchGetSecretValue":
            first_batch.set()
        elif request.operation == "ListSecrets" and "NextToken" in (request.json or {}):
            answered_after_a_batch.append(first_batch.wait(timeout=10))
        return None

    proxy.hooks.append(hold)
    assert len(make_sm(proxy.url).list("staging")) == 130
    assert answered_after_a_batch == [True]


def test_list_pages_give_keys_and_current_versions_without_values(proxy: Proxy, make_sm: MakeSm) -> None:
    """What a cache needs before deciding which values to fetch: the listing alone."""
    seed_stage(proxy.url, "staging", 105)
    vault = make_sm(proxy.url)
    before = vault.get("staging", "KEY_000").revision
    vault.set("staging", "KEY_000", "fake-changed")  # a second version: AWSCURRENT moved
    proxy.reset_counts()
    pages = list(vault.list_pages("staging"))
    assert [len(page) for page in pages] == [100, 5]
    assert proxy.counts == {"ListSecrets": 2}
    listed = {item.key: item.version for page in pages for item in page}
    current = {s.key: s.revision for s in vault.list("staging")}
    assert listed == current and all(listed.values())
    assert listed["KEY_000"] != before


def test_no_region_anywhere_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from keep_secrets.project import VaultConfig

    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    vault = SecretsManagerVault(VaultConfig("sm", "secretsmanager", "SM"), "myapp", None)
    with pytest.raises(UsageError, match="No AWS region for vault 'sm'"):
        vault.get("staging", "ANY")


def test_a_key_named_like_kms_is_no_kms_denial(policed: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(policed.url)
    assert vault.set("staging", "KMS_TOKEN", "fake-kms-token").created is True
    assert vault.set("staging", "kms-key", "fake-kms-key").created is True
    with pytest.raises(NotFoundOrDenied):
        vault.get("staging", "KMS_MISSING")


@pytest.mark.parametrize(
    ("message", "resource", "expected"),
    [
        ("User: arn:aws:iam::1:user/x is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:"
         "us-east-1:1:key/abc", "myapp/staging/DB", True),
        ("Access to KMS is not allowed", "myapp/staging/DB", True),
        ("User: arn:aws:iam::1:user/x is not authorized to perform: secretsmanager:GetSecretValue on resource: "
         "myapp/staging/KMS_TOKEN", "myapp/staging/KMS_TOKEN", False),
        ("not authorized to perform: secretsmanager:PutSecretValue on resource: arn:aws:secretsmanager:us-east-1:1:"
         "secret:myapp/kms/KEY-AbCdEf", "myapp/kms/KEY", False),
        ("not authorized to perform: secretsmanager:GetSecretValue", "myapp/staging/DB", False),
    ],
)
def test_mentions_kms(message: str, resource: str, expected: bool) -> None:
    from keep_secrets.vaults.aws import mentions_kms

    assert mentions_kms(message, resource) is expected


def test_profile_and_service_endpoint_env_are_honoured(
    proxy: Proxy, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from keep_secrets.project import VaultConfig

    config_file = tmp_path / "aws-config"
    config_file.write_text(
        "[profile fake-team]\nregion = eu-west-1\naws_access_key_id = fake-team-key\n"
        "aws_secret_access_key = fake-team-secret\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config_file))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # the environment would beat the profile's region
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", proxy.url)
    vault = SecretsManagerVault(
        VaultConfig("sm", "secretsmanager", "SM", options={"profile": "fake-team"}), "myapp", None
    )
    try:
        vault.set("staging", "VIA_PROFILE", "fake-v")
    finally:
        vault.close()
    assert [r.region for r in proxy.requests] == ["eu-west-1", "eu-west-1"]
    assert all("fake-team-key/" in r.headers["Authorization"] for r in proxy.requests)


def test_binary_secrets_are_reported(proxy: Proxy, make_sm: MakeSm) -> None:
    vault = make_sm(proxy.url)
    vault.set("staging", "TEXT", "fake-text")
    sm_client(proxy.url).create_secret(
        Name="myapp/staging/BLOB",
        SecretBinary=b"\xff\xfe\x00fake",
        Tags=[{"Key": "ManagedBy", "Value": "Keep"}, {"Key": "Namespace", "Value": "myapp"},
              {"Key": "Stage", "Value": "staging"}, {"Key": "VaultSlug", "Value": "secretsmanager"}],
    )
    with pytest.raises(PartialList) as caught:
        vault.list("staging")
    assert "myapp/staging/BLOB (binary secret" in caught.value.message
    assert [s.key for s in caught.value.secrets] == ["TEXT"]
    with pytest.raises(RemoteError, match="binary"):
        vault.get("staging", "BLOB")


def test_each_next_page_is_requested_before_the_previous_pages_batches(proxy: Proxy, make_sm: MakeSm) -> None:
    """Pages of 100, 100, 30 secrets: page 1's 5 batches wait until the request for page 2
    leaves, page 2's until page 3's does, even when preparing that request takes a while
    (ordering of sends, not timing)."""
    seed_stage(proxy.url, "staging", 230)
    reads, before = list_with_slow_next_pages(make_sm(proxy.url), "staging", "ListSecrets", 230)
    assert reads == 12 and len(before) == 2
    assert before[0] == 0 and before[1] <= 5


# -- review: purge / delete at once ----------------------------------------------------------

@pytest.mark.parametrize("how", ["purge", "window-0"])
def test_deleting_a_missing_secret_at_once_is_not_found(proxy: Proxy, make_sm: MakeSm, how: str) -> None:
    """AWS answers DeleteSecret(ForceDeleteWithoutRecovery) of a secret that does not exist with
    success (documented, for retries; moto does the same), so `keep delete TYPO --force --purge`
    (and every delete on a vault with recovery_window_days 0) said "deleted for good" for a key
    that never existed. It is NotFound (exit 3) naming the full name, like a delete with a
    recovery window; a secret scheduled for deletion can still be purged, and then is gone."""
    vault = make_sm(proxy.url, **({"recovery_window_days": 0} if how == "window-0" else {}))
    purge = how == "purge"
    for key in ("NEVER_THERE", "sub/NESTED_MISSING"):
        with pytest.raises(NotFound) as caught:
            vault.delete("staging", key, purge=purge)
        assert caught.value.exit_code == 3
        assert f"myapp/staging/{key}" in caught.value.message
    vault.set("staging", "REAL", "fake-real")
    vault.delete("staging", "REAL", purge=purge)
    with pytest.raises(NotFound):
        vault.get("staging", "REAL")
    with pytest.raises(NotFound):
        vault.delete("staging", "REAL", purge=purge)  # already purged: gone
    soft = make_sm(proxy.url)
    soft.set("staging", "SOFT", "fake-soft")
    soft.delete("staging", "SOFT")
    soft.delete("staging", "SOFT", purge=True)  # scheduled for deletion: still purgeable
    assert soft.deleted("staging") == []
    with pytest.raises(NotFound):
        soft.delete("staging", "SOFT", purge=True)


# -- review: replica fallback ----------------------------------------------------------------

def test_a_replica_without_the_secret_is_no_not_found_answer(
    proxy: Proxy, make_sm: MakeSm, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The primary region is down and the replica region lacks the secret (made before
    replica_regions was configured and never `keep replicate`d): the replica cannot say the
    secret does not exist, yet `get` and `history` answered "not found" (exit 3), as if it
    had been deleted, and the cache's offline fallback (which takes Unreachable only) was
    skipped. The answer is the primary's Unreachable (exit 1); a replicated secret is still
    served by the replica."""
    monkeypatch.setenv("KEEP_AWS_MAX_ATTEMPTS", "2")
    # AWS's answers where moto's differ, in the replica region (the primary's requests get the 503s)
    proxy.hooks.extend(lambda r, hook=hook: hook(r) if r.region == REPLICA else None
                       for hook in aws_like_hooks(proxy.upstream))
    make_sm(proxy.url).set("production", "NOT_REPLICATED", "fake-only-in-primary")
    vault = make_sm(proxy.url, replica_regions=[REPLICA])
    vault.set("production", "REPLICATED", "fake-everywhere")
    notices: list[str] = []
    vault.notice = notices.append
    proxy.fail_regions = {REGION}
    for read in (lambda: vault.get("production", "NOT_REPLICATED"),
                 lambda: vault.history("production", "NOT_REPLICATED"),
                 lambda: vault.get("production", "NEVER_ANYWHERE")):
        with pytest.raises(Unreachable) as caught:
            read()
        assert caught.value.exit_code == 1 and not isinstance(caught.value, NotFound)
        assert REGION in caught.value.message
    assert vault.get("production", "REPLICATED").value == "fake-everywhere"
    assert len(notices) == 1 and REPLICA in notices[0]


def test_failed_replicas_are_reported_per_secret(proxy: Proxy, make_sm: MakeSm) -> None:
    """A replica region that already holds a secret of the same name (made there by hand)
    answers ReplicateSecretToRegions / CreateSecret with the replica's Status "Failed" - an
    HTTP 200. `keep replicate` reported that secret as done, every later plan saw the failed
    replica as present ("in sync"), and `set` of a new key said "created" without a word:
    the disaster-recovery copy silently did not exist. Now the failure is that secret's error
    (the others are replicated) and a note on the create."""
    sm_client(proxy.url, REPLICA).create_secret(Name="myapp/staging/CLASH", SecretString="fake-local-copy")
    sm_client(proxy.url, REPLICA).create_secret(Name="myapp/staging/NEW_CLASH", SecretString="fake-local-copy")
    plain = make_sm(proxy.url)
    plain.set("staging", "CLASH", "fake-clash")
    plain.set("staging", "FINE", "fake-fine")
    vault = make_sm(proxy.url, replica_regions=[REPLICA])
    done = {c.key: c for c in vault.replicate("staging")}
    assert done["FINE"].error is None and done["FINE"].add == [REPLICA]
    assert done["CLASH"].error and REPLICA in done["CLASH"].error and "failed" in done["CLASH"].error.lower()
    again = {c.key: c for c in vault.replication_plan("staging")}
    assert again["FINE"].error is None and not again["FINE"].changed
    assert again["CLASH"].error and REPLICA in again["CLASH"].error
    created = vault.set("staging", "NEW_CLASH", "fake-new")
    assert created.created is True
    assert created.note and REPLICA in created.note and "fake-new" not in created.note
    ok = vault.set("staging", "NEW_FINE", "fake-new-fine")
    assert ok.created is True and ok.note is None


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(label=st.from_regex(r"[A-Za-z][A-Za-z0-9-]{31,63}", fullmatch=True))
def test_a_long_staging_label_is_read_as_a_label(proxy: Proxy, make_sm: MakeSm, label: str) -> None:
    """Staging labels are 1-256 characters; one of 32-64 letters, digits and dashes (say
    `release-candidate-2026-12-01-blue`) looks like a VersionId, was sent as VersionId only,
    and `get --version LABEL` said "Version ... not found" for a label the secret carries.
    A version id is still one call; the label is found with a second."""
    vault = make_sm(proxy.url)
    key = f"L{uuid.uuid4().hex[:12].upper()}"
    first = vault.set("staging", key, "fake-labelled")
    vault.set("staging", key, "fake-current")
    sm_client(proxy.url).update_secret_version_stage(
        SecretId=f"myapp/staging/{key}", VersionStage=label, MoveToVersionId=first.revision
    )
    assert vault.get("staging", key, label).value == "fake-labelled"
    proxy.reset_counts()
    assert vault.get("staging", key, first.revision).value == "fake-labelled"
    assert proxy.counts == {"GetSecretValue": 1}
    with pytest.raises(NotFound, match="Version"):
        vault.get("staging", key, label[::-1] + "x")


def test_a_replica_region_named_twice_is_one_replica(proxy: Proxy, make_sm: MakeSm) -> None:
    """`replica_regions` is a list from the vault file or `--replica-regions a,b`; a region
    given twice (or the primary among them) went into AddReplicaRegions / ReplicateSecret
    ToRegions twice, and the second copy of the same region failed the replication of every
    new secret. Each region is asked for once, in the order given."""
    vault = make_sm(proxy.url, replica_regions=[REPLICA, REGION, REPLICA])
    assert vault.replica_regions == [REPLICA]
    created = vault.set("production", "TWICE", "fake-twice")
    assert created.created is True and created.note is None
    assert sent(proxy, "CreateSecret")[0]["AddReplicaRegions"] == [{"Region": REPLICA}]
    value = sm_client(proxy.url, REPLICA).get_secret_value(SecretId="myapp/production/TWICE")["SecretString"]
    assert value == "fake-twice"
    assert [(c.add, c.remove, c.error) for c in vault.replication_plan("production")] == [([], [], None)]


def deny_in_batches(proxy: Proxy, denied: Callable[[str], bool], code: str) -> None:
    """BatchGetSecretValue answers as AWS does for secrets the caller may not read: in Errors."""
    import json

    def hook(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation != "BatchGetSecretValue":
            return None
        data = json.loads(proxy.forward(request).body)
        refused = [v for v in data["SecretValues"] if denied(v["Name"])]
        data["SecretValues"] = [v for v in data["SecretValues"] if not denied(v["Name"])]
        data["Errors"] = [
            {"SecretId": v["ARN"], "ErrorCode": code,
             "Message": f"User: arn:aws:iam::123456789012:user/fake-deploy is not authorized ({code}, fake)"}
            for v in refused
        ]
        return ProxyResponse(200, json.dumps(data).encode(), {"Content-Type": "application/x-amz-json-1.1"})

    proxy.hooks.append(hook)


@pytest.mark.parametrize("code", ["AccessDeniedException", "DecryptionFailure"])
def test_a_listing_denied_for_every_secret_is_access_denied(proxy: Proxy, make_sm: MakeSm, code: str) -> None:
    """A role that may list but read no secret of the stage (the seed's production-only
    deploy role on staging, or a KMS key it cannot use): BatchGetSecretValue denies each
    secret in its Errors. `show`/`export` exited 1 ("remote error") instead of 4 (access
    denied), which is what scripts and `verify` branch on. Every secret denied is exit 4
    naming them all; some readable and some denied stays a partial failure (exit 1)."""
    vault = make_sm(proxy.url)
    for key in ("ALPHA", "BETA", "GAMMA"):
        vault.set("staging", key, f"fake-{key.lower()}")
    deny_in_batches(proxy, lambda name: True, code)
    with pytest.raises(AccessDenied) as caught:
        vault.list("staging")
    assert caught.value.exit_code == 4
    assert all(f"myapp/staging/{key}" in caught.value.message for key in ("ALPHA", "BETA", "GAMMA"))
    assert caught.value.hint and "KMS" in caught.value.hint
    proxy.hooks.clear()
    deny_in_batches(proxy, lambda name: name.endswith("/BETA"), code)
    with pytest.raises(PartialList) as partial:
        vault.list("staging")
    assert partial.value.exit_code == 1 and [s.key for s in partial.value.secrets] == ["ALPHA", "GAMMA"]


def test_a_listing_after_a_rollback_shows_the_rolled_back_value(proxy: Proxy, make_sm: MakeSm) -> None:
    """BatchGetSecretValue cannot ask for a staging label. moto (the emulator keep supports
    through endpoint_url, as LocalStack builds on it) answers it with the version last written,
    not the one AWSCURRENT points at after UpdateSecretVersionStage: after `keep rollback`,
    `keep show`/`export`/`run` served the rolled-back-from value while `keep get` served the
    current one, and the listing's version map disagreed with the value. A batch entry whose
    VersionStages lack AWSCURRENT is read again with VersionStage=AWSCURRENT."""
    vault = make_sm(proxy.url)
    for key in ("ROLLED", "STEADY"):
        vault.set("staging", key, f"fake-{key.lower()}-good")
    good = vault.get("staging", "ROLLED").revision
    vault.set("staging", "ROLLED", "fake-rolled-bad")
    vault.rollback("staging", "ROLLED", good)
    expected = [(s.key, s.value, s.revision) for s in (vault.get("staging", k) for k in ("ROLLED", "STEADY"))]
    assert expected[0][1:] == ("fake-rolled-good", good)
    proxy.reset_counts()
    assert [(s.key, s.value, s.revision) for s in vault.list("staging")] == expected
    assert proxy.counts == {"ListSecrets": 1, "BatchGetSecretValue": 1, "GetSecretValue": 1}
    listed, secrets = vault.list_changed("staging", lambda key, version: False)
    assert dict(listed) == {key: revision for key, _, revision in expected}
    assert [(s.key, s.value, s.revision) for s in secrets] == expected
