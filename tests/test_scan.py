"""`keep scan` (SPEC §14): the stages' values found in files, reported without the value;
chunk boundaries, overlapping values, binary files and skipped directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keep_secrets.services import scanning
from keep_secrets.services.scanning import Matcher, Owner

from .conftest import KeepRunner
from .moving_support import seed

DB = "fake-db-password-123"
TOKEN = "ghp_fakeTOKEN0123456789"


@pytest.fixture
def repo(kp: KeepRunner) -> KeepRunner:
    seed(kp.cwd, kp.env, "staging", {"DB_PASSWORD": DB, "SHORT": "abc1234"})
    seed(kp.cwd, kp.env, "production", {"GITHUB_TOKEN": TOKEN, "DB_PASSWORD": DB})
    src = kp.cwd / "src"
    src.mkdir()
    (src / "app.py").write_text(f"import os\nPASSWORD = '{DB}'  # oops\nSHORT = 'abc1234'\n")
    (src / "clean.py").write_text("print('nothing here')\n")
    (kp.cwd / "notes.md").write_text(f"line one\nline two\ntoken: {TOKEN}\n")
    (kp.cwd / "blob.bin").write_bytes(b"\0\1\2" + DB.encode())
    (kp.cwd / ".git").mkdir()
    (kp.cwd / ".git" / "config").write_text(DB)
    (kp.cwd / "link.txt").symlink_to(src / "app.py")
    return kp


def test_findings_name_file_line_key_and_never_the_value(repo: KeepRunner) -> None:
    result = repo("scan", "--stage=staging,production")
    assert result.code == 1
    assert result.stdout.splitlines() == [
        "notes.md:3: GITHUB_TOKEN (local:production)",
        "src/app.py:2: DB_PASSWORD (local:staging)",
        "src/app.py:2: DB_PASSWORD (local:production)",
    ]
    assert DB not in result.stdout + result.stderr and TOKEN not in result.stdout + result.stderr
    assert "1 value(s) shorter than 8 characters not looked for" in result.stderr
    assert "1 binary file(s) skipped" in result.stderr


def test_json_and_paths(repo: KeepRunner) -> None:
    result = repo("scan", "src", "notes.md", "--stage=production", "--format=json")
    assert result.code == 1
    assert result.json() == [  # in the order of the PATHs given
        {"path": os.path.join("src", "app.py"), "line": 2, "key": "DB_PASSWORD", "vault": "local",
         "stage": "production"},
        {"path": "notes.md", "line": 3, "key": "GITHUB_TOKEN", "vault": "local", "stage": "production"},
    ]
    clean = repo("scan", "src/clean.py", "--stage=production", "--format=json")
    assert clean.code == 0 and clean.json() == []
    missing = repo("scan", "nope/", "--stage=production")
    assert missing.code == 3 and "nope/ does not exist" in missing.stderr


def test_keep_local_is_skipped(repo: KeepRunner) -> None:
    (repo.cwd / ".keep" / "local" / "leak.txt").write_text(DB)
    (repo.cwd / "src" / "app.py").unlink()
    (repo.cwd / "notes.md").unlink()
    result = repo("scan", "--stage=staging")
    assert result.code == 0, result.stdout
    assert repo("scan", ".keep/local", "--stage=staging").code == 0


def test_nothing_to_look_for(kp: KeepRunner) -> None:
    seed(kp.cwd, kp.env, "staging", {"PORT": "3306"})
    (kp.cwd / "f.txt").write_text("3306\n")
    result = kp("scan", "--stage=staging")
    assert result.code == 0 and "nothing to look for" in result.stderr


def test_help_mentions_the_rules(kp: KeepRunner) -> None:
    out = " ".join(kp.ok("scan", "--help").stdout.split())
    assert "shorter than 8 characters are not looked for" in out and "never the value" in out


# -- the matcher: chunk boundaries, overlaps, both strategies ----------------------------------

def _naive(data: bytes, values: list[bytes]) -> list[tuple[int, bytes]]:
    hits = []
    for value in set(values):
        start = data.find(value)
        while start >= 0:
            hits.append((data.count(b"\n", 0, start) + 1, value))
            start = data.find(value, start + 1)
    return sorted(hits)


_value = st.binary(min_size=8, max_size=20).filter(lambda b: b"\0" not in b) | st.sampled_from(
    [b"abcdefgh", b"abcdefghij", b"cdefghab", b"aaaaaaaaa", b"line\nbreak-value"])
_filler = st.lists(st.sampled_from([b"a", b"b", b"\n", b"x", b"abcdefgh", b"cdefghab", b"aaaa"]), max_size=60)


@settings(deadline=None, max_examples=150)
@given(st.lists(_value, min_size=1, max_size=5), _filler, st.integers(1, 17), st.sampled_from(["find", "regex"]))
def test_every_occurrence_found_across_chunks(values: list[bytes], filler: list[bytes], chunk: int,
                                              strategy: str) -> None:
    data = b"".join(filler[: len(filler) // 2]) + values[0] + b"".join(filler[len(filler) // 2:]) + values[-1]
    matcher = Matcher({v: [Owner("K", "v", "s")] for v in values}, strategy)
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"keep-scan-{os.getpid()}.txt"
    path.write_bytes(data.replace(b"\0", b"."))
    try:
        hits, binary = scanning.scan_file(str(path), matcher, chunk_size=chunk)
    finally:
        path.unlink()
    assert not binary
    assert hits == _naive(data.replace(b"\0", b"."), values)


@pytest.mark.parametrize("offset", [-10, -5, -1, 0, 1])
def test_value_across_the_default_chunk_boundary_is_found_once(tmp_path: Path, offset: int) -> None:
    value = b"0123456789-fake"
    path = tmp_path / "big.txt"
    start = scanning.CHUNK + offset
    path.write_bytes(b"x" * (start - 2) + b"\n\n" + value + b"\n" + b"y" * 100)
    for strategy in ("find", "regex"):
        matcher = Matcher({value: [Owner("K", "v", "s")], b"nothing-like-it": [Owner("N", "v", "s")]}, strategy)
        assert scanning.scan_file(str(path), matcher) == ([(3, value)], False)


def test_long_values_build_a_regex_without_recursion() -> None:
    pem = b"-----BEGIN KEY-----\n" + b"A" * 5000 + b"\n-----END KEY-----"
    matcher = Matcher({pem: [Owner("PEM", "v", "s")], pem[:40]: [Owner("HEAD", "v", "s")]}, "regex")
    assert [v for _, v in matcher.find(b"..." + pem)] == [pem, pem[:40]]


def test_exclude_globs(repo: KeepRunner) -> None:
    (repo.cwd / "node_modules").mkdir()
    (repo.cwd / "node_modules" / "dep.js").write_text(DB)
    (repo.cwd / "bundle.min.js").write_text(DB)
    found = repo("scan", "--stage=staging", "--format=json").json()
    assert {f["path"] for f in found} == {"node_modules/dep.js", "bundle.min.js", "src/app.py"}  # type: ignore[index]
    kept = repo("scan", "--stage=staging", "--format=json", "--exclude=node_modules", "--exclude", "*.min.js,src/*")
    assert kept.code == 0 and kept.json() == []
    # files named explicitly (as a pre-commit hook does) are excluded too
    assert repo("scan", "bundle.min.js", "--stage=staging", "--exclude=*.min.js").code == 0
