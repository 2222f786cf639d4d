"""Issue 16 item 6: a committed vault file cannot point keep at another project's database: a
local path outside the project needs the user's confirmation (recorded in their uncommitted
workspace), and a database is bound to the project (namespace) that wrote it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import KeepRunner, base_env


def other_project(tmp_path: Path) -> tuple[KeepRunner, Path]:
    root = tmp_path / "victim"
    root.mkdir()
    home = tmp_path / "victim-home"
    home.mkdir()
    victim = KeepRunner(root, base_env(home))
    victim.ok("init", "--no-interaction", "--name", "Victim", "--namespace", "victim")
    victim.ok("set", "VICTIM_TOKEN", "fake-victim-secret", "--stage", "staging")
    return victim, root / ".keep" / "local" / "local.db"


def point_at(kp: KeepRunner, path: Path) -> None:
    file = kp.cwd / ".keep" / "vaults" / "local.json"
    data = json.loads(file.read_text())
    data["path"] = str(path)
    file.write_text(json.dumps(data))


def test_a_committed_path_into_another_project_is_refused(kp: KeepRunner, tmp_path: Path) -> None:
    _, victim_db = other_project(tmp_path)
    point_at(kp, victim_db)  # as a malicious or careless commit would
    for args in (("show", "--unmask"), ("get", "VICTIM_TOKEN"), ("set", "X", "fake-x")):
        result = kp(*args, "--stage", "staging")
        assert result.code == 2, (args, result.stderr)
        assert "outside this project" in result.stderr and "fake-victim-secret" not in result.stdout
        assert "--outside-project" in result.stderr


def test_confirming_an_outside_path_still_cannot_read_another_projects_database(
    kp: KeepRunner, tmp_path: Path
) -> None:
    _, victim_db = other_project(tmp_path)
    kp.ok("vault:edit", "local", "--path", str(victim_db), "--outside-project", "--no-verify")
    result = kp("get", "VICTIM_TOKEN", "--stage", "staging")
    assert result.code == 2 and "belongs to the project with namespace 'victim'" in result.stderr
    assert "fake-victim-secret" not in result.stdout


def test_an_outside_path_of_your_own_works_once_confirmed(kp: KeepRunner, tmp_path: Path) -> None:
    shared = tmp_path / "elsewhere" / "mine.db"
    refused = kp("vault:add", "--driver", "local", "--slug", "mine", "--path", str(shared), "--no-verify")
    assert refused.code == 2 and "outside this project" in refused.stderr
    assert not (kp.cwd / ".keep" / "vaults" / "mine.json").exists()
    kp.ok("vault:add", "--driver", "local", "--slug", "mine", "--path", str(shared), "--outside-project",
          "--no-verify")
    kp.ok("set", "K", "fake-mine", "--vault", "mine", "--stage", "staging")
    assert kp.ok("get", "K", "--vault", "mine", "--stage", "staging", "--format", "raw").stdout == "fake-mine\n"
    workspace = json.loads((kp.cwd / ".keep" / "local" / "workspace.json").read_text())
    assert workspace["outside_paths"] == {"mine": str(shared.resolve())}
    assert "outside_paths" not in (kp.cwd / ".keep" / "vaults" / "mine.json").read_text()


def _confirmed(kp: KeepRunner) -> object:
    return json.loads((kp.cwd / ".keep" / "local" / "workspace.json").read_text()).get("outside_paths")


def test_renaming_a_confirmed_outside_vault_keeps_its_confirmation_and_deleting_it_forgets_it(
    kp: KeepRunner, tmp_path: Path
) -> None:
    shared = tmp_path / "elsewhere" / "mine.db"
    shared.parent.mkdir()
    kp.ok("vault:add", "--driver", "local", "--slug", "mine", "--path", str(shared), "--outside-project",
          "--no-verify")
    kp.ok("set", "OUTSIDE_KEY", "fake-outside-value", "--vault", "mine", "--stage", "local")
    # an edit that keeps the confirmed path needs no new confirmation, nor does a rename
    kp.ok("vault:edit", "mine", "--name", "Mine elsewhere", "--no-verify")
    kp.ok("vault:edit", "mine", "--slug", "ours", "--no-verify")
    got = kp.ok("get", "OUTSIDE_KEY", "--vault", "ours", "--stage", "local", "--format", "raw")
    assert got.stdout == "fake-outside-value\n"
    assert _confirmed(kp) == {"ours": str(shared.resolve())}
    # deleting the vault forgets the confirmation: a vault file committed later under the same
    # slug and path is refused until confirmed again
    kp.ok("vault:delete", "ours", "--force")
    assert _confirmed(kp) == {}
    (kp.cwd / ".keep" / "vaults" / "ours.json").write_text(
        json.dumps({"slug": "ours", "driver": "local", "name": "Ours", "path": str(shared)}))
    refused = kp("get", "OUTSIDE_KEY", "--vault", "ours", "--stage", "local")
    assert refused.code == 2 and "outside this project" in refused.stderr


def test_a_rename_through_the_web_api_keeps_a_confirmed_outside_vault_usable(kp: KeepRunner, tmp_path: Path) -> None:
    from keep_secrets.project import Project
    from keep_secrets.services import vault_config

    shared = tmp_path / "elsewhere" / "mine.db"
    shared.parent.mkdir()
    kp.ok("vault:add", "--driver", "local", "--slug", "mine", "--path", str(shared), "--outside-project",
          "--no-verify")
    kp.ok("set", "OUTSIDE_KEY", "fake-outside-value", "--vault", "mine", "--stage", "local")
    # what PUT /api/vaults does (the page has no --outside-project: the path is unchanged)
    project = Project.load_at(kp.cwd)
    old = project.vaults["mine"]
    renamed = vault_config.build_vault(old.driver, "ours", old.name, dict(old.options))
    vault_config.update_vault(project, "mine", renamed, False)
    got = kp.ok("get", "OUTSIDE_KEY", "--vault", "ours", "--stage", "local", "--format", "raw")
    assert got.stdout == "fake-outside-value\n"
    assert _confirmed(kp) == {"ours": str(shared.resolve())}


def test_a_rename_that_cannot_save_the_new_vault_file_leaves_the_data_where_the_old_one_reads_it(
    kp: KeepRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keep_secrets.model import UsageError
    from keep_secrets.project import Project

    kp.ok("vault:add", "--driver", "local", "--slug", "team", "--no-verify")
    kp.ok("set", "TEAM_KEY", "fake-team-value", "--vault", "team", "--stage", "local")
    real_save = Project.save_vault

    def failing_save(self: Project, config: object) -> None:
        if getattr(config, "slug", None) == "crew":
            raise UsageError("Cannot write .keep/vaults/crew.json: No space left on device")
        real_save(self, config)  # type: ignore[arg-type]

    monkeypatch.setattr(Project, "save_vault", failing_save)
    failed = kp("vault:edit", "team", "--slug", "crew", "--no-verify")
    assert failed.code == 2 and "No space left" in failed.stderr
    monkeypatch.undo()
    # nothing changed: the vault is still `team`, with its data
    got = kp.ok("get", "TEAM_KEY", "--vault", "team", "--stage", "local", "--format", "raw")
    assert got.stdout == "fake-team-value\n"
    assert not (kp.cwd / ".keep" / "local" / "crew.db").exists()


def test_the_web_api_cannot_point_a_local_vault_outside_the_project_unconfirmed(kp: KeepRunner, tmp_path: Path) -> None:
    """The page has no --outside-project: adding a local vault at an outside path, or moving one
    there, is refused (nothing written, no data moved) instead of saving a vault keep then
    refuses to open (and, for an edit, moving its database out of the project)."""
    from keep_secrets.model import UsageError
    from keep_secrets.project import Project
    from keep_secrets.services import vault_config

    outside = tmp_path / "elsewhere" / "x.db"
    kp.ok("set", "LOCAL_KEY", "fake-local-value", "--stage", "local")
    before = {p.name: p.read_bytes() for p in (kp.cwd / ".keep" / "vaults").iterdir()}
    project = Project.load_at(kp.cwd)
    added = vault_config.build_vault("local", "away", "Away", {"path": str(outside)})
    with pytest.raises(UsageError, match="outside this project"):
        vault_config.add_vault(project, added, False)  # what POST /api/vaults does
    old = project.vaults["local"]
    moved = vault_config.build_vault("local", "local", old.name, {**old.options, "path": str(outside)})
    with pytest.raises(UsageError, match="outside this project"):
        vault_config.update_vault(project, "local", moved, False)  # what PUT /api/vaults does
    assert {p.name: p.read_bytes() for p in (kp.cwd / ".keep" / "vaults").iterdir()} == before
    assert not outside.exists()
    got = kp.ok("get", "LOCAL_KEY", "--stage", "local", "--format", "raw")
    assert got.stdout == "fake-local-value\n"
