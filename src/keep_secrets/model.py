"""Value types shared by every layer, and the one error table.

Each error type carries both of its meanings side by side: ``exit_code`` for the CLI (SPEC §6:
0 ok, 1 failure, 2 usage, 3 not found, 4 access denied / credentials, 5 conflict, 130
interrupted) and ``http_status`` for the web API. No front end keeps its own table: the CLI
root exits with ``exit_code``, the web answers with ``http_status``.

Errors are structured: besides a one-line ``message`` (plain words, no command syntax) they
say what they are about (``key``, ``remote_name``, ``version``), whether the secret is
``deleted``, and which store ``action`` was denied. Each front end words its own hint from
those fields (the CLI names commands and flags, the web names buttons); a driver's own
``hint`` is for advice that is true whatever the front end ("store a placeholder value").
"""

from __future__ import annotations

from datetime import datetime

from .record import field, record


class KeepError(Exception):
    """An expected failure: printed as one line, never as a traceback."""

    exit_code = 1
    http_status = 500
    #: more for the web page's JSON error (a 409's revisions, values masked), set by a route
    details: dict[str, object] | None = None

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        key: str | None = None,
        remote_name: str | None = None,
        version: str | None = None,
        deleted: bool = False,
        action: str | None = None,
        fix: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: the secret the error is about, and its full name in the store
        self.key = key
        self.remote_name = remote_name
        #: the version asked for, when that is what is missing
        self.version = version
        #: the secret exists but is deleted (restorable, or scheduled for deletion)
        self.deleted = deleted
        #: the store action that was denied (an IAM action name such as GetSecretValue)
        self.action = action
        #: the operation that remedies it, as (command, argument...) - e.g. ("stage:add", "qa");
        #: each front end words it (a command line in the terminal, a place in the page)
        self.fix = fix

    def one_line(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class RemoteError(KeepError):
    """A store answered with an error we do not classify further (exit 1, HTTP 500)."""

    exit_code = 1
    http_status = 500


class Unreachable(RemoteError):
    """The store could not be reached (connection errors, timeouts, 5xx after retries): no
    permission or policy is in question (exit 1, HTTP 503)."""

    http_status = 503


class UsageError(KeepError):
    """Invalid input: a bad name, option combination or file (exit 2, HTTP 400)."""

    exit_code = 2
    http_status = 400


class NoVaultConfigured(UsageError):
    """The project has no vault yet (each front end says where to add one)."""

    def __init__(self) -> None:
        super().__init__("No vaults are configured", fix=("vault:add",))


class NotFound(KeepError):
    """No such secret, version, stage or file (exit 3, HTTP 404)."""

    exit_code = 3
    http_status = 404


class AccessDenied(KeepError):
    """Access denied or missing/expired credentials (exit 4, HTTP 403).

    A store that cannot tell "missing" from "denied" (AWS under tag-conditioned policies
    answers AccessDenied for a secret that does not exist) raises a subclass that is also a
    NotFound; it keeps AccessDenied's exit 4 / HTTP 403, because the store did deny the call."""

    exit_code = 4
    http_status = 403


class Conflict(KeepError):
    """Something already exists, or a state forbids the change (exit 5, HTTP 409)."""

    exit_code = 5
    http_status = 409


class OutsideProject(UsageError):
    """A local vault's database path lies outside the project and the user has not confirmed
    it (a committed vault file could otherwise point into another project's data)."""

    def __init__(self, message: str, *, slug: str, path: str) -> None:
        super().__init__(message, fix=("outside-project", slug, path))
        self.slug = slug
        self.path = path


class PreconditionFailed(Conflict):
    """A conditional write (:class:`Expect`) found the key absent, present or at another
    revision than the plan saw: nothing was overwritten (exit 5)."""


class Interrupted(KeepError):
    exit_code = 130
    http_status = 503


@record(frozen=True)
class Secret:
    """One secret as read from a vault: its current value and metadata."""

    key: str
    value: str
    revision: str
    modified: datetime | None
    vault: str
    stage: str
    secure: bool = True
    path: str = ""
    managed: bool = True  # False: in the stage's place in the store, but not made by keep (no keep tags)

    def to_dict(self, value: str | None = None) -> dict[str, object]:
        """The documented JSON shape `{key, value, revision, modified, vault, stage, secure}`,
        plus `"managed": false` for a secret keep did not make."""
        data: dict[str, object] = {
            "key": self.key,
            "value": self.value if value is None else value,
            "revision": self.revision,
            "modified": iso(self.modified),
            "vault": self.vault,
            "stage": self.stage,
            "secure": self.secure,
        }
        if not self.managed:
            data["managed"] = False
        return data


@record(frozen=True)
class Version:
    """One entry of a secret's history."""

    version: str
    value: str | None
    modified: datetime | None
    by: str | None = None
    labels: tuple[str, ...] = ()
    current: bool = False
    secure: bool = True

    def to_dict(self, value: str | None = None) -> dict[str, object]:
        return {
            "version": self.version,
            "value": self.value if value is None else value,
            "modified": iso(self.modified),
            "by": self.by,
            "labels": list(self.labels),
            "current": self.current,
        }


@record(frozen=True)
class Expect:
    """The precondition of a planned write: `revision=None` means "create only if absent",
    a revision means "update only if the key is still at that revision"."""

    revision: str | None = None

    @property
    def absent(self) -> bool:
        return self.revision is None

    def holds(self, current: str | None) -> bool:
        """Whether the key's current revision (None: absent or deleted) satisfies it."""
        return current == self.revision

    def failure(self, where: str, key: str, current: str | None) -> PreconditionFailed:
        """The conflict to raise when `current` does not satisfy the precondition."""
        if self.revision is None:
            text = f"Secret '{key}' in {where} was created by someone else after keep read it; not overwritten"
        elif current is None:
            text = f"Secret '{key}' in {where} was deleted after keep read it; not written"
        else:
            text = (
                f"Secret '{key}' in {where} changed after keep read it "
                f"(revision {self.revision}, now {current}); not overwritten"
            )
        return PreconditionFailed(text, key=key)


@record(frozen=True)
class WriteResult:
    """What a write produced: the new revision and whether the secret was new."""

    revision: str
    created: bool
    adopted: bool = False  # an existing secret without keep's tags now carries them
    note: str | None = None  # something the user should know about the write (a warning)


@record()
class ProbeResult:
    """Outcome of the permission probe of one vault x stage (`verify`)."""

    vault: str
    stage: str
    results: dict[str, bool | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    cleaned_up: bool | None = None
    unreachable: bool = False  # a step failed because the store could not be reached


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")
