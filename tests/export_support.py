"""Helpers for the export/template tests: seed a project's vaults in-process (fast, same
HOME/XDG as the `keep` CLI calls so the local vault's key file is shared)."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path

from . import moving_support
from .conftest import KeepRunner
from .moving_support import subprocess_env


def runner_env(runner: KeepRunner) -> AbstractContextManager[None]:
    """This process's environment set like the runner's while seeding, then restored."""
    return subprocess_env(runner.env)


def seed(runner: KeepRunner, stage: str, values: Mapping[str, str], vault: str = "local") -> None:
    moving_support.seed(runner.cwd, runner.env, stage, values, vault)


def add_local_vault(runner: KeepRunner, slug: str) -> None:
    runner.ok("vault:add", "--driver", "local", "--slug", slug, "--name", slug.title(), "--no-verify", "-n")


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())
