"""The CLI runner of tests/conftest.py: an in-process call gives what a real `keep` process gives
(the smoke set below runs each command both ways and compares), and leaves the pytest process as
it found it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from .conftest import (
    ExecInProcess,
    KeepRunner,
    Result,
    _run_in_process,
    base_env,
    clear_foreign_env,
    command_word,
)

# (args, stdin) - deterministic output only (no timestamps), errors included
SMOKE: list[tuple[tuple[str, ...], str | None]] = [
    (("--version",), None),
    (("set", "DB_PASSWORD", "fake-smoke-pass-1", "--stage", "local"), None),
    (("set", "FROM_STDIN", "--stdin", "--stage", "staging"), "fake-from-stdin\n"),
    (("get", "DB_PASSWORD", "--stage", "local", "--format", "raw"), None),
    (("get", "FROM_STDIN", "--stage", "staging", "--format", "raw"), None),
    (("get", "MISSING", "--stage", "local"), None),
    (("export", "--stage", "local"), None),
    (("export", "--stage", "staging", "--format", "json"), None),
    (("delete", "DB_PASSWORD", "--stage", "local"), None),  # no terminal, no --force: refused
    (("no-such-command",), None),
    (("set", "--bogus-option"), None),
    (("stage:add", "qa", "--no-interaction"), None),
    (("vault:list", "--format", "json"), None),
]


def _smoke(tmp_path: Path, subprocess: bool) -> list[tuple[int, str, str]]:
    """SMOKE on a fresh project at the same paths each time (paths show in some outputs)."""
    project, home = tmp_path / "proj", tmp_path / "home"
    for path in (project, home):
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()
    runner = KeepRunner(project, base_env(home), subprocess=subprocess)
    runner.ok("init", "--no-interaction", "--name", "Smoke", "--namespace", "smoke")
    return [(r.code, r.stdout, r.stderr) for r in (runner(*args, input=stdin) for args, stdin in SMOKE)]


def test_in_process_calls_give_what_a_real_process_gives(tmp_path: Path) -> None:
    in_process = _smoke(tmp_path, subprocess=False)
    processes = _smoke(tmp_path, subprocess=True)
    for (args, _), mine, real in zip(SMOKE, in_process, processes, strict=True):
        assert mine == real, f"keep {' '.join(args)}"
    assert {code for code, _, _ in processes} >= {0, 2, 3}  # success and both kinds of error


def test_the_console_script_runs(keep: KeepRunner) -> None:
    script = Path(sys.executable).parent / "keep"
    if not script.exists():
        pytest.skip("no `keep` console script next to this Python (package not installed with pip)")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60, env=keep.env,
                          cwd=keep.cwd, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0 and proc.stdout.startswith("keep ")


def test_an_in_process_call_leaves_the_process_as_it_was(kp: KeepRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEP_RUNNER_CANARY", "outside")
    before = (dict(os.environ), os.getcwd(), sys.stdin, sys.stdout, sys.stderr, sys.argv,
              [os.fstat(fd).st_ino for fd in (0, 1, 2)], signal.getsignal(signal.SIGINT))
    umask = os.umask(0o027)
    try:
        result = kp("set", "K", "--stdin", "--stage", "local", input="fake-value\n",
                    env={"KEEP_RUNNER_CANARY": "inside", "NO_COLOR": "1"})
        assert result.code == 0, result.stderr
        assert os.umask(0o027) == 0o027
        after = (dict(os.environ), os.getcwd(), sys.stdin, sys.stdout, sys.stderr, sys.argv,
                 [os.fstat(fd).st_ino for fd in (0, 1, 2)], signal.getsignal(signal.SIGINT))
    finally:
        os.umask(umask)
    assert after == before
    assert kp.ok("get", "K", "--stage", "local", "--format", "raw").stdout == "fake-value\n"


def test_the_cli_sees_exactly_the_runner_environment(kp: KeepRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """A variable of the pytest process does not leak into an in-process call (KEEP_LOCAL_KEY here
    would open the vault with another key)."""
    kp.ok("set", "K", "fake-value", "--stage", "local")
    monkeypatch.setenv("KEEP_LOCAL_KEY", "AAAA")  # not a valid key: keep would fail if it saw it
    assert kp.ok("get", "K", "--stage", "local", "--format", "raw").stdout == "fake-value\n"


def test_module_globals_rebound_by_a_call_are_put_back(kp: KeepRunner) -> None:
    """`keep shell` sets cli.context.IN_SHELL for the rest of its process; the next in-process
    call must not inherit it (a `run` there would start a child instead of exec-ing)."""
    from keep_secrets.cli import context

    assert context.IN_SHELL is False
    result = kp("shell", input="get NOPE --stage local\n")
    assert "not found" in result.stderr
    assert context.IN_SHELL is False


def test_exec_is_refused_in_process_and_run_uses_a_real_process(kp: KeepRunner) -> None:
    with pytest.raises(ExecInProcess):
        _run_in_process(["run", "--stage", "local", "--", "true"], kp.cwd, dict(kp.env), None)
    assert command_word(["--stage", "local", "run", "--", "true"]) == "run"
    assert kp("--stage", "local", "run", "--", "true").code == 0


def test_calls_from_other_threads_run_as_processes(kp: KeepRunner) -> None:
    results: list[Result] = []
    threads = [threading.Thread(target=lambda: results.append(kp("--version"))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.code for r in results] == [0, 0, 0]


def test_hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert os.environ["PYTHON_KEYRING_BACKEND"] == "keyring.backends.fail.Keyring"
    outside = {"KEEP_LOCAL_KEY": "x", "KEEP_MAX_CONCURRENCY": "1", "AWS_PROFILE": "real", "AWS_REGION": "x",
               "BAO_ADDR": "http://x", "VAULT_TOKEN": "x", "BROWSER": "firefox", "HOME_KEEP": "stays"}
    for name, value in outside.items():
        monkeypatch.setenv(name, value)
    clear_foreign_env(monkeypatch)
    assert [name for name in outside if name in os.environ] == ["HOME_KEEP"]
