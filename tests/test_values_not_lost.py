"""Values are never lost by accident: an empty stdin or prompt does not erase a secret, and a key
that no environment can hold is flagged when it is set and named (with the `--except` that
leaves it out) when a whole stage is exported."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

import pytest

from .conftest import KEEP, KeepRunner

S = ("--stage", "local")


@pytest.fixture
def stored(kp: KeepRunner) -> KeepRunner:
    kp.ok("set", "DB_HOST", "db.internal", *S)
    return kp


def value_of(kp: KeepRunner, key: str) -> str:
    return kp.ok("get", key, *S, "--format", "raw").stdout


@pytest.mark.parametrize("how", [("--stdin",), ("-",)])
@pytest.mark.parametrize("data", [b"", b"\n"])
def test_empty_stdin_is_refused_and_the_value_kept(stored: KeepRunner, how: tuple[str, ...], data: bytes) -> None:
    result = stored("set", "DB_HOST", *how, *S, input=data)
    assert result.code == 2
    assert result.stderr.strip() == (
        "keep: stdin was empty: nothing stored in DB_HOST (pass --allow-empty to store an empty value)"
    )
    assert value_of(stored, "DB_HOST") == "db.internal\n"


def test_allow_empty_stores_an_empty_value(stored: KeepRunner) -> None:
    result = stored.ok("set", "DB_HOST", "--stdin", "--allow-empty", *S, input=b"")
    assert "updated DB_HOST" in result.stderr
    assert value_of(stored, "DB_HOST") == "\n"


def _set_on_a_terminal(kp: KeepRunner, answer: bytes, *flags: str) -> tuple[int, str]:
    """`keep set DB_HOST` on a real terminal, typing `answer` at the hidden prompt."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*KEEP, "set", "DB_HOST", *S, *flags], cwd=kp.cwd, env=kp.env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 60
    typed = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal closed: keep has exited
                break
            if not chunk:
                break
            seen += chunk
        if not typed and b"Value" in seen:
            os.write(master, answer)
            typed = True
        if proc.poll() is not None and not ready:
            break
    code = proc.wait(timeout=30)
    os.close(master)
    return code, seen.decode("utf-8", "replace")


def test_empty_answer_at_the_hidden_prompt_is_refused(stored: KeepRunner) -> None:
    code, screen = _set_on_a_terminal(stored, b"\r")
    assert code == 2, screen
    assert "Empty value: nothing stored in DB_HOST (pass --allow-empty to store one)" in screen
    assert value_of(stored, "DB_HOST") == "db.internal\n"

    code, screen = _set_on_a_terminal(stored, b"\r", "--allow-empty")
    assert code == 0, screen
    assert value_of(stored, "DB_HOST") == "\n"


def test_key_that_is_no_env_var_name_warns_at_set_and_export_names_it(kp: KeepRunner) -> None:
    warned = kp.ok("set", "1BAD", "fake-v", *S)
    assert "created 1BAD" in warned.stderr
    assert (
        "warning: '1BAD' is not a valid environment variable name (letters, digits and _, not starting with a "
        "digit): env, shell and docker exports of local need --except 1BAD"
    ) in warned.stderr
    assert "warning" not in kp.ok("set", "GOOD_KEY", "fake-g", *S).stderr
    kp.ok("set", "2-ALSO", "fake-a", *S)

    for fmt in ("env", "shell", "docker"):
        refused = kp("export", *S, "--format", fmt)
        assert refused.code == 2 and refused.stdout == ""
        assert refused.stderr.strip() == (
            f"keep: Keys '1BAD', '2-ALSO' are not valid environment variable names, so they cannot be written in "
            f"{fmt} format (use letters, digits and _, not starting with a digit) (leave them out with --except "
            "1BAD,2-ALSO, rename them, or export as json/yaml/csv)"
        )
    assert kp.ok("export", *S, "--except", "1BAD,2-ALSO").stdout == "GOOD_KEY=fake-g\n"
    assert kp.ok("export", *S, "--format", "json").json() == {"1BAD": "fake-v", "2-ALSO": "fake-a",
                                                              "GOOD_KEY": "fake-g"}
