"""Errors that say what is wrong: the missing rotation Lambda, the AWS profile actually in effect,
a default_vault that names no vault, an unreachable store (not a permission problem), and an
empty value on SSM (Secrets Manager cannot hold one either)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import KeepRunner, Result


def add_vault(project: Path, slug: str, driver: str, endpoint: str) -> None:
    data = {"slug": slug, "driver": driver, "name": slug.upper(), "region": "us-east-1", "endpoint_url": endpoint}
    (project / ".keep" / "vaults" / f"{slug}.json").write_text(json.dumps(data))


def closed_port_url(port: int) -> str:
    """`port`: the closed_port fixture's (held closed for the whole test; a port merely free
    when asked could be taken by another pytest-xdist worker's server before keep connects)."""
    return f"http://127.0.0.1:{port}"


def single_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.aws
def test_rotate_with_a_missing_lambda_names_the_lambda(kp: KeepRunner, moto: str) -> None:
    add_vault(kp.cwd, "sm", "secretsmanager", moto)
    where = ("--vault", "sm", "--stage", "production")
    kp.ok("set", "DB_PASSWORD", "fake-db-pass-123", *where)
    arn = "arn:aws:lambda:us-east-1:123456789012:function:fake-missing-rotator"
    result = kp("rotate", "DB_PASSWORD", "--lambda", arn, *where)
    assert result.code == 3
    line = single_line(result)
    assert f"Rotation Lambda {arn} not found" in line, line
    assert "Secret myapp/production/DB_PASSWORD not found" not in line


@pytest.mark.aws
@pytest.mark.parametrize("variable", ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"])
def test_a_missing_aws_profile_is_named(kp: KeepRunner, moto: str, variable: str) -> None:
    add_vault(kp.cwd, "sm", "secretsmanager", moto)
    result = kp("show", "--vault", "sm", "--stage", "staging", env={variable: "fake-nonexistent"})
    assert result.code == 2
    line = single_line(result)
    assert f"AWS profile 'fake-nonexistent' ({variable}, for vault 'sm') is not configured" in line, line
    assert "'None'" not in line


@pytest.mark.aws
def test_a_missing_vault_profile_is_named(kp: KeepRunner, moto: str) -> None:
    add_vault(kp.cwd, "sm", "secretsmanager", moto)
    config = kp.cwd / ".keep" / "vaults" / "sm.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "profile": "fake-team"}))
    line = single_line(kp("get", "K", "--vault", "sm", "--stage", "staging"))
    assert "AWS profile 'fake-team' (the profile of vault 'sm') is not configured" in line


def test_default_vault_naming_no_vault_is_a_configuration_error(kp: KeepRunner) -> None:
    kp.ok("set", "DB_PASSWORD", "fake-db-pass", "--stage", "local")
    settings = kp.cwd / ".keep" / "settings.json"
    settings.write_text(json.dumps({**json.loads(settings.read_text()), "default_vault": "ghost"}))
    expected = f"default_vault 'ghost' in {settings} is not a configured vault (configured: local)"
    for command in (["show", "--stage", "local"], ["get", "DB_PASSWORD", "--stage", "local"],
                    ["export", "--stage", "local"], ["shell"]):
        result = kp(*command, input="exit\n")
        assert result.code == 2, (command, result.stderr)
        assert expected in single_line(result) and result.stdout == ""
    # an explicit --vault still works, and so does the repair
    assert kp.ok("get", "DB_PASSWORD", "--stage", "local", "--vault", "local", "--format", "raw").stdout == (
        "fake-db-pass\n"
    )
    info = kp.ok("info")
    assert f"warning: configuration error: {expected}" in info.stderr
    assert "ghost (NOT CONFIGURED)" in info.stdout
    assert kp.ok("info", "--format", "json").json()["problems"] == [expected]  # type: ignore[index]
    kp.ok("vault:default", "local")
    assert kp.ok("info", "--format", "json").json()["problems"] == []  # type: ignore[index]
    kp.ok("show", "--stage", "local")


@pytest.mark.aws
def test_verify_with_the_store_unreachable_suggests_no_policy(kp: KeepRunner, closed_port: int) -> None:
    add_vault(kp.cwd, "sm", "secretsmanager", closed_port_url(closed_port))
    result = kp("verify", "--vault", "sm", "--stage", "staging", env={"KEEP_AWS_MAX_ATTEMPTS": "1"})
    assert result.code == 1
    assert "1 of 1 vault/stage combination(s) could not be checked: the store cannot be reached" in result.stderr
    assert "lack a permission" not in result.stderr and "keep iam" not in result.stderr
    as_json = kp("verify", "--vault", "sm", "--stage", "staging", "--format", "json",
                 env={"KEEP_AWS_MAX_ATTEMPTS": "1"}).json()
    assert [row["unreachable"] for row in as_json] == [True]  # type: ignore[index, union-attr]


@pytest.mark.aws
def test_vault_add_with_the_store_unreachable_suggests_no_policy(kp: KeepRunner, closed_port: int) -> None:
    result = kp.ok("vault:add", "--driver", "secretsmanager", "--slug", "sm", "--region", "us-east-1",
                   "--endpoint-url", closed_port_url(closed_port), "-n", env={"KEEP_AWS_MAX_ATTEMPTS": "1"})
    assert "vault 'sm' was saved, but its store cannot be reached" in result.stderr
    assert "keep iam" not in result.stderr and "permissions are missing" not in result.stderr


@pytest.mark.aws
def test_empty_value_on_ssm_suggests_only_a_vault_that_holds_one(kp: KeepRunner, moto: str) -> None:
    add_vault(kp.cwd, "ssm", "ssm", moto)
    result = kp("set", "EMPTY", "", "--vault", "ssm", "--stage", "staging")
    assert result.code == 2
    line = single_line(result)
    assert "Parameter Store cannot hold an empty value" in line and "use a local vault" in line
    assert "Secrets Manager" not in line
