"""`keep get`'s work, and the helpers the single-secret commands share, without click: the
click command (:mod:`keep_secrets.cli.secrets`) and the click-free fast path
(:mod:`keep_secrets.cli.quick`) both run :func:`get_secret`, so they cannot drift apart.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ..formats.table import render_table
from ..model import UsageError
from ..names import validate_key
from ..services import secret_ops as svc

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: `keep get` start-up)
if TYPE_CHECKING:
    from ..vaults.base import Vault
    from .context import Ctx

SECRET_HEADERS = ("Key", "Value", "Revision", "Modified")


def when(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def json_text(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def key_arg(ctx: Ctx, key: str | None, *, write: bool) -> str:
    """The KEY argument, or asked for on a terminal; validated with the write rules on write
    paths and with the looser lookup rules where an existing secret is only found."""
    if key is None:
        key = ctx.ask("Key")
    return validate_key(key) if write else svc.validate_lookup_key(key)


def target(ctx: Ctx) -> tuple[str, str, Vault]:
    """Resolve stage and vault (both validated) and open the vault."""
    stage = ctx.resolve_stage()
    slug = ctx.resolve_vault_slug()
    return stage, slug, ctx.vault(slug)


def get_secret(ctx: Ctx, key: str | None, fmt: str, version: str | None, field: str | None) -> None:
    """Show one secret, value unmasked."""
    if field is not None and not field:
        raise UsageError("--field cannot be empty")
    key = key_arg(ctx, key, write=False)
    stage, _slug, vault = target(ctx)
    secret = vault.get(stage, key, version)
    value = svc.extract_field(secret.value, field, key) if field else secret.value
    if fmt == "raw":
        ctx.out(value)
    elif fmt == "json":
        data = secret.to_dict(value)
        if field:
            data["field"] = field
        ctx.out(json_text(data))
    else:
        ctx.out(render_table(SECRET_HEADERS, [[secret.key, value, secret.revision, when(secret.modified)]]))
