"""`keep shell`: a prompt_toolkit REPL over the same commands (SPEC §10).

Every line runs through the ordinary CLI (`cli.run`) in this process, so commands behave exactly
as on the command line; the shell only supplies the current vault and stage, dash-free flag
words, aliases, completion and a history file that never records values.

Without a terminal on stdin the shell reads one command per line and prints no prompt, which
makes `keep shell < script` a way to run several commands against one context.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import COMMANDS
from . import run_args as run_line
from .context import Ctx, keep_command
from .root import cli
from .shell_words import (
    ALIASES,
    BUILTINS,
    ShellInputError,
    redact_for_history,
    resolve_alias,
    split_line,
    translate,
    unique_prefix,
)

if TYPE_CHECKING:
    from prompt_toolkit.completion import CompleteEvent, Completion
    from prompt_toolkit.document import Document

HELP = """Built-ins:
  use VAULT:STAGE | use STAGE   switch context (unique prefixes accepted)   alias: u
  stage NAME / vault NAME       switch one part of the context
  context                       show the current vault and stage             alias: ctx
  history                       show this shell's history (values are never recorded)
  clear                         clear the screen
  help                          this help                                    alias: ?
  exit                          leave the shell                              aliases: q, quit
Commands: any keep command without --stage/--vault, e.g.
  show unmask · get DB_PASSWORD · set API_KEY · delete OLD force · diff staging production
  copy DB_PASSWORD production · copy only DB_* production · search needle keys
Aliases: g=get s=set d=delete ls=show. Flag words are the option names without dashes;
put `--` before a word that must stay literal."""


def history_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "keep" / "shell_history"


class Shell:
    def __init__(self, ctx: Ctx, vault: str, stage: str) -> None:
        self.ctx = ctx
        self.vault = vault
        self.stage = stage
        self._key_cache: dict[tuple[str, str], list[str]] = {}
        self.last_code = 0

    # -- context -----------------------------------------------------------------------------
    @property
    def prompt(self) -> str:
        return f"{self.vault}:{self.stage}> "

    def stages(self) -> list[str]:
        return self.ctx.project.stages

    def vaults(self) -> list[str]:
        return sorted(self.ctx.project.vaults)

    def keys(self) -> list[str]:
        cell = (self.vault, self.stage)
        if cell not in self._key_cache:
            try:
                self._key_cache[cell] = [s.key for s in self.ctx.vault(self.vault).list(self.stage)]
            except Exception:
                self._key_cache[cell] = []
            finally:
                self.ctx.close()
        return self._key_cache[cell]

    def invalidate(self) -> None:
        self._key_cache.clear()

    # -- one line ----------------------------------------------------------------------------
    def execute(self, line: str) -> bool:
        """Run one line; False means leave the shell."""
        try:
            words = split_line(line)
        except ShellInputError as exc:
            self.error(str(exc))
            return True
        if not words:
            return True
        name = resolve_alias(words[0])
        try:
            # bare `history` is the shell's own; `history KEY` is the keep command
            if name in BUILTINS and not (name == "history" and len(words) > 1):
                return self.builtin(name, words[1:])
            if name == "shell":
                raise ShellInputError("already in the shell")
            if name not in COMMANDS:
                import difflib

                close = difflib.get_close_matches(name, [*COMMANDS, *BUILTINS, *ALIASES], n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else "; type `help`"
                raise ShellInputError(f"unknown command '{words[0]}'{hint}")
            command = cli.get_command(click.Context(cli), name)
            assert command is not None
            args = translate(words[1:], command, name, self.vault, self.stage)
        except ShellInputError as exc:
            self.error(str(exc))
            return True
        self.last_code = run_line(args)
        if self.last_code not in (0, 130) and sys.stdin.isatty():
            self.error(f"(exit {self.last_code})")
        if COMMANDS[name].writes:
            self.invalidate()
        self._reload_project()
        return True

    def _reload_project(self) -> None:
        # a command may have changed settings (stage:add, vault:add...): re-read them
        from ..project import Project

        try:
            self.ctx.set_project(Project.load_at(self.ctx.project.root))
        except Exception as exc:  # keep the shell alive on a broken file; the next command says why
            self.error(str(exc))

    @staticmethod
    def help_text(args: list[str]) -> str:
        """`help`: the built-ins and every command of the registry; `help CMD`: its options."""
        if args:
            name = resolve_alias(args[0])
            command = cli.get_command(click.Context(cli), name) if name in COMMANDS else None
            if command is None:
                raise ShellInputError(f"unknown command '{args[0]}'")
            with click.Context(command, info_name=name, parent=click.Context(cli, info_name="keep")) as ctx:
                return command.get_help(ctx)
        width = max(len(name) for name in COMMANDS)
        listing = "\n".join(
            f"  {name:<{width}}  {spec.help}" for name, spec in sorted(COMMANDS.items()) if name != "shell"
        )
        return f"{HELP}\n\nCommands (`help CMD` shows one's options):\n{listing}"

    def builtin(self, name: str, args: list[str]) -> bool:
        if name == "exit":
            return False
        if name == "help":
            click.echo(self.help_text(args))
        elif name == "context":
            click.echo(f"{self.vault}:{self.stage}")
        elif name == "clear":
            click.clear()
        elif name == "history":
            path = history_path()
            if path.exists():
                for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                    if line.startswith("+"):
                        click.echo(line[1:])
        elif name == "stage":
            if len(args) != 1:
                raise ShellInputError("usage: stage NAME")
            self.stage = unique_prefix(args[0], self.stages(), "stage")
        elif name == "vault":
            if len(args) != 1:
                raise ShellInputError("usage: vault NAME")
            self.vault = unique_prefix(args[0], self.vaults(), "vault")
        elif name == "use":
            if len(args) != 1:
                raise ShellInputError("usage: use VAULT:STAGE (or use STAGE)")
            target = args[0]
            if ":" in target:
                vault_part, _, stage_part = target.partition(":")
                vault = unique_prefix(vault_part, self.vaults(), "vault") if vault_part else self.vault
                stage = unique_prefix(stage_part, self.stages(), "stage") if stage_part else self.stage
            else:
                vault, stage = self.vault, unique_prefix(target, self.stages(), "stage")
            self.vault, self.stage = vault, stage
        if name in ("use", "stage", "vault") and sys.stdin.isatty():
            click.echo(f"context: {self.vault}:{self.stage}", err=True)
        return True

    def error(self, text: str) -> None:
        click.echo(self.ctx.style(text, fg="red"), err=True, color=self.ctx.color)

    # -- loops -------------------------------------------------------------------------------
    def run_script(self, lines: Iterable[str]) -> int:
        failed = 0
        for line in lines:
            if line.strip().startswith("#"):
                continue
            if not self.execute(line.rstrip("\n")):
                break
            if self.last_code:
                failed = self.last_code
        return failed

    def run_interactive(self) -> int:
        from prompt_toolkit import PromptSession

        session: PromptSession[str] = PromptSession(
            history=_redacting_history(history_path()),
            completer=_ShellCompleter(self),
            complete_while_typing=False,
        )
        click.echo(f"keep shell: {self.ctx.project.settings.app_name} - type `help`, Tab completes, "
                   "`exit` leaves", err=True)
        while True:
            try:
                line = session.prompt(self.prompt)
            except KeyboardInterrupt:
                continue
            except EOFError:
                return 0
            if not self.execute(line):
                return 0


def _redacting_history(path: Path) -> Any:
    from prompt_toolkit.history import FileHistory

    class RedactingHistory(FileHistory):
        """prompt_toolkit's file history, but values never reach the file and it is 0600."""

        def store_string(self, string: str) -> None:
            redacted = redact_for_history(string)
            if redacted:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
                os.close(fd)
                os.chmod(path, 0o600)
                super().store_string(redacted)

    return RedactingHistory(str(path))


def _completer_base() -> type:
    from prompt_toolkit.completion import Completer

    return Completer


class _ShellCompleter(_completer_base()):  # type: ignore[misc]
    def __init__(self, shell: Shell) -> None:
        self.shell = shell

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        from prompt_toolkit.completion import Completion

        text = document.text_before_cursor
        words = text.split()
        current = "" if text.endswith(" ") or not words else words[-1]
        before = words if text.endswith(" ") else words[:-1]
        for choice in self.candidates(before):
            if choice.startswith(current):
                yield Completion(choice, start_position=-len(current))

    def candidates(self, before: list[str]) -> list[str]:
        shell = self.shell
        if not before:
            return sorted({*COMMANDS, *BUILTINS, *ALIASES})
        name = resolve_alias(before[0])
        position = len(before)
        pairs = [f"{v}:{s}" for v in shell.vaults() for s in shell.stages()]
        if name == "use":
            return [*pairs, *shell.stages()] if position == 1 else []
        if name == "stage":
            return shell.stages() if position == 1 else []
        if name == "vault":
            return shell.vaults() if position == 1 else []
        if name == "diff":
            return shell.stages()
        flag_words = self._flag_words(name)
        if position == 1 and name in COMMANDS and COMMANDS[name].key_arg:
            return shell.keys()
        if name == "copy":
            return [*shell.keys(), *shell.stages(), *pairs, *flag_words] if position <= 2 else flag_words
        return flag_words

    @staticmethod
    def _flag_words(name: str) -> list[str]:
        if name not in COMMANDS:
            return []
        command = cli.get_command(click.Context(cli), name)
        if command is None:
            return []
        hidden = {"stage", "env", "vault", "no-interaction", "quiet", "no-color", "help"}
        words = []
        for param in command.params:
            if isinstance(param, click.Option):
                words += [o[2:] for o in param.opts if o.startswith("--") and o[2:] not in hidden]
        return sorted(words)


@keep_command("shell")
def shell_cmd(ctx: Ctx) -> None:
    """Interactive shell: `vault:stage> ` prompt, commands without --stage/--vault."""
    project = ctx.project
    from ..services.secret_ops import working_vault

    # the vault `keep get` would use, else the first of the workspace (`use VAULT` switches)
    vault = working_vault(project, ctx.vault_option) or project.visible_vaults()[0]
    stage = ctx.stage_option or ("local" if "local" in project.visible_stages() else project.visible_stages()[0])
    project.check_stage(stage)
    shell = Shell(ctx, vault, stage)
    from . import context

    context.IN_SHELL = True
    if sys.stdin.isatty() and not ctx.no_interaction:
        code = shell.run_interactive()
    else:
        code = shell.run_script(sys.stdin)
    if code:
        raise click.exceptions.Exit(code)
