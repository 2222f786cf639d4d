"""`keep verify` and its probe on the local vault: the matrix, exit codes, denial explanations,
and that the temporary key never outlives the probe."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import pytest

from keep_secrets.model import AccessDenied, ProbeResult, Version
from keep_secrets.project import VaultConfig
from keep_secrets.services import verify
from keep_secrets.vaults.local import LocalVault

from ..conftest import KeepRunner


def stored_keys(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        secrets = conn.execute("SELECT stage, key FROM secrets ORDER BY stage, key").fetchall()
        versions = conn.execute("SELECT stage, key FROM versions").fetchall()
    return sorted(set(secrets) | set(versions))


@pytest.fixture
def vault(tmp_path: Path, fixed_key_env: str) -> LocalVault:
    config = VaultConfig(slug="local", driver="local", name="Local", options={"path": str(tmp_path / "v.db")})
    return LocalVault(config, "myapp", str(tmp_path))


def test_probe_on_a_working_vault_leaves_nothing_behind(vault: LocalVault) -> None:
    vault.set("staging", "EXISTING", "fake-value-1")
    result = verify.probe(vault, "staging")
    assert result.results == {"list": True, "write": True, "read": True, "history": True, "delete": True}
    assert result.cleaned_up is True and result.errors == {}
    # purged: no soft-deleted row, no version rows
    assert stored_keys(vault.path) == [("staging", "EXISTING")]
    assert not verify.failed(result)


def test_probe_removes_the_key_when_a_later_step_fails(vault: LocalVault, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(stage: str, key: str, limit: int | None = None) -> list[Version]:
        raise AccessDenied(f"User: fake is not authorized to perform: ssm:GetParameterHistory on resource: {key}")

    monkeypatch.setattr(vault, "history", denied)
    result = verify.probe(vault, "local")
    assert result.results["history"] is False and result.results["delete"] is True
    assert result.cleaned_up is True
    assert "action ssm:GetParameterHistory" in result.errors["history"]
    assert stored_keys(vault.path) == []
    assert verify.failed(result)


def test_probe_removes_the_key_on_interrupt(vault: LocalVault, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(stage: str, key: str, version: str | None = None) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(vault, "get", interrupted)
    with pytest.raises(KeyboardInterrupt):
        verify.probe(vault, "local")
    assert stored_keys(vault.path) == []


def test_probe_reports_a_key_it_could_not_remove(vault: LocalVault, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(stage: str, key: str, purge: bool = False) -> None:
        raise AccessDenied("not allowed to delete")

    monkeypatch.setattr(vault, "delete", denied)
    result = verify.probe(vault, "local")
    assert result.cleaned_up is False
    left = stored_keys(vault.path)
    assert len(left) == 1 and left[0][1].startswith("keep-verify-")
    assert left[0][1] in result.errors["delete"] and "left behind" in result.errors["delete"]
    assert "⚠ left" in verify.render_matrix([result])


def test_probe_reads_an_existing_key_when_writing_is_denied(vault: LocalVault,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    vault.set("production", "API_KEY", "fake-api-key-123")

    def denied(stage: str, key: str, value: str, secure: bool = True) -> None:
        raise AccessDenied("User: fake is not authorized to perform: secretsmanager:PutSecretValue on resource: x")

    monkeypatch.setattr(vault, "set", denied)
    result = verify.probe(vault, "production")
    assert result.results == {"list": True, "write": False, "read": True, "history": True, "delete": None}
    assert result.cleaned_up is None
    assert "action secretsmanager:PutSecretValue, resource x" in result.errors["write"]


def test_explain_names_the_missing_statement_for_aws_drivers() -> None:
    denial = AccessDenied(
        "User: arn:aws:iam::123456789012:user/dev is not authorized to perform: ssm:GetParametersByPath "
        "on resource: arn:aws:ssm:us-east-1:123456789012:parameter/myapp/production because no "
        "identity-based policy allows the ssm:GetParametersByPath action"
    )
    text = verify.explain("ssm", "list", denial)
    assert text.startswith("access denied, action ssm:GetParametersByPath, resource "
                           "arn:aws:ssm:us-east-1:123456789012:parameter/myapp/production:")
    assert "(missing: KeepSsmList" in text and "parameter/NS/STAGE, without /*" in text
    assert "keep " not in text  # the service names no command: shown by the web too
    assert verify.explain("local", "list", denial).startswith("access denied, action ssm:GetParametersByPath")
    assert "missing:" not in verify.explain("local", "list", denial)


def test_matrix_rendering() -> None:
    ok = ProbeResult("ssm", "local", {s: True for s in verify.STEPS}, cleaned_up=True)
    denied = ProbeResult("ssm", "production", {"list": True, "write": False, "read": None,
                                                      "history": None, "delete": None})
    lines = verify.render_matrix([ok, denied]).splitlines()
    assert lines[0].split() == ["Vault", "Stage", "List", "Write", "Read", "History", "Delete"]
    assert lines[2].split() == ["ssm", "local", "✓", "✓", "✓", "✓", "✓"]
    assert lines[3].split() == ["ssm", "production", "✓", "✗", "-", "-", "-"]


# -- the command ------------------------------------------------------------------------------

def test_verify_command_on_the_local_vault(kp: KeepRunner) -> None:
    kp.ok("set", "DB_PASSWORD", "fake-db-pass-123", "--stage", "staging")
    result = kp.ok("verify")
    rows = [line.split() for line in result.stdout.splitlines()[2:]]
    assert rows == [["local", stage, "✓", "✓", "✓", "✓", "✓"] for stage in ("local", "staging", "production")]
    assert "All 3 vault/stage combination(s)" in result.stderr
    db = kp.cwd / ".keep" / "local" / "local.db"
    assert stored_keys(db) == [("staging", "DB_PASSWORD")]

    data = kp.ok("verify", "--stage", "staging,production", "--format", "json").json()
    assert isinstance(data, list)
    assert [(row["vault"], row["stage"]) for row in data] == [("local", "staging"), ("local", "production")]
    assert all(row["cleaned_up"] is True and row["errors"] == {} for row in data)
    assert stored_keys(db) == [("staging", "DB_PASSWORD")]


def test_verify_command_exits_1_and_explains_when_the_vault_refuses(kp: KeepRunner) -> None:
    kp.ok("set", "DB_PASSWORD", "fake-db-pass-123", "--stage", "local")
    wrong = base64.b64encode(b"w" * 32).decode()
    result = kp("verify", "--stage", "local", env={"KEEP_LOCAL_KEY": wrong})
    assert result.code == 1, result
    assert result.stdout.splitlines()[2].split() == ["local", "local", "✗", "✗", "-", "-", "-"]
    assert "local:local list:" in result.stderr and "data key does not open" in result.stderr
    assert "lack a permission" in result.stderr
    assert "Traceback" not in result.stderr


def test_verify_command_rejects_unknown_names(kp: KeepRunner) -> None:
    for args, needle in [(("--stage", "prod"), "Unknown stage 'prod'"), (("--vault", "ssm"), "Unknown vault 'ssm'")]:
        result = kp("verify", *args)
        assert result.code == 2 and result.stdout == ""
        assert needle in result.stderr


def test_verify_command_reports_a_vault_that_cannot_open(kp: KeepRunner) -> None:
    vaults = kp.cwd / ".keep" / "vaults"
    broken = json.loads((vaults / "local.json").read_text())
    broken.update(slug="broken", path=str(kp.cwd / "missing-dir" / "sub" / "x.db"))
    (vaults / "broken.json").write_text(json.dumps(broken))
    (kp.cwd / "missing-dir").write_text("a file where a directory should be")
    result = kp("verify", "--stage", "local")
    assert result.code == 1, result
    rows = [line.split() for line in result.stdout.splitlines()[2:]]
    assert rows[0][:4] == ["broken", "local", "✗", "✗"]
    assert rows[1] == ["local", "local", "✓", "✓", "✓", "✓", "✓"]
    assert "broken:local list:" in result.stderr


def test_read_only_probe_writes_nothing(vault: LocalVault, monkeypatch: pytest.MonkeyPatch) -> None:
    vault.set("production", "API_KEY", "fake-api-key-123")

    def no_writes(*args: object, **kwargs: object) -> None:
        raise AssertionError("a read-only probe must not write")

    monkeypatch.setattr(vault, "set", no_writes)
    monkeypatch.setattr(vault, "delete", no_writes)
    result = verify.probe(vault, "production", write=False)
    assert result.results == {"list": True, "write": None, "read": True, "history": True, "delete": None}
    assert not verify.failed(result)
    empty = verify.probe(vault, "staging", write=False)
    assert empty.results == {"list": True, "write": None, "read": None, "history": None, "delete": None}


def test_verify_command_read_only(kp: KeepRunner) -> None:
    kp.ok("set", "DB_PASSWORD", "fake-db-pass-123", "--stage", "production")
    result = kp.ok("verify", "--read-only")
    rows = [line.split() for line in result.stdout.splitlines()[2:]]
    assert rows == [
        ["local", "local", "✓", "-", "-", "-", "-"],
        ["local", "staging", "✓", "-", "-", "-", "-"],
        ["local", "production", "✓", "-", "✓", "✓", "-"],
    ]
    assert "allow list, read and history" in result.stderr
    assert "not tried on 2 empty stage(s)" in result.stderr
