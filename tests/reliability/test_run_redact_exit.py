"""`run --redact` returns when the command exits, even if a background process it started
still holds the output pipe (issue 16 item 11). Real processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import KEEP, KeepRunner
from tests.moving_support import seed


@pytest.fixture
def rp(kp: KeepRunner) -> KeepRunner:
    seed(kp.cwd, kp.env, "staging", {"API_KEY": "fake-api-key-456"})
    return kp


@pytest.fixture
def grandchild(tmp_path: Path) -> Iterator[Path]:
    """Where the command writes the pid of the background `sleep` it starts (`echo $! > …`);
    the sleep is killed after the test, whatever happened."""
    pid_file = tmp_path / "grandchild.pid"
    yield pid_file
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def still_running(pid_file: Path) -> bool:
    pid = int(pid_file.read_text())
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_returns_when_the_command_exits_despite_a_background_grandchild(rp: KeepRunner, grandchild: Path) -> None:
    """keep returns while the background sleep still holds the output pipe (it sleeps far longer
    than the call's timeout): no wall-clock bound that a busy machine's start-up could break."""
    result = rp.process()("run", "--stage=staging", "--redact", "--", "sh", "-c",
                          f'sleep 600 & echo $! > {grandchild}; echo "started $API_KEY"; echo err-side >&2',
                          timeout=120)
    assert result.code == 0, result.stderr
    assert still_running(grandchild)  # was: keep waited for the sleep's end
    assert result.stdout == "started ********\n" and "err-side" in result.stderr


def test_buffered_output_is_drained_before_returning(rp: KeepRunner, grandchild: Path) -> None:
    script = (f'sleep 600 & echo $! > {grandchild}; '
              'i=0; while [ $i -lt 2000 ]; do echo "line $i $API_KEY"; i=$((i+1)); done')
    result = rp.process()("run", "--stage=staging", "--redact", "--", "sh", "-c", script, timeout=60)
    lines = result.stdout.splitlines()
    assert result.code == 0 and len(lines) == 2000 and lines[-1] == "line 1999 ********"


def test_sigterm_exit_code_is_reported_at_once(rp: KeepRunner, grandchild: Path) -> None:
    """The command's exit code comes back while its background sleep still holds the pipe."""
    script = f'trap "exit 42" TERM; sleep 600 & echo $! > {grandchild}; echo ready; wait'
    proc = subprocess.Popen([*KEEP, "run", "--stage=staging", "--redact", "--", "sh", "-c", script],
                            cwd=rp.cwd, env=rp.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=120)
    assert proc.returncode == 42
    assert still_running(grandchild)  # was: keep waited for the sleep's pipe (98 s)
    proc.stdout.close()
    assert proc.stderr is not None
    proc.stderr.close()
