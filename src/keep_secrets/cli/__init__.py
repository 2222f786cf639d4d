"""The `keep` command: root group, lazy command loading, and error -> exit-code mapping.

Command modules are imported only when their command runs, so `keep --version` and
`keep get` stay fast (boto3, rich, prompt_toolkit and starlette load only where used).
"""

from __future__ import annotations

import os
import sys
from typing import Any, NamedTuple

import click

from .. import __version__
from ..model import KeepError


class Cmd(NamedTuple):
    """One command of the registry, read by the CLI (lazy loading, `--help`), the shell
    (translation of its words, completion, `help`) and the error wording (cli/hints.py)."""

    #: "module:attribute" under keep_secrets.cli, imported only when the command runs
    target: str
    #: the one-line help (here so `keep --help` imports no command module)
    help: str
    #: shell: leading bare words that are always positional (free text: keys, values, queries)
    literal: int = 0
    #: shell: the first remaining bare word becomes this option (`export out.env` -> --file)
    positional_option: str | None = None
    #: shell: the command gets the shell's vault and stage as its --vault/--stage defaults
    context: bool = True
    #: shell: the command changes secrets (cached key completions are dropped)
    writes: bool = False
    #: shell: its first argument completes as a key of the current stage
    key_arg: bool = False


# Help text lives here so `keep --help` does not import every command module.
COMMANDS: dict[str, Cmd] = {
    "init": Cmd("project:init_cmd", "Create or repair .keep/ in this directory", context=False),
    "info": Cmd("project:info_cmd", "Show version, paths, settings, vaults and stages", context=False),
    "vault:add": Cmd("project:vault_add_cmd", "Add a vault", context=False),
    "vault:edit": Cmd("project:vault_edit_cmd", "Edit a vault's configuration", context=False),
    "vault:list": Cmd("project:vault_list_cmd", "List configured vaults", context=False),
    "vault:delete": Cmd(
        "project:vault_delete_cmd", "Remove a vault's configuration (remote secrets untouched)", context=False,
    ),
    "vault:default": Cmd("project:vault_default_cmd", "Set the default vault", context=False),
    "stage:add": Cmd("project:stage_add_cmd", "Add a stage", context=False),
    "stage:remove": Cmd(
        "project:stage_remove_cmd", "Remove a stage (local/staging/production are protected)", context=False,
    ),
    "env:add": Cmd("project:stage_add_cmd", "Alias of stage:add", context=False),
    "env:remove": Cmd("project:stage_remove_cmd", "Alias of stage:remove", context=False),
    "workspace": Cmd("project:workspace_cmd", "Choose which vaults and stages you see", context=False),
    "set": Cmd("secrets:set_cmd", "Create or update a secret", literal=2, writes=True, key_arg=True),
    "get": Cmd("secrets:get_cmd", "Show one secret", literal=1, key_arg=True),
    "show": Cmd("secrets:show_cmd", "List the secrets of a vault and stage (masked)"),
    "delete": Cmd(
        "secrets:delete_cmd", "Delete a secret (recoverable where the vault allows)",
        literal=1, writes=True, key_arg=True,
    ),
    "restore": Cmd("secrets:restore_cmd", "Undo a delete", literal=1, writes=True, key_arg=True),
    "rename": Cmd("secrets:rename_cmd", "Rename a secret", literal=2, writes=True, key_arg=True),
    "search": Cmd("secrets:search_cmd", "Find secrets by value (or key with --keys)", literal=1),
    "history": Cmd("secrets:history_cmd", "List a secret's versions, newest first", literal=1, key_arg=True),
    "rollback": Cmd(
        "secrets:rollback_cmd", "Make an earlier version current again", literal=1, writes=True, key_arg=True,
    ),
    "rotate": Cmd(
        "secrets:rotate_cmd", "Rotate a secret (new random value, or AWS rotation with --lambda)",
        literal=1, writes=True, key_arg=True,
    ),
    "copy": Cmd("moving:copy_cmd", "Copy secrets between stages and vaults", context=False, writes=True),
    "diff": Cmd("moving:diff_cmd", "Compare secrets across stages and vaults", context=False),
    "import": Cmd("moving:import_cmd", "Import secrets from a .env or JSON file", writes=True),
    "export": Cmd(
        "exporting:export_cmd", "Export secrets (env, shell, json, yaml, csv, docker) or render a template",
        positional_option="--file",
    ),
    "template:add": Cmd("exporting:template_add_cmd", "Generate a template from a stage's secrets"),
    "template:validate": Cmd("exporting:template_validate_cmd", "Check a template's placeholders", literal=1),
    "refs": Cmd("gates:refs_cmd", "Deployment references (ECS, CloudFormation, ExternalSecret) without reading values"),
    "check": Cmd("gates:check_cmd", "Check secrets against .keep/schema.toml (required keys, patterns)"),
    "schema:init": Cmd("gates:schema_init_cmd", "Write .keep/schema.toml from the keys present (names only)"),
    "scan": Cmd("gates:scan_cmd", "Find the stages' secret values in files (pre-commit hook; never prints them)"),
    "run": Cmd("run:run_cmd", "Run a command with secrets in its environment"),
    "verify": Cmd("access:verify_cmd", "Probe list/read/write/delete/history permissions", context=False),
    "iam": Cmd("access:iam_cmd", "Print a least-privilege IAM policy", context=False),
    "replicate": Cmd("aws:replicate_cmd", "Bring Secrets Manager replicas in line with replica_regions", context=False),
    "shell": Cmd("shell:shell_cmd", "Interactive shell"),
    "server": Cmd("server:server_cmd", "Local web UI", context=False),
}


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
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"{__name__}."):
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
@click.pass_context
def cli(ctx: click.Context, stage: str | None, vault: str | None, no_interaction: bool, quiet: bool,
        no_color: bool) -> None:
    """keep: secrets per stage in local, SSM and Secrets Manager vaults."""
    from .context import Ctx

    ctx.obj = Ctx(stage=stage, vault=vault, no_interaction=no_interaction, quiet=quiet, no_color=no_color)
    if ctx.invoked_subcommand is None:
        from ..project import find_root

        name = "shell" if find_root() is not None else "init"
        command = cli.get_command(ctx, name)
        assert command is not None
        ctx.invoke(command)


def _error(message: str, no_color: bool) -> None:
    text = f"keep: {message}"
    if not no_color:
        text = click.style("keep: ", fg="red", bold=True) + message
    click.echo(text, err=True, color=None if not no_color else False)


def run_args(args: list[str]) -> int:
    """Run one keep command line in this process and return its exit code (used by `main`
    and by the shell). Expected errors become one line on stderr, never a traceback."""
    no_color = bool(os.environ.get("NO_COLOR")) or "--no-color" in args or not sys.stderr.isatty()
    debug = bool(os.environ.get("KEEP_DEBUG"))
    try:
        rv = cli.main(args=args, prog_name="keep", standalone_mode=False)
    except KeepError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        from .hints import cli_line

        _error(cli_line(exc), no_color)
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc), err=True)
        return 2
    except click.UsageError as exc:
        hint = ""
        if exc.ctx is not None and exc.ctx.command_path and exc.ctx.command_path != "keep":
            hint = f" (see `{exc.ctx.command_path} --help`)"
        if (
            isinstance(exc, click.NoSuchOption)
            and not exc.option_name.startswith("--")
            and exc.ctx is not None
            and exc.ctx.info_name == "set"
        ):
            # a random password like -x9f... is parsed as short options; say how to pass it
            hint = (
                " (a VALUE starting with '-' goes after `--`, options first: "
                "keep set --stage=S -- KEY VALUE, or comes from --stdin; a KEY cannot start with '-')"
            )
        _error(f"{exc.format_message()}{hint}", no_color)
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt, EOFError):
        _error("interrupted", no_color)
        return 130
    except click.ClickException as exc:
        _error(exc.format_message(), no_color)
        return exc.exit_code
    except BrokenPipeError:
        # stdout closed early (`keep show | head`): not worth a message
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 1
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except PermissionError as exc:
        # a file keep did not expect to be locked: still one line naming it (exit 1)
        if debug:
            raise
        _error(f"Cannot access {exc.filename or 'a file'}: {exc.strerror or 'Permission denied'}", no_color)
        return 1
    except Exception as exc:
        if debug:
            raise
        _error(f"unexpected error: {type(exc).__name__}: {exc} (set KEEP_DEBUG=1 for details)", no_color)
        return 1
    return rv if isinstance(rv, int) else 0


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point."""
    sys.exit(run_args(sys.argv[1:] if argv is None else list(argv)))
