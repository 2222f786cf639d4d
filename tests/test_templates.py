"""The pure template parser and renderer (SPEC §7): placeholder grammar, statics, quoting,
`export` prefixes, CRLF, missing strategies, JSON fields, and read-back with python-dotenv."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from dotenv import dotenv_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keep_secrets import placeholders as tpl
from keep_secrets.model import UsageError

VAULTS = {"ssm", "secretsmanager", "local"}
CELLS = {
    "ssm": {"DB_PASSWORD": "fake-db-pass-123", "DB_USER": "fake_user", "API_KEY": "fake api key $x"},
    "secretsmanager": {
        "GITHUB_TOKEN": "ghp_fakefakefake",
        "DB_CREDS": '{"username": "fake-admin", "password": "p\'w\\"d", "port": 5432, '
                    '"nested": {"host": "db.internal"}, "flag": true, "none": null}',
        "PLAIN": "not json",
    },
}


def render(text: str, missing: str = "fail", cells: dict[str, dict[str, str]] | None = None) -> tpl.Rendered:
    return tpl.resolve(tpl.parse(text, VAULTS), tpl.vault_lookup(cells or CELLS), "production", missing)


def read_env(text: str) -> dict[str, str | None]:
    return dict(dotenv_values(stream=io.StringIO(text), interpolate=False))


SPEC_EXAMPLE = """\
APP_NAME=MyApp                          # static, kept as is
DB_PASSWORD={ssm:DB_PASSWORD}           # vault ssm, key DB_PASSWORD
API_KEY={ssm}                           # short form: vault ssm, key = API_KEY (the line's own key)
GITHUB_TOKEN={secretsmanager:GITHUB_TOKEN}
DB_USER={secretsmanager:DB_CREDS.username}   # field of a JSON secret
DATABASE_URL=postgres://{ssm:DB_USER}:{ssm:DB_PASSWORD}@db:5432/app   # placeholders inside a value
"""


def test_spec_example() -> None:
    rendered = render(SPEC_EXAMPLE)
    assert rendered.missing == []
    expected = {
        "APP_NAME": "MyApp",
        "DB_PASSWORD": "fake-db-pass-123",
        "API_KEY": "fake api key $x",
        "GITHUB_TOKEN": "ghp_fakefakefake",
        "DB_USER": "fake-admin",
        "DATABASE_URL": "postgres://fake_user:fake-db-pass-123@db:5432/app",
    }
    assert rendered.mapping() == expected
    text = rendered.text()
    assert read_env(text) == expected
    lines = text.splitlines()
    # statics and comments are copied byte for byte; rendered lines keep their comments
    assert lines[0] == SPEC_EXAMPLE.splitlines()[0]
    assert lines[1] == "DB_PASSWORD=fake-db-pass-123           # vault ssm, key DB_PASSWORD"
    assert lines[2].startswith("API_KEY='fake api key $x'  ")


def test_placeholders_only_for_configured_vaults_and_never_dollar_braces() -> None:
    text = (
        "A=${HOME}/x\n"
        "B=${ssm}\n"
        "C={unknown:KEY}\n"
        'D={"json": 1}\n'
        "E={}\n"
        "F=pre{ssm:DB_USER}post ${ssm:DB_USER}\n"
    )
    template = tpl.parse(text, VAULTS)
    assert [(p.vault, p.key) for _, p in template.placeholders] == [("ssm", "DB_USER")]
    assert template.unknown == [(3, "{unknown:KEY}")]
    rendered = tpl.resolve(template, tpl.vault_lookup(CELLS), "production")
    assert rendered.mapping() == {
        "A": "${HOME}/x",
        "B": "${ssm}",
        "C": "{unknown:KEY}",
        "D": '{"json": 1}',
        "E": "{}",
        "F": "prefake_userpost ${ssm:DB_USER}",
    }


def test_comments_are_never_scanned_for_placeholders() -> None:
    template = tpl.parse("# uses {ssm:NOPE} and {other:X}\nA=1 # {ssm:NOPE}\n", VAULTS)
    assert template.placeholders == []
    assert template.unknown == []
    assert render("# {ssm:NOPE}\nA=1 # {ssm:NOPE}\n").text() == "# {ssm:NOPE}\nA=1 # {ssm:NOPE}\n"


def test_export_prefix_blank_lines_and_indentation_are_kept() -> None:
    text = "\n\n  # header\n\nexport DB_PASSWORD={ssm}\n  export   API_KEY = {ssm}\n\n"
    out = render(text).text()
    assert out == (
        "\n\n  # header\n\nexport DB_PASSWORD=fake-db-pass-123\n  export   API_KEY = 'fake api key $x'\n\n"
    )


def test_crlf_templates() -> None:
    text = "# c\r\nA=static\r\nDB_PASSWORD={ssm}\r\n\r\nDB_USER=\"{ssm:DB_USER}\"\r\nLAST={ssm:DB_USER}"
    rendered = render(text)
    out = rendered.text()
    assert out == (
        "# c\r\nA=static\r\nDB_PASSWORD=fake-db-pass-123\r\n\r\nDB_USER=\"fake_user\"\r\nLAST=fake_user"
    )
    assert rendered.mapping() == {
        "A": "static", "DB_PASSWORD": "fake-db-pass-123", "DB_USER": "fake_user", "LAST": "fake_user",
    }


def test_template_quotes_are_kept_when_they_can_hold_the_value() -> None:
    cells = {"ssm": {"PLAIN": "abc", "SQ": "it's", "BS": "a\\b", "NL": "l1\nl2"}}
    text = (
        "A=\"{ssm:PLAIN}\"\n"
        "B='{ssm:PLAIN}'\n"
        "C='{ssm:SQ}'\n"
        "D=\"${USER}:{ssm:SQ}\"\n"
        "E='{ssm:BS}'\n"
        "F=\"{ssm:NL}\"\n"
        "G={ssm:NL}\n"
    )
    out = render(text, cells=cells).text()
    assert out.splitlines()[:5] == ["A=\"abc\"", "B='abc'", "C=\"it's\"", "D=\"${USER}:it's\"", "E=\"a\\\\b\""]
    assert read_env(out) == {
        "A": "abc", "B": "abc", "C": "it's", "D": "${USER}:it's", "E": "a\\b", "F": "l1\nl2", "G": "l1\nl2",
    }
    # the double-quoted static part still interpolates for a reader that does
    interpolated = dotenv_values(stream=io.StringIO(out), interpolate=True)
    assert interpolated["D"] == f"{__import__('os').environ.get('USER', '')}:it's"


def test_static_values_follow_dotenv_semantics() -> None:
    text = (
        "A=unquoted value   # comment\n"
        "B='single # not comment'\n"
        'C="double\\nescape \\"q\\""\n'
        "D=a#b\n"
        'E="multi\nline {ssm:DB_USER}\nvalue"\n'
        "F=\n"
        "G=after\n"
    )
    rendered = render(text)
    assert rendered.mapping() == {
        "A": "unquoted value",
        "B": "single # not comment",
        "C": 'double\nescape "q"',
        "D": "a#b",
        "E": "multi\nline fake_user\nvalue",
        "F": "",
        "G": "after",
    }
    assert read_env(text)["C"] == rendered.mapping()["C"]  # same reading as python-dotenv
    assert read_env(rendered.text()) == rendered.mapping()
    entries = tpl.parse(text, VAULTS).entries
    assert [e.line for e in entries] == [1, 2, 3, 4, 5, 8, 9]


def test_json_fields() -> None:
    text = (
        "U={secretsmanager:DB_CREDS.username}\n"
        "P={secretsmanager:DB_CREDS.password}\n"
        "PORT={secretsmanager:DB_CREDS.port}\n"
        "HOST={secretsmanager:DB_CREDS.nested.host}\n"
        "FLAG={secretsmanager:DB_CREDS.flag}\n"
        "NONE={secretsmanager:DB_CREDS.none}\n"
    )
    rendered = render(text)
    assert rendered.mapping() == {
        "U": "fake-admin", "P": "p'w\"d", "PORT": "5432", "HOST": "db.internal", "FLAG": "true", "NONE": "",
    }
    assert read_env(rendered.text()) == rendered.mapping()


def test_json_field_problems_are_missing_with_reasons() -> None:
    text = "A={secretsmanager:PLAIN.x}\nB={secretsmanager:DB_CREDS.nope}\n"
    rendered = render(text, missing="skip")
    assert [m.describe() for m in rendered.missing] == [
        "line 1: {secretsmanager:PLAIN.x} (the secret is not a JSON object)",
        "line 2: {secretsmanager:DB_CREDS.nope} (the JSON secret has no field 'nope')",
    ]


MISSING_TEMPLATE = "A=1\n  export GONE={ssm:NOPE}  # note\nHALF=x-{ssm:DB_USER}-{ssm:ALSO_NOPE}\nB=2\n"


def test_missing_fail_collects_every_miss_with_its_line() -> None:
    rendered = render(MISSING_TEMPLATE)
    assert [m.describe() for m in rendered.missing] == [
        "line 2: {ssm:NOPE} (no secret NOPE in ssm:production)",
        "line 3: {ssm:ALSO_NOPE} (no secret ALSO_NOPE in ssm:production)",
    ]


def test_missing_remove_drops_the_lines() -> None:
    assert render(MISSING_TEMPLATE, "remove").text() == "A=1\nB=2\n"
    assert render(MISSING_TEMPLATE, "remove").mapping() == {"A": "1", "B": "2"}


def test_missing_blank_empties_the_values() -> None:
    out = render(MISSING_TEMPLATE, "blank").text()
    assert out == "A=1\n  export GONE=''  # note\nHALF=\nB=2\n"
    assert read_env(out) == {"A": "1", "GONE": "", "HALF": "", "B": "2"}


def test_missing_skip_leaves_placeholders() -> None:
    assert render(MISSING_TEMPLATE, "skip").text() == MISSING_TEMPLATE
    assert render(MISSING_TEMPLATE, "skip").mapping()["HALF"] == "x-{ssm:DB_USER}-{ssm:ALSO_NOPE}"


def test_invalid_missing_strategy() -> None:
    with pytest.raises(UsageError, match="--missing"):
        render("A=1\n", "ignore")


def test_placeholder_problems() -> None:
    template = tpl.parse("A={ssm:bad key}\nB={ssm:K|version=2}\nC={ssm:K.}\nmy.key={ssm}\n", VAULTS)
    problems = [p.problem for _, p in template.placeholders]
    assert problems[0] is not None and "invalid key" in problems[0]
    assert problems[1] is not None and "attributes" in problems[1]
    assert problems[2] == "empty field name after '.'"
    assert problems[3] is not None and "short form" in problems[3]


def test_malformed_lines_are_kept_and_flagged() -> None:
    text = "just words\nA='unterminated\nB=\"x\" trailing\nC=ok\n"
    template = tpl.parse(text, VAULTS)
    kinds = [(e.kind, e.problem) for e in template.entries]
    assert kinds == [
        ("other", "not a KEY=VALUE line"),
        ("other", "unterminated ' quote"),
        ("other", "unexpected text after the closing quote"),
        ("assignment", None),
    ]
    assert tpl.resolve(template, tpl.vault_lookup(CELLS), "p").text() == text


def test_unreferenced_for_all() -> None:
    template = tpl.parse("DB_PASSWORD={ssm}\nX={ssm:DB_USER}\nAPI_KEY=static\n", VAULTS)
    pairs = [("ssm", k) for k in CELLS["ssm"]] + [("local", "OTHER")]
    # API_KEY is defined by a static line, so it is not appended on top of it
    assert tpl.unreferenced(template, pairs) == [("local", "OTHER")]


# -- generated: any value placed in any quote style reads back exactly -----------------------

VALUE = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30),
    st.lists(st.sampled_from([*list("'\"$#\\= \t\n\r{}ab"), "${X}", "\r\n", "é"]), max_size=12).map("".join),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=VALUE, quote=st.sampled_from(["", "'", '"']), prefix=st.sampled_from(["", "x-"]),
       eol=st.sampled_from(["\n", "\r\n"]))
def test_rendered_values_read_back(tmp_path: Path, value: str, quote: str, prefix: str, eol: str) -> None:
    from keep_secrets.formats.dotenv import env_representable

    text = f"# t{eol}BEFORE=1{eol}export K={quote}{prefix}{{ssm:S}}{quote}  # c{eol}AFTER=2{eol}"
    rendered = render(text, cells={"ssm": {"S": value}})
    assert rendered.mapping()["K"] == prefix + value
    if not env_representable(prefix + value):
        with pytest.raises(UsageError, match=r"^line 3: K: "):
            rendered.text()
        return
    out = rendered.text()
    path = tmp_path / "out.env"
    path.write_bytes(out.encode())
    assert dotenv_values(path, interpolate=False) == {"BEFORE": "1", "K": prefix + value, "AFTER": "2"}


# -- statics mean what python-dotenv makes of them ------------------------------------------

LINE = st.one_of(
    st.just(""),
    st.just("# a comment {ssm:X}"),
    st.tuples(
        st.sampled_from(["", "  ", "export ", "\texport  "]),
        st.sampled_from(["A", "B_2", "_c", "D"]),
        st.sampled_from(["=", " = ", "=  "]),
        st.one_of(
            st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n'\""), max_size=12),
            st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00'"), max_size=12).map(
                lambda v: f"'{v}'"),
            st.lists(st.sampled_from(["a", " ", "#", "$", "\\\\", '\\"', "\\n", "\n", "\\t", "é", "'"]),
                     max_size=8).map(lambda parts: '"' + "".join(parts) + '"'),
        ),
        st.sampled_from(["", "  # trailing comment", "#c", " "]),
    ).map("".join),
)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(LINE, max_size=8), eol=st.sampled_from(["\n", "\r\n"]))
def test_static_values_match_python_dotenv(lines: list[str], eol: str) -> None:
    text = eol.join(lines) + eol
    template = tpl.parse(text, set())
    if any(e.kind == "other" for e in template.entries):
        return  # python-dotenv reports those lines as errors; template:validate flags them
    ours = tpl.resolve(template, tpl.vault_lookup({}), "p").mapping()
    assert ours == read_env(text)


def test_only_key_like_unknown_braces_are_reported() -> None:
    template = tpl.parse("A={ssn:DB_PASSWORD}\nB={note:see the docs}\nC={x:DB.field}\n", VAULTS)
    assert template.unknown == [(1, "{ssn:DB_PASSWORD}"), (3, "{x:DB.field}")]
