"""The call budgets of SPEC §12, pinned by counting AWS calls on the wire (the proxy of
tests/aws/proxy.py in front of moto's server), never by timing. Every command runs through the
`keep` CLI.

* Secrets Manager `set` on an existing key in a stage of 60 secrets: <= 2 calls (Keep would
  list the whole stage first: 2*ceil(60/20)+3 = 9).
* Secrets Manager `show` of 45: <= ceil(45/20) + ceil(45/100) = 4 calls.
* SSM `show` of N: ceil(N/50) DescribeParameters pages + ceil(N/10) GetParameters batches;
  where DescribeParameters is denied, 1 denied call + ceil(N/10) GetParametersByPath pages
  (and no DescribeParameters for the next stage of the same process).
* re-running an equal `import` or `copy`: 0 write calls.
* `diff` over 2 vaults x 3 stages: each cell fetched once.
* bulk reads never have more than KEEP_MAX_CONCURRENCY calls in flight;
* bulk writes throttled to 3 per second finish without an error, each key written once.
"""

from __future__ import annotations

import json
import math
from typing import Any

import boto3
import pytest

from tests.aws.proxy import Proxy, ProxyRequest, ProxyResponse

from .conftest import FAKE_REGION, KeepRunner
from .inflight import InFlight

pytestmark = pytest.mark.aws

WRITES = ("PutParameter", "PutSecretValue", "CreateSecret", "TagResource", "UpdateSecret", "DeleteSecret",
          "DeleteParameter")
STAGES = ("local", "staging", "production")


@pytest.fixture
def aws(kp: KeepRunner, counted: Proxy) -> KeepRunner:
    """The `kp` project with an `ssm` and an `sm` vault behind the counting proxy."""
    for slug, driver in (("ssm", "ssm"), ("sm", "secretsmanager")):
        config = {"slug": slug, "driver": driver, "name": slug, "scope": "", "region": FAKE_REGION,
                  "endpoint_url": counted.url}
        (kp.cwd / ".keep" / "vaults" / f"{slug}.json").write_text(json.dumps(config))
    kp.env["KEEP_WRITE_INTERVAL"] = "0"
    return kp


def values(stage: str, count: int) -> dict[str, str]:
    return {f"FAKE_KEY_{i:03d}": f"fake-{stage}-value-{i:03d}" for i in range(count)}


def seed_sm(moto: str, stage: str, secrets: dict[str, str]) -> None:
    """Straight into moto (not through the proxy), tagged exactly as keep tags."""
    client = boto3.client("secretsmanager", region_name=FAKE_REGION, endpoint_url=moto)
    tags = [{"Key": "ManagedBy", "Value": "Keep"}, {"Key": "Namespace", "Value": "myapp"},
            {"Key": "Stage", "Value": stage}, {"Key": "VaultSlug", "Value": "sm"}]
    for key, value in secrets.items():
        client.create_secret(Name=f"myapp/{stage}/{key}", SecretString=value, Tags=tags)


def seed_ssm(moto: str, stage: str, secrets: dict[str, str]) -> None:
    client = boto3.client("ssm", region_name=FAKE_REGION, endpoint_url=moto)
    for key, value in secrets.items():
        client.put_parameter(Name=f"/myapp/{stage}/{key}", Value=value, Type="SecureString")


def writes(proxy: Proxy) -> int:
    return sum(proxy.counts.get(op, 0) for op in WRITES)


def shown(result: Any) -> dict[str, str]:
    return {row["key"]: row["value"] for row in result.json()}


# -- Secrets Manager set ----------------------------------------------------------------------

def test_sm_set_existing_key_in_a_stage_of_60_is_put_then_tag(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    seed_sm(moto, "production", values("production", 60))
    counted.reset_counts()
    aws.ok("set", "FAKE_KEY_007", "fake-changed-value-7", "--vault", "sm", "--stage", "production")
    assert counted.total <= 2
    # TagResource (idempotent) makes a secret created outside keep managed (tests/test_unmanaged_secrets.py)
    assert dict(counted.counts) == {"PutSecretValue": 1, "TagResource": 1}
    stored = boto3.client("secretsmanager", region_name=FAKE_REGION, endpoint_url=moto).get_secret_value(
        SecretId="myapp/production/FAKE_KEY_007")
    assert stored["SecretString"] == "fake-changed-value-7"


def test_sm_set_new_key_in_a_stage_of_60_is_put_then_create(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    seed_sm(moto, "production", values("production", 60))
    counted.reset_counts()
    aws.ok("set", "FAKE_NEW_KEY", "fake-new-value", "--vault", "sm", "--stage", "production")
    assert dict(counted.counts) == {"PutSecretValue": 1, "CreateSecret": 1}
    assert "ListSecrets" not in counted.counts


# -- show ---------------------------------------------------------------------------------------

def test_sm_show_of_45_within_batch_budget(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    expected = values("staging", 45)
    seed_sm(moto, "staging", expected)
    seed_sm(moto, "production", values("production", 5))  # another stage must not be read
    counted.reset_counts()
    result = aws.ok("show", "--vault", "sm", "--stage", "staging", "--unmask", "--format", "json")
    assert shown(result) == expected
    assert counted.total <= math.ceil(45 / 20) + math.ceil(45 / 100) == 4
    assert dict(counted.counts) == {"ListSecrets": 1, "BatchGetSecretValue": 3}
    batches = [r.json for r in counted.requests if r.operation == "BatchGetSecretValue"]
    assert sorted(len(b["SecretIdList"]) for b in batches) == [5, 20, 20]


@pytest.mark.parametrize("count", [7, 45, 120])
def test_ssm_show_of_n_is_describe_pages_plus_value_batches(aws: KeepRunner, counted: Proxy, moto: str,
                                                            count: int) -> None:
    expected = values("staging", count)
    seed_ssm(moto, "staging", expected)
    seed_ssm(moto, "production", values("production", 3))
    counted.reset_counts()
    result = aws.ok("show", "--vault", "ssm", "--stage", "staging", "--unmask", "--format", "json")
    assert shown(result) == expected
    assert dict(counted.counts) == {"DescribeParameters": math.ceil(count / 50),
                                    "GetParameters": math.ceil(count / 10)}
    describes = [r.json for r in counted.requests if r.operation == "DescribeParameters"]
    assert all(d["MaxResults"] == 50 and d["ParameterFilters"][0]["Values"] == ["/myapp/staging"] for d in describes)


def test_ssm_listing_without_describe_permission_falls_back_once_per_process(
    aws: KeepRunner, counted: Proxy, moto: str
) -> None:
    """Real processes: "once per process" is about the process, not about the test runner."""
    aws = aws.process()
    for stage in STAGES:
        seed_ssm(moto, stage, values(stage, 15))
    allowed = aws.ok("export", "--vault", "ssm", "--stage", "staging", "--format", "json").stdout

    def deny(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation == "DescribeParameters":
            return ProxyResponse.aws_error(request, 400, "AccessDeniedException",
                                           "User: fake is not authorized to perform: ssm:DescribeParameters")
        return None

    counted.hooks.append(deny)
    counted.reset_counts()
    fallback = aws.ok("export", "--vault", "ssm", "--stage", "staging", "--format", "json")
    assert fallback.stdout == allowed
    assert fallback.stderr == ""  # silent
    assert dict(counted.counts) == {"DescribeParameters": 1, "GetParametersByPath": 2}
    counted.reset_counts()
    diff = aws.ok("diff", "--vault", "ssm", "--stage", ",".join(STAGES), "--format", "json")
    assert len(diff.json()["rows"]) == 15
    # one process, three stages: the denial is asked about once (the cells run concurrently,
    # so up to one denied call per cell already in flight when the first answer came back)
    assert 1 <= counted.counts["DescribeParameters"] <= 3
    assert counted.counts["GetParametersByPath"] == 3 * 2
    assert set(counted.counts) == {"DescribeParameters", "GetParametersByPath"}


def test_export_of_both_vaults_reads_each_once(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    seed_ssm(moto, "production", values("production", 25))
    seed_sm(moto, "production", {"FAKE_SM_ONLY": "fake-sm-only-value"})
    counted.reset_counts()
    result = aws.ok("export", "--vault", "ssm,sm", "--stage", "production", "--format", "json")
    assert len(result.json()) == 26
    assert dict(counted.counts) == {"DescribeParameters": 1, "GetParameters": 3, "ListSecrets": 1,
                                    "BatchGetSecretValue": 1}


# -- equal re-runs write nothing ----------------------------------------------------------------

def test_equal_import_rerun_makes_zero_writes(aws: KeepRunner, counted: Proxy) -> None:
    data = values("staging", 30)
    (aws.cwd / "in.env").write_text("".join(f"{k}={v}\n" for k, v in data.items()))
    counted.reset_counts()
    aws.ok("import", "in.env", "--vault", "ssm", "--stage", "staging")
    assert counted.counts["PutParameter"] == 30
    assert writes(counted) == 30
    for vault in ("ssm", "sm"):
        if vault == "sm":
            aws.ok("import", "in.env", "--vault", "sm", "--stage", "staging")
        counted.reset_counts()
        again = aws.ok("import", "in.env", "--vault", vault, "--stage", "staging")
        assert writes(counted) == 0, (vault, dict(counted.counts))
        assert "30 unchanged" in again.stderr
        # the re-run is one read of the stage, not one call per key
        assert counted.counts.get("GetParameter", 0) + counted.counts.get("GetSecretValue", 0) == 0


def test_equal_copy_rerun_makes_zero_writes(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    data = values("staging", 30)
    seed_ssm(moto, "staging", data)
    counted.reset_counts()
    aws.ok("copy", "--only=*", "--from=ssm:staging", "--to=sm:production")
    assert counted.counts["CreateSecret"] == 30
    for overwrite in ([], ["--overwrite"]):
        counted.reset_counts()
        again = aws.ok("copy", "--only=*", "--from=ssm:staging", "--to=sm:production", *overwrite)
        assert writes(counted) == 0, dict(counted.counts)
        assert "30 unchanged" in again.stderr
    counted.reset_counts()
    back = aws.ok("copy", "--only=FAKE_KEY_00*", "--from=sm:production", "--to=ssm:staging")
    assert writes(counted) == 0
    assert "10 unchanged" in back.stderr


# -- diff fetches each cell once ----------------------------------------------------------------

def _cells_read(proxy: Proxy) -> tuple[list[str], list[str]]:
    """(SSM paths of first pages, Secrets Manager name prefixes listed)."""
    ssm_first_pages = [r.json["ParameterFilters"][0]["Values"][0] for r in proxy.requests
                       if r.operation == "DescribeParameters" and "NextToken" not in r.json]
    sm_lists = []
    for r in proxy.requests:
        if r.operation == "ListSecrets" and "NextToken" not in r.json:
            names = [f["Values"][0] for f in r.json.get("Filters", []) if f["Key"] == "name"]
            sm_lists.append(names[0] if names else "?")
    return ssm_first_pages, sm_lists


def test_diff_of_2_vaults_x_3_stages_reads_each_cell_once(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    for stage in STAGES:
        seed_ssm(moto, stage, values(stage, 15))
        seed_sm(moto, stage, values(stage, 25))
    counted.reset_counts()
    result = aws.ok("diff", "--vault", "ssm,sm", "--stage", ",".join(STAGES), "--format", "json")
    matrix = result.json()
    assert matrix["columns"] == [f"{v}:{s}" for v in ("ssm", "sm") for s in STAGES]
    assert len(matrix["rows"]) == 25
    ssm_pages, sm_lists = _cells_read(counted)
    assert sorted(ssm_pages) == sorted(f"/myapp/{s}" for s in STAGES)
    assert sorted(sm_lists) == sorted(f"myapp/{s}/" for s in STAGES)
    assert dict(counted.counts) == {
        "DescribeParameters": 3,
        "GetParameters": 3 * math.ceil(15 / 10),
        "ListSecrets": 3,
        "BatchGetSecretValue": 3 * math.ceil(25 / 20),
    }


# -- bounded concurrency ------------------------------------------------------------------------

@pytest.mark.parametrize("limit", [1, 3])
def test_reads_never_exceed_keep_max_concurrency(aws: KeepRunner, counted: Proxy, moto: str, limit: int) -> None:
    for stage in STAGES:
        seed_sm(moto, stage, values(stage, 61))  # 4 batches per stage: 12 independent batch calls
        seed_ssm(moto, stage, values(stage, 3))
    # every call held until `limit` are in flight together: the reads did overlap up to the limit,
    # proven by counting (InFlight), whatever the machine's speed
    gauge = InFlight(limit, hold=0.05)
    counted.hooks.append(gauge)
    counted.reset_counts()
    result = aws.ok("diff", "--vault", "ssm,sm", "--stage", ",".join(STAGES), "--format", "json",
                    env={"KEEP_MAX_CONCURRENCY": str(limit)})
    assert len(result.json()["rows"]) == 61
    assert counted.counts["BatchGetSecretValue"] == 12
    assert gauge.reached.is_set(), f"never {limit} calls in flight at once (peak {gauge.peak})"
    assert gauge.peak == limit


# -- throttled bulk writes ----------------------------------------------------------------------

def test_throttled_bulk_import_finishes_without_an_error(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    """Writes limited to 3 per second (a token bucket in the proxy, as SSM PutParameter's
    default throughput): the retries absorb every ThrottlingException, nothing surfaces, and
    each key is written exactly once."""
    from bench.infra import WriteRateLimit

    limit = WriteRateLimit(per_second=3.0, burst=3.0)
    limit.enabled = True
    counted.hooks.append(limit)
    data = values("staging", 12)
    (aws.cwd / "in.env").write_text("".join(f"{k}={v}\n" for k, v in data.items()))
    del aws.env["KEEP_WRITE_INTERVAL"]  # keep's default pacing
    counted.reset_counts()
    result = aws.ok("import", "in.env", "--vault", "ssm", "--stage", "staging")
    assert "12 created" in result.stderr
    assert "throttl" not in result.stderr.lower()
    assert limit.throttled[FAKE_REGION] > 0  # the limit was really hit
    assert counted.counts["PutParameter"] == 12 + limit.throttled[FAKE_REGION]
    client = boto3.client("ssm", region_name=FAKE_REGION, endpoint_url=moto)
    stored = client.get_parameters_by_path(Path="/myapp/staging", WithDecryption=True, MaxResults=10)
    page2 = client.get_parameters_by_path(Path="/myapp/staging", WithDecryption=True, MaxResults=10,
                                          NextToken=stored["NextToken"])
    assert {p["Name"].rsplit("/", 1)[1]: p["Value"] for p in stored["Parameters"] + page2["Parameters"]} == data
