"""The `keep` console script (pyproject `[project.scripts]`).

`keep --version` is answered here, before even the `keep_secrets.cli` package (its command
registry and error handling) is imported: SPEC §12 wants it within 3x `python -c pass`, and a
console script's own start-up already takes a share of that. Every other command line goes to
:func:`keep_secrets.cli.run_args` after the click-free `keep get` of cli/quick.py has declined
it; a command line that the fast path answers ends with :func:`exit_now`.
"""

from __future__ import annotations

import codecs
import io
import os
import sys

from . import __version__


def echo(text: str, nl: bool = True) -> None:
    """`click.echo(text, nl=nl)` to stdout, without importing click where click would do
    exactly this: a regular text stdout with a non-ASCII encoding (click rewraps an ASCII
    one) and no ANSI escape in the text (click strips escapes when stdout is not a terminal).
    Anything else goes to click.echo itself."""
    stream = sys.stdout
    if (
        "\x1b" in text
        or type(stream) is not io.TextIOWrapper
        or sys.platform == "win32"
        or _ascii_encoding(stream.encoding)
    ):
        import click

        click.echo(text, nl=nl)
        return
    out = text + "\n" if nl else text
    if out:
        stream.write(out)
    stream.flush()


def _ascii_encoding(encoding: str | None) -> bool:
    try:
        return codecs.lookup(encoding or "ascii").name == "ascii"
    except LookupError:
        return False


def version_only(args: list[str]) -> bool:
    """`keep --version` / `keep -V` alone, as click's eager version option reads them (and not
    while click's shell completion is asking)."""
    return args in (["--version"], ["-V"]) and "_KEEP_COMPLETE" not in os.environ


def exit_now(code: int) -> None:
    """`sys.exit(code)` for a console-script process whose work is done, without the
    interpreter's teardown: freeing every module and object one by one costs a `keep get`
    ~10 ms of CPU, a fifth of its own time (SPEC §12). What an exit does that anyone can see
    still happens, in the normal order: other threads end first (if there are any, this is
    plain `sys.exit`), then the atexit handlers run, then stdout and stderr are flushed (if
    that fails, plain `sys.exit` reports it as it always does). Files the command wrote are
    closed by then; nothing else is left to release but memory."""
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()  # the handlers a normal exit runs (it clears them after)
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except BaseException:
        sys.exit(code)
    os._exit(code)


def main() -> None:
    args = sys.argv[1:]
    if version_only(args):
        echo(f"keep {__version__}")
        sys.exit(0)
    from .cli import run_args
    from .cli.quick import run

    code = run(args)
    if code is None:
        sys.exit(run_args(args))  # click: the normal exit (its commands may leave threads, files...)
    exit_now(code)  # the click-free `keep get`: its work is done and its files are closed
