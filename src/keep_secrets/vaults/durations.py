"""Durations of the cache options (`cache_max_stale`: 90m, 24h, 7d), apart from vaults/cache.py:
a driver's declaration validates them whenever its vault's settings are read, and that must not
load the cache itself (SPEC §12: `keep get` start-up in a workspace that also has an AWS vault)."""

from __future__ import annotations

import re

__all__ = ["DEFAULT_MAX_STALE", "check_duration", "parse_duration"]

DEFAULT_MAX_STALE = "24h"
_DURATION = re.compile(r"\s*(\d+)\s*([smhdw])\s*", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int:
    """`90m`, `24h`, `7d`, `2w`, `30s` (or several: `1d12h`) -> seconds. ValueError otherwise."""
    value = str(text).strip()
    total, pos = 0, 0
    for match in _DURATION.finditer(value):
        if match.start() != pos:
            break
        total += int(match.group(1)) * _UNITS[match.group(2).lower()]
        pos = match.end()
    if not value or pos != len(value) or total <= 0:
        raise ValueError("use a duration such as 90m, 24h or 7d")
    return total


def check_duration(text: str) -> str:
    parse_duration(text)
    return str(text).strip().lower()
