"""Helpers for the copy/diff/import/run tests: seed secrets through the Python API (many keys
without one CLI call each) and count the local vault's write calls."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from keep_secrets.project import Project
from keep_secrets.vaults.base import open_vault


@contextmanager
def subprocess_env(env: Mapping[str, str]) -> Iterator[None]:
    """This process's environment set exactly as the `keep` subprocesses see it (same key file,
    same AWS endpoint), then restored."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def seed(root: Path, env: Mapping[str, str], stage: str, values: Mapping[str, str], vault: str = "local") -> None:
    with subprocess_env(env):
        project = Project.load_at(root)
        store = open_vault(project, vault)
        try:
            for key, value in values.items():
                store.set(stage, key, value)
        finally:
            store.close()


def read_all(root: Path, env: Mapping[str, str], stage: str, vault: str = "local") -> dict[str, str]:
    with subprocess_env(env):
        project = Project.load_at(root)
        store = open_vault(project, vault)
        try:
            return {s.key: s.value for s in store.list(stage)}
        finally:
            store.close()


def local_writes(root: Path, vault: str = "local") -> int:
    """Rows in the local vault's `versions` table: one per write call that stored a value."""
    path = root / ".keep" / "local" / f"{vault}.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM versions").fetchone()[0])


def report(stderr: str) -> dict[str, str]:
    """The per-key report lines (`  <outcome padded to 13> KEY ...`) as {KEY: outcome}."""
    out: dict[str, str] = {}
    for line in stderr.splitlines():
        if line.startswith("  ") and len(line) > 16 and line[15] == " ":
            out[line[16:].split()[0]] = line[2:15].strip()
    return out
