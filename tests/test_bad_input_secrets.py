"""Bad-input battery for the single-secret commands.

Each case runs a real `keep` process against one seeded project and asserts: the expected
exit code, exactly one `keep: ...` line on stderr saying what is wrong, nothing on stdout, no
traceback, and not one byte changed (nor file added or removed) under the project or HOME.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import KeepRunner, Result, base_env

LONG_KEY = "K" * 256
S = ("--stage", "local")


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    code: int
    match: str
    input: bytes | None = None
    env: dict[str, str] = field(default_factory=dict)


CASES = [
    # -- invalid keys on write paths (SPEC §3) --
    Case("set-key-leading-dash-after-separator", ("set", *S, "--", "-x", "fake-v"), 2, r"cannot start with '-'"),
    Case("set-key-leading-dash-as-option", ("set", "-x", "fake-v", *S), 2,
         r"No such option:? '?-x.*a KEY cannot start with '-'"),
    # a value that looks like short options: the error says how to pass it
    Case("set-value-leading-dash-as-option", ("set", "NEW_KEY", "-x9fake", *S), 2,
         r"No such option:? '?-x.*VALUE starting with '-' goes after `--`"),
    Case("set-key-256-chars", ("set", LONG_KEY, "fake-v", *S), 2, r"too long \(256 characters\)"),
    Case("set-key-slash", ("set", "a/b", "fake-v", *S), 2, r"Invalid key 'a/b'"),
    Case("set-key-space", ("set", "a b", "fake-v", *S), 2, r"Invalid key 'a b'"),
    Case("set-key-empty", ("set", "", "fake-v", *S), 2, r"Invalid key ''"),
    Case("set-key-dot", ("set", "KEY_WITH_SPECIAL-CHARS.123", "fake-v", *S), 2, r"Invalid key.*A-Z a-z 0-9 _ -"),
    Case("set-key-non-ascii", ("set", "KÉY", "fake-v", *S), 2, r"Invalid key 'KÉY'"),
    Case("set-key-newline", ("set", "A\nB", "fake-v", *S), 2, r"Invalid key"),
    Case("rename-target-invalid", ("rename", "DB_PASSWORD", "bad/name", *S), 2, r"Invalid key 'bad/name'"),
    Case("rename-target-leading-dash", ("rename", *S, "--", "DB_PASSWORD", "-new"), 2, r"cannot start with '-'"),
    Case("rotate-key-invalid", ("rotate", "a b", *S), 2, r"Invalid key 'a b'"),
    # -- invalid keys on lookup paths --
    Case("get-key-space", ("get", "a b", *S), 2, r"Invalid key 'a b'"),
    Case("get-key-256-chars", ("get", LONG_KEY, *S), 2, r"Invalid key"),
    Case("delete-key-empty", ("delete", "", "--force", *S), 2, r"Invalid key ''"),
    Case("history-key-control-char", ("history", "A\tB", *S), 2, r"Invalid key"),
    # -- stages and vaults --
    Case("unknown-stage-lists-stages", ("set", "NEW_KEY", "fake-v", "--stage", "prod"), 2,
         r"Unknown stage 'prod' \(did you mean production\?\); configured stages: local, staging, production"),
    Case("unknown-stage-env-alias", ("get", "DB_PASSWORD", "--env", "Production"), 2,
         r"Unknown stage 'Production'.*local, staging, production"),
    Case("stage-path-traversal", ("set", "NEW_KEY", "fake-v", "--stage", "../etc"), 2, r"Unknown stage '\.\./etc'"),
    Case("stage-missing-several-configured", ("show",), 2, r"--stage is required.*local, staging, production"),
    Case("unknown-vault", ("show", *S, "--vault", "nope"), 2, r"Unknown vault 'nope'; configured vaults: local"),
    Case("unknown-vault-on-write", ("set", "NEW_KEY", "fake-v", *S, "--vault", "ssm"), 2, r"Unknown vault 'ssm'"),
    # -- values --
    Case("value-nul-on-stdin", ("set", "NEW_KEY", "--stdin", *S), 2, r"NUL byte", input=b"fake\x00value"),
    Case("value-binary-on-stdin", ("set", "NEW_KEY", "-", *S), 2, r"not valid UTF-8",
         input=b"\x89PNG\r\n\x1a\n\xff\xfe"),
    Case("value-invalid-utf8-argument", ("set", "NEW_KEY", os.fsdecode(b"fake-\xff\xfe-value"), *S), 2,
         r"not valid UTF-8"),
    Case("value-huge-argument", ("set", "NEW_KEY", "x" * 70_000, *S), 2, r"Value too large: 70000 bytes"),
    Case("value-huge-stdin", ("set", "NEW_KEY", "--stdin", *S), 2, r"Value too large: 100000 bytes",
         input=b"y" * 100_000),
    Case("value-too-large-update", ("set", "DB_PASSWORD", "--stdin", *S), 2, r"Value too large",
         input="é".encode() * 40_000),
    # -- option combinations --
    Case("stdin-and-value", ("set", "NEW_KEY", "fake-v", "--stdin", *S), 2, r"not both", input=b"other"),
    Case("no-value-no-terminal", ("set", "NEW_KEY", *S), 2, r"No VALUE given"),
    Case("no-key-no-terminal", ("get", *S), 2, r"Key is required"),
    Case("show-env-without-unmask", ("show", *S, "--format", "env"), 2, r"--format env needs --unmask"),
    Case("get-unknown-format", ("get", "DB_PASSWORD", *S, "--format", "xml"), 2, r"Invalid value for '--format'"),
    Case("show-unknown-format", ("show", *S, "--format", "yaml"), 2, r"Invalid value for '--format'"),
    Case("get-missing-version", ("get", "DB_PASSWORD", *S, "--version", "99"), 3, r"Version 99 of 'DB_PASSWORD'"),
    Case("get-version-not-a-number", ("get", "DB_PASSWORD", *S, "--version", "latest"), 2, r"version number"),
    Case("get-field-of-non-json", ("get", "DB_PASSWORD", *S, "--field", "password"), 2, r"not JSON"),
    Case("get-empty-field", ("get", "DB_PASSWORD", *S, "--field", ""), 2, r"--field cannot be empty"),
    Case("get-extra-argument", ("get", "DB_PASSWORD", "EXTRA", *S), 2, r"unexpected extra argument"),
    Case("set-unknown-option", ("set", "NEW_KEY", "fake-v", *S, "--secure"), 2, r"No such option:? '?--secure"),
    Case("history-negative-limit", ("history", "DB_PASSWORD", *S, "--limit", "-1"), 2, r"--limit"),
    Case("history-limit-not-a-number", ("history", "DB_PASSWORD", *S, "--limit", "ten"), 2, r"--limit"),
    Case("history-bad-date", ("history", "DB_PASSWORD", *S, "--since", "next blue moon"), 2, r"Invalid date"),
    Case("rollback-without-to", ("rollback", "DB_PASSWORD", *S), 2, r"Missing option '--to'"),
    Case("rollback-missing-version", ("rollback", "DB_PASSWORD", "--to", "99", *S), 3, r"Version 99"),
    Case("rotate-length-too-short", ("rotate", "DB_PASSWORD", "--length", "3", *S), 2, r"Invalid length 3"),
    Case("rotate-unknown-charset", ("rotate", "DB_PASSWORD", "--charset", "emoji", *S), 2, r"--charset"),
    Case("rotate-lambda-on-local", ("rotate", "DB_PASSWORD", *S, "--lambda",
                                    "arn:aws:lambda:us-east-1:123456789012:function:fake-rotator"), 2,
         r"Only Secrets Manager supports --lambda"),
    Case("rotate-every-without-lambda", ("rotate", "DB_PASSWORD", *S, "--every", "30d"), 2, r"--every"),
    Case("delete-without-force-no-terminal", ("delete", "DB_PASSWORD", *S), 2, r"pass --force"),
    Case("search-empty-query", ("search", "", *S), 2, r"cannot be empty"),
    # -- conflicts and missing secrets --
    Case("rename-onto-existing", ("rename", "DB_PASSWORD", "OTHER_KEY", *S), 5, r"'OTHER_KEY' already exists"),
    Case("rename-to-itself", ("rename", "DB_PASSWORD", "DB_PASSWORD", *S), 2, r"to itself"),
    Case("restore-not-deleted", ("restore", "DB_PASSWORD", *S), 5, r"not deleted"),
    Case("delete-missing", ("delete", "MISSING_KEY", "--force", *S), 3, r"'MISSING_KEY' not found"),
    Case("rotate-missing", ("rotate", "MISSING_KEY", *S), 3, r"'MISSING_KEY' not found"),
    Case("get-missing", ("get", "MISSING_KEY", *S), 3, r"'MISSING_KEY' not found in local:local"),
    Case("bad-local-key-env", ("get", "DB_PASSWORD", *S), 2, r"KEEP_LOCAL_KEY",
         env={"KEEP_LOCAL_KEY": "not-base64!"}),
]


def snapshot(*roots: Path) -> dict[str, tuple[bytes, int]]:
    """Every file and directory under `roots` with its content and mode."""
    state: dict[str, tuple[bytes, int]] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            mode = stat.S_IMODE(path.lstat().st_mode)
            state[str(path)] = (path.read_bytes() if path.is_file() else b"<dir>", mode)
    return state


@dataclass
class Seeded:
    kp: KeepRunner
    home: Path

    def roots(self) -> tuple[Path, Path]:
        return self.kp.cwd, self.home


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    base = tmp_path_factory.mktemp("battery")
    home = base / "home"
    project = base / "proj"
    home.mkdir()
    project.mkdir()
    kp = KeepRunner(project, base_env(home))
    kp.ok("init", "--no-interaction", "--name", "Battery", "--namespace", "myapp")
    kp.ok("set", "DB_PASSWORD", "fake-db-pass-123", *S)
    kp.ok("set", "DB_PASSWORD", "fake-db-pass-456", *S)
    kp.ok("set", "OTHER_KEY", "fake-other-value", *S)
    yield Seeded(kp, home)


def expect_refusal(result: Result, code: int, match: str) -> None:
    assert result.code == code, f"exit {result.code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("keep: ")
    assert re.search(match, lines[0]), lines[0]
    assert len(lines[0]) < 400


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(seeded: Seeded, case: Case) -> None:
    before = snapshot(*seeded.roots())
    result = seeded.kp(*case.args, input=case.input, env=case.env or None)
    expect_refusal(result, case.code, case.match)
    assert snapshot(*seeded.roots()) == before, "the refused command changed files on disk"


def test_battery_size() -> None:
    assert len(CASES) >= 30


def test_values_unchanged_after_battery(seeded: Seeded) -> None:
    rows = seeded.kp.ok("show", *S, "--format", "json", "--unmask").json()
    assert isinstance(rows, list)
    assert [(r["key"], r["value"], r["revision"]) for r in rows] == [
        ("DB_PASSWORD", "fake-db-pass-456", "2"),
        ("OTHER_KEY", "fake-other-value", "1"),
    ]


# -- broken projects ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (("get", "DB_PASSWORD", *S), None),
        (("set", "DB_PASSWORD", "fake-new-value", *S), None),
        (("set", "DB_PASSWORD", "--stdin", *S), b"fake-piped"),
        (("show", *S), None),
        (("history", "DB_PASSWORD", *S), None),
        (("delete", "DB_PASSWORD", "--force", *S), None),
    ],
)
def test_not_initialised_directory(keep: KeepRunner, args: tuple[str, ...], stdin: bytes | None) -> None:
    result = keep(*args, input=stdin)
    expect_refusal(result, 2, r"not initialised")
    assert list(keep.cwd.iterdir()) == []


def test_corrupt_settings_names_the_file(kp: KeepRunner, home: Path) -> None:
    kp.ok("set", "DB_PASSWORD", "fake-db-pass-123", *S)
    settings = kp.cwd / ".keep" / "settings.json"
    settings.write_text('{\n  "namespace": "myapp",\n  "stages": ["local",\n')
    before = snapshot(kp.cwd, home)
    for args in (("get", "DB_PASSWORD", *S), ("set", "DB_PASSWORD", "fake-new", *S), ("show", *S)):
        expect_refusal(kp(*args), 2, r"settings\.json.*line \d+")
    assert snapshot(kp.cwd, home) == before


def test_corrupt_vault_config_names_the_file(kp: KeepRunner, home: Path) -> None:
    kp.ok("set", "DB_PASSWORD", "fake-db-pass-123", *S)
    (kp.cwd / ".keep" / "vaults" / "local.json").write_text("{not json")
    before = snapshot(kp.cwd, home)
    expect_refusal(kp("get", "DB_PASSWORD", *S), 2, r"local\.json.*line 1")
    expect_refusal(kp("set", "DB_PASSWORD", "fake-new", *S), 2, r"local\.json")
    assert snapshot(kp.cwd, home) == before
