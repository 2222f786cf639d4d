"""The first use of a local vault never locks it: the data key is created exactly once, however
many threads (a concurrent `verify` or fetch) or processes ask for it at the same moment.

`os.link` (how the key file is put in place) is slowed down where noted: it stands in for a
slow or busy disk, and widens the window in which a second creator used to truncate the first
one's freshly linked key file and seal data with another key."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from keep_secrets.cli import run_args
from keep_secrets.project import VaultConfig
from keep_secrets.vaults.local import LocalVault

from .conftest import KEEP, base_env


@pytest.fixture
def slow_link(monkeypatch: pytest.MonkeyPatch) -> None:
    real: Callable[..., None] = os.link

    def link(src: str, dst: str, *args: object, **kwargs: object) -> None:
        real(src, dst, *args, **kwargs)
        time.sleep(0.03)

    monkeypatch.setattr(os, "link", link)


def _isolate(monkeypatch: pytest.MonkeyPatch, root: Path) -> Path:
    home = root / "home"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("KEEP_KEYRING", "0")
    monkeypatch.delenv("KEEP_LOCAL_KEY", raising=False)
    return home / ".config" / "keep" / "keys"


def _first_use(index: int, vault: LocalVault, barrier: threading.Barrier, errors: list[BaseException]) -> None:
    barrier.wait()
    try:
        vault.set("local", f"K{index}", f"fake-value-{index}")
    except BaseException as exc:  # collected and asserted by the test
        errors.append(exc)


def test_threads_first_using_one_vault_make_exactly_one_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow_link: None
) -> None:
    for trial in range(8):
        root = tmp_path / f"p{trial}"
        keys = _isolate(monkeypatch, root)
        config = VaultConfig("local", "local", "Local")
        shared = LocalVault(config, "myapp", str(root))
        shared.path.parent.mkdir(parents=True)
        shared._vault_id()  # the database exists; no key yet
        own = [LocalVault(config, "myapp", str(root)) for _ in range(3)]
        vaults = [shared, shared, shared, *own]
        barrier = threading.Barrier(len(vaults))
        errors: list[BaseException] = []

        threads = [threading.Thread(target=_first_use, args=(i, v, barrier, errors)) for i, v in enumerate(vaults)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for vault in {id(v): v for v in vaults}.values():
            vault.close()
        assert errors == [], f"trial {trial}: {errors}"
        fresh = LocalVault(config, "myapp", str(root))
        assert {s.key: s.value for s in fresh.list("local")} == {f"K{i}": f"fake-value-{i}" for i in range(6)}
        fresh.close()
        assert [p.name for p in keys.iterdir()] == [fresh.key_file().name]  # one key, no temp copy


def test_twenty_fresh_projects_init_verify_then_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], slow_link: None
) -> None:
    for index in range(20):
        root = tmp_path / f"project{index}"
        _isolate(monkeypatch, root)
        monkeypatch.chdir(root)
        assert run_args(["init", "-n", "--namespace", "myapp"]) == 0
        verified = run_args(["verify"])
        captured = capsys.readouterr()
        assert verified == 0, f"project {index}: {captured.err}"
        assert run_args(["set", "DB_PASSWORD", "fake-pass-123", "--stage", "staging"]) == 0, capsys.readouterr().err
        assert run_args(["get", "DB_PASSWORD", "--stage", "staging", "--format", "raw"]) == 0
        assert capsys.readouterr().out == "fake-pass-123\n"


def test_six_processes_first_using_one_fresh_vault_all_succeed(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    env = base_env(home) | {"KEEP_KEYRING": "0"}
    subprocess.run([*KEEP, "init", "-n", "--namespace", "myapp"], cwd=project, env=env, check=True,
                   capture_output=True, timeout=60)
    go = tmp_path / "go"
    # each process imports keep, says it is ready, waits for the same moment, then makes its
    # first use of the vault; `go` comes once all six are ready (a fixed pause before it let a
    # busy machine start some of them after it, one after another instead of at once)
    starter = (
        "import os, sys, time\n"
        "from keep_secrets.cli import main\n"
        f"open(os.path.join({str(tmp_path)!r}, 'ready-' + sys.argv[2]), 'w').close()\n"
        f"while not os.path.exists({str(go)!r}): time.sleep(0.005)\n"
        "main(sys.argv[1:])\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", starter, "set", f"KEY_{i}", f"fake-value-{i}", "--stage", "local"],
            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for i in range(6)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-KEY_*"))) < len(procs):
        assert time.monotonic() < deadline, "the keep processes did not all start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
        time.sleep(0.01)
    go.touch()
    results = [(p.wait(timeout=60), p.stderr.read().decode() if p.stderr else "") for p in procs]
    for proc in procs:
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
    assert [code for code, _ in results] == [0] * 6, results
    shown = subprocess.run([*KEEP, "show", "--stage", "local", "--unmask", "--format", "env"], cwd=project,
                           env=env, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [f"KEY_{i}=fake-value-{i}" for i in range(6)]
    assert len(list((home / ".config" / "keep" / "keys").iterdir())) == 1


def test_a_reader_racing_the_creator_of_the_tables_leaves_a_format_2_vault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving a loaded machine produced (tests/test_concurrency.py under pytest-xdist):
    process A had created the database and its first table, process B opened it, saw a non-empty
    file and made format-1 tables of its own, then A wrote its `format = 2` row. Every write failed
    from then on ('table versions has no column named mac'). A database without the tables is new:
    B makes all of format 2 at once, and A's remaining statements change nothing."""
    import sqlite3

    from keep_secrets.vaults import local

    _isolate(monkeypatch, tmp_path)
    config = VaultConfig("local", "local", "Local")
    reader = LocalVault(config, "myapp", str(tmp_path))
    reader.path.parent.mkdir(parents=True)
    creator = sqlite3.connect(reader.path, isolation_level=None)
    first, *rest = [s for s in local._SCHEMA_V2.split(";") if s.strip()]
    creator.execute(first)  # A: the file and its first table exist

    assert reader.list("local") == []  # B: its first use, a read

    for statement in rest:  # A goes on where it was
        creator.execute(statement)
    creator.execute("INSERT OR IGNORE INTO meta(name, value) VALUES ('format', ?)", (local.FORMAT,))
    creator.close()

    reader.set("local", "DB_PASSWORD", "fake-pass-123")
    reader.close()
    fresh = LocalVault(config, "myapp", str(tmp_path))
    fresh.set("local", "API_KEY", "fake-api-456")
    assert {s.key: s.value for s in fresh.list("local")} == {"DB_PASSWORD": "fake-pass-123", "API_KEY": "fake-api-456"}
    fresh.close()
