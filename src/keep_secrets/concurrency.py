"""Bounded thread pools, shared by the services (cells of a diff, vaults of a template) and the
AWS drivers (batch pages, version values). A leaf module: anyone may import it.

`KEEP_MAX_CONCURRENCY` (default 8, 1-64) bounds every pool so real accounts are not throttled.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_CONCURRENCY = 8


def max_concurrency() -> int:
    raw = os.environ.get("KEEP_MAX_CONCURRENCY", "")
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_CONCURRENCY
    return max(1, min(value, 64))


def concurrent_map(
    func: Callable[[T], R], items: Sequence[T], limit: int | None = None, name: str = "keep"
) -> list[R]:
    """`[func(x) for x in items]` in parallel (bounded), results in input order. The first
    exception is re-raised after the calls already started finish."""
    if len(items) <= 1:
        return [func(item) for item in items]
    workers = min(limit or max_concurrency(), len(items))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        return list(pool.map(func, items))
