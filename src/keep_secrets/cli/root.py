"""The click side of the `keep` command: the root group with its global options, and the lazy
loading of command modules (the registry is :data:`keep_secrets.cli.COMMANDS`).

Imported on first use of `keep_secrets.cli.cli` (or `LazyGroup`), not by `keep_secrets.cli`
itself: `keep --version` and the common `keep get` are answered without importing click at all
(:mod:`keep_secrets.cli.quick`).
"""

from __future__ import annotations

import click

from .. import __version__
from ..model import KeepError
from . import COMMANDS


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.target.partition(":")
        import importlib

        try:
            module = importlib.import_module(f"{__package__}.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"{__package__}."):
                return _unavailable(cmd_name)
            raise
        command: click.Command = getattr(module, attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, command.help) for name, command in sorted(COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else None
        if name is not None and name not in COMMANDS and not name.startswith("-"):
            import difflib

            close = difflib.get_close_matches(name, list(COMMANDS), n=3)
            suggestion = f"; did you mean {', '.join(close)}?" if close else ""
            raise click.UsageError(f"No such command '{name}'{suggestion}")
        return super().resolve_command(ctx, args)


def _unavailable(name: str) -> click.Command:
    @click.command(name=name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
    def _cmd() -> None:
        raise KeepError(f"The '{name}' command is not available in this build")

    return _cmd


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", "-V", prog_name="keep", message="keep %(version)s")
@click.option("--stage", "--env", "stage", default=None, help="Stage (alias --env).")
@click.option("--vault", default=None, help="Vault slug.")
@click.option("-n", "--no-interaction", is_flag=True, default=False, help="Never prompt.")
@click.option("-q", "--quiet", is_flag=True, default=False, help="Only print data.")
@click.option("--no-color", is_flag=True, default=False, help="No colours (also NO_COLOR).")
@click.option("--no-cache", is_flag=True, default=False, help="Read the stores strictly, never the cache.")
@click.option("--offline", is_flag=True, default=False, help="No network call: serve the cache or fail.")
@click.pass_context
def cli(ctx: click.Context, stage: str | None, vault: str | None, no_interaction: bool, quiet: bool,
        no_color: bool, no_cache: bool, offline: bool) -> None:
    """keep: secrets per stage in local, SSM and Secrets Manager vaults."""
    from .context import Ctx

    ctx.obj = Ctx(stage=stage, vault=vault, no_interaction=no_interaction, quiet=quiet, no_color=no_color,
                  no_cache=no_cache, offline=offline)
    if ctx.invoked_subcommand is None:
        from ..project import find_root

        name = "shell" if find_root() is not None else "init"
        command = cli.get_command(ctx, name)
        assert command is not None
        ctx.invoke(command)
