"""keep's commands end to end under IAM emulation: moto behind the test proxy, every Secrets
Manager and SSM request evaluated under a policy (the seed page's three, and `keep iam`'s own
full / --stage / --read-only output for both drivers), `keep` run through the CLI with
AWS_ENDPOINT_URL pointing at the proxy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.aws.iam_proxy import IamEmulator
from tests.aws.proxy import Proxy

from ..conftest import KeepRunner, Result

pytestmark = pytest.mark.aws

STAGES = ("local", "staging", "production")
SEEDS = Path(__file__).parent / "policies"
SM = "secretsmanager"


def seed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SEEDS / f"seed_{name}.json").read_text())
    return data


@dataclass
class Aws:
    """A project with `secretsmanager` and `ssm` vaults whose calls go through the emulator."""

    kp: KeepRunner
    iam: IamEmulator

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.kp(*args, input=input, env={"AWS_ENDPOINT_URL": self.iam.url})

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.code == 0, (
            f"keep {' '.join(args)} -> {result.code}\nstdout: {result.stdout}\nstderr: {result.stderr}\n"
            f"denied: {self.iam.denied()}"
        )
        return result

    def policy_from_keep_iam(self, *args: str) -> dict[str, Any]:
        self.iam.policy = None
        doc = self.ok("iam", *args).json()
        assert isinstance(doc, dict)
        return doc

    def seed_values(self, vault: str, stages: tuple[str, ...] = STAGES) -> None:
        """EXISTING=fake-existing-<stage> in each stage, written with IAM switched off."""
        saved, self.iam.policy = self.iam.policy, None
        try:
            for stage in stages:
                self.ok("set", "EXISTING", f"fake-existing-{stage}", "--vault", vault, "--stage", stage)
        finally:
            self.iam.policy = saved
        self.iam.reset()


@pytest.fixture
def aws(kp: KeepRunner, moto: str) -> Iterator[Aws]:
    proxy = Proxy(moto).start()
    emulator = IamEmulator(moto).attach(proxy)
    vaults = kp.cwd / ".keep" / "vaults"
    for slug in (SM, "ssm"):
        vaults.joinpath(f"{slug}.json").write_text(
            json.dumps({"slug": slug, "driver": slug, "name": slug, "region": "us-east-1"})
        )
    try:
        yield Aws(kp, emulator)
    finally:
        proxy.stop()


def where(vault: str, stage: str) -> tuple[str, ...]:
    return ("--vault", vault, "--stage", stage)


def only_absent_resources_denied(aws: Aws) -> None:
    """Under a policy that grants a scenario, AWS may still deny a call on a secret that does
    not exist yet (a tag-conditioned policy cannot match a secret without tags: keep's `set`
    probes with PutSecretValue, `copy` looks up the destination). Nothing that exists may be
    denied."""
    wrongly = [d for d in aws.iam.denied() if d.exists]
    assert not wrongly, wrongly


def full_cycle(aws: Aws, vault: str, stage: str, copy_to: str) -> None:
    """set (new and existing), get, show, export, history, rollback, delete, restore, copy.

    Each step's exit status is what IAM decides; the values are checked where a step's effect
    is visible to the next one (the commands' own tests check the rest)."""
    at = where(vault, stage)
    key = f"NEW_{stage.upper()}"
    assert "created" in aws.ok("set", key, f"fake-first-{stage}", *at).stderr.lower()
    aws.ok("set", key, f"fake-second-{stage}", *at)
    assert aws.ok("get", key, "--format", "raw", *at).stdout == f"fake-second-{stage}\n"
    shown = aws.ok("show", "--format", "json", *at).json()
    assert isinstance(shown, list)
    assert {row["key"] for row in shown} >= {key, "EXISTING"}
    exported = aws.ok("export", "--format", "json", *at).json()
    assert isinstance(exported, dict)
    assert exported[key] == f"fake-second-{stage}" and "EXISTING" in exported
    history = aws.ok("history", key, "--format", "json", "--unmask", *at).json()
    assert isinstance(history, list)
    assert [v["value"] for v in history] == [f"fake-second-{stage}", f"fake-first-{stage}"]
    aws.ok("rollback", key, "--to", str(history[1]["version"]), *at)
    aws.ok("delete", key, "--force", *at)
    if vault == SM:
        aws.ok("restore", key, *at)
        assert aws.ok("get", key, "--format", "raw", *at).stdout == f"fake-first-{stage}\n"
    aws.ok("copy", key if vault == SM else "EXISTING", "--from", f"{vault}:{stage}", "--to", f"{vault}:{copy_to}",
           "--overwrite")


def read_cycle(aws: Aws, vault: str, stage: str) -> None:
    at = where(vault, stage)
    assert aws.ok("get", "EXISTING", "--format", "raw", *at).stdout == f"fake-existing-{stage}\n"
    shown = aws.ok("show", "--format", "json", "--unmask", *at).json()
    assert isinstance(shown, list)
    assert [(row["key"], row["value"]) for row in shown] == [("EXISTING", f"fake-existing-{stage}")]
    assert aws.ok("export", *at).stdout == f"EXISTING=fake-existing-{stage}\n"


def assert_denied(result: Result, action: str) -> None:
    assert result.code == 4, result
    assert result.stdout == ""
    assert "denied" in result.stderr.lower() and action in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def set_is_denied(aws: Aws, vault: str, stage: str) -> None:
    action = "CreateSecret" if vault == SM else "ssm:PutParameter"
    assert_denied(aws("set", "DENIED_KEY", "fake-denied-1", *where(vault, stage)), action)
    assert_denied(aws("set", "EXISTING", "fake-denied-2", *where(vault, stage)),
                  "CreateSecret" if vault == SM else "ssm:PutParameter")
    saved, aws.iam.policy = aws.iam.policy, None
    try:
        assert aws("get", "DENIED_KEY", *where(vault, stage)).code == 3
        assert aws.ok("get", "EXISTING", "--format", "raw", *where(vault, stage)).stdout == (
            f"fake-existing-{stage}\n")
    finally:
        aws.iam.policy = saved


def get_is_denied(aws: Aws, vault: str, stage: str) -> None:
    result = aws("get", "EXISTING", *where(vault, stage))
    assert result.stdout == ""
    assert "denied" in result.stderr.lower() and "Traceback" not in result.stderr
    assert result.code == 4, result


# -- the seed page's policies (Secrets Manager) ----------------------------------------------

def test_seed_full_developer_access(aws: Aws) -> None:
    aws.seed_values(SM)
    aws.iam.policy = seed("full_developer")
    for stage, copy_to in zip(STAGES, (*STAGES[1:], STAGES[0]), strict=True):
        full_cycle(aws, SM, stage, copy_to)
    only_absent_resources_denied(aws)
    assert {"secretsmanager:CreateSecret", "secretsmanager:TagResource", "secretsmanager:BatchGetSecretValue",
            "secretsmanager:UpdateSecretVersionStage", "secretsmanager:RestoreSecret"} <= set(aws.iam.actions())


def test_seed_environment_specific_access(aws: Aws) -> None:
    aws.seed_values(SM)
    aws.iam.policy = seed("environment_specific")
    full_cycle(aws, SM, "staging", "production")
    full_cycle(aws, SM, "production", "staging")
    only_absent_resources_denied(aws)
    result = aws("set", "LOCAL_KEY", "fake-local-1", *where(SM, "local"))
    assert_denied(result, "CreateSecret")
    assert "myapp/local/LOCAL_KEY" in result.stderr
    set_is_denied(aws, SM, "local")


def test_seed_production_read_only(aws: Aws) -> None:
    aws.seed_values(SM)
    aws.iam.policy = seed("production_readonly")
    read_cycle(aws, SM, "production")
    assert not aws.iam.denied()
    set_is_denied(aws, SM, "production")


def test_seed_production_read_only_denies_get_in_staging(aws: Aws) -> None:
    aws.seed_values(SM, ("staging",))
    aws.iam.policy = seed("production_readonly")
    get_is_denied(aws, SM, "staging")


def test_seed_production_read_only_show_in_staging_names_the_denied_secrets(aws: Aws) -> None:
    aws.seed_values(SM, ("staging",))
    aws.iam.policy = seed("production_readonly")
    result = aws("show", *where(SM, "staging"))
    assert result.code != 0 and result.stdout == ""
    assert "myapp/staging/EXISTING" in result.stderr and "AccessDeniedException" in result.stderr
    # BatchGetSecretValue itself is allowed account-wide; the secret was moved to Errors
    assert [d.operation for d in aws.iam.denied()] == ["BatchGetSecretValue"]


# -- keep iam's own policies, both drivers ---------------------------------------------------

@pytest.mark.parametrize("vault", [SM, "ssm"])
def test_keep_iam_full_policy(aws: Aws, vault: str) -> None:
    aws.seed_values(vault)
    aws.iam.policy = aws.policy_from_keep_iam("--vault", vault)
    for stage, copy_to in zip(STAGES, (*STAGES[1:], STAGES[0]), strict=True):
        full_cycle(aws, vault, stage, copy_to)
    only_absent_resources_denied(aws)
    if vault == "ssm":
        assert not aws.iam.denied()


@pytest.mark.parametrize("vault", [SM, "ssm"])
def test_keep_iam_stage_limited_policy(aws: Aws, vault: str) -> None:
    aws.seed_values(vault)
    aws.iam.policy = aws.policy_from_keep_iam("--vault", vault, "--stage", "staging,production")
    full_cycle(aws, vault, "staging", "production")
    full_cycle(aws, vault, "production", "staging")
    only_absent_resources_denied(aws)
    set_is_denied(aws, vault, "local")
    result = aws("show", *where(vault, "local"))
    assert result.code != 0 and result.stdout == ""
    assert "denied" in result.stderr.lower() or "AccessDenied" in result.stderr


@pytest.mark.parametrize("vault", [SM, "ssm"])
def test_keep_iam_stage_limited_policy_denies_get_elsewhere(aws: Aws, vault: str) -> None:
    aws.seed_values(vault, ("local",))
    aws.iam.policy = aws.policy_from_keep_iam("--vault", vault, "--stage", "staging,production")
    get_is_denied(aws, vault, "local")


@pytest.mark.parametrize("vault", [SM, "ssm"])
def test_keep_iam_read_only_policy(aws: Aws, vault: str) -> None:
    aws.seed_values(vault)
    aws.iam.policy = aws.policy_from_keep_iam("--vault", vault, "--stage", "production", "--read-only")
    read_cycle(aws, vault, "production")
    history = aws.ok("history", "EXISTING", "--format", "json", *where(vault, "production")).json()
    assert isinstance(history, list) and len(history) == 1
    assert not aws.iam.denied()
    set_is_denied(aws, vault, "production")
    result = aws("delete", "EXISTING", "--force", *where(vault, "production"))
    assert result.code != 0 and result.stdout == ""
    assert ("DeleteSecret" if vault == SM else "ssm:DeleteParameter") in result.stderr
    if vault == "ssm":
        assert result.code == 4


@pytest.mark.parametrize("vault", [SM, "ssm"])
def test_keep_iam_read_only_policy_denies_get_in_staging(aws: Aws, vault: str) -> None:
    aws.seed_values(vault, ("staging",))
    aws.iam.policy = aws.policy_from_keep_iam("--vault", vault, "--stage", "production", "--read-only")
    get_is_denied(aws, vault, "staging")


def test_keep_iam_policy_for_both_vaults_at_once(aws: Aws) -> None:
    aws.seed_values(SM, ("staging",))
    aws.seed_values("ssm", ("staging",))
    aws.iam.policy = aws.policy_from_keep_iam("--stage", "staging")
    for vault in (SM, "ssm"):
        aws.ok("set", "BOTH", f"fake-both-{vault}", *where(vault, "staging"))
        assert aws.ok("get", "BOTH", "--format", "raw", *where(vault, "staging")).stdout == f"fake-both-{vault}\n"
    diff = aws.ok("diff", "--vault", f"{SM},ssm", "--stage", "staging", "--format", "json").json()
    assert isinstance(diff, dict)
    only_absent_resources_denied(aws)


# -- verify ---------------------------------------------------------------------------------

def matrix_rows(result: Result) -> list[list[str]]:
    return [line.split() for line in result.stdout.splitlines()[2:]]


def test_verify_on_moto_prints_the_full_matrix(aws: Aws) -> None:
    result = aws.ok("verify", "--vault", f"{SM},ssm")
    assert matrix_rows(result) == [
        [vault, stage, "✓", "✓", "✓", "✓", "✓"] for vault in (SM, "ssm") for stage in STAGES
    ]
    # every temporary key is gone, and on Secrets Manager purged (not merely scheduled)
    import boto3

    sm = boto3.client("secretsmanager", endpoint_url=moto_url(aws), region_name="us-east-1")
    assert sm.list_secrets(IncludePlannedDeletion=True)["SecretList"] == []
    ssm = boto3.client("ssm", endpoint_url=moto_url(aws), region_name="us-east-1")
    assert ssm.describe_parameters()["Parameters"] == []


def moto_url(aws: Aws) -> str:
    return f"http://{aws.iam.upstream_host}:{aws.iam.upstream_port}"


def test_verify_under_keep_iam_policy_and_under_read_only(aws: Aws) -> None:
    aws.iam.policy = aws.policy_from_keep_iam()
    result = aws.ok("verify", "--vault", f"{SM},ssm")
    assert all(row[2:] == ["✓"] * 5 for row in matrix_rows(result))
    only_absent_resources_denied(aws)

    aws.seed_values(SM, ("production",))
    aws.seed_values("ssm", ("production",))
    aws.iam.policy = aws.policy_from_keep_iam("--stage", "production", "--read-only")
    result = aws("verify", "--vault", f"{SM},ssm", "--stage", "production")
    assert result.code == 1
    assert matrix_rows(result) == [[vault, "production", "✓", "✗", "✓", "✓", "-"] for vault in (SM, "ssm")]
    assert "action secretsmanager:CreateSecret" in result.stderr
    assert "action ssm:PutParameter" in result.stderr
    assert "KeepSecretsManagerCreate" in result.stderr and "KeepSsmReadWrite" in result.stderr
    # what a read-only role can check for itself
    result = aws.ok("verify", "--vault", f"{SM},ssm", "--stage", "production", "--read-only")
    assert matrix_rows(result) == [[vault, "production", "✓", "-", "✓", "✓", "-"] for vault in (SM, "ssm")]


# -- customer managed KMS key ------------------------------------------------------------------

@pytest.mark.parametrize("vault", [SM, "ssm"])
def test_customer_managed_key(aws: Aws, vault: str) -> None:
    import boto3

    kms = boto3.client("kms", endpoint_url=moto_url(aws), region_name="us-east-1")
    key_id = kms.create_key(Description="keep test key")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/keep-fake", TargetKeyId=key_id)
    path = aws.kp.cwd / ".keep" / "vaults" / f"{vault}.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, "key": "alias/keep-fake"}))

    policy = aws.policy_from_keep_iam("--vault", vault, "--stage", "production")
    aws.iam.policy = {"Version": "2012-10-17", "Statement": [s for s in policy["Statement"] if "Kms" not in s["Sid"]]}
    result = aws("set", "CMK_VALUE", "fake-kms-1", *where(vault, "production"))
    assert result.code == 4 and result.stdout == ""
    assert "kms:" in result.stderr and key_id in result.stderr

    aws.iam.reset()
    aws.iam.policy = policy
    aws.ok("set", "CMK_VALUE", "fake-kms-1", *where(vault, "production"))
    assert aws.ok("get", "CMK_VALUE", "--format", "raw", *where(vault, "production")).stdout == "fake-kms-1\n"
    assert aws.ok("export", *where(vault, "production")).stdout == "CMK_VALUE=fake-kms-1\n"
    assert any(d.action.startswith("kms:") and d.allowed for d in aws.iam.decisions)
    only_absent_resources_denied(aws)


def test_seed_full_developer_access_creates_a_key_named_like_kms(aws: Aws) -> None:
    # AWS's denial of the probing PutSecretValue names the secret; a key containing "KMS" must
    # not make it look like a KMS denial (which would stop keep from creating the secret)
    aws.iam.policy = seed("full_developer")
    aws.ok("set", "KMS_KEY_ID", "fake-key-id-1", *where(SM, "local"))


# -- every other command that talks to AWS, under keep iam's full policy ---------------------

@pytest.mark.parametrize("vault", [SM, "ssm"])
def test_other_commands_under_keep_iam_full_policy(aws: Aws, vault: str) -> None:
    aws.seed_values(vault, ("staging", "production"))
    aws.iam.policy = aws.policy_from_keep_iam("--vault", vault)
    at = where(vault, "staging")
    aws.ok("rename", "EXISTING", "RENAMED", *at)
    found = aws.ok("search", "fake-existing", "--format", "json", *at).json()
    assert isinstance(found, list) and [row["key"] for row in found] == ["RENAMED"]
    aws.ok("import", "-", *at, input="IMPORTED_A=fake-import-a\nIMPORTED_B=fake-import-b\n")
    rotated = aws.ok("rotate", "IMPORTED_A", *at)
    assert "fake-import-a" not in rotated.stdout
    diff = aws.ok("diff", "--vault", vault, "--stage", "staging,production", "--format", "json").json()
    assert isinstance(diff, dict) and {row["key"] for row in diff["rows"]} >= {"RENAMED", "EXISTING"}
    ran = aws.ok("run", *at, "--only", "IMPORTED_B", "--", "python3", "-c",
                 "import os; print(os.environ['IMPORTED_B'])")
    assert ran.stdout == "fake-import-b\n"
    aws.ok("template:add", *at)
    rendered = aws.ok("export", "--template", str(aws.kp.cwd / "env" / "staging.env"), *at)
    assert "IMPORTED_B=fake-import-b" in rendered.stdout
    aws.ok("template:validate", str(aws.kp.cwd / "env" / "staging.env"), *at)
    only_absent_resources_denied(aws)


def test_replicas_under_keep_iam_policy(aws: Aws) -> None:
    path = aws.kp.cwd / ".keep" / "vaults" / f"{SM}.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "replica_regions": ["eu-west-1"]}))
    aws.iam.policy = aws.policy_from_keep_iam("--vault", SM, "--stage", "staging")
    aws.ok("set", "REPLICATED", "fake-replicated-1", *where(SM, "staging"))
    aws.ok("replicate", *where(SM, "staging"))
    aws.ok("delete", "REPLICATED", "--force", "--purge", *where(SM, "staging"))
    assert "secretsmanager:ReplicateSecretToRegions" in aws.iam.actions()
    only_absent_resources_denied(aws)
    # without the replication grant, creating a replicated secret is refused
    without = aws.policy_from_keep_iam("--vault", SM, "--stage", "staging")
    for statement in without["Statement"]:
        if statement["Sid"] == "KeepSecretsManagerReadWrite":
            statement["Action"] = [a for a in statement["Action"] if "Replica" not in a and "Regions" not in a]
    aws.iam.policy = without
    result = aws("set", "REPLICATED_2", "fake-replicated-2", *where(SM, "staging"))
    assert result.code == 4 and "ReplicateSecretToRegions" in result.stderr
