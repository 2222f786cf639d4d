"""`keep import` end to end on the local vault (through the CLI), plus the parser against
python-dotenv's own reading of the same files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from dotenv import dotenv_values

from keep_secrets.model import UsageError
from keep_secrets.services import importing

from .conftest import KeepRunner
from .moving_support import local_writes, read_all, report, seed

NASTY_ENV = r"""# a comment
export EXPORTED=fake-exported-1
PLAIN=fake-plain-value
SINGLE='fake $NOT_INTERPOLATED \n literal'
DOUBLE="fake \"quoted\" line1\nline2 ${ALSO_LITERAL}"
HASH=fake-before#not-a-comment-without-space
SPACED = fake-spaced   # trailing comment
PEM="-----BEGIN FAKE KEY-----
AAAABBBB
-----END FAKE KEY-----"
UNICODE=fake-ünïcødé-✓
EQUALS=fake=with=equals
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_env_file_is_imported_exactly_as_python_dotenv_reads_it(kp: KeepRunner) -> None:
    source = write(kp.cwd / "in.env", NASTY_ENV)
    result = kp.ok("import", "in.env", "--stage=staging")
    assert result.stdout == ""
    expected = dotenv_values(source, interpolate=False)
    assert all(v is not None for v in expected.values())
    assert read_all(kp.cwd, kp.env, "staging") == expected
    assert set(report(result.stderr).values()) == {"created"}
    assert f"{len(expected)} created" in result.stderr and len(expected) == 9


def test_reimport_of_equal_values_makes_zero_writes(kp: KeepRunner) -> None:
    write(kp.cwd / "in.env", NASTY_ENV)
    kp.ok("import", "in.env", "--stage=staging")
    before = local_writes(kp.cwd)
    again = kp.ok("import", "in.env", "--stage=staging")
    assert local_writes(kp.cwd) == before
    assert set(report(again.stderr).values()) == {"unchanged"}
    overwrite = kp.ok("import", "in.env", "--stage=staging", "--overwrite")
    assert local_writes(kp.cwd) == before
    assert set(report(overwrite.stderr).values()) == {"unchanged"}


def test_stdin_and_json(kp: KeepRunner) -> None:
    kp.ok("import", "-", "--stage=staging", input="FROM_STDIN='fake stdin value'\n")
    doc = {"JSON_KEY": "fake-json", "PORT": 8080, "DEBUG": False, "CREDS": {"user": "fake-u", "password": "fake-p"},
           "NOTHING": None}
    write(kp.cwd / "in.json", json.dumps(doc))
    result = kp.ok("import", "in.json", "--stage=staging")
    assert report(result.stderr)["NOTHING"] == "skipped"
    assert read_all(kp.cwd, kp.env, "staging") == {
        "FROM_STDIN": "fake stdin value",
        "JSON_KEY": "fake-json",
        "PORT": "8080",
        "DEBUG": "false",
        "CREDS": '{"user":"fake-u","password":"fake-p"}',
    }
    # JSON from stdin is recognised by its opening brace
    kp.ok("import", "-", "--stage=production", input='{"STDIN_JSON": "fake-sj"}')
    assert read_all(kp.cwd, kp.env, "production") == {"STDIN_JSON": "fake-sj"}
    # a JSON array on stdin is JSON too, refused as a whole rather than read as dotenv lines
    array = kp("import", "-", "--stage=production", input='[{"ARRAY_KEY": "fake-a"}]\n')
    assert array.code == 2 and "expected a JSON object" in array.stderr and array.stdout == ""
    assert read_all(kp.cwd, kp.env, "production") == {"STDIN_JSON": "fake-sj"}


def test_existing_keys_need_overwrite_or_skip_existing(kp: KeepRunner) -> None:
    seed(kp.cwd, kp.env, "staging", {"A_KEY": "fake-old", "SAME": "fake-same"})
    write(kp.cwd / "in.env", "A_KEY=fake-new\nSAME=fake-same\nNEW_KEY=fake-new-key\n")
    before = local_writes(kp.cwd)
    refused = kp("import", "in.env", "--stage=staging")
    assert refused.code == 5
    assert "A_KEY" in refused.stderr and "nothing was written" in refused.stderr
    assert local_writes(kp.cwd) == before

    skipped = kp.ok("import", "in.env", "--stage=staging", "--skip-existing")
    assert report(skipped.stderr) == {"A_KEY": "skipped", "SAME": "unchanged", "NEW_KEY": "created"}
    assert local_writes(kp.cwd) == before + 1
    assert read_all(kp.cwd, kp.env, "staging")["A_KEY"] == "fake-old"

    updated = kp.ok("import", "in.env", "--stage=staging", "--overwrite")
    assert report(updated.stderr) == {"A_KEY": "updated", "SAME": "unchanged", "NEW_KEY": "unchanged"}
    assert read_all(kp.cwd, kp.env, "staging")["A_KEY"] == "fake-new"
    assert local_writes(kp.cwd) == before + 2


def test_dry_run_writes_nothing(kp: KeepRunner) -> None:
    seed(kp.cwd, kp.env, "staging", {"A_KEY": "fake-old"})
    write(kp.cwd / "in.env", "A_KEY=fake-new\nB_KEY=fake-b\n")
    before = local_writes(kp.cwd)
    result = kp.ok("import", "in.env", "--stage=staging", "--dry-run", "--overwrite")
    assert report(result.stderr) == {"A_KEY": "would update", "B_KEY": "would create"}
    assert local_writes(kp.cwd) == before
    conflict = kp("import", "in.env", "--stage=staging", "--dry-run")
    assert conflict.code == 5
    assert report(conflict.stderr)["A_KEY"] == "conflict"
    assert local_writes(kp.cwd) == before


def test_only_except(kp: KeepRunner) -> None:
    write(kp.cwd / "in.env", "DB_HOST=fake-h\nDB_PASS=fake-p\nAPI_KEY=fake-k\nOTHER=fake-o\n")
    kp.ok("import", "in.env", "--stage=staging", "--only=DB_*,API_*", "--except=DB_HOST")
    assert read_all(kp.cwd, kp.env, "staging") == {"DB_PASS": "fake-p", "API_KEY": "fake-k"}


def test_invalid_keys_and_empty_values_are_reported_not_dropped(kp: KeepRunner) -> None:
    write(kp.cwd / "in.env", "GOOD=fake-good\nbad.key=fake-bad\nEMPTY=\nZERO=0\nBARE\n")
    result = kp("import", "in.env", "--stage=staging")
    assert result.code == 1, result.stderr
    assert report(result.stderr) == {
        "GOOD": "created", "bad.key": "failed", "EMPTY": "skipped", "ZERO": "created", "BARE": "skipped",
    }
    assert "Invalid key 'bad.key'" in result.stderr
    assert "empty value" in result.stderr and "no value" in result.stderr
    # "0" is a value (Keep skipped it as empty)
    assert read_all(kp.cwd, kp.env, "staging") == {"GOOD": "fake-good", "ZERO": "0"}


def test_values_set_would_refuse_are_reported_not_written(kp: KeepRunner) -> None:
    # the same value rule as `keep set`: no NUL bytes, at most 64 KiB
    big = "x" * (64 * 1024 + 1)
    write(kp.cwd / "in.json", json.dumps({"GOOD": "fake-good", "NUL": "fake\u0000nul", "BIG": big}))
    result = kp("import", "in.json", "--stage=staging")
    assert result.code == 1, result.stderr
    assert report(result.stderr) == {"BIG": "failed", "GOOD": "created", "NUL": "failed"}
    assert "NUL byte" in result.stderr and "Value too large" in result.stderr
    assert read_all(kp.cwd, kp.env, "staging") == {"GOOD": "fake-good"}


def test_unparsable_line_names_the_line_and_imports_nothing(kp: KeepRunner) -> None:
    write(kp.cwd / "in.env", "OK=fake-ok\nBROKEN='fake-secret-unclosed\n")
    result = kp("import", "in.env", "--stage=staging")
    assert result.code == 2
    assert "line 2" in result.stderr and "nothing was imported" in result.stderr
    assert "fake-secret-unclosed" not in result.stderr
    assert read_all(kp.cwd, kp.env, "staging") == {}


def test_duplicate_keys_warn_and_the_last_wins(kp: KeepRunner) -> None:
    write(kp.cwd / "in.env", "DUP=fake-first\nOTHER=fake-o\nDUP=fake-second\n")
    result = kp.ok("import", "in.env", "--stage=staging")
    assert "DUP is defined 2 times" in result.stderr and "lines 1, 3" in result.stderr
    assert read_all(kp.cwd, kp.env, "staging")["DUP"] == "fake-second"


@pytest.mark.parametrize(
    ("content", "args", "code", "match"),
    [
        (None, ("import", "missing.env", "--stage=staging"), 3, "does not exist"),
        ("A=fake\n", ("import", "in.env", "--stage=nope"), 2, "Unknown stage"),
        ("A=fake\n", ("import", "in.env", "--stage=staging", "--vault=nope"), 2, "Unknown vault"),
        ("A=fake\n", ("import", "in.env", "--stage=staging", "--overwrite", "--skip-existing"), 2, "together"),
        ('{"A": "fake",}', ("import", "in.env", "--stage=staging"), 2, "invalid JSON at line 1"),
        ("[1, 2]", ("import", "in.json", "--stage=staging"), 2, "expected a JSON object"),
        (None, ("import", "--stage=staging"), 2, "FILE is required"),
    ],
)
def test_bad_input(kp: KeepRunner, content: str | None, args: tuple[str, ...], code: int, match: str) -> None:
    if content is not None:
        write(kp.cwd / "in.env", content)
        write(kp.cwd / "in.json", content)
    result = kp(*args, input="")
    assert result.code == code, result.stderr
    assert match in result.stderr
    assert "Traceback" not in result.stderr
    assert local_writes(kp.cwd) == 0


# -- the parser itself, without subprocesses ---------------------------------------------------

@pytest.mark.parametrize("text", [NASTY_ENV, "A=1\r\nB='x y'\r\n", "\ufeffBOM=fake\n", "X=\"a\\tb\"\n"])
def test_parse_matches_dotenv_values(text: str) -> None:
    parsed = importing.parse(importing.decode(text.encode(), "t.env"), "t.env")
    expected = dotenv_values(stream=io.StringIO(text.lstrip("\ufeff")), interpolate=False)
    assert {e.key: e.value for e in parsed.entries} == expected


def test_parse_rejects_non_utf8() -> None:
    with pytest.raises(UsageError, match="not UTF-8"):
        importing.decode(b"A=\xff\n", "t.env")
