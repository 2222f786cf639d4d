"""The one masking rule (SPEC §6): never reveal more than this anywhere."""

from __future__ import annotations

MASK = "********"


def mask(value: str | None) -> str | None:
    """Values under 12 characters become `********`; longer ones show their first 4
    characters then `*` (at most 20), plus ` (N chars)` when longer than 24."""
    if value is None:
        return None
    if len(value) < 12:
        return MASK
    stars = "*" * min(len(value) - 4, 20)
    shown = value[:4] + stars
    if len(value) > 24:
        shown += f" ({len(value)} chars)"
    return shown


def maybe_mask(value: str | None, unmask: bool) -> str | None:
    return value if unmask else mask(value)
