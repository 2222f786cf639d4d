"""The terminal's wording of what to do next after an error.

Drivers and services raise structured errors (:mod:`keep_secrets.model`) that never quote a
command; this module turns their fields into the CLI's hint, naming commands and flags. The
web words the same cases with its own buttons (:mod:`keep_secrets.web.hints`).
"""

from __future__ import annotations

from ..model import AccessDenied, Conflict, KeepError, NotFound, NoVaultConfigured


def cli_hint(exc: KeepError) -> str | None:
    """The error's own hint joined with the command that helps, if any."""
    extra = _command_hint(exc)
    parts = [part for part in (exc.hint, extra) if part]
    return "; ".join(parts) or None


def _command_hint(exc: KeepError) -> str | None:
    if isinstance(exc, NoVaultConfigured):
        return "add one with `keep vault:add`"
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
