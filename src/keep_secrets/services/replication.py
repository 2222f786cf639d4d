"""`keep replicate`: bring the replicas of existing Secrets Manager secrets in line with each
vault's `replica_regions` (new secrets already get them on create).

The work per secret lives in the driver (`replication_plan` / `replicate`); this module picks
the vaults and stages and runs the cells concurrently, as every bulk read does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..concurrency import concurrent_map
from ..model import UsageError
from ..vaults import registry

if TYPE_CHECKING:
    from ..project import Project
    from ..vaults.base import ReplicaChange, Replicating, Vault


@dataclass
class CellReport:
    vault: str
    stage: str
    changes: list[ReplicaChange]

    @property
    def failed(self) -> list[ReplicaChange]:
        return [c for c in self.changes if c.error]

    @property
    def changed(self) -> list[ReplicaChange]:
        return [c for c in self.changes if c.changed and not c.error]


def replicating_vaults(project: Project) -> list[str]:
    """The configured vaults whose driver replicates (the default set of `replicate`)."""
    return sorted(
        slug for slug, config in project.vaults.items() if registry.get(config.driver).capabilities.replication
    )


def replicator(vault: Vault) -> Replicating:
    found = vault.replication()
    if found is None:
        raise UsageError(
            f"Vault '{vault.slug}' uses the {vault.driver} driver, which does not replicate secrets",
        )
    return found


def replicate(
    open_vault: Callable[[str], Vault], slugs: Sequence[str], stages: Sequence[str], dry_run: bool = False
) -> list[CellReport]:
    """Plan (dry run) or apply replica changes for every vault x stage, concurrently."""
    vaults = {slug: replicator(open_vault(slug)) for slug in slugs}
    cells = [(slug, stage) for slug in slugs for stage in stages]

    def run(cell: tuple[str, str]) -> CellReport:
        return CellReport(cell[0], cell[1], vaults[cell[0]].replicate(cell[1], dry_run=dry_run))

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
