"""The `keep` console script (pyproject `[project.scripts]`).

`keep --version` is answered here, before even the `keep_secrets.cli` package (its command
registry needs `typing`) is imported: SPEC §12 wants it within 3x `python -c pass`, and a
console script's own start-up already takes a share of that. Every other command line goes to
:func:`keep_secrets.cli.main` (which first tries the click-free `keep get` of cli/quick.py).
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


def main() -> None:
    args = sys.argv[1:]
    if version_only(args):
        echo(f"keep {__version__}")
        sys.exit(0)
    from .cli import main as cli_main

    cli_main(args)
