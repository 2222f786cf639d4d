"""Turning a shell line (`delete DB force`, `diff staging production`, `copy only DB_* production`)
into ordinary keep arguments. Pure: no prompt_toolkit, no I/O, so it is unit-tested directly.

Rules (SPEC §10):
* a bare word naming one of the command's options becomes that option (`unmask` -> `--unmask`,
  `only DB_*` -> `--only DB_*`); dashed options work as usual;
* the first N bare words of commands whose leading arguments are free text (the key and value
  of `set`, the query of `search`...) are always positional, so `set MODE force` stores "force";
  after `--` every word is literal;
* `diff a b` -> `--stage a,b`; `copy KEY TARGET` -> `--to TARGET`; `export FILE` -> `--file FILE`;
* the shell's vault and stage are passed as the root options `--vault/--stage`, which the
  command's own options override; `copy` gets `--from vault:stage` instead.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from typing import NamedTuple

import click

ALIASES = {"g": "get", "s": "set", "d": "delete", "ls": "show", "l": "show", "u": "use", "ctx": "context",
           "q": "exit", "quit": "exit", "?": "help", "cls": "clear"}
BUILTINS = ("use", "stage", "vault", "context", "help", "history", "clear", "exit")

class ShellInputError(ValueError):
    pass


def split_line(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise ShellInputError(f"cannot parse the line: {exc}") from None


def resolve_alias(word: str) -> str:
    return ALIASES.get(word, word)


class _Option(NamedTuple):
    canonical: str  # the spelling passed on (its first long form)
    takes_value: bool


def _options(command: click.Command) -> dict[str, _Option]:
    """Every spelling of every option of `command`, from click's own parameter objects: the
    short and long forms (`-o`, `--file`, `--output`), secondary flags (`--no-x`) and, for the
    shell's bare words, the long names without dashes (`unmask`, `only`)."""
    table: dict[str, _Option] = {}
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        spellings = [*param.opts, *param.secondary_opts]
        longs = [opt for opt in spellings if opt.startswith("--")]
        option = _Option(longs[0] if longs else spellings[0], not (param.is_flag or param.count))
        for opt in spellings:
            table[opt] = option
            if opt.startswith("--"):
                table.setdefault(opt[2:], option)
    return table


def _dashed(word: str, options: dict[str, _Option]) -> tuple[_Option | None, bool]:
    """The option a dashed word names, and whether the word carries its value already
    (`--file=x`, `-ox`)."""
    name, equals, _ = word.partition("=")
    if name in options:
        return options[name], bool(equals)
    if not word.startswith("--") and word[:2] in options:
        option = options[word[:2]]
        return option, option.takes_value  # `-ofile`: click reads the rest as the value
    return None, bool(equals)


class _Parsed(NamedTuple):
    out: list[str]
    positionals: list[str]
    given: set[str]


def _parse(words: list[str], options: dict[str, _Option], literal: int, keep_separator: bool) -> _Parsed:
    out: list[str] = []
    positionals: list[str] = []
    given: set[str] = set()
    words = list(words)
    while words:
        word = words.pop(0)
        if word == "--":
            positionals += ["--", *words] if keep_separator else words
            break
        if len(positionals) < literal and not word.startswith("-"):
            positionals.append(word)
            continue
        dashed = word.startswith("-") and word != "-"
        option, has_value = _dashed(word, options) if dashed else (options.get(word), False)
        if option is None:
            (out if dashed else positionals).append(word)
            continue
        given.add(option.canonical)
        out.append(word if dashed else option.canonical)
        if option.takes_value and not has_value:
            if not words:
                raise ShellInputError(f"'{word}' needs a value")
            out.append(words.pop(0))
    return _Parsed(out, positionals, given)


def _shape_diff(parsed: _Parsed, vault: str | None, stage: str | None) -> None:
    if parsed.positionals:
        parsed.out.extend(["--stage", ",".join(parsed.positionals)])
        parsed.positionals.clear()


def _shape_copy(parsed: _Parsed, vault: str | None, stage: str | None) -> None:
    positionals, given = parsed.positionals, parsed.given
    target = None
    if "--to" not in given:
        if ("--only" in given or "--except" in given) and positionals:
            target = positionals.pop(0)
        elif len(positionals) >= 2:
            target = positionals.pop(1)
    if target is not None:
        # a bare stage means "that stage of the vault I am in", not of the default vault
        parsed.out.extend(["--to", target if ":" in target or not vault else f"{vault}:{target}"])
    if "--from" not in given and vault and stage:
        parsed.out.extend(["--from", f"{vault}:{stage}"])


# commands whose bare words have a meaning of their own (SPEC §10)
_SHAPES = {"diff": _shape_diff, "copy": _shape_copy}


def translate(words: list[str], command: click.Command, name: str, vault: str | None, stage: str | None
              ) -> list[str]:
    """Map a shell line's words (after the command name) to keep CLI arguments, reading the
    command's rules from the registry (cli/__init__.py) and its options from click."""
    from . import COMMANDS

    spec = COMMANDS.get(name)
    parsed = _parse(words, _options(command), spec.literal if spec else 0, keep_separator=name == "run")
    shape = _SHAPES.get(name)
    if shape is not None:
        shape(parsed, vault, stage)
    elif spec and spec.positional_option and parsed.positionals and spec.positional_option not in parsed.given:
        parsed.out.extend([spec.positional_option, parsed.positionals.pop(0)])
    root: list[str] = []
    if spec is None or spec.context:
        root += ["--stage", stage] if stage else []
        root += ["--vault", vault] if vault else []
    out, positionals = parsed.out, parsed.positionals
    if name == "run":
        return [*root, name, *out, *positionals]
    if any(p.startswith("-") for p in positionals):
        return [*root, name, *out, "--", *positionals]
    return [*root, name, *positionals, *out]


def unique_prefix(word: str, choices: list[str], what: str) -> str:
    if word in choices:
        return word
    matches = [c for c in choices if c.startswith(word)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ShellInputError(f"unknown {what} '{word}' (choices: {', '.join(choices)})")
    raise ShellInputError(f"ambiguous {what} '{word}': {', '.join(matches)}")


# `search`'s flags and the options whose values are names, not value fragments (with or
# without dashes, as the shell accepts them)
_SEARCH_FLAGS = frozenset({"unmask", "case-sensitive", "keys", "no-interaction", "quiet", "no-color", "n", "q"})
_SEARCH_VALUED = frozenset({"format", "only", "except", "stage", "env", "vault"})


def _search_words(words: list[str]) -> list[str]:
    """`search` keeps its flags and named options; the query, wherever it stands, and any
    word not known to be a flag, becomes `********`."""
    kept = [words[0]]
    index = 1
    while index < len(words):
        word = words[index]
        name, equals, _ = word.lstrip("-").partition("=")
        named = name in _SEARCH_VALUED and bool(equals) and word.startswith("--")
        if named or (name in _SEARCH_FLAGS and not equals):
            kept.append(word)
        elif name in _SEARCH_VALUED and not equals and index + 1 < len(words):
            kept += [word, words[index + 1]]
            index += 1
        elif kept[-1] != "********":
            kept.append("********")
        index += 1
    return kept


def _known_commands() -> set[str]:
    from . import COMMANDS  # the registry; imported late: cli/__init__ is loaded by then

    return {*COMMANDS, *BUILTINS, "shell"}


def redact_for_history(line: str, known: Iterable[str] | None = None) -> str | None:
    """What the history file may keep of a line: never a value. None = do not record.

    Only lines whose command is known (`known`, default: keep's commands and the shell's
    built-ins, after aliases) are recorded: a typo such as `sett K value`, or `keep set K
    value` typed out of habit, may hold a value in any position, so it is not kept at all.
    Of a known line, the value positions are masked: `set K V` -> `set K`, a search query
    becomes `********`, and every word after `--` too."""
    try:
        words = shlex.split(line)
    except ValueError:
        return None
    if not words:
        return None
    cmd = resolve_alias(words[0])
    if cmd not in (_known_commands() if known is None else set(known)):
        return None
    if "--" in words[1:]:
        cut = words.index("--", 1)
        words = [*words[:cut], "--", *(["********"] if cut + 1 < len(words) else [])]
    # a bare `NAME=text` word (not an `--option=value`) is a value typed as an assignment
    words = [w if w.startswith("-") or "=" not in w else w.split("=", 1)[0] + "=********" for w in words]
    if cmd == "set":
        # options, then the key only: never the value, nor a `KEY=value` typed as one word
        kept = [words[0]]
        for word in words[1:]:
            if word.startswith("-") and word != "-":
                kept.append(word)
                continue
            kept.append(word.split("=", 1)[0])
            break
        return " ".join(shlex.quote(w) for w in kept)
    if cmd == "search" and len(words) > 1:
        return " ".join(w if w == "********" else shlex.quote(w) for w in _search_words(words))
    return " ".join(w if w.endswith("********") else shlex.quote(w) for w in words)
