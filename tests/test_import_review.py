"""Review findings on `keep import` parsing: each test failed before its fix."""

from __future__ import annotations

import json

import pytest
from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

from keep_secrets.services import importing

from .conftest import KeepRunner
from .moving_support import read_all

keys = st.from_regex(r"[A-Z_][A-Z0-9_]{0,10}", fullmatch=True)
line_text = st.text(st.sampled_from(list("ab $#'\\=-")), max_size=8)
inner_text = st.text(st.sampled_from(list("ab $#=-")), max_size=8)  # no quote or backslash: always readable
# a quoted value spanning lines: what a PEM key in a .env looks like
quoted = st.builds(
    lambda q, parts: q + "\n".join(parts) + q, st.sampled_from(["'", '"']), st.lists(inner_text, min_size=1, max_size=4)
)
env_lines = st.lists(
    st.builds(lambda k, v: f"{k}={v}", keys, quoted | line_text.map(lambda t: t.strip("'\"\\ #"))),
    min_size=1,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(env_lines, st.sampled_from(["\r\n", "\r"]))
def test_windows_line_endings_import_as_python_dotenv_reads_the_file(
    tmp_path_factory: pytest.TempPathFactory, lines: list[str], newline: str
) -> None:
    """A .env saved with CRLF (or old-Mac CR) line endings: every value, multi-line quoted ones
    included, is what dotenv_values() reads from that file (a text-mode read), so a PEM key
    imported from a Windows-edited file holds no stray carriage returns."""
    unix = "\n".join(lines) + "\n"
    data = unix.replace("\n", newline).encode()
    path = tmp_path_factory.mktemp("crlf") / "in.env"
    path.write_bytes(data)
    expected = dotenv_values(path, interpolate=False)
    parsed = importing.parse(importing.decode(data, "in.env"), "in.env")
    got = {e.key: e.value for e in parsed.entries}
    assert got == expected
    # and the same as the file with unix line endings
    assert got == {e.key: e.value for e in importing.parse(unix, "in.env").entries}


PEM = "-----BEGIN FAKE KEY-----\nAAAABBBB\nCCCCDDDD\n-----END FAKE KEY-----"


def test_crlf_pem_file_and_stdin_import_without_carriage_returns(kp: KeepRunner) -> None:
    text = f'PEM="{PEM}"\nOTHER=fake-other\n'.replace("\n", "\r\n")
    (kp.cwd / "win.env").write_bytes(text.encode())
    kp.ok("import", "win.env", "--stage=staging")
    kp.ok("import", "-", "--stage=production", input=text)
    expected = {"PEM": PEM, "OTHER": "fake-other"}
    assert read_all(kp.cwd, kp.env, "staging") == expected
    assert read_all(kp.cwd, kp.env, "production") == expected


json_numbers = st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(json_numbers, st.sampled_from(["{}", '{{"n": {}}}', "[{}, true, null]"]))
def test_json_numbers_keep_their_spelling(number: str, shape: str) -> None:
    """`{"VERSION": 1.10}` is the value `1.10`, not `1.1`; `1e3` stays `1e3` (not `1000.0`),
    `1e400` does not become `Infinity` and a 30-digit decimal keeps every digit - also inside
    an object or array value, which is stored as compact JSON."""
    inner = shape.format(number)
    parsed = importing.parse(f'{{"N": {inner}, "S": "fake"}}', "in.json")
    got = {e.key: e.value for e in parsed.entries}
    assert got == {"N": inner.replace(", ", ",").replace(": ", ":"), "S": "fake"}
    assert json.loads(got["N"]) == json.loads(inner)


def test_dry_run_of_a_conflicting_import_names_both_ways_out(kp: KeepRunner) -> None:
    """The dry run's refusal must offer the same ways out as the real run (--skip-existing is
    one for import), not copy's --overwrite alone."""
    kp.ok("set", "DB_PASSWORD", "fake-old", "--stage=staging")
    (kp.cwd / "in.env").write_text("DB_PASSWORD=fake-new\nNEW_KEY=fake-n\n")
    real = kp("import", "in.env", "--stage=staging")
    dry = kp("import", "in.env", "--stage=staging", "--dry-run")
    assert real.code == dry.code == 5
    assert "--overwrite or --skip-existing" in real.stderr
    assert "--overwrite or --skip-existing" in dry.stderr
    copy = kp("copy", "DB_PASSWORD", "--from=production", "--to=staging", "--dry-run")
    assert copy.code == 3  # nothing in production: not found, whatever the hint
    kp.ok("set", "DB_PASSWORD", "fake-prod", "--stage=production")
    copy = kp("copy", "DB_PASSWORD", "--from=production", "--to=staging", "--dry-run")
    assert copy.code == 5 and "(use --overwrite)" in copy.stderr
    assert read_all(kp.cwd, kp.env, "staging") == {"DB_PASSWORD": "fake-old"}


def test_a_yaml_file_is_refused_as_yaml_not_as_bad_quoting(kp: KeepRunner) -> None:
    """`keep export --format yaml > s.yaml; keep import s.yaml` is refused naming the reason
    (YAML is not an import format), not with a hint about dotenv quoting; nothing is written."""
    kp.ok("set", "DB_PASSWORD", "fake-pass", "--stage=staging")
    (kp.cwd / "s.yaml").write_text(kp.ok("export", "--format=yaml", "--stage=staging").stdout)
    result = kp("import", "s.yaml", "--stage=production")
    assert result.code == 2
    assert "YAML" in result.stderr and "quoting" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert read_all(kp.cwd, kp.env, "production") == {}


def test_show_format_env_names_every_key_that_is_no_variable_name(kp: KeepRunner) -> None:
    """Like `export`, `show --unmask --format env` names all such keys and the one --except
    that leaves them out, instead of one key per attempt."""
    for key in ("my-key", "1BAD", "GOOD"):
        kp.ok("set", key, "fake-v", "--stage=staging")
    result = kp("show", "--unmask", "--format=env", "--stage=staging")
    assert result.code == 2 and result.stdout == ""
    assert "'my-key'" in result.stderr and "'1BAD'" in result.stderr
    fixed = kp.ok("show", "--unmask", "--format=env", "--stage=staging", "--except", "1BAD,my-key")
    assert fixed.stdout == "GOOD=fake-v\n"


@settings(max_examples=200, deadline=None)
@given(json_numbers)
def test_json_fields_keep_the_spelling_of_their_numbers(number: str) -> None:
    """`keep get DB --field=version` of `{"version": 1.10}` prints 1.10 (not 1.1), and so does
    a template's {vault:DB.version}; a nested value keeps its numbers' spelling too."""
    from keep_secrets.placeholders import field_value
    from keep_secrets.services.secret_ops import extract_field

    secret = f'{{"version": {number}, "nested": {{"n": [{number}]}}}}'
    assert extract_field(secret, "version") == number
    assert extract_field(secret, "nested") == f'{{"n":[{number}]}}'
    assert field_value(secret, "version") == number
    assert field_value(secret, "nested.n") == f"[{number}]"


def test_get_field_prints_the_stored_number(kp: KeepRunner) -> None:
    kp.ok("import", "-", "--stage=staging", input='{"DB": {"version": 1.10, "port": 5432}}')
    assert kp.ok("get", "DB", "--field=version", "--format=raw", "--stage=staging").stdout == "1.10\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-16-le"])
def test_a_utf16_file_is_named_as_such(kp: KeepRunner, encoding: str) -> None:
    """PowerShell 5's `keep export > .env` writes UTF-16: importing it says so (exit 2, nothing
    written) rather than only 'not UTF-8 text (byte 0)'."""
    # "utf-16" writes its own BOM; the -be/-le codecs do not, so add the one PowerShell writes
    text = "DB_PASSWORD=fake-pass\n" if encoding == "utf-16" else "\ufeffDB_PASSWORD=fake-pass\n"
    data = text.encode(encoding)
    (kp.cwd / "ps.env").write_bytes(data)
    result = kp("import", "ps.env", "--stage=staging")
    assert result.code == 2 and "UTF-16" in result.stderr and "Traceback" not in result.stderr
    assert read_all(kp.cwd, kp.env, "staging") == {}
