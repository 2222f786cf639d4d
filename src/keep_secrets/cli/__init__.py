"""The `keep` command: the command registry, the entry point and error -> exit-code mapping.

Command modules are imported only when their command runs, so `keep --version` and
`keep get` stay fast (boto3, rich, prompt_toolkit and starlette load only where used). click
itself is imported only when a command line needs it: the root group lives in
:mod:`keep_secrets.cli.root` (reachable here as `cli`, loaded on first use), and `main` first
offers the command line to :mod:`keep_secrets.cli.quick`, which answers `keep --version` and
the common forms of `keep get` exactly as click would, without it.
"""

from __future__ import annotations

import os
import sys

from ..record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: `keep get` start-up)
if TYPE_CHECKING:
    from typing import Any


@record(frozen=True)
class Cmd:
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
    "cache": Cmd("cache:cache_cmd", "The encrypted read cache: `cache status`, `cache clear [--vault SLUG]`",
                 context=False),
    "replicate": Cmd("aws:replicate_cmd", "Bring Secrets Manager replicas in line with replica_regions", context=False),
    "shell": Cmd("shell:shell_cmd", "Interactive shell"),
    "server": Cmd("server:server_cmd", "Local web UI", context=False),
}


def __getattr__(name: str) -> Any:
    """`cli` and `LazyGroup` load click on first use (PEP 562)."""
    if name in ("cli", "LazyGroup", "CONTEXT_SETTINGS"):
        from . import root

        return getattr(root, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _error(message: str, no_color: bool) -> None:
    import click

    text = f"keep: {message}"
    if not no_color:
        text = click.style("keep: ", fg="red", bold=True) + message
    click.echo(text, err=True, color=None if not no_color else False)


def error_settings(args: list[str]) -> tuple[bool, bool]:
    """(no_color, debug) for reporting errors of the command line `args`."""
    no_color = bool(os.environ.get("NO_COLOR")) or "--no-color" in args or not sys.stderr.isatty()
    return no_color, bool(os.environ.get("KEEP_DEBUG"))


def run_args(args: list[str]) -> int:
    """Run one keep command line in this process and return its exit code (used by `main`
    and by the shell). Expected errors become one line on stderr, never a traceback."""
    from .root import cli

    no_color, debug = error_settings(args)
    try:
        rv = cli.main(args=args, prog_name="keep", standalone_mode=False)
    except BaseException as exc:
        return handle_error(exc, no_color, debug)
    return rv if isinstance(rv, int) else 0


def handle_error(error: BaseException, no_color: bool, debug: bool) -> int:
    """The exit code for an exception out of a command, after its one line on stderr (or the
    exception itself, re-raised, when it is not keep's to report: KEEP_DEBUG, BaseException)."""
    import click

    from ..model import KeepError

    try:
        raise error
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
        _error(f"{exc.format_message()}{_usage_hint(exc)}", no_color)
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


def _usage_hint(exc: Any) -> str:
    """Where to look after a click usage error (`exc` is a click.UsageError)."""
    import click

    if (
        isinstance(exc, click.NoSuchOption)
        and not exc.option_name.startswith("--")
        and exc.ctx is not None
        and exc.ctx.info_name == "set"
    ):
        # a random password like -x9f... is parsed as short options; say how to pass it
        return (
            " (a VALUE starting with '-' goes after `--`, options first: "
            "keep set --stage=S -- KEY VALUE, or comes from --stdin; a KEY cannot start with '-')"
        )
    if exc.ctx is not None and exc.ctx.command_path and exc.ctx.command_path != "keep":
        return f" (see `{exc.ctx.command_path} --help`)"
    return ""


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point: `keep --version` and the common `keep get` are answered
    without importing click (:mod:`keep_secrets.cli.quick`), everything else by click."""
    from .quick import run

    args = sys.argv[1:] if argv is None else list(argv)
    code = run(args)
    sys.exit(run_args(args) if code is None else code)
