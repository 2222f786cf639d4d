"""Export and templates across an SSM and a Secrets Manager vault on moto (over HTTP, through
the counting proxy): merged vaults, placeholders of both vaults including a JSON field, and
whole-stage reads only (never one call per key)."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.aws.proxy import Proxy

from .conftest import KeepRunner
from .export_support import seed

pytestmark = pytest.mark.aws

SSM = {f"SSM_{i:02d}": f"fake-ssm-value-{i}" for i in range(12)} | {"SHARED": "from-ssm", "DB_USER": "fake_user"}
SM = {
    "SHARED": "from-secretsmanager",
    "GITHUB_TOKEN": "ghp_fake'token\"$x",
    "DB_CREDS": json.dumps({"username": "fake-admin", "password": "fake pw #1"}),
}


@pytest.fixture
def aws(kp: KeepRunner, counted: Proxy) -> KeepRunner:
    for driver in ("ssm", "secretsmanager"):
        kp.ok("vault:add", "--driver", driver, "--slug", driver, "--region", "us-east-1",
              "--endpoint-url", counted.url, "--no-verify", "-n")
    seed(kp, "production", SSM, vault="ssm")
    seed(kp, "production", SM, vault="secretsmanager")
    counted.reset_counts()
    return kp


def per_key_reads(proxy: Proxy) -> int:
    return proxy.counts["GetParameter"] + proxy.counts["GetSecretValue"]


def test_export_merges_ssm_and_secretsmanager(aws: KeepRunner, counted: Proxy) -> None:
    result = aws.ok("export", "--stage", "production", "--vault", "ssm,secretsmanager", "--format", "json")
    assert result.json() == {**SSM, **SM}
    assert "SHARED is in both ssm and secretsmanager; using secretsmanager" in result.stderr
    assert per_key_reads(counted) == 0
    # 14 parameters: one page of names, two batches of values
    assert (counted.counts["DescribeParameters"], counted.counts["GetParameters"]) == (1, 2)
    assert sum(n for op, n in counted.counts.items() if op not in ("DescribeParameters", "GetParameters")) <= 2


def test_template_over_both_vaults(aws: KeepRunner, counted: Proxy) -> None:
    (aws.cwd / "env").mkdir()
    (aws.cwd / "env" / "production.env").write_text(
        "APP=static\n"
        "DB_USER={ssm}\n"
        "DB_PASSWORD={secretsmanager:DB_CREDS.password}\n"
        "URL=postgres://{ssm:DB_USER}:{secretsmanager:DB_CREDS.password}@db/app\n"
        "GITHUB_TOKEN={secretsmanager}\n"
        "FIRST={ssm:SSM_00}\n"
    )
    expected = {
        "APP": "static",
        "DB_USER": "fake_user",
        "DB_PASSWORD": "fake pw #1",
        "URL": "postgres://fake_user:fake pw #1@db/app",
        "GITHUB_TOKEN": "ghp_fake'token\"$x",
        "FIRST": "fake-ssm-value-0",
    }
    out = aws.ok("export", "--stage", "production", "--template", "--format", "yaml")
    assert yaml.safe_load(out.stdout) == expected
    assert per_key_reads(counted) == 0
    # the ssm stage listed once (one page of names, two batches of values)
    assert (counted.counts["DescribeParameters"], counted.counts["GetParameters"]) == (1, 2)
    counted.reset_counts()
    result = aws("export", "--stage", "production", "--template", "--format", "json", "--all")
    assert result.code == 0, result.stderr
    # --all adds the workspace's vaults (secretsmanager, ssm, then the default local): ssm wins SHARED
    assert result.json() == {**expected, **{k: v for k, v in SSM.items() if k not in ("DB_USER", "SSM_00")}}
    assert "SHARED is in both secretsmanager and ssm; using ssm" in result.stderr
    valid = aws("template:validate", "--stage", "production")
    assert valid.code == 0, valid.stderr
