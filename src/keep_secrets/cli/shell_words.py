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

import click

ALIASES = {"g": "get", "s": "set", "d": "delete", "ls": "show", "l": "show", "u": "use", "ctx": "context",
           "q": "exit", "quit": "exit", "?": "help", "cls": "clear"}
BUILTINS = ("use", "stage", "vault", "context", "help", "history", "clear", "exit")

# leading bare words that are always positional (free text such as keys, values, queries)
LITERAL_LEADING = {"set": 2, "rename": 2, "get": 1, "delete": 1, "restore": 1, "history": 1, "rollback": 1,
                   "rotate": 1, "search": 1, "template:validate": 1}
# commands that must not receive the shell's stage/vault as defaults
NO_CONTEXT = {"diff", "copy", "info", "verify", "iam", "init", "workspace", "vault:list", "vault:add",
              "vault:edit", "vault:delete", "vault:default", "stage:add", "stage:remove", "env:add", "env:remove",
              "server", "replicate"}
WRITES = {"set", "delete", "restore", "rename", "rollback", "rotate", "copy", "import"}


class ShellInputError(ValueError):
    pass


def split_line(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise ShellInputError(f"cannot parse the line: {exc}") from None


def resolve_alias(word: str) -> str:
    return ALIASES.get(word, word)


def _option_words(command: click.Command) -> dict[str, tuple[str, bool]]:
    words: dict[str, tuple[str, bool]] = {}
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        for opt in param.opts:
            if opt.startswith("--"):
                words[opt[2:]] = (opt, bool(param.is_flag) or bool(param.count))
    return words


def translate(words: list[str], command: click.Command, name: str, vault: str | None, stage: str | None
              ) -> list[str]:
    """Map a shell line's words (after the command name) to keep CLI arguments."""
    options = _option_words(command)
    out: list[str] = []
    positionals: list[str] = []
    leading = LITERAL_LEADING.get(name, 0)
    literal = False
    given: set[str] = set()
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if literal:
            positionals.append(word)
        elif word == "--":
            literal = True
            if name == "run":
                positionals.append("--")
        elif len(positionals) < leading and not word.startswith("-"):
            positionals.append(word)
        elif word.startswith("-") and word != "-":
            out.append(word)
            opt = word.split("=", 1)[0]
            given.add(opt)
            takes_value = opt in {o for o, is_flag in options.values() if not is_flag}
            if takes_value and "=" not in word and i < len(words):
                out.append(words[i])
                i += 1
        elif word in options:
            opt, is_flag = options[word]
            given.add(opt)
            out.append(opt)
            if not is_flag:
                if i >= len(words):
                    raise ShellInputError(f"'{word}' needs a value")
                out.append(words[i])
                i += 1
        else:
            positionals.append(word)

    if name == "diff" and positionals:
        out += ["--stage", ",".join(positionals)]
        positionals = []
    elif name == "copy":
        patterns = "--only" in given or "--except" in given
        target = None
        if patterns and positionals and "--to" not in given:
            target = positionals.pop(0)
        elif len(positionals) >= 2 and "--to" not in given:
            target = positionals.pop(1)
        if target is not None:
            # a bare stage means "that stage of the vault I am in", not of the default vault
            out += ["--to", target if ":" in target or not vault else f"{vault}:{target}"]
        if "--from" not in given and vault and stage:
            out += ["--from", f"{vault}:{stage}"]
    elif name == "export" and positionals and "--file" not in given and "--output" not in given:
        out += ["--file", positionals.pop(0)]

    root: list[str] = []
    if name not in NO_CONTEXT:
        if stage:
            root += ["--stage", stage]
        if vault:
            root += ["--vault", vault]
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
