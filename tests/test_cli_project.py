"""End-to-end tests of the project commands (init, vault:*, stage:*/env:*, workspace, info)
through the `keep` CLI (tests/conftest.py runner), asserting exit codes, stdout/stderr and the files written.

Terminal prompts are exercised on a real pseudo-terminal; the permission probe of `vault:add`
runs against the session's moto server over HTTP.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import KEEP, KeepRunner, Result


def ok(runner: KeepRunner, *args: str, **kwargs: Any) -> Result:
    result = runner.ok(*args, **kwargs)
    assert "Traceback" not in result.stderr
    return result


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def settings(runner: KeepRunner) -> dict[str, Any]:
    data = load(runner.cwd / ".keep" / "settings.json")
    assert isinstance(data, dict)
    return data


def vault_file(runner: KeepRunner, slug: str) -> dict[str, Any]:
    data = load(runner.cwd / ".keep" / "vaults" / f"{slug}.json")
    assert isinstance(data, dict)
    return data


def run_on_terminal(
    runner: KeepRunner, args: list[str], answers: list[tuple[str, str]], extra_env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run keep on a pseudo-terminal. `answers` are (prompt text, typed answer) pairs in the
    order the prompts must appear; each answer is typed once its prompt has been shown.
    Returns the exit code and everything the terminal showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*KEEP, *args], cwd=runner.cwd, env={**runner.env, **(extra_env or {})},
        stdin=slave, stdout=slave, stderr=slave, close_fds=True,
    )
    os.close(slave)
    shown = ""
    pending = list(answers)
    searched_from = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk.decode("utf-8", "replace")
            while pending:
                position = shown.find(pending[0][0], searched_from)
                # answer only once the prompt line is complete (it ends with ": ")
                if position < 0 or ": " not in shown[position:]:
                    break
                searched_from = shown.index(": ", position) + 2
                os.write(master, pending.pop(0)[1].encode() + b"\n")
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=30)
    os.close(master)
    assert not pending, f"prompts never shown: {pending}\n{shown}"
    return code, shown


# -- init -------------------------------------------------------------------------------------

def test_init_in_an_empty_directory_uses_defaults(keep: KeepRunner) -> None:
    result = ok(keep, "init", "--no-interaction")
    assert result.stdout == ""
    assert "Initialised keep project" in result.stderr
    assert "'local'" in result.stderr
    keep_dir = keep.cwd / ".keep"
    assert settings(keep) == {
        "app_name": "proj",
        "namespace": "proj",
        "stages": ["local", "staging", "production"],
        "default_vault": "local",
        "template_path": "env",
        "version": "1.0",
    }
    assert vault_file(keep, "local") == {
        "slug": "local", "driver": "local", "name": "Local encrypted vault", "scope": "",
    }
    assert "local/" in (keep_dir / ".gitignore").read_text().splitlines()
    assert (keep_dir / "local").is_dir()
    assert (keep_dir / "local").stat().st_mode & 0o777 == 0o700
    # and the project is usable straight away
    ok(keep, "set", "DB_PASSWORD", "fake-db-pass-123", "--stage", "local")
    assert ok(keep, "get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == "fake-db-pass-123\n"


def test_init_flags_and_slugified_namespace(keep: KeepRunner) -> None:
    ok(keep, "init", "-n", "--name", "My Shiny_App!", "--stages", "dev,qa,prod")
    data = settings(keep)
    assert data["app_name"] == "My Shiny_App!"
    assert data["namespace"] == "my-shiny-app"
    assert data["stages"] == ["dev", "qa", "prod"]


def test_init_reads_the_name_from_package_json(keep: KeepRunner) -> None:
    (keep.cwd / "package.json").write_text(json.dumps({"name": "@acme/web-shop"}))
    ok(keep, "init", "-n")
    assert settings(keep)["app_name"] == "web-shop"
    assert settings(keep)["namespace"] == "web-shop"


def test_rerunning_init_keeps_existing_values_and_unknown_fields(kp: KeepRunner) -> None:
    path = kp.cwd / ".keep" / "settings.json"
    data = settings(kp)
    data["template_path"] = "templates"
    data["future_field"] = {"kept": True}
    data["stages"].append("qa")
    path.write_text(json.dumps(data))
    ok(kp, "vault:add", "--driver", "local", "--slug", "second", "--default", "--no-verify")
    result = ok(kp, "init", "-n")
    assert "Updated keep project" in result.stderr
    after = settings(kp)
    assert after["app_name"] == "My App"
    assert after["namespace"] == "myapp"
    assert after["stages"] == ["local", "staging", "production", "qa"]
    assert after["template_path"] == "templates"
    assert after["future_field"] == {"kept": True}
    assert after["default_vault"] == "second"
    assert sorted(p.name for p in (kp.cwd / ".keep" / "vaults").iterdir()) == ["local.json", "second.json"]


@pytest.mark.parametrize("outside", ["/etc", "../..", "env/../../elsewhere"])
def test_template_path_outside_the_project_is_refused(kp: KeepRunner, outside: str) -> None:
    path = kp.cwd / ".keep" / "settings.json"
    data = settings(kp)
    data["template_path"] = outside
    path.write_text(json.dumps(data))
    # a command that uses the template directory refuses it with one line, exit 2
    refused = kp("export", "--stage", "local", "--template")
    assert refused.code == 2 and "outside the project" in refused.stderr and "Traceback" not in refused.stderr
    # re-running init repairs it
    result = ok(kp, "init", "-n")
    assert "invalid template_path" in result.stderr
    assert settings(kp)["template_path"] == "env"


def test_init_accepts_keeps_envs_key_and_overrides_with_flags(keep: KeepRunner) -> None:
    keep_dir = keep.cwd / ".keep"
    keep_dir.mkdir()
    (keep_dir / "settings.json").write_text(
        json.dumps({"app_name": "Old", "namespace": "old-ns", "envs": ["local", "production"],
                    "created_at": "2025-09-10T12:00:00+00:00"})
    )
    # a Keep project opens unchanged
    info = json.loads(ok(keep, "info", "--format", "json").stdout)
    assert info["stages"] == ["local", "production"]
    result = ok(keep, "init", "-n", "--namespace", "new-ns", "--stages", "local")
    assert "Stages removed from the project: production" in result.stderr
    after = settings(keep)
    assert after["namespace"] == "new-ns"
    assert after["app_name"] == "Old"
    # written back under Keep's own key, so PHP Keep still opens the project
    assert after["envs"] == ["local"]
    assert "stages" not in after
    assert after["created_at"] == "2025-09-10T12:00:00+00:00"
    assert after["default_vault"] == "local"
    ok(keep, "stage:add", "qa")
    assert settings(keep)["envs"] == ["local", "qa"]


def test_changing_the_namespace_warns_when_aws_vaults_exist(kp: KeepRunner) -> None:
    assert "namespace changed" not in ok(kp, "init", "-n", "--namespace", "other").stderr
    ok(kp, "vault:add", "--driver", "ssm", "--region", "eu-west-1", "--no-verify")
    result = ok(kp, "init", "-n", "--namespace", "third")
    assert "warning: namespace changed from 'other' to 'third'" in result.stderr
    assert settings(kp)["namespace"] == "third"


def test_init_from_a_subdirectory_updates_the_project_root(kp: KeepRunner) -> None:
    sub = kp.cwd / "src" / "deep"
    sub.mkdir(parents=True)
    ok(kp, "init", "-n", "--namespace", "renamed", cwd=sub)
    assert not (sub / ".keep").exists()
    assert settings(kp)["namespace"] == "renamed"
    # --path creates a separate project explicitly
    ok(kp, "init", "-n", "--path", str(sub), cwd=sub)
    assert load(sub / ".keep" / "settings.json")["namespace"] == "deep"


def test_init_repairs_corrupt_settings_vaults_and_workspace(kp: KeepRunner) -> None:
    keep_dir = kp.cwd / ".keep"
    ok(kp, "vault:add", "--driver", "ssm", "--slug", "params", "--region", "eu-west-1", "--no-verify")
    ok(kp, "vault:default", "params")
    (keep_dir / "settings.json").write_text('{\n  "app_name": "My App",\n  "namespace": "myapp",\n')
    (keep_dir / "vaults" / "params.json").write_text(
        '{"slug": "params", "driver": "ssm", "name": "P", "region": "eu-west-1", "tier": "Gold"}'
    )
    (keep_dir / "vaults" / "broken.json").write_text("{not json")
    (keep_dir / "local" / "workspace.json").write_text('{"vaults": "local"}')
    broken = kp("info")
    assert broken.code == 2
    assert "settings.json: invalid JSON at line 4" in broken.stderr

    result = ok(kp, "init", "-n")
    assert result.stderr.count("warning: repaired") == 4, result.stderr
    assert "field 'tier' reset to its default" in result.stderr
    assert "broken.json: invalid JSON at line 1" in result.stderr
    backups = list((keep_dir / "local" / "repaired").rglob("*"))
    names = sorted(p.name for p in backups if p.is_file())
    assert names == ["local__workspace.json", "settings.json", "vaults__broken.json"]
    assert not (keep_dir / "vaults" / "broken.json").exists()
    assert vault_file(kp, "params") == {
        "slug": "params", "driver": "ssm", "name": "P", "scope": "", "region": "eu-west-1",
    }
    # what the damaged settings still spell out whole is recovered (the namespace: a default one
    # would hide the SSM vault's secrets); the rest gets defaults, the existing vaults are kept
    data = settings(kp)
    assert data["namespace"] == "myapp" and data["app_name"] == "My App"
    assert data["default_vault"] == "local"
    assert load(keep_dir / "local" / "workspace.json") == {"vaults": [], "stages": []}
    ok(kp, "info")


def test_init_replaces_only_the_invalid_settings_fields(kp: KeepRunner) -> None:
    path = kp.cwd / ".keep" / "settings.json"
    data = settings(kp)
    data.update(namespace="bad ns!", default_vault="gone", stages=["local", "local"])
    path.write_text(json.dumps(data, indent=2))
    fails = kp("vault:list")
    assert fails.code == 2
    assert re.search(r"settings\.json: line 3: Invalid namespace 'bad ns!'", fails.stderr)
    result = ok(kp, "init", "-n")
    assert "invalid namespace 'bad ns!'" in result.stderr
    assert "invalid stages" in result.stderr
    assert "default vault 'gone' is not configured" in result.stderr
    after = settings(kp)
    assert after["app_name"] == "My App"
    assert after["namespace"] == "my-app"
    assert after["stages"] == ["local", "staging", "production"]
    assert after["default_vault"] == "local"


def test_interactive_init_prompts_on_a_terminal(keep: KeepRunner) -> None:
    code, shown = run_on_terminal(
        keep,
        ["init"],
        [
            ("Application name", "Billing Service"),
            ("Namespace", "bad ns"),  # refused, asked again
            ("Namespace", ""),  # accept the default: the slugified name
            ("Stages", "local,qa"),
            ("Add an AWS vault now?", "y"),
            ("Driver", "ssm"),
            ("Slug", ""),
            ("Friendly Name", ""),
            ("AWS Region", "eu-north-1"),
            ("KMS Key ID", ""),
            ("Scope", ""),
            ("Tier", ""),
        ],
        extra_env={"KEEP_AWS_MAX_ATTEMPTS": "1", "AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
    )
    assert code == 0, shown
    assert "vault 'ssm' was saved" in shown  # the probe fails (nothing listens), the vault stays
    assert vault_file(keep, "ssm") == {
        "slug": "ssm", "driver": "ssm", "name": "AWS SSM Parameter Store", "scope": "",
        "region": "eu-north-1", "tier": "Standard",
    }
    assert "[proj]" in shown  # the default offered for the name
    assert "Invalid namespace 'bad ns'" in shown
    data = settings(keep)
    assert data["app_name"] == "Billing Service"
    assert data["namespace"] == "billing-service"
    assert data["stages"] == ["local", "qa"]


# -- vault:add --------------------------------------------------------------------------------

def test_vault_add_local_and_default_flag(kp: KeepRunner) -> None:
    result = ok(kp, "vault:add", "--driver", "local", "--slug", "team", "--name", "Team vault", "--no-verify")
    assert result.stdout == ""
    assert "Vault 'team'" in result.stderr
    assert vault_file(kp, "team") == {"slug": "team", "driver": "local", "name": "Team vault", "scope": ""}
    assert settings(kp)["default_vault"] == "local"
    ok(kp, "vault:add", "--driver", "local", "--slug", "mine", "--path", "data/mine.db", "--default", "--no-verify")
    assert vault_file(kp, "mine")["path"] == "data/mine.db"
    assert settings(kp)["default_vault"] == "mine"
    ok(kp, "set", "API_TOKEN", "fake-token-123", "--stage", "local")
    assert (kp.cwd / "data" / "mine.db").exists()


def test_vault_add_probe_matrix_is_a_message(kp: KeepRunner) -> None:
    """The probe matrix of vault:add is a side report: stderr, and gone with -q."""
    shown = ok(kp, "vault:add", "--driver", "local", "--slug", "probed")
    assert shown.stdout == "" and "History" in shown.stderr and "probed" in shown.stderr
    quiet = ok(kp, "vault:add", "--driver", "local", "--slug", "quiet", "-q")
    assert (quiet.stdout, quiet.stderr) == ("", "")
    assert vault_file(kp, "quiet")["driver"] == "local"


def test_vault_add_extends_a_restricted_workspace(kp: KeepRunner) -> None:
    ok(kp, "vault:add", "--driver", "local", "--slug", "team", "--no-verify")
    ok(kp, "workspace", "--vaults", "team")
    ok(kp, "vault:add", "--driver", "local", "--slug", "extra", "--no-verify")
    assert load(kp.cwd / ".keep" / "local" / "workspace.json")["vaults"] == ["team", "extra"]


def test_vault_add_slug_defaults_to_a_free_driver_name(kp: KeepRunner) -> None:
    ok(kp, "vault:add", "--driver", "local", "--no-verify")
    assert vault_file(kp, "local2")["driver"] == "local"


def test_vault_add_ssm_with_every_flag(kp: KeepRunner) -> None:
    ok(
        kp, "vault:add", "--driver", "ssm", "--slug", "params", "--name", "Params",
        "--region", "eu-central-1", "--key", "alias/my-key", "--scope", "team/api",
        "--tier", "advanced", "--endpoint-url", "http://127.0.0.1:9", "--profile", "dev", "--no-verify",
    )
    assert vault_file(kp, "params") == {
        "slug": "params", "driver": "ssm", "name": "Params", "scope": "team/api",
        "region": "eu-central-1", "key": "alias/my-key", "tier": "Advanced",
        "endpoint_url": "http://127.0.0.1:9", "profile": "dev",
    }


def test_vault_add_secretsmanager_defaults_region_from_the_environment(kp: KeepRunner) -> None:
    ok(
        kp, "vault:add", "--driver", "secretsmanager", "--replica-regions", "us-west-2, eu-west-1",
        "--recovery-window-days", "0", "--stage-tag", "Env", "--no-verify",
        env={"AWS_DEFAULT_REGION": "ap-southeast-2"},
    )
    assert vault_file(kp, "secretsmanager") == {
        "slug": "secretsmanager", "driver": "secretsmanager", "name": "AWS Secrets Manager", "scope": "",
        "region": "ap-southeast-2", "replica_regions": ["us-west-2", "eu-west-1"],
        "recovery_window_days": 0, "stage_tag": "Env",
    }


@pytest.mark.aws
def test_vault_add_runs_the_permission_probe(kp: KeepRunner, moto: str) -> None:
    result = ok(kp, "vault:add", "--driver", "secretsmanager", "--slug", "sm", "--endpoint-url", moto,
                "--region", "us-east-1")
    assert "Checking permissions of vault 'sm'" in result.stderr
    matrix = [line for line in result.stderr.splitlines() if line.startswith("sm ")]
    assert len(matrix) == 3  # one row per stage
    assert all("✗" not in line for line in matrix), result.stderr
    assert "warning" not in result.stderr
    assert result.stdout == ""


@pytest.mark.aws
def test_failing_probe_keeps_the_vault_and_exits_zero(kp: KeepRunner) -> None:
    # nothing listens on port 9: every probe step fails, the vault stays configured
    result = ok(kp, "vault:add", "--driver", "ssm", "--slug", "down", "--region", "us-east-1",
                "--endpoint-url", "http://127.0.0.1:9", env={"KEEP_AWS_MAX_ATTEMPTS": "1"}, timeout=180)
    assert "vault 'down' was saved" in result.stderr
    assert vault_file(kp, "down")["endpoint_url"] == "http://127.0.0.1:9"
    assert "down" in ok(kp, "vault:list").stdout


def test_interactive_vault_add_asks_in_the_seed_order(kp: KeepRunner) -> None:
    code, shown = run_on_terminal(
        kp,
        ["vault:add", "--no-verify"],
        [
            ("Driver", "secretsmanager"),
            ("Slug", "local"),  # taken: asked again
            ("Slug", "sm"),
            ("Friendly Name", "MyApp Secrets Manager Vault"),
            ("AWS Region", "nowhere"),  # invalid: asked again
            ("AWS Region", "eu-west-2"),
            ("KMS Key ID", ""),
            ("Scope", "billing"),
            ("Replica regions", "eu-west-1"),
        ],
    )
    assert code == 0, shown
    order = [shown.index(label) for label in ("Driver", "Slug", "Friendly Name", "AWS Region", "KMS Key ID")]
    assert order == sorted(order)
    assert "AWS Secrets Manager" in shown  # the driver list shows the seed's labels
    assert "already exists" in shown
    assert vault_file(kp, "sm") == {
        "slug": "sm", "driver": "secretsmanager", "name": "MyApp Secrets Manager Vault", "scope": "billing",
        "region": "eu-west-2", "replica_regions": ["eu-west-1"],
    }


def test_interactive_vault_add_local_asks_no_aws_questions(kp: KeepRunner) -> None:
    code, shown = run_on_terminal(
        kp, ["vault:add", "--no-verify"], [("Driver", "local"), ("Slug", ""), ("Friendly Name", "")]
    )
    assert code == 0, shown
    assert "Region" not in shown and "KMS" not in shown
    assert vault_file(kp, "local2")["name"] == "Local encrypted vault"


# -- vault:edit / list / delete / default ------------------------------------------------------

def test_vault_edit_with_flags_renames_and_follows_references(kp: KeepRunner) -> None:
    ok(kp, "vault:add", "--driver", "ssm", "--slug", "params", "--region", "eu-west-1", "--key", "alias/k",
       "--default", "--no-verify")
    ok(kp, "workspace", "--vaults", "params")
    result = ok(kp, "vault:edit", "params", "--slug", "ssm", "--name", "Parameters", "--key", "", "--tier",
                "Intelligent-Tiering", "--no-verify")
    assert "renamed to 'ssm'" in result.stderr
    assert not (kp.cwd / ".keep" / "vaults" / "params.json").exists()
    assert vault_file(kp, "ssm") == {
        "slug": "ssm", "driver": "ssm", "name": "Parameters", "scope": "", "region": "eu-west-1",
        "tier": "Intelligent-Tiering",
    }
    assert settings(kp)["default_vault"] == "ssm"
    assert load(kp.cwd / ".keep" / "local" / "workspace.json")["vaults"] == ["ssm"]


def test_vault_edit_of_a_local_vault_moves_its_data(kp: KeepRunner) -> None:
    ok(kp, "set", "DB_PASSWORD", "fake-db-pass-123", "--stage", "local")
    result = ok(kp, "vault:edit", "local", "--slug", "embedded")
    assert "moved the vault data" in result.stderr
    assert not (kp.cwd / ".keep" / "local" / "local.db").exists()
    assert settings(kp)["default_vault"] == "embedded"
    got = ok(kp, "get", "DB_PASSWORD", "--stage", "local", "--vault", "embedded", "--format", "raw")
    assert got.stdout == "fake-db-pass-123\n"


def test_vault_edit_without_changes_and_interactive_edit(kp: KeepRunner) -> None:
    before = (kp.cwd / ".keep" / "vaults" / "local.json").read_bytes()
    assert "unchanged" in ok(kp, "vault:edit", "local").stderr
    assert (kp.cwd / ".keep" / "vaults" / "local.json").read_bytes() == before
    ok(kp, "vault:add", "--driver", "ssm", "--slug", "params", "--region", "eu-west-1", "--key", "alias/k",
       "--no-verify")
    code, shown = run_on_terminal(
        kp,
        ["vault:edit", "params", "--no-verify"],
        [("Slug", ""), ("Friendly Name", "Renamed"), ("AWS Region", ""), ("KMS Key ID", "-"), ("Scope", ""),
         ("Tier", "advanced")],
    )
    assert code == 0, shown
    assert vault_file(kp, "params") == {
        "slug": "params", "driver": "ssm", "name": "Renamed", "scope": "", "region": "eu-west-1",
        "tier": "Advanced",
    }


def test_vault_list_table_json_and_workspace_filter(kp: KeepRunner) -> None:
    ok(kp, "vault:add", "--driver", "ssm", "--slug", "params", "--region", "eu-west-1", "--no-verify")
    table = ok(kp, "vault:list").stdout.splitlines()
    assert table[0].split() == ["Slug", "Name", "Driver", "Default"]
    assert table[2].split() == ["local", "Local", "encrypted", "vault", "local", "✓"]
    assert table[3].split() == ["params", "AWS", "SSM", "Parameter", "Store", "ssm"]
    rows = json.loads(ok(kp, "vault:list", "--format", "json").stdout)
    assert [(r["slug"], r["default"]) for r in rows] == [("local", True), ("params", False)]
    assert rows[1]["region"] == "eu-west-1"
    ok(kp, "workspace", "--vaults", "params")
    filtered = ok(kp, "vault:list")
    assert "local" not in filtered.stdout
    assert "1 vault(s) hidden" in filtered.stderr
    assert "local" in ok(kp, "vault:list", "--all").stdout


def test_vault_delete(kp: KeepRunner) -> None:
    ok(kp, "vault:add", "--driver", "local", "--slug", "spare", "--no-verify")
    ok(kp, "set", "K", "fake-value-1", "--stage", "local", "--vault", "spare")
    ok(kp, "workspace", "--vaults", "local,spare")
    refused = kp("vault:delete", "spare")
    assert refused.code == 2
    assert "pass --force" in refused.stderr
    assert (kp.cwd / ".keep" / "vaults" / "spare.json").exists()
    result = ok(kp, "vault:delete", "spare", "--force")
    assert "'spare' configuration deleted" in result.stderr
    assert "data file" in result.stderr
    assert not (kp.cwd / ".keep" / "vaults" / "spare.json").exists()
    assert (kp.cwd / ".keep" / "local" / "spare.db").exists()  # never destroys secrets
    assert load(kp.cwd / ".keep" / "local" / "workspace.json")["vaults"] == ["local"]


def test_vault_delete_confirms_on_a_terminal(kp: KeepRunner) -> None:
    ok(kp, "vault:add", "--driver", "local", "--slug", "spare", "--no-verify")
    code, shown = run_on_terminal(kp, ["vault:delete", "spare"], [("Delete the configuration", "n")])
    assert code == 0 and "cancelled" in shown
    assert (kp.cwd / ".keep" / "vaults" / "spare.json").exists()
    code, shown = run_on_terminal(kp, ["vault:delete", "spare"], [("Delete the configuration", "y")])
    assert code == 0, shown
    assert not (kp.cwd / ".keep" / "vaults" / "spare.json").exists()


def test_vault_default(kp: KeepRunner) -> None:
    assert ok(kp, "vault:default").stdout == "local\n"
    ok(kp, "vault:add", "--driver", "local", "--slug", "other", "--no-verify")
    assert "'other' is now the default vault" in ok(kp, "vault:default", "other").stderr
    assert settings(kp)["default_vault"] == "other"
    assert "already is the default" in ok(kp, "vault:default", "other").stderr
    assert ok(kp, "vault:default").stdout == "other\n"
    # now the old default can go
    ok(kp, "vault:delete", "local", "--force")


# -- stages -----------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["stage:add", "env:add"])
def test_stage_add(kp: KeepRunner, command: str) -> None:
    for name in ("dev-2", "test_env", "qa1"):
        result = ok(kp, command, name)
        assert f"Stage '{name}' added" in result.stderr
    assert settings(kp)["stages"] == ["local", "staging", "production", "dev-2", "test_env", "qa1"]
    ok(kp, "set", "K", "fake-value-1", "--stage", "qa1")


def test_stage_add_extends_a_restricted_workspace(kp: KeepRunner) -> None:
    ok(kp, "workspace", "--stages", "local,staging")
    ok(kp, "stage:add", "qa")
    assert load(kp.cwd / ".keep" / "local" / "workspace.json")["stages"] == ["local", "staging", "qa"]


@pytest.mark.parametrize("command", ["stage:remove", "env:remove"])
def test_stage_remove(kp: KeepRunner, command: str) -> None:
    ok(kp, "stage:add", "custom-env")
    ok(kp, "stage:add", "qa")
    ok(kp, "workspace", "--stages", "local,custom-env")
    result = ok(kp, command, "custom-env", "--force")
    assert "Stage 'custom-env' removed" in result.stderr
    assert settings(kp)["stages"] == ["local", "staging", "production", "qa"]
    assert load(kp.cwd / ".keep" / "local" / "workspace.json")["stages"] == ["local"]


def test_stage_remove_with_only_system_stages(kp: KeepRunner) -> None:
    result = ok(kp, "stage:remove")
    assert "No custom stages to remove" in result.stderr


def test_stage_add_and_vault_default_ask_on_a_terminal(kp: KeepRunner) -> None:
    code, shown = run_on_terminal(kp, ["stage:add"], [("New stage name", "Bad!"), ("New stage name", "qa")])
    assert code == 0, shown
    assert "Invalid stage name 'Bad!'" in shown
    assert settings(kp)["stages"][-1] == "qa"
    ok(kp, "vault:add", "--driver", "local", "--slug", "team", "--no-verify")
    code, shown = run_on_terminal(kp, ["vault:default"], [("Default vault", "team")])
    assert code == 0, shown
    assert settings(kp)["default_vault"] == "team"


def test_stage_remove_confirms_on_a_terminal(kp: KeepRunner) -> None:
    ok(kp, "stage:add", "qa")
    code, shown = run_on_terminal(kp, ["stage:remove", "qa"], [("Remove stage 'qa'", "y")])
    assert code == 0, shown
    assert "qa" not in settings(kp)["stages"]


# -- workspace --------------------------------------------------------------------------------

def test_workspace_flags_show_and_reset(kp: KeepRunner) -> None:
    ok(kp, "vault:add", "--driver", "local", "--slug", "team", "--no-verify")
    shown = ok(kp, "workspace")
    assert shown.stdout == "vaults: local, team\nstages: local, staging, production\n"
    ok(kp, "workspace", "--vaults", "team,team", "--stages", "production,local")
    assert load(kp.cwd / ".keep" / "local" / "workspace.json") == {
        "vaults": ["team"], "stages": ["production", "local"],
    }
    assert ok(kp, "workspace").stdout == "vaults: team\nstages: production, local\n"
    info = json.loads(ok(kp, "info", "--format", "json").stdout)
    assert info["workspace"] == {"vaults": ["team"], "stages": ["production", "local"], "restricted": True}
    ok(kp, "workspace", "--stages", "*")
    assert ok(kp, "workspace").stdout == "vaults: team\nstages: local, staging, production\n"
    ok(kp, "workspace", "--reset")
    assert load(kp.cwd / ".keep" / "local" / "workspace.json") == {"vaults": [], "stages": []}
    assert ok(kp, "workspace").stdout == "vaults: local, team\nstages: local, staging, production\n"


def test_workspace_reads_keeps_file_format(kp: KeepRunner) -> None:
    (kp.cwd / ".keep" / "local" / "workspace.json").write_text(
        json.dumps({"active_vaults": ["local"], "active_envs": ["staging"], "created_at": "x"})
    )
    assert ok(kp, "workspace").stdout == "vaults: local\nstages: staging\n"


def test_interactive_workspace(kp: KeepRunner) -> None:
    ok(kp, "vault:add", "--driver", "local", "--slug", "team", "--no-verify")
    code, shown = run_on_terminal(
        kp, ["workspace"], [("Vaults to show", "nope"), ("Vaults to show", "team"), ("Stages to show", "local")]
    )
    assert code == 0, shown
    assert "Unknown vaults: nope" in shown
    assert load(kp.cwd / ".keep" / "local" / "workspace.json") == {"vaults": ["team"], "stages": ["local"]}


# -- info -------------------------------------------------------------------------------------

def test_info_table(kp: KeepRunner) -> None:
    ok(kp, "vault:add", "--driver", "ssm", "--slug", "params", "--region", "eu-west-1", "--no-verify")
    result = ok(kp, "info")
    out = result.stdout
    for expected in ("Version", "0.1.0", "Project root", str(kp.cwd), "Namespace", "myapp",
                     "local, staging, production", "local (default)", "params", "eu-west-1",
                     "Local vault keys", "all vaults and stages"):
        assert expected in out, expected
    assert result.stderr == ""


def test_info_json_shape(kp: KeepRunner) -> None:
    info = json.loads(ok(kp, "info", "--format", "json").stdout)
    assert set(info) == {"version", "python", "executable", "root", "paths", "settings", "vaults", "stages",
                         "default_vault", "problems", "workspace"}
    assert info["problems"] == []
    assert info["root"] == str(kp.cwd.resolve())
    assert info["settings"]["namespace"] == "myapp"
    assert info["settings"]["app_name"] == "My App"
    assert info["default_vault"] == "local"
    assert info["vaults"] == [{
        "slug": "local", "driver": "local", "name": "Local encrypted vault", "scope": "", "default": True,
        "in_workspace": True, "options": {}, "path": str(kp.cwd.resolve() / ".keep" / "local" / "local.db"),
    }]
    assert info["paths"]["local_keys"].startswith(kp.env["XDG_CONFIG_HOME"])


def test_commands_find_the_project_from_a_subdirectory(kp: KeepRunner) -> None:
    sub = kp.cwd / "a" / "b"
    sub.mkdir(parents=True)
    ok(kp, "stage:add", "qa", cwd=sub)
    ok(kp, "vault:add", "--driver", "local", "--slug", "team", "--no-verify", cwd=sub)
    assert "team" in ok(kp, "vault:list", cwd=sub).stdout
    assert json.loads(ok(kp, "info", "--format", "json", cwd=sub).stdout)["root"] == str(kp.cwd.resolve())
    assert "qa" in settings(kp)["stages"]
    assert not (sub / ".keep").exists()


def test_init_repairs_any_drivers_bad_field_from_its_declaration(kp: KeepRunner) -> None:
    """The fields init may reset are the driver's declared options, so a bad OpenBao `mount` or
    `address` is reset like a bad SSM `tier` instead of the whole vault being dropped."""
    vaults = kp.cwd / ".keep" / "vaults"
    (vaults / "bao.json").write_text(json.dumps(
        {"slug": "bao", "driver": "openbao", "name": "B", "address": "ftp://bao.invalid", "mount": "kv"}))
    result = ok(kp, "init", "-n")
    assert "field 'address' reset to its default" in result.stderr, result.stderr
    assert vault_file(kp, "bao") == {"slug": "bao", "driver": "openbao", "name": "B", "scope": "", "mount": "kv"}


def test_info_locates_each_vault_from_its_declaration(kp: KeepRunner) -> None:
    ok(kp, "vault:add", "--driver", "ssm", "--slug", "params", "--region", "eu-west-1", "--no-verify")
    (kp.cwd / ".keep" / "vaults" / "bao.json").write_text(json.dumps(
        {"slug": "bao", "driver": "openbao", "name": "B", "address": "https://bao.example.test:8200"}))
    rows = {line.split()[0]: line for line in ok(kp, "info").stdout.splitlines() if line.split()}
    assert "https://bao.example.test:8200" in rows["bao"]
    assert "eu-west-1" in rows["params"]
    assert "local.db" in rows["local"]
