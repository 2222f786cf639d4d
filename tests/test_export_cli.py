"""`keep export` end to end, through the `keep` CLI on the local vault: every
format read back by its real reader, merged vaults, filters, and safe file writing."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keep_secrets.formats.dotenv import env_representable

from .conftest import KeepRunner
from .export_support import add_local_vault, files_in, seed
from .test_formats import NASTY, VALUES

ENV_SAFE = [v for v in NASTY if env_representable(v)]
ONE_LINE = {"DB_PASSWORD": "fake-db-pass-123", "API_KEY": "fake key with 'quotes' and $dollar", "EMPTY": ""}


def sh_values(directory: Path, script: str, keys: list[str]) -> list[str]:
    (directory / "out.sh").write_text(script, encoding="utf-8")
    refs = " ".join(f'"${k}"' for k in keys)
    proc = subprocess.run(["sh", "-c", f"set -e; . ./out.sh; printf '%s\\0' {refs}"], cwd=directory,
                          capture_output=True, check=True, timeout=30, env={"PATH": "/usr/bin:/bin"})
    return proc.stdout.decode("utf-8").split("\0")[:-1]


@pytest.fixture
def nasty(kp: KeepRunner) -> dict[str, str]:
    values = {f"KEY_{i:02d}": v for i, v in enumerate(NASTY)}
    seed(kp, "staging", values)
    return values


def test_env_export_reads_back_exactly(kp: KeepRunner, nasty: dict[str, str], tmp_path: Path) -> None:
    result = kp("export", "--stage", "staging")
    assert result.code == 2 and result.stdout == ""
    assert "ending with a backslash" in result.stderr  # NASTY holds one value no dotenv can read back
    unsafe = [k for k, v in nasty.items() if not env_representable(v)]
    result = kp.ok("export", "--stage", "staging", "--except", ",".join(unsafe))
    path = tmp_path / "read.env"
    path.write_bytes(result.stdout.encode())
    expected = {k: v for k, v in nasty.items() if k not in unsafe}
    assert dotenv_values(path, interpolate=False) == expected
    assert result.stderr == ""  # nothing but data, and data only on stdout


def test_shell_export_reproduced_by_sh(kp: KeepRunner, nasty: dict[str, str], tmp_path: Path) -> None:
    result = kp.ok("export", "--stage", "staging", "--format", "shell")
    assert result.stdout.startswith("export KEY_00=fake-db-pass-123\nexport KEY_01=''\n")
    assert sh_values(tmp_path, result.stdout, sorted(nasty)) == [nasty[k] for k in sorted(nasty)]


def test_json_yaml_csv_parse_back(kp: KeepRunner, nasty: dict[str, str]) -> None:
    assert kp.ok("export", "--stage", "staging", "--format", "json").json() == nasty
    assert yaml.safe_load(kp.ok("export", "--stage", "staging", "--format", "yaml").stdout) == nasty
    rows = list(csv.reader(io.StringIO(kp.ok("export", "--stage", "staging", "--format", "csv").stdout, newline="")))
    assert rows[0] == ["key", "value", "vault", "stage", "modified"]
    assert {r[0]: r[1] for r in rows[1:]} == nasty
    assert {(r[2], r[3]) for r in rows[1:]} == {("local", "staging")}
    assert all(r[4].endswith("Z") for r in rows[1:])


def test_docker_refuses_multiline_and_writes_the_rest(kp: KeepRunner, nasty: dict[str, str]) -> None:
    result = kp("export", "--stage", "staging", "--format", "docker")
    assert result.code == 2 and result.stdout == ""
    assert "docker's --env-file format cannot represent" in result.stderr
    multiline = [k for k, v in nasty.items() if "\n" in v or "\r" in v]
    out = kp.ok("export", "--stage", "staging", "--format", "docker", "--except", ",".join(multiline)).stdout
    parsed = dict(line.split("=", 1) for line in out.split("\n")[:-1])
    assert parsed == {k: v for k, v in nasty.items() if k not in multiline}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(VALUES.filter(env_representable), min_size=1, max_size=6))
def test_generated_values_through_the_cli(kp: KeepRunner, tmp_path: Path, values: list[str]) -> None:
    stage = "production"
    mapping = {f"GEN_{i}": v for i, v in enumerate(values)}
    seed(kp, stage, mapping)
    env_out = kp.ok("export", "--stage", stage, "--only", "GEN_*").stdout
    path = tmp_path / "gen.env"
    path.write_bytes(env_out.encode())
    assert {k: v for k, v in dotenv_values(path, interpolate=False).items() if k in mapping} == mapping
    shell_out = kp.ok("export", "--stage", stage, "--only", "GEN_*", "--format", "shell").stdout
    assert sh_values(tmp_path, shell_out, list(mapping)) == list(mapping.values())


def test_invalid_variable_names_refused_for_env_shell_docker(kp: KeepRunner) -> None:
    seed(kp, "local", {"my-key": "fake-value", "OK": "fine"})
    for fmt in ("env", "shell", "docker"):
        result = kp("export", "--stage", "local", "--format", fmt)
        assert result.code == 2, fmt
        assert result.stdout == ""
        assert "'my-key' is not a valid environment variable name" in result.stderr
    assert kp.ok("export", "--stage", "local", "--format", "json").json() == {"my-key": "fake-value", "OK": "fine"}
    assert kp.ok("export", "--stage", "local", "--except", "my-*").stdout == "OK=fine\n"


def test_only_and_except(kp: KeepRunner) -> None:
    seed(kp, "local", {"DB_HOST": "h", "DB_PASS": "p", "API_KEY": "k", "API_URL": "u"})
    out = kp.ok("export", "--stage", "local", "--format", "json", "--only", "DB_*,API_K*", "--except", "*PASS")
    assert out.json() == {"DB_HOST": "h", "API_KEY": "k"}
    out = kp.ok("export", "--stage", "local", "--format", "json", "--only", "DB_*", "--only", "API_URL")
    assert out.json() == {"DB_HOST": "h", "DB_PASS": "p", "API_URL": "u"}
    empty = kp.ok("export", "--stage", "local", "--only", "NOTHING*")
    assert empty.stdout == "" and "No secrets" in empty.stderr


def test_vault_list_merges_later_wins(kp: KeepRunner) -> None:
    add_local_vault(kp, "second")
    seed(kp, "local", {"SHARED": "from-local", "ONLY_LOCAL": "l"})
    seed(kp, "local", {"SHARED": "from-second", "ONLY_SECOND": "s"}, vault="second")
    result = kp.ok("export", "--stage", "local", "--vault", "local,second", "--format", "json")
    assert result.json() == {"SHARED": "from-second", "ONLY_LOCAL": "l", "ONLY_SECOND": "s"}
    assert "SHARED is in both local and second; using second" in result.stderr
    result = kp.ok("--vault", "second,local", "export", "--stage", "local", "--format", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout, newline="")))[1:]
    assert {r[0]: (r[1], r[2]) for r in rows} == {
        "SHARED": ("from-local", "local"), "ONLY_LOCAL": ("l", "local"), "ONLY_SECOND": ("s", "second"),
    }
    # default: every workspace vault, the default vault (local) winning a shared key
    result = kp.ok("export", "--stage", "local", "--format", "json")
    assert result.json() == {"SHARED": "from-local", "ONLY_LOCAL": "l", "ONLY_SECOND": "s"}
    assert "SHARED is in both second and local; using local" in result.stderr
    kp.ok("workspace", "--vaults", "second")
    assert kp.ok("export", "--stage", "local", "--format", "json").json() == {
        "SHARED": "from-second", "ONLY_SECOND": "s",
    }


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--stage", "nope"], 2, "Unknown stage 'nope'"),
        (["--stage", "local", "--vault", "local,ghost"], 2, "Unknown vault 'ghost'"),
        (["--stage", "local", "--format", "toml"], 2, "toml"),
        (["--stage", "local", "--overwrite"], 2, "need --file"),
        (["--stage", "local", "--all"], 2, "only apply with --template"),
        (["--stage", "local", "--missing", "blank"], 2, "only apply with --template"),
    ],
)
def test_bad_input(kp: KeepRunner, args: list[str], code: int, message: str) -> None:
    result = kp("export", *args)
    assert result.code == code
    assert message in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr


# -- --file / --output ----------------------------------------------------------------------

@pytest.fixture
def one_line(kp: KeepRunner) -> KeepRunner:
    seed(kp, "local", ONE_LINE)
    return kp


def test_file_written_0600_and_stdout_empty(one_line: KeepRunner) -> None:
    target = one_line.cwd / "out" / ".env"
    target.parent.mkdir()  # never created by export (see test_file_writes.py)
    result = one_line.ok("export", "--stage", "local", "--file", str(target))
    assert result.stdout == ""
    assert "Wrote 3 entries from local:local" in result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert dotenv_values(target, interpolate=False) == ONE_LINE
    assert files_in(target.parent) == [".env"]


def test_existing_file_refused_and_untouched(one_line: KeepRunner) -> None:
    target = one_line.cwd / ".env"
    target.write_text("OLD=keep-me\n")
    os.chmod(target, 0o640)
    result = one_line("export", "--stage", "local", "--output", str(target))
    assert result.code == 5
    assert "already exists" in result.stderr and "--overwrite" in result.stderr
    assert target.read_text() == "OLD=keep-me\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_overwrite_replaces(one_line: KeepRunner) -> None:
    target = one_line.cwd / "out.json"
    target.write_text("old")
    one_line.ok("export", "--stage", "local", "-o", str(target), "--overwrite", "--format", "json")
    assert json.loads(target.read_text()) == ONE_LINE
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_append_adds_lines(one_line: KeepRunner) -> None:
    target = one_line.cwd / ".env"
    target.write_text("FIRST=1")  # no trailing newline: the export must not glue onto it
    result = one_line.ok("export", "--stage", "local", "--file", str(target), "--append", "--only", "DB_*")
    assert "Appended 1 entry" in result.stderr
    assert target.read_text() == "FIRST=1\nDB_PASSWORD=fake-db-pass-123\n"
    one_line.ok("export", "--stage", "local", "--file", str(target), "--append", "--only", "EMPTY")
    assert dotenv_values(target) == {"FIRST": "1", "DB_PASSWORD": "fake-db-pass-123", "EMPTY": ""}


def test_append_to_missing_file_creates_it(one_line: KeepRunner) -> None:
    target = one_line.cwd / "new.sh"
    one_line.ok("export", "--stage", "local", "--file", str(target), "--append", "--format", "shell")
    assert sh_values(one_line.cwd, target.read_text(), list(ONE_LINE)) == list(ONE_LINE.values())


@pytest.mark.parametrize("fmt", ["json", "yaml", "csv"])
def test_append_refused_for_documents(one_line: KeepRunner, fmt: str) -> None:
    target = one_line.cwd / "x"
    target.write_text("{}")
    result = one_line("export", "--stage", "local", "--file", str(target), "--append", "--format", fmt)
    assert result.code == 2 and "--append works with env, shell, docker" in result.stderr
    assert target.read_text() == "{}"


def test_overwrite_and_append_together_refused(one_line: KeepRunner) -> None:
    result = one_line("export", "--stage", "local", "--file", "x.env", "--append", "--overwrite")
    assert result.code == 2 and "cannot be used together" in result.stderr
    assert not (one_line.cwd / "x.env").exists()


def test_render_error_leaves_old_file_and_no_partial_file(kp: KeepRunner) -> None:
    seed(kp, "local", {"A": "fine", "PEM": "-----BEGIN-----\nfake\n-----END-----"})
    directory = kp.cwd / "conf"
    directory.mkdir()
    target = directory / "docker.env"
    target.write_text("OLD=1\n")
    before = files_in(directory)
    result = kp("export", "--stage", "local", "--format", "docker", "--file", str(target), "--overwrite")
    assert result.code == 2 and "PEM" in result.stderr
    assert target.read_text() == "OLD=1\n"
    assert files_in(directory) == before
    fresh = directory / "fresh.env"
    assert kp("export", "--stage", "local", "--format", "docker", "--file", str(fresh)).code == 2
    assert not fresh.exists() and files_in(directory) == before


def test_file_is_a_directory(one_line: KeepRunner) -> None:
    result = one_line("export", "--stage", "local", "--file", str(one_line.cwd), "--overwrite")
    assert result.code == 2
    assert "Traceback" not in result.stderr


def test_overwrite_through_a_symlink_keeps_the_link(one_line: KeepRunner) -> None:
    shared = one_line.cwd / "shared"
    shared.mkdir()
    real = shared / "app.env"
    real.write_text("OLD=1\n")
    link = one_line.cwd / ".env"
    link.symlink_to(real)
    one_line.ok("export", "--stage", "local", "--file", str(link), "--overwrite", "--only", "DB_*")
    assert link.is_symlink()
    assert real.read_text() == "DB_PASSWORD=fake-db-pass-123\n"
    assert files_in(shared) == ["app.env"]
