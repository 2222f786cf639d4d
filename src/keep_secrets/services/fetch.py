"""Bounded-concurrency reads of many (vault, stage) cells at once.

Independent reads (different vaults, different stages) run in parallel so `diff` over V x S
cells and a template over several vaults cost about one read's wall time, while the thread
count stays bounded (`KEEP_MAX_CONCURRENCY`, default 8) so real accounts are not throttled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..concurrency import concurrent_map

if TYPE_CHECKING:
    from ..model import Secret
    from ..vaults.base import Vault



def fetch_cells(
    open_vault: Callable[[str], Vault], cells: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[Secret]]:
    """List every (vault slug, stage) cell concurrently: {(slug, stage): secrets}."""
    wanted = list(dict.fromkeys(cells))
    # open vaults up front, in this thread: opening may prompt or fail fast on bad config
    vaults = {slug: open_vault(slug) for slug, _ in wanted}
    results = concurrent_map(lambda cell: vaults[cell[0]].list(cell[1]), wanted, name="keep-fetch")
    return dict(zip(wanted, results, strict=True))


#: keys named in one overlap summary line
OVERLAP_SHOWN = 5


def overlap_warnings(overlaps: Iterable[tuple[str, str, str]]) -> list[str]:
    """One line per pair of vaults that share keys (not one per key: 2,000 shared keys are one
    line with a count and the first few): `overlaps` is (key, overridden vault, winning vault)."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for key, previous, winner in overlaps:
        grouped.setdefault((previous, winner), []).append(key)
    lines = []
    for (previous, winner), keys in grouped.items():
        if len(keys) == 1:
            lines.append(f"{keys[0]} is in both {previous} and {winner}; using {winner}")
            continue
        shown = ", ".join(sorted(keys)[:OVERLAP_SHOWN])
        more = f", … ({len(keys) - OVERLAP_SHOWN} more)" if len(keys) > OVERLAP_SHOWN else ""
        lines.append(f"{len(keys)} keys are in both {previous} and {winner}; using {winner}: {shown}{more}")
    return lines
