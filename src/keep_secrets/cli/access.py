"""`keep verify` (probe what the current credentials may do) and `keep iam` (print the
least-privilege policy that makes every keep command work)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from ..model import NoVaultConfigured, UsageError
from ..services import iam as iam_svc
from ..services import verify as verify_svc
from ..vaults import registry
from .context import Ctx, keep_command

if TYPE_CHECKING:
    from ..project import VaultConfig


def _split(option: str | None) -> list[str]:
    if not option:
        return []
    return list(dict.fromkeys(part.strip() for part in option.split(",") if part.strip()))


def _chosen_stages(ctx: Ctx, default: list[str]) -> list[str]:
    stages = _split(ctx.stage_option)
    for stage in stages:
        ctx.project.check_stage(stage)
    return stages or default


def _chosen_vaults(ctx: Ctx, default: list[str]) -> list[str]:
    slugs = _split(ctx.vault_option)
    for slug in slugs:
        ctx.project.check_vault(slug)
    return slugs or default


# -- verify -----------------------------------------------------------------------------------

@keep_command("verify")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Output format of the matrix.")
@click.option("--read-only", is_flag=True, default=False,
              help="Write nothing: probe list, read and history only (for read-only roles).")
def verify_cmd(ctx: Ctx, fmt: str, read_only: bool) -> int:
    """Probe list, write, read, history and delete on each vault x stage.

    A temporary key `keep-verify-<hex>` is written and always removed again (purged at once).
    --vault and --stage take one name or a comma-separated list; the default is every vault
    and stage of your workspace. Exits 1 when any step is denied or fails.
    """
    slugs, stages = verify_svc.targets(ctx.project, _split(ctx.vault_option), _split(ctx.stage_option))
    how = "read-only" if read_only else "with a temporary key"
    ctx.msg(f"Probing {len(slugs) * len(stages)} vault/stage combination(s) {how}...")
    ordered = verify_svc.probe_matrix(ctx.vault, slugs, stages, write=not read_only)

    if fmt == "json":
        ctx.out(json.dumps([verify_svc.to_json(r) for r in ordered], indent=2, ensure_ascii=False))
    else:
        ctx.out(verify_svc.render_matrix(ordered))

    failures = [r for r in ordered if verify_svc.failed(r)]
    for result in failures:
        for step in verify_svc.STEPS:
            if step in result.errors:
                ctx.warn(f"{result.vault}:{result.stage} {step}: {result.errors[step]}")
    left = [r for r in ordered if r.cleaned_up is False]
    if left:
        ctx.warn(f"{len(left)} test key(s) starting with '{verify_svc.TEST_KEY_PREFIX}' could not be removed")
    if failures:
        unreachable = [r for r in failures if r.unreachable]
        if unreachable:
            # no policy is in question: suggesting one would send the user the wrong way
            ctx.msg(
                f"{len(unreachable)} of {len(ordered)} vault/stage combination(s) could not be checked: "
                "the store cannot be reached (check the network, the region and the vault's endpoint, "
                "then run `keep verify` again).",
                fg="red",
            )
        denied = len(failures) - len(unreachable)
        if denied:
            ctx.msg(
                f"{denied} of {len(ordered)} vault/stage combination(s) lack a permission "
                "(`keep iam` prints a policy with the statements named above).",
                fg="red",
            )
        return 1
    steps = "list, read and history" if read_only else "list, write, read, history and delete"
    ctx.success(f"All {len(ordered)} vault/stage combination(s) allow {steps}.")
    untested = [r for r in ordered if r.results.get("read") is None]
    if untested:
        ctx.msg(f"Read and history were not tried on {len(untested)} empty stage(s): nothing to read.")
    return 0


# -- iam --------------------------------------------------------------------------------------

@keep_command("iam")
@click.option("--read-only", is_flag=True, default=False,
              help="Only read actions (and kms:Decrypt): for deployments that never write.")
@click.option("--all", "all_vaults", is_flag=True, default=False,
              help="Every configured vault, not only those of your workspace.")
def iam_cmd(ctx: Ctx, read_only: bool, all_vaults: bool) -> None:
    """Print a least-privilege IAM policy (JSON, on stdout) for this project's AWS vaults.

    --stage takes one stage or a comma-separated list and limits the policy to those stages;
    the default is every configured stage. --vault limits it to one vault (or a list).
    """
    project = ctx.project
    if ctx.vault_option:
        slugs = _chosen_vaults(ctx, [])
    else:
        slugs = sorted(project.vaults) if all_vaults else project.visible_vaults()
    if not slugs:
        raise NoVaultConfigured()
    configs = [project.vaults[slug] for slug in slugs]
    aws = [c for c in configs if iam_svc.is_aws(c)]
    own = [c for c in configs if not iam_svc.is_aws(c) and registry.get(c.driver).access_policy]
    if own and not aws:
        _own_policy(ctx, own, read_only)
        return
    if not aws:
        shown = ", ".join(f"{c.slug} ({c.driver})" for c in configs)
        raise UsageError(
            f"No AWS vault selected ({shown}): only ssm and secretsmanager vaults need an IAM policy",
            hint="add one with `keep vault:add --driver secretsmanager`" if not ctx.vault_option else None,
        )
    skipped = [c.slug for c in configs if not iam_svc.is_aws(c)]
    stages = _chosen_stages(ctx, project.stages)
    limited = bool(ctx.stage_option)

    policy = iam_svc.build_policy(
        iam_svc.PolicyRequest(
            namespace=project.namespace, vaults=aws, stages=stages, limit_stages=limited, read_only=read_only
        )
    )
    ctx.out(json.dumps(policy, indent=4))

    scenario = "read-only" if read_only else "read and write"
    ctx.msg(f"IAM policy for namespace '{project.namespace}' ({scenario})")
    ctx.msg(f"  Stages: {', '.join(stages)}" + ("" if limited else " (all configured)"))
    for config in aws:
        region = config.get("region") or "any region"
        ctx.msg(f"  Vault:  {config.slug} ({config.driver}, {region})")
    if skipped:
        ctx.msg(f"  Not covered (no IAM needed): {', '.join(skipped)}")
    for config in own:
        ctx.msg(f"  {config.slug} ({config.driver}) takes its own policy: `keep iam --vault {config.slug}`")
    scoped = iam_svc.scopes_granted_by_tags(aws)
    if scoped:
        ctx.msg(f"  Note: the scope of {', '.join(scoped)} is part of the secret names only; Secrets Manager "
                "access is granted by tags, so the policy covers every scope of the namespace.")
    if not read_only and iam_svc.rotates_with_lambda(aws):
        ctx.msg("  `keep rotate --lambda ARN` also needs lambda:InvokeFunction on that function.")
    ctx.msg("Create it with `aws iam create-policy --policy-name keep-"
            f"{project.namespace} --policy-document file://policy.json` (or in the IAM console) "
            "and attach it to the user or role that runs keep; `keep verify` checks the result.")


def _own_policy(ctx: Ctx, configs: list[VaultConfig], read_only: bool) -> None:
    """The policy of vaults whose driver has its own policy language (registry
    `access_policy`, e.g. a policy in HCL): the document on stdout, its notes on stderr."""
    drivers = sorted({c.driver for c in configs})
    if len(drivers) > 1:
        raise UsageError(
            f"The selected vaults use different policy languages ({', '.join(drivers)})",
            hint="choose one driver's vaults with --vault",
        )
    generate = registry.get(drivers[0]).access_policy
    assert generate is not None
    policy = generate(
        registry.PolicyRequest(
            vaults=configs, namespace=ctx.project.namespace, stages=_chosen_stages(ctx, ctx.project.stages),
            limited=bool(ctx.stage_option), read_only=read_only,
        )
    )
    ctx.out(policy.document.rstrip("\n"))
    for note in policy.notes:
        ctx.msg(note)
