"""Regression tests for the security audit: a secret value must never reach a message."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from keep_secrets.model import KeepError
from keep_secrets.project import VaultConfig
from keep_secrets.vaults.secretsmanager import SecretsManagerVault
from keep_secrets.vaults.ssm import SsmVault

FAKE_VALUE = "fake-db-pass-123-audit"


def _stubbed(vault: Any, service: str) -> Stubber:
    client = boto3.session.Session().client(
        service, region_name="us-east-1", aws_access_key_id="fake", aws_secret_access_key="fake"
    )
    vault._clients["us-east-1"] = client
    return Stubber(client)


@pytest.mark.parametrize("code,status", [("ValidationException", 400), ("AccessDeniedException", 403)])
def test_ssm_error_quoting_the_value_is_masked(code: str, status: int) -> None:
    vault = SsmVault(VaultConfig("ssm", "ssm", "SSM", options={"region": "us-east-1"}), "myapp", None)
    stubber = _stubbed(vault, "ssm")
    stubber.add_client_error(
        "put_parameter", service_error_code=code, http_status_code=status,
        service_message=f"1 validation error detected: Value '{FAKE_VALUE}' at 'value' failed to satisfy constraint",
    )
    with stubber, pytest.raises(KeepError) as caught:
        vault.set("production", "DB_PASSWORD", FAKE_VALUE)
    error = caught.value
    texts = [error.one_line(), str(error), repr(error.args), str(getattr(error, "aws_message", ""))]
    assert all(FAKE_VALUE not in text for text in texts), texts
    assert "********" in error.one_line()


def test_secretsmanager_error_quoting_the_value_is_masked() -> None:
    vault = SecretsManagerVault(
        VaultConfig("sm", "secretsmanager", "SM", options={"region": "us-east-1"}), "myapp", None
    )
    stubber = _stubbed(vault, "secretsmanager")
    stubber.add_client_error(
        "put_secret_value", service_error_code="InvalidRequestException", http_status_code=400,
        service_message=f"Rejected SecretString {FAKE_VALUE}",
    )
    with stubber, pytest.raises(KeepError) as caught:
        vault.call("put_secret_value", "myapp/production/DB_PASSWORD", SecretId="x", SecretString=FAKE_VALUE)
    assert FAKE_VALUE not in caught.value.one_line()
    assert FAKE_VALUE not in str(caught.value)


@pytest.mark.parametrize(
    "line,expected",
    [
        ("set DB_PASSWORD=fake-db-pass-123", "set DB_PASSWORD"),
        ("s DB_PASSWORD=fake-db-pass-123 plain", "s DB_PASSWORD"),
        ("set --plain DB_PASSWORD fake-db-pass-123", "set --plain DB_PASSWORD"),
        ("set --stage=local DB_PASSWORD fake-db-pass-123", "set --stage=local DB_PASSWORD"),
        ("set --stage local fake-db-pass-123", "set --stage local"),
    ],
)
def test_shell_history_never_keeps_a_set_value(line: str, expected: str) -> None:
    from keep_secrets.cli.shell_words import redact_for_history

    recorded = redact_for_history(line)
    assert recorded == expected
    assert "fake-db-pass-123" not in recorded


def test_run_redact_masks_each_template_placeholder_value_on_its_own(kp: Any) -> None:
    """Two placeholders with nothing between them, or a separator that also occurs inside a
    value, cannot be peeled apart from the rendered line: each value must still be masked
    when the command prints it alone, on stdout or stderr."""
    values = {"DB_USER": "usr:fake-one", "DB_PASSWORD": "pw-fake-two", "DB_SUFFIX": "sfx-fake-three"}
    for key, value in values.items():
        kp.ok("set", key, value, "--stage=local")
    (kp.cwd / "env").mkdir()
    (kp.cwd / "env" / "local.env").write_text(
        "DSN=postgres://{local:DB_USER}:{local:DB_PASSWORD}@db\nPAIR={local:DB_PASSWORD}{local:DB_SUFFIX}\n"
    )
    script = "echo usr:fake-one; echo pw-fake-two >&2; echo sfx-fake-three"
    result = kp("run", "--stage=local", "--template", "--redact", "--", "sh", "-c", script)
    assert result.code == 0, result.stderr
    for value in values.values():
        assert value not in result.stdout and value not in result.stderr
    assert result.stdout.count("********") == 2 and "********" in result.stderr


def test_local_key_file_creation_failure_leaves_no_copy_of_the_key(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system without hard links (or any link error) must give a clear error and must
    not leave the temporary copy of the new data key next to where the key file belongs."""
    import os

    from keep_secrets.vaults.local import LocalVault

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("KEEP_KEYRING", "0")
    monkeypatch.delenv("KEEP_LOCAL_KEY", raising=False)

    def no_links(src: Any, dst: Any) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    vault = LocalVault(VaultConfig("local", "local", "Local"), "myapp", str(tmp_path / "project"))
    (tmp_path / "project").mkdir()
    with pytest.raises(KeepError) as caught:
        vault.set("local", "K", "fake-value-123")
    assert "Cannot create key file" in caught.value.one_line()
    keys = tmp_path / "config" / "keep" / "keys"
    assert list(keys.iterdir()) == []


@pytest.mark.parametrize(
    "line",
    [
        "search --unmask fakefragment",
        "search keys fakefragment",
        "search unmask fakefragment case-sensitive",
        "search --format json fakefragment",
        "search --only=DB_* fakefragment --stage=local",
    ],
)
def test_shell_history_never_keeps_a_search_query(line: str) -> None:
    from keep_secrets.cli.shell_words import redact_for_history

    recorded = redact_for_history(line)
    assert recorded is not None and recorded.startswith("search ")
    assert "fakefragment" not in recorded and "********" in recorded
