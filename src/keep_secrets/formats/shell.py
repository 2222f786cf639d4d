"""The `shell` output format: `export KEY='…'` lines that `sh -c '. ./file'` evaluates back
to exactly the stored values (POSIX quoting via :func:`shlex.quote`)."""

from __future__ import annotations

import shlex
from collections.abc import Iterable

from ..model import UsageError
from .dotenv import check_env_key


def render_shell_line(key: str, value: str) -> str:
    check_env_key(key, "shell")
    if "\0" in value:
        # a shell variable is a C string: the value would be cut at the NUL without a word
        raise UsageError(f"The value of {key} contains a NUL character, which a shell variable cannot hold")
    return f"export {key}={shlex.quote(value)}"


def render_shell(items: Iterable[tuple[str, str]]) -> str:
    return "".join(render_shell_line(key, value) + "\n" for key, value in items)
