"""`diff`: the key x (vault, stage) matrix.

Every cell is listed once, all cells concurrently (SPEC §12: a diff over V vaults x S stages
costs about one stage's wall time). Unlike Keep, a cell that cannot be read is an error, not
an empty column that would make every key look "incomplete".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..formats.mask import maybe_mask
from ..model import NoVaultConfigured, UsageError
from ..names import Patterns, split_list
from .copying import Location
from .fetch import fetch_cells

if TYPE_CHECKING:
    from ..project import Project
    from ..vaults.base import Vault

IDENTICAL = "identical"
DIFFERENT = "different"
INCOMPLETE = "incomplete"

#: `diff --fail-on` choices and the statuses each one fails on (`different` counts incomplete rows
#: too: a key missing somewhere is not the same everywhere either)
FAIL_ON: dict[str, frozenset[str]] = {
    INCOMPLETE: frozenset({INCOMPLETE}),
    DIFFERENT: frozenset({DIFFERENT, INCOMPLETE}),
}


@dataclass(frozen=True)
class Row:
    key: str
    status: str
    values: tuple[str | None, ...]


@dataclass(frozen=True)
class Matrix:
    columns: tuple[Location, ...]
    rows: tuple[Row, ...]

    def counts(self) -> dict[str, int]:
        out = {IDENTICAL: 0, DIFFERENT: 0, INCOMPLETE: 0}
        for row in self.rows:
            out[row.status] += 1
        return out

    def failing(self, fail_on: str) -> list[Row]:
        """The rows that make `diff --fail-on=fail_on` exit 1."""
        statuses = FAIL_ON.get(fail_on)
        if statuses is None:
            raise UsageError(f"Unknown --fail-on '{fail_on}' (use {', '.join(FAIL_ON)})")
        return [row for row in self.rows if row.status in statuses]

    def to_dict(self, unmask: bool = False) -> dict[str, object]:
        """The documented JSON shape (SPEC §5)."""
        labels = [c.label for c in self.columns]
        return {
            "columns": labels,
            "rows": [
                {
                    "key": row.key,
                    "status": row.status,
                    "values": {
                        label: maybe_mask(value, unmask) for label, value in zip(labels, row.values, strict=True)
                    },
                }
                for row in self.rows
            ],
        }


def _pick(requested: Sequence[str], configured: Sequence[str], check: Callable[[str], object]) -> list[str]:
    if not requested:
        return list(configured)
    chosen: list[str] = []
    for name in requested:
        check(name)
        if name not in chosen:
            chosen.append(name)
    return chosen


def select_cells(
    project: Project, stages: Sequence[str] | str | None, vaults: Sequence[str] | str | None
) -> list[Location]:
    """Columns, vault-major. Names given explicitly must be configured (exit 2); the defaults
    are the stages and vaults of the personal workspace."""

    def as_list(value: Sequence[str] | str | None) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            return split_list(value)
        out: list[str] = []
        for part in value:
            out.extend(split_list(part))
        return out

    vault_names = _pick(as_list(vaults), project.visible_vaults(), project.check_vault)
    stage_names = _pick(as_list(stages), project.visible_stages(), project.check_stage)
    if not vault_names:
        raise NoVaultConfigured()
    return [Location(v, s) for v in vault_names for s in stage_names]


def compare(values: Sequence[str | None]) -> str:
    if any(v is None for v in values):
        return INCOMPLETE
    return IDENTICAL if len(set(values)) <= 1 else DIFFERENT


def build_matrix(
    open_vault: Callable[[str], Vault], columns: Sequence[Location], patterns: Patterns | None = None
) -> Matrix:
    cells = fetch_cells(open_vault, [(c.vault, c.stage) for c in columns])
    per_column: list[dict[str, str]] = []
    keys: set[str] = set()
    for column in columns:
        secrets = cells[(column.vault, column.stage)]
        values = {s.key: s.value for s in secrets if patterns is None or patterns.matches(s.key)}
        per_column.append(values)
        keys.update(values)
    rows = []
    for key in sorted(keys):
        row_values = tuple(column.get(key) for column in per_column)
        rows.append(Row(key, compare(row_values), row_values))
    return Matrix(tuple(columns), tuple(rows))
