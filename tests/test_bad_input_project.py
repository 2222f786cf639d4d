"""Bad-input battery for the project commands: each case must give exactly one `keep: ...`
line on stderr, nothing on stdout, the right exit code, and leave every file of the project
byte-for-byte as it was."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import KeepRunner


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file and directory under `root` (directories map to None)."""
    return {
        str(path.relative_to(root)): (path.read_bytes() if path.is_file() else None)
        for path in sorted(root.rglob("*"))
    }


def assert_refused(runner: KeepRunner, code: int, args: list[str], match: str, cwd: Path | None = None) -> str:
    before = snapshot(runner.cwd)
    result = runner(*args, cwd=cwd)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.code == code, f"keep {' '.join(args)} -> {result.code}\n{result.stderr}"
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("keep: "), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert re.search(match, lines[0]), lines[0]
    assert snapshot(runner.cwd) == before, "the project changed on disk"
    return lines[0]


LONG = "a" * 51

# (arguments, exit code, expected message) run in an initialised project with an extra local
# vault `spare` and a custom stage `qa`
CASES: list[tuple[list[str], int, str]] = [
    # init
    (["init", "-n", "--namespace", "bad ns"], 2, r"Invalid namespace 'bad ns'"),
    (["init", "-n", "--namespace", ""], 2, r"Invalid namespace ''"),
    (["init", "-n", "--namespace", "x" * 101], 2, r"Invalid namespace"),
    (["init", "-n", "--stages", "Production"], 2, r"Invalid stage name 'Production'"),
    (["init", "-n", "--stages", "local,local"], 2, r"Duplicate stage\(s\) in the list: local"),
    (["init", "-n", "--stages", " , "], 2, r"At least one stage is required"),
    (["init", "-n", "--stages", LONG], 2, r"Invalid stage name"),
    (["init", "-n", "--name", "  "], 2, r"Invalid app name"),
    (["init", "-n", "--path", "does/not/exist"], 2, r"not a directory"),
    # vault:add
    (["vault:add", "--driver", "vault"], 2, r"Unknown vault driver 'vault'; known drivers: local, ssm"),
    (["vault:add"], 2, r"--driver is required \(choices: local, ssm, secretsmanager, openbao\)"),
    (["vault:add", "--driver", "local", "--slug", "Bad Slug"], 2, r"Invalid vault slug 'Bad Slug'"),
    (["vault:add", "--driver", "local", "--slug", "-x"], 2, r"Invalid vault slug"),
    (["vault:add", "--driver", "local", "--slug", LONG], 2, r"Invalid vault slug"),
    (["vault:add", "--driver", "local", "--slug", "spare"], 5, r"slug 'spare' already exists"),
    (["vault:add", "--driver", "ssm", "--tier", "Premium"], 2, r"Invalid --tier 'Premium'"),
    (["vault:add", "--driver", "ssm", "--region", "moon-1"], 2, r"Invalid --region 'moon-1'"),
    (["vault:add", "--driver", "local", "--region", "us-east-1"], 2, r"--region does not apply to the local"),
    (["vault:add", "--driver", "secretsmanager", "--tier", "Standard"], 2, r"--tier does not apply"),
    (["vault:add", "--driver", "ssm", "--replica-regions", "us-west-2"], 2, r"--replica-regions does not apply"),
    (["vault:add", "--driver", "secretsmanager", "--replica-regions", "nowhere"], 2,
     r"Invalid --replica-regions entry 'nowhere'"),
    (["vault:add", "--driver", "secretsmanager", "--recovery-window-days", "3"], 2,
     r"Invalid --recovery-window-days 3: use 7-30"),
    (["vault:add", "--driver", "secretsmanager", "--recovery-window-days", "soon"], 2, r"not a valid integer"),
    (["vault:add", "--driver", "ssm", "--endpoint-url", "ftp://example"], 2, r"Invalid --endpoint-url 'ftp://example'"),
    (["vault:add", "--driver", "ssm", "--key", "has space"], 2, r"Invalid --key 'has space': use a KMS key id"),
    (["vault:add", "--driver", "ssm", "--scope", "a//b c"], 2, r"invalid scope"),
    (["vault:add", "--driver", "local", "--name", ""], 2, r"Invalid vault name"),
    (["vault:add", "--driver", "local", "--bogus"], 2, r"No such option '--bogus'"),
    # vault:edit
    (["vault:edit", "nope"], 2, r"Unknown vault 'nope'; configured vaults: local, spare"),
    (["vault:edit"], 2, r"Which vault\? Pass its slug"),
    (["vault:edit", "spare", "--slug", "BAD"], 2, r"Invalid vault slug 'BAD'"),
    (["vault:edit", "spare", "--slug", "local"], 5, r"slug 'local' already exists"),
    (["vault:edit", "spare", "--driver", "ssm"], 2, r"driver of vault 'spare' is local and cannot change"),
    (["vault:edit", "spare", "--tier", "Standard"], 2, r"--tier does not apply to the local driver"),
    # vault:delete / vault:default
    (["vault:delete", "local", "--force"], 5, r"Cannot delete the default vault 'local'.*vault:default spare"),
    (["vault:delete", "nope", "--force"], 2, r"Unknown vault 'nope'"),
    (["vault:delete", "spare"], 2, r"not asked without a terminal; pass --force"),
    (["vault:default", "nope"], 2, r"Unknown vault 'nope'"),
    # stages
    (["stage:add", "qa"], 5, r"Stage 'qa' already exists"),
    (["env:add", "local"], 5, r"Stage 'local' already exists"),
    (["stage:add", "invalid env!"], 2, r"Invalid stage name 'invalid env!'"),
    (["stage:add", "Upper"], 2, r"Invalid stage name 'Upper'"),
    (["stage:add", LONG], 2, r"Invalid stage name"),
    (["stage:add"], 2, r"stage name is required"),
    (["stage:remove", "production", "--force"], 2, r"'production' is a system stage"),
    (["env:remove", "local", "--force"], 2, r"'local' is a system stage"),
    (["stage:remove", "staging"], 2, r"'staging' is a system stage"),
    (["stage:remove", "nope", "--force"], 3, r"Stage 'nope' is not configured; stages: local, staging"),
    (["stage:remove", "qa"], 2, r"not asked without a terminal; pass --force"),
    (["stage:remove"], 2, r"removable stages: qa"),
    # workspace / info
    (["workspace", "--vaults", "nope"], 2, r"Unknown vaults: nope; configured vaults: local, spare"),
    (["workspace", "--stages", "local,prod"], 2, r"Unknown stages: prod"),
    (["workspace", "--stages", ","], 2, r"Choose at least one of the configured stages"),
    (["workspace", "--reset", "--vaults", "local"], 2, r"--reset cannot be combined"),
    (["info", "--format", "xml"], 2, r"Invalid value for '--format'"),
    (["vault:list", "--format", "yaml"], 2, r"Invalid value for '--format'"),
]


@pytest.fixture
def project(kp: KeepRunner) -> KeepRunner:
    kp.ok("vault:add", "--driver", "local", "--slug", "spare", "--no-verify")
    kp.ok("stage:add", "qa")
    return kp


@pytest.mark.parametrize(("args", "code", "match"), CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_input_is_refused_without_changes(project: KeepRunner, args: list[str], code: int, match: str) -> None:
    assert_refused(project, code, args, match)


def test_bad_input_from_a_subdirectory(project: KeepRunner) -> None:
    sub = project.cwd / "src" / "app"
    sub.mkdir(parents=True)
    assert_refused(project, 2, ["stage:add", "Bad!"], r"Invalid stage name", cwd=sub)
    assert_refused(project, 5, ["vault:delete", "local", "--force"], r"default vault", cwd=sub)


@pytest.mark.parametrize(
    "args",
    [["info"], ["vault:list"], ["vault:add", "--driver", "local"], ["vault:edit", "x"], ["vault:delete", "x"],
     ["vault:default", "x"], ["stage:add", "qa"], ["stage:remove", "qa"], ["env:add", "qa"], ["workspace"]],
    ids=lambda a: " ".join(a),
)
def test_not_initialised(keep: KeepRunner, args: list[str]) -> None:
    line = assert_refused(keep, 2, args, r"Keep is not initialised here")
    assert "keep init" in line
    assert not (keep.cwd / ".keep").exists()


def test_keep_dir_without_settings(keep: KeepRunner) -> None:
    (keep.cwd / ".keep").mkdir()
    assert_refused(keep, 2, ["vault:list"], r"settings\.json is missing \(run `keep init`\)")


# corrupt files: (file under .keep/, content, expected message); each must name the file and line
CORRUPT: list[tuple[str, str, str]] = [
    ("settings.json", '{\n  "app_name": "x",\n  "namespace": "myapp"\n  "stages": []\n}',
     r"settings\.json: invalid JSON at line 4 column 3"),
    ("settings.json", "", r"settings\.json: invalid JSON at line 1"),
    ("settings.json", "[1, 2]", r"settings\.json: line 1: expected a JSON object"),
    ("settings.json", '{\n "app_name": "x",\n "namespace": "bad ns",\n "stages": ["local"]\n}',
     r"settings\.json: line 3: Invalid namespace 'bad ns'"),
    ("settings.json", '{\n "namespace": "myapp",\n "stages": "local"\n}',
     r"settings\.json: line 3: stages must be a non-empty list"),
    ("settings.json", '{\n "namespace": "myapp",\n "envs": ["local", "local"]\n}',
     r"settings\.json: line 3: duplicate stages are not allowed: local"),
    ("settings.json", '{\n "namespace": "myapp",\n "stages": ["local"],\n "default_vault": "Bad Vault"\n}',
     r"settings\.json: line 4: Invalid vault slug"),
    ("settings.json", '{"stages": ["local"]}', r"settings\.json: missing required setting 'namespace'"),
    ("vaults/spare.json", '{\n "slug": "spare",\n "driver": "local",\n', r"spare\.json: invalid JSON at line 4"),
    ("vaults/spare.json", '{\n "slug": "spare",\n "driver": "hashicorp"\n}',
     r"spare\.json: line 3: unknown driver 'hashicorp'"),
    ("vaults/spare.json", '{\n "slug": "other",\n "driver": "local"\n}',
     r"spare\.json: line 2: slug 'other' does not match the file name"),
    ("vaults/spare.json", '{\n "slug": "spare",\n "driver": "ssm",\n "tier": "Gold"\n}',
     r"spare\.json: line 4: invalid tier 'Gold'"),
    ("vaults/spare.json", '{\n "slug": "spare",\n "driver": "ssm",\n "region": 5\n}',
     r"spare\.json: line 4: region must be a string"),
    ("local/workspace.json", '{\n "vaults": "local"\n}', r"workspace\.json: line 2: vaults must be a list"),
    ("local/workspace.json", "{oops", r"workspace\.json: invalid JSON at line 1"),
]


@pytest.mark.parametrize(("name", "content", "match"), CORRUPT, ids=[f"{c[0]}-{i}" for i, c in enumerate(CORRUPT)])
def test_corrupt_files_are_named_and_init_repairs_them(
    project: KeepRunner, name: str, content: str, match: str
) -> None:
    (project.cwd / ".keep" / name).write_text(content)
    assert_refused(project, 2, ["vault:list"], match)
    assert_refused(project, 2, ["stage:add", "demo"], match)
    repaired = project.ok("init", "-n")
    assert "warning: repaired" in repaired.stderr
    # every command works again and the project is consistent
    info = json.loads(project.ok("info", "--format", "json").stdout)
    assert info["default_vault"] in [v["slug"] for v in info["vaults"]]
    project.ok("set", "AFTER_REPAIR", "fake-value-123", "--stage", "local")


def test_init_refuses_bad_flags_before_repairing(project: KeepRunner) -> None:
    (project.cwd / ".keep" / "settings.json").write_text("{broken")
    assert_refused(project, 2, ["init", "-n", "--stages", "Bad"], r"Invalid stage name 'Bad'")


def test_init_on_a_file_named_keep(keep: KeepRunner) -> None:
    (keep.cwd / ".keep").write_text("not a directory")
    assert_refused(keep, 2, ["init", "-n"], r"\.keep exists and is not a directory")



_CONTROL = [chr(c) for c in (*range(0, 32), 127) if c != 0]  # NUL cannot be in an argv


def test_a_vault_name_with_a_control_character_is_refused_like_an_app_name(project: KeepRunner) -> None:
    """A friendly name is printed raw in prompts and messages (`vault:delete`, `vault:edit`):
    a newline or an escape sequence in it is refused on every write, as in the app name."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=30, deadline=None)
    @given(st.text(max_size=10), st.sampled_from(_CONTROL), st.text(max_size=10))
    def check(before: str, control: str, after: str) -> None:
        name = f"Vault {before}{control}{after}".replace("\x00", "")
        for args in (["vault:add", "--driver", "local", "--slug", "other", "--name", name, "--no-verify"],
                     ["vault:edit", "spare", "--name", name, "--no-verify"]):
            assert_refused(project, 2, args, r"Invalid vault name")

    check()


@pytest.mark.parametrize("control", ["\n", "\x1b", "\x7f"])
def test_an_app_name_with_a_control_character_is_refused_like_a_vault_name(keep: KeepRunner, control: str) -> None:
    """The app name and a vault's friendly name share one rule: DEL is no more printable than
    a newline or an escape."""
    assert_refused(keep, 2, ["init", "-n", "--name", f"Shop{control}"], r"Invalid app name")


_SETTINGS = {"app_name": "Shop", "namespace": "shop-prod", "stages": ["local", "staging", "production", "qa"],
             "default_vault": "local", "template_path": "env", "version": "1.0"}


def test_init_repairing_a_damaged_settings_file_never_silently_changes_the_namespace(kp: KeepRunner) -> None:
    """`keep init` is what the error of a damaged settings.json suggests. With a remote vault, a
    new namespace (from the directory's name) would hide every stored secret: the namespace and
    stages are recovered from the damaged text, or init asks for --namespace (exit 2, nothing
    written); never a different namespace."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    kp.ok("vault:add", "--driver", "ssm", "--slug", "ssm", "--region", "us-east-1", "--no-verify")
    path = kp.cwd / ".keep" / "settings.json"
    text = json.dumps(_SETTINGS, indent=4)
    complete = text.index('"shop-prod"') + len('"shop-prod"')

    @settings(max_examples=25, deadline=None)
    @given(st.integers(min_value=1, max_value=len(text) - 1))
    def check(cut: int) -> None:
        path.write_text(text[:cut])  # a truncated file (a disk full, an editor crash)
        result = kp("init", "-n")
        if cut >= complete:
            assert result.code == 0, result.stderr
            saved = json.loads(path.read_text())
            assert saved["namespace"] == "shop-prod"
            if cut > text.index("]", text.index('"qa"')):  # the whole stage list is there
                assert saved["stages"] == _SETTINGS["stages"]
        else:
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            assert result.code == 2 and len(lines) == 1 and "--namespace" in lines[0], result.stderr
            assert path.read_text() == text[:cut]
            kp.ok("init", "-n", "--namespace", "shop-prod")
            assert json.loads(path.read_text())["namespace"] == "shop-prod"

    check()
    # a trailing comma, the commonest hand edit
    path.write_text(text.replace('"qa"', '"qa",'))
    kp.ok("init", "-n")
    saved = json.loads(path.read_text())
    assert saved["namespace"] == "shop-prod" and saved["stages"] == _SETTINGS["stages"]
    assert saved["app_name"] == "Shop"
