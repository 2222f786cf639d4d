"""`keep run` with real subprocesses: the environment it builds, exec vs. a supervised child,
redaction across reads, signal forwarding and exit codes."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from .conftest import KEEP, KeepRunner
from .moving_support import seed

PY = sys.executable
SECRETS = {
    "DB_PASSWORD": "fake-db-pass-123",
    "DB_USER": "fake-user",
    "API_KEY": "fake-api-key-456",
    "TINY": "abc",
}
DUMP_ENV = "import json, os; print(json.dumps(dict(os.environ)))"


@pytest.fixture
def rp(kp: KeepRunner) -> KeepRunner:
    seed(kp.cwd, kp.env, "staging", SECRETS)
    return kp


def env_of(rp: KeepRunner, *options: str, env: dict[str, str] | None = None) -> dict[str, str]:
    result = rp.ok("run", "--stage=staging", *options, "--", PY, "-c", DUMP_ENV, env=env)
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_secrets_are_injected_over_the_inherited_environment(rp: KeepRunner) -> None:
    env = env_of(rp, env={"INHERITED_VAR": "fake-inherited", "DB_USER": "fake-overridden"})
    for key, value in SECRETS.items():
        assert env[key] == value
    assert env["INHERITED_VAR"] == "fake-inherited"
    assert env["HOME"] == rp.env["HOME"]


def test_no_inherit_passes_only_secrets_and_path(rp: KeepRunner) -> None:
    env = env_of(rp, "--no-inherit", env={"INHERITED_VAR": "fake-inherited"})
    # the interpreter may add LC_CTYPE when it coerces the C locale; nothing else appears
    env.pop("LC_CTYPE", None)
    assert env == {**SECRETS, "PATH": rp.env["PATH"]}


def test_only_except_use_comma_globs(rp: KeepRunner) -> None:
    env = env_of(rp, "--only=DB_*,API_*", "--except=DB_USER")
    assert {k for k in SECRETS if k in env} == {"DB_PASSWORD", "API_KEY"}


def test_exit_code_is_the_commands_and_keep_execs(rp: KeepRunner) -> None:
    assert rp("run", "--stage=staging", "--", "sh", "-c", "exit 7").code == 7
    # exec: the command runs as the very process that was started as keep
    proc = subprocess.run([*KEEP, "run", "--stage=staging", "--", "sh", "-c", "echo $$"], cwd=rp.cwd, env=rp.env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip().isdigit()
    started = subprocess.Popen([*KEEP, "run", "--stage=staging", "--", "sh", "-c", "echo $$"], cwd=rp.cwd,
                               env=rp.env, stdout=subprocess.PIPE, text=True)
    out, _ = started.communicate(timeout=60)
    assert int(out.strip()) == started.pid


def test_stdin_reaches_the_command(rp: KeepRunner) -> None:
    assert rp.ok("run", "--stage=staging", "--", "cat", input="fake piped input\n").stdout == "fake piped input\n"
    redacted = rp.ok("run", "--stage=staging", "--redact", "--", "cat", input="fake piped fake-user\n")
    assert redacted.stdout == "fake piped ********\n"


def test_missing_command_is_127(rp: KeepRunner) -> None:
    for extra in ((), ("--redact",)):
        result = rp("run", "--stage=staging", *extra, "--", "fake-no-such-command-xyz")
        assert result.code == 127
        assert "Command not found: fake-no-such-command-xyz" in result.stderr
        assert result.stdout == ""
    not_exec = rp.cwd / "script.sh"
    not_exec.write_text("#!/bin/sh\necho hi\n")
    assert rp("run", "--stage=staging", "--", "./script.sh").code == 126


def test_usage_errors(rp: KeepRunner) -> None:
    assert rp("run", "--stage=staging").code == 2
    assert rp("run", "--stage=staging", "--bogus", "--", "true").code == 2
    bad_stage = rp("run", "--stage=nope", "--", "true")
    assert bad_stage.code == 2 and "Unknown stage" in bad_stage.stderr


def test_redaction_of_a_value_written_in_two_pieces_to_stdout_and_stderr(rp: KeepRunner) -> None:
    script = (
        "import os, sys, time\n"
        "pw = os.environ['DB_PASSWORD']\n"
        "for stream in (sys.stdout, sys.stderr):\n"
        "    stream.write('pw=' + pw[:5]); stream.flush(); time.sleep(0.3)\n"
        "    stream.write(pw[5:] + ' user=' + os.environ['DB_USER'] + ' tiny=' + os.environ['TINY'] + '\\n')\n"
        "    stream.flush()\n"
    )
    result = rp.ok("run", "--stage=staging", "--redact", "--", PY, "-c", script)
    assert result.stdout == "pw=******** user=******** tiny=abc\n"
    assert "pw=******** user=******** tiny=abc\n" in result.stderr
    for value in ("fake-db-pass-123", "fake-user", "fake-"):
        assert value not in result.stdout
        assert value not in result.stderr
    plain = rp.ok("run", "--stage=staging", "--", PY, "-c", script)
    assert "pw=fake-db-pass-123" in plain.stdout


def test_redact_exit_code_and_signal_death(rp: KeepRunner) -> None:
    assert rp("run", "--stage=staging", "--redact", "--", "sh", "-c", "exit 9").code == 9
    assert rp("run", "--stage=staging", "--redact", "--", "sh", "-c", "kill -KILL $$").code == 128 + 9


def _start_waiting_child(rp: KeepRunner, handler_exit: int | None) -> subprocess.Popen[str]:
    """keep run --redact around a Python child that reports 'ready' and then waits; with
    `handler_exit` it handles SIGTERM and SIGINT by exiting with that code."""
    script = "import os, signal, sys, time\n"
    if handler_exit is not None:
        script += (
            "def h(n, f):\n"
            "    print('child got', signal.Signals(n).name, 'pw', os.environ['DB_PASSWORD'], flush=True)\n"
            f"    sys.exit({handler_exit})\n"
            "signal.signal(signal.SIGTERM, h)\nsignal.signal(signal.SIGINT, h)\n"
        )
    script += "print('ready', flush=True)\ntime.sleep(30)\n"
    proc = subprocess.Popen([*KEEP, "run", "--stage=staging", "--redact", "--", PY, "-c", script], cwd=rp.cwd,
                            env=rp.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_sent_to_keep_reaches_the_child_and_its_exit_code_is_returned(rp: KeepRunner,
                                                                            sig: signal.Signals) -> None:
    proc = _start_waiting_child(rp, handler_exit=42)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 42, err
    assert out == f"child got {sig.name} pw ********\n"


def test_child_killed_by_forwarded_sigterm_gives_143(rp: KeepRunner) -> None:
    proc = _start_waiting_child(rp, handler_exit=None)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM


def _ctrl_c_on_a_terminal(rp: KeepRunner, counter: Path, own_group: bool) -> int:
    """Run keep --redact on a pseudo-terminal it controls, press Ctrl+C, and return keep's
    exit code; the child writes how many SIGINTs it received to `counter`."""
    # sigtimedwait takes each SIGINT off the queue as it arrives, so a second one sent a
    # moment after the first is counted instead of merging into it
    script = (
        "import os, signal, sys, time\n"
        + ("os.setpgid(0, 0)\n" if own_group else "")
        + "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT])\n"
        "print('ready', flush=True)\n"
        "end = time.time() + (3.0 if {own} else 20.0)\n"
        "hits = []\n"
        "while time.time() < end:\n"
        "    info = signal.sigtimedwait([signal.SIGINT], max(0.01, end - time.time()))\n"
        "    if info:\n"
        "        hits.append(info)\n"
        "        end = min(end, time.time() + 1.0)\n"
        f"open({str(counter)!r}, 'w').write(str(len(hits)))\n"
        "sys.exit(3)\n"
    ).replace("{own}", str(own_group))
    master, slave = os.openpty()

    def controlling_tty() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([*KEEP, "run", "--stage=staging", "--redact", "--", PY, "-c", script], cwd=rp.cwd,
                            env=rp.env, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=controlling_tty)
    os.close(slave)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        os.write(master, b"\x03")
        proc.communicate(timeout=30)
    finally:
        os.close(master)
    return proc.returncode


def test_terminal_ctrl_c_reaches_the_child_once(rp: KeepRunner, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    assert _ctrl_c_on_a_terminal(rp, counter, own_group=False) == 3
    assert counter.read_text() == "1"


def test_terminal_signals_are_not_sent_twice(rp: KeepRunner, tmp_path: Path) -> None:
    """Ctrl+C on a terminal signals the whole foreground process group, the child included,
    so keep must not send it again (a second SIGINT makes many programs quit without
    cleaning up). Shown deterministically with a child outside the group: it gets no SIGINT
    from keep, exactly as when it runs without keep."""
    counter = tmp_path / "count"
    assert _ctrl_c_on_a_terminal(rp, counter, own_group=True) == 3
    assert counter.read_text() == "0"


def test_template_auto_discovery_with_statics_and_placeholders(rp: KeepRunner) -> None:
    (rp.cwd / "env").mkdir(exist_ok=True)
    (rp.cwd / "env" / "staging.env").write_text(
        "# template\nAPP_ENV=fake-static-env\nDB_PASSWORD={local:DB_PASSWORD}\nAPI_KEY={local}\n"
        "DATABASE_URL=postgres://{local:DB_USER}:{local:DB_PASSWORD}@db:5432/app\n"
    )
    env = env_of(rp, "--template", "--no-inherit")
    env.pop("LC_CTYPE", None)
    assert env == {
        "PATH": rp.env["PATH"],
        "APP_ENV": "fake-static-env",
        "DB_PASSWORD": "fake-db-pass-123",
        "API_KEY": "fake-api-key-456",
        "DATABASE_URL": "postgres://fake-user:fake-db-pass-123@db:5432/app",
    }
    only = env_of(rp, "--template", "--only=DB_*,APP_*")
    assert "API_KEY" not in only and "DATABASE_URL" not in only and only["APP_ENV"] == "fake-static-env"
    # an explicit file, and redaction of rendered values but not of statics
    (rp.cwd / "other.env").write_text("URL=https://{local:DB_USER}@example.test\nMODE=fake-static-mode\n")
    result = rp.ok("run", "--stage=staging", "--template=other.env", "--redact", "--", "sh", "-c",
                   'echo "$URL $MODE fake-user"')
    assert result.stdout == "******** fake-static-mode ********\n"


def test_template_missing_secret_fails_before_running(rp: KeepRunner) -> None:
    marker = rp.cwd / "ran"
    (rp.cwd / "env").mkdir(exist_ok=True)
    (rp.cwd / "env" / "production.env").write_text("DB_PASSWORD={local:DB_PASSWORD}\n")
    result = rp("run", "--stage=production", "--template", "--", "touch", str(marker))
    assert result.code == 3
    assert "{local:DB_PASSWORD}" in result.stderr
    assert not marker.exists()
    # run has no --missing option, so its error must not suggest one
    assert "--missing" not in result.stderr and "not started" in result.stderr
    missing = rp("run", "--stage=local", "--template", "--", "true")
    assert missing.code == 3 and "No template" in missing.stderr


def test_template_lines_left_out_by_only_cannot_fail_run(rp: KeepRunner) -> None:
    """--only/--except filter template lines before resolving, as `export --template` does."""
    (rp.cwd / "t.env").write_text("DB_USER={local:DB_USER}\nGONE={local:NOT_A_SECRET}\n")
    for filters in (("--only=DB_*",), ("--except=GONE",)):
        env = env_of(rp, "--template=t.env", *filters)
        assert env["DB_USER"] == "fake-user" and "GONE" not in env
        exported = rp.ok("export", "--stage=staging", "--template=t.env", *filters)
        assert exported.stdout == "DB_USER=fake-user\n"


def test_nothing_is_written_to_disk(rp: KeepRunner) -> None:
    def snapshot() -> dict[str, tuple[int, int]]:
        out = {}
        for root in (rp.cwd, Path(rp.env["HOME"])):
            for path in root.rglob("*"):
                if path.is_file():
                    stat = path.stat()
                    out[str(path)] = (stat.st_size, stat.st_mtime_ns)
        return out

    before = snapshot()
    time.sleep(0.05)
    rp.ok("run", "--stage=staging", "--", "true")
    rp.ok("run", "--stage=staging", "--redact", "--", "true")
    assert snapshot() == before


@pytest.mark.parametrize("redact", [False, True])
def test_closed_stdout_gives_the_command_sigpipe_as_without_keep(rp: KeepRunner, redact: bool) -> None:
    """`keep run -- yes | head -1`: `yes` must die of SIGPIPE quietly, as it does unwrapped
    (exec keeps ignored signals ignored, and Python ignores SIGPIPE)."""
    options = ["--redact"] if redact else []
    proc = subprocess.Popen([*KEEP, "run", "--stage=staging", *options, "--", "yes"], cwd=rp.cwd, env=rp.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == b"y\n"
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=30)
    assert proc.returncode in (-signal.SIGPIPE, 128 + signal.SIGPIPE)
    assert err == b""


def test_vaults_are_merged_like_export(rp: KeepRunner) -> None:
    team = {"slug": "team", "driver": "local", "name": "Team", "scope": ""}
    (rp.cwd / ".keep" / "vaults" / "team.json").write_text(json.dumps(team))
    seed(rp.cwd, rp.env, "staging", {"TEAM_ONLY": "fake-team", "DB_USER": "fake-team-user"}, vault="team")
    # no --vault: every workspace vault, the default vault (local) winning a shared key
    result = rp.ok("run", "--stage=staging", "--", PY, "-c", DUMP_ENV)
    env = json.loads(result.stdout)
    assert env["TEAM_ONLY"] == "fake-team" and env["DB_USER"] == "fake-user"
    assert "DB_USER is in both team and local; using local" in result.stderr
    exported = rp.ok("export", "--stage=staging", "--format=json").json()
    assert isinstance(exported, dict)
    assert {k: env[k] for k in exported} == exported
    # --vault a,b: those vaults, the later one winning
    env = env_of(rp, "--vault=local,team")
    assert env["DB_USER"] == "fake-team-user"
    env = env_of(rp, "--vault=team")
    assert "DB_PASSWORD" not in env and env["TEAM_ONLY"] == "fake-team"
    assert rp("run", "--stage=staging", "--vault=nope", "--", "true").code == 2


def test_run_inside_keep_shell_starts_a_child_so_the_shell_survives(rp: KeepRunner) -> None:
    script = (
        "use local:staging\n"
        'run -- sh -c "echo first $DB_USER"\n'
        'run --redact -- sh -c "echo second $DB_USER"\n'
        "get DB_USER --format raw\n"
    )
    result = rp("shell", input=script)
    assert result.stdout.splitlines() == ["first fake-user", "second ********", "fake-user"], result.stderr


def test_owns_process() -> None:
    from keep_secrets.services.running import owns_process

    assert owns_process(["npm", "start"], ["--stage=x", "run", "--redact", "--", "npm", "start"])
    assert owns_process(["run"], ["run", "--", "run"])
    assert not owns_process(["npm", "start"], ["shell"])
    assert not owns_process(["shell"], ["shell"])
    assert not owns_process(["npm", "start"], [])
