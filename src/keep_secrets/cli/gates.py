"""CI and deployment gates: `refs`, `check`, `schema:init` (and `scan`).

Thin faces over services/: options are parsed and validated here, the work and every decision
happen in the service, data goes to stdout and messages to stderr.
"""

from __future__ import annotations

import click

from ..model import KeepError
from ..names import Patterns, split_list
from ..services import references
from .context import Ctx, keep_command


def _vaults(ctx: Ctx) -> list[str]:
    """`--vault a,b` (validated), else the default vault."""
    slugs = split_list(ctx.vault_option)
    if not slugs:
        return [ctx.resolve_vault_slug()]
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


# -- check / schema:init ----------------------------------------------------------------------

def _stages_and_vaults(ctx: Ctx) -> tuple[list[str], list[str]]:
    """`--stage a,b` / `--vault x,y` (validated), else the workspace's stages and vaults."""
    from ..services.diffing import select_cells

    cells = select_cells(ctx.project, ctx.stage_option, ctx.vault_option)
    return list(dict.fromkeys(c.stage for c in cells)), list(dict.fromkeys(c.vault for c in cells))


@keep_command("check")
@click.option("--strict", is_flag=True, help="Also report keys the schema does not name.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def check_cmd(ctx: Ctx, strict: bool, fmt: str) -> None:
    """Check the secrets against .keep/schema.toml: required keys that are missing, values
    that do not match their key's pattern (the value is never shown) and, with --strict, keys
    the schema does not name. Exit 1 on any problem, 0 when all is well.

    --stage a,b and --vault x,y choose what to check (default: your workspace's stages and
    vaults). A required key is present in a stage when any of the checked vaults holds it.

    \b
    keep check --stage=production --format=json
    """
    from ..services import schema as svc

    project = ctx.project
    spec = svc.load_schema(project)
    assert spec is not None
    stages, vaults = _stages_and_vaults(ctx)
    result = svc.check(project, ctx.vault, stages, vaults, strict=strict, schema=spec)
    checked = f"{len(spec.keys)} schema key(s) in {', '.join(f'{v}:{s}' for v, s in result.cells)}"
    if fmt == "json":
        import json

        ctx.out(json.dumps(result.to_dict(), indent=2))
    elif result.problems:
        from ..formats.table import render_table

        ctx.out(render_table(["Key", "Vault", "Stage", "Problem"],
                             [[p.key, p.vault, p.stage, p.problem] for p in result.problems]))
    if result.problems:
        raise KeepError(f"{len(result.problems)} problem(s) found checking {checked}")
    ctx.success(f"No problems: {checked}")


@keep_command("schema:init")
@click.option("--overwrite", is_flag=True, help="Replace an existing .keep/schema.toml.")
def schema_init_cmd(ctx: Ctx, overwrite: bool) -> None:
    """Write .keep/schema.toml naming every key present in the stages (--stage a,b; default:
    your workspace's) of the vaults (--vault x,y; default: your workspace's). Names only,
    never values; a key found in only some stages gets `stages = [...]`. Add descriptions and
    patterns, commit it, and run `keep check` in CI."""
    from ..services import schema as svc

    stages, vaults = _stages_and_vaults(ctx)
    path, count = svc.init_schema(ctx.project, ctx.vault, stages, vaults, overwrite=overwrite)
    ctx.success(f"Wrote {path} with {count} key(s) from {', '.join(vaults)} ({', '.join(stages)}); "
                "check with `keep check`")


# -- scan -------------------------------------------------------------------------------------

@keep_command("scan")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--exclude", multiple=True, metavar="GLOB",
              help="Skip files and directories whose name or path matches (repeatable): node_modules, '*.min.js'.")
def scan_cmd(ctx: Ctx, paths: tuple[str, ...], fmt: str, exclude: tuple[str, ...]) -> None:
    """Look for the stages' secret values in files under PATH (default: .) and report
    `path:line: KEY (vault:stage)` - never the value. Exit 1 when a value is found.

    Values shorter than 8 characters are not looked for (they would match everywhere).
    Skipped: .git/ and .keep/local/ directories, binary files, symbolic links met while
    walking, and what --exclude names. --stage a,b and --vault x,y choose whose values
    (default: your workspace's).

    \b
    keep scan --stage=staging,production            # the whole tree
    keep scan --stage=production src/ config/app.yml
    """
    from ..services import scanning

    stages, vaults = _stages_and_vaults(ctx)
    globs = [g for value in exclude for g in split_list(value)]
    result = scanning.scan(ctx.vault, stages, vaults, list(paths), exclude=globs,
                           on_error=lambda path, reason: ctx.warn(f"cannot read {path}: {reason}"))
    if fmt == "json":
        import json

        ctx.out(json.dumps([f.to_dict() for f in result.findings], indent=2))
    else:
        for finding in result.findings:
            ctx.out(finding.describe())
    where = ", ".join(f"{v}:{s}" for v in vaults for s in stages)
    if result.short_values:
        ctx.msg(f"{result.short_values} value(s) shorter than {scanning.MIN_LENGTH} characters not looked for")
    if not result.values:
        ctx.msg(f"No values of {scanning.MIN_LENGTH}+ characters in {where}: nothing to look for")
        return
    scanned = f"{result.files} file(s) for {result.values} value(s) of {where}"
    if result.skipped_binary:
        scanned += f"; {result.skipped_binary} binary file(s) skipped"
    if result.findings:
        files = len({f.path for f in result.findings})
        raise KeepError(f"{len(result.findings)} secret value(s) found in {files} file(s) (scanned {scanned})")
    ctx.success(f"No secret values found (scanned {scanned})")
