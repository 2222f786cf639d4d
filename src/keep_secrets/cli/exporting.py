"""`export`, `template:add`, `template:validate`.

Everything is fetched and rendered before anything is written: a refused key, a value a
format cannot hold, or a missing placeholder leaves stdout empty and any existing file as it
was. Data goes to stdout or the file; every message goes to stderr.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..formats.render import FORMATS
from ..fsutil import atomic_write
from ..model import Conflict, KeepError, UsageError
from ..names import Patterns, split_list
from ..placeholders import MISSING_STRATEGIES
from ..services import exporting as svc
from ..services import templating
from .context import Ctx, keep_command


def _vault_list(ctx: Ctx) -> list[str]:
    return svc.export_sources(ctx.project, split_list(ctx.vault_option))


# -- export ---------------------------------------------------------------------------------

@keep_command("export")
@click.option("--format", "fmt", type=click.Choice([*FORMATS, svc.GITHUB_FORMAT]), default="env", show_default=True,
              help="Output format; github appends to $GITHUB_ENV and prints only ::add-mask:: lines.")
@click.option("--template", "template", is_flag=False, flag_value="", default=None, metavar="[FILE]",
              help="Render a template; bare --template uses <template_path>/<stage>.env.")
@click.option("--all", "include_all", is_flag=True,
              help="With --template: also add the stage's secrets no placeholder references.")
@click.option("--missing", type=click.Choice(MISSING_STRATEGIES), default="fail", show_default=True,
              help="With --template: what to do with a placeholder whose secret does not exist.")
@click.option("--file", "--output", "-o", "file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write to this file (atomically, mode 0600) instead of stdout.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --file.")
@click.option("--append", is_flag=True, help="Add to an existing --file (env, shell, docker).")
@click.option("--only", multiple=True, help="Comma-separated key globs to keep.")
@click.option("--except", "except_", multiple=True, help="Comma-separated key globs to drop.")
def export_cmd(
    ctx: Ctx,
    fmt: str,
    template: str | None,
    include_all: bool,
    missing: str,
    file: Path | None,
    overwrite: bool,
    append: bool,
    only: tuple[str, ...],
    except_: tuple[str, ...],
) -> None:
    """Export the secrets of a stage, or render a template with --template (static lines
    kept, {vault:KEY} and {vault:KEY.field} placeholders replaced, values re-quoted).

    Without --vault every vault of your workspace is read (the default vault wins a key two
    vaults share); --vault a,b reads those, a later one winning a shared key.

    --format github (in a GitHub Actions step) appends the secrets to the file named by
    GITHUB_ENV (multi-line values as NAME<<DELIMITER blocks) and prints an ::add-mask:: command
    for every line of every value on stdout, and nothing else, so later steps get the variables
    and the job log masks them."""
    patterns = Patterns.parse(only, except_)
    if fmt == svc.GITHUB_FORMAT:
        _export_github(ctx, template, include_all, missing, file, patterns)
        return
    if file is None and (overwrite or append):
        raise UsageError("--overwrite and --append need --file")
    if template is None and (include_all or missing != "fail"):
        raise UsageError("--all and --missing only apply with --template")
    if file is not None:
        svc.check_target(file, overwrite=overwrite, append=append, format_name=fmt)
    project = ctx.project
    stage = ctx.resolve_stage()
    if template is None:
        result = svc.export_secrets(ctx.vault, _vault_list(ctx), stage, fmt, patterns)
        text, count, vaults, warnings = result.text, result.count, result.vaults, result.warnings
    else:
        path = templating.find_template(project, stage, template)
        # --all adds "the stage's secrets": the same vaults a plain export reads
        sources = _vault_list(ctx) if include_all else []
        rendered = templating.render_template(
            project, ctx.vault, stage, path, format_name=fmt, missing=missing,
            include_all=include_all, all_vaults=sources, patterns=patterns,
        )
        text, count, vaults, warnings = rendered.text, rendered.count, rendered.vaults, rendered.warnings
        ctx.msg(f"Rendered template {path} for stage '{stage}'")
    for warning in warnings:
        ctx.warn(warning)
    where = f"{','.join(vaults) or 'no vault'}:{stage}"
    if file is None:
        ctx.out(text, nl=False)
        if count == 0:
            ctx.msg(f"No secrets to export from {where}" + (" match the filters" if patterns.active else ""))
        return
    svc.write_export(file, text, overwrite=overwrite, append=append, format_name=fmt)
    verb = "Appended" if append else "Wrote"
    ctx.success(f"{verb} {count} entr{'y' if count == 1 else 'ies'} from {where} to {file} ({fmt})")


def _export_github(
    ctx: Ctx, template: str | None, include_all: bool, missing: str, file: Path | None, patterns: Patterns
) -> None:
    import os

    if file is not None:
        raise UsageError("--format github writes to the file named by GITHUB_ENV; --file does not apply")
    if template is None and (include_all or missing != "fail"):
        raise UsageError("--all and --missing only apply with --template")
    target = svc.github_env_path(os.environ)
    stage = ctx.resolve_stage()
    if template is None:
        pairs, warnings, vaults = svc.stage_pairs(ctx.vault, _vault_list(ctx), stage, patterns)
    else:
        path = templating.find_template(ctx.project, stage, template)
        sources = _vault_list(ctx) if include_all else []
        rendered = templating.render_template(
            ctx.project, ctx.vault, stage, path, format_name="json", missing=missing,
            include_all=include_all, all_vaults=sources, patterns=patterns,
        )
        pairs, warnings, vaults = svc.pairs_of_json_export(rendered.text), rendered.warnings, rendered.vaults
    result = svc.github_export(pairs)
    for warning in warnings:
        ctx.warn(warning)
    # masks first: they are in force before any later step can see a value
    ctx.out(result.masks, nl=False)
    svc.append_github_env(target, result.env_text)
    where = f"{','.join(vaults) or 'no vault'}:{stage}"
    ctx.success(f"Appended {result.count} variable(s) from {where} to GITHUB_ENV ({target})")


# -- template:add ---------------------------------------------------------------------------

@keep_command("template:add")
@click.option("--path", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for the template (default: the project's template_path).")
@click.option("--overwrite", is_flag=True, help="Replace an existing template.")
def template_add_cmd(ctx: Ctx, directory: Path | None, overwrite: bool) -> None:
    """Write <template_path>/<stage>.env with one KEY={vault:KEY} line per secret of the
    stage, grouped by vault (--vault a,b chooses the vaults; default: the workspace's)."""
    project = ctx.project
    stage = ctx.resolve_stage()
    slugs = split_list(ctx.vault_option) or project.visible_vaults()
    for slug in slugs:
        project.check_vault(slug)
    target = (directory if directory is not None else project.template_dir) / f"{stage}.env"
    if target.exists() and not overwrite:
        raise Conflict(f"Template {target} already exists", hint="use --overwrite to replace it")
    generated = templating.generate_template(ctx.vault, stage, slugs)
    for note in generated.notes:
        ctx.warn(note)
    try:
        atomic_write(target, generated.text, mode=0o644)
    except OSError as exc:
        raise KeepError(f"Cannot write {target}: {exc.strerror or exc}") from None
    ctx.success(
        f"Wrote {target} ({generated.placeholders} placeholder(s) from {', '.join(generated.vaults)}); "
        f"check it with `keep template:validate {target} --stage={stage}`"
    )


# -- template:validate ----------------------------------------------------------------------

@keep_command("template:validate")
@click.argument("file", type=click.Path(path_type=Path), required=False)
def template_validate_cmd(ctx: Ctx, file: Path | None) -> None:
    """Check a template: line syntax, placeholder syntax, variable names and vaults; with
    --stage also that every placeholder resolves in that stage. With a .keep/schema.toml, also
    that the template defines every required key (of --stage, or required everywhere) and that
    its values match their key's pattern (static ones, and with --stage the rendered ones; the
    value is never shown). Exit 1 listing every problem."""
    project = ctx.project
    stage = project.check_stage(ctx.stage_option) if ctx.stage_option else None
    if file is None:
        if stage is None:
            raise UsageError("Give the template FILE (or --stage to check <template_path>/<stage>.env)")
        path = templating.find_template(project, stage, None)
    else:
        path = templating.find_template(project, stage or "", file)
    report = templating.validate_template(project, ctx.vault, path, stage)
    from ..services import schema

    spec = schema.load_schema(project, required=False)
    if spec is not None:  # required keys and static values against .keep/schema.toml
        template = templating.read_template(project, path)
        report.problems += schema.template_problems(spec, template, stage, report.values)
    for warning in report.warnings:
        ctx.warn(warning)
    for note in report.notes:
        ctx.msg(note)
    checked = f"{report.placeholders} placeholder(s)" + (f" against stage '{stage}'" if stage else "")
    if report.problems:
        for problem in report.problems:
            click.echo(f"{path}: {problem}", err=True)
        raise KeepError(f"{path}: {len(report.problems)} problem(s) found ({checked})")
    ctx.success(f"{path} is valid ({checked})")
