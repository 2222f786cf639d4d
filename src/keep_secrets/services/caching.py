"""`keep cache status|clear`: what the encrypted read cache (vaults/cache.py) holds, and
removing it. Names, counts and sizes only: no value is ever decrypted here."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..vaults import cache


@dataclass(frozen=True)
class Row:
    vault: str
    namespace: str
    driver: str
    stage: str
    entries: int
    age_seconds: float | None
    bytes: int
    file: str

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def status(namespace: str | None = None) -> list[Row]:
    """Per cached vault and stage (of `namespace` when given): entries, age of the last
    refresh, and bytes of sealed data."""
    now = time.time()
    return [
        Row(s.slug, s.namespace, s.driver, s.stage, s.entries,
            None if s.refreshed is None else max(0.0, now - s.refreshed), s.bytes, s.file)
        for s in cache.status()
        if namespace is None or s.namespace == namespace
    ]


def clear(slug: str | None = None, namespace: str | None = None) -> int:
    """Delete the cache files (all, or vault `slug` of `namespace`); the number removed."""
    return cache.clear(slug, namespace)


def location() -> str:
    return str(cache.cache_dir())
