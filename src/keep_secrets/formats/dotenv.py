"""The `env` (dotenv) output format (SPEC §6.1).

Every value is written so that python-dotenv reads it back exactly
(`dotenv_values(interpolate=False)`), and so that values without `$` also survive readers
that interpolate:

* bare when it matches `[A-Za-z0-9_./:@+-]*` (nothing any dialect treats specially);
* single quotes when it has no `'`, no backslash and no carriage return. Single quotes are
  literal in every dialect (no `$` interpolation), but python-dotenv still decodes `\\\\` and
  `\\'` inside them, and a text-mode read turns a raw CR into LF, so those values cannot
  use this branch;
* otherwise double quotes with `\\\\`, `\\"`, `\\n`, `\\r` and `\\t` escaped;
* except a value ending with a backslash: python-dotenv's quoted-value pattern reads `\\\\"`
  before a closing quote as an escaped quote and runs on into the next line, so no quoted
  form reads back. Such a value is written bare when that is exact (one line, no leading
  space or quote, no ` #`), and refused otherwise rather than written wrong.

Keep's own renderer (its §12 #20) escaped inside single quotes and left `$` and raw
newlines alone, which made files that do not read back; this one is proven by round-trip
tests instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..model import UsageError
from ..names import is_env_var_name

_BARE_RE = re.compile(r"[A-Za-z0-9_./:@+-]*")
_DOUBLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_DOUBLE_ESCAPE_RE = re.compile(r'[\\"\n\r\t]')
# python-dotenv's unquoted value: the rest of the line, cut at whitespace + '#', stripped
_UNQUOTED_RE = re.compile(r"[^\s'\"#][^\r\n]*")
_COMMENT_RE = re.compile(r"\s#")


def quote_double(value: str) -> str:
    """`value` inside double quotes, escaped the way dotenv readers decode it."""
    return '"' + _DOUBLE_ESCAPE_RE.sub(lambda m: _DOUBLE_ESCAPES[m.group(0)], value) + '"'


def fits_single_quotes(value: str) -> bool:
    return "'" not in value and "\\" not in value and "\r" not in value


def fits_double_quotes(value: str) -> bool:
    return not value.endswith("\\")


def _fits_unquoted(value: str) -> bool:
    return _UNQUOTED_RE.fullmatch(value) is not None and _COMMENT_RE.search(value) is None


def env_representable(value: str) -> bool:
    """Whether `value` can be written so that python-dotenv reads it back exactly."""
    return fits_double_quotes(value) or _fits_unquoted(value)


def quote_env_value(value: str) -> str:
    """The dotenv representation of `value` (see the module docstring for the rules)."""
    if _BARE_RE.fullmatch(value):
        return value
    if not fits_double_quotes(value):
        if _fits_unquoted(value):
            return value
        raise UsageError(
            "A value ending with a backslash that also spans lines, starts with a space or quote, "
            "or holds ' #' cannot be written in env format so that dotenv readers get it back",
            hint="export as json, yaml or shell instead",
        )
    if fits_single_quotes(value):
        return f"'{value}'"
    return quote_double(value)


def check_env_key(key: str, format_name: str = "env") -> str:
    """Refuse keys that are not environment variable names: renaming them silently would
    hand the application a variable it never asked for."""
    if not is_env_var_name(key):
        raise UsageError(
            f"Key {key!r} is not a valid environment variable name, so it cannot be written in "
            f"{format_name} format (use letters, digits and _, not starting with a digit)",
            hint="rename it, leave it out with --except, or export as json/yaml/csv",
        )
    return key


def render_env_line(key: str, value: str) -> str:
    check_env_key(key, "env")
    try:
        return f"{key}={quote_env_value(value)}"
    except UsageError as exc:
        raise UsageError(f"{key}: {exc.message}", hint=exc.hint) from None


def render_env(items: Iterable[tuple[str, str]]) -> str:
    """`KEY=value` lines, one per item, ending with a newline (empty input -> "")."""
    lines = [render_env_line(key, value) for key, value in items]
    return "".join(line + "\n" for line in lines)
