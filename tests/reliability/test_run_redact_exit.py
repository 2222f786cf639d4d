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


class _LateClock:
    """time.monotonic for the stream pump as a thread of a busy machine sees it: every look at
    the clock comes a second after the previous one (the thread was not run in between)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        self.now += 1.0
        return self.now


def test_output_written_before_the_command_exited_is_shown_however_late_the_pump_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`run --redact` stops reading a pipe a background process holds open 0.5 s after the
    command exits; what the command wrote before it exited (here 60 KB, still in the pipe)
    must come out all the same, even when the pump thread only gets to it after those 0.5 s,
    as on a loaded machine. It was dropped: the pump looked at the clock before reading."""
    import threading

    from keep_secrets.services import running

    monkeypatch.setattr(running, "time", _LateClock())
    lines = b"".join(b"line %05d fake-secret-value\n" % i for i in range(2000))
    assert len(lines) < 65536  # all of it fits in the pipe: the command could exit
    source_r, source_w = os.pipe()  # source_w stays open: the background process's copy
    os.write(source_w, lines)
    out_r, out_w = os.pipe()
    exited = threading.Event()
    exited.set()
    shown = bytearray()
    reader = threading.Thread(target=lambda: shown.extend(_read_all(out_r)))
    reader.start()
    try:
        running._pump(os.fdopen(source_r, "rb", buffering=0), out_w, running.Redactor(["fake-secret-value"]), exited)
    finally:
        os.close(out_w)
        reader.join(timeout=30)
        os.close(out_r)
        os.close(source_w)
    assert bytes(shown) == lines.replace(b"fake-secret-value", b"********")


def _read_all(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    return data
