"""`keep replicate`: bring the replicas of existing Secrets Manager secrets in line with each
vault's `replica_regions` (new secrets already get them on create).

The work per secret lives in the driver (`replication_plan` / `replicate`); this module picks
the vaults and stages and runs the cells concurrently, as every bulk read does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..concurrency import concurrent_map
from ..model import UsageError

if TYPE_CHECKING:
    from ..vaults.base import Vault


class _Change(Protocol):
    key: str
    name: str
    add: list[str]
    remove: list[str]
    error: str | None

    @property
    def changed(self) -> bool: ...


@dataclass
class CellReport:
    vault: str
    stage: str
    changes: list[_Change]

    @property
    def failed(self) -> list[_Change]:
        return [c for c in self.changes if c.error]

    @property
    def changed(self) -> list[_Change]:
        return [c for c in self.changes if c.changed and not c.error]


def replicable(vault: Vault) -> bool:
    return hasattr(vault, "replicate") and hasattr(vault, "replication_plan")


def check_replicable(vault: Vault) -> None:
    if not replicable(vault):
        raise UsageError(
            f"Vault '{vault.slug}' uses the {vault.driver} driver; only Secrets Manager vaults replicate",
        )


def replicate(
    open_vault: Callable[[str], Vault], slugs: Sequence[str], stages: Sequence[str], dry_run: bool = False
) -> list[CellReport]:
    """Plan (dry run) or apply replica changes for every vault x stage, concurrently."""
    vaults = {slug: open_vault(slug) for slug in slugs}
    for vault in vaults.values():
        check_replicable(vault)
    cells = [(slug, stage) for slug in slugs for stage in stages]

    def run(cell: tuple[str, str]) -> CellReport:
        vault = vaults[cell[0]]
        changes: list[_Change] = vault.replicate(cell[1], dry_run=dry_run)  # type: ignore[attr-defined]
        return CellReport(cell[0], cell[1], changes)

    return concurrent_map(run, cells)


def to_json(reports: Sequence[CellReport], dry_run: bool) -> list[dict[str, object]]:
    return [
        {
            "vault": report.vault,
            "stage": report.stage,
            "key": change.key,
            "name": change.name,
            "add": list(change.add),
            "remove": list(change.remove),
            "status": "error" if change.error else ("planned" if dry_run else "done") if change.changed else "in-sync",
            "error": change.error,
        }
        for report in reports
        for change in report.changes
    ]
