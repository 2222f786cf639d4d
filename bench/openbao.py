"""OpenBao / Vault export benchmark (issue 12): export of N keys from a KV v2 mount.

    python bench/openbao.py                 # N=400 at 0, 20 and 50 ms per request, 5 reps
    python bench/openbao.py --n 100 --reps 1 --latencies 20

A real `bao server -dev` (its own process) behind the latency-injecting proxy of
tests/aws/proxy.py (in this process; it mostly sleeps). The measured clients run in a worker
process (this file with --worker) so they never share a GIL with the proxy:

* keep       - keep's driver and export service (`export_secrets`): one LIST of the stage,
               then the reads concurrently (at most 16 in flight);
* sequential - the same LIST and the same reads one after another on one keep-alive
               connection (what a loop over `bao kv get` or a naive client does);
* hvac       - the established Python client, sequentially: `list_secrets` then
               `read_secret_version` per key (hvac on requests, keep-alive session; the
               listing as GET ?list=true, which the proxy can forward, instead of LIST).

Cases alternate rep by rep; the median is reported with the request count the proxy saw.
Prints a Markdown table and the JSON of every sample.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NAMESPACE = "bench"
STAGE = "production"


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    import os

    os.environ["BAO_TOKEN"] = spec["token"]
    from keep_secrets.project import VaultConfig
    from keep_secrets.services.exporting import export_secrets
    from keep_secrets.vaults.openbao import OpenBaoVault

    n, address = spec["n"], spec["address"]
    vault = OpenBaoVault(VaultConfig("bao", "openbao", "bao", "", {"address": address}), NAMESPACE, None)
    plain = OpenBaoVault(VaultConfig("bao", "openbao", "bao", "", {"address": address}), NAMESPACE, None)

    def keep() -> None:
        result = export_secrets(lambda _slug: vault, [vault.slug], STAGE, "env")
        assert result.count == n, result.count

    def sequential() -> None:
        values = [plain.get(STAGE, key).value for key in plain.list_keys(STAGE)]
        assert len(values) == n

    import hvac

    client = hvac.Client(url=address, token=spec["token"])

    def hvac_sequential() -> None:
        # GET ?list=true rather than hvac's LIST verb, which the Python proxy cannot forward
        listed = client.adapter.get(f"/v1/secret/metadata/{NAMESPACE}/{STAGE}/", params={"list": "true"})
        values = [
            client.secrets.kv.v2.read_secret_version(
                path=f"{NAMESPACE}/{STAGE}/{key}", mount_point="secret", raise_on_deleted_version=True
            )["data"]["data"]["value"]
            for key in listed["data"]["keys"]
        ]
        assert len(values) == n

    cases: dict[str, Callable[[], None]] = {"keep": keep, "sequential": sequential, "hvac": hvac_sequential}
    for func in cases.values():  # warm up: connections open, code paths loaded
        func()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(spec["reps"]):
        for name, func in cases.items():
            started = time.perf_counter()
            func()
            samples[name].append(time.perf_counter() - started)
    return samples


def seed(api: Any, n: int) -> None:
    def put(i: int) -> None:
        api.ok("POST", f"secret/data/{NAMESPACE}/{STAGE}/KEY_{i:04d}", {"data": {"value": f"fake-value-{i:04d}"}})

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, range(n)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--latencies", default="0,20,50", help="ms per request, comma-separated")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    from tests.aws.proxy import Proxy
    from tests.openbao.server import dev_server

    rows = []
    results: dict[str, Any] = {"n": args.n, "reps": args.reps, "latencies": {}}
    with tempfile.TemporaryDirectory(prefix="keep-bench-bao-") as workdir, dev_server(Path(workdir)) as server:
        seed(server.api, args.n)
        for latency in [float(x) for x in args.latencies.split(",") if x.strip()]:
            with Proxy(server.address, latency_ms=latency) as proxy:
                spec = {"n": args.n, "reps": args.reps, "address": proxy.url, "token": server.root_token}
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True
                )
                if out.returncode != 0:
                    print(out.stderr, file=sys.stderr)
                    return 1
                samples = json.loads(out.stdout)
                calls = len(proxy.requests) // (3 * (args.reps + 1))
            medians = {name: statistics.median(values) for name, values in samples.items()}
            results["latencies"][f"{latency:g}"] = {"samples": samples, "median": medians, "requests_per_run": calls}
            rows.append((latency, medians, calls))

    print(f"### OpenBao export of {args.n} keys (median of {args.reps}; "
          f"{rows[0][2] if rows else 0} requests per export in every case)\n")
    print("| latency | keep ms | sequential ms | hvac sequential ms | keep/sequential | keep/hvac |")
    print("|---|---|---|---|---|---|")
    for latency, medians, _calls in rows:
        keep, seq, hv = medians["keep"] * 1000, medians["sequential"] * 1000, medians["hvac"] * 1000
        print(f"| {latency:g} ms | {keep:.0f} | {seq:.0f} | {hv:.0f} | **{keep / seq:.2f}×** | {keep / hv:.2f}× |")
    print()
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
