"""What keep writes to files: a regular file atomically; a FIFO, a character device or
/dev/stdout directly (never replaced or chmod-ed); never into a directory that does not exist;
never over a read-only file; and every permission error is one line, exit 1.

The suite runs as root, which ignores permission bits. The permission tests therefore run keep
as root *without* CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH / CAP_FOWNER (`setpriv
--bounding-set`), so the kernel enforces the modes exactly as for an ordinary user; as a
non-root user they run keep directly. What root cannot be shown this way: a file root may write
through DAC override (a 0644 file of another user) - keep only refuses by mode bits and
os.access(), which answer True for root there."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from .conftest import KEEP, KeepRunner, Result

ROOT = os.geteuid() == 0
SETPRIV = shutil.which("setpriv")
UNPRIVILEGED = (
    [SETPRIV, "--bounding-set", "-dac_override,-dac_read_search,-fowner"] if ROOT and SETPRIV else []
)
needs_unprivileged = pytest.mark.skipif(
    ROOT and not SETPRIV, reason="as root, needs util-linux's setpriv to drop CAP_DAC_OVERRIDE"
)


def unprivileged(kp: KeepRunner, *args: str) -> Result:
    proc = subprocess.run([*UNPRIVILEGED, *KEEP, *args], cwd=kp.cwd, env=kp.env, capture_output=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    return Result(proc.returncode, proc.stdout.decode(), proc.stderr.decode(), proc.stdout, proc.stderr)


def one_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr and "unexpected error" not in result.stderr, (
        result.stderr
    )
    return lines[0]


@pytest.fixture
def seeded(kp: KeepRunner) -> KeepRunner:
    kp.ok("set", "DB_PASSWORD", "fake-db-pass", "--stage", "local")
    return kp


EXPORTED = "DB_PASSWORD=fake-db-pass\n"


# -- streams ---------------------------------------------------------------------------------

@pytest.mark.parametrize("overwrite", [True, False])
def test_fifo_is_written_to_not_replaced(seeded: KeepRunner, tmp_path: Path, overwrite: bool) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo, 0o640)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    try:
        flags = ["--overwrite"] if overwrite else []
        result = seeded.process()("export", "--stage", "local", "--file", str(fifo), *flags, timeout=30)
    finally:
        if reader.is_alive() and not received:
            with open(fifo, "wb"):  # unblock the reader whatever happened
                pass
        reader.join(timeout=30)
    assert result.code == 0, result.stderr
    assert received == [EXPORTED.encode()]
    info = fifo.stat()
    assert stat.S_ISFIFO(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o640


@pytest.mark.skipif(not ROOT, reason="making a character device needs root")
def test_character_device_is_written_to_not_replaced(seeded: KeepRunner, tmp_path: Path) -> None:
    null = tmp_path / "null"  # a twin of /dev/null: the machine's own is never put at risk
    try:
        os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("this container may not create device nodes")
    os.chmod(null, 0o666)
    before = null.stat()
    seeded.ok("export", "--stage", "local", "--file", str(null), "--overwrite")
    after = null.stat()
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev
    assert stat.S_IMODE(after.st_mode) == 0o666 and after.st_ino == before.st_ino


def test_dev_stdout_writes_into_the_shells_redirection(seeded: KeepRunner, tmp_path: Path) -> None:
    target = tmp_path / "out.env"
    target.write_text("EARLIER=1\n")
    inode = target.stat().st_ino
    with open(target, "ab") as appended:  # `keep export --file /dev/stdout >> out.env`
        proc = subprocess.run([*KEEP, "export", "--stage", "local", "--file", "/dev/stdout"], cwd=seeded.cwd,
                              env=seeded.env, stdout=appended, stderr=subprocess.PIPE, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert target.read_text() == "EARLIER=1\n" + EXPORTED
    assert target.stat().st_ino == inode  # the same file, not a renamed replacement


# -- regular files ---------------------------------------------------------------------------

def test_missing_directory_is_refused_and_nothing_created(seeded: KeepRunner) -> None:
    result = seeded("export", "--stage", "local", "--file", "nowhere/deeper/out.env")
    assert result.code == 2
    assert "directory nowhere/deeper does not exist" in one_line(result)
    assert not (seeded.cwd / "nowhere").exists()


def test_parent_that_is_a_file_is_refused(seeded: KeepRunner) -> None:
    (seeded.cwd / "plain").write_text("x")
    result = seeded("export", "--stage", "local", "--file", "plain/out.env")
    assert result.code == 2 and "plain is not a directory" in one_line(result)


@pytest.mark.parametrize("flag", ["--overwrite", "--append"])
def test_read_only_file_is_not_replaced(seeded: KeepRunner, flag: str) -> None:
    target = seeded.cwd / "locked.env"
    target.write_text("OLD=1\n")
    target.chmod(0o444)
    result = seeded("export", "--stage", "local", "--file", "locked.env", flag)
    assert result.code == 1
    assert one_line(result).startswith("keep: Cannot write locked.env: Permission denied (the file is read-only")
    assert target.read_text() == "OLD=1\n" and stat.S_IMODE(target.stat().st_mode) == 0o444
    assert sorted(p.name for p in seeded.cwd.iterdir() if p.name.startswith(".locked")) == []


def test_regular_file_is_still_replaced_atomically_with_mode_0600(seeded: KeepRunner) -> None:
    target = seeded.cwd / "out.env"
    target.write_text("OLD=1\n")
    target.chmod(0o644)
    seeded.ok("export", "--stage", "local", "--file", "out.env", "--overwrite")
    assert target.read_text() == EXPORTED and stat.S_IMODE(target.stat().st_mode) == 0o600


# -- permission errors are one line, exit 1 --------------------------------------------------

@needs_unprivileged
@pytest.mark.parametrize(
    ("command", "written"),
    [
        (["stage:add", "qa"], ".keep/settings.json"),
        (["vault:add", "--driver", "local", "--slug", "other", "-n"], ".keep/vaults/other.json"),
    ],
)
def test_read_only_keep_dir(kp: KeepRunner, command: list[str], written: str) -> None:
    keep_dir = kp.cwd / ".keep"
    try:
        for directory in (keep_dir, keep_dir / "vaults"):
            directory.chmod(0o555)
        result = unprivileged(kp, *command)
    finally:
        for directory in (keep_dir, keep_dir / "vaults"):
            directory.chmod(0o755)
    assert result.code == 1
    assert one_line(result) == f"keep: Cannot write {kp.cwd / written}: Permission denied"


@needs_unprivileged
@pytest.mark.parametrize("locked", [".keep/local", ".keep/local/workspace.json", ".keep/settings.json"])
def test_unreadable_project_files(kp: KeepRunner, locked: str) -> None:
    kp.ok("set", "DB_PASSWORD", "fake-db-pass", "--stage", "local")
    kp.ok("workspace", "--stages", "local,staging")
    path = kp.cwd / locked
    before = stat.S_IMODE(path.stat().st_mode)
    try:
        path.chmod(0)
        result = unprivileged(kp, "show", "--stage", "local")
    finally:
        path.chmod(before)
    assert result.code == 1
    line = one_line(result)
    assert line.startswith("keep: Cannot read ") and line.endswith(": Permission denied"), line


@needs_unprivileged
def test_read_only_local_database(kp: KeepRunner) -> None:
    kp.ok("set", "DB_PASSWORD", "fake-db-pass", "--stage", "local")
    db = kp.cwd / ".keep" / "local" / "local.db"
    try:
        db.chmod(0o400)
        written = unprivileged(kp, "set", "OTHER", "fake-other", "--stage", "local")
        read = unprivileged(kp, "get", "DB_PASSWORD", "--stage", "local", "--format", "raw")
    finally:
        db.chmod(0o600)
    assert written.code == 1
    assert one_line(written) == f"keep: Cannot write {db}: Permission denied (the database is read-only)"
    assert read.code == 0 and read.stdout == "fake-db-pass\n"


@needs_unprivileged
def test_unreadable_import_file_and_template(kp: KeepRunner) -> None:
    source = kp.cwd / "in.env"
    source.write_text("A=fake-a\n")
    template = kp.cwd / "t.env"
    template.write_text("A={local}\n")
    try:
        source.chmod(0)
        template.chmod(0)
        imported = unprivileged(kp, "import", "in.env", "--stage", "local")
        exported = unprivileged(kp, "export", "--stage", "local", "--template", "t.env")
    finally:
        source.chmod(0o644)
        template.chmod(0o644)
    assert imported.code == 1 and one_line(imported) == "keep: Cannot read in.env: Permission denied"
    assert exported.code == 1 and one_line(exported) == "keep: Cannot read template t.env: Permission denied"
