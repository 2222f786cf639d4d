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


def _real(name: str) -> click.Command:
    from keep_secrets.cli import cli

    command = cli.get_command(click.Context(cli), name)
    assert command is not None
    return command


def test_short_options_of_the_real_commands_work() -> None:
    """Issue 9 item 5: `export -o out.env` used to become `export -o --file out.env`."""
    export = _real("export")
    assert translate(["-o", "out.env"], export, "export", "v", "s") == [
        "--stage", "s", "--vault", "v", "export", "-o", "out.env"]
    assert translate(["-oout.env", "format", "json"], export, "export", "v", "s")[-4:] == [
        "export", "-oout.env", "--format", "json"]
    args = translate(["--output=out.env", "overwrite"], export, "export", "v", "s")
    assert args[-2:] == ["--output=out.env", "--overwrite"] and "--file" not in args
    assert translate(["out.env"], export, "export", "v", "s")[-3:] == ["export", "--file", "out.env"]
    assert translate(["-h"], _real("show"), "show", "v", "s")[-2:] == ["show", "-h"]


@pytest.mark.parametrize("name", ["export", "show", "copy", "import", "set", "run", "diff"])
def test_every_short_and_long_option_is_passed_with_its_value(name: str) -> None:
    """For every option of the real command, in every spelling click knows, the shell passes
    the option and (when it takes one) exactly its value, which never becomes a positional."""
    command = _real(name)
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        for spelling in [*param.opts, *param.secondary_opts]:
            takes_value = not (param.is_flag or param.count)
            words = [spelling, "VALUE-1"] if takes_value else [spelling]
            args = translate(words, command, name, "v", "s")
            at = args.index(spelling, args.index(name) + 1)
            if takes_value:
                assert args[at + 1] == "VALUE-1", (name, spelling, args)
                assert args.count("VALUE-1") == 1, (name, spelling, args)
