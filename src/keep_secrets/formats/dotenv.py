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
* except a value ending with a backslash: python-dotenv before 1.2.4 reads `\\\\"` before a
  closing quote as an escaped quote and runs on into the next line, so no quoted
  form reads back. Such a value is written bare when that is exact (one line, no leading
  space or quote, no ` #`), and refused otherwise rather than written wrong.

Every candidate is then *proven* with python-dotenv's own parser (the installed version, the
one grammar keep uses for templates, import and these checks): the line must read back as
exactly one binding of this key and value, end where the line ends even when quote characters
follow it, and survive a text-mode read (which turns a raw CR into LF). The preference order
above keeps files portable across python-dotenv versions; the proof keeps them exact for the
version in use. A value no form survives is refused, never written wrong.

Keep's own renderer (its §12 #20) escaped inside single quotes and left `$` and raw
newlines alone, which made files that do not read back; this one is proven by round-trip
tests instead.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator

from ..model import UsageError
from ..names import is_env_var_name

_BARE_RE = re.compile(r"[A-Za-z0-9_./:@+-]*")
_DOUBLE_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_DOUBLE_ESCAPE_RE = re.compile(r'[\\"\n\r\t]')
# what follows a probed line: a quote that a run-on quoted value would swallow
_PROBE_AFTER = "\n#'\"\n"


def quote_double(value: str) -> str:
    """`value` inside double quotes, escaped the way dotenv readers decode it."""
    return '"' + _DOUBLE_ESCAPE_RE.sub(lambda m: _DOUBLE_ESCAPES[m.group(0)], value) + '"'


def fits_single_quotes(value: str) -> bool:
    return "'" not in value and "\\" not in value and "\r" not in value


def fits_double_quotes(value: str) -> bool:
    return not value.endswith("\\")


def reads_back(line: str, key: str, value: str) -> bool:
    """Whether python-dotenv reads `line` (one env line, without its line ending) as exactly
    `key` = `value`, consuming the whole line and nothing after it, as a text-mode read of a
    file would see it."""
    from dotenv.parser import parse_stream

    text = line.replace("\r\n", "\n").replace("\r", "\n") + _PROBE_AFTER
    first = next(iter(parse_stream(io.StringIO(text))), None)
    return (
        first is not None
        and not first.error
        and first.key == key
        and first.value == value
        and len(first.original.string) == len(text) - len(_PROBE_AFTER) + 1
    )


def _forms(value: str, prefer: str = "") -> Iterator[str]:
    """Candidate spellings of `value`, most portable first (`prefer`: a quote style to try
    first when it can hold the value)."""
    if prefer == '"' and fits_double_quotes(value):
        yield quote_double(value)
    if prefer == "'" and fits_single_quotes(value):
        yield f"'{value}'"
    if _BARE_RE.fullmatch(value):
        yield value
    if fits_single_quotes(value):
        yield f"'{value}'"
    if fits_double_quotes(value):
        yield quote_double(value)
    yield value  # unquoted as is: the only form for some values ending with a backslash


def quote_env_value(
    value: str, *, prefer: str = "", fits: Callable[[str], bool] | None = None
) -> str:
    """The dotenv representation of `value` (see the module docstring for the rules).
    `fits(form)` proves a candidate in its real context (default: the line `K=<form>`)."""
    if fits is None and _BARE_RE.fullmatch(value):
        return value  # nothing any dotenv dialect treats specially
    check = fits or (lambda form: reads_back(f"K={form}", "K", value))
    for form in _forms(value, prefer):
        if check(form):
            return form
    if value.endswith("\\"):
        raise UsageError(
            "A value ending with a backslash that also spans lines, starts with a space or quote, "
            "or holds ' #' cannot be written in env format so that dotenv readers get it back",
            hint="export as json, yaml or shell instead",
        )
    raise UsageError(
        "This value cannot be written in env format so that python-dotenv reads it back exactly",
        hint="export as json, yaml or shell instead",
    )


def env_representable(value: str) -> bool:
    """Whether `value` can be written so that python-dotenv reads it back exactly."""
    try:
        quote_env_value(value)
    except UsageError:
        return False
    return True


def check_env_key(key: str, format_name: str = "env") -> str:
    """Refuse keys that are not environment variable names: renaming them silently would
    hand the application a variable it never asked for."""
    check_env_keys([key], format_name)
    return key


def check_env_keys(keys: Iterable[str], format_name: str = "env") -> None:
    """Refuse, naming every one of them, keys that are not environment variable names, with
    the `--except` that leaves them out."""
    bad = list(dict.fromkeys(key for key in keys if not is_env_var_name(key)))
    if not bad:
        return
    import shlex

    shown = ", ".join(repr(key) for key in bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
    if len(bad) == 1:
        what, it = f"Key {shown} is not a valid environment variable name, so it", "it"
    else:
        what, it = f"Keys {shown} are not valid environment variable names, so they", "them"
    raise UsageError(
        f"{what} cannot be written in {format_name} format (use letters, digits and _, not starting with a digit)",
        hint=f"leave {it} out with --except {shlex.quote(','.join(bad))}, rename {it}, or export as json/yaml/csv",
    )


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
