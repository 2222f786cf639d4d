"""Per-invocation state shared by every command: options, the project, vault instances,
prompts and message output.

Rules it enforces (SPEC §5, §6): messages go to stderr and data to stdout; prompts only on a
terminal (`-n` or a non-terminal stdin means never); a missing `--stage`/`--vault` is asked
for on a terminal, resolved to the single configured choice otherwise, else exit 2.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable

from ..model import KeepError, UsageError
from ..vaults.base import VaultPool
from .quick import echo

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: `keep get` start-up)
if TYPE_CHECKING:
    from typing import Any, TypeVar

    import click

    from ..project import Project
    from ..vaults.base import Vault
    from ..vaults.cache import Mode

    F = TypeVar("F", bound=Callable[..., Any])

#: True while commands run inside `keep shell`: the process belongs to the shell, so a command
#: must never replace it (`run` then starts a child instead of exec'ing).
IN_SHELL = False


class Ctx:
    def __init__(
        self,
        stage: str | None = None,
        vault: str | None = None,
        no_interaction: bool = False,
        quiet: bool = False,
        no_color: bool = False,
        no_cache: bool = False,
        offline: bool = False,
    ) -> None:
        self.stage_option = stage
        self.vault_option = vault
        self.no_interaction = no_interaction
        self.quiet = quiet
        self.no_color = no_color or bool(os.environ.get("NO_COLOR"))
        self.no_cache = no_cache
        self.offline = offline
        self._project: Project | None = None
        self._vaults = VaultPool(lambda: self.project, self.cache_mode)

    # -- environment -------------------------------------------------------------------------
    def cache_mode(self) -> Mode:
        """--offline (no network call) wins over --no-cache; KEEP_NO_CACHE=1 is --no-cache."""
        if self.offline:
            return "offline"
        return "off" if self.no_cache else "auto"

    @property
    def interactive(self) -> bool:
        if self.no_interaction or os.environ.get("KEEP_NO_INTERACTION"):
            return False
        try:
            return sys.stdin.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def color(self) -> bool:
        if self.no_color:
            return False
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False

    @property
    def project(self) -> Project:
        if self._project is None:
            from ..project import Project

            self._project = Project.load()
        return self._project

    def set_project(self, project: Project) -> None:
        self._project = project
        self._vaults.clear()

    # -- output ------------------------------------------------------------------------------
    def out(self, text: str = "", nl: bool = True) -> None:
        """Data: stdout, never coloured by us."""
        try:
            echo(text, nl=nl)
        except BrokenPipeError:
            raise  # `keep show | head`: handled quietly by run_args
        except OSError as exc:
            # a full disk or dead terminal is the user's environment, not a keep bug
            raise KeepError(f"Cannot write to standard output: {exc.strerror or exc}") from None

    def msg(self, text: str, fg: str | None = None) -> None:
        """Human messages: stderr, suppressed by --quiet."""
        if self.quiet:
            return
        import click

        click.echo(self.style(text, fg=fg), err=True, color=self.color)

    def success(self, text: str) -> None:
        self.msg(("✓ " if self.color else "") + text, fg="green")

    def warn(self, text: str) -> None:
        # warnings are shown even with --quiet: they report something the user must know
        import click

        click.echo(self.style("warning: " + text, fg="yellow"), err=True, color=self.color)

    def style(self, text: str, fg: str | None = None, bold: bool = False) -> str:
        if not self.color or (fg is None and not bold):
            return text
        import click

        return click.style(text, fg=fg, bold=bold)

    # -- prompts -----------------------------------------------------------------------------
    def select(self, label: str, choices: list[str], default: str | None = None) -> str:
        if not self.interactive:
            raise UsageError(f"{label} is required (choices: {', '.join(choices)})")
        import click

        return str(
            click.prompt(
                label,
                type=click.Choice(choices),
                default=default if default in choices else None,
                err=True,
                show_choices=True,
            )
        )

    def confirm(self, question: str, default: bool = False, *, force_flag: str = "--force") -> bool:
        """Ask on a terminal; without one, refuse rather than guess (exit 2)."""
        if not self.interactive:
            raise UsageError(f"{question.rstrip('?')}: not asked without a terminal; pass {force_flag}")
        import click

        return bool(click.confirm(question, default=default, err=True))

    def ask(self, label: str, default: str | None = None, hidden: bool = False, blank: bool = False) -> str:
        """Prompt on the terminal. `blank=True` returns "" for an empty answer (for the caller
        to judge) instead of asking again."""
        if not self.interactive:
            raise UsageError(f"{label} is required (no terminal to ask on)")
        import click

        shown = default is not None
        if blank and default is None:
            default = ""
        return str(click.prompt(label, default=default, hide_input=hidden, err=True, show_default=shown))

    # -- stage / vault resolution ------------------------------------------------------------
    def resolve_stage(self, stage: str | None = None, label: str = "Stage") -> str:
        project = self.project
        chosen = stage or self.stage_option
        if chosen:
            return project.check_stage(chosen)
        visible = project.visible_stages()
        if len(visible) == 1:
            return visible[0]
        if self.interactive:
            return self.select(label, visible)
        raise UsageError(f"--stage is required (configured stages: {', '.join(project.stages)})")

    def resolve_vault_slug(self, vault: str | None = None, label: str = "Vault") -> str:
        """The slug of the vault a command works on (`ctx.vault(slug)` opens it): VAULT, else
        --vault, else the default, else the only visible one, else a choice on a terminal."""
        from ..services.secret_ops import working_vault

        project = self.project
        chosen = working_vault(project, vault or self.vault_option)
        if chosen:
            return chosen
        if self.interactive:
            return self.select(label, project.visible_vaults())
        raise UsageError(f"--vault is required (configured vaults: {', '.join(sorted(project.vaults))})")

    def vault(self, slug: str) -> Vault:
        vault = self._vaults.get(slug)
        if self.quiet and vault.declaration.quiet_notices:
            # notices such as the local vault's "no data yet" are informational: -q hides them
            vault.notice = _silent
        return vault

    def close(self) -> None:
        failures = self._vaults.close()
        if failures:
            raise failures[0][1]


def _silent(text: str) -> None:
    pass


def get_ctx() -> Ctx:
    import click

    ctx = click.get_current_context()
    root = ctx.find_root()
    if not isinstance(root.obj, Ctx):
        root.obj = Ctx()
    obj: Ctx = root.obj
    return obj


def common_options(func: F) -> F:
    """Add the global options to a command (`keep get K --stage=x` as well as
    `keep --stage=x get K`) and pass the merged :class:`Ctx` as the first argument."""
    import click

    @click.option("--stage", "--env", "_stage", default=None, help="Stage (alias --env).")
    @click.option("--vault", "_vault", default=None, help="Vault slug.")
    @click.option("-n", "--no-interaction", "_no_interaction", is_flag=True, default=False, help="Never prompt.")
    @click.option("-q", "--quiet", "_quiet", is_flag=True, default=False, help="Only print data.")
    @click.option("--no-color", "_no_color", is_flag=True, default=False, help="No colours (also NO_COLOR).")
    @click.option("--no-cache", "_no_cache", is_flag=True, default=False, help="Read the stores strictly.")
    @click.option("--offline", "_offline", is_flag=True, default=False, help="No network call: the cache or fail.")
    @functools.wraps(func)
    def wrapper(
        *args: Any,
        _stage: str | None,
        _vault: str | None,
        _no_interaction: bool,
        _quiet: bool,
        _no_color: bool,
        _no_cache: bool,
        _offline: bool,
        **kwargs: Any,
    ) -> Any:
        obj = get_ctx()
        if _stage:
            obj.stage_option = _stage
        if _vault:
            obj.vault_option = _vault
        obj.no_interaction = obj.no_interaction or _no_interaction
        obj.quiet = obj.quiet or _quiet
        obj.no_color = obj.no_color or _no_color
        obj.no_cache = obj.no_cache or _no_cache
        obj.offline = obj.offline or _offline
        try:
            return func(obj, *args, **kwargs)
        finally:
            obj.close()

    return wrapper  # type: ignore[return-value]


def keep_command(name: str, **settings: Any) -> Callable[[F], click.Command]:
    """`@keep_command("get")` = a click command with -h/--help and the global options."""
    import click

    def decorate(func: F) -> click.Command:
        context_settings: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 110}
        context_settings.update(settings.pop("context_settings", {}))
        make = click.command(name=name, context_settings=context_settings, **settings)
        command: click.Command = make(common_options(func))  # type: ignore[no-untyped-call]
        return command

    return decorate
