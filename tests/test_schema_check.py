"""`.keep/schema.toml`, `keep check`, `keep schema:init` and the schema part of
`template:validate` (SPEC §14), on local vaults; parsing and checking tested directly too."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keep_secrets.model import Secret, UsageError
from keep_secrets.services import schema

from .conftest import KeepRunner
from .moving_support import seed

STAGES = ["local", "staging", "production"]
SCHEMA = """\
[keys.DB_PASSWORD]
description = "Primary database password"
pattern = "[A-Za-z0-9-]{12,}"

[keys.STRIPE_KEY]
stages = ["production"]
pattern = "sk_live_[a-z0-9]+"

[keys.DEBUG]
required = false
pattern = "true|false"
"""


def _write(kp: KeepRunner, text: str) -> Path:
    path = kp.cwd / ".keep" / "schema.toml"
    path.write_text(text)
    return path


@pytest.fixture
def checked(kp: KeepRunner) -> KeepRunner:
    _write(kp, SCHEMA)
    seed(kp.cwd, kp.env, "staging", {"DB_PASSWORD": "fake-staging-pw", "DEBUG": "yes-please", "EXTRA": "fake-x"})
    seed(kp.cwd, kp.env, "production", {"DB_PASSWORD": "short", "STRIPE_KEY": "sk_live_fake0123"})
    return kp


def test_check_json_reports_every_problem_without_values(checked: KeepRunner) -> None:
    result = checked("check", "--stage=staging,production", "--format=json")
    assert result.code == 1
    data = result.json()
    assert data == {
        "ok": False,
        "problems": [
            {"key": "DEBUG", "stage": "staging", "vault": "local",
             "problem": "value does not match the pattern 'true|false'"},
            {"key": "DB_PASSWORD", "stage": "production", "vault": "local",
             "problem": "value does not match the pattern '[A-Za-z0-9-]{12,}'"},
        ],
    }
    for value in ("yes-please", "short", "fake-staging-pw", "sk_live_fake0123"):
        assert value not in result.stdout + result.stderr
    assert "2 problem(s) found" in result.stderr


def test_missing_required_keys_and_stage_scoping(kp: KeepRunner) -> None:
    _write(kp, SCHEMA)
    seed(kp.cwd, kp.env, "staging", {"OTHER": "fake-other"})
    result = kp("check", "--stage=staging,production", "--format=json")
    problems = {(p["key"], p["stage"], p["problem"]) for p in result.json()["problems"]}  # type: ignore[index]
    assert problems == {
        ("DB_PASSWORD", "staging", "required but missing"),
        ("DB_PASSWORD", "production", "required but missing"),
        ("STRIPE_KEY", "production", "required but missing"),  # required only in production
    }
    table = kp("check", "--stage=staging")
    assert table.code == 1
    assert table.stdout.splitlines()[0].split() == ["Key", "Vault", "Stage", "Problem"]
    assert "DB_PASSWORD" in table.stdout and "STRIPE_KEY" not in table.stdout


def test_strict_reports_keys_the_schema_does_not_name(checked: KeepRunner) -> None:
    plain = checked("check", "--stage=staging", "--format=json").json()
    assert all(p["key"] != "EXTRA" for p in plain["problems"])  # type: ignore[index]
    strict = checked("check", "--stage=staging", "--strict", "--format=json").json()
    assert {"key": "EXTRA", "stage": "staging", "vault": "local", "problem": "not in the schema"} in strict[
        "problems"]  # type: ignore[index]


def test_all_good_exits_0(kp: KeepRunner) -> None:
    _write(kp, SCHEMA)
    seed(kp.cwd, kp.env, "production", {"DB_PASSWORD": "fake-long-password", "STRIPE_KEY": "sk_live_abc"})
    result = kp("check", "--stage=production", "--format=json")
    assert result.code == 0 and result.json() == {"ok": True, "problems": []}
    quiet = kp("check", "--stage=production")
    assert quiet.code == 0 and quiet.stdout == "" and "No problems" in quiet.stderr


def test_required_key_may_live_in_any_checked_vault(kp: KeepRunner) -> None:
    (kp.cwd / ".keep" / "vaults" / "team.json").write_text(
        json.dumps({"slug": "team", "driver": "local", "name": "Team", "scope": ""}))
    _write(kp, '[keys.A]\n[keys.B]\n')
    seed(kp.cwd, kp.env, "staging", {"A": "fake-a"})
    seed(kp.cwd, kp.env, "staging", {"B": "fake-b"}, vault="team")
    assert kp("check", "--stage=staging", "--vault=local,team").code == 0
    only_local = kp("check", "--stage=staging", "--vault=local", "--format=json").json()
    assert only_local["problems"] == [  # type: ignore[index]
        {"key": "B", "stage": "staging", "vault": "local", "problem": "required but missing"}]


def test_no_schema_is_a_clear_error(kp: KeepRunner) -> None:
    result = kp("check", "--stage=staging")
    assert result.code == 3 and "schema:init" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("[keys.A]\npattern = \"x\"\n[keys.B\n", 3, "invalid TOML"),
        ("[keys.A]\nrequired = true\nrequird = false\n", 3, "unknown field 'requird'"),
        ("[keys.A]\n\nrequired = \"yes\"\n", 3, "required must be true or false"),
        ("[keys.A]\ndescription = \"d\"\npattern = \"(unclosed\"\n", 3, "not a valid regular expression"),
        ("[keys.A]\nstages = [\"prod\"]\n", 2, "unknown stage 'prod'"),
        ("[keys.A]\nstages = \"production\"\n", 2, "stages must be a list"),
        ("[keys.A]\n[keys.\"bad key\"]\n", 2, "not a valid key name"),
        ("version = 1\n[keys.A]\n", 1, "unknown table or field 'version'"),
        ("[keys]\nA = 5\n", 2, "keys.A must be a table"),
    ],
)
def test_bad_schema_is_one_line_with_file_and_line(kp: KeepRunner, text: str, line: int, words: str) -> None:
    path = _write(kp, text)
    for command in (["check", "--stage=staging"], ["template:validate", "x.env"]):
        if command[0] == "template:validate":
            (kp.cwd / "x.env").write_text("A=1\n")
        result = kp(*command)
        assert result.code == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.stderr
        assert f"{path}:{line}:" in lines[0] and words in lines[0]


def test_schema_init_writes_names_only_and_refuses_to_overwrite(kp: KeepRunner) -> None:
    seed(kp.cwd, kp.env, "staging", {"DB_PASSWORD": "fake-secret-1", "ONLY_STAGING": "fake-secret-2"})
    seed(kp.cwd, kp.env, "production", {"DB_PASSWORD": "fake-secret-3"})
    seed(kp.cwd, kp.env, "local", {"DB_PASSWORD": "fake-secret-4"})
    kp.ok("schema:init")
    path = kp.cwd / ".keep" / "schema.toml"
    text = path.read_text()
    assert "fake-secret" not in text
    assert tomllib.loads(text) == {"keys": {
        "DB_PASSWORD": {"description": ""},
        "ONLY_STAGING": {"description": "", "stages": ["staging"]},
    }}
    assert kp("check", "--format=json").json() == {"ok": True, "problems": []}
    again = kp("schema:init")
    assert again.code == 5 and "--overwrite" in again.stderr and path.read_text() == text
    kp.ok("schema:init", "--stage=production", "--overwrite")
    # only production was looked at: required there, nothing claimed about the other stages
    assert tomllib.loads(path.read_text()) == {"keys": {"DB_PASSWORD": {"description": "", "stages": ["production"]}}}


def test_template_validate_shows_schema_problems(kp: KeepRunner) -> None:
    _write(kp, SCHEMA)
    (kp.cwd / "t.env").write_text("DEBUG=maybe\nSTRIPE_KEY={local}\n")
    result = kp("template:validate", "t.env")
    assert result.code == 1
    assert "DB_PASSWORD is required by schema.toml but the template does not define it" in result.stderr
    assert "line 1: the static value of DEBUG does not match the pattern 'true|false'" in result.stderr
    assert "maybe" not in result.stderr
    (kp.cwd / "ok.env").write_text("DB_PASSWORD={local}\nDEBUG=true\n")
    assert kp("template:validate", "ok.env").code == 0
    staged = kp("template:validate", "ok.env", "--stage=production")
    assert "STRIPE_KEY is required by schema.toml in stage 'production'" in staged.stderr


def test_help_texts(kp: KeepRunner) -> None:
    assert "--strict" in kp.ok("check", "--help").stdout
    assert "never values" in " ".join(kp.ok("schema:init", "--help").stdout.split())


# -- direct ----------------------------------------------------------------------------------

def _secret(key: str, value: str, stage: str, vault: str = "v") -> Secret:
    return Secret(key, value, "1", None, vault, stage)


_KEYS = st.from_regex(r"[A-Z][A-Z0-9_]{0,8}", fullmatch=True)


@settings(deadline=None)
@given(st.dictionaries(st.sampled_from(STAGES), st.sets(_KEYS, max_size=6)))
def test_init_schema_text_reads_back_and_checks_clean(present: dict[str, set[str]]) -> None:
    """What schema:init writes always parses, and checking the same keys finds nothing missing."""
    text = schema.render_schema({s: sorted(k) for s, k in present.items()}, STAGES)
    parsed = schema.parse_schema(text, Path("schema.toml"), STAGES)
    expected: set[str] = set().union(*present.values()) if present else set()
    assert set(parsed.keys) == expected
    for key, spec in parsed.keys.items():  # required exactly where it was found
        assert {s for s in STAGES if spec.required_in(s)} == {s for s in STAGES if key in present.get(s, ())}
    cells = {("v", s): [_secret(k, "x", s) for k in present.get(s, ())] for s in STAGES}
    assert schema.check_cells(parsed, cells, STAGES, ["v"]).ok


def test_pattern_must_match_the_whole_value() -> None:
    parsed = schema.parse_schema('[keys.A]\npattern = "[0-9]+"\n', Path("s.toml"), STAGES)
    cells = {("v", "local"): [_secret("A", "123abc", "local")]}
    result = schema.check_cells(parsed, cells, ["local"], ["v"])
    assert [p.kind for p in result.problems] == [schema.PATTERN]
    assert schema.check_cells(parsed, {("v", "local"): [_secret("A", "123", "local")]}, ["local"], ["v"]).ok


def test_inline_table_and_quoted_names() -> None:
    text = 'keys.A = { required = false }\n[keys."B-2"]\nstages = ["local"]\n'
    parsed = schema.parse_schema(text, Path("s.toml"), STAGES)
    assert parsed.keys["A"].required is False and parsed.keys["B-2"].stages == ("local",)
    with pytest.raises(UsageError, match=r"s\.toml:1: .*unknown field 'requird'"):
        schema.parse_schema('keys.A = { requird = false }\n', Path("s.toml"), STAGES)


def test_template_validate_checks_rendered_values_with_a_stage(kp: KeepRunner) -> None:
    _write(kp, '[keys.DB_PASSWORD]\npattern = "[A-Za-z0-9-]{12,}"\n[keys.API]\nrequired = false\npattern = "k-.*"\n')
    seed(kp.cwd, kp.env, "staging", {"DB_PASSWORD": "short!", "API": "k-fake"})
    seed(kp.cwd, kp.env, "production", {"DB_PASSWORD": "fake-long-password"})
    (kp.cwd / "t.env").write_text("DB_PASSWORD={local}\nAPI={local:API}\n")
    assert kp("template:validate", "t.env").code == 0  # no stage: placeholders are not rendered
    staging = kp("template:validate", "t.env", "--stage=staging")
    assert staging.code == 1
    assert ("line 1: the value of DB_PASSWORD rendered for stage 'staging' does not match the pattern "
            "'[A-Za-z0-9-]{12,}'") in staging.stderr
    assert "short!" not in staging.stderr and "API rendered" not in staging.stderr
    production = kp("template:validate", "t.env", "--stage=production")
    # API does not resolve in production: reported as missing, not as a pattern failure
    assert "DB_PASSWORD rendered" not in production.stderr and "API rendered" not in production.stderr
