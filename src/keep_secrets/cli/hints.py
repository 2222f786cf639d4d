"""The terminal's wording of what to do next after an error.

Drivers and services raise structured errors (:mod:`keep_secrets.model`) that never quote a
command; this module turns their fields into the CLI's hint, naming commands and flags. The
web words the same cases with its own buttons (:mod:`keep_secrets.web.hints`).
"""

from __future__ import annotations

from ..model import AccessDenied, Conflict, KeepError, NotFound


def cli_hint(exc: KeepError) -> str | None:
    """The error's own hint joined with the command that helps, if any."""
    extra = _command_hint(exc)
    parts = [part for part in (exc.hint, extra) if part]
    return "; ".join(parts) or None


# (command, argument...) of KeepError.fix -> the terminal's wording
_FIXES = {
    "init": "run `keep init`",
    "init-repair": "or re-run `keep init` to repair it",
    "stage:add": "add it with `keep stage:add {0}`",
    "vault:add": "add one with `keep vault:add`",
    "vault:default": "choose another first: `keep vault:default {0}`",
    "default-or-add": "choose one with `keep vault:default SLUG`, or add it with `keep vault:add`",
    "template:add": "create one with `keep template:add --stage={0}`",
    "cache:online": "run it again without --offline",
    "cache:on": "`keep vault:edit {0} --cache on`, then read it once online",
    "cache:fill": "read it once online to fill the cache",
    "schema:init": "`keep schema:init` writes one from the keys present",
    "outside-project": "if that is intended, confirm it with `keep vault:edit {0} --path {1} --outside-project`",
}


def _command_hint(exc: KeepError) -> str | None:
    if exc.fix and exc.fix[0] in _FIXES:
        return _FIXES[exc.fix[0]].format(*exc.fix[1:])
    key = exc.key
    if key is None:
        return None
    if exc.deleted and isinstance(exc, NotFound | Conflict):
        if isinstance(exc, Conflict):
            return f"run `keep restore {key}` first, or `keep delete {key} --purge` to remove it for good"
        return f"`keep restore {key}` brings it back, `keep delete {key} --purge` removes it for good"
    if isinstance(exc, AccessDenied):
        if isinstance(exc, NotFound):  # a store that cannot tell missing from denied
            return "`keep show` lists the stage's keys; `keep iam` prints the policy keep needs"
        return "`keep iam` prints the policy keep needs for this stage" if exc.action else None
    if isinstance(exc, NotFound):
        if exc.version is not None:
            return f"`keep history {key}` lists its versions"
        return "`keep show` lists the stage's keys"
    return None


def cli_line(exc: KeepError) -> str:
    """The one line the CLI prints for an error: message and hint."""
    hint = cli_hint(exc)
    return f"{exc.message} ({hint})" if hint else exc.message
