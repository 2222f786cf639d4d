"""The permission probe behind `keep verify` and `vault:add` (SPEC §5).

For one vault and stage it tries, in order: list the stage, write a temporary key
`keep-verify-<hex>`, read it back (or, when writing is denied, the first listed key), read its
history, and delete it again with `purge=True` (Secrets Manager removes it at once instead of
scheduling the deletion, so no `keep-verify-*` secret lingers for a recovery window).

The temporary key is removed whatever happens after it was written (an error, a denial,
Ctrl-C); only a denied or failing delete can leave it behind, and the result says so.
"""

from __future__ import annotations

import re
import secrets as _random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..concurrency import concurrent_map
from ..formats.table import render_table
from ..model import AccessDenied, KeepError, NoVaultConfigured, ProbeResult, Secret, Unreachable
from ..vaults import registry

if TYPE_CHECKING:
    from ..project import Project
    from ..vaults.base import Vault

STEPS = ("list", "write", "read", "history", "delete")
TEST_KEY_PREFIX = "keep-verify-"

_AWS_DENIAL = re.compile(r"perform:\s*(?P<action>[\w-]+:[\w*-]+)(?:\s+on resource:\s*(?P<resource>\S+))?")


def temporary_key() -> str:
    return f"{TEST_KEY_PREFIX}{_random.token_hex(4)}"


class _Probe:
    def __init__(self, vault: Vault, stage: str, write: bool) -> None:
        self.vault = vault
        self.stage = stage
        self.write = write
        self.result = ProbeResult(vault=vault.slug, stage=stage)

    def attempt(self, step: str, action: Callable[[], object]) -> object | None:
        """Run one step; any error marks it failed, with its message."""
        try:
            value = action()
        except KeepError as exc:
            self.result.results[step] = False
            self.result.errors[step] = explain(self.vault.driver, step, exc)
            if isinstance(exc, Unreachable):
                self.result.unreachable = True
            return None
        except Exception as exc:  # one broken cell must not hide the rest of the matrix
            self.result.results[step] = False
            self.result.errors[step] = f"unexpected error: {type(exc).__name__}: {exc}"
            return None
        self.result.results[step] = True
        return value

    def run(self) -> ProbeResult:
        listed = self.attempt("list", lambda: self.vault.list(self.stage))
        key = temporary_key()
        value = f"verify-{_random.token_hex(8)}"
        written = False
        try:
            if self.write:
                written = self.attempt("write", lambda: self.vault.set(self.stage, key, value, secure=True)) is not None
            else:
                self.result.results["write"] = None
            target = key if written else _first_key(listed)
            if target is None:
                self.result.results.setdefault("read", None)
                self.result.results.setdefault("history", None)
            else:
                secret = self.attempt("read", lambda: self.vault.get(self.stage, target))
                if written and isinstance(secret, Secret) and secret.value != value:
                    self.result.results["read"] = False
                    self.result.errors["read"] = "the value read back differs from the value written"
                self.attempt("history", lambda: self.vault.history(self.stage, target, 10))
        finally:
            if written:
                self.attempt("delete", lambda: self.vault.delete(self.stage, key, purge=True))
                self.result.cleaned_up = bool(self.result.results.get("delete"))
                if not self.result.cleaned_up:
                    self.result.errors["delete"] = (
                        self.result.errors.get("delete", "delete failed")
                        + f"; the test key {key} was left behind, delete it by hand"
                    )
            else:
                self.result.results["delete"] = None
        return self.result


def _first_key(listed: object) -> str | None:
    if isinstance(listed, list) and listed and isinstance(listed[0], Secret):
        return listed[0].key
    return None


def explain(driver: str, step: str, exc: KeepError) -> str:
    """One line: what failed and, for an AWS denial, the action, resource and the statement of
    `keep iam`'s policy that grants it."""
    text = exc.one_line()
    if not isinstance(exc, AccessDenied):
        return text
    match = _AWS_DENIAL.search(text)
    parts = ["access denied"]
    if match:
        parts.append(f"action {match.group('action')}")
        if match.group("resource"):
            parts.append(f"resource {match.group('resource').rstrip('.,;')}")
    detail = ", ".join(parts)
    hint = registry.get(driver).probe_hints.get(step)
    explained = f"{detail}: {text}"
    if hint:
        # the statement names are those of keep's generated policy; the front end says how to get it
        explained += f" (missing: {hint})"
    return explained


def probe(vault: Vault, stage: str, *, write: bool = True) -> ProbeResult:
    """Probe list/write/read/history/delete on one vault and stage (see the module docstring).
    With `write=False` nothing is written: list, then read and history of the first listed key
    (what a read-only deployment role needs)."""
    return _Probe(vault, stage, write).run()


def targets(
    project: Project, slugs: Sequence[str] | None, stages: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    """The vaults and stages to probe: the given ones (validated), else the workspace's."""
    chosen = list(dict.fromkeys(slugs or [])) or project.visible_vaults()
    for slug in chosen:
        project.check_vault(slug)
    if not chosen:
        raise NoVaultConfigured()
    steps = list(dict.fromkeys(stages or [])) or project.visible_stages()
    for stage in steps:
        project.check_stage(stage)
    return chosen, steps


def probe_matrix(
    open_vault: Callable[[str], Vault], slugs: Sequence[str], stages: Sequence[str], *, write: bool = True
) -> list[ProbeResult]:
    """Probe every vault x stage concurrently; the results in vault-then-stage order. A vault
    that cannot even open is one failed row per stage (the others are still probed)."""
    results: dict[tuple[str, str], ProbeResult] = {}
    vaults: dict[str, Vault] = {}
    for slug in slugs:
        try:
            vaults[slug] = open_vault(slug)
        except KeepError as exc:
            for stage in stages:
                results[(slug, stage)] = ProbeResult(
                    slug,
                    stage,
                    results={"list": False, "write": False, "read": None, "history": None, "delete": None},
                    errors={"list": f"cannot open the vault: {exc.one_line()}"},
                )
    cells = [(slug, stage) for slug in slugs if slug in vaults for stage in stages]
    probed = concurrent_map(lambda cell: probe(vaults[cell[0]], cell[1], write=write), cells)
    results.update(zip(cells, probed, strict=True))
    return [results[(slug, stage)] for slug in slugs for stage in stages]


def failed(result: ProbeResult) -> bool:
    return any(ok is False for ok in result.results.values())


def _cell(result: ProbeResult, step: str) -> str:
    ok = result.results.get(step)
    if step == "delete" and ok is False:
        return "⚠ left"
    if ok is None:
        return "-"
    return "✓" if ok else "✗"


def render_matrix(results: Sequence[ProbeResult]) -> str:
    """The verify table: one row per vault x stage, one column per step.

    ✓ allowed, ✗ denied or failed, - not tried (nothing to read, or nothing written to delete),
    `⚠ left` the test key could not be removed."""
    headers = ["Vault", "Stage", "List", "Write", "Read", "History", "Delete"]
    rows = [[r.vault, r.stage, *(_cell(r, step) for step in STEPS)] for r in results]
    return render_table(headers, rows)


def to_json(result: ProbeResult) -> dict[str, object]:
    return {
        "vault": result.vault,
        "stage": result.stage,
        **{step: result.results.get(step) for step in STEPS},
        "cleaned_up": result.cleaned_up,
        "unreachable": result.unreachable,
        "errors": dict(result.errors),
    }
