"""`run --redact` returns when the command exits, even if a background process it started
still holds the output pipe (issue 16 item 11). Real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import KEEP, KeepRunner
from tests.moving_support import seed


@pytest.fixture
def rp(kp: KeepRunner) -> KeepRunner:
    seed(kp.cwd, kp.env, "staging", {"API_KEY": "fake-api-key-456"})
    return kp


def test_returns_when_the_command_exits_despite_a_background_grandchild(rp: KeepRunner) -> None:
    start = time.monotonic()
    result = rp.process()("run", "--stage=staging", "--redact", "--", "sh", "-c",
                          'sleep 20 & echo "started $API_KEY"; echo err-side >&2', timeout=60)
    elapsed = time.monotonic() - start
    assert result.code == 0 and elapsed < 8, (elapsed, result.stderr)  # was 20 s
    assert result.stdout == "started ********\n" and "err-side" in result.stderr


def test_buffered_output_is_drained_before_returning(rp: KeepRunner) -> None:
    script = 'sleep 20 & i=0; while [ $i -lt 2000 ]; do echo "line $i $API_KEY"; i=$((i+1)); done'
    result = rp.process()("run", "--stage=staging", "--redact", "--", "sh", "-c", script, timeout=60)
    lines = result.stdout.splitlines()
    assert result.code == 0 and len(lines) == 2000 and lines[-1] == "line 1999 ********"


def test_sigterm_exit_code_is_reported_at_once(rp: KeepRunner) -> None:
    script = 'trap "exit 42" TERM; sleep 30 & echo ready; wait'
    proc = subprocess.Popen([*KEEP, "run", "--stage=staging", "--redact", "--", "sh", "-c", script],
                            cwd=rp.cwd, env=rp.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    start = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode == 42 and time.monotonic() - start < 8  # was 98 s (the sleep's pipe)
    proc.stdout.close()
    assert proc.stderr is not None
    proc.stderr.close()
