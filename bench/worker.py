"""The measured side of the AWS benchmarks, run as its own process by bench/run.py:

    python bench/worker.py '{"task": "listing", "service": "sm", "endpoint": ..., ...}'

It times keep (its driver and export service, in this process), the re-enactment of Keep's
calls, and the round-trip floor, alternating them rep by rep so machine noise hits all three
alike, and counts each one's HTTP attempts (botocore `before-send`, retries included).
Prints one JSON object on stdout.

Clients are created and their connections opened before timing, on both sides: process
start-up is measured separately (bench/startup.py).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import keep_pattern
from bench.infra import NAMESPACE, boto_client, cpu_seconds, fake_value, key_name, set_latency
from keep_secrets.project import VaultConfig


class Calls:
    """Counts HTTP attempts per operation on the clients it is attached to."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-send", self._on_send)
        return client

    def _on_send(self, event_name: str = "", **_: Any) -> None:
        self.counts[event_name.rsplit(".", 1)[-1]] += 1

    def take(self) -> dict[str, int]:
        out = dict(self.counts)
        self.counts.clear()
        return out


def open_vault(service: str, endpoint: str, region: str, **extra: str) -> Any:
    options = {"region": region, "endpoint_url": endpoint, **extra}
    if service == "sm":
        from keep_secrets.vaults.secretsmanager import SecretsManagerVault

        return SecretsManagerVault(VaultConfig("sm", "secretsmanager", "sm", "", options), NAMESPACE, None)
    from keep_secrets.vaults.ssm import SsmVault

    return SsmVault(VaultConfig("ssm", "ssm", "ssm", "", options), NAMESPACE, None)


def measure(cases: dict[str, Callable[[], object]], calls: Calls, reps: int,
            cpu_pids: dict[str, int] | None = None) -> dict[str, Any]:
    """Time each case `reps` times, alternating; with `cpu_pids` ({"moto": pid, "proxy": pid}),
    also the CPU time those processes spent during each run ("cpu": {name: [seconds, ...]})."""
    pids = cpu_pids or {}
    out: dict[str, Any] = {name: {"times": [], "calls": {}, "cpu": {k: [] for k in pids}} for name in cases}
    for _ in range(reps):
        for name, func in cases.items():
            calls.take()
            before = {k: cpu_seconds(pid) for k, pid in pids.items()}
            start = time.perf_counter()
            func()
            out[name]["times"].append(time.perf_counter() - start)
            for k, pid in pids.items():
                out[name]["cpu"][k].append(cpu_seconds(pid) - before[k])
            out[name]["calls"] = calls.take()
    return out


def warm_up(service: str, vault: Any, client: Any, calls: Calls) -> None:
    """One cheap call on each client, so neither side pays for opening its first connection
    (or botocore's lazy loading) inside the timed runs."""
    for each in (vault.client(), client):
        if service == "sm":
            each.list_secrets(MaxResults=1)
        else:
            each.describe_parameters(MaxResults=1)
    calls.take()


def per_latency(spec: dict[str, Any], cases: dict[str, Callable[[], object]], calls: Calls) -> dict[str, Any]:
    """Run `cases` at each injected latency (set on the proxy through its control hook)."""
    results: dict[str, Any] = {}
    for latency in spec["latencies"]:
        set_latency(spec["endpoint"], latency)
        results[str(latency)] = measure(cases, calls, spec["reps"], spec.get("cpu_pids"))
    return results


def listing(spec: dict[str, Any]) -> dict[str, Any]:
    from keep_secrets.services.exporting import export_secrets

    service, endpoint, region, stage, n = spec["service"], spec["endpoint"], spec["region"], spec["stage"], spec["n"]
    calls = Calls()
    boto_name = "secretsmanager" if service == "sm" else "ssm"
    vault = open_vault(service, endpoint, region)
    calls.attach(vault.client())
    client = calls.attach(boto_client(boto_name, endpoint, region))

    def keep() -> None:
        result = export_secrets(lambda _slug: vault, [vault.slug], stage, "env")
        if result.count != n:
            raise SystemExit(f"keep exported {result.count} secrets of {stage}, expected {n}")

    if service == "sm":

        def pattern() -> None:
            text = keep_pattern.sm_export(client, NAMESPACE, stage)
            if text.count("\n") != n:
                raise SystemExit(f"Keep's pattern exported {text.count(chr(10))} lines, expected {n}")

        def floor() -> None:
            if keep_pattern.sm_floor(client, NAMESPACE, stage) < min(n, 1):
                raise SystemExit("floor read no value")
    else:

        def pattern() -> None:
            text = keep_pattern.ssm_export(client, NAMESPACE, stage)
            if text.count("\n") != n:
                raise SystemExit(f"Keep's pattern exported {text.count(chr(10))} lines, expected {n}")

        def floor() -> None:
            if keep_pattern.ssm_floor(client, NAMESPACE, stage) < min(n, 1):
                raise SystemExit("floor read no value")

    warm_up(service, vault, client, calls)
    return per_latency(spec, {"keep": keep, "keep_pattern": pattern, "floor": floor}, calls)


def setting(spec: dict[str, Any]) -> dict[str, Any]:
    service, endpoint, region, stage = spec["service"], spec["endpoint"], spec["region"], spec["stage"]
    calls = Calls()
    vault = open_vault(service, endpoint, region)
    calls.attach(vault.client())
    client = calls.attach(boto_client("secretsmanager" if service == "sm" else "ssm", endpoint, region))
    key = key_name(0)
    counter = iter(range(10**6))

    def value() -> str:
        return fake_value(stage, 0) + f"-changed-{next(counter)}"

    def keep() -> None:
        result = vault.set(stage, key, value())
        if result.created:
            raise SystemExit(f"keep created {key}; the bench needs an existing key")

    def pattern() -> None:
        if service == "sm":
            keep_pattern.sm_set(client, NAMESPACE, stage, key, value())
        else:
            keep_pattern.ssm_set(client, NAMESPACE, stage, key, value())

    warm_up(service, vault, client, calls)
    return per_latency(spec, {"keep": keep, "keep_pattern": pattern}, calls)


def caching(spec: dict[str, Any]) -> dict[str, Any]:
    """Secrets Manager export of the same unchanged stage (issue 15): `cached` = keep's driver
    behind the cache (vaults/cache.py, `cache: on`), warmed by one export before timing, so a
    run is the ceil(N/100) ListSecrets pages and no value read; `uncached` = keep's driver
    alone; `keep_pattern` = Keep's calls. The cache lives in a temporary XDG_CACHE_HOME, its
    key in a temporary XDG_CONFIG_HOME (no OS keyring)."""
    import tempfile

    from keep_secrets.services.exporting import export_secrets

    home = tempfile.mkdtemp(prefix="keep-bench-cache-")
    os.environ.update(XDG_CACHE_HOME=f"{home}/cache", XDG_CONFIG_HOME=f"{home}/config", KEEP_KEYRING="0")
    from keep_secrets.vaults.cache import wrap

    endpoint, region, stage, n = spec["endpoint"], spec["region"], spec["stage"], spec["n"]
    calls = Calls()
    plain = open_vault("sm", endpoint, region, cache="off")
    inner = open_vault("sm", endpoint, region, cache="on")
    cached = wrap(inner, "auto")
    for each in (plain, inner):
        calls.attach(each.client())
    client = calls.attach(boto_client("secretsmanager", endpoint, region))

    def export(vault: Any) -> Callable[[], None]:
        def go() -> None:
            result = export_secrets(lambda _slug: vault, ["sm"], stage, "env")
            if result.count != n:
                raise SystemExit(f"exported {result.count} secrets of {stage}, expected {n}")

        return go

    def pattern() -> None:
        text = keep_pattern.sm_export(client, NAMESPACE, stage)
        if text.count("\n") != n:
            raise SystemExit(f"Keep's pattern exported {text.count(chr(10))} lines, expected {n}")

    cases = {"cached": export(cached), "uncached": export(plain), "keep_pattern": pattern}
    for func in cases.values():  # open connections and fill the cache, before any latency
        func()
    calls.take()
    try:
        return per_latency(spec, cases, calls)
    finally:
        import shutil

        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    spec = json.loads(sys.argv[1])
    task = {"listing": listing, "set": setting, "cache": caching}[spec["task"]]
    print(json.dumps(task(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
