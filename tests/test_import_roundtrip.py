"""export -> import round trips: what `keep export` writes, `keep import` reads back exactly.

In process with hypothesis-generated values (the env writer and the import parser), and end
to end through the `keep` CLI with a fixed list of nasty values.
"""

from __future__ import annotations

import io
import json
import logging

from dotenv import dotenv_values
from dotenv.parser import parse_stream
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from keep_secrets.formats.dotenv import env_representable, render_env
from keep_secrets.model import UsageError
from keep_secrets.services import importing

from .conftest import KeepRunner
from .moving_support import local_writes, read_all, seed

NASTY = {
    "SINGLE_QUOTE": "it's fake",
    "DOUBLE_QUOTE": 'say "fake"',
    "BOTH_QUOTES": "it's \"both\" fake",
    "DOLLAR": "fake$HOME${PATH}$(id)`id`",
    "HASH": "fake # not a comment",
    "HASH_NO_SPACE": "fake#hash",
    "BACKSLASHES": "C:\\fake\\path\\n\\t",
    "EQUALS": "a=b=c",
    "SPACES": "  leading and trailing  ",
    "UNICODE": "fåké ✓ 日本語 🔑",
    "NEWLINES": "line1\nline2\n\nline4",
    "CRLF": "windows\r\nline",
    "TAB": "a\tb",
    "PEM": "-----BEGIN FAKE PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n+/=abc\n-----END FAKE PRIVATE KEY-----\n",
    "JSONISH": '{"user": "fake", "password": "p\\"w"}',
}

keys = st.from_regex(r"[A-Z_][A-Z0-9_]{0,15}", fullmatch=True)
values = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=60
) | st.sampled_from(list(NASTY.values()))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, values, min_size=1, max_size=8))
def test_env_export_reads_back_exactly_through_import(mapping: dict[str, str]) -> None:
    assume(all(env_representable(v) for v in mapping.values()))
    text = render_env(mapping.items())
    parsed = importing.parse(importing.decode(text.encode(), "x.env"), "x.env")
    assert {e.key: e.value for e in parsed.entries} == mapping
    assert not parsed.duplicates


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=20), values, max_size=8))
def test_json_export_reads_back_exactly_through_import(mapping: dict[str, str]) -> None:
    text = json.dumps(mapping, ensure_ascii=False, indent=2)
    parsed = importing.parse(text, "x.json")
    assert {e.key: e.value for e in parsed.entries} == mapping


def test_end_to_end_export_then_import_into_another_stage(kp: KeepRunner) -> None:
    seed(kp.cwd, kp.env, "staging", NASTY)
    for fmt, stage in (("env", "production"), ("json", "local")):
        exported = kp.ok("export", f"--format={fmt}", "--stage=staging")
        kp.ok("import", "-", f"--stage={stage}", input=exported.stdout)
        assert read_all(kp.cwd, kp.env, stage) == NASTY
    # and once more from the file: every value is already equal, so nothing is written
    (kp.cwd / "out.env").write_text(kp.ok("export", "--stage=staging").stdout)
    before = local_writes(kp.cwd)
    kp.ok("import", "out.env", "--stage=production")
    assert local_writes(kp.cwd) == before


lines = st.lists(
    st.one_of(
        st.builds(lambda k, v: f"{k}={v}", keys, st.text(st.sampled_from(list("ab $#'\"\\=\t✓")), max_size=12)),
        st.builds(lambda k, v: f"export {k}='{v}'", keys, st.text(st.sampled_from(list("ab $#\"\\\n")), max_size=12)),
        st.builds(lambda k, v: f'{k}="{v}"', keys, st.text(st.sampled_from(list("ab $#'\\n\n")), max_size=12)),
        st.sampled_from(["# comment", "", "   ", "BARE_KEY", "=novalue", "  SPACED = x  # c"]),
    ),
    max_size=10,
)


@settings(max_examples=400, deadline=None)
@given(lines)
def test_import_parser_is_exactly_dotenv_or_refuses(text_lines: list[str]) -> None:
    """Any .env text: keep reads exactly what dotenv_values(interpolate=False) reads, or, when
    python-dotenv would skip an unparsable line, refuses the whole file."""
    text = "\n".join(text_lines) + "\n"
    logging.getLogger("dotenv.main").disabled = True
    expected = dotenv_values(stream=io.StringIO(text), interpolate=False)
    try:
        parsed = importing.parse(text, "x.env", "env")
    except UsageError:
        assert any(b.error for b in parse_stream(io.StringIO(text)))
        return
    assert {e.key: e.value for e in parsed.entries} == expected
