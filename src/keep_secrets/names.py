"""Naming rules (SPEC §3) and the `--only/--except` pattern filter (SPEC §5).

Every check raises :class:`UsageError` (exit 2) with one line saying what is wrong and what is
allowed. Keys read back from a vault are never passed through here: they are shown as stored.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from .model import UsageError
from .record import record

KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,255}")
STAGE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")
SLUG_RE = STAGE_RE
NAMESPACE_RE = re.compile(r"[A-Za-z0-9_-]{1,100}")
ENV_VAR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

KEY_RULE = "1-255 characters of A-Z a-z 0-9 _ -, not starting with '-'"
STAGE_RULE = "1-50 characters of a-z 0-9 _ -, starting with a letter or digit"
SLUG_RULE = STAGE_RULE
NAMESPACE_RULE = "1-100 characters of A-Z a-z 0-9 _ -"


def shown_key(raw: str, limit: int = 60) -> str:
    """A key as it may be printed in a message or report: never anything after an `=`
    (`keep set "K=$VALUE"` is a common slip, and that text is a secret), control characters
    escaped, at most `limit` characters."""
    name, sep, _ = raw.partition("=")
    shown = name if len(name) <= limit else name[: limit - 3] + "..."
    shown = repr(shown)[1:-1] if not shown.isprintable() else shown
    return shown + ("=…" if sep else "")


def _show(raw: str) -> str:
    return f"'{shown_key(raw)}'"


def _key_hint(key: str) -> str | None:
    if "=" in key:
        return "KEY=VALUE is not a key: give the key and the value as two arguments, or the value on --stdin"
    return None


def validate_key(key: str) -> str:
    """Return `key` unchanged if it is a valid secret key, else raise UsageError."""
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        if isinstance(key, str) and len(key) > 255:
            raise UsageError(
                f"Invalid key {_show(key)}: too long ({len(key)} characters); {KEY_RULE}.", hint=_key_hint(key)
            )
        raise UsageError(f"Invalid key {_show(key)}: use {KEY_RULE}.", hint=_key_hint(key))
    if key.startswith("-"):
        raise UsageError(f"Invalid key {_show(key)}: a key cannot start with '-'; use {KEY_RULE}.")
    return key


#: Largest value any driver accepts (Secrets Manager's SecretString limit; the local vault uses
#: the same so a value that fits locally can always be copied there). SSM's smaller tier limits
#: are enforced by its driver, which knows the tier.
MAX_VALUE_BYTES = 64 * 1024


def validate_value(value: str) -> str:
    """Refuse values no store can hold faithfully: NUL bytes (C-string APIs cut them),
    text that is not valid UTF-8, and values over :data:`MAX_VALUE_BYTES`."""
    if "\x00" in value:
        raise UsageError("Invalid value: it contains a NUL byte; secret values must be text")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        # argv bytes that were not UTF-8 arrive as lone surrogates (surrogateescape)
        raise UsageError("Invalid value: it is not valid UTF-8 text") from None
    if len(encoded) > MAX_VALUE_BYTES:
        raise UsageError(
            f"Value too large: {len(encoded)} bytes (the limit is {MAX_VALUE_BYTES} bytes)",
            hint="store a path or reference to large files instead",
        )
    return value


def validate_stage_name(name: str) -> str:
    if not STAGE_RE.fullmatch(name or ""):
        raise UsageError(f"Invalid stage name {_show(name)}: use {STAGE_RULE}.")
    return name


def validate_slug(slug: str) -> str:
    if not SLUG_RE.fullmatch(slug or ""):
        raise UsageError(f"Invalid vault slug {_show(slug)}: use {SLUG_RULE}.")
    return slug


def validate_namespace(namespace: str) -> str:
    if not NAMESPACE_RE.fullmatch(namespace or ""):
        raise UsageError(f"Invalid namespace {_show(namespace)}: use {NAMESPACE_RULE}.")
    return namespace


def validate_friendly_name(name: str, what: str) -> str:
    """An app or vault name: 1-100 printable characters (it is printed raw in prompts and
    messages, so no newline, escape sequence or DEL)."""
    if not name.strip() or len(name) > 100 or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UsageError(f"Invalid {what} name {name[:60]!r}: use 1-100 printable characters")
    return name


def is_env_var_name(key: str) -> bool:
    return ENV_VAR_RE.fullmatch(key) is not None


def split_list(text: str | None) -> list[str]:
    """Split a comma-separated option value; blanks are ignored."""
    if not text:
        return []
    return [part.strip() for part in text.split(",") if part.strip()]


@functools.lru_cache(maxsize=256)
def _glob_to_regex(pattern: str) -> re.Pattern[str]:
    # Only `*` is special (any run of characters); everything else is literal.
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: `keep get` start-up)
if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    class _Keyed(Protocol):
        @property
        def key(self) -> str: ...

    K = TypeVar("K", bound=_Keyed)


@record(frozen=True)
class Patterns:
    """Comma-separated globs; a key is kept when it matches some `only` (or none are given)
    and no `except`. Case-sensitive, full match. The same semantics in every command."""

    only: tuple[str, ...] = ()
    except_: tuple[str, ...] = ()

    @classmethod
    def parse(cls, only: str | Sequence[str] | None, except_: str | Sequence[str] | None) -> Patterns:
        def norm(value: str | Sequence[str] | None) -> tuple[str, ...]:
            if value is None:
                return ()
            if isinstance(value, str):
                return tuple(split_list(value))
            out: list[str] = []
            for item in value:
                out.extend(split_list(item))
            return tuple(out)

        return cls(norm(only), norm(except_))

    @property
    def active(self) -> bool:
        return bool(self.only or self.except_)

    def matches(self, key: str) -> bool:
        if self.only and not any(_glob_to_regex(p).fullmatch(key) for p in self.only):
            return False
        return not any(_glob_to_regex(p).fullmatch(key) for p in self.except_)

    def filter(self, items: Iterable[K]) -> list[K]:
        """Keep the items (secrets) whose `.key` matches."""
        return [item for item in items if self.matches(item.key)]
