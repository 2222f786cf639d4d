"""`keep run [--template[=FILE]] [--only] [--except] [--no-inherit] [--redact] -- CMD ARGS...`

Without --redact keep becomes the command (exec), so nothing of keep stays between the
command and its terminal. Keep prints nothing itself on success: the command's output is
the whole output.
"""

from __future__ import annotations

import click

from ..model import UsageError
from ..names import Patterns, is_env_var_name, split_list
from ..services import running
from ..services.exporting import export_sources
from . import context
from .context import Ctx, keep_command


@keep_command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--template",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[FILE]",
    help="Use a template's statics and placeholders; bare --template = <template_path>/<stage>.env.",
)
@click.option("--only", multiple=True, help="Comma-separated key globs to inject.")
@click.option("--except", "except_", multiple=True, help="Comma-separated key globs to leave out.")
@click.option("--no-inherit", is_flag=True, help="Pass only the secrets (and template statics) plus PATH.")
@click.option("--redact", is_flag=True, help="Mask injected values (4+ characters) in the command's output.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="-- COMMAND [ARGS]...")
def run_cmd(
    ctx: Ctx,
    template: str | None,
    only: tuple[str, ...],
    except_: tuple[str, ...],
    no_inherit: bool,
    redact: bool,
    command: tuple[str, ...],
) -> int:
    """Run COMMAND with the stage's secrets in its environment.

    \b
    keep run --stage=production -- npm start
    keep run --template --stage=staging -- ./manage.py migrate
    keep run --redact --only='DB_*' -- ./debug-connection.sh

    The secrets are those `keep export` would write: every vault of your workspace (the
    default vault wins a key two vaults share), or --vault a,b (a later one wins).

    Without --redact keep replaces itself with COMMAND: signals, TTY, stdin and exit code
    are the command's own. With --redact, COMMAND runs as a child whose stdout/stderr have
    every injected value replaced by ********; signals sent to keep are forwarded and the
    exit code is the child's (128+N if it died of signal N).
    """
    argv = list(command)
    if not argv:
        raise UsageError("No command given: use `keep run [options] -- COMMAND [ARGS...]`")
    if argv[0].startswith("-") and argv[0] != "-":
        raise UsageError(
            f"Unknown option {argv[0]} for keep run; put the command after `--`: keep run [options] -- COMMAND"
        )
    patterns = Patterns.parse(only, except_)
    injected, secrets = _secrets(ctx, ctx.resolve_stage(), template, patterns)
    odd = sorted(k for k in injected if not is_env_var_name(k))
    if odd:
        ctx.warn(
            f"{', '.join(odd)}: not valid shell variable name(s); injected as-is "
            "(programs can read them from their environment, shells cannot expand them)"
        )
    env = running.build_environment(injected, inherit=not no_inherit)
    if not redact and not context.IN_SHELL and running.owns_process(argv):
        running.exec_command(argv, env, before=ctx.close)
    ctx.close()
    return running.run_child(argv, env, secrets if redact else None)


def _secrets(ctx: Ctx, stage: str, template: str | None, patterns: Patterns) -> tuple[dict[str, str], set[str]]:
    """The variables to inject, and the values `--redact` masks (a template's placeholders
    mask their own values exactly, even inside a longer line)."""
    if template is None:
        # the same vaults `export` reads, so `run` injects what `export` would write
        sources = export_sources(ctx.project, split_list(ctx.vault_option))
        injected, overlaps = running.secret_environment(ctx.vault, sources, stage, patterns)
        for warning in overlaps:
            ctx.warn(warning)
        return injected, set(injected.values())
    from ..services.templating import find_template, read_template, template_environment

    path = find_template(ctx.project, stage, template or None)
    pieces: dict[str, list[str]] = {}
    # run has no --missing: the hint must not offer export's option
    injected = template_environment(
        ctx.project,
        ctx.vault,
        stage,
        path,
        missing="fail",
        patterns=patterns,
        missing_hint="the command was not started; set the secret or fix the template",
        pieces=pieces,
    )
    return injected, running.template_secret_values(read_template(ctx.project, path), injected, pieces)
