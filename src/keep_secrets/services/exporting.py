"""`export` without a template: the secrets of one stage from one or more vaults, merged, in
any format; and writing an export to a file safely (atomic, 0600, never clobbering unasked).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..formats.render import FORMATS, LINE_FORMATS, render
from ..fsutil import atomic_write, cannot, is_stream, write_stream
from ..model import Conflict, KeepError, NoVaultConfigured, Secret, UsageError
from ..names import Patterns
from .fetch import fetch_cells, overlap_warnings

if TYPE_CHECKING:
    from ..project import Project
    from ..vaults.base import Vault


@dataclass
class Export:
    text: str
    count: int
    vaults: list[str]
    warnings: list[str] = field(default_factory=list)


def export_sources(project: Project, requested: Sequence[str] | None) -> list[str]:
    """The vaults an export reads, in merge order (the last one wins a key two share): the
    requested ones (validated, in the given order), else every vault of the workspace, as Keep
    does, with the default vault last. The CLI, the shell and the web all ask this."""
    if requested:
        for slug in requested:
            project.check_vault(slug)
        return list(dict.fromkeys(requested))
    visible = project.visible_vaults()
    if not visible:
        raise NoVaultConfigured()
    default = project.configured_default_vault()
    return [s for s in visible if s != default] + [s for s in visible if s == default]


def check_format(format_name: str) -> str:
    if format_name not in FORMATS:
        raise UsageError(f"Unknown format '{format_name}' (use {', '.join(FORMATS)})")
    return format_name


def merge_secrets(cells: Sequence[tuple[str, list[Secret]]], patterns: Patterns) -> tuple[list[Secret], list[str]]:
    """Secrets of several vaults as one set, sorted by key. A key in more than one vault takes
    the value of the vault listed last (later `--vault` entries override earlier ones), and
    the overlap is reported rather than hidden (one line per pair of vaults)."""
    chosen: dict[str, Secret] = {}
    overlaps: list[tuple[str, str, str]] = []
    for slug, secrets in cells:
        for secret in patterns.filter(secrets):
            previous = chosen.get(secret.key)
            if previous is not None:
                overlaps.append((secret.key, previous.vault, slug))
            chosen[secret.key] = secret
    return [chosen[key] for key in sorted(chosen)], overlap_warnings(overlaps)


def export_secrets(
    open_vault: Callable[[str], Vault],
    slugs: Sequence[str],
    stage: str,
    format_name: str,
    patterns: Patterns | None = None,
) -> Export:
    """Every secret of `stage` in `slugs` (fetched concurrently), rendered in `format_name`.
    Rendering happens before anything is written, so a refused key or value writes nothing."""
    check_format(format_name)
    wanted = list(dict.fromkeys(slugs))
    cells = fetch_cells(open_vault, [(slug, stage) for slug in wanted])
    secrets, warnings = merge_secrets([(slug, cells[(slug, stage)]) for slug in wanted], patterns or Patterns())
    return Export(render(format_name, secrets), len(secrets), wanted, warnings)


def check_target(path: Path, *, overwrite: bool, append: bool, format_name: str) -> None:
    """Refuse before any vault is read: an existing file needs --overwrite or --append, its
    directory must exist (it is never created), and a read-only file is not replaced. A
    FIFO, a device or `/dev/stdout` is a stream: written to as shell redirection does."""
    if overwrite and append:
        raise UsageError("--overwrite and --append cannot be used together")
    if append and format_name not in LINE_FORMATS:
        raise UsageError(
            f"--append works with {', '.join(LINE_FORMATS)} output only: two {format_name} documents "
            "cannot be joined into one file"
        )
    if is_stream(path):
        return
    if path.is_dir():
        raise UsageError(f"{path} is a directory")
    parent = path.parent
    if not parent.is_dir():
        if parent.exists():
            raise UsageError(f"Cannot write {path}: {parent} is not a directory")
        raise UsageError(f"Cannot write {path}: directory {parent} does not exist", hint="create it first")
    if not path.exists():
        return
    if not (overwrite or append):
        raise Conflict(f"{path} already exists", hint="use --overwrite to replace it or --append to add to it")
    mode = path.stat().st_mode
    if not mode & stat.S_IWUSR or not os.access(path, os.W_OK):
        raise KeepError(
            f"Cannot write {path}: Permission denied (the file is read-only, mode {stat.S_IMODE(mode):04o})",
            hint="make it writable (chmod u+w) or remove it first",
        )


def write_export(path: Path, text: str, *, overwrite: bool, append: bool, format_name: str) -> None:
    """A regular file is written atomically with mode 0600 (on any error the old file stays as
    it was); a stream target is written directly, never replaced or chmod-ed."""
    check_target(path, overwrite=overwrite, append=append, format_name=format_name)
    if is_stream(path):
        try:
            write_stream(path, text, append=append)
        except OSError as exc:
            raise cannot("write", path, exc) from None
        return
    if path.is_symlink():
        # write where the link points (a shared .env stays shared), still atomically
        path = path.resolve()
    data = text
    if append and path.exists():
        try:
            with path.open("rb") as handle:
                size = handle.seek(0, 2)
                if size:
                    handle.seek(size - 1)
                    if handle.read(1) not in (b"\n", b"\r"):
                        # otherwise the first new line would be glued to the file's last line
                        data = "\n" + text
        except OSError as exc:
            raise cannot("read", path, exc) from None
    try:
        atomic_write(path, data, mode=0o600, append=append, make_dirs=False)
    except OSError as exc:
        raise cannot("write", path, exc) from None


# -- GitHub Actions (`export --format github`) ----------------------------------------------

GITHUB_FORMAT = "github"


@dataclass
class GithubExport:
    env_text: str  # to append to $GITHUB_ENV
    masks: str  # `::add-mask::` lines for stdout
    count: int


def github_env_path(environ: Mapping[str, str]) -> Path:
    """The file named by GITHUB_ENV; refused (exit 2) outside a GitHub Actions step."""
    name = environ.get("GITHUB_ENV", "")
    if not name:
        raise UsageError(
            "--format github appends to the file named by GITHUB_ENV, which is not set",
            hint="run it in a GitHub Actions step, or set GITHUB_ENV to a file",
        )
    path = Path(name)
    if path.is_dir():
        raise UsageError(f"GITHUB_ENV names {path}, which is a directory")
    return path


def github_export(pairs: Sequence[tuple[str, str]]) -> GithubExport:
    """Render both parts before anything is printed or written: a refused key writes nothing."""
    from ..formats.github import render_github_env, render_masks

    env_text = render_github_env(pairs)
    return GithubExport(env_text, render_masks(value for _, value in pairs), len(pairs))


def append_github_env(path: Path, text: str) -> None:
    """Append in one write (O_APPEND), after a line break if the file does not end with one, so
    the runner never reads our first line glued to someone else's last."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise KeepError(f"Cannot open GITHUB_ENV file {path}: {exc.strerror or exc}") from None
    try:
        size = os.fstat(fd).st_size
        data = text.encode("utf-8")
        if size:
            with path.open("rb") as handle:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    data = b"\n" + data
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError as exc:
        raise KeepError(f"Cannot write GITHUB_ENV file {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def stage_pairs(
    open_vault: Callable[[str], Vault], slugs: Sequence[str], stage: str, patterns: Patterns | None = None
) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(key, value) pairs of `stage` merged over `slugs` as a plain export merges them, the
    warnings, and the vaults read."""
    wanted = list(dict.fromkeys(slugs))
    cells = fetch_cells(open_vault, [(slug, stage) for slug in wanted])
    secrets, warnings = merge_secrets([(slug, cells[(slug, stage)]) for slug in wanted], patterns or Patterns())
    return [(s.key, s.value) for s in secrets], warnings, wanted


def pairs_of_json_export(text: str) -> list[tuple[str, str]]:
    """The pairs of a rendered `json` export (a template rendered for `--format github`)."""
    import json

    data = json.loads(text)
    return [(str(key), str(value)) for key, value in data.items()]
