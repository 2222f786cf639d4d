"""Cache benchmark (issue 15): a repeated export of N Secrets Manager secrets with the cache on.

    python bench/cache.py                  # N=400 at 50 ms per request, 7 reps
    python bench/cache.py --n 100 --reps 3 --latency 20

moto in its own process behind the latency-injecting counting proxy of tests/aws/proxy.py (in
this process; it mostly sleeps). Measured in this process, alternating rep by rep:

* cached       - keep's driver behind the cache (vaults/cache.py, `cache: on`), warmed by one
                 export before timing: ceil(N/100) ListSecrets pages and no value read;
* uncached     - keep's driver alone: ceil(N/100) ListSecrets + ceil(N/20) BatchGetSecretValue;
* keep_pattern - the PHP tool's calls (bench/keep_pattern.py): ListSecrets pages of 20, each
                 followed by its BatchGetSecretValue, one after the other.

All three go through keep's export service / env renderer, so they do the same local work.
The cache lives in a temporary XDG_CACHE_HOME with a temporary key (XDG_CONFIG_HOME).
Prints a Markdown table (median ms, calls per run) and the JSON of every sample.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import infra, keep_pattern  # noqa: E402
from tests.aws.proxy import Proxy  # noqa: E402

STAGE = "production"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--latency", type=float, default=50.0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(infra.aws_env())
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")
        os.environ["KEEP_KEYRING"] = "0"
        with infra.moto_server() as upstream:
            infra.seed_sm(upstream, STAGE, args.n)
            with Proxy(upstream) as proxy:
                results = run(proxy, args.n, args.reps, args.latency)
    rows = ["| case | median ms | calls per run | value reads |", "|---|---|---|---|"]
    for name, data in results.items():
        calls = data["calls"]
        reads = calls.get("BatchGetSecretValue", 0) + calls.get("GetSecretValue", 0)
        rows.append(f"| {name} | {statistics.median(data['times']) * 1000:.0f} | {sum(calls.values())} | {reads} |")
    print("\n".join(rows))
    cached, uncached, pattern = (statistics.median(results[k]["times"]) for k in ("cached", "uncached", "keep_pattern"))
    print(f"\ncached/uncached {cached / uncached:.2f}x, cached/Keep's pattern {cached / pattern:.2f}x "
          f"(N={args.n}, {args.latency:g} ms per request, {args.reps} reps)")
    print(json.dumps(results))
    return 0


def run(proxy: Proxy, n: int, reps: int, latency: float) -> dict[str, Any]:
    from keep_secrets.project import VaultConfig
    from keep_secrets.services.exporting import export_secrets
    from keep_secrets.vaults.cache import wrap
    from keep_secrets.vaults.secretsmanager import SecretsManagerVault

    def vault(cache: str) -> Any:
        options = {"region": infra.REGION, "endpoint_url": proxy.url, "cache": cache}
        return SecretsManagerVault(VaultConfig("sm", "secretsmanager", "sm", "", options), infra.NAMESPACE, None)

    plain = vault("off")
    cached = wrap(vault("on"), "auto")
    client = infra.boto_client("secretsmanager", proxy.url)

    def export(v: Any) -> Callable[[], None]:
        def go() -> None:
            result = export_secrets(lambda _slug: v, ["sm"], STAGE, "env")
            if result.count != n:
                raise SystemExit(f"exported {result.count} secrets, expected {n}")
        return go

    def pattern() -> None:
        text = keep_pattern.sm_export(client, infra.NAMESPACE, STAGE)
        if text.count("\n") != n:
            raise SystemExit(f"Keep's pattern exported {text.count(chr(10))} lines, expected {n}")

    cases = {"cached": export(cached), "uncached": export(plain), "keep_pattern": pattern}
    for func in cases.values():  # open connections, fill the cache
        func()
    proxy.latency_ms = latency
    out: dict[str, Any] = {name: {"times": [], "calls": {}} for name in cases}
    for _ in range(reps):
        for name, func in cases.items():
            proxy.reset_counts()
            start = time.perf_counter()
            func()
            out[name]["times"].append(time.perf_counter() - start)
            out[name]["calls"] = dict(proxy.counts)
    return out


if __name__ == "__main__":
    sys.exit(main())
