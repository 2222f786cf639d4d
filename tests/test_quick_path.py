"""The click-free fast path of `keep --version` and `keep get` (keep_secrets/cli/quick.py) must
behave exactly like click: same stdout, stderr and exit code for every command line it takes,
and it must leave every other command line to click.

Each side runs as a real process: `main()` (fast path where it applies) against `run_args()`
(always click), on the same project."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keep_secrets.cli.quick import parse_get

from .conftest import KeepRunner

FAST = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('\\nCLICK=%s' % ('click' in sys.modules)))\n"
    "from keep_secrets.console import main\n"
    "main()\n"
)
CLICK = "import sys\nfrom keep_secrets.cli import run_args\nsys.exit(run_args(sys.argv[1:]))\n"


def run(kp: KeepRunner, code: str, args: list[str]) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=kp.cwd, env=kp.env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr


def both(kp: KeepRunner, args: list[str]) -> tuple[tuple[int, str, str], bool]:
    """(click's result, whether the fast path ran without click), after checking both agree."""
    code, out, err = run(kp, FAST, args)
    err, _, marker = err.rpartition("\nCLICK=")
    expected = run(kp, CLICK, args)
    assert (code, out, err) == expected, args
    return expected, marker == "False"


@pytest.fixture
def project(kp: KeepRunner) -> KeepRunner:
    kp.ok("set", "FAKE_KEY", "fake-value", "--stage", "local")
    kp.ok("set", "FAKE_JSON", json.dumps({"user": "fake-user", "db": {"port": 5432}}), "--stage", "staging")
    kp.ok("set", "FAKE_ESC", "fake-\x1b[31mred\x1b[0m", "--stage", "local")
    kp.ok("vault:add", "--driver", "local", "--slug", "second", "--no-verify", "-n")
    return kp


CASES = [
    ["--version"],
    ["-V"],
    ["get", "FAKE_KEY", "--stage", "local"],
    ["get", "FAKE_KEY", "--stage=local", "--format", "raw"],
    ["get", "--format=json", "--env", "local", "FAKE_KEY"],
    ["get", "FAKE_KEY", "--stage", "local", "-q", "--no-color", "-n", "--vault", "local"],
    ["get", "FAKE_JSON", "--stage", "staging", "--field", "db.port", "--format", "json"],
    ["get", "FAKE_JSON", "--stage", "staging", "--field", "nope"],
    ["get", "FAKE_ESC", "--stage", "local", "--format", "raw"],  # click strips the escapes (not a tty)
    ["get", "MISSING", "--stage", "local"],
    ["get", "FAKE_KEY", "--stage", "nostage"],
    ["get", "FAKE_KEY", "--stage", "local", "--vault", "second"],
    ["get", "FAKE_KEY", "--stage", "local", "--vault", "novault"],
    ["get", "FAKE_KEY", "--stage", "local", "--version", "1"],
    ["get", "FAKE_KEY", "--stage", "local", "--version", "99"],
    ["get", "FAKE_KEY"],  # no --stage, no terminal
    ["get", "bad key!", "--stage", "local"],
    # left to click
    ["get", "--help"],
    ["get", "FAKE_KEY", "--stage", "local", "--format", "yaml"],
    ["get", "FAKE_KEY", "--stage"],
    ["get", "FAKE_KEY", "--stage", "local", "--bogus"],
    ["get", "FAKE_KEY", "EXTRA", "--stage", "local"],
    ["get", "FAKE_KEY", "--stage", "local", "-nq"],
    ["get", "FAKE_KEY", "--stage", "local", "--stage", "staging"],
    ["get", "--stage", "local", "--", "FAKE_KEY"],
    ["get", "FAKE_KEY", "--stage=", "--vault", "local"],
    ["--stage", "local", "get", "FAKE_KEY"],
    ["--version", "get"],
    ["get"],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_fast_path_matches_click(project: KeepRunner, args: list[str]) -> None:
    both(project, args)


def test_the_fast_path_really_runs_without_click(project: KeepRunner) -> None:
    (code, out, _), fast = both(project, ["get", "FAKE_KEY", "--stage", "local", "--format", "raw"])
    assert (code, out, fast) == (0, "fake-value\n", True)
    (code, _, err), fast = both(project, ["get", "MISSING", "--stage", "local"])
    assert code == 3 and "MISSING" in err and not fast  # the error line is click's, so click loads
    assert both(project, ["--version"])[1] is True
    assert both(project, ["get", "--help"])[1] is False


WORDS = st.sampled_from([
    "FAKE_KEY", "FAKE_JSON", "MISSING", "get", "local", "staging", "raw", "json", "table", "yaml", "-", "--",
    "--stage", "--env", "--vault", "--format", "--version", "--field", "-n", "-q", "-nq", "--quiet",
    "--no-interaction", "--no-color", "--stage=local", "--format=raw", "--stage=", "--quiet=1", "-h", "--help",
    "user", "db.port", "1", "second", "-x9f",
])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(WORDS, max_size=7))
def test_any_get_command_line_matches_click(project: KeepRunner, words: list[str]) -> None:
    both(project, ["get", *words])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["K"], {"key": "K"}),
        (["K", "--stage", "s", "--format=raw", "-q"], {"key": "K", "stage": "s", "fmt": "raw", "quiet": True}),
        (["--env=s", "K", "--no-color", "-n"], {"key": "K", "stage": "s", "no_color": True, "no_interaction": True}),
        (["K", "--version", "v1", "--field", "a.b"], {"key": "K", "version": "v1", "field": "a.b"}),
        ([], None),
        (["K", "L"], None),
        (["K", "--stage"], None),
        (["K", "--stage", "-x"], None),
        (["K", "--stage="], None),
        (["K", "--format", "yaml"], None),
        (["K", "--quiet=yes"], None),
        (["K", "-nq"], None),
        (["K", "-q", "--quiet"], None),
        (["K", "--env", "a", "--stage", "b"], None),
        (["--", "K"], None),
        (["-"], None),
        (["K", "-h"], None),
    ],
)
def test_parse_get(args: list[str], expected: dict[str, object] | None) -> None:
    assert parse_get(args) == expected


EXIT_PROBE = (
    "import atexit, sys, threading, time\n"
    "atexit.register(lambda: sys.stderr.write('ATEXIT-RAN\\n'))\n"
    "mode = sys.argv.pop(1)\n"
    "if mode == 'thread':\n"
    "    def late():\n"
    "        time.sleep(0.3)\n"
    "        sys.stderr.write('THREAD-DONE\\n')\n"
    "    threading.Thread(target=late).start()\n"
    "from keep_secrets.console import main\n"
    "main()\n"
)


@pytest.mark.parametrize("args, code, out", [
    (["get", "FAKE_KEY", "--stage", "local", "--format", "raw"], 0, "fake-value\n"),
    (["get", "MISSING", "--stage", "local"], 3, ""),
])
def test_the_fast_exit_keeps_what_an_exit_does(project: KeepRunner, args: list[str], code: int, out: str) -> None:
    """The fast path ends the process without the interpreter's teardown (console.exit_now):
    the exit code, the flushed output and the atexit handlers stay as a normal exit has them."""
    proc = subprocess.run([sys.executable, "-c", EXIT_PROBE, "plain", *args], cwd=project.cwd, env=project.env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert (proc.returncode, proc.stdout) == (code, out), proc.stderr
    assert proc.stderr.endswith("ATEXIT-RAN\n")


def test_the_fast_exit_waits_for_other_threads_as_an_exit_does(project: KeepRunner) -> None:
    proc = subprocess.run([sys.executable, "-c", EXIT_PROBE, "thread", "get", "FAKE_KEY", "--stage", "local",
                           "--format", "raw"], cwd=project.cwd, env=project.env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert (proc.returncode, proc.stdout) == (0, "fake-value\n"), proc.stderr
    assert proc.stderr == "THREAD-DONE\nATEXIT-RAN\n"
