"""`keep replicate`: make existing Secrets Manager secrets match the vault's replica_regions."""

from __future__ import annotations

import json

import click

from ..model import UsageError
from ..services import replication as svc
from .context import Ctx, keep_command


def _split(option: str | None) -> list[str]:
    if not option:
        return []
    return list(dict.fromkeys(part.strip() for part in option.split(",") if part.strip()))


@keep_command("replicate")
@click.option("--dry-run", is_flag=True, default=False, help="Only show what would change.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Output format of the report.")
def replicate_cmd(ctx: Ctx, dry_run: bool, fmt: str) -> int:
    """Add missing replica regions to (and remove unwanted ones from) existing secrets.

    --vault and --stage take one name or a comma-separated list; the default is every Secrets
    Manager vault and every stage. Exits 1 when any secret could not be changed.
    """
    project = ctx.project
    slugs = _split(ctx.vault_option)
    for slug in slugs:
        project.check_vault(slug)
    if not slugs:
        slugs = svc.replicating_vaults(project)
        if not slugs:
            raise UsageError("No vault that replicates (Secrets Manager) is configured",
                             hint="add one with `keep vault:add`")
    stages = _split(ctx.stage_option)
    for stage in stages:
        project.check_stage(stage)
    stages = stages or list(project.stages)

    reports = svc.replicate(ctx.vault, slugs, stages, dry_run=dry_run)

    if fmt == "json":
        ctx.out(json.dumps(svc.to_json(reports, dry_run), indent=2, ensure_ascii=False))
    else:
        verb = "would" if dry_run else ""
        for report in reports:
            for change in report.changes:
                where = f"{report.vault}:{report.stage} {change.key}"
                if change.error:
                    ctx.warn(f"{where}: {change.error}")
                    continue
                parts = []
                if change.add:
                    parts.append(f"{verb} add {', '.join(change.add)}".strip())
                if change.remove:
                    parts.append(f"{verb} remove {', '.join(change.remove)}".strip())
                if parts:
                    ctx.out(f"{where}: {'; '.join(parts)}")
    failed = sum(len(r.failed) for r in reports)
    changed = sum(len(r.changed) for r in reports)
    total = sum(len(r.changes) for r in reports)
    if failed:
        ctx.msg(f"{failed} of {total} secret(s) could not be changed.", fg="red")
        return 1
    if dry_run:
        ctx.msg(f"{changed} of {total} secret(s) would change (dry run, nothing written).")
    elif changed:
        ctx.success(f"Replicas updated for {changed} of {total} secret(s).")
    else:
        ctx.success(f"All {total} secret(s) already match their vault's replica_regions.")
    return 0

