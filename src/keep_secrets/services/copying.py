"""Copying secrets between (vault, stage) locations, and the bulk-write engine that `copy`
and `import` share.

Both commands work in two steps: *plan* (read everything once, decide per key what would
happen, write nothing) and *apply* (write only the keys whose value actually changes). That
split is what gives the guarantees of SPEC §5/§12:

* equal values are never written, so re-running a copy or import makes 0 write calls;
* an existing destination value that differs is never replaced without `--overwrite`: such
  a conflict stops the whole operation before the first write;
* `--dry-run` is the plan alone;
* a failure part-way is reported per key (what was and was not written) and the caller
  exits 1 rather than pretending all went well;
* every planned write is conditional (:meth:`Vault.set_if`): a create only if the key is
  still absent, an update only if it is still at the revision the plan read. A key that
  changed between plan and write is reported as a conflict (exit 5) and never overwritten;
  a key created meanwhile with exactly the planned value is reported unchanged.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..concurrency import on_ctrl_c
from ..model import AccessDenied, Conflict, Expect, KeepError, NotFound, PreconditionFailed, UsageError
from ..names import Patterns, validate_key
from .fetch import fetch_cells

if TYPE_CHECKING:
    from ..project import Project
    from ..vaults.base import Vault

# planned actions
CREATE = "create"
UPDATE = "update"
UNCHANGED = "unchanged"
SKIP = "skip"
CONFLICT = "conflict"
INVALID = "invalid"

# outcomes after apply (past tense, as shown in the per-key report)
CREATED = "created"
UPDATED = "updated"
SKIPPED = "skipped"
FAILED = "failed"
NOT_ATTEMPTED = "not attempted"
WOULD_CREATE = "would create"
WOULD_UPDATE = "would update"
CONFLICTED = "conflict"

_WRITES = (CREATE, UPDATE)

# Seconds between two write calls per driver. AWS APIs throttle bursts (SSM PutParameter in
# particular); botocore's adaptive retries absorb the rest. The local vault needs no pacing.


@dataclass(frozen=True)
class Location:
    """One `vault:stage` cell."""

    vault: str
    stage: str

    @property
    def label(self) -> str:
        return f"{self.vault}:{self.stage}"


def parse_location(project: Project, text: str, default_vault: str | None, option: str = "--from") -> Location:
    """Parse `[vault:]stage`; both parts must be configured (UsageError, exit 2)."""
    raw = (text or "").strip()
    vault_part, sep, stage_part = raw.partition(":")
    if not sep:
        vault_part, stage_part = "", raw
    if not stage_part:
        raise UsageError(f"{option} needs a stage: use [vault:]stage, e.g. {option}=staging or {option}=ssm:staging")
    if not vault_part:
        if not default_vault:
            raise UsageError(f"{option}={raw}: no vault given and no default vault configured; use vault:stage")
        vault_part = default_vault
    project.check_vault(vault_part)
    project.check_stage(stage_part)
    return Location(vault_part, stage_part)


@dataclass
class Item:
    """One key of a bulk write: what is planned, then what happened."""

    key: str
    value: str | None
    action: str
    secure: bool = True
    reason: str = ""
    outcome: str = ""
    revision: str | None = None
    #: the destination's revision when the plan read it (None: absent)
    base_revision: str | None = None

    @property
    def writes(self) -> bool:
        return self.action in _WRITES

    @property
    def expect(self) -> Expect:
        """The precondition of this item's write."""
        return Expect(None if self.action == CREATE else self.base_revision)


@dataclass
class Plan:
    """Everything `apply` needs: the destination and one item per key, in report order."""

    target: Location
    items: list[Item] = field(default_factory=list)
    source: Location | None = None

    def count(self, action: str) -> int:
        return sum(1 for item in self.items if item.action == action)

    @property
    def conflicts(self) -> list[Item]:
        return [item for item in self.items if item.action == CONFLICT]

    @property
    def writes(self) -> list[Item]:
        return [item for item in self.items if item.writes]


@dataclass
class Outcome:
    """Counts per outcome after apply; `ok` is False when any key failed or was not attempted."""

    counts: dict[str, int]
    first_error: KeepError | None = None
    interrupted: bool = False

    @property
    def failed(self) -> int:
        return sum(self.counts.get(name, 0) for name in (FAILED, NOT_ATTEMPTED, CONFLICTED))

    @property
    def only_conflicts(self) -> bool:
        """Something changed under keep's feet, and nothing else went wrong (exit 5)."""
        return bool(self.counts.get(CONFLICTED)) and not (self.counts.get(FAILED) or self.counts.get(NOT_ATTEMPTED))

    @property
    def written(self) -> int:
        return self.counts.get(CREATED, 0) + self.counts.get(UPDATED, 0)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.interrupted


def decide(
    key: str,
    value: str | None,
    existing: str | None,
    *,
    overwrite: bool,
    skip_existing: bool,
    revision: str | None = None,
) -> Item:
    """The action for one key given the destination's current value (None = absent) and
    its revision (the precondition of an update)."""
    item = _decide(key, value, existing, overwrite=overwrite, skip_existing=skip_existing)
    item.base_revision = revision if existing is not None else None
    return item


def _decide(key: str, value: str | None, existing: str | None, *, overwrite: bool, skip_existing: bool) -> Item:
    if value is None:
        return Item(key, value, SKIP, reason="no value")
    if existing is None:
        return Item(key, value, CREATE)
    if existing == value:
        return Item(key, value, UNCHANGED)
    if skip_existing:
        return Item(key, value, SKIP, reason="exists")
    if overwrite:
        return Item(key, value, UPDATE)
    return Item(key, value, CONFLICT, reason="exists with a different value")


def refuse_conflicts(plan: Plan, flags: str = "--overwrite") -> None:
    """Stop before any write when existing destination values would be replaced."""
    conflicts = plan.conflicts
    if not conflicts:
        return
    keys = ", ".join(item.key for item in conflicts[:20])
    if len(conflicts) > 20:
        keys += f", … ({len(conflicts) - 20} more)"
    noun = "secret already exists" if len(conflicts) == 1 else "secrets already exist"
    raise Conflict(
        f"{len(conflicts)} {noun} in {plan.target.label} with a different value: {keys}; nothing was written",
        hint=f"use {flags}",
    )


def write_interval(vault: Vault) -> float:
    raw = os.environ.get("KEEP_WRITE_INTERVAL")
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            pass
    return vault.declaration.write_interval


def apply(
    plan: Plan,
    vault: Vault,
    *,
    dry_run: bool = False,
    on_item: Callable[[Item], None] | None = None,
) -> Outcome:
    """Write the planned creates/updates (nothing else), reporting each item via `on_item`.

    Write errors are recorded per key and the rest continue, except access denied or missing
    credentials, which would fail every remaining key the same way: those stop the run and
    the remaining keys are reported as not attempted. Ctrl+C stops the same way.
    """
    writer = _Writer(vault, plan.target.stage, 0.0 if dry_run else write_interval(vault))
    counts: dict[str, int] = {}
    # a Ctrl+C is noted as well as raised: one whose KeyboardInterrupt Python dropped let the
    # run go on to the last key
    ctrl_c = threading.Event()
    with on_ctrl_c(ctrl_c.set):
        for item in plan.items:
            if ctrl_c.is_set() and not writer.stop:
                writer.stop = writer.interrupted = True  # its KeyboardInterrupt was lost
            _apply_item(item, writer, counts, dry_run, on_item)
    return Outcome(counts, writer.first_error, writer.interrupted)


def _apply_item(
    item: Item, writer: _Writer, counts: dict[str, int], dry_run: bool, on_item: Callable[[Item], None] | None
) -> None:
    if writer.stop:
        item.outcome = NOT_ATTEMPTED
    elif (planned := _outcome_without_write(item, dry_run)) is not None:
        item.outcome = planned
    else:
        writer.write(item)
    counts[item.outcome] = counts.get(item.outcome, 0) + 1
    if on_item is not None:
        try:
            on_item(item)
        except KeyboardInterrupt:
            # Ctrl+C while reporting: this item is done; the rest are not attempted
            writer.stop = writer.interrupted = True


# what an item that is not written ends as (a conflict reaches apply only in a dry run: a real
# run refuses conflicts before)
_WITHOUT_WRITE = {INVALID: FAILED, CONFLICT: CONFLICTED, UNCHANGED: UNCHANGED, SKIP: SKIPPED}


def _outcome_without_write(item: Item, dry_run: bool) -> str | None:
    if item.action in _WITHOUT_WRITE:
        return _WITHOUT_WRITE[item.action]
    if dry_run:
        return WOULD_CREATE if item.action == CREATE else WOULD_UPDATE
    return None


class _Writer:
    """The writes of one apply: paced `interval` seconds apart, conditional on what the plan
    saw, and stopping the run on access denied (every further key would fail alike) or Ctrl+C."""

    def __init__(self, vault: Vault, stage: str, interval: float) -> None:
        self.vault = vault
        self.stage = stage
        self.interval = interval
        # a plain (unencrypted) source value stays plain only where the destination takes the mark
        self.plain_ok = vault.capabilities.accepts_plain
        self.first_error: KeepError | None = None
        self.stop = False
        self.interrupted = False
        self._last_write = 0.0

    def write(self, item: Item) -> None:
        assert item.value is not None
        wait = self._last_write + self.interval - time.monotonic()
        try:
            if wait > 0:
                time.sleep(wait)
            self._last_write = time.monotonic()
            result = self.vault.set_if(
                self.stage, item.key, item.value, item.expect, secure=item.secure or not self.plain_ok
            )
        except PreconditionFailed as exc:
            if item.action == CREATE and _now_equal(self.vault, self.stage, item):
                item.outcome = UNCHANGED
                item.reason = "created meanwhile by someone else with the same value"
            else:
                item.outcome = CONFLICTED
                item.reason = exc.message
                self.first_error = self.first_error or exc
        except KeyboardInterrupt:
            item.outcome = NOT_ATTEMPTED
            item.reason = "interrupted"
            self.stop = self.interrupted = True
        except KeepError as exc:
            item.outcome = FAILED
            item.reason = exc.one_line()
            self.first_error = self.first_error or exc
            self.stop = isinstance(exc, AccessDenied)
        else:
            item.revision = result.revision
            item.outcome = CREATED if result.created else UPDATED


def _now_equal(vault: Vault, stage: str, item: Item) -> bool:
    """Whether a key created under keep's feet holds exactly the value keep meant to write."""
    try:
        return vault.get(stage, item.key).value == item.value
    except KeepError:
        return False


# -- copy ------------------------------------------------------------------------------------

def plan_copy(
    open_vault: Callable[[str], Vault],
    source: Location,
    target: Location,
    *,
    key: str | None = None,
    patterns: Patterns | None = None,
    overwrite: bool = False,
) -> Plan:
    """Read the source (one key, or the keys matching `patterns`) and the destination, and
    decide per key. Raises NotFound for a missing single key."""
    if source == target:
        raise UsageError(f"Source and destination are both {source.label}; nothing to copy")
    if key is not None and patterns is not None and patterns.active:
        raise UsageError("Give either a KEY or --only/--except patterns, not both")
    if key is None and (patterns is None or not patterns.active):
        raise UsageError("Give a KEY to copy, or --only/--except patterns (e.g. --only='*' for every secret)")
    plan = Plan(target=target, source=source)
    src_vault = open_vault(source.vault)
    dst_vault = open_vault(target.vault)
    if key is not None:
        validate_key(key)
        secret = src_vault.get(source.stage, key)
        try:
            found = dst_vault.get(target.stage, key)
        except NotFound:
            existing: str | None = None
            revision: str | None = None
        else:
            existing, revision = found.value, found.revision
        item = decide(key, secret.value, existing, overwrite=overwrite, skip_existing=False, revision=revision)
        item.secure = secret.secure
        plan.items.append(item)
        return plan
    assert patterns is not None
    cells = fetch_cells(open_vault, [(source.vault, source.stage), (target.vault, target.stage)])
    current = {s.key: s for s in cells[(target.vault, target.stage)]}
    for secret in patterns.filter(cells[(source.vault, source.stage)]):
        try:
            validate_key(secret.key)
        except UsageError as exc:
            # a key the store holds but keep would never write (e.g. SSM `a/b`): report it
            plan.items.append(Item(secret.key, secret.value, INVALID, secret.secure, reason=exc.message))
            continue
        there = current.get(secret.key)
        item = decide(
            secret.key,
            secret.value,
            there.value if there else None,
            overwrite=overwrite,
            skip_existing=False,
            revision=there.revision if there else None,
        )
        item.secure = secret.secure
        plan.items.append(item)
    return plan


def summarise(outcome: Outcome, order: Sequence[str]) -> str:
    """`2 created, 1 unchanged, 1 failed` in a fixed order, zero counts left out."""
    parts = [f"{outcome.counts[name]} {name}" for name in order if outcome.counts.get(name)]
    return ", ".join(parts) if parts else "nothing to do"


REPORT_ORDER = (
    CREATED,
    UPDATED,
    WOULD_CREATE,
    WOULD_UPDATE,
    UNCHANGED,
    SKIPPED,
    CONFLICTED,
    FAILED,
    NOT_ATTEMPTED,
)
