"""`keep shell` end to end: script mode through a pipe, and the interactive prompt on a pty."""

from __future__ import annotations

import os
import pty
import select
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import KEEP, KeepRunner


def test_script_mode_runs_commands_in_context(kp: KeepRunner) -> None:
    kp.ok("set", "DB_PASSWORD", "fake-db-pass-123", "--stage", "local")
    script = "\n".join([
        "context",
        "show unmask",
        "use staging",
        "context",
        "set API_KEY fake-api-key-456",
        "ls unmask",
        "u local",
        "copy DB_PASSWORD production",
        "get DB_PASSWORD --format raw",
        "exit",
        "show",  # never reached
    ]) + "\n"
    result = kp("shell", input=script)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "local:local"
    assert "local:staging" in lines
    assert "fake-db-pass-123" in result.stdout
    assert "fake-api-key-456" in result.stdout
    assert lines[-1] == "fake-db-pass-123"
    assert kp.ok("get", "DB_PASSWORD", "--stage", "production", "--format", "raw").stdout == "fake-db-pass-123\n"
    assert kp.ok("get", "API_KEY", "--stage", "staging", "--format", "raw").stdout == "fake-api-key-456\n"


def test_bare_keep_in_a_project_is_the_shell(kp: KeepRunner) -> None:
    kp.ok("set", "K", "fake-value-1", "--stage", "local")
    result = kp(input="get K --format raw\n")
    assert result.code == 0
    assert result.stdout == "fake-value-1\n"


def test_short_options_work_in_the_shell(kp: KeepRunner) -> None:
    """`export -o out.env` (issue 9 item 5) and `help` listing the registry's commands."""
    kp.ok("set", "DB_PASSWORD", "fake-db-pass-123", "--stage", "local")
    result = kp("shell", input="export -o out.env\nexport --format json -o out.json\nhelp\nhelp export\n")
    assert result.code == 0, result.stderr
    assert (kp.cwd / "out.env").read_text() == "DB_PASSWORD=fake-db-pass-123\n"
    assert '"DB_PASSWORD": "fake-db-pass-123"' in (kp.cwd / "out.json").read_text()
    assert not (kp.cwd / "--file").exists()
    assert "template:validate" in result.stdout and "-o, --file, --output" in result.stdout


def test_flag_words_and_aliases(kp: KeepRunner) -> None:
    kp.ok("set", "OLD", "fake-old-value", "--stage", "local")
    result = kp("shell", input="d OLD force\nrestore OLD\ndelete OLD force purge\ng OLD\n")
    assert result.code == 3  # the last failing command's code: OLD was purged
    assert "not found" in result.stderr


def test_errors_do_not_stop_the_script_and_set_the_exit_code(kp: KeepRunner) -> None:
    result = kp("shell", input="bogus\nstage nope\nuse prod\ncontext\nget MISSING\ncontext\n")
    assert "unknown command 'bogus'" in result.stderr
    assert "unknown stage 'nope'" in result.stderr
    assert result.stdout.splitlines() == ["local:production", "local:production"]
    assert result.code == 3


def test_builtin_history_vs_history_command(kp: KeepRunner) -> None:
    kp.ok("set", "H", "fake-h-1", "--stage", "local")
    kp.ok("set", "H", "fake-h-2", "--stage", "local")
    result = kp("shell", input="history H --format json unmask\n")
    assert result.code == 0, result.stderr
    assert [v["value"] for v in result.json()] == ["fake-h-2", "fake-h-1"]  # type: ignore[index, union-attr]


class _Pty:
    """Reads a pty with a persistent buffer: `expect` consumes up to and including a needle."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buf = b""

    def expect(self, needle: bytes, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {needle!r}; got {self.buf[-500:]!r}")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                self.buf += chunk
        self.buf = self.buf[self.buf.index(needle) + len(needle):]


def test_interactive_prompt_history_file_never_holds_values(kp: KeepRunner, home: Path) -> None:
    master, slave = pty.openpty()
    env = dict(kp.env, TERM="xterm", COLUMNS="120", LINES="40", PROMPT_TOOLKIT_NO_CPR="1")
    proc = subprocess.Popen([*KEEP, "shell"], cwd=kp.cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
                            close_fds=True)
    os.close(slave)
    try:
        term = _Pty(master)
        term.expect(b"local:local>")
        os.write(master, b"set PTY_KEY fake-pty-secret-789\r")
        term.expect(b"created PTY_KEY")
        term.expect(b"local:local>")
        os.write(master, b"use staging\r")
        term.expect(b"local:staging>")
        os.write(master, b"exit\r")
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 0
    history = home / ".local" / "share" / "keep" / "shell_history"
    text = history.read_text()
    assert "set PTY_KEY" in text
    assert "fake-pty-secret-789" not in text
    assert stat.S_IMODE(history.stat().st_mode) == 0o600
    assert kp.ok("get", "PTY_KEY", "--stage", "local", "--format", "raw").stdout == "fake-pty-secret-789\n"


def test_tab_completion_candidates(kp: KeepRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    from prompt_toolkit.document import Document

    from keep_secrets.cli.context import Ctx
    from keep_secrets.cli.shell import Shell, _ShellCompleter
    from keep_secrets.project import Project

    kp.ok("set", "DB_PASSWORD", "fake-db-pass-123", "--stage", "local")
    kp.ok("set", "DB_USER", "fake-user", "--stage", "local")
    kp.ok("set", "OTHER_STAGE_KEY", "fake-o", "--stage", "staging")
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, kp.env[name])
    ctx = Ctx()
    ctx.set_project(Project.load_at(kp.cwd))
    shell = Shell(ctx, "local", "local")
    completer = _ShellCompleter(shell)

    def complete(text: str) -> list[str]:
        return sorted(c.text for c in completer.get_completions(Document(text), None))

    assert complete("sh") == ["shell", "show"]
    assert complete("hist") == ["history"]
    assert complete("get DB_") == ["DB_PASSWORD", "DB_USER"]
    assert complete("g DB_P") == ["DB_PASSWORD"]
    assert complete("use local:p") == ["local:production"]
    assert complete("stage st") == ["staging"]
    assert complete("vault l") == ["local"]
    assert "unmask" in complete("show ")
    assert complete("delete DB_USER f") == ["force"]
    shell.execute("use staging")
    assert complete("get ") == ["OTHER_STAGE_KEY"]
