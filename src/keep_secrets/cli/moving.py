"""Commands that move secrets between places: `copy`, `diff`, `import`.

Each one checks all of its input first (names, stages, vaults, the input file), then reads
once, then writes only what changes. Data (the diff matrix) goes to stdout; the per-key
report, progress and summaries go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..formats.mask import maybe_mask
from ..formats.table import render_table
from ..fsutil import cannot
from ..model import Conflict, Interrupted, KeepError, NotFound, UsageError
from ..names import Patterns, shown_key
from ..services import copying, diffing, importing
from .context import Ctx, keep_command
from .hints import cli_line

if TYPE_CHECKING:
    from ..services.copying import Item, Location, Outcome, Plan


# -- shared bulk-write reporting ------------------------------------------------------------

_FAILURES = (copying.FAILED, copying.NOT_ATTEMPTED, copying.CONFLICTED)


def _line(item: Item) -> str:
    # a key from a file may hold control characters (a NUL), be 10 KB long or be `K=value`:
    # shown escaped and shortened, exactly as the error texts show keys
    text = f"  {item.outcome:<13} {shown_key(item.key)}"
    if item.revision is not None:
        text += f"  (revision {item.revision})"
    if item.reason:
        text += f"  - {item.reason}"
    return text


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def _progress(ctx: Ctx, total: int, label: str) -> Iterator[Callable[[Item], None]]:
    """A per-key reporter; on a terminal also a progress bar (rich, imported only here).
    Failures are printed even with --quiet: the user must know what was not written."""

    def plain(item: Item) -> None:
        if item.outcome in _FAILURES:
            click.echo(ctx.style(_line(item), fg="red"), err=True, color=ctx.color)
        else:
            ctx.msg(_line(item))

    if total < 2 or ctx.quiet or not _stderr_is_terminal():
        yield plain
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True, no_color=not ctx.color)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)

        def live(item: Item) -> None:
            style = "red" if item.outcome in _FAILURES else None
            bar.console.print(_line(item), style=style, markup=False, highlight=False)
            bar.advance(task)

        yield live


def _announce_and_run(ctx: Ctx, plan: Plan, verb: str, where: str, dry_run: bool, unit: str) -> None:
    """The opening line of a copy or import, then the run and its report."""
    if dry_run:
        ctx.msg(f"Dry run: {verb.lower()} {where} ({len(plan.items)} {unit}); nothing will be written")
    elif plan.writes and not plan.conflicts:
        ctx.msg(f"{verb}ing {where}")  # Copying, Importing
    _run_plan(ctx, plan, verb, where, dry_run)


def _conflict_flags(verb: str) -> str:
    """The options that let a run with conflicts go ahead (the same hint for a dry run)."""
    return "--overwrite" if verb == "Copy" else "--overwrite or --skip-existing"


def _finish(ctx: Ctx, plan: Plan, outcome: Outcome, verb: str, where: str, dry_run: bool) -> None:
    """The closing line, and the exit status: conflicts 5, failures 1 (or the shared error's
    code when nothing at all was written), Ctrl+C 130."""
    summary = copying.summarise(outcome, copying.REPORT_ORDER)
    if outcome.interrupted:
        raise Interrupted(f"{verb} {where} interrupted: {summary}")
    if dry_run:
        copying.refuse_conflicts(plan, _conflict_flags(verb))
        if outcome.failed:
            raise KeepError(f"Dry run of {verb.lower()} {where}: {summary}; a real run would fail for these keys")
        ctx.msg(f"Dry run of {verb.lower()} {where}: {summary}; nothing was written")
        return
    if outcome.ok:
        ctx.success(f"{verb} {where}: {summary}")
        return
    message = f"{verb} {where} incomplete: {summary}"
    if outcome.only_conflicts:
        raise Conflict(
            message,
            hint="the keys listed as conflict changed after keep read them and were not overwritten; "
            "run the command again to see the new plan",
        )
    error = outcome.first_error
    if error is not None and outcome.written == 0 and error.exit_code != 1:
        # e.g. access denied on the first write: nothing changed, so exit with that error's code
        failure = KeepError(message, hint=cli_line(error))
        failure.exit_code = error.exit_code
        raise failure
    raise KeepError(message, hint="the keys listed as failed or not attempted were not written")


def _run_plan(ctx: Ctx, plan: Plan, verb: str, where: str, dry_run: bool) -> None:
    if not dry_run:
        copying.refuse_conflicts(plan, _conflict_flags(verb))
    if not plan.items:
        return
    vault = ctx.vault(plan.target.vault)
    label = f"{verb} → {plan.target.label}"
    with _progress(ctx, len(plan.writes) if not dry_run else 0, label) as report:
        outcome = copying.apply(plan, vault, dry_run=dry_run, on_item=report)
    _finish(ctx, plan, outcome, verb, where, dry_run)


# -- copy -------------------------------------------------------------------------------------

def _location(ctx: Ctx, text: str, option: str) -> Location:
    default = ctx.resolve_vault_slug() if ":" not in text else None
    return copying.parse_location(ctx.project, text, default, option)


@keep_command("copy")
@click.argument("key", required=False)
@click.option("--from", "source", metavar="[VAULT:]STAGE", help="Copy from here (default: --vault/--stage).")
@click.option("--to", "target", metavar="[VAULT:]STAGE", help="Copy to here (vault defaults to the default vault).")
@click.option("--only", multiple=True, help="Comma-separated key globs to copy.")
@click.option("--except", "except_", multiple=True, help="Comma-separated key globs to leave out.")
@click.option("--overwrite", is_flag=True, help="Replace destination values that differ.")
@click.option("--dry-run", is_flag=True, help="Show what would be copied; write nothing.")
def copy_cmd(
    ctx: Ctx,
    key: str | None,
    source: str | None,
    target: str | None,
    only: tuple[str, ...],
    except_: tuple[str, ...],
    overwrite: bool,
    dry_run: bool,
) -> None:
    """Copy KEY, or the keys matching --only/--except, to another stage and/or vault.

    Equal values are skipped (no write); a destination value that differs is never replaced
    without --overwrite, and then nothing at all is written.

    \b
    keep copy DB_PASSWORD --from=staging --to=production
    keep copy --only='DB_*' --from=ssm:staging --to=secretsmanager:production --dry-run
    """
    patterns = Patterns.parse(only, except_)
    if key is not None and patterns.active:
        raise UsageError("Give either a KEY or --only/--except patterns, not both")
    if key is None and not patterns.active:
        raise UsageError("Give a KEY to copy, or --only/--except patterns (--only='*' copies every secret)")
    if source:
        src = _location(ctx, source, "--from")
    else:
        try:
            src = copying.Location(
                ctx.resolve_vault_slug(label="From (vault)"), ctx.resolve_stage(label="From (stage)")
            )
        except UsageError as exc:
            if ctx.stage_option or ctx.vault_option:
                raise
            raise UsageError(f"--from is required: the source as [vault:]stage, e.g. --from=staging ({exc.message})"
                             ) from None
    if not target:
        if not ctx.interactive:
            raise UsageError("--to is required: the destination as [vault:]stage, e.g. --to=production")
        target = ctx.ask("To ([vault:]stage)")
    dst = _location(ctx, target, "--to")
    plan = copying.plan_copy(ctx.vault, src, dst, key=key, patterns=None if key else patterns, overwrite=overwrite)
    if not plan.items:
        ctx.warn(f"No secrets in {src.label} match the given patterns; nothing to copy")
        return
    _announce_and_run(ctx, plan, "Copy", f"from {src.label} to {dst.label}", dry_run, "secret(s)")


# -- import -----------------------------------------------------------------------------------

def _read_input(ctx: Ctx, source: str | None) -> tuple[str, str]:
    """(text, label) of FILE, or of stdin for '-'."""
    if source is None:
        if not ctx.interactive:
            raise UsageError("FILE is required: a .env or JSON file, or '-' to read stdin")
        source = ctx.ask("File to import (.env or .json)")
    if source == "-":
        return importing.decode(sys.stdin.buffer.read(), "stdin"), "stdin"
    path = Path(source)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"File {source} does not exist") from None
    except IsADirectoryError:
        raise UsageError(f"{source} is a directory, not a file") from None
    except PermissionError as exc:
        raise cannot("read", source, exc) from None  # one line, exit 1, like every permission error
    except OSError as exc:
        raise UsageError(f"Cannot read {source}: {exc.strerror or exc}") from None
    return importing.decode(data, source), source


@keep_command("import")
@click.argument("source", required=False, metavar="[FILE|-]")
@click.option("--skip-existing", is_flag=True, help="Leave keys that already exist with another value.")
@click.option("--overwrite", is_flag=True, help="Replace keys that already exist with another value.")
@click.option("--dry-run", is_flag=True, help="Show what would happen; write nothing.")
@click.option("--only", multiple=True, help="Comma-separated key globs to import.")
@click.option("--except", "except_", multiple=True, help="Comma-separated key globs to leave out.")
@click.option("--format", "fmt", type=click.Choice(["auto", "env", "json"]), default="auto", show_default=True,
              help="Input format (auto: JSON when it starts with '{' or the name ends in .json).")
def import_cmd(
    ctx: Ctx,
    source: str | None,
    skip_existing: bool,
    overwrite: bool,
    dry_run: bool,
    only: tuple[str, ...],
    except_: tuple[str, ...],
    fmt: str,
) -> None:
    """Import secrets from a .env file, a JSON object, or stdin ('-').

    The .env file is read with python-dotenv's parser, without interpolation: `$VAR` stays
    literal. Existing keys with a different value stop the import (nothing written) unless
    --overwrite or --skip-existing; equal values are left unchanged (no write).
    """
    if overwrite and skip_existing:
        raise UsageError("--overwrite and --skip-existing cannot be used together")
    patterns = Patterns.parse(only, except_)
    text, label = _read_input(ctx, source)
    parsed = importing.parse(text, label, None if fmt == "auto" else fmt)
    stage = ctx.resolve_stage()
    slug = ctx.resolve_vault_slug()
    target = copying.Location(slug, stage)
    for key, lines in parsed.duplicates.items():
        where = f" (lines {', '.join(str(n) for n in lines)})" if all(lines) else ""
        ctx.warn(f"{shown_key(key)} is defined {len(lines)} times in {label}{where}; the last value is used")
    if not parsed.entries:
        ctx.msg(f"No entries in {label}; nothing to import")
        return
    vault = ctx.vault(slug)
    plan = importing.plan_import(
        vault, target, parsed.entries, patterns=patterns, overwrite=overwrite, skip_existing=skip_existing
    )
    if not plan.items:
        ctx.warn(f"No entries of {label} match --only/--except; nothing to import")
        return
    _announce_and_run(ctx, plan, "Import", f"from {label} into {target.label}", dry_run, "entries")


# -- diff -------------------------------------------------------------------------------------

_STATUS_LABEL = {diffing.IDENTICAL: "Identical", diffing.DIFFERENT: "Different", diffing.INCOMPLETE: "Incomplete"}
_MISSING_CELL = "—"


@keep_command("diff")
@click.argument("stages", nargs=-1, metavar="[STAGE]...")
@click.option("--unmask", is_flag=True, help="Show values in full.")
@click.option("--only", multiple=True, help="Comma-separated key globs to compare.")
@click.option("--except", "except_", multiple=True, help="Comma-separated key globs to leave out.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--fail-on", type=click.Choice(list(diffing.FAIL_ON)), default=None,
              help="Exit 1 when a key is incomplete (or different/incomplete) - a CI gate.")
def diff_cmd(
    ctx: Ctx, stages: tuple[str, ...], unmask: bool, only: tuple[str, ...], except_: tuple[str, ...], fmt: str,
    fail_on: str | None,
) -> None:
    """Compare secrets across stages (--stage a,b or STAGE...) and vaults (--vault x,y).

    Each key is Identical (same value everywhere), Different, or Incomplete (missing in some
    column). Values are masked unless --unmask. Defaults: the workspace's stages and vaults.

    Exit 0 (a report) unless --fail-on: then exit 1 when a key is incomplete
    (--fail-on=incomplete), or different or incomplete (--fail-on=different); the table or JSON
    is printed as usual first.

    \b
    keep diff --stage=staging,production --fail-on=incomplete   # production has every key staging has
    """
    patterns = Patterns.parse(only, except_)
    wanted_stages = [*([ctx.stage_option] if ctx.stage_option else []), *stages]
    columns = diffing.select_cells(ctx.project, wanted_stages, ctx.vault_option)
    matrix = diffing.build_matrix(ctx.vault, columns, patterns)
    foreign = [
        f"{c.label} " + ", ".join(s.key for s in found)
        for c in columns
        if (found := patterns.filter(ctx.vault(c.vault).unmanaged(c.stage)))
    ]
    if foreign:
        ctx.warn(
            "not compared, made outside keep (no keep tags): " + "; ".join(foreign)
            + " (`keep set KEY` on one adds keep's tags)"
        )
    if fmt == "json":
        ctx.out(json.dumps(matrix.to_dict(unmask), indent=2, ensure_ascii=False))
    elif matrix.rows:
        several = len({c.vault for c in columns}) > 1
        headers = ["Key", *[c.label if several else c.stage for c in columns], "Status"]
        rows: list[list[object]] = []
        for row in matrix.rows:
            cells = [
                _MISSING_CELL if v is None else maybe_mask(v, unmask) for v in row.values
            ]
            rows.append([row.key, *cells, _STATUS_LABEL[row.status]])
        ctx.out(render_table(headers, rows))
    compared = ", ".join(c.label for c in columns)
    if not matrix.rows:
        ctx.msg(f"No secrets found in {compared}")
        return
    counts = matrix.counts()
    ctx.msg(
        f"{len(matrix.rows)} key(s): {counts[diffing.IDENTICAL]} identical, {counts[diffing.DIFFERENT]} different, "
        f"{counts[diffing.INCOMPLETE]} incomplete (compared {compared})"
    )
    failing = matrix.failing(fail_on) if fail_on else []
    if failing:
        names = ", ".join(row.key for row in failing[:10]) + (", …" if len(failing) > 10 else "")
        what = "incomplete" if fail_on == diffing.INCOMPLETE else "different or incomplete"
        raise KeepError(f"--fail-on={fail_on}: {len(failing)} key(s) {what}: {names}")
