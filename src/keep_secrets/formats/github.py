"""GitHub Actions output (`export --format github`): the `$GITHUB_ENV` file format and the
`::add-mask::` workflow commands (SPEC §14).

The runner reads `$GITHUB_ENV` line by line (lines end at `\\n`): `NAME=value` sets a one-line
value; `NAME<<DELIMITER`, then the value's lines, then a line that is exactly `DELIMITER`, sets
a multi-line one. Values holding a line break (or a carriage return, which a one-line form
could lose) use the second form with a random delimiter that occurs nowhere in the value.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Sequence

from .dotenv import check_env_key

_LINE_BREAK = re.compile(r"\r\n|\n|\r")


def random_delimiter() -> str:
    return f"ghadelimiter_{secrets.token_hex(16)}"


def delimiter_for(value: str, make: Callable[[], str] = random_delimiter) -> str:
    """A fresh delimiter that is not a substring of `value` (so no line of it can end the block)."""
    while True:
        candidate = make()
        if candidate and candidate not in value and "\n" not in candidate and "\r" not in candidate:
            return candidate


def render_github_env(pairs: Sequence[tuple[str, str]], make_delimiter: Callable[[], str] = random_delimiter) -> str:
    """The lines to append to `$GITHUB_ENV` for `pairs` (keys checked as variable names first)."""
    for key, _ in pairs:
        check_env_key(key, "github")
    out: list[str] = []
    for key, value in pairs:
        if "\n" in value or "\r" in value:
            delimiter = delimiter_for(value, make_delimiter)
            out.append(f"{key}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            out.append(f"{key}={value}\n")
    return "".join(out)


def _escape_command_data(text: str) -> str:
    # the runner un-escapes %25, %0D and %0A in a command's data (as @actions/core escapes it)
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def mask_lines(values: Iterable[str]) -> list[str]:
    """Every distinct line of every value, in order; blank lines are not masks (the runner
    refuses an empty mask, and a mask of spaces would hide every space of the log)."""
    seen: dict[str, None] = {}
    for value in values:
        for line in _LINE_BREAK.split(value):
            if line.strip():
                seen.setdefault(line, None)
    return list(seen)


def render_masks(values: Iterable[str]) -> str:
    return "".join(f"::add-mask::{_escape_command_data(line)}\n" for line in mask_lines(values))
