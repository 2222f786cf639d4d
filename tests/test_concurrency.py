"""Concurrent writers on the local vault never lose an update (SPEC §4.1: `BEGIN IMMEDIATE`).

Four workers each run ten `keep set` processes on the same key at the same time, starting
on a project whose database and key file do not exist yet, so the first-use races (creating
the db file, the schema, the data key) are part of the test.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from .conftest import KeepRunner, Result

WORKERS = 4
WRITES = 10


def test_four_processes_times_ten_sets_give_forty_versions(kp: KeepRunner, project_dir: Path) -> None:
    assert not (project_dir / ".keep" / "local" / "local.db").exists()
    results: list[list[Result]] = [[] for _ in range(WORKERS)]
    start = threading.Barrier(WORKERS)

    def worker(n: int) -> None:
        start.wait()
        for i in range(WRITES):
            results[n].append(kp("set", "SHARED", f"fake-w{n}-i{i}", "--stage", "local", timeout=120))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    flat = [r for per_worker in results for r in per_worker]
    assert len(flat) == WORKERS * WRITES
    for result in flat:
        assert result.code == 0, result.stderr
        assert "Traceback" not in result.stderr
    created = [r for r in flat if "created SHARED" in r.stderr]
    assert len(created) == 1  # exactly one writer saw the key as new

    history = kp.ok("history", "SHARED", "--stage", "local", "--format", "json", "--limit", "0", "--unmask")
    versions = json.loads(history.stdout)
    assert len(versions) == WORKERS * WRITES
    assert [v["version"] for v in versions] == [str(n) for n in range(WORKERS * WRITES, 0, -1)]
    assert {v["value"] for v in versions} == {f"fake-w{n}-i{i}" for n in range(WORKERS) for i in range(WRITES)}
    assert sum(1 for v in versions if v["current"]) == 1
    # each worker's own writes stay in its order: its processes ran one after another
    for n in range(WORKERS):
        mine = [v["value"] for v in reversed(versions) if v["value"].startswith(f"fake-w{n}-")]
        assert mine == [f"fake-w{n}-i{i}" for i in range(WRITES)]
    revisions = sorted(int(r.stderr.split("(revision ")[1].split(")")[0]) for r in flat)
    assert revisions == list(range(1, WORKERS * WRITES + 1))
    current = kp.ok("get", "SHARED", "--stage", "local", "--format", "raw").stdout[:-1]
    assert current == versions[0]["value"]
