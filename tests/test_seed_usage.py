"""The seed page's "Common Usage Patterns" (reference/seed-aws-secrets-manager.md), run
verbatim as real `keep` processes on the local vault."""

from __future__ import annotations

import json
import stat

from dotenv import dotenv_values

from .conftest import KeepRunner
from .test_cli_secrets import _run_on_terminal


def test_seed_usage_lines_work_verbatim(kp: KeepRunner) -> None:
    kp.ok("set", "DB_PASSWORD", "fake-staging-pass-1", "--stage=staging")

    # Cross-Environment Workflows
    copied = kp.ok("copy", "DB_PASSWORD", "--from=staging", "--to=production")
    assert copied.stdout == "" and "created" in copied.stderr
    diff = kp.ok("diff", "--stage=staging,production")
    assert "DB_PASSWORD" in diff.stdout and "Identical" in diff.stdout
    assert "fake-staging-pass-1" not in diff.stdout  # masked

    # Basic Secret Management: `keep set DB_PASSWORD --stage=production` asks on the terminal
    code, shown = _run_on_terminal(kp, ["set", "DB_PASSWORD", "--stage=production"], b"fake-prod-pass-2\n")
    assert code == 0, shown
    assert b"fake-prod-pass-2" not in shown
    got = kp.ok("get", "DB_PASSWORD", "--stage=production")
    assert "fake-prod-pass-2" in got.stdout and got.stderr == ""
    exported = kp.ok("export", "--stage=production", "--output=.env")
    assert exported.stdout == ""
    env_file = kp.cwd / ".env"
    assert dotenv_values(env_file, interpolate=False) == {"DB_PASSWORD": "fake-prod-pass-2"}
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    diff_json = json.loads(kp.ok("diff", "--stage=staging,production", "--format=json").stdout)
    assert diff_json["rows"][0]["status"] == "different"

    # Template-Based Deployment (a fresh .env: an existing one is protected without --overwrite)
    env_file.unlink()
    (kp.cwd / "env.template").write_text("APP_NAME=fake-app\nDB_PASSWORD={local:DB_PASSWORD}\n")
    kp.ok("export", "--template=env.template", "--stage=production", "--output=.env")
    assert dotenv_values(env_file, interpolate=False) == {"APP_NAME": "fake-app", "DB_PASSWORD": "fake-prod-pass-2"}
    again = kp("export", "--template=env.template", "--stage=production", "--output=.env")
    assert again.code == 5 and "--overwrite" in again.stderr
