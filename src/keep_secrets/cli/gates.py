"""CI and deployment gates: `refs` (and, as they land, `check`, `schema:init`, `scan`).

Thin faces over services/: options are parsed and validated here, the work and every decision
happen in the service, data goes to stdout and messages to stderr.
"""

from __future__ import annotations

import click

from ..names import Patterns, split_list
from ..services import references
from .context import Ctx, keep_command


def _vaults(ctx: Ctx) -> list[str]:
    """`--vault a,b` (validated), else the default vault."""
    slugs = split_list(ctx.vault_option)
    if not slugs:
        return [ctx.resolve_vault()]
    for slug in slugs:
        ctx.project.check_vault(slug)
    return list(dict.fromkeys(slugs))


@keep_command("refs")
@click.option("--format", "fmt", type=click.Choice(references.FORMATS), default="json", show_default=True,
              help="ecs: task-definition `secrets` entries; cloudformation: dynamic references; "
                   "external-secrets: an ExternalSecret manifest; json: every reference.")
@click.option("--store", default=None, metavar="NAME",
              help="external-secrets: the name of the SecretStore to read from (required there).")
@click.option("--store-kind", type=click.Choice(references.STORE_KINDS), default="SecretStore", show_default=True,
              help="external-secrets: SecretStore or ClusterSecretStore.")
@click.option("--name", "manifest_name", default=None,
              help="external-secrets: the ExternalSecret's and target Secret's name (default: <namespace>-<stage>).")
@click.option("--api-version", default=references.ESO_API_VERSION, show_default=True,
              help="external-secrets: the manifest's apiVersion (external-secrets.io/v1beta1 for older operators).")
@click.option("--refresh-interval", default="1h", show_default=True, help="external-secrets: spec.refreshInterval.")
@click.option("--only", multiple=True, help="Comma-separated key globs to include.")
@click.option("--except", "except_", multiple=True, help="Comma-separated key globs to leave out.")
def refs_cmd(
    ctx: Ctx,
    fmt: str,
    store: str | None,
    store_kind: str,
    manifest_name: str | None,
    api_version: str,
    refresh_interval: str,
    only: tuple[str, ...],
    except_: tuple[str, ...],
) -> None:
    """Print references to a stage's secrets for a deployment, without reading any value.

    Only listing calls are made (Secrets Manager ListSecrets, SSM DescribeParameters), so a
    deploy role needs no read permission to generate them; the deployment itself reads the
    values at run time.

    \b
    keep refs --stage=production --vault=secretsmanager --format=ecs
    keep refs --stage=production --vault=ssm --format=cloudformation
    keep refs --stage=production --format=external-secrets --store=aws-secrets
    """
    patterns = Patterns.parse(only, except_)
    if fmt != "external-secrets" and (store or manifest_name):
        raise click.UsageError("--store and --name only apply with --format external-secrets")
    if fmt == "external-secrets" and not store:
        raise click.UsageError("--store is required with --format external-secrets: the SecretStore's name")
    stage = ctx.resolve_stage()
    slugs = _vaults(ctx)
    found = references.collect(ctx.vault, slugs, stage, patterns)
    text = references.render(
        found.references, fmt, name=manifest_name or f"{ctx.project.namespace}-{stage}", store=store,
        store_kind=store_kind, api_version=api_version, refresh=refresh_interval,
    )
    for warning in found.warnings:
        ctx.warn(warning)
    ctx.out(text, nl=False)
    ctx.msg(f"{len(found.references)} reference(s) from {','.join(found.vaults)}:{stage} (no value was read)")
