"""Single-secret operations shared by the CLI, the shell and the web API: value checks, rename
with rollback, random values for `rotate`, search, history filters and JSON field extraction.

Nothing here prints or prompts; failures are raised as the typed errors of
:mod:`keep_secrets.model` so every front end maps them to the same exit codes and messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from ..model import Conflict, Expect, KeepError, NotFound, PreconditionFailed, Secret, UsageError, Version, WriteResult
from ..names import shown_key, validate_key, validate_value
from ..record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: `keep get` start-up)
if TYPE_CHECKING:
    from ..project import Project
    from ..vaults.base import DeletedSecret, Vault


LOOKUP_KEY_RULE = "1-255 characters without spaces or control characters, not starting with '-'"


# -- which vault ----------------------------------------------------------------------------

def working_vault(project: Project, named: str | None = None) -> str | None:
    """The vault a command works on, the same in the CLI, the shell and the web: `named`
    (checked: unknown is exit 2), else the configured default (one that names no configured
    vault is exit 2, never silently replaced), else the workspace's only vault. None when
    there are several and none is the default: the front end asks or requires one. No vault
    configured at all: NoVaultConfigured."""
    if named:
        project.check_vault(named)
        return named
    if not project.vaults:
        from ..model import NoVaultConfigured

        raise NoVaultConfigured()
    default = project.configured_default_vault()
    if default:
        return default
    visible = project.visible_vaults()
    return visible[0] if len(visible) == 1 else None


# -- values ---------------------------------------------------------------------------------

def decode_stdin(data: bytes) -> str:
    """The value read from stdin: strict UTF-8, minus exactly one trailing "\\n" if present.

    Only "\\n" is stripped (a "\\r" before it is kept): `echo value | keep set K -` gives
    `value`, and every other byte, including a CRLF's "\\r", is part of the value.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"Invalid value on stdin: not valid UTF-8 (byte {exc.start}); secret values must be text"
        ) from None
    if text.endswith("\n"):
        text = text[:-1]
    return validate_value(text)


def validate_lookup_key(key: str) -> str:
    """Keys used to *find* an existing secret (get, delete, history, rename's source...).

    Looser than :func:`validate_key` on purpose: a store may hold keys other tools wrote
    (`a.b`, nested SSM paths) and keep must still be able to read, delete or rename them.
    """
    if "=" in key:
        # `keep get "K=$VALUE"`: what follows the `=` is likely a secret; never echo or look it up
        raise UsageError(
            f"Invalid key '{shown_key(key)}': a key cannot contain '='",
            hint="KEY=VALUE is not a key: give the key alone",
        )
    if not key or len(key) > 255 or key.startswith("-") or any(c.isspace() or ord(c) < 32 for c in key):
        raise UsageError(f"Invalid key '{shown_key(key)}': use {LOOKUP_KEY_RULE}.")
    return key


# -- JSON fields ----------------------------------------------------------------------------

def extract_field(value: str, field: str, key: str = "") -> str:
    """The field `field` of a JSON-object value (`keep get DB --field=password`).

    An exact top-level name wins; otherwise a dotted path walks nested objects. Strings are
    returned as they are, anything else as compact JSON.
    """
    from ..formats import jsontext  # numbers keep their spelling: `1.10` is not `1.1`

    label = f"'{key}'" if key else "the secret"
    try:
        data = jsontext.loads(value)
    except ValueError:
        raise UsageError(f"--field needs a JSON object value, but {label} is not JSON") from None
    except RecursionError:
        raise UsageError(f"--field cannot read {label}: its JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise UsageError(f"--field needs a JSON object value, but {label} holds a JSON {_json_kind(data)}")
    try:
        found = jsontext.field(data, field)
    except KeyError:
        fields = ", ".join(sorted(str(k) for k in data)) or "none"
        raise NotFound(f"Field '{field}' not found in {label} (fields: {fields})") from None
    if isinstance(found, str):
        return str(found)
    try:
        return jsontext.dumps(found)
    except RecursionError:
        raise UsageError(f"--field cannot read {label}: its JSON is nested too deeply") from None


def _json_kind(data: object) -> str:
    if isinstance(data, list):
        return "array"
    if isinstance(data, str):
        return "string"
    if isinstance(data, bool):
        return "boolean"
    if data is None:
        return "null"
    return "number"


# -- revisions: an edit names the revision it started from ------------------------------------

class StaleRevision(Conflict):
    """The secret changed (or went) since the editor read it: nothing was written. `current`
    is what the store holds now (None when it was deleted)."""

    def __init__(self, vault: str, stage: str, key: str, expected: str, current: Secret | None) -> None:
        where = f"{vault}:{stage}"
        if current is None:
            message = f"Secret '{key}' was deleted from {where} after revision {expected} was read"
        else:
            message = (f"Secret '{key}' in {where} changed since you opened it "
                       f"(you started from revision {expected}, it is now at {current.revision})")
        super().__init__(message, hint="reload to see the current value, or overwrite it on purpose")
        self.key = key
        self.expected = expected
        self.current = current


def check_revision(vault: Vault, stage: str, key: str, expected: str) -> Secret:
    """The current secret when it is still at revision `expected`; StaleRevision otherwise."""
    try:
        current = vault.get(stage, key)
    except NotFound:
        raise StaleRevision(vault.slug, stage, key, expected, None) from None
    if current.revision != expected:
        raise StaleRevision(vault.slug, stage, key, expected, current)
    return current


# -- rename ---------------------------------------------------------------------------------

@record(frozen=True)
class RenameResult:
    """What `rename` did: the write to the new key and whether it replaced an existing one."""

    write: WriteResult
    overwrote: bool
    secure: bool


def rename(
    vault: Vault, stage: str, old: str, new: str, overwrite: bool = False, expected_revision: str | None = None
) -> RenameResult:
    """Copy OLD to NEW (keeping the secure flag), then delete OLD.

    With `expected_revision`, OLD must still be at that revision (StaleRevision otherwise).
    An existing NEW is refused unless `overwrite`. If deleting OLD fails, NEW is put back the
    way it was (its previous value restored, or removed if rename created it), so the store
    ends as it started and the error says so.
    """
    validate_key(new)
    if old == new:
        raise UsageError(f"Cannot rename '{old}' to itself")
    if expected_revision is not None:
        source = check_revision(vault, stage, old, expected_revision)
    else:
        source = vault.get(stage, old)
    previous: Secret | None = None
    try:
        previous = vault.get(stage, new)
    except NotFound:
        previous = None
    if previous is not None and not overwrite:
        raise Conflict(
            f"Secret '{new}' already exists in {vault.slug}:{stage}",
            hint="pass --overwrite to replace it, or choose another name",
        )
    # conditional on what was just read: a NEW created (or changed) by someone else in the
    # meantime is a conflict, never silently overwritten
    try:
        written = vault.set_if(
            stage, new, source.value, Expect(previous.revision if previous is not None else None), secure=source.secure
        )
    except PreconditionFailed:
        raise Conflict(
            f"Secret '{new}' in {vault.slug}:{stage} was written by someone else during the rename; "
            f"nothing was renamed",
            key=new,
        ) from None
    try:
        vault.delete(stage, old)
    except BaseException as exc:
        # any failure, even an unexpected one or Ctrl-C, must not leave the value in two places
        undone = _undo_copy(vault, stage, new, previous)
        if not isinstance(exc, Exception):
            raise
        state = "rolled back" if undone else f"could not roll back; '{new}' now also holds the value"
        reason = exc.one_line() if isinstance(exc, KeepError) else f"{type(exc).__name__}: {exc}"
        raise KeepError(f"Rename failed: could not delete '{old}' after writing '{new}' ({state}): {reason}") from exc
    return RenameResult(write=written, overwrote=previous is not None, secure=source.secure)


def _undo_copy(vault: Vault, stage: str, new: str, previous: Secret | None) -> bool:
    try:
        if previous is None:
            vault.delete(stage, new, purge=True)
        else:
            vault.set(stage, new, previous.value, secure=previous.secure)
    except Exception:
        return False
    return True


# -- rotate ---------------------------------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"  # string.ascii_letters
_DIGITS = "0123456789"  # string.digits (the `string` module is not imported for these)

CHARSETS: dict[str, str] = {
    "alnum": _LETTERS + _DIGITS,
    "alpha": _LETTERS,
    "digits": _DIGITS,
    "hex": "0123456789abcdef",
    "base64": _LETTERS + _DIGITS + "+/",
    "urlsafe": _LETTERS + _DIGITS + "-_",
    # printable ASCII without space, quotes, backslash and backtick (string.printable's order):
    # safe unquoted in most config files
    "ascii": _DIGITS + _LETTERS + "!#$%&()*+,-./:;<=>?@[]^_{|}~",
}

MIN_LENGTH = 8
MAX_LENGTH = 4096


def check_generator(length: int, charset: str) -> str:
    """The alphabet of `charset`, once `length` is checked (before anything is read)."""
    alphabet = CHARSETS.get(charset)
    if alphabet is None:
        raise UsageError(f"Unknown charset '{charset}' (use {', '.join(CHARSETS)})")
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise UsageError(f"Invalid length {length}: use {MIN_LENGTH}-{MAX_LENGTH}")
    return alphabet


def generate_value(length: int = 32, charset: str = "alnum") -> str:
    """A uniformly random value from the OS CSPRNG (`secrets.choice` per character)."""
    # imported here: `secrets` pulls in hashlib/OpenSSL, which `keep get` should not pay for
    import secrets as _random

    alphabet = check_generator(length, charset)
    return "".join(_random.choice(alphabet) for _ in range(length))


@record(frozen=True)
class Rotation:
    """What `rotate` will do, checked before anything is read: a new random value of `length`
    characters from `charset`, or the store's own rotation through `lambda_arn`."""

    length: int = 32
    charset: str = "alnum"
    lambda_arn: str | None = None
    every_days: int | None = None

    @classmethod
    def parse(
        cls, length: int | None, charset: str | None, lambda_arn: str | None, every: str | None
    ) -> Rotation:
        if lambda_arn is not None:
            if length is not None or charset is not None:
                raise UsageError("--length/--charset generate a value locally; they cannot be used with --lambda")
            if not lambda_arn.startswith("arn:") or ":lambda:" not in lambda_arn:
                raise UsageError(f"Invalid --lambda '{lambda_arn}': use a Lambda ARN (arn:aws:lambda:...)")
            return cls(lambda_arn=lambda_arn, every_days=parse_every(every) if every is not None else None)
        if every is not None:
            raise UsageError("--every only applies with --lambda")
        # `is None`, not `or`: an explicit length 0 is out of range, not "the default"
        rotation = cls(length=32 if length is None else length, charset=charset or "alnum")
        check_generator(rotation.length, rotation.charset)
        return rotation


def rotate(vault: Vault, stage: str, key: str, rotation: Rotation) -> WriteResult:
    """Rotate `key`: a new random value (keeping its secure mark), or the store's Lambda
    rotation. A missing key is NotFound: rotate replaces a value, it never creates one."""
    if rotation.lambda_arn is not None:
        rotating = vault.lambda_rotation()
        if rotating is None:
            raise UsageError(
                f"Only Secrets Manager supports --lambda (vault '{vault.slug}' uses the {vault.driver} driver)"
            )
        return rotating.rotate_with_lambda(stage, key, rotation.lambda_arn, rotation.every_days)
    current = vault.get(stage, key)
    value = generate_value(rotation.length, rotation.charset)
    return vault.set(stage, key, value, secure=current.secure)


def check_plain(vault: Vault, secure: bool) -> None:
    """A value can be marked plain only where the driver takes the mark (SSM stores it so)."""
    if not secure and not vault.capabilities.accepts_plain:
        raise UsageError(
            f"Vault '{vault.slug}' ({vault.driver}) always encrypts values; "
            "plain (unencrypted) storage is not supported"
        )


def check_deletable(vault: Vault, stage: str, key: str, purge: bool) -> None:
    """Before a confirmed (not a forced) delete: a missing key is NotFound before anything is
    asked or changed. A purge also removes an already deleted secret, so it reads nothing."""
    if not purge:
        vault.get(stage, key)


def restorable(vault: Vault, purge: bool) -> bool:
    """Whether a delete can be undone (`restore`)."""
    return vault.delete_is_restorable(purge)


def deleted_secrets(vault: Vault, stage: str) -> list[DeletedSecret]:
    """The stage's deleted secrets that `restore` can still bring back, newest deletion first
    (then by key). A vault whose driver cannot list them is a UsageError naming why."""
    listing = vault.deleted_listing()
    if listing is None:
        if not vault.capabilities.restore:
            raise UsageError(
                f"Vault '{vault.slug}' ({vault.driver} driver) deletes secrets for good; nothing to restore"
            )
        raise UsageError(f"Vault '{vault.slug}' ({vault.driver} driver) cannot list its deleted secrets")
    found = sorted(listing.deleted(stage), key=lambda d: d.key)
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(found, key=lambda d: d.deleted or oldest, reverse=True)


# compiled on first use (re caches it), not when `keep get` imports this module
_EVERY_RE = r"(\d{1,4})\s*(d|days?)?"


def parse_every(text: str) -> int:
    """`30d`, `30 days` or `30` -> 30 (Secrets Manager rotation allows 1-1000 days)."""
    match = re.fullmatch(_EVERY_RE, text.strip(), re.IGNORECASE)
    days = int(match.group(1)) if match else 0
    if not 1 <= days <= 1000:
        raise UsageError(f"Invalid --every '{text}': use a number of days from 1 to 1000, e.g. 30d")
    return days


# -- search ---------------------------------------------------------------------------------

def search(
    secrets: Iterable[Secret], query: str, case_sensitive: bool = False, keys: bool = False
) -> list[Secret]:
    """Secrets whose value (or key, with `keys`) contains `query` as a substring."""
    if not query:
        raise UsageError("The search query cannot be empty")
    needle = query if case_sensitive else query.casefold()
    found = []
    for secret in secrets:
        haystack = secret.key if keys else secret.value
        if not case_sensitive:
            haystack = haystack.casefold()
        if needle in haystack:
            found.append(secret)
    return found


# -- history --------------------------------------------------------------------------------

_RELATIVE_RE = r"(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)(\s+ago)?"
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_moment(text: str, now: datetime | None = None) -> datetime:
    """A point in time for `--since`/`--before`: an ISO date or datetime (UTC unless it says
    otherwise), `today`, `yesterday`, `now`, or a relative age like `7d`, `12 hours ago`."""
    now = now or datetime.now(UTC)
    raw = text.strip()
    lowered = raw.lower()
    if lowered == "now":
        return now
    if lowered in ("today", "yesterday"):
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start if lowered == "today" else start - timedelta(days=1)
    match = re.fullmatch(_RELATIVE_RE, lowered, re.IGNORECASE)
    if match:
        unit = match.group(2)[0]
        if match.group(2).startswith("min"):
            unit = "m"
        return now - timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[unit])
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        raise UsageError(
            f"Invalid date '{text}': use an ISO date like 2024-01-31 or 2024-01-31T12:00, "
            "or a relative age like 7d, 12h, '2 weeks ago', today, yesterday"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


@record(frozen=True)
class HistoryFilter:
    """Which versions `history` keeps: a time window and an author."""

    since: datetime | None = None
    before: datetime | None = None
    user: str | None = None

    @property
    def active(self) -> bool:
        return self.since is not None or self.before is not None or bool(self.user)

    def keep(self, version: Version) -> bool:
        if self.user and (not version.by or self.user.casefold() not in version.by.casefold()):
            return False
        if self.since is not None or self.before is not None:
            if version.modified is None:
                return False
            moment = version.modified if version.modified.tzinfo else version.modified.replace(tzinfo=UTC)
            if self.since is not None and moment < self.since:
                return False
            if self.before is not None and moment > self.before:
                return False
        return True


def history(vault: Vault, stage: str, key: str, limit: int | None, flt: HistoryFilter) -> list[Version]:
    """Versions newest first; with filters the whole history is read, then filtered, then cut
    to `limit` (so a filter never hides matches beyond the first page). `limit` None = all."""
    if not flt.active:
        return vault.history(stage, key, limit)
    matching = [v for v in vault.history(stage, key, None) if flt.keep(v)]
    return matching if limit is None else matching[:limit]


def labels_text(labels: Sequence[str]) -> str:
    return ",".join(labels)
