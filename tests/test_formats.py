"""Export formats read back exactly by real readers: python-dotenv for env, `sh` for shell,
json/yaml/csv parsers; docker refuses what its format cannot hold. Hypothesis-generated
values and a fixed list of nasty cases."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keep_secrets.formats.dotenv import env_representable, quote_env_value, render_env
from keep_secrets.formats.render import FORMATS, render
from keep_secrets.formats.shell import render_shell
from keep_secrets.formats.structured import CSV_HEADER, Row
from keep_secrets.model import Secret, UsageError

PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7fakefakefake+/=\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END PRIVATE KEY-----\n"
)

NASTY = [
    "fake-db-pass-123",
    "",
    " ",
    "  leading and trailing  ",
    "it's",
    'say "hi"',
    "both ' and \" quotes",
    "'",
    '"',
    "''",
    '\\"',
    "\\'",
    "$HOME",
    "${HOME}",
    "$(echo fake)",
    "`id`",
    "pa$$word",
    "a#b",
    "a #b",
    "#start",
    "ends with #",
    "back\\slash",
    "trailing\\",
    "C:\\dir\\",
    "x\\",
    "two\nlines and a trailing backslash\\",
    "\\\\double",
    "\\n is not a newline",
    "\\t\\r\\a\\b\\f\\v",
    "a=b=c",
    "=",
    "multi\nline",
    "\n",
    "ends with newline\n",
    "\n\nleading newlines",
    "crlf\r\nend",
    "lone\rcr",
    "tab\there",
    "vt\x0bff\x0cfs\x1c",
    "nel\x85ls\u2028ps\u2029",
    "héllo wörld ✓ 日本語 🔑",
    "\ufeffbom",
    "{ssm:NOT_A_PLACEHOLDER}",
    '{"json": "object", "n": 1}',
    "postgres://fake-user:fake-pass@db:5432/app?sslmode=require",
    "sk-fake_key.with/safe:chars@host+x-y",
    PEM,
    PEM.strip(),
    "x" * 5000,
]

# heavy on the characters every format treats specially, plus arbitrary unicode
SPECIAL = st.sampled_from([*list("'\"$#\\=` \t\n\r{}()!*?;&|<>~%"), "${X}", "\\n", "\\'", "\r\n", "é", "🔑"])
VALUES = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
    st.lists(st.one_of(SPECIAL, st.text("abcXYZ019_-./:@+", max_size=3)), max_size=15).map("".join),
    st.sampled_from(NASTY),
)
MAPS = st.lists(VALUES, min_size=1, max_size=8).map(lambda vs: {f"KEY_{i}": v for i, v in enumerate(vs)})

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _read_env(path: Path, text: str, interpolate: bool = False) -> dict[str, str | None]:
    path.write_bytes(text.encode("utf-8"))
    return dict(dotenv_values(path, interpolate=interpolate))


def _env_roundtrip(tmp_path: Path, values: dict[str, str]) -> None:
    if not all(env_representable(v) for v in values.values()):
        with pytest.raises(UsageError, match="ending with a backslash"):
            render_env(values.items())
        values = {k: v for k, v in values.items() if env_representable(v)}
    text = render_env(values.items())
    assert _read_env(tmp_path / "out.env", text) == values
    plain = {k: v for k, v in values.items() if "$" not in v}
    if plain:
        # values without `$` also survive a reader that interpolates
        assert _read_env(tmp_path / "plain.env", render_env(plain.items()), interpolate=True) == plain


def _shell_values(tmp_path: Path, values: dict[str, str]) -> list[str]:
    script = tmp_path / "secrets.sh"
    script.write_bytes(render_shell(values.items()).encode("utf-8"))
    refs = " ".join(f'"${key}"' for key in values)
    proc = subprocess.run(
        ["sh", "-c", f"set -e; . ./secrets.sh; printf '%s\\0' {refs}"],
        cwd=tmp_path, capture_output=True, check=True, timeout=30, env={"PATH": "/usr/bin:/bin"},
    )
    return proc.stdout.decode("utf-8").split("\0")[:-1]


# -- env ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("fake-db-pass-123", "fake-db-pass-123"),
        ("", ""),
        ("a b", "'a b'"),
        ("$HOME", "'$HOME'"),
        ("multi\nline", "'multi\nline'"),
        ("it's", '"it\'s"'),
        ("back\\slash", '"back\\\\slash"'),
        ("it's\n\"x\"\t\r", '"it\'s\\n\\"x\\"\\t\\r"'),
        ("C:\\dir\\", "C:\\dir\\"),
        # python-dotenv reads a `#` right after `=` as part of an unquoted value (every version)
        ("#c\\", "#c\\"),
    ],
)
def test_env_quoting_rules(value: str, expected: str) -> None:
    assert quote_env_value(value) == expected


@pytest.mark.parametrize("value", ["two\nlines\\", " lead\\", "'q\\", "a #b\\"])
def test_env_refuses_what_no_dotenv_quoting_reads_back(value: str) -> None:
    assert not env_representable(value)
    with pytest.raises(UsageError, match=r"^K: .*ending with a backslash"):
        render_env([("K", value)])


def test_env_nasty_values_read_back_exactly(tmp_path: Path) -> None:
    _env_roundtrip(tmp_path, {f"KEY_{i}": v for i, v in enumerate(NASTY)})


@FAST
@given(values=MAPS)
def test_env_roundtrip_generated(tmp_path: Path, values: dict[str, str]) -> None:
    _env_roundtrip(tmp_path, values)


def test_env_file_is_one_assignment_per_key_and_ends_with_newline() -> None:
    text = render_env([("A", "1"), ("B", "two words")])
    assert text == "A=1\nB='two words'\n"
    assert render_env([]) == ""


@pytest.mark.parametrize("key", ["my-key", "1ABC", "a.b", "sp ace", "", "ключ"])
@pytest.mark.parametrize("fmt", ["env", "shell", "docker"])
def test_invalid_variable_names_are_refused_not_renamed(fmt: str, key: str) -> None:
    with pytest.raises(UsageError, match="not a valid environment variable name"):
        render(fmt, [(key, "fake-value")])


@pytest.mark.parametrize("fmt", ["json", "yaml", "csv"])
def test_structured_formats_keep_any_key(fmt: str) -> None:
    assert "my-key" in render(fmt, [("my-key", "fake-value")])


# -- shell ----------------------------------------------------------------------------------

def test_shell_nasty_values_reproduced_by_sh(tmp_path: Path) -> None:
    values = {f"KEY_{i}": v for i, v in enumerate(NASTY)}
    assert _shell_values(tmp_path, values) == list(values.values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=MAPS)
def test_shell_roundtrip_generated(tmp_path: Path, values: dict[str, str]) -> None:
    assert _shell_values(tmp_path, values) == list(values.values())


def test_shell_lines_are_exports() -> None:
    assert render_shell([("A", "it's")]) == "export A='it'\"'\"'s'\n"


def test_shell_refuses_nul() -> None:
    with pytest.raises(UsageError, match="NUL"):
        render_shell([("A", "a\0b")])


# -- json / yaml / csv ----------------------------------------------------------------------

def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _structured_roundtrip(values: dict[str, str]) -> None:
    assert json.loads(render("json", values)) == values
    assert yaml.safe_load(render("yaml", values)) == values
    rows = _csv_rows(render("csv", values))
    assert tuple(rows[0]) == CSV_HEADER
    assert {r[0]: r[1] for r in rows[1:]} == values


def test_structured_nasty_values_parse_back() -> None:
    _structured_roundtrip({f"KEY_{i}": v for i, v in enumerate(NASTY)})


@FAST
@given(values=MAPS)
def test_structured_roundtrip_generated(values: dict[str, str]) -> None:
    _structured_roundtrip(values)


@FAST
@given(keys=st.lists(st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True), min_size=1, max_size=5, unique=True))
def test_structured_keys_parse_back(keys: list[str]) -> None:
    # keys like 1e3, yes, null, 0x10 must stay strings in YAML
    values = {k: "fake" for k in keys}
    _structured_roundtrip(values)


def test_empty_exports() -> None:
    assert json.loads(render("json", [])) == {}
    assert yaml.safe_load(render("yaml", [])) == {}
    assert _csv_rows(render("csv", [])) == [list(CSV_HEADER)]
    assert render("env", []) == render("shell", []) == render("docker", []) == ""


def test_csv_carries_vault_stage_and_modified() -> None:
    when = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
    secret = Secret("DB", 'a,"b"\nc', "3", when, "ssm", "production")
    text = render("csv", [secret])
    assert text.endswith("\r\n")
    assert _csv_rows(text)[1] == ["DB", 'a,"b"\nc', "ssm", "production", "2026-01-15T10:30:00Z"]


def test_render_accepts_secrets_rows_pairs_and_mappings() -> None:
    secret = Secret("A", "1", "1", None, "local", "local")
    for given_ in ([secret], [Row("A", "1")], [("A", "1")], {"A": "1"}):
        assert render("env", given_) == "A=1\n"


def test_unknown_format() -> None:
    with pytest.raises(UsageError, match="Unknown format"):
        render("toml", [])
    assert set(FORMATS) == {"env", "shell", "json", "yaml", "csv", "docker"}


# -- docker ---------------------------------------------------------------------------------

def test_docker_writes_values_verbatim() -> None:
    values = {"A": "say \"hi\" it's $HOME #x", "B": "", "C": "  spaced  "}
    text = render("docker", values)
    assert text == "A=say \"hi\" it's $HOME #x\nB=\nC=  spaced  \n"
    parsed = dict(line.split("=", 1) for line in text.splitlines())
    assert parsed == values


@pytest.mark.parametrize("value", ["multi\nline", PEM, "cr\rx", "nul\0x"])
def test_docker_refuses_values_it_cannot_hold(value: str) -> None:
    with pytest.raises(UsageError, match="docker's --env-file format cannot represent"):
        render("docker", [("A", value)])


@FAST
@given(values=MAPS)
def test_docker_roundtrip_or_refusal(values: dict[str, str]) -> None:
    if any(c in v for v in values.values() for c in "\n\r\0"):
        with pytest.raises(UsageError):
            render("docker", values)
        return
    lines = render("docker", values).split("\n")[:-1]
    assert dict(line.split("=", 1) for line in lines) == values


def _slow_clean(text: str) -> str:
    """The table's cell cleaning without its ASCII shortcut (every character looked up)."""
    import unicodedata

    out = []
    for ch in text:
        if ch == "\n":
            out.append("⏎")
        elif ch == "\t":
            out.append("    ")
        elif unicodedata.category(ch) in ("Cc", "Cf") and ch != "\u200d":
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


@given(st.text(alphabet=st.one_of(st.characters(max_codepoint=127), st.sampled_from("é漢\u200b\u200d\x85")),
               max_size=30))
def test_table_ascii_shortcut_changes_nothing(text: str) -> None:
    import unicodedata

    from keep_secrets.formats import table

    assert table._clean(text) == _slow_clean(text)
    assert table._width(text) == sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)
