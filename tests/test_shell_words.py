"""Shell line -> CLI argument translation (pure)."""

from __future__ import annotations

import click
import pytest

from keep_secrets.cli.shell_words import (
    ShellInputError,
    redact_for_history,
    resolve_alias,
    split_line,
    translate,
    unique_prefix,
)


def fake(name: str, args: list[str], flags: list[str], valued: list[str]) -> click.Command:
    params: list[click.Parameter] = [click.Argument([a], required=False) for a in args]
    params += [click.Option([f"--{f}"], is_flag=True) for f in flags]
    params += [click.Option([f"--{v}"]) for v in valued]
    params += [click.Option(["--stage", "--env"]), click.Option(["--vault"])]
    return click.Command(name, params=params)


SHOW = fake("show", [], ["unmask"], ["format", "only", "except"])
DELETE = fake("delete", ["key"], ["force", "purge"], [])
SET = fake("set", ["key", "value"], ["plain", "stdin"], [])
COPY = fake("copy", ["key"], ["overwrite", "dry-run"], ["from", "to", "only", "except"])
DIFF = fake("diff", [], ["unmask"], ["format", "only", "except"])
EXPORT = fake("export", [], ["overwrite"], ["format", "file", "output"])
SEARCH = fake("search", ["query"], ["unmask", "keys", "case-sensitive"], ["format"])


def test_flag_words_and_context() -> None:
    assert translate(["unmask"], SHOW, "show", "local", "staging") == [
        "--stage", "staging", "--vault", "local", "show", "--unmask"]


def test_valued_option_word() -> None:
    args = translate(["only", "DB_*", "format", "json"], SHOW, "show", "v", "s")
    assert args[-4:] == ["--only", "DB_*", "--format", "json"]


def test_delete_key_force() -> None:
    assert translate(["DB", "force"], DELETE, "delete", "v", "s")[-3:] == ["delete", "DB", "--force"]


def test_key_named_like_a_flag_is_positional() -> None:
    assert translate(["force", "force"], DELETE, "delete", "v", "s")[-3:] == ["delete", "force", "--force"]


def test_set_value_is_literal() -> None:
    assert translate(["MODE", "force"], SET, "set", "v", "s")[-3:] == ["set", "MODE", "force"]
    assert translate(["MODE", "x", "plain"], SET, "set", "v", "s")[-4:] == ["set", "MODE", "x", "--plain"]


def test_dash_value_after_double_dash_stays_literal() -> None:
    args = translate(["K", "--", "-starts-with-dash"], SET, "set", "v", "s")
    assert args[-4:] == ["set", "--", "K", "-starts-with-dash"]


def test_diff_stages() -> None:
    assert translate(["staging", "production", "unmask"], DIFF, "diff", "v", "s") == [
        "diff", "--unmask", "--stage", "staging,production"]


def test_copy_key_target_and_from_context() -> None:
    assert translate(["DB_PASSWORD", "production"], COPY, "copy", "local", "staging") == [
        "copy", "DB_PASSWORD", "--to", "local:production", "--from", "local:staging"]


def test_copy_patterns_target() -> None:
    assert translate(["only", "DB_*", "production"], COPY, "copy", "local", "staging") == [
        "copy", "--only", "DB_*", "--to", "local:production", "--from", "local:staging"]


def test_export_file_word() -> None:
    args = translate(["out.env", "overwrite"], EXPORT, "export", "v", "s")
    assert "--file" in args and args[args.index("--file") + 1] == "out.env"
    assert "--overwrite" in args


def test_search_query_then_flags() -> None:
    assert translate(["unmask", "keys"], SEARCH, "search", "v", "s")[-3:] == ["search", "unmask", "--keys"]


def test_valued_word_without_value() -> None:
    with pytest.raises(ShellInputError, match="needs a value"):
        translate(["only"], SHOW, "show", "v", "s")


def test_aliases_and_prefixes() -> None:
    assert resolve_alias("g") == "get"
    assert resolve_alias("ls") == "show"
    assert resolve_alias("u") == "use"
    assert resolve_alias("ctx") == "context"
    assert resolve_alias("q") == "exit"
    assert unique_prefix("prod", ["local", "staging", "production"], "stage") == "production"
    with pytest.raises(ShellInputError, match="ambiguous"):
        unique_prefix("s", ["staging", "sandbox"], "stage")
    with pytest.raises(ShellInputError, match="unknown"):
        unique_prefix("zz", ["staging"], "stage")


def test_unbalanced_quotes() -> None:
    with pytest.raises(ShellInputError):
        split_line('set K "unterminated')


def test_history_never_keeps_values() -> None:
    assert redact_for_history("set DB_PASSWORD fake-secret-value") == "set DB_PASSWORD"
    assert redact_for_history("s DB 'fake value'") == "s DB"
    assert "fake-fragment" not in (redact_for_history("search fake-fragment unmask") or "")
    assert redact_for_history("show unmask") == "show unmask"
    assert redact_for_history("   ") is None
