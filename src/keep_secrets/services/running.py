"""`run` (SPEC §8): build the command's environment, then either become the command
(`os.execvpe`) or, with `--redact`, supervise it as a child whose output streams through a
filter that masks every injected value.

Nothing here writes to disk and output is never accumulated: the filter holds back at most
the bytes that could still turn out to be the start of a secret.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, NoReturn

from ..formats.mask import MASK
from ..model import KeepError, UsageError
from ..names import Patterns

if TYPE_CHECKING:
    from .. import placeholders as tpl
    from ..vaults.base import Vault

MIN_REDACT_CHARS = 4
FORWARDED_SIGNALS: tuple[signal.Signals, ...] = (
    signal.SIGINT,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
_CHUNK = 65536
_SI_KERNEL = 0x80  # si_code of a signal the kernel raised itself (e.g. the terminal's Ctrl+C)


class CommandNotFound(KeepError):
    exit_code = 127


class CommandNotExecutable(KeepError):
    exit_code = 126


# -- environment ------------------------------------------------------------------------------

def secret_environment(
    open_vault: Callable[[str], Vault], slugs: Sequence[str], stage: str, patterns: Patterns | None = None
) -> tuple[dict[str, str], list[str]]:
    """The stage's secrets of `slugs` (listed concurrently, one call per vault), filtered by
    `--only/--except` and merged exactly as `export` merges them (a later vault wins a shared
    key, and that is reported), so `run` injects what `export` would write. Keys as stored."""
    from .exporting import merge_secrets
    from .fetch import fetch_cells

    wanted = list(dict.fromkeys(slugs))
    cells = fetch_cells(open_vault, [(slug, stage) for slug in wanted])
    merged, warnings = merge_secrets([(slug, cells[(slug, stage)]) for slug in wanted], patterns or Patterns())
    return {s.key: s.value for s in merged}, warnings


def build_environment(
    injected: Mapping[str, str], *, inherit: bool, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Inherited environment overlaid with `injected`; with `inherit=False` only `injected`
    plus `PATH` (so the command can still be found and can find its own tools)."""
    parent = dict(os.environ if base is None else base)
    env: dict[str, str] = dict(parent) if inherit else {}
    if not inherit and "PATH" in parent:
        env["PATH"] = parent["PATH"]
    for key, value in injected.items():
        if "\0" in value:
            raise UsageError(f"Cannot inject '{key}': its value contains a NUL byte, which no environment can hold")
        env[key] = value
    return env


def resolve_command(argv: list[str], env: Mapping[str, str]) -> str:
    """The executable `argv[0]` names, searched on the *child's* PATH like execvpe does.
    Raises CommandNotFound (127) / CommandNotExecutable (126) with a clear message."""
    if not argv:
        raise UsageError("No command given: use `keep run [options] -- COMMAND [ARGS...]`")
    name = argv[0]
    if os.sep in name:
        if not os.path.exists(name):
            raise CommandNotFound(f"Command not found: {name}")
        if os.path.isdir(name) or not os.access(name, os.X_OK):
            raise CommandNotExecutable(f"Command is not executable: {name}")
        return name
    found = shutil.which(name, path=env.get("PATH", os.defpath))
    if found is None:
        raise CommandNotFound(
            f"Command not found: {name}", hint="check the spelling and PATH; --no-inherit keeps PATH"
        )
    return found


def exec_command(argv: list[str], env: Mapping[str, str], before: Callable[[], None] | None = None) -> NoReturn:
    """Replace this process with the command: its signals, TTY, stdin and exit code are then
    exactly its own. `before` runs just before (close vault connections, flush output)."""
    executable = resolve_command(argv, env)
    if before is not None:
        before()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    # Python ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across exec:
    # give the command the default dispositions it would have had without keep
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    try:
        os.execve(executable, argv, dict(env))
    except PermissionError as exc:
        raise CommandNotExecutable(f"Cannot execute {argv[0]}: {exc.strerror}") from None
    except OSError as exc:
        raise CommandNotFound(f"Cannot execute {argv[0]}: {exc.strerror}") from None


# -- redaction ----------------------------------------------------------------------------------

class Redactor:
    """Streaming replace of every secret with `********`, correct across read boundaries.

    After each chunk it emits everything except the shortest suffix that could still grow
    into a secret (a proper prefix of one), so a value split over two reads is still masked
    and the delay is only ever on bytes that might be secret. The result equals a one-shot
    replace (leftmost match, longest secret first) over the whole stream.
    """

    def __init__(self, values: Iterable[str], replacement: bytes = MASK.encode()) -> None:
        needles = {v.encode("utf-8") for v in values if len(v) >= MIN_REDACT_CHARS}
        self._needles = sorted(needles, key=len, reverse=True)
        self._replacement = replacement
        self._pending = b""
        self._max = len(self._needles[0]) if self._needles else 0
        self._by_first: dict[int, list[bytes]] = {}
        self._by_first2: dict[bytes, list[bytes]] = {}
        for needle in self._needles:
            self._by_first.setdefault(needle[0], []).append(needle)
            # MIN_REDACT_CHARS >= 4 characters means every needle has at least two bytes
            self._by_first2.setdefault(needle[:2], []).append(needle)
        self._pattern = (
            re.compile(b"|".join(re.escape(n) for n in self._needles)) if self._needles else None
        )

    @property
    def active(self) -> bool:
        return self._pattern is not None

    def _holds(self, data: bytes) -> list[int]:
        """Indexes (ascending) whose suffix is a proper prefix of some secret. Only the last
        max_len-1 bytes can qualify; candidates are located by their first two bytes with
        bytes.find (in C), so even a 64 KB secret does not mean a Python loop per byte."""
        end = len(data)
        start = max(0, end - self._max + 1)
        found: set[int] = set()
        for prefix, candidates in self._by_first2.items():
            # candidates are longest first: none of them can reach back further than this
            i = data.find(prefix, max(0, end - len(candidates[0]) + 1))
            while i != -1:
                if self._is_partial(data, i, candidates):
                    found.add(i)
                i = data.find(prefix, i + 1)
        if end > start and self._is_partial(data, end - 1, self._by_first.get(data[-1], ())):
            found.add(end - 1)
        return sorted(found)

    @staticmethod
    def _is_partial(data: bytes, i: int, candidates: Iterable[bytes]) -> bool:
        rest = len(data) - i
        head = data[i : i + 16]
        for needle in candidates:
            # the 16-byte look first rejects almost every candidate without copying the tail
            if len(needle) > rest and needle.startswith(head) and needle.startswith(data[i:]):
                return True
        return False

    def feed(self, chunk: bytes) -> bytes:
        if self._pattern is None:
            return chunk
        data = self._pending + chunk
        holds = self._holds(data)
        out = bytearray()
        pos = 0
        while True:
            # the first place at or after pos where a secret may begin but not yet be complete
            index = bisect.bisect_left(holds, pos)
            hold = holds[index] if index < len(holds) else len(data)
            match = self._pattern.search(data, pos)
            if match is None or match.start() >= hold:
                out += data[pos:hold]
                self._pending = data[hold:]
                return bytes(out)
            out += data[pos : match.start()]
            out += self._replacement
            pos = match.end()

    def flush(self) -> bytes:
        if self._pattern is None:
            return b""
        rest = self._pattern.sub(self._replacement, self._pending)
        self._pending = b""
        return rest


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


#: after the command exits, how long keep goes on reading output that is already on its way
#: (a background process it started may hold the pipe open for ever)
DRAIN_SECONDS = 0.5


def _buffered(fd: int) -> int:
    """Bytes waiting in the pipe `fd` (FIONREAD); 0 where that cannot be asked."""
    try:
        import fcntl
        import termios

        answer = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
    except (ImportError, OSError, AttributeError):
        return 0
    return max(0, int.from_bytes(answer, sys.byteorder, signed=True))


def _pump(source: IO[bytes], target: int, redactor: Redactor, done: threading.Event | None = None) -> None:
    """Copy one child stream to ours through the filter until EOF, or, once `done` is set
    (the command exited), until what is buffered is drained: a grandchild that inherited the
    pipe (`sh -c 'sleep 20 & echo started'`) must not keep `keep run` waiting. What was in
    the pipe when the pump saw the exit is read whatever the clock says (a pump thread a busy
    machine runs late must not drop the command's last output); DRAIN_SECONDS bound only the
    wait for more. If our side is closed (`keep run … | head`), stop reading so the child sees
    EPIPE as it would unwrapped."""
    import select

    fd = source.fileno()
    drain_until: float | None = None
    owed = 0  # bytes the command had written when it exited, not read yet
    try:
        while True:
            if done is not None and done.is_set() and drain_until is None:
                owed = _buffered(fd)
                drain_until = time.monotonic() + DRAIN_SECONDS
            if drain_until is not None and owed <= 0:  # owed bytes are there: read them at once
                wait = drain_until - time.monotonic()
                if wait <= 0:
                    break
                ready, _, _ = select.select([fd], [], [], min(wait, 0.05))
                if not ready:
                    break  # nothing more buffered: stop
            elif drain_until is None and done is not None:
                ready, _, _ = select.select([fd], [], [], 0.05)
                if not ready:
                    continue
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                break
            owed -= len(chunk)
            _write_all(target, redactor.feed(chunk))
        _write_all(target, redactor.flush())
    except OSError:
        pass
    finally:
        source.close()


class _SignalForwarder:
    """Forward signals sent to keep to the child.

    Where the platform can tell who sent a signal (sigtimedwait), a signal the kernel raised
    for the whole foreground process group (Ctrl+C, Ctrl+\\, terminal hang-up) is not sent
    again: the child already received it, and a second SIGINT makes many programs quit
    without cleaning up. Elsewhere, plain handlers forward every signal.
    """

    def __init__(self, signals: tuple[signal.Signals, ...] = FORWARDED_SIGNALS) -> None:
        self.signals = signals
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waitable = hasattr(signal, "sigtimedwait") and hasattr(signal, "pthread_sigmask")
        self._old_handlers: dict[signal.Signals, object] = {}
        self._old_mask: set[int | signal.Signals] | None = None

    def block(self) -> None:
        """Before the child starts: signals stay pending until the forwarder takes them."""
        if self._waitable:
            self._old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, self.signals)

    def child_setup(self) -> None:
        """Runs in the child between fork and exec: give it a normal signal mask."""
        if self._waitable:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, self.signals)

    def start(self, proc: subprocess.Popen[bytes]) -> None:
        self._proc = proc
        if self._waitable:
            self._thread = threading.Thread(target=self._wait_loop, name="keep-signals", daemon=True)
            self._thread.start()
        else:
            for sig in self.signals:
                self._old_handlers[sig] = signal.signal(sig, self._handler)

    def _send(self, signum: int) -> None:
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signum)

    def _handler(self, signum: int, frame: object) -> None:
        self._send(signum)

    def _wait_loop(self) -> None:
        while not self._stop.is_set():
            info = signal.sigtimedwait(self.signals, 0.1)
            if info is None:
                continue
            if info.si_code == _SI_KERNEL and info.si_pid == 0:
                continue
            self._send(info.si_signo)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        if self._old_mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old_mask)
            self._old_mask = None


def exit_status(returncode: int) -> int:
    """The shell convention: 128+N when the child died of signal N."""
    return 128 - returncode if returncode < 0 else returncode


def run_child(
    argv: list[str],
    env: Mapping[str, str],
    secrets: Iterable[str] | None = None,
    *,
    stdout_fd: int = 1,
    stderr_fd: int = 2,
) -> int:
    """Run the command as a child, forwarding signals, and return its exit status.

    With `secrets`, its stdout/stderr stream through a :class:`Redactor`; without, it uses
    keep's own stdin/stdout/stderr (a terminal stays a terminal)."""
    executable = resolve_command(argv, env)
    values = None if secrets is None else list(secrets)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    forwarder = _SignalForwarder()
    forwarder.block()
    try:
        try:
            proc = subprocess.Popen(
                argv,
                executable=executable,
                env=dict(env),
                stdout=None if values is None else subprocess.PIPE,
                stderr=None if values is None else subprocess.PIPE,
                # safe here: no other thread of ours runs yet (the pumps start after)
                preexec_fn=forwarder.child_setup,
            )
        except PermissionError as exc:
            raise CommandNotExecutable(f"Cannot execute {argv[0]}: {exc.strerror}") from None
        except OSError as exc:
            raise CommandNotFound(f"Cannot execute {argv[0]}: {exc.strerror}") from None
        forwarder.start(proc)
        pumps = []
        exited = threading.Event()
        if values is not None:
            assert proc.stdout is not None and proc.stderr is not None
            pumps = [
                threading.Thread(
                    target=_pump, args=(stream, fd, Redactor(values), exited), name=name, daemon=True
                )
                for stream, fd, name in (
                    (proc.stdout, stdout_fd, "keep-stdout"),
                    (proc.stderr, stderr_fd, "keep-stderr"),
                )
            ]
        for pump in pumps:
            pump.start()
        returncode = proc.wait()
        exited.set()
        for pump in pumps:
            pump.join()
    finally:
        forwarder.stop()
    return exit_status(returncode)


def owns_process(command: Sequence[str], argv: Sequence[str] | None = None) -> bool:
    """Whether this `run` is the command the process was started for (`keep … run … -- CMD`),
    so that replacing the process with CMD loses nothing. Inside `keep shell` the process is
    the shell, which an exec would end: there `run` starts a child instead."""
    args = list(sys.argv[1:] if argv is None else argv)
    words = list(command)
    if not words or len(args) <= len(words) or args[len(args) - len(words) :] != words:
        return False
    return "run" in args[: len(args) - len(words)]


# -- what to redact in template mode ------------------------------------------------------------

def _pieces(entry: tpl.Entry, rendered: str) -> list[str]:
    """The values the placeholders of `entry` resolved to, recovered from the rendered value
    by peeling off the static text around them (`postgres://{a}:{b}@db` -> [a, b]). Returns
    [] when that is ambiguous (two placeholders with nothing between them)."""
    marks = entry.placeholders
    statics = [entry.value[: marks[0].start]]
    statics += [entry.value[a.end : b.start] for a, b in itertools.pairwise(marks)]
    statics.append(entry.value[marks[-1].end :])
    head, tail = statics[0], statics[-1]
    if not rendered.startswith(head) or not rendered.endswith(tail) or len(rendered) < len(head) + len(tail):
        return []
    body = rendered[len(head) : len(rendered) - len(tail)]
    out: list[str] = []
    for separator in statics[1:-1]:
        if not separator:
            return []
        index = body.find(separator)
        if index < 0:
            return []
        out.append(body[:index])
        body = body[index + len(separator) :]
    out.append(body)
    return out


def template_secret_values(
    template: tpl.Template, injected: Mapping[str, str], pieces: Mapping[str, Sequence[str]] | None = None
) -> set[str]:
    """Values to redact for a template: each entry rendered from placeholders, and each
    placeholder's own value inside it (exactly, from `pieces` = KEY -> resolved placeholder
    values; without it, peeled out of the rendered value where that is unambiguous).
    Static lines (`APP_ENV=production`) are configuration, not secrets: masking every
    "production" in the output would only hide information."""
    values: set[str] = set()
    for entry in template.assignments:
        if not entry.placeholders or entry.key not in injected:
            continue
        rendered = injected[entry.key]
        values.add(rendered)
        if pieces is not None and entry.key in pieces:
            values.update(pieces[entry.key])
        else:
            values.update(_pieces(entry, rendered))
    return values
