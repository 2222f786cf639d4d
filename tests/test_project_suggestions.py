"""A mistyped stage or vault names the likely intended one (and still lists them all)."""

from __future__ import annotations

from pathlib import Path

import pytest

from keep_secrets.cli.hints import cli_hint
from keep_secrets.model import UsageError
from keep_secrets.project import Project, Settings, VaultConfig, Workspace
from keep_secrets.web.hints import web_hint


def project(tmp_path: Path) -> Project:
    settings = Settings("App", "app", ["local", "staging", "production", "qa"], default_vault="local")
    vaults = {"local": VaultConfig("local", "local", "Local"), "secretsmanager": VaultConfig("secretsmanager",
              "secretsmanager", "SM")}
    return Project(tmp_path, settings, vaults, Workspace())


@pytest.mark.parametrize(("typo", "meant"), [("prod", "production"), ("stagin", "staging"),
                                             ("productoin", "production")])
def test_stage_typo(tmp_path: Path, typo: str, meant: str) -> None:
    with pytest.raises(UsageError) as err:
        project(tmp_path).check_stage(typo)
    assert f"did you mean {meant}?" in err.value.message
    assert "local, staging, production, qa" in err.value.message
    assert err.value.exit_code == 2


def test_new_stage_name_suggests_stage_add(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:
        project(tmp_path).check_stage("uat")
    assert "did you mean" not in err.value.message
    assert err.value.fix == ("stage:add", "uat")
    assert "`keep stage:add uat`" in (cli_hint(err.value) or "")
    assert "Settings" in (web_hint(err.value) or "")


def test_vault_typo(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"did you mean secretsmanager\?"):
        project(tmp_path).check_vault("secrets")
    with pytest.raises(UsageError, match=r"Unknown vault 'zzz'; configured vaults: local, secretsmanager$"):
        project(tmp_path).check_vault("zzz")


def test_comma_list_where_one_is_expected_is_not_guessed(tmp_path: Path) -> None:
    for check, word in ((project(tmp_path).check_stage, "local,staging"),
                        (project(tmp_path).check_vault, "local,secretsmanager")):
        with pytest.raises(UsageError) as err:
            check(word)
        assert "did you mean" not in err.value.message
        assert "takes a single one" in err.value.message and err.value.exit_code == 2
