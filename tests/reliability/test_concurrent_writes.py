"""Planned writes are conditional: two real `keep` processes racing on the same keys never
overwrite each other (issue 16 items 1 and 2)."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from pathlib import Path

import boto3
import pytest

from tests.aws.proxy import Proxy, ProxyRequest, ProxyResponse
from tests.conftest import KEEP, KeepRunner

REGION = "us-east-1"


def add_vault(project: Path, slug: str, driver: str) -> None:
    data = {"slug": slug, "driver": driver, "name": f"Fake {driver}", "scope": "", "region": REGION}
    (project / ".keep" / "vaults" / f"{slug}.json").write_text(json.dumps(data, indent=4) + "\n")


def start(kp: KeepRunner, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*KEEP, *args], cwd=kp.cwd, env={**kp.env, **(env or {})},
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def race(kp: KeepRunner, inputs: list[str], *args: str, env: dict[str, str] | None = None) -> list[tuple[int, str]]:
    """Start one `keep import FILE` per input at once; their (exit code, stderr)."""
    paths = []
    for n, text in enumerate(inputs):
        path = kp.cwd.parent / f"race-{n}.env"
        path.write_text(text)
        paths.append(path)
    procs = [start(kp, "import", str(path), *args, env=env) for path in paths]
    results = []
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        results.append((proc.returncode, err.decode()))
    return results


def keys_with(outcome: str, stderr: str) -> set[str]:
    return set(re.findall(rf"^\s+{outcome}\s+(\S+)", stderr, flags=re.MULTILINE))


def check_race(results: list[tuple[int, str]], files: list[dict[str, str]], stored: dict[str, tuple[str, int]]) -> None:
    """Every key written once, by exactly one process, with that process's value; the other
    process reports each of those keys as a conflict (if it planned before they existed) or
    refuses them all before writing (if it planned after), and exits 5. Whichever way the OS
    schedules the two, nothing is overwritten."""
    keys = set(files[0])
    created = [keys_with("created", err) for _, err in results]
    assert created[0] | created[1] == keys and not created[0] & created[1]
    for n, (code, err) in enumerate(results):
        others = created[1 - n]
        assert "updated" not in err and "Traceback" not in err
        if not others:
            assert code == 0, err[-2000:]
            continue
        assert code == 5, err[-2000:]
        refused_upfront = "nothing was written" in err
        assert refused_upfront or keys_with("conflict", err) == others, err[-2000:]
    for key in keys:
        value, versions = stored[key]
        winner = 0 if key in created[0] else 1
        assert value == files[winner][key] and versions == 1, key


def local_state(kp: KeepRunner, keys: set[str]) -> dict[str, tuple[str, int]]:
    shown = kp.ok("show", "--unmask", "--format", "json", "--stage", "staging").json()
    assert isinstance(shown, list)
    values = {row["key"]: row["value"] for row in shown}
    out = {}
    for key in keys:
        history = kp.ok("history", key, "--format", "json", "--stage", "staging").json()
        assert isinstance(history, list)
        out[key] = (values[key], len(history))
    return out


def test_two_imports_of_the_same_new_keys_into_the_local_vault(kp: KeepRunner) -> None:
    files = [{f"RACE_{i:03d}": f"fake-{who}-{i}" for i in range(300)} for who in ("a", "b")]
    inputs = ["".join(f"{k}={v}\n" for k, v in f.items()) for f in files]
    results = race(kp, inputs, "--stage", "staging")
    check_race(results, files, local_state(kp, set(files[0])))


def test_two_imports_with_equal_values_are_not_conflicts(kp: KeepRunner) -> None:
    text = "".join(f"SAME_{i:03d}=fake-same-{i}\n" for i in range(200))
    results = race(kp, [text, text], "--stage", "staging")
    assert [code for code, _ in results] == [0, 0], results
    created = [keys_with("created", err) for _, err in results]
    unchanged = [keys_with("unchanged", err) for _, err in results]
    assert created[0] | created[1] == {f"SAME_{i:03d}" for i in range(200)} and not created[0] & created[1]
    assert unchanged[0] >= created[1] and unchanged[1] >= created[0]


@pytest.mark.aws
@pytest.mark.parametrize("driver", ["secretsmanager", "ssm"])
def test_two_imports_of_the_same_new_keys_into_aws(kp: KeepRunner, moto: str, driver: str) -> None:
    add_vault(kp.cwd, "aws", driver)
    files = [{f"RACE_{i:03d}": f"fake-{who}-{i}" for i in range(40)} for who in ("a", "b")]
    inputs = ["".join(f"{k}={v}\n" for k, v in f.items()) for f in files]
    env = {"AWS_ENDPOINT_URL": moto, "KEEP_WRITE_INTERVAL": "0"}
    results = race(kp, inputs, "--vault", "aws", "--stage", "staging", env=env)
    stored: dict[str, tuple[str, int]] = {}
    if driver == "secretsmanager":
        client = boto3.client("secretsmanager", endpoint_url=moto, region_name=REGION)
        for key in files[0]:
            name = f"myapp/staging/{key}"
            versions = client.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
            stored[key] = (client.get_secret_value(SecretId=name)["SecretString"], len(versions))
    else:
        ssm = boto3.client("ssm", endpoint_url=moto, region_name=REGION)
        for key in files[0]:
            param = ssm.get_parameter(Name=f"/myapp/staging/{key}", WithDecryption=True)["Parameter"]
            stored[key] = (param["Value"], int(param["Version"]))
    check_race(results, files, stored)


@pytest.mark.aws
def test_concurrent_set_of_a_new_secrets_manager_key_stores_both_values(kp: KeepRunner, counted: Proxy) -> None:
    """`set` is create-or-update: the create race's loser puts its value on top (was: exit 5
    "created by someone else", value lost, in 2 of 10 pairs). The proxy holds each pair's first
    CreateSecret until the second one arrives, so every pair really races (left to the OS, 8 of 10
    pairs did not)."""
    add_vault(kp.cwd, "sm", "secretsmanager")
    # the first CreateSecret of a pair waits in the proxy for the second process, which a busy
    # machine starts seconds later (3.2 s seen here, loaded): past the default 10 s read timeout
    # the first process would time out and send its CreateSecret again, and that retry, not the
    # other process, would meet it at the barrier
    env = {"AWS_ENDPOINT_URL": counted.url, "KEEP_AWS_READ_TIMEOUT": "150", "KEEP_AWS_DEADLINE": "300"}
    client = boto3.client("secretsmanager", endpoint_url=counted.upstream, region_name=REGION)
    lock = threading.Lock()
    barriers: dict[str, threading.Barrier] = {}
    raced: list[str] = []

    def create_together(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation == "CreateSecret" and isinstance(request.json, dict):
            name = str(request.json.get("Name"))
            with lock:
                barrier = barriers.setdefault(name, threading.Barrier(2))
            try:
                barrier.wait(timeout=120)
            except threading.BrokenBarrierError:
                return None  # the other process found the secret there already: no race to stage
            with lock:
                raced.append(name)
        return None

    counted.hooks.append(create_together)
    pairs = range(3)  # all at once: each pair's race is staged by the proxy, apart from the others
    procs = [start(kp, "set", f"NEW_KEY_{pair}", f"fake-{who}-{pair}", "--vault", "sm", "--stage", "staging", env=env)
             for pair in pairs for who in ("a", "b")]
    outputs = [proc.communicate(timeout=240) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * len(procs), [err.decode() for _, err in outputs]
    for pair in pairs:
        name = f"myapp/staging/NEW_KEY_{pair}"
        versions = client.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
        values = {client.get_secret_value(SecretId=name, VersionId=v["VersionId"])["SecretString"] for v in versions}
        assert values == {f"fake-a-{pair}", f"fake-b-{pair}"}
    assert sorted(raced) == sorted(f"myapp/staging/NEW_KEY_{pair}" for pair in pairs for _ in "ab")
