"""Single-secret commands: set get show delete restore rename search history rollback rotate.

Each command parses and checks all of its input first, then makes its vault calls, then
renders: a bad option or name is refused before anything is read or written. Data goes to
stdout; messages go to stderr through the Ctx helpers.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import click

from ..formats.mask import maybe_mask
from ..formats.table import render_table
from ..model import NotFound, Secret, UsageError, iso
from ..names import Patterns, is_env_var_name, validate_key, validate_value
from ..services import secret_ops as svc
from .context import Ctx, keep_command
from .getting import SECRET_HEADERS as _SECRET_HEADERS
from .getting import get_secret
from .getting import json_text as _json
from .getting import key_arg as _key_arg
from .getting import target as _target
from .getting import when as _when

if TYPE_CHECKING:
    from ..vaults.base import DeletedSecret


# -- shared helpers -------------------------------------------------------------------------

def _where(slug: str, stage: str) -> str:
    return f"{slug}:{stage}"


def _secret_rows(items: Sequence[Secret], unmask: bool) -> list[list[object]]:
    return [[s.key, maybe_mask(s.value, unmask), s.revision, _when(s.modified)] for s in items]




def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _names(keys: Iterable[str], limit: int = 10) -> str:
    keys = list(keys)
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


# -- set ------------------------------------------------------------------------------------

@keep_command("set")
@click.argument("key", required=False)
@click.argument("value", required=False)
@click.option("--plain", is_flag=True, help="Store unencrypted where the vault allows (SSM String).")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the value from stdin (also: VALUE '-').")
@click.option("--allow-empty", is_flag=True,
              help="Store an empty value read from stdin or the prompt (refused otherwise).")
def set_cmd(ctx: Ctx, key: str | None, value: str | None, plain: bool, from_stdin: bool,
            allow_empty: bool) -> None:
    """Create or update KEY.

    Without VALUE the value is asked for (hidden) on a terminal; with --stdin or '-' all of
    stdin is the value, minus exactly one trailing newline ("\\n") if present. Prefer
    these to a VALUE argument, which other users can see in `ps` and your shell keeps in
    its history.
    """
    if from_stdin and value is not None and value != "-":
        raise UsageError("Give the value either as an argument or with --stdin, not both")
    key = _key_arg(ctx, key, write=True)
    stage, slug, vault = _target(ctx)
    svc.check_plain(vault, secure=not plain)
    if from_stdin or value == "-":
        if sys.stdin.isatty():
            ctx.msg("Reading the value from stdin; end with Ctrl-D")
        text = svc.decode_stdin(sys.stdin.buffer.read())
        if not text and not allow_empty:
            # `cat missing-file | keep set K --stdin` must not erase K
            raise UsageError(
                f"stdin was empty: nothing stored in {key}",
                hint="pass --allow-empty to store an empty value",
            )
    elif value is None:
        if not ctx.interactive:
            raise UsageError("No VALUE given; pass it as an argument, or use --stdin (or '-') to read stdin")
        text = validate_value(ctx.ask("Value", hidden=True, blank=True))
        if not text and not allow_empty:
            raise UsageError(f"Empty value: nothing stored in {key}", hint="pass --allow-empty to store one")
    else:
        text = validate_value(value)
    result = vault.set(stage, key, text, secure=not plain)
    verb = "created" if result.created else "updated"
    ctx.success(f"{verb} {key} in {_where(slug, stage)} (revision {result.revision})")
    if result.adopted:
        ctx.msg(f"{key} was made outside keep; it now carries keep's tags and shows in every listing")
    if result.note:
        ctx.warn(result.note)
    if not is_env_var_name(key):
        ctx.warn(
            f"{key!r} is not a valid environment variable name (letters, digits and _, not starting "
            f"with a digit): env, shell and docker exports of {stage} need --except {key}"
        )


# -- get ------------------------------------------------------------------------------------

@keep_command("get")
@click.argument("key", required=False)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "raw"]), default="table",
              show_default=True)
@click.option("--version", "version", default=None,
              help="A version (or AWS staging label) instead of the current one.")
@click.option("--field", default=None,
              help="One field of a JSON-object value (dotted path for nested fields).")
def get_cmd(ctx: Ctx, key: str | None, fmt: str, version: str | None, field: str | None) -> None:
    """Show one secret, value unmasked."""
    get_secret(ctx, key, fmt, version, field)


# -- show -----------------------------------------------------------------------------------

@keep_command("show")
@click.option("--unmask", is_flag=True, help="Show values in full.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "env"]), default="table",
              show_default=True)
@click.option("--only", multiple=True, help="Comma-separated key globs to keep.")
@click.option("--except", "except_", multiple=True, help="Comma-separated key globs to drop.")
def show_cmd(ctx: Ctx, unmask: bool, fmt: str, only: tuple[str, ...], except_: tuple[str, ...]) -> None:
    """List the secrets of a vault and stage, masked unless --unmask."""
    if fmt == "env" and not unmask:
        raise UsageError("--format env needs --unmask (a masked .env file would look valid but is not)")
    patterns = Patterns.parse(only, except_)
    stage, slug, vault = _target(ctx)
    items = patterns.filter(vault.list(stage))
    foreign = patterns.filter(vault.unmanaged(stage, values=fmt == "json"))
    if foreign:
        listed = 'listed with "managed": false' if fmt == "json" else "not shown"
        ctx.warn(
            f"{_count(len(foreign), 'secret')} in {_where(slug, stage)} not made by keep (no keep tags), {listed}: "
            f"{_names(s.key for s in foreign)}; `keep set KEY` on one adds keep's tags"
        )
    if fmt == "json":
        ctx.out(_json([s.to_dict(maybe_mask(s.value, unmask)) for s in [*items, *foreign]]))
        return
    if fmt == "env":
        from ..formats.render import render

        # render() names every key that is no variable name at once, as `export` does
        ctx.out(render("env", [(s.key, s.value) for s in items]), nl=False)
        return
    if not items:
        ctx.msg(f"No secrets in {_where(slug, stage)}" + (" match the filters" if patterns.active else ""))
        return
    ctx.out(render_table(_SECRET_HEADERS, _secret_rows(items, unmask)))


# -- delete / restore -----------------------------------------------------------------------

@keep_command("delete")
@click.argument("key", required=False)
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@click.option("--purge", is_flag=True, help="Delete for good (no restore), also an already deleted secret.")
@click.option("--version", "version", default=None, metavar="V",
              help="With --purge: remove only this old version for good (local vault).")
def delete_cmd(ctx: Ctx, key: str | None, force: bool, purge: bool, version: str | None) -> None:
    """Delete KEY (restorable with `keep restore` where the vault allows, unless --purge)."""
    key = _key_arg(ctx, key, write=False)
    stage, slug, vault = _target(ctx)
    where = _where(slug, stage)
    if version is not None:
        if not purge:
            raise UsageError("--version needs --purge: one version can only be removed for good")
        if not force and not ctx.confirm(f"Remove version {version} of '{key}' from {where} for good?"):
            ctx.msg("Cancelled; nothing deleted.")
            return
        vault.purge_version(stage, key, version)
        ctx.success(f"removed version {version} of {key} from {where} for good")
        return
    if not force:
        # a missing key is exit 3 before anything is asked; with --force the delete call
        # itself says not found, so no read (and no read permission) is needed
        svc.check_deletable(vault, stage, key, purge)
        how = "(restorable with `keep restore`)" if svc.restorable(vault, purge) else "for good"
        if not ctx.confirm(f"Delete '{key}' from {where} {how}?"):
            ctx.msg("Cancelled; nothing deleted.")
            return
    vault.delete(stage, key, purge=purge)
    if svc.restorable(vault, purge):
        ctx.success(f"deleted {key} from {where} (undo with `keep restore {key}`)")
    else:
        ctx.success(f"deleted {key} from {where} for good")


#: at most this many deleted keys are offered as a choice; more are listed, then typed
_PICK_LIMIT = 30


@keep_command("restore")
@click.argument("key", required=False)
@click.option("--list", "list_only", is_flag=True,
              help="List the deleted keys that can still be restored (restores nothing).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Output of --list.")
def restore_cmd(ctx: Ctx, key: str | None, list_only: bool, fmt: str) -> None:
    """Undo the delete of KEY.

    Without KEY on a terminal, keep offers the stage's deleted keys to choose from (where the
    vault's driver can list them: "deleted listing" in the README's driver table). --list
    prints them instead.
    """
    if list_only:
        if key is not None:
            raise UsageError("restore --list takes no KEY: it lists the keys that can be restored")
        _list_deleted(ctx, fmt)
        return
    if fmt != "table":
        raise UsageError("--format applies to restore --list only")
    if key is None and not ctx.interactive:
        raise UsageError("Key is required (no terminal to ask on)",
                         hint="`keep restore --list` shows the keys that can be restored")
    stage, slug, vault = _target(ctx)  # once: on a terminal it may ask for the stage and the vault
    if key is None and vault.capabilities.list_deleted:
        key = _pick_deleted(ctx, svc.deleted_secrets(vault, stage), _where(slug, stage))
    key = _key_arg(ctx, key, write=False)
    vault.restore(stage, key)
    ctx.success(f"restored {key} in {_where(slug, stage)}")


def _list_deleted(ctx: Ctx, fmt: str) -> None:
    stage, slug, vault = _target(ctx)
    found = svc.deleted_secrets(vault, stage)
    if fmt == "json":
        ctx.out(_json([{"key": d.key, "name": d.name, "vault": d.vault, "stage": d.stage,
                        "deleted": iso(d.deleted)} for d in found]))
        return
    if not found:
        ctx.msg(f"No deleted secrets to restore in {_where(slug, stage)}")
        return
    ctx.msg(f"{_count(len(found), 'deleted secret')} that can be restored in {_where(slug, stage)}, newest first")
    ctx.out(render_table(("Key", "Deleted", "Name"), [[d.key, _when(d.deleted), d.name] for d in found]))


def _pick_deleted(ctx: Ctx, found: Sequence[DeletedSecret], where: str) -> str:
    if not found:
        raise NotFound(f"No deleted secrets to restore in {where}")
    keys = [d.key for d in found]
    if len(keys) <= _PICK_LIMIT:
        return ctx.select("Key to restore", keys, default=keys[0] if len(keys) == 1 else None)
    ctx.msg(f"{_count(len(keys), 'deleted secret')} in {where}, newest first:")
    ctx.msg(render_table(("Key", "Deleted"), [[d.key, _when(d.deleted)] for d in found]))
    return ctx.ask("Key to restore")


# -- rename ---------------------------------------------------------------------------------

@keep_command("rename")
@click.argument("old", required=False)
@click.argument("new", required=False)
@click.option("--force", is_flag=True, help="Do not ask for confirmation.")
@click.option("--overwrite", is_flag=True, help="Replace NEW if it already exists.")
def rename_cmd(ctx: Ctx, old: str | None, new: str | None, force: bool, overwrite: bool) -> None:
    """Rename OLD to NEW (copy, then delete OLD; rolled back if the delete fails).

    On a terminal it asks first unless --force; without one it proceeds, because rename never
    replaces an existing secret unless --overwrite says so.
    """
    old = svc.validate_lookup_key(old if old is not None else ctx.ask("Old key"))
    new = validate_key(new if new is not None else ctx.ask("New key"))
    stage, slug, vault = _target(ctx)
    where = _where(slug, stage)
    asked = not force and ctx.interactive
    if asked and not ctx.confirm(f"Rename '{old}' to '{new}' in {where}?", default=True):
        ctx.msg("Cancelled; nothing renamed.")
        return
    result = svc.rename(vault, stage, old, new, overwrite=overwrite)
    note = f"; replaced the previous value of {new}" if result.overwrote else ""
    ctx.success(f"renamed {old} to {new} in {where} (revision {result.write.revision}{note})")


# -- search ---------------------------------------------------------------------------------

@keep_command("search")
@click.argument("query", required=False)
@click.option("--unmask", is_flag=True, help="Show values in full.")
@click.option("--case-sensitive", is_flag=True, help="Match case exactly.")
@click.option("--keys", "in_keys", is_flag=True, help="Search keys instead of values.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--only", multiple=True, help="Comma-separated key globs to keep.")
@click.option("--except", "except_", multiple=True, help="Comma-separated key globs to drop.")
def search_cmd(
    ctx: Ctx,
    query: str | None,
    unmask: bool,
    case_sensitive: bool,
    in_keys: bool,
    fmt: str,
    only: tuple[str, ...],
    except_: tuple[str, ...],
) -> None:
    """Find secrets whose value (or key, with --keys) contains QUERY."""
    if query is None:
        query = ctx.ask("Search query")
    if not query:
        raise UsageError("The search query cannot be empty")
    patterns = Patterns.parse(only, except_)
    stage, slug, vault = _target(ctx)
    found = svc.search(patterns.filter(vault.list(stage)), query, case_sensitive=case_sensitive, keys=in_keys)
    what = "keys" if in_keys else "values"
    where = _where(slug, stage)
    if fmt == "json":
        ctx.msg(f"Found {len(found)} secret(s) whose {what} contain {query!r} in {where}")
        ctx.out(_json([s.to_dict(maybe_mask(s.value, unmask)) for s in found]))
        return
    if not found:
        ctx.msg(f"No secrets whose {what} contain {query!r} in {where}")
        return
    ctx.msg(f"Found {len(found)} secret(s) whose {what} contain {query!r} in {where}")
    ctx.out(render_table(_SECRET_HEADERS, _secret_rows(found, unmask)))


# -- history / rollback ---------------------------------------------------------------------

@keep_command("history")
@click.argument("key", required=False)
@click.option("--limit", type=click.IntRange(min=0), default=10, show_default=True,
              help="Most versions shown; 0 = all.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--unmask", is_flag=True, help="Show values in full.")
@click.option("--since", default=None,
              help="Only versions at or after: 2024-01-31, 2024-01-31T12:00, 7d, '2 weeks ago'.")
@click.option("--before", default=None, help="Only versions at or before this moment (forms as --since).")
@click.option("--user", default=None, help="Only versions by a user containing this text (case-insensitive).")
def history_cmd(
    ctx: Ctx,
    key: str | None,
    limit: int,
    fmt: str,
    unmask: bool,
    since: str | None,
    before: str | None,
    user: str | None,
) -> None:
    """List the versions of KEY, newest first."""
    flt = svc.HistoryFilter(
        since=svc.parse_moment(since) if since is not None else None,
        before=svc.parse_moment(before) if before is not None else None,
        user=user or None,
    )
    key = _key_arg(ctx, key, write=False)
    stage, slug, vault = _target(ctx)
    versions = svc.history(vault, stage, key, limit or None, flt)
    if fmt == "json":
        ctx.out(_json([v.to_dict(maybe_mask(v.value, unmask)) for v in versions]))
        return
    if not versions:
        ctx.msg(f"No versions of {key} in {_where(slug, stage)} match the filters")
        return
    ctx.msg(f"History of {key} in {_where(slug, stage)}, newest first")
    rows = [
        [
            v.version,
            "<none>" if v.value is None else maybe_mask(v.value, unmask),
            _when(v.modified),
            v.by or "<unknown>",
            svc.labels_text(v.labels),
        ]
        for v in versions
    ]
    ctx.out(render_table(("Version", "Value", "Modified", "By", "Labels"), rows))


@keep_command("rollback")
@click.argument("key", required=False)
@click.option("--to", "to", required=True, help="The version to make current again (see `keep history`).")
def rollback_cmd(ctx: Ctx, key: str | None, to: str) -> None:
    """Make an earlier version of KEY current again."""
    if not to.strip():
        raise UsageError("--to needs a version (see `keep history KEY`)")
    key = _key_arg(ctx, key, write=False)
    stage, slug, vault = _target(ctx)
    result = vault.rollback(stage, key, to)
    where = _where(slug, stage)
    ctx.success(f"rolled back {key} in {where} to version {to} (now revision {result.revision})")


# -- rotate ---------------------------------------------------------------------------------

@keep_command("rotate")
@click.argument("key", required=False)
@click.option("--length", type=int, default=None,
              help=f"Length of the new value (default 32, {svc.MIN_LENGTH}-{svc.MAX_LENGTH}).")
@click.option("--charset", type=click.Choice(list(svc.CHARSETS)), default=None,
              help="Characters used (default alnum).")
@click.option("--lambda", "lambda_arn", default=None,
              help="Secrets Manager: configure rotation by this Lambda.")
@click.option("--every", default=None,
              help="With --lambda: rotation interval in days, e.g. 30d (default: keep the current schedule).")
def rotate_cmd(
    ctx: Ctx,
    key: str | None,
    length: int | None,
    charset: str | None,
    lambda_arn: str | None,
    every: str | None,
) -> None:
    """Give KEY a new random value (from the OS CSPRNG), or with --lambda configure and start
    Secrets Manager rotation."""
    rotation = svc.Rotation.parse(length, charset, lambda_arn, every)  # checked before any read
    key = _key_arg(ctx, key, write=True)
    stage, slug, vault = _target(ctx)
    where = _where(slug, stage)
    try:
        result = svc.rotate(vault, stage, key, rotation)
    except NotFound as exc:
        if rotation.lambda_arn is not None or exc.key != key:
            raise
        hint = f"rotate replaces an existing value; create it with `keep set {key}`"
        raise NotFound(exc.message, hint=hint) from None
    if rotation.lambda_arn is not None:
        schedule = f"every {rotation.every_days} days" if rotation.every_days is not None else "schedule unchanged"
        ctx.success(f"rotation of {key} in {where} configured ({rotation.lambda_arn}, {schedule}) and started")
        return
    ctx.success(
        f"rotated {key} in {where}: new {rotation.length}-character {rotation.charset} value"
        f" (revision {result.revision})"
    )
