"""`keep scan`: find the stages' own secret values in files (SPEC §14), e.g. as a pre-commit
hook. A finding names the file, line, key, vault and stage - never the value.

* Only values of :data:`MIN_LENGTH` (8) characters or more are looked for: shorter ones
  (`true`, `3306`) would match everywhere and mean nothing.
* All values are searched at once with one compiled regular expression built as a trie of
  their UTF-8 bytes (shared prefixes are matched once), so the cost per byte hardly grows
  with the number of values. Overlapping and nested values are all found.
* Files are read in chunks of :data:`CHUNK` bytes, keeping the last (longest value - 1)
  bytes of one chunk in front of the next, so a value that spans two chunks is found and a
  file of any size needs constant memory.
* Skipped: `.git/` and `.keep/local/` directories, symbolic links found while walking
  (never followed, so no loops and nothing outside the tree), anything that is not a
  regular file, and binary files (a NUL byte in the first 8 KiB, as git decides).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..model import NotFound

if TYPE_CHECKING:
    from ..model import Secret
    from ..vaults.base import Vault

MIN_LENGTH = 8
FIND_LIMIT = 1000  # values; above it the trie regex is faster (measured: README, Performance)
CHUNK = 1 << 20
BINARY_PROBE = 8192
SKIP_DIRS = ((".git",), (".keep", "local"))


@dataclass(frozen=True)
class Owner:
    key: str
    vault: str
    stage: str


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    key: str
    vault: str
    stage: str

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "key": self.key, "vault": self.vault, "stage": self.stage}

    def describe(self) -> str:
        return f"{self.path}:{self.line}: {self.key} ({self.vault}:{self.stage})"


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    skipped_binary: int = 0
    unreadable: list[str] = field(default_factory=list)
    values: int = 0
    short_values: int = 0


# -- the matcher -----------------------------------------------------------------------------

def _trie_regex(words: Iterable[bytes]) -> bytes:
    """A regex source matching any of `words`, longest first at each position (a trie, so a
    shared prefix is tried once instead of once per word)."""
    trie: dict[int, dict] = {}  # type: ignore[type-arg]
    END = -1
    for word in words:
        node = trie
        for byte in word:
            node = node.setdefault(byte, {})
        node[END] = {}

    def build(node: dict) -> bytes:  # type: ignore[type-arg]
        # a run of nodes with one child and no word end is one literal (no recursion per byte:
        # a PEM key is thousands of bytes long)
        literal = bytearray()
        while END not in node and len(node) == 1:
            (byte, child), = node.items()
            literal.append(byte)
            node = child
        prefix = re.escape(bytes(literal))
        branches = [(b, re.escape(bytes([b])) + build(child)) for b, child in sorted(node.items()) if b != END]
        if not branches:
            return prefix
        body = branches[0][1] if len(branches) == 1 else b"(?:" + b"|".join(src for _, src in branches) + b")"
        if END in node:  # a word ends here: the longer continuation is optional and greedy
            return prefix + b"(?:" + body + b")?"
        return prefix + body

    return build(trie)


class Matcher:
    """Every occurrence of any of `values` (bytes -> owners) in a byte string.

    Two strategies, chosen by the number of values (measured, see README): up to
    :data:`FIND_LIMIT` values, one `bytes.find` pass per value over each chunk (C speed, the
    chunk stays in cache); beyond it, one trie-shaped regular expression, whose cost per byte
    is bounded by the alphabet, not by the number of values."""

    def __init__(self, values: Mapping[bytes, Sequence[Owner]], strategy: str | None = None) -> None:
        self.values = dict(values)
        self.longest = max((len(v) for v in self.values), default=0)
        self.strategy = strategy or ("find" if len(self.values) <= FIND_LIMIT else "regex")
        self._regex = re.compile(_trie_regex(self.values)) if self.values and self.strategy == "regex" else None
        self._by_length = sorted(self.values, key=len, reverse=True)

    def find(self, data: bytes, report_from: int = 0) -> Iterator[tuple[int, bytes]]:
        """(start, value) of every occurrence ending after `report_from` (overlapping and
        nested occurrences too), by increasing start."""
        if self._regex is None:
            hits: list[tuple[int, bytes]] = []
            for value in self._by_length:
                pos = max(report_from - len(value) + 1, 0)
                while (start := data.find(value, pos)) >= 0:
                    hits.append((start, value))
                    pos = start + 1
            hits.sort(key=lambda hit: hit[0])
            yield from hits
            return
        pos = 0
        search = self._regex.search
        while True:
            match = search(data, pos)
            if match is None:
                return
            start, end = match.span()
            longest = match.group()
            # the longest value starting here, and every shorter value that is a prefix of it
            for length in range(end - start, MIN_LENGTH - 1, -1):
                candidate = longest[:length]
                if candidate in self.values and start + length > report_from:
                    yield start, candidate
            pos = start + 1


def build_matcher(cells: Mapping[tuple[str, str], Sequence[Secret]]) -> tuple[Matcher, int, int]:
    """(matcher, values looked for, values too short to look for) of the cells' secrets."""
    owners: dict[bytes, list[Owner]] = {}
    short = 0
    for (slug, stage), secrets in cells.items():
        for secret in secrets:
            if len(secret.value) < MIN_LENGTH:
                short += 1
                continue
            owners.setdefault(secret.value.encode("utf-8"), []).append(Owner(secret.key, slug, stage))
    return Matcher(owners), len(owners), short


# -- files -----------------------------------------------------------------------------------

def _skipped_dir(path: Path) -> bool:
    parts = path.parts
    return any(tuple(parts[i : i + len(skip)]) == skip for skip in SKIP_DIRS for i in range(len(parts)))


def excluder(globs: Sequence[str]) -> Callable[[str], bool]:
    """`--exclude` globs (fnmatch: `*`, `?`, `[...]`), matched against a file's or directory's
    name and against its path as reported: `node_modules`, `*.min.js`, `docs/*`."""
    import fnmatch

    compiled = [re.compile(fnmatch.translate(glob.rstrip("/"))) for glob in globs if glob.strip("/")]

    def excluded(path: str) -> bool:
        name = os.path.basename(path)
        return any(rx.match(name) or rx.match(path) for rx in compiled)

    return excluded


def iter_files(
    paths: Sequence[str], on_error: Callable[[str, str], None], excluded: Callable[[str], bool] = lambda _: False
) -> Iterator[str]:
    """Regular files under `paths` (a PATH given explicitly may be a file or a symlink to
    one), in a stable order; skipped and excluded directories are never entered."""
    for given in paths:
        try:
            info = os.stat(given)
        except FileNotFoundError:
            raise NotFound(f"{given} does not exist") from None
        except OSError as exc:
            on_error(given, exc.strerror or str(exc))
            continue
        if stat.S_ISREG(info.st_mode):
            if not excluded(given):  # files named by a hook are excluded too
                yield given
            continue
        if not stat.S_ISDIR(info.st_mode) or _skipped_dir(Path(os.path.abspath(given))):
            continue
        yield from _walk(given, on_error, excluded)


def _walk(directory: str, on_error: Callable[[str, str], None], excluded: Callable[[str], bool]) -> Iterator[str]:
    try:
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        on_error(directory, exc.strerror or str(exc))
        return
    for entry in entries:
        path = os.path.join(directory, entry.name) if directory != "." else entry.name
        try:
            if entry.is_symlink() or excluded(path):
                continue
            if entry.is_dir(follow_symlinks=False):
                if entry.name == ".git" or (entry.name == "local" and os.path.basename(directory) == ".keep"):
                    continue
                yield from _walk(path, on_error, excluded)
            elif entry.is_file(follow_symlinks=False):
                yield path
        except OSError as exc:
            on_error(path, exc.strerror or str(exc))


def scan_file(path: str, matcher: Matcher, chunk_size: int = CHUNK) -> tuple[list[tuple[int, bytes]], bool]:
    """([(line, value)], is_binary) for one file, read in chunks (constant memory)."""
    found: list[tuple[int, bytes]] = []
    keep = max(matcher.longest - 1, 0)
    with open(path, "rb") as handle:
        if b"\0" in handle.read(BINARY_PROBE):
            return [], True
        handle.seek(0)
        tail = b""
        line_base = 1  # line number of the first byte of `tail`
        data = handle.read(chunk_size)
        while data:
            buffer = tail + data
            counted_to, line = 0, line_base
            for start, value in matcher.find(buffer, report_from=len(tail)):
                line += buffer.count(b"\n", counted_to, start)
                counted_to = start
                found.append((line, value))
            cut = max(len(buffer) - keep, 0)
            line_base += buffer.count(b"\n", 0, cut)
            tail = buffer[cut:]
            data = handle.read(chunk_size)
    found.sort()
    return found, False


def scan(
    open_vault: Callable[[str], Vault], stages: Sequence[str], vaults: Sequence[str], paths: Sequence[str],
    on_error: Callable[[str, str], None] | None = None, exclude: Sequence[str] = (),
) -> ScanResult:
    """Read the cells once (concurrently), then look for their values in every file."""
    from .fetch import fetch_cells

    for root in list(paths) or ["."]:
        if not os.path.lexists(root):
            raise NotFound(f"{root} does not exist")
    cells = fetch_cells(open_vault, [(v, s) for v in vaults for s in stages])
    matcher, count, short = build_matcher(cells)
    result = ScanResult(values=count, short_values=short)

    def unreadable(path: str, reason: str) -> None:
        result.unreadable.append(f"{path}: {reason}")
        if on_error is not None:
            on_error(path, reason)

    roots = list(paths) or ["."]
    if not count:
        return result
    for path in iter_files(roots, unreadable, excluder(exclude)):  # walked lazily: a large tree is never listed whole
        try:
            hits, binary = scan_file(path, matcher)
        except OSError as exc:
            unreadable(path, exc.strerror or str(exc))
            continue
        if binary:
            result.skipped_binary += 1
            continue
        result.files += 1
        seen: set[tuple[int, Owner]] = set()
        for line, value in hits:
            for owner in matcher.values[value]:
                if (line, owner) not in seen:
                    seen.add((line, owner))
                    result.findings.append(Finding(path, line, owner.key, owner.vault, owner.stage))
    return result
