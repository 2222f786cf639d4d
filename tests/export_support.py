"""Helpers for the export/template tests: seed a project's vaults in-process (fast, same
HOME/XDG as the `keep` subprocesses so the local vault's key file is shared)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from keep_secrets.project import Project
from keep_secrets.vaults.base import open_vault

from .conftest import KeepRunner


@contextmanager
def runner_env(runner: KeepRunner) -> Iterator[None]:
    """This process's environment set like the runner's while seeding, then restored."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(runner.env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def seed(runner: KeepRunner, stage: str, values: Mapping[str, str], vault: str = "local") -> None:
    with runner_env(runner):
        project = Project.load_at(runner.cwd)
        store = open_vault(project, vault)
        try:
            for key, value in values.items():
                store.set(stage, key, value)
        finally:
            store.close()


def add_local_vault(runner: KeepRunner, slug: str) -> None:
    runner.ok("vault:add", "--driver", "local", "--slug", slug, "--name", slug.title(), "--no-verify", "-n")


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())
