"""Templates end to end: `export --template`, `template:add`, `template:validate` through the
`keep` CLI, and `template_environment` / the fetch plan through the Python API."""

from __future__ import annotations

import io
import json
import stat
import threading

import pytest
import yaml
from dotenv import dotenv_values

from keep_secrets.model import NotFound, Secret
from keep_secrets.project import Project
from keep_secrets.services.templating import render_template, template_environment
from keep_secrets.vaults.base import Vault, open_vault

from .conftest import KeepRunner
from .export_support import add_local_vault, files_in, runner_env, seed

PROD = {
    "DB_PASSWORD": "fake-db-pass-123",
    "DB_USER": "fake_user",
    "API_KEY": "fake 'api' key $x",
    "DB_CREDS": json.dumps({"username": "fake-admin", "password": "fake-pw", "port": 5432}),
    "UNUSED": "fake-unused",
}
TEMPLATE = (
    "# Production settings\r\n"
    "APP_NAME=MyApp   # static\r\n"
    "HOME_DIR=${HOME}/app\r\n"
    "\r\n"
    "export DB_PASSWORD={local}\r\n"
    "API_KEY=\"{local:API_KEY}\"\r\n"
    "DB_ADMIN={local:DB_CREDS.username}\r\n"
    "DATABASE_URL=postgres://{local:DB_USER}:{local:DB_PASSWORD}@db:{local:DB_CREDS.port}/app\r\n"
)
EXPECTED = {
    "APP_NAME": "MyApp",
    "HOME_DIR": "${HOME}/app",
    "DB_PASSWORD": "fake-db-pass-123",
    "API_KEY": "fake 'api' key $x",
    "DB_ADMIN": "fake-admin",
    "DATABASE_URL": "postgres://fake_user:fake-db-pass-123@db:5432/app",
}


@pytest.fixture
def proj(kp: KeepRunner) -> KeepRunner:
    seed(kp, "production", PROD)
    (kp.cwd / "env").mkdir()
    (kp.cwd / "env" / "production.env").write_bytes(TEMPLATE.encode())
    return kp


def env_of(text: str) -> dict[str, str | None]:
    return dict(dotenv_values(stream=io.StringIO(text), interpolate=False))


def test_bare_template_auto_discovers_and_renders(proj: KeepRunner) -> None:
    result = proj.ok("export", "--stage", "production", "--template")
    assert env_of(result.stdout) == EXPECTED
    lines = result.stdout.split("\r\n")
    assert lines[:4] == ["# Production settings", "APP_NAME=MyApp   # static", "HOME_DIR=${HOME}/app", ""]
    assert lines[4] == "export DB_PASSWORD=fake-db-pass-123"
    assert lines[5] == "API_KEY=\"fake 'api' key $x\""  # the template's own double quotes kept
    assert "Rendered template" in result.stderr


def test_template_path_relative_to_cwd_or_template_dir(proj: KeepRunner) -> None:
    by_path = proj.ok("export", "--stage", "production", "--template", "env/production.env").stdout
    by_name = proj.ok("export", "--stage", "production", "--template=production.env").stdout
    assert by_path == by_name
    sub = proj.cwd / "env"
    assert proj.ok("export", "--stage", "production", "--template", "production.env", cwd=sub).stdout == by_path


def test_no_template_means_direct_export_even_when_one_exists(proj: KeepRunner) -> None:
    # Keep's bug #12: a missing --template auto-discovered one; here it is a plain export
    assert proj.ok("export", "--stage", "production", "--format", "json").json() == PROD


def test_missing_template_file(proj: KeepRunner) -> None:
    result = proj("export", "--stage", "staging", "--template")
    assert result.code == 3 and "No template for stage 'staging'" in result.stderr
    assert "template:add" in result.stderr
    result = proj("export", "--stage", "production", "--template", "nope.env")
    assert result.code == 3 and "nope.env not found" in result.stderr


@pytest.mark.parametrize("fmt", ["json", "yaml", "csv", "shell"])
def test_template_to_other_formats(proj: KeepRunner, fmt: str) -> None:
    out = proj.ok("export", "--stage", "production", "--template", "--format", fmt).stdout
    if fmt == "json":
        assert json.loads(out) == EXPECTED
    elif fmt == "yaml":
        assert yaml.safe_load(out) == EXPECTED
    elif fmt == "csv":
        import csv

        rows = list(csv.reader(io.StringIO(out, newline="")))
        assert {r[0]: r[1] for r in rows[1:]} == EXPECTED
        meta = {r[0]: (r[2], r[3], bool(r[4])) for r in rows[1:]}
        assert meta["DB_PASSWORD"] == ("local", "production", True)  # one whole placeholder: its secret
        assert meta["APP_NAME"] == ("", "production", False)  # static
    else:
        assert "export APP_NAME=MyApp\n" in out
        assert "export HOME_DIR='${HOME}/app'\n" in out


def test_missing_fail_names_placeholder_and_line_and_writes_nothing(proj: KeepRunner) -> None:
    template = proj.cwd / "env" / "broken.env"
    template.write_text("A=1\nB={local:NOPE}\nC={local:DB_CREDS.nofield}\n")
    target = proj.cwd / ".env"
    target.write_text("OLD=untouched\n")
    before = files_in(proj.cwd)
    result = proj("export", "--stage", "production", "--template", str(template), "--file", str(target),
                  "--overwrite")
    assert result.code == 3
    assert "line 2: {local:NOPE} (no secret NOPE in local:production)" in result.stderr
    assert "line 3: {local:DB_CREDS.nofield} (the JSON secret has no field 'nofield')" in result.stderr
    assert "nothing was written" in result.stderr
    assert target.read_text() == "OLD=untouched\n"
    assert files_in(proj.cwd) == before
    assert proj("export", "--stage", "production", "--template", str(template)).stdout == ""


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("remove", "A=1\nD=fake_user\n"),
        ("blank", "A=1\nB=\nC=\nD=fake_user\n"),
        ("skip", "A=1\nB={local:NOPE}\nC=x{local:NOPE}\nD=fake_user\n"),
    ],
)
def test_missing_strategies(proj: KeepRunner, strategy: str, expected: str) -> None:
    template = proj.cwd / "t.env"
    template.write_text("A=1\nB={local:NOPE}\nC=x{local:NOPE}\nD={local:DB_USER}\n")
    result = proj.ok("export", "--stage", "production", "--template", "t.env", "--missing", strategy)
    assert result.stdout == expected
    assert "2 missing placeholder(s)" in result.stderr


def test_all_appends_unreferenced_secrets(proj: KeepRunner) -> None:
    result = proj.ok("export", "--stage", "production", "--template", "--all")
    env = env_of(result.stdout)
    # DB_CREDS is referenced only through fields: it counts as referenced
    assert env == {**EXPECTED, "UNUSED": "fake-unused"}
    assert "\r\n# Secrets of production not referenced by the template\r\nUNUSED=fake-unused\r\n" in result.stdout
    as_json = proj.ok("export", "--stage", "production", "--template", "--all", "--format", "json").json()
    assert as_json == {**EXPECTED, "UNUSED": "fake-unused"}


def test_all_with_vault_list_and_static_keys_not_overridden(proj: KeepRunner) -> None:
    add_local_vault(proj, "extra")
    seed(proj, "production", {"EXTRA_ONE": "fake-extra", "APP_NAME": "not-the-static"}, vault="extra")
    result = proj.ok("export", "--stage", "production", "--template", "--all", "--vault", "local,extra",
                     "--format", "json")
    assert result.json() == {**EXPECTED, "UNUSED": "fake-unused", "EXTRA_ONE": "fake-extra"}


def test_only_except_filter_template_lines(proj: KeepRunner) -> None:
    result = proj.ok("export", "--stage", "production", "--template", "--only", "DB_*", "--format", "json")
    assert result.json() == {"DB_PASSWORD": "fake-db-pass-123", "DB_ADMIN": "fake-admin"}
    result = proj.ok("export", "--stage", "production", "--template", "--except", "DB_*,DATABASE_URL")
    assert env_of(result.stdout) == {"APP_NAME": "MyApp", "HOME_DIR": "${HOME}/app", "API_KEY": "fake 'api' key $x"}
    assert "# Production settings" in result.stdout


def test_filtered_out_placeholder_cannot_fail(proj: KeepRunner) -> None:
    (proj.cwd / "t.env").write_text("A={local:NOPE}\nB={local:DB_USER}\n")
    assert proj.ok("export", "--stage", "production", "--template", "t.env", "--except", "A").stdout == "B=fake_user\n"


def test_template_rendered_to_file(proj: KeepRunner) -> None:
    target = proj.cwd / "out" / "prod.env"
    target.parent.mkdir()  # never created by export (see test_file_writes.py)
    proj.ok("export", "--stage", "production", "--template", "--file", str(target))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert dotenv_values(target, interpolate=False) == EXPECTED


def test_unknown_vault_braces_stay_literal_with_a_warning(proj: KeepRunner) -> None:
    (proj.cwd / "t.env").write_text("# {nope:X} in a comment is ignored\nA={nope:X}\nB=${local}\nC={local}x\n")
    seed(proj, "production", {"C": "fake-c"})
    result = proj.ok("export", "--stage", "production", "--template", "t.env", "--format", "json")
    assert result.json() == {"A": "{nope:X}", "B": "${local}", "C": "fake-cx"}
    assert "t.env:2: {nope:X} is left as text: 'nope' is not a configured vault" in result.stderr
    assert "comment" not in result.stderr


def test_invalid_env_name_in_template_refused_for_env(proj: KeepRunner) -> None:
    (proj.cwd / "t.env").write_text("my-key={local:DB_USER}\n")
    result = proj("export", "--stage", "production", "--template", "t.env")
    assert result.code == 2 and "'my-key' is not a valid environment variable name" in result.stderr
    assert proj.ok("export", "--stage", "production", "--template", "t.env", "--format", "json").json() == {
        "my-key": "fake_user"
    }


# -- template:add ---------------------------------------------------------------------------

def test_template_add_generates_a_template_that_exports_like_the_stage(kp: KeepRunner) -> None:
    add_local_vault(kp, "second")
    seed(kp, "staging", {"DB_PASSWORD": "fake-1", "API_KEY": "fake 2", "db-name": "fake-3"})
    seed(kp, "staging", {"API_KEY": "fake-dup", "OTHER": "fake-4"}, vault="second")
    result = kp.ok("template:add", "--stage", "staging")
    path = kp.cwd / "env" / "staging.env"
    text = path.read_text()
    assert "# ----- vault: local -----\nAPI_KEY={local:API_KEY}\nDB_PASSWORD={local:DB_PASSWORD}\n" in text
    assert "db_name={local:db-name}" in text
    assert "# API_KEY={second:API_KEY}    (duplicate of local:API_KEY)" in text
    assert "OTHER={second:OTHER}" in text
    assert "already taken" in result.stderr and "written as db_name" in result.stderr
    assert result.stdout == ""
    exported = kp.ok("export", "--stage", "staging", "--template", "--format", "json").json()
    assert exported == {"API_KEY": "fake 2", "DB_PASSWORD": "fake-1", "db_name": "fake-3", "OTHER": "fake-4"}
    assert kp.ok("template:validate", str(path), "--stage", "staging").code == 0


def test_template_add_refuses_to_overwrite(kp: KeepRunner) -> None:
    seed(kp, "local", {"A": "fake"})
    kp.ok("template:add", "--stage", "local")
    path = kp.cwd / "env" / "local.env"
    path.write_text("# edited by hand\n")
    result = kp("template:add", "--stage", "local")
    assert result.code == 5 and "already exists" in result.stderr and "--overwrite" in result.stderr
    assert path.read_text() == "# edited by hand\n"
    kp.ok("template:add", "--stage", "local", "--overwrite")
    assert "A={local:A}" in path.read_text()


def test_template_add_path_and_empty_stage(kp: KeepRunner) -> None:
    result = kp("template:add", "--stage", "staging")
    assert result.code == 3 and "No secrets in stage 'staging'" in result.stderr
    assert not (kp.cwd / "env").exists()
    seed(kp, "staging", {"A": "fake"})
    kp.ok("template:add", "--stage", "staging", "--path", "deploy/templates")
    assert (kp.cwd / "deploy" / "templates" / "staging.env").read_text().endswith("A={local:A}\n")


# -- template:validate ----------------------------------------------------------------------

def test_validate_ok(proj: KeepRunner) -> None:
    result = proj.ok("template:validate", "env/production.env", "--stage", "production")
    assert "is valid (6 placeholder(s) against stage 'production')" in result.stderr
    assert "1 secret(s) of local:production not in the template: UNUSED" in result.stderr
    assert result.stdout == ""
    assert proj.ok("template:validate", "--stage", "production").code == 0  # default path


def test_validate_lists_every_problem(proj: KeepRunner) -> None:
    (proj.cwd / "bad.env").write_text(
        "just words\n"
        "A='unterminated\n"
        "bad-name=1\n"
        "B={ghost:KEY}\n"
        "C={local:bad key}\n"
        "D={local:MISSING_ONE}\n"
        "E={local:DB_CREDS.nofield}\n"
        "F={local:DB_USER}\n"
        "F=again\n"
    )
    syntax_only = proj("template:validate", "bad.env")
    assert syntax_only.code == 1
    for needle in (
        "line 1: not a KEY=VALUE line",
        "line 2: unterminated ' quote",
        "line 3: 'bad-name' is not a valid environment variable name",
        "line 4: {ghost:KEY}: vault 'ghost' is not configured",
        "line 5: {local:bad key}: invalid key 'bad key'",
        "line 9: F is already defined on line 8",
    ):
        assert needle in syntax_only.stderr, needle
    assert "MISSING_ONE" not in syntax_only.stderr  # without a stage nothing is fetched
    assert "5 problem(s) found" in syntax_only.stderr
    with_stage = proj("template:validate", "bad.env", "--stage", "production")
    assert with_stage.code == 1
    assert "line 6: {local:MISSING_ONE} (no secret MISSING_ONE in local:production)" in with_stage.stderr
    assert "line 7: {local:DB_CREDS.nofield} (the JSON secret has no field 'nofield')" in with_stage.stderr
    assert "7 problem(s) found" in with_stage.stderr
    assert with_stage.stdout == ""


def test_validate_bad_input(proj: KeepRunner) -> None:
    assert proj("template:validate", "nope.env").code == 3
    assert proj("template:validate", "env/production.env", "--stage", "nope").code == 2
    assert proj("template:validate").code == 2


# -- the fetch plan, through the Python API ------------------------------------------------

class CountingVault(Vault):
    """Wraps a real vault, counting list() calls; two wrapped vaults must list at the same
    time (a barrier), which only happens when they are fetched concurrently."""

    driver = "counting"

    def __init__(self, inner: Vault, barrier: threading.Barrier, calls: list[tuple[str, str]]) -> None:
        super().__init__(inner.config, inner.namespace, inner.project_root)
        self.inner, self.barrier, self.calls = inner, barrier, calls

    def list(self, stage: str) -> list[Secret]:
        self.calls.append((self.slug, stage))
        self.barrier.wait(timeout=10)
        return self.inner.list(stage)

    def remote_name(self, stage: str, key: str) -> str:
        return self.inner.remote_name(stage, key)

    def get(self, stage: str, key: str, version: str | None = None) -> Secret:
        raise AssertionError("templates read whole stages, never one key at a time")

    def set(self, stage: str, key: str, value: str, secure: bool = True):  # type: ignore[no-untyped-def]
        raise AssertionError("no writes")

    def delete(self, stage: str, key: str, purge: bool = False) -> None:
        raise AssertionError("no writes")

    def history(self, stage: str, key: str, limit: int | None = None):  # type: ignore[no-untyped-def]
        raise AssertionError("no history")

    def rollback(self, stage: str, key: str, version: str):  # type: ignore[no-untyped-def]
        raise AssertionError("no writes")


def test_each_vault_fetched_once_and_concurrently(kp: KeepRunner) -> None:
    add_local_vault(kp, "second")
    seed(kp, "production", {"A": "fake-a", "B": "fake-b"})
    seed(kp, "production", {"C": "fake-c"}, vault="second")
    template = kp.cwd / "t.env"
    template.write_text("A={local}\nB={local:B}\nC={second}\nAB={local:A}{local:B}\nC2={second:C}\n")
    with runner_env(kp):
        project = Project.load_at(kp.cwd)
        calls: list[tuple[str, str]] = []
        barrier = threading.Barrier(2)
        vaults = {slug: CountingVault(open_vault(project, slug), barrier, calls) for slug in ("local", "second")}
        env = template_environment(project, vaults.__getitem__, "production", template)
        assert env == {"A": "fake-a", "B": "fake-b", "C": "fake-c", "AB": "fake-afake-b", "C2": "fake-c"}
        assert sorted(calls) == [("local", "production"), ("second", "production")]
        calls.clear()
        out = render_template(project, vaults.__getitem__, "production", template, format_name="json")
        assert json.loads(out.text) == env
        assert sorted(calls) == [("local", "production"), ("second", "production")]
        for vault in vaults.values():
            vault.inner.close()


def test_template_environment_missing_modes(kp: KeepRunner) -> None:
    seed(kp, "production", {"A": "fake-a"})
    template = kp.cwd / "t.env"
    template.write_text("STATIC=1\nA={local}\nB={local:NOPE}\n")
    with runner_env(kp):
        project = Project.load_at(kp.cwd)
        vault = open_vault(project, "local")
        try:
            with pytest.raises(NotFound, match=r"line 3: \{local:NOPE\}"):
                template_environment(project, lambda slug: vault, "production", template)
            assert template_environment(project, lambda slug: vault, "production", template, missing="remove") == {
                "STATIC": "1", "A": "fake-a",
            }
            assert template_environment(project, lambda slug: vault, "production", template, missing="blank") == {
                "STATIC": "1", "A": "fake-a", "B": "",
            }
        finally:
            vault.close()


def test_all_keeps_multiline_values_exact_in_a_crlf_template(proj: KeepRunner) -> None:
    pem = "-----BEGIN KEY-----\nfakefake\n-----END KEY-----"
    seed(proj, "production", {"PEM": pem, "WIN": "a\r\nb"})
    out = proj.ok("export", "--stage", "production", "--template", "--all").stdout
    assert "PEM='-----BEGIN KEY-----\nfakefake\n-----END KEY-----'\r\n" in out
    env = env_of(out)
    assert env["PEM"] == pem and env["WIN"] == "a\r\nb"
