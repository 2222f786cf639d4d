"""Value types shared by every layer, and the error types (each carries its exit code).

Commands never decide exit codes themselves: they raise one of these and the CLI root maps
``exit_code`` to the process status (SPEC §6: 0 ok, 1 failure, 2 usage, 3 not found,
4 access denied / credentials, 5 conflict, 130 interrupted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class KeepError(Exception):
    """An expected failure: printed as one line, never as a traceback."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class RemoteError(KeepError):
    """A store answered with an error we do not classify further (exit 1)."""

    exit_code = 1


class UsageError(KeepError):
    """Invalid input: a bad name, option combination or file (exit 2)."""

    exit_code = 2


class NotFound(KeepError):
    exit_code = 3


class AccessDenied(KeepError):
    """Access denied or missing/expired credentials (exit 4)."""

    exit_code = 4


class Conflict(KeepError):
    """Something already exists, or a state forbids the change (exit 5)."""

    exit_code = 5


class Interrupted(KeepError):
    exit_code = 130


@dataclass(frozen=True)
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

    def to_dict(self, value: str | None = None) -> dict[str, object]:
        """The documented JSON shape `{key, value, revision, modified, vault, stage, secure}`."""
        return {
            "key": self.key,
            "value": self.value if value is None else value,
            "revision": self.revision,
            "modified": iso(self.modified),
            "vault": self.vault,
            "stage": self.stage,
            "secure": self.secure,
        }


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class WriteResult:
    """What a write produced: the new revision and whether the secret was new."""

    revision: str
    created: bool


@dataclass
class ProbeResult:
    """Outcome of the permission probe of one vault x stage (`verify`)."""

    vault: str
    stage: str
    results: dict[str, bool | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    cleaned_up: bool | None = None


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")
