"""The click-free fast path of the `keep` entry point (SPEC §12: start-up within 3x / 4x of
`python -c pass`; importing click alone costs more than the rest of a `keep get`).

:func:`run` answers two command lines itself and returns None for every other one, which
then goes to click (:func:`keep_secrets.cli.run_args`):

* `keep --version` / `keep -V` alone: click's version option prints `keep VERSION`, exit 0.
* `keep get KEY` with only these options, each at most once, in any order: `--stage/--env`,
  `--vault`, `--format table|json|raw`, `--version`, `--field` (a value as the next word or
  after `=`, never empty and never starting with `-`), `-n/--no-interaction`, `-q/--quiet`
  and `--no-color`. It runs the very function the click command runs
  (:func:`keep_secrets.cli.getting.get_secret`) with the same Ctx, writes through the same
  `Ctx.out`, closes the vaults the same way, and hands any exception to the same
  :func:`keep_secrets.cli.handle_error` after the same translation click's `main` applies
  (Ctrl-C -> a newline and Abort; a broken pipe -> exit 1 with quiet streams).

Anything else — `--help`, `--`, a second KEY, an option click would reject or parse in its own
way (clustered short options, a missing value, a value starting with `-`, an unknown format),
global options before the command, shell completion (`_KEEP_COMPLETE`) — is not recognised
here and is parsed by click, so help texts, error messages and exit codes are click's own.
"""

from __future__ import annotations

import errno
import os
import sys

from .. import __version__
from ..console import echo, version_only

__all__ = ["echo", "parse_get", "run"]

GET_VALUE_OPTIONS = {"--stage": "stage", "--env": "stage", "--vault": "vault", "--format": "fmt",
                     "--version": "version", "--field": "field"}
GET_FLAGS = {"-n": "no_interaction", "--no-interaction": "no_interaction", "-q": "quiet", "--quiet": "quiet",
             "--no-color": "no_color"}
GET_FORMATS = ("table", "json", "raw")


def parse_get(args: list[str]) -> dict[str, str | bool] | None:
    """The options of `get ARGS...` when the fast path may run it; None for click to parse."""
    found: dict[str, str | bool] = {}
    words = iter(args)
    for word in words:
        if word.startswith("--"):
            name, eq, value = word.partition("=")
            if name in GET_VALUE_OPTIONS:
                if not eq:
                    value = next(words, "")
                if not value or value.startswith("-"):
                    return None
                dest = GET_VALUE_OPTIONS[name]
            elif name in GET_FLAGS and not eq:
                dest, value = GET_FLAGS[name], ""
            else:
                return None  # --help, --, unknown options, --flag=value
            if dest in found:
                return None
            found[dest] = value if value else True
        elif word.startswith("-"):
            if word not in GET_FLAGS or GET_FLAGS[word] in found:
                return None  # -h, clusters like -nq, "-" itself
            found[GET_FLAGS[word]] = True
        elif "key" in found:
            return None  # click: "Got unexpected extra argument"
        else:
            found["key"] = word
    if "key" not in found or found.get("fmt", "table") not in GET_FORMATS:
        return None
    return found


def run(args: list[str]) -> int | None:
    """The exit code of `args` when this fast path handles them, else None (use click)."""
    if version_only(args):
        echo(f"keep {__version__}")
        return 0
    if "_KEEP_COMPLETE" in os.environ:
        return None
    if not args or args[0] != "get":
        return None
    options = parse_get(args[1:])
    if options is None:
        return None
    return _run_get(args, options)


def _run_get(args: list[str], options: dict[str, str | bool]) -> int:
    from . import error_settings, handle_error

    no_color, debug = error_settings(args)
    try:
        try:
            _get(options)
        except (EOFError, KeyboardInterrupt) as exc:
            # click's main: a newline on stderr, then Abort
            import click

            click.echo(file=sys.stderr)
            raise click.Abort() from exc
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            # click's main on a broken pipe: quiet streams, exit 1
            from typing import Any

            from click.utils import PacifyFlushWrapper

            # typed as a class up to click 8.4, as a deprecated module attribute (object) from 8.5
            pacify: Any = PacifyFlushWrapper
            sys.stdout = pacify(sys.stdout)
            sys.stderr = pacify(sys.stderr)
            sys.exit(1)
    except BaseException as exc:
        return handle_error(exc, no_color, debug)
    return 0


def _get(options: dict[str, str | bool]) -> None:
    from .context import Ctx
    from .getting import get_secret

    def text(name: str) -> str | None:
        value = options.get(name)
        return value if isinstance(value, str) else None

    # what the root group's callback and the command's common options make of these options
    ctx = Ctx()
    ctx.stage_option = text("stage") or ctx.stage_option
    ctx.vault_option = text("vault") or ctx.vault_option
    ctx.no_interaction = ctx.no_interaction or bool(options.get("no_interaction"))
    ctx.quiet = ctx.quiet or bool(options.get("quiet"))
    ctx.no_color = ctx.no_color or bool(options.get("no_color"))
    try:
        get_secret(ctx, text("key"), text("fmt") or "table", text("version"), text("field"))
    finally:
        ctx.close()
