"""`keep cache status` and `keep cache clear [--vault SLUG]` (SPEC §13)."""

from __future__ import annotations

import json

import click

from ..services import caching as svc
from ..vaults.cache import human_age
from .context import Ctx, keep_command


def _namespace(ctx: Ctx) -> str | None:
    from ..project import find_root

    return ctx.project.namespace if find_root() is not None else None


@click.group(name="cache", context_settings={"help_option_names": ["-h", "--help"]})
def cache_cmd() -> None:
    """The encrypted read cache of AWS vaults (turned on per vault with `vault:edit SLUG --cache on`).

    Inside a project only its namespace's vaults are shown and cleared.
    """


@keep_command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def status_cmd(ctx: Ctx, fmt: str) -> int:
    """Per vault and stage: cached entries, age of the last refresh, bytes."""
    rows = svc.status(_namespace(ctx))
    if fmt == "json":
        ctx.out(json.dumps({"directory": svc.location(), "stages": [r.to_dict() for r in rows]}, indent=2))
        return 0
    if not rows:
        ctx.msg(f"Nothing cached ({svc.location()})")
        return 0
    table = [("VAULT", "STAGE", "ENTRIES", "AGE", "BYTES")]
    for row in rows:
        age = "-" if row.age_seconds is None else human_age(row.age_seconds)
        table.append((row.vault, row.stage, str(row.entries), age, str(row.bytes)))
    widths = [max(len(line[i]) for line in table) for i in range(5)]
    for line in table:
        ctx.out("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
    return 0


@keep_command("clear")
def clear_cmd(ctx: Ctx) -> int:
    """Delete the cache (of one vault with --vault SLUG)."""
    slug = ctx.vault_option
    removed = svc.clear(slug, _namespace(ctx) if slug else None)
    what = f"vault '{slug}'" if slug else "every vault"
    ctx.success(f"Cleared the cache of {what} ({removed} file{'s' if removed != 1 else ''})")
    return 0


cache_cmd.add_command(status_cmd)
cache_cmd.add_command(clear_cmd)
