"""The `keep` CLI against moto's server, pointed at it by AWS_ENDPOINT_URL only
(the vault files carry no endpoint), for both AWS drivers and `keep replicate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.aws.conftest import REGION, REPLICA
from tests.conftest import KeepRunner

pytestmark = pytest.mark.aws


def add_vault(project: Path, slug: str, driver: str, **options: Any) -> None:
    data = {"slug": slug, "driver": driver, "name": f"Fake {driver}", "scope": "", "region": REGION, **options}
    (project / ".keep" / "vaults" / f"{slug}.json").write_text(json.dumps(data, indent=4) + "\n")


@pytest.fixture
def aws(kp: KeepRunner, moto: str) -> tuple[KeepRunner, dict[str, str]]:
    add_vault(kp.cwd, "sm", "secretsmanager")
    add_vault(kp.cwd, "ssm", "ssm")
    return kp, {"AWS_ENDPOINT_URL": moto}


def no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr


def test_secretsmanager_cycle(aws: tuple[KeepRunner, dict[str, str]], moto: str) -> None:
    kp, env = aws
    sm = ["--vault", "sm", "--stage", "staging"]
    created = kp.ok("set", "DB_PASSWORD", "fake-db-pass-123", *sm, env=env)
    assert "created" in created.stderr.lower() and created.stdout == ""
    kp.ok("set", "DB_PASSWORD", "fake-db-pass-456", *sm, env=env)
    assert kp.ok("get", "DB_PASSWORD", "--format", "raw", *sm, env=env).stdout == "fake-db-pass-456\n"
    got = kp.ok("get", "DB_PASSWORD", "--format", "json", *sm, env=env).json()
    assert isinstance(got, dict) and got["value"] == "fake-db-pass-456" and got["vault"] == "sm"
    previous = kp.ok("get", "DB_PASSWORD", "--version", "AWSPREVIOUS", "--format", "raw", *sm, env=env)
    assert previous.stdout == "fake-db-pass-123\n"

    kp.ok("set", "DB_CREDS", '{"username": "fake-user", "password": "fake-pw"}', *sm, env=env)
    field = kp.ok("get", "DB_CREDS", "--field", "username", "--format", "raw", *sm, env=env)
    assert field.stdout == "fake-user\n"

    shown = kp.ok("show", "--format", "json", *sm, env=env).json()
    assert isinstance(shown, list)
    assert [row["key"] for row in shown] == ["DB_CREDS", "DB_PASSWORD"]
    assert all(row["value"] != "fake-db-pass-456" for row in shown)  # masked
    unmasked = kp.ok("show", "--format", "json", "--unmask", *sm, env=env).json()
    assert isinstance(unmasked, list) and unmasked[1]["value"] == "fake-db-pass-456"

    history = kp.ok("history", "DB_PASSWORD", "--format", "json", "--unmask", *sm, env=env).json()
    assert isinstance(history, list)
    assert [h["value"] for h in history] == ["fake-db-pass-456", "fake-db-pass-123"]
    assert history[0]["labels"] == ["AWSCURRENT"] and history[0]["current"] is True
    kp.ok("rollback", "DB_PASSWORD", "--to", history[1]["version"], *sm, env=env)
    assert kp.ok("get", "DB_PASSWORD", "--format", "raw", *sm, env=env).stdout == "fake-db-pass-123\n"

    kp.ok("delete", "DB_PASSWORD", "--force", *sm, env=env)
    gone = kp("get", "DB_PASSWORD", *sm, env=env)
    assert gone.code == 3 and "scheduled for deletion" in gone.stderr and "keep restore" in gone.stderr
    no_traceback(gone.stderr)
    kp.ok("restore", "DB_PASSWORD", *sm, env=env)
    assert kp.ok("get", "DB_PASSWORD", "--format", "raw", *sm, env=env).stdout == "fake-db-pass-123\n"
    kp.ok("delete", "DB_PASSWORD", "--force", "--purge", *sm, env=env)
    purged = kp("get", "DB_PASSWORD", *sm, env=env)
    assert purged.code == 3 and "myapp/staging/DB_PASSWORD" in purged.stderr

    described = boto3.client("secretsmanager", endpoint_url=moto, region_name=REGION).describe_secret(
        SecretId="myapp/staging/DB_CREDS"
    )
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == {
        "ManagedBy": "Keep", "Namespace": "myapp", "Stage": "staging", "VaultSlug": "sm",
    }


def test_ssm_cycle(aws: tuple[KeepRunner, dict[str, str]], moto: str) -> None:
    kp, env = aws
    ssm = ["--vault", "ssm", "--stage", "production"]
    kp.ok("set", "API_KEY", "fake-api-key-1", *ssm, env=env)
    kp.ok("set", "API_KEY", "fake-api-key-2", *ssm, env=env)
    kp.ok("set", "PUBLIC_URL", "https://example.invalid", "--plain", *ssm, env=env)
    got = kp.ok("get", "API_KEY", "--format", "json", *ssm, env=env).json()
    assert isinstance(got, dict) and (got["value"], got["revision"], got["secure"]) == ("fake-api-key-2", "2", True)
    plain = kp.ok("get", "PUBLIC_URL", "--format", "json", *ssm, env=env).json()
    assert isinstance(plain, dict) and plain["secure"] is False
    exported = kp.ok("export", "--format", "env", *ssm, env=env)
    assert exported.stdout.splitlines() == ["API_KEY=fake-api-key-2", "PUBLIC_URL=https://example.invalid"]
    history = kp.ok("history", "API_KEY", "--format", "json", "--unmask", *ssm, env=env).json()
    assert isinstance(history, list) and [h["version"] for h in history] == ["2", "1"]
    kp.ok("rollback", "API_KEY", "--to", "1", *ssm, env=env)
    assert kp.ok("get", "API_KEY", "--format", "raw", *ssm, env=env).stdout == "fake-api-key-1\n"
    big = kp("set", "BIG", "x" * 5000, *ssm, env=env)
    assert big.code == 2 and "4096" in big.stderr
    no_traceback(big.stderr)
    kp.ok("delete", "API_KEY", "--force", *ssm, env=env)
    missing = kp("get", "API_KEY", *ssm, env=env)
    assert missing.code == 3 and "/myapp/production/API_KEY" in missing.stderr
    value = boto3.client("ssm", endpoint_url=moto, region_name=REGION).get_parameter(
        Name="/myapp/production/PUBLIC_URL"
    )["Parameter"]
    assert value["Type"] == "String"


def test_unreachable_endpoint_is_one_clean_line(kp: KeepRunner, closed_port: int) -> None:
    add_vault(kp.cwd, "sm", "secretsmanager")
    endpoint = f"http://127.0.0.1:{closed_port}"  # refuses connections for the whole test
    result = kp("get", "ANY", "--vault", "sm", "--stage", "staging",
                env={"AWS_ENDPOINT_URL": endpoint, "KEEP_AWS_MAX_ATTEMPTS": "2"})
    assert result.code == 1
    assert result.stdout == ""
    no_traceback(result.stderr)
    assert len(result.stderr.strip().splitlines()) == 1
    assert endpoint in result.stderr and REGION in result.stderr and "2 attempts" in result.stderr


def test_replicate_command(aws: tuple[KeepRunner, dict[str, str]], moto: str) -> None:
    kp, env = aws
    kp.ok("set", "OLD_SECRET", "fake-old", "--vault", "sm", "--stage", "production", env=env)
    add_vault(kp.cwd, "sm", "secretsmanager", replica_regions=[REPLICA])
    dry = kp.ok("replicate", "--stage", "production", "--dry-run", env=env)
    assert dry.stdout.strip() == f"sm:production OLD_SECRET: would add {REPLICA}"
    replica = boto3.client("secretsmanager", endpoint_url=moto, region_name=REPLICA)
    assert replica.list_secrets()["SecretList"] == []
    done = kp.ok("replicate", "--stage", "production", "--vault", "sm", "--format", "json", env=env).json()
    assert done == [
        {"vault": "sm", "stage": "production", "key": "OLD_SECRET", "name": "myapp/production/OLD_SECRET",
         "add": [REPLICA], "remove": [], "status": "done", "error": None}
    ]
    assert replica.get_secret_value(SecretId="myapp/production/OLD_SECRET")["SecretString"] == "fake-old"
    again = kp.ok("replicate", "--stage", "production", env=env)
    assert again.stdout == "" and "already match" in again.stderr
    wrong = kp("replicate", "--vault", "ssm", "--stage", "production", env=env)
    assert wrong.code == 2 and "does not replicate secrets" in wrong.stderr
    bad_stage = kp("replicate", "--stage", "prod", env=env)
    assert bad_stage.code == 2


def test_rotate_without_lambda_makes_a_new_awscurrent(aws: tuple[KeepRunner, dict[str, str]]) -> None:
    kp, env = aws
    sm = ["--vault", "sm", "--stage", "staging"]
    kp.ok("set", "TOKEN", "fake-token-old", *sm, env=env)
    kp.ok("rotate", "TOKEN", *sm, env=env)
    new = kp.ok("get", "TOKEN", "--format", "raw", *sm, env=env).stdout.strip()
    assert new and new != "fake-token-old"
    previous = kp.ok("get", "TOKEN", "--version", "AWSPREVIOUS", "--format", "raw", *sm, env=env)
    assert previous.stdout == "fake-token-old\n"


def test_vault_add_probes_an_aws_vault(kp: KeepRunner, moto: str) -> None:
    result = kp("vault:add", "--driver", "secretsmanager", "--slug", "sm2", "--name", "Fake SM",
                "--region", REGION, "-n", env={"AWS_ENDPOINT_URL": moto})
    assert result.code == 0, result.stderr
    no_traceback(result.stderr)
    listed = boto3.client("secretsmanager", endpoint_url=moto, region_name=REGION).list_secrets()["SecretList"]
    assert listed == []  # the probe's temporary keys were purged


def test_local_commands_never_import_boto3(kp: KeepRunner) -> None:
    kp.ok("set", "LOCAL_ONLY", "fake-local", "--stage", "local")
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('BOTO3=%s\\n' % ('boto3' in sys.modules)))\n"
        "from keep_secrets.cli import main\n"
        "sys.exit(main())\n"
    )
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", probe, "get", "LOCAL_ONLY", "--format", "raw", "--stage", "local"],
        cwd=kp.cwd, env=kp.env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "fake-local\n"
    assert "BOTO3=False" in proc.stderr


def test_rotate_with_lambda_sends_rotate_secret(aws: tuple[KeepRunner, dict[str, str]], moto: str) -> None:
    """moto's Lambda rotation is broken, so the proxy answers RotateSecret itself and the test
    checks what keep sent."""
    from tests.aws.proxy import Proxy, ProxyRequest, ProxyResponse

    kp, _ = aws
    seen: list[dict[str, Any]] = []

    def rotate(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation != "RotateSecret":
            return None
        seen.append(request.json)
        body = {"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:fake", "Name": request.json["SecretId"],
                "VersionId": "fake-rotation-version-000000000000001"}
        return ProxyResponse(200, json.dumps(body).encode(), {"Content-Type": "application/x-amz-json-1.1"})

    arn = "arn:aws:lambda:us-east-1:123456789012:function:fake-rotator"
    with Proxy(moto, hooks=[rotate]) as proxy:
        env = {"AWS_ENDPOINT_URL": proxy.url}
        kp.ok("set", "DB_PASSWORD", "fake-db-pass-123", "--vault", "sm", "--stage", "production", env=env)
        kp.ok("rotate", "DB_PASSWORD", "--lambda", arn, "--every", "30d", "--vault", "sm", "--stage", "production",
              env=env)
    # botocore adds an idempotency token of its own
    assert all(request.pop("ClientRequestToken", None) for request in seen)
    assert seen == [
        {
            "SecretId": "myapp/production/DB_PASSWORD",
            "RotationLambdaARN": arn,
            "RotationRules": {"AutomaticallyAfterDays": 30},
            "RotateImmediately": True,
        }
    ]


@pytest.mark.parametrize("cache", ["off", "on"])
@pytest.mark.parametrize("window", [0, 7, None])
def test_delete_says_restorable_only_when_it_is(kp: KeepRunner, moto: str, window: int | None, cache: str) -> None:
    """A Secrets Manager vault with recovery_window_days 0 deletes at once (ForceDeleteWithout
    Recovery): `keep delete` said "undo with `keep restore KEY`" all the same, and the restore
    then failed (exit 3). It says "for good" where the secret is gone for good (also through the cache)."""
    options: dict[str, Any] = {"cache": cache} if window is None else {"recovery_window_days": window, "cache": cache}
    add_vault(kp.cwd, "sm", "secretsmanager", **options)
    env = {"AWS_ENDPOINT_URL": moto}
    sm = ["--vault", "sm", "--stage", "staging"]
    kp.ok("set", "TEMP", "fake-temp-123", *sm, env=env)
    deleted = kp.ok("delete", "TEMP", "--force", *sm, env=env)
    restored = kp("restore", "TEMP", *sm, env=env)
    no_traceback(deleted.stderr + restored.stderr)
    if window == 0:
        assert "keep restore" not in deleted.stderr and "for good" in deleted.stderr
        assert restored.code == 3
    else:
        assert "keep restore TEMP" in deleted.stderr and "for good" not in deleted.stderr
        assert restored.code == 0
