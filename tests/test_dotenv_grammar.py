"""One dotenv grammar: python-dotenv's own. Template statics (export env and json, run), import
and the writer's round-trip checks all follow whatever the installed python-dotenv reads, so
they agree with `dotenv_values(interpolate=False)` of the same text for any version.

Two ways to prove it: the lines on which python-dotenv versions disagree (1.2.4 reads
`KEY=  # note` as empty, 1.2.2 as `# note`; they differ on `"a\\"` too) through the real CLI,
and python-dotenv's parser patched to behave like another version, which keep must follow
without a change of its own."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import dotenv.parser
import pytest
from dotenv import dotenv_values

from keep_secrets import placeholders as tpl
from keep_secrets.formats.dotenv import quote_env_value, render_env
from keep_secrets.services import importing

from .conftest import KeepRunner

# Lines on which python-dotenv versions (or a hand-written grammar) disagree.
DISPUTED = (
    "NOTE=  # a note, or the value?\n"
    "TAB=\t# tab before the hash\n"
    "HASH=#kept-without-space\n"
    'TRAIL="ends with a backslash\\\\"\n'
    "SINGLE='it\\'s'\n"
    'DOUBLE="q\\"uote\\n"\n'
    "SPACED = spaced value   # comment\n"
    "export EXPORTED='x y'\n"
    "EMPTY=\n"
)


def dotenv_read(text: str) -> dict[str, str | None]:
    return dict(dotenv_values(stream=io.StringIO(text), interpolate=False))


def statics(text: str) -> dict[str, str]:
    return tpl.resolve(tpl.parse(text, {"local"}), tpl.vault_lookup({}), "local").mapping()


# -- python-dotenv patched to read like another version ---------------------------------------

def _empty_before_hash(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """python-dotenv 1.2.4's rule (a no-op on 1.2.4 itself): `KEY=  # c` is empty."""

    def parse_binding(reader: Any) -> Any:
        binding = original(reader)
        text = binding.original.string
        if binding.value and binding.key and text.lstrip().startswith(("export", binding.key)):
            after = text.split("=", 1)[1]
            if after[:1] in (" ", "\t") and after.lstrip(" \t").startswith("#"):
                return binding._replace(value="")
        return binding

    return parse_binding


def _semicolon_ends_value(original: Callable[[Any], str]) -> Callable[[Any], str]:
    """A made-up future rule: an unquoted value ends before a `;`."""

    def parse_unquoted_value(reader: Any) -> str:
        return original(reader).split(";", 1)[0]

    return parse_unquoted_value


@pytest.fixture(params=["1.2.4-comment-rule", "semicolon-rule"])
def other_grammar(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "1.2.4-comment-rule":
        monkeypatch.setattr(dotenv.parser, "parse_binding", _empty_before_hash(dotenv.parser.parse_binding))
    else:
        monkeypatch.setattr(
            dotenv.parser, "parse_unquoted_value", _semicolon_ends_value(dotenv.parser.parse_unquoted_value)
        )
    yield request.param


OTHER = "A=  # note\nB=x;y\nC='q;r'  # c\nexport D=plain\n"


def test_template_statics_follow_the_installed_parser(other_grammar: str) -> None:
    expected = dotenv_read(OTHER)
    assert expected != {"A": "# note", "B": "x;y", "C": "q;r", "D": "plain"}  # the patch took effect
    assert statics(OTHER) == expected


def test_import_follows_the_installed_parser(other_grammar: str) -> None:
    parsed = importing.parse(OTHER, "in.env")
    assert {e.key: e.value for e in parsed.entries} == dotenv_read(OTHER)


def test_rendered_placeholders_read_back_under_the_installed_parser(other_grammar: str) -> None:
    text = "A={local:S}  # note\nB={local:E}  # empty\n"
    for value in ("x;y", "", "# hash", "v"):
        rendered = tpl.resolve(tpl.parse(text, {"local"}), tpl.vault_lookup({"local": {"S": value, "E": ""}}), "s")
        assert dotenv_read(rendered.text()) == {"A": value, "B": ""}
        assert dotenv_read(render_env([("K", value)])) == {"K": value}
        assert dotenv_read(f"K={quote_env_value(value)}\n") == {"K": value}


# -- the same through the real CLI, with the python-dotenv that is installed ------------------

def test_export_json_run_and_import_agree_with_dotenv_values(kp: KeepRunner) -> None:
    kp.ok("set", "DB_PASSWORD", "fake-db-pass", "--stage", "local")
    template = DISPUTED + "DB_PASSWORD={local:DB_PASSWORD}  # from the vault\n"
    (kp.cwd / "env").mkdir()
    (kp.cwd / "env" / "local.env").write_text(template)
    expected = {k: v for k, v in dotenv_read(template).items() if v is not None}
    assert expected["DB_PASSWORD"] == "{local:DB_PASSWORD}"
    expected["DB_PASSWORD"] = "fake-db-pass"

    exported = kp.ok("export", "--stage", "local", "--template").stdout
    assert dotenv_read(exported) == expected
    as_json = kp.ok("export", "--stage", "local", "--template", "--format", "json").stdout
    assert json.loads(as_json) == expected

    script = f"import json, os; print(json.dumps({{k: os.environ.get(k) for k in {sorted(expected)!r}}}))"
    ran = kp.ok("run", "--stage", "local", "--template", "--", sys.executable, "-c", script).stdout
    assert json.loads(ran) == expected

    # import refuses a whole file with a line python-dotenv cannot read (1.2.2: the TRAIL line)
    readable = "".join(line for line in DISPUTED.splitlines(keepends=True) if not line.startswith("TRAIL"))
    (kp.cwd / "in.env").write_text(readable)
    kp.ok("import", "in.env", "--stage", "staging")
    shown = json.loads(kp.ok("show", "--stage", "staging", "--format", "json", "--unmask").stdout)
    imported = {row["key"]: row["value"] for row in shown}
    # import skips empty values (and reports them)
    assert imported == {k: v for k, v in dotenv_read(readable).items() if v}
