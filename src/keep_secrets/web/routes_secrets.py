"""Endpoints for single secrets: list/search (masked), reveal, create, update, delete,
restore, rename, copy to another stage, history and rollback.

The key travels as a field (query or JSON body), never as a path segment, so keys a store
holds that keep would not write (`a/b` in SSM) can still be read and deleted, and nothing is
URL-decoded twice (Keep's §12.5). Writes validate the key with the same rule as the CLI.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.routing import Route

from ..formats.mask import mask
from ..model import Conflict, Expect, PreconditionFailed, Secret, UsageError, Version, iso
from ..names import validate_key, validate_value
from ..services import secret_ops as svc
from ..services.copying import (
    REPORT_ORDER,
    Location,
    apply,
    plan_copy,
    refuse_conflicts,
    summarise,
)
from ..services.secret_ops import StaleRevision
from .api import Call


def secret_json(secret: Secret, reveal: bool = False) -> dict[str, Any]:
    data = secret.to_dict(secret.value if reveal else mask(secret.value))
    data["masked"] = not reveal
    return data


def version_json(version: Version) -> dict[str, Any]:
    data = version.to_dict(mask(version.value) if version.value is not None else None)
    data["masked"] = version.value is not None
    return data


def _where(call: Call) -> tuple[str, str]:
    return call.vault_slug(), call.stage()


# -- revisions ---------------------------------------------------------------------------------
# Every edit names the revision it started from; a stale one is a 409 carrying both values
# masked, so the page can offer "reload" or "overwrite" (never a silent overwrite). Edits of
# one key through this server are serialised, so the check and the write cannot interleave
# with another tab's.

_locks_guard = threading.Lock()
_locks: dict[tuple[str, str, str, str], threading.Lock] = {}


@contextmanager
def _editing(root: object, slug: str, stage: str, *keys: str) -> Iterator[None]:
    names = sorted({(str(root), slug, stage, key) for key in keys})
    with _locks_guard:
        locks = [_locks.setdefault(name, threading.Lock()) for name in names]
    for lock in locks:
        lock.acquire()
    try:
        yield
    finally:
        for lock in reversed(locks):
            lock.release()


def _revision(call: Call, *, required: bool = True) -> str | None:
    value = call.raw("revision")
    if value is None or value == "":
        if required:
            raise UsageError(
                "Missing required field 'revision': the revision your edit started from",
                hint="read it with GET /api/secret?masked=1; a changed secret is then refused with 409",
            )
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise UsageError("Field 'revision' must be a string")
    return str(value)


def _stale(exc: StaleRevision, yours: str | None) -> StaleRevision:
    current = exc.current
    exc.details = {
        "conflict": {
            "key": exc.key,
            "expected": exc.expected,
            "current": None if current is None else {
                "revision": current.revision, "value": mask(current.value), "modified": current.to_dict()["modified"],
                "secure": current.secure,
            },
            "yours": None if yours is None else mask(yours),
        }
    }
    return exc


def list_secrets(call: Call) -> dict[str, Any]:
    """`?vault&stage[&q&in=keys|values&case=1&only&except]`: the stage's secrets, masked."""
    slug, stage = _where(call)
    patterns = call.patterns()
    query = call.text("q")
    where = call.text("in", "values")
    if where not in ("keys", "values", "both"):
        raise UsageError("Field 'in' must be keys, values or both")
    items = patterns.filter(call.vault(slug).list(stage))
    if query:
        case = call.flag("case")
        if where == "both":
            by_key = {s.key for s in svc.search(items, query, case_sensitive=case, keys=True)}
            by_value = {s.key for s in svc.search(items, query, case_sensitive=case, keys=False)}
            items = [s for s in items if s.key in by_key or s.key in by_value]
        else:
            items = svc.search(items, query, case_sensitive=case, keys=where == "keys")
    vault = call.vault(slug)
    return {
        "vault": slug,
        "stage": stage,
        "supports_restore": vault.delete_is_restorable(),  # what the delete dialog promises
        "supports_plain": vault.capabilities.accepts_plain,
        "stores_plain": vault.capabilities.plain_values,
        "secrets": [secret_json(s) for s in items],
    }


def get_secret(call: Call) -> dict[str, Any]:
    """Reveal one value (optionally an older `version`, or one `field` of a JSON value)."""
    slug, stage = _where(call)
    key = svc.validate_lookup_key(call.text("key", required=True))
    secret = call.vault(slug).get(stage, key, call.optional_text("version"))
    if call.flag("masked"):
        # what an editor needs before anything is revealed: revision, secure flag, masked value
        return {"secret": secret_json(secret)}
    data = secret_json(secret, reveal=True)
    field = call.optional_text("field")
    if field:
        data["field"] = field
        data["value"] = svc.extract_field(secret.value, field, key)
    return {"secret": data}


def _value_and_secure(call: Call, slug: str) -> tuple[str, bool]:
    value = call.raw("value")
    if not isinstance(value, str):
        raise UsageError("Missing required field 'value' (a string)")
    validate_value(value)
    secure = call.flag("secure", True)
    svc.check_plain(call.vault(slug), secure)
    return value, secure


def create_secret(call: Call) -> tuple[int, dict[str, Any]]:
    slug, stage = _where(call)
    key = validate_key(call.text("key", required=True))
    value, secure = _value_and_secure(call, slug)
    vault = call.vault(slug)
    exists = Conflict(f"Secret '{key}' already exists in {slug}:{stage}", hint="edit it instead", key=key)
    if vault.exists(stage, key):
        raise exists
    try:
        result = vault.set_if(stage, key, value, Expect(), secure=secure)  # created meanwhile: 409, not overwritten
    except PreconditionFailed:
        raise exists from None
    return 201, {"key": key, "vault": slug, "stage": stage, "revision": result.revision, "created": result.created}


def update_secret(call: Call) -> dict[str, Any]:
    """Replace the value of an existing secret that is still at `revision` (404 if there is
    none: use POST to create; 409 if it changed since)."""
    slug, stage = _where(call)
    key = validate_key(call.text("key", required=True))
    value, _ = _value_and_secure(call, slug)
    expected = _revision(call)
    assert expected is not None
    vault = call.vault(slug)
    with _editing(call.root, slug, stage, key):
        try:
            current = svc.check_revision(vault, stage, key, expected)
        except StaleRevision as exc:
            if exc.current is None:
                vault.get(stage, key)  # gone: the 404 the page turns into "deleted elsewhere"
            raise _stale(exc, value) from None
        secure = call.flag("secure", current.secure)
        if not secure and not vault.capabilities.accepts_plain:
            secure = True
        if current.value == value and current.secure == secure:
            return {"key": key, "vault": slug, "stage": stage, "revision": current.revision, "changed": False}
        try:
            # conditional in the store itself: a CLI or another server writing in between loses nothing
            result = vault.set_if(stage, key, value, Expect(expected), secure=secure)
        except PreconditionFailed:
            try:
                svc.check_revision(vault, stage, key, expected)
            except StaleRevision as exc:
                raise _stale(exc, value) from None
            raise
    return {"key": key, "vault": slug, "stage": stage, "revision": result.revision, "changed": True}


def delete_secret(call: Call) -> dict[str, Any]:
    """Delete a secret still at `revision` (409 if it changed since; `purge` of a secret
    already deleted needs no revision)."""
    slug, stage = _where(call)
    key = svc.validate_lookup_key(call.text("key", required=True))
    purge = call.flag("purge")
    expected = _revision(call, required=not purge)
    vault = call.vault(slug)
    with _editing(call.root, slug, stage, key):
        if expected is not None:
            try:
                svc.check_revision(vault, stage, key, expected)
            except StaleRevision as exc:
                if exc.current is None:
                    vault.get(stage, key)  # already gone: 404
                raise _stale(exc, None) from None
        vault.delete(stage, key, purge=purge)
    return {"key": key, "vault": slug, "stage": stage, "restorable": svc.restorable(vault, purge)}


def deleted_secrets(call: Call) -> dict[str, Any]:
    """The stage's deleted secrets that can still be restored, newest first, as the store lists
    them (whoever deleted them: this page, the CLI, another tool). `complete` is false for a
    driver that restores but cannot list (the page then asks for a typed key)."""
    slug, stage = _where(call)
    vault = call.vault(slug)
    caps = vault.capabilities
    answer: dict[str, Any] = {"vault": slug, "stage": stage, "supports_restore": caps.restore,
                              "complete": caps.list_deleted or not caps.restore, "deleted": []}
    if caps.list_deleted:
        answer["deleted"] = [
            {"key": d.key, "name": d.name, "deleted": iso(d.deleted)}
            for d in svc.deleted_secrets(vault, stage)
        ]
    return answer


def restore_secret(call: Call) -> dict[str, Any]:
    slug, stage = _where(call)
    key = svc.validate_lookup_key(call.text("key", required=True))
    call.vault(slug).restore(stage, key)
    return {"key": key, "vault": slug, "stage": stage, "restored": True}


def rename_secret(call: Call) -> dict[str, Any]:
    slug, stage = _where(call)
    old = svc.validate_lookup_key(call.text("key", required=True))
    new = validate_key(call.text("new_key", required=True))
    expected = _revision(call)
    with _editing(call.root, slug, stage, old, new):
        try:
            result = svc.rename(call.vault(slug), stage, old, new, overwrite=call.flag("overwrite"),
                                expected_revision=expected)
        except StaleRevision as exc:
            if exc.current is None:
                call.vault(slug).get(stage, old)  # gone: 404
            raise _stale(exc, None) from None
    return {
        "key": new, "old_key": old, "vault": slug, "stage": stage,
        "revision": result.write.revision, "overwrote": result.overwrote,
    }


def copy_secret(call: Call) -> dict[str, Any]:
    """Copy one key to another vault:stage with the CLI's copy engine: an existing different
    value is a 409 unless `overwrite`; an equal value is not written; `dry_run` only plans."""
    slug, stage = _where(call)
    key = validate_key(call.text("key", required=True))
    target = Location(call.vault_slug("to_vault"), call.stage("to_stage"))
    source = Location(slug, stage)
    dry_run = call.flag("dry_run")
    plan = plan_copy(call.vault, source, target, key=key, overwrite=call.flag("overwrite"))
    if not dry_run:
        refuse_conflicts(plan, "overwrite")
    outcome = apply(plan, call.vault(target.vault), dry_run=dry_run)
    if outcome.first_error is not None and not dry_run:
        raise outcome.first_error
    item = plan.items[0]
    return {
        "key": key, "from": source.label, "to": target.label, "dry_run": dry_run,
        "action": item.action, "outcome": item.outcome, "revision": item.revision,
        "summary": summarise(outcome, REPORT_ORDER),
    }


def history(call: Call) -> dict[str, Any]:
    slug, stage = _where(call)
    key = svc.validate_lookup_key(call.text("key", required=True))
    limit = call.integer("limit", 20, 0, 1000)
    versions = svc.history(call.vault(slug), stage, key, limit or None, svc.HistoryFilter())
    return {"key": key, "vault": slug, "stage": stage, "versions": [version_json(v) for v in versions]}


def rollback(call: Call) -> dict[str, Any]:
    slug, stage = _where(call)
    key = svc.validate_lookup_key(call.text("key", required=True))
    version = call.text("version", required=True).strip()
    if not version:
        raise UsageError("Missing required field 'version'")
    result = call.vault(slug).rollback(stage, key, version)
    return {"key": key, "vault": slug, "stage": stage, "version": version, "revision": result.revision}


def generate(call: Call) -> dict[str, Any]:
    """A random value from the OS CSPRNG (what `keep rotate` stores), for the create/edit
    dialogs; nothing is stored."""
    length = call.integer("length", 32, svc.MIN_LENGTH, svc.MAX_LENGTH)
    charset = call.text("charset", "alnum")
    return {"value": svc.generate_value(length, charset), "length": length, "charset": charset}


def routes(make: Any) -> list[Route]:
    return [
        Route("/api/secrets", make(list_secrets), methods=["GET"]),
        Route("/api/secret", make(get_secret), methods=["GET"]),
        Route("/api/secret", make(create_secret), methods=["POST"]),
        Route("/api/secret", make(update_secret), methods=["PUT"]),
        Route("/api/secret", make(delete_secret), methods=["DELETE"]),
        Route("/api/secret/restore", make(restore_secret), methods=["POST"]),
        Route("/api/secrets/deleted", make(deleted_secrets), methods=["GET"]),
        Route("/api/secret/rename", make(rename_secret), methods=["POST"]),
        Route("/api/secret/copy", make(copy_secret), methods=["POST"]),
        Route("/api/secret/history", make(history), methods=["GET"]),
        Route("/api/secret/rollback", make(rollback), methods=["POST"]),
        Route("/api/secret/generate", make(generate), methods=["POST"]),
    ]
