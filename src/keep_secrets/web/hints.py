"""The web page's wording of what to do next after an error (the terminal has its own in
:mod:`keep_secrets.cli.hints`): plain words and the page's buttons, never command syntax."""

from __future__ import annotations

from ..model import AccessDenied, Conflict, KeepError, NotFound


def web_hint(exc: KeepError) -> str | None:
    extra = _page_hint(exc)
    parts = [part for part in (exc.hint, extra) if part]
    return "; ".join(parts) or None


# (command, argument...) of KeepError.fix -> the page's wording
_FIXES = {
    "init": "initialise the project in a terminal first",
    "init-repair": "or repair it by initialising the project again in a terminal",
    "stage:add": "add it under Settings, Stages",
    "vault:add": "add one under Settings, Vaults",
    "vault:default": "make another vault the default first (Settings, Vaults)",
    "default-or-add": "choose the default vault under Settings",
    "template:add": "create one in the Templates tab",
    "cache:online": "it needs the store (keep is offline)",
    "cache:on": "turn the vault's cache on under Settings, Vaults, then read it once online",
    "cache:fill": "read it once online to fill the cache",
    "schema:init": "create .keep/schema.toml",
}


def _page_hint(exc: KeepError) -> str | None:
    if exc.fix and exc.fix[0] in _FIXES:
        return _FIXES[exc.fix[0]]
    if exc.key is None:
        return None
    if exc.deleted and isinstance(exc, NotFound | Conflict):
        return "restore it from the deleted secrets, or delete it for good"
    if isinstance(exc, AccessDenied):
        if isinstance(exc, NotFound):
            return "the table lists the stage's keys; or this identity lacks an IAM permission (the IAM policy)"
        return "this identity lacks an IAM permission for this stage (the IAM policy)" if exc.action else None
    if isinstance(exc, NotFound):
        if exc.version is not None:
            return "History lists its versions"
        return "the table lists the stage's keys"
    return None
