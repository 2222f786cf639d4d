"""Shared fixtures: a hermetic environment for every test, an isolated HOME, a project directory,
the `keep` CLI runner (in-process by default, a real subprocess where one is needed), and one moto
server per test session (reset between the tests that use it)."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import traceback
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pytest

KEEP = [sys.executable, "-c", "import sys; from keep_secrets.cli import main; sys.exit(main())"]
FAKE_REGION = "us-east-1"

# -- Hypothesis: derandomized under CI (the same examples on every run, so a red CI run repeats
# locally with CI=1); random locally, so new examples keep being explored. ------------------------
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True, deadline=None)
    _hypothesis_settings.register_profile("dev", deadline=None)
    _hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))
except ImportError:  # pragma: no cover - hypothesis is a test dependency
    pass


# -- the `slow` group ---------------------------------------------------------------------------

#: Tests that take seconds each even on an idle machine (a browser, many real processes, long
#: property runs, the IAM emulation of whole command sequences). Marked `slow`: CI runs them all;
#: `pytest -m "not slow"` is the quick loop while editing.
SLOW_MODULES = frozenset({
    "tests/iam/test_matrix.py", "tests/web/test_browser.py", "tests/test_concurrency.py",
    # real retry back-off and deadline waits (seconds of sleep, not CPU)
    "tests/reliability/test_faults.py", "tests/reliability/test_concurrent_writes.py",
})
SLOW_TESTS = frozenset({
    "tests/test_run_redactor.py::test_a_64kb_secret_among_short_ones",
    "tests/test_import_roundtrip.py::test_env_export_reads_back_exactly_through_import",
    "tests/test_import_roundtrip.py::test_import_parser_is_exactly_dotenv_or_refuses",
    "tests/test_call_budgets.py::test_reads_never_exceed_keep_max_concurrency",
    "tests/test_call_budgets.py::test_throttled_bulk_import_finishes_without_an_error",
    "tests/test_formats.py::test_structured_keys_parse_back",
    "tests/test_formats.py::test_structured_roundtrip_generated",
    "tests/test_formats.py::test_env_roundtrip_generated",
    "tests/aws/test_secretsmanager_driver.py::test_thirty_percent_throttling_changes_no_result",
})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(__file__).parent.parent
    for item in items:
        path = item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else ""
        name = getattr(item, "originalname", item.name)
        if path in SLOW_MODULES or f"{path}::{name}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
    if hasattr(config, "workerinput"):
        # pytest-xdist: the slow tests first (in their usual order), so no worker ends the run on a
        # long test while the others are idle (the schedule takes this order; every worker sorts
        # the same way, so the collections stay equal). A serial run keeps the file order.
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


# -- parallel workers (pytest-xdist) -----------------------------------------------------------

#: Workers for a run (pyproject's addopts say `--numprocesses=auto`, which asks this file). Much of
#: the suite waits (moto, back-off sleeps, the Raft fail-over, browser and server start-up), so
#: this many workers pay off even on 2 cores (README, Testing). PYTEST_XDIST_AUTO_NUM_WORKERS
#: (pytest-xdist's own variable) overrides it; `-n N` on the command line overrides both.
DEFAULT_WORKERS = 3


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: DEFAULT_WORKERS for the suite or a directory of it; none (serial, in this
    process) when every argument is a test file or a single test (`file.py::test`), the edit and
    debug loop, where starting workers costs more than it saves."""
    wanted = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").strip()
    if wanted.isdigit():
        return int(wanted)
    args = [arg for arg in config.args if arg]
    if args and all("::" in arg or Path(arg).is_file() for arg in args):
        return 0
    return DEFAULT_WORKERS


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    """Without pytest-xdist (`-p no:xdist`, or a venv without the test extra) the suite runs
    serially: pyproject's `--numprocesses=auto --dist=...` are then accepted and ignored."""
    if pluginmanager.has_plugin("xdist"):
        return
    group = parser.getgroup("xdist", "pytest-xdist is not loaded: the tests run serially")
    group.addoption("--numprocesses", dest="ignored_numprocesses", help="ignored: pytest-xdist is not loaded")
    group.addoption("--dist", dest="ignored_dist", help="ignored: pytest-xdist is not loaded")


# -- hermetic environment -----------------------------------------------------------------------

#: Variables a developer's shell may hold that change keep's (or boto3's, or a browser's) behaviour.
HERMETIC_PREFIXES = ("KEEP_", "AWS_", "BAO_", "VAULT_")
HERMETIC_NAMES = ("BROWSER",)


def _foreign(name: str) -> bool:
    return name.startswith(HERMETIC_PREFIXES) or name in HERMETIC_NAMES


def clear_foreign_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if _foreign(n)]:
        monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without KEEP_*, AWS_*, BAO_*/VAULT_* and BROWSER in its environment
    (a test that needs one sets it itself, e.g. with monkeypatch.setenv)."""
    clear_foreign_env(monkeypatch)
    # never the developer's real OS keyring, in this process either (keyring caches its backend)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")


def forget_once_per_process_state() -> None:
    """What keep remembers for the rest of a process in module-level containers, which the
    in-process runner leaves alone between calls (README, Testing): Parameter Store's "listing
    denied, use GetParametersByPath" identities and its per-region read limiters. Keyed by
    (profile, endpoint, region), a denial under `AWS_ENDPOINT_URL` (tests/iam/test_matrix.py, run
    first on every pytest-xdist worker as a slow module) is (None, None, region), which every
    later in-process SSM call through AWS_ENDPOINT_URL shares: they silently listed through the
    fallback, and a proxy that reused a denied test's port was taken for denied too."""
    ssm = sys.modules.get("keep_secrets.vaults.ssm")  # never imported here only for this
    if ssm is not None:
        with ssm._state_lock:
            ssm._describe_denied.clear()
            ssm._limiters.clear()


@pytest.fixture(autouse=True)
def fresh_process_state() -> Iterator[None]:
    """Every test starts with the "once per process" state of a new process, whichever tests
    ran before it on the same worker."""
    forget_once_per_process_state()
    yield
    forget_once_per_process_state()


@pytest.fixture(autouse=True, scope="session")
def shared_botocore_loader() -> Iterator[None]:
    """Every new botocore session parses botocore's JSON data files again (endpoints, the service
    model, its rule set: ~0.4 s a client). keep shares one loader per process itself
    (vaults/aws.py `_share_data_loader`), but the in-process CLI runner restores keep's module
    globals after each call, which drops that loader; so the sessions of this test process share
    one botocore Loader across calls, as one real `keep` process does within itself."""
    try:
        import botocore.session
        from botocore.loaders import Loader, create_loader
    except ImportError:  # pragma: no cover - boto3 is a dependency
        yield
        return
    loaders: dict[str | None, Loader] = {}

    def shared_loader(search_path_string: str | None = None) -> Loader:
        if search_path_string not in loaders:
            loaders[search_path_string] = create_loader(search_path_string)
        return loaders[search_path_string]

    original = botocore.session.create_loader  # type: ignore[attr-defined]
    botocore.session.create_loader = shared_loader  # type: ignore[attr-defined]
    try:
        yield
    finally:
        botocore.session.create_loader = original  # type: ignore[attr-defined]


# -- the CLI runner ------------------------------------------------------------------------------

@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    stdout_bytes: bytes = field(default=b"", repr=False)
    stderr_bytes: bytes = field(default=b"", repr=False)

    @property
    def out(self) -> str:
        return self.stdout

    def json(self) -> object:
        return json.loads(self.stdout)


#: Commands that always run as a real process: `run` replaces the process (execve) or supervises a
#: child with signal forwarding; `server` serves until a signal and installs handlers.
SUBPROCESS_COMMANDS = frozenset({"run", "server"})
_GLOBAL_VALUED = frozenset({"--stage", "--env", "--vault"})


def command_word(args: tuple[str, ...] | list[str]) -> str | None:
    """The command name in a keep command line (skipping the global options before it)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _GLOBAL_VALUED:
            skip = True
        elif arg == "--":
            return None
        elif not arg.startswith("-"):
            return arg
    return None


class ExecInProcess(BaseException):
    """Raised when the product tries to exec while running in-process (BaseException, so the
    CLI's own `except Exception` does not turn it into an error line)."""


_inprocess_lock = threading.Lock()
#: KEEP_TESTS_SUBPROCESS=1 runs every CLI call as a real process (to compare the two modes).
ALWAYS_SUBPROCESS = os.environ.get("KEEP_TESTS_SUBPROCESS", "") not in ("", "0")


class KeepRunner:
    """Runs the `keep` CLI in `cwd` with an isolated HOME and exactly the environment `env`.

    By default the CLI's own entry point (`keep_secrets.cli.main`) runs in this process with the
    process-wide state a real process would have: os.environ replaced by `env`, the working
    directory, stdin/stdout/stderr at both the file-descriptor and the `sys` level (so writes to
    /dev/stdout or by child processes are captured too), the umask, signal handlers, logging and
    threads are set up and restored around every call. It runs as a real subprocess instead when
    `subprocess=True` is passed (or set on the runner), for the commands in SUBPROCESS_COMMANDS,
    and when called from another thread than the main one (concurrency tests: several calls at
    once need several processes). `timeout` bounds real processes only (pytest-timeout bounds the
    rest): a test about a deadline uses a real process."""

    def __init__(self, cwd: Path, env: dict[str, str], *, subprocess: bool = False) -> None:
        self.cwd = cwd
        self.env = env
        self.subprocess = subprocess

    def __call__(
        self,
        *args: str,
        input: str | bytes | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
        subprocess: bool | None = None,
    ) -> Result:
        full_env = dict(self.env)
        if env:
            full_env.update(env)
        data = input.encode() if isinstance(input, str) else input
        where = Path(cwd or self.cwd)
        use_process = self.subprocess if subprocess is None else subprocess
        if (
            use_process
            or ALWAYS_SUBPROCESS
            or command_word(args) in SUBPROCESS_COMMANDS
            or threading.current_thread() is not threading.main_thread()
        ):
            return _run_subprocess(list(args), where, full_env, data, timeout)
        return _run_in_process(list(args), where, full_env, data)

    def ok(self, *args: str, **kwargs: object) -> Result:
        result = self(*args, **kwargs)  # type: ignore[arg-type]
        assert result.code == 0, (
            f"keep {' '.join(args)} -> {result.code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
        )
        return result

    def process(self) -> KeepRunner:
        """The same runner (same cwd and env object), always running real subprocesses."""
        return KeepRunner(self.cwd, self.env, subprocess=True)


def _result(code: int, out: bytes, err: bytes) -> Result:
    return Result(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), out, err)


def _run_subprocess(args: list[str], cwd: Path, env: dict[str, str], data: bytes | None, timeout: float) -> Result:
    proc = subprocess.run(
        [*KEEP, *args],
        cwd=cwd,
        env=env,
        input=data,
        stdin=subprocess.DEVNULL if data is None else None,
        capture_output=True,
        timeout=timeout,
    )
    return _result(proc.returncode, proc.stdout, proc.stderr)


def _no_exec(*args: object, **kwargs: object) -> None:
    raise ExecInProcess("keep tried to exec in-process; call it with subprocess=True")


_EXEC_NAMES = ("execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe", "_exit")
_SIGNALS = tuple(
    s for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
                signal.SIGPIPE, signal.SIGALRM)
)


def _flush(*streams: object) -> None:
    for stream in streams:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()  # type: ignore[attr-defined]


def _keep_modules() -> list[tuple[str, object]]:
    return [(n, m) for n, m in list(sys.modules.items()) if n == "keep_secrets" or n.startswith("keep_secrets.")]


_MISSING = object()


def _restore_globals(saved: dict[str, dict[str, object]]) -> None:
    """Module globals of keep_secrets that the call rebound (a flag such as cli.context.IN_SHELL, a
    lazily made singleton) get their old binding back, as a new process would start with it.
    Containers changed in place (caches, "once per process" sets) are left alone: telling a cache
    from a registry filled at import time is not possible here (README, Testing)."""
    for name, before in saved.items():
        module = sys.modules.get(name)
        if module is None:
            continue
        namespace = vars(module)
        for key, value in before.items():
            if namespace.get(key, _MISSING) is not value:
                namespace[key] = value


@contextlib.contextmanager
def _process_state(cwd: Path, env: dict[str, str], args: list[str]) -> Iterator[None]:
    """Give the CLI the process-wide state a fresh process would have; put everything back after."""
    saved_environ = dict(os.environ)
    saved_cwd = os.getcwd()
    saved_argv = sys.argv
    saved_umask = os.umask(0o022)
    os.umask(saved_umask)
    saved_handlers = {s: signal.getsignal(s) for s in _SIGNALS}
    saved_mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    root = logging.getLogger()
    saved_logging = (list(root.handlers), root.level)
    saved_exec = {name: getattr(os, name) for name in _EXEC_NAMES if hasattr(os, name)}
    saved_globals = {name: dict(vars(module)) for name, module in _keep_modules()}
    try:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        sys.argv = ["keep", *args]
        for name in saved_exec:
            setattr(os, name, _no_exec)
        yield
    finally:
        for name, func in saved_exec.items():
            setattr(os, name, func)
        _restore_globals(saved_globals)
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
        os.umask(saved_umask)
        for sig, handler in saved_handlers.items():
            if handler is not None:
                signal.signal(sig, handler)
        signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
        root.handlers[:] = saved_logging[0]
        root.setLevel(saved_logging[1])


@contextlib.contextmanager
def _captured_std_streams(data: bytes | None) -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """fds 0/1/2 and sys.stdin/stdout/stderr on temporary files (stdin holding `data`), the way a
    process started with pipes sees them; yields the stdout and stderr files."""
    with tempfile.TemporaryFile() as stdin_file, tempfile.TemporaryFile() as out_file, \
            tempfile.TemporaryFile() as err_file:
        if data:
            stdin_file.write(data)
            stdin_file.seek(0)
        saved_streams = (sys.stdin, sys.stdout, sys.stderr)
        _flush(sys.stdout, sys.stderr)
        saved_fds = [os.dup(fd) for fd in (0, 1, 2)]
        try:
            for fd, handle in enumerate((stdin_file, out_file, err_file)):
                os.dup2(handle.fileno(), fd)
            # what Python gives a process whose std streams are files (UTF-8 mode / C.UTF-8 locale)
            sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "r", closefd=False)),
                                         encoding="utf-8", errors="surrogateescape")
            sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
                                          encoding="utf-8", errors="surrogateescape")
            sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
                                          encoding="utf-8", errors="backslashreplace", line_buffering=True)
            yield out_file, err_file
        finally:
            _flush(sys.stdout, sys.stderr)
            for fd, saved in enumerate(saved_fds):
                os.dup2(saved, fd)
                os.close(saved)
            sys.stdin, sys.stdout, sys.stderr = saved_streams


def _run_in_process(args: list[str], cwd: Path, env: dict[str, str], data: bytes | None) -> Result:
    from keep_secrets.cli import main

    code = 1
    with _inprocess_lock, _captured_std_streams(data) as (out_file, err_file):
        with _process_state(cwd, env, args):
            try:
                main(args)
                code = 0
            except SystemExit as exc:
                if isinstance(exc.code, int) or exc.code is None:
                    code = exc.code or 0
                else:
                    print(exc.code, file=sys.stderr)
            except Exception:  # what would end a real process with a traceback (a test timeout goes on up)
                traceback.print_exc()
        _flush(sys.stdout, sys.stderr)
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    return _result(code, out, err)


def base_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not _foreign(k) and k not in ("NO_COLOR", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "PYTHON_KEYRING_BACKEND")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=FAKE_REGION,
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONDONTWRITEBYTECODE="1",
        # never the developer's real OS keyring (tests that need one patch in a stand-in)
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        # the "waiting for ..." notice after 3 s on one AWS call is a stderr line that tests of exact
        # stderr would meet on a busy CI machine; the tests of the notice set their own threshold
        KEEP_AWS_WAIT_NOTICE="120",
    )
    env.pop("AWS_PROFILE", None)
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    path = tmp_path / "proj"
    path.mkdir()
    return path


@pytest.fixture
def keep(project_dir: Path, home: Path) -> KeepRunner:
    """`keep(...)` runs the CLI in an empty directory (not initialised)."""
    return KeepRunner(project_dir, base_env(home))


@pytest.fixture
def kp(keep: KeepRunner) -> KeepRunner:
    """`kp(...)` runs the CLI in a freshly initialised project (namespace `myapp`, default
    vault `local`, stages local/staging/production)."""
    keep.ok("init", "--no-interaction", "--name", "My App", "--namespace", "myapp")
    return keep


@pytest.fixture
def fixed_key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    key = base64.b64encode(b"k" * 32).decode()
    monkeypatch.setenv("KEEP_LOCAL_KEY", key)
    return key


# -- ports ------------------------------------------------------------------------------------

@pytest.fixture
def closed_port() -> Iterator[int]:
    """A 127.0.0.1 port that refuses connections for the whole test ("unreachable"): bound
    (without SO_REUSEADDR) but not listening, so no server of another pytest-xdist worker can
    start on it meanwhile, as it could on a port that was merely free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


# -- moto ------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server (HTTP, 127.0.0.1, random port) for the whole test session."""
    from moto.server import ThreadedMotoServer

    from tests.aws.moto_gaps import honour_describe_parameters_max_results

    honour_describe_parameters_max_results()  # AWS pages DescribeParameters by MaxResults; moto by 10
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The moto endpoint, reset to empty, with fake credentials in this process's env."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).read()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", FAKE_REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_server


@pytest.fixture
def counted(moto: str) -> Iterator[object]:
    """A counting, fault-injecting proxy (tests/aws/proxy.py) in front of the reset moto server;
    a fixed seed so injected faults repeat."""
    from tests.aws.proxy import Proxy

    proxy = Proxy(moto, seed=1234).start()
    try:
        yield proxy
    finally:
        proxy.stop()


# -- OpenBao (tests/openbao/fixtures.py: a real `bao server -dev` per session) ---------------------
from tests.openbao.fixtures import bao, bao_project, bao_server, make_bao  # noqa: E402, F401
