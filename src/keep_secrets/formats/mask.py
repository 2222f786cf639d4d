"""The one masking rule (SPEC §6), used by the CLI, the shell and the web UI alike.

A masked value reveals at most `min(4, len // 8)` leading characters (so never more than an
eighth of it), then stars. Below 24 characters there are always exactly 8 stars, so neither
the stars nor a suffix tell the length of a short password; from 24 characters on there are 20
stars and a ` (N chars)` suffix. An empty value is `(empty)`, never stars that would pass for
a secret.
"""

from __future__ import annotations

MASK = "********"
EMPTY = "(empty)"
_LENGTH_SHOWN_FROM = 24


def revealed(length: int) -> int:
    """How many leading characters a value of `length` characters may show."""
    return min(4, length // 8)


def mask(value: str | None) -> str | None:
    if value is None:
        return None
    if value == "":
        return EMPTY
    length = len(value)
    shown = value[: revealed(length)]
    if length < _LENGTH_SHOWN_FROM:
        return shown + MASK
    return f"{shown}{'*' * 20} ({length} chars)"


def maybe_mask(value: str | None, unmask: bool) -> str | None:
    return value if unmask else mask(value)
