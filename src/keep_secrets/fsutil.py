"""File writes: atomic for regular files (a temp file in the same directory, fsync, rename),
streamed for everything else.

A reader never sees a half-written regular file, and on any error the old file is left
untouched and no temp file remains. A FIFO, a character device (`/dev/null`, a terminal) or a
descriptor alias (`/dev/stdout`, `/dev/fd/N`) is written to directly, as shell redirection
does: replacing it by a renamed regular file would break it (as root, `/dev/null` itself).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys

from .model import KeepError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (SPEC §12: `keep get` start-up)
if TYPE_CHECKING:
    from pathlib import Path

# paths that name one of this process's open descriptors: write to the descriptor itself
# (a reopen would lose `>>`'s append mode and start at offset 0)
# (compiled on first use: re caches it)
_FD_ALIAS = r"/dev/(?P<std>stdin|stdout|stderr)|/dev/fd/(?P<fd>\d+)|/proc/self/fd/(?P<pfd>\d+)"
_STD_FDS = {"stdin": 0, "stdout": 1, "stderr": 2}


def cannot(action: str, path: Path | str, exc: OSError) -> KeepError:
    """One line for a failed file operation, e.g. `Cannot write .keep/settings.json: Permission
    denied` (exit 1), naming the file the user knows rather than a temporary one."""
    return KeepError(f"Cannot {action} {path}: {exc.strerror or exc}")


def _alias_fd(path: Path | str) -> int | None:
    match = re.fullmatch(_FD_ALIAS, str(path))
    if match is None:
        return None
    if match.group("std"):
        return _STD_FDS[match.group("std")]
    return int(match.group("fd") or match.group("pfd"))


def is_stream(path: Path | str) -> bool:
    """Whether `path` is written as a stream: a descriptor alias, or an existing file that is
    neither a regular file nor a directory (FIFO, character or block device, socket)."""
    if _alias_fd(path) is not None:
        return True
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def write_stream(path: Path | str, data: str | bytes, *, append: bool = False) -> None:
    """Write `data` straight into a stream target: never created, truncated, replaced or
    chmod-ed."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd = _alias_fd(path)
    owned = fd is None
    if fd is None:
        flags = os.O_WRONLY | os.O_NOCTTY | (os.O_APPEND if append else 0)
        fd = os.open(path, flags)
    elif fd in (1, 2):
        (sys.stdout if fd == 1 else sys.stderr).flush()
    try:
        view = memoryview(payload)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        if owned:
            os.close(fd)


def current_umask() -> int:
    """The process umask, read without changing it where the platform allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: the widest modes keep gives the files and directories it shares with the team (.keep/...):
#: the umask may make them stricter, never looser
SHARED_FILE_MODE = 0o644
SHARED_DIR_MODE = 0o755


def shared_file_mode() -> int:
    return SHARED_FILE_MODE & ~current_umask()


def make_dirs(path: Path | str, mode: int = SHARED_DIR_MODE) -> None:
    """`mkdir -p` where every directory made gets `mode` (which the umask can only tighten);
    existing directories are left as they are."""
    from pathlib import Path

    target = Path(path)
    missing = []
    for directory in (target, *target.parents):
        if directory.exists():
            break
        missing.append(directory)
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=mode)


_make_dirs = make_dirs


def atomic_write(
    path: Path | str, data: str | bytes, *, mode: int | None = None, append: bool = False, make_dirs: bool = True
) -> None:
    """Write `data` to `path` atomically with permission `mode` (default: 0644 narrowed by
    the umask, as a plain `open()` would create it).

    With `append=True` the existing content is kept and `data` added after it (still written
    as a whole new file and renamed, so a failure leaves the old file intact). With
    `make_dirs=False` a missing directory is an error (FileNotFoundError) instead of created.
    """
    import tempfile  # not at module level: `keep get` on the local vault never writes a file
    from pathlib import Path

    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if append and target.exists():
        payload = target.read_bytes() + payload
    directory = target.parent if str(target.parent) else Path(".")
    if make_dirs:
        _make_dirs(directory)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, shared_file_mode() if mode is None else mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


# -- paths as text ---------------------------------------------------------------------------
# `keep get` reads the project and the local vault through these, without importing pathlib (and
# through it urllib.parse and ipaddress: a quarter of `python -c pass`, SPEC §12). Each does
# what the pathlib call named in its docstring does on POSIX (Python 3.11's pathlib), and
# tests/test_fsutil_paths.py holds them to it.

# the errors pathlib's exists()/is_dir() read as "no" (pathlib._IGNORED_ERRNOS); others raise
_NOT_THERE = (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP)


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError as exc:
        if exc.errno not in _NOT_THERE:
            raise
        return None
    except ValueError:  # a NUL in the name
        return None


def exists(path: str) -> bool:
    """`Path(path).exists()`."""
    return _stat(path) is not None


def is_dir(path: str) -> bool:
    """`Path(path).is_dir()`."""
    found = _stat(path)
    return found is not None and stat.S_ISDIR(found.st_mode)


def plain(text: str) -> bool:
    """Whether `text` is an absolute POSIX path that `str(Path(text))` prints unchanged, so that
    joining plain names to it gives what pathlib's `/` gives."""
    return (
        os.name == "posix"
        and text.startswith("/")
        and not text.startswith("//")
        and "//" not in text
        and "/./" not in text
        and not text.endswith(("/", "/."))
    )


def stem(name: str) -> str:
    """`PurePath(name).stem` of a file name."""
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def resolve(text: str) -> str:
    """`str(Path(text).resolve())` (which is `os.path.realpath` and a check for a loop)."""
    if os.name != "posix":  # pragma: no cover - keep runs on POSIX; pathlib knows the rest
        from pathlib import Path

        return str(Path(text).resolve())
    resolved = os.path.realpath(text)
    try:
        os.stat(resolved)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # as pathlib, which then stats the result
            raise RuntimeError(f"Symlink loop from {resolved!r}") from None
    return resolved


def is_within(path: str, root: str) -> bool:
    """`Path(path).is_relative_to(root)` of two resolved paths."""
    return path == root or path.startswith(root if root.endswith("/") else root + "/")


def names_matching_suffix(directory: str, suffix: str) -> list[str]:
    """The names `sorted(Path(directory).glob("*" + suffix))` gives (no wildcard in `suffix`):
    files, directories and dangling links alike, hidden ones too; an unreadable directory
    gives none, as pathlib's glob."""
    try:
        with os.scandir(directory) as entries:
            names = [entry.name for entry in entries]
    except PermissionError:
        return []
    except (FileNotFoundError, NotADirectoryError):  # gone since the caller looked
        return []
    return sorted(name for name in names if name.endswith(suffix))
