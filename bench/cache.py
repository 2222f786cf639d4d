"""Cache benchmark (issue 15): a repeated export of N Secrets Manager secrets with the cache on.

    python bench/cache.py                  # N=400 at 50 ms per request, 7 reps
    python bench/cache.py --n 100 --reps 3 --latency 20

The `cache` section of bench/run.py, alone: moto in its own process behind the
latency-injecting counting proxy of tests/aws/proxy.py (in this process; it mostly sleeps),
and the measured clients in a worker process (bench/worker.py, task `cache`), alternating
rep by rep:

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
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import infra, run  # noqa: E402
from tests.aws.proxy import Proxy  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--latency", type=float, default=50.0)
    args = parser.parse_args(argv)
    run.REGIONS.setdefault(args.n, "sa-east-1")
    report = run.Report()
    with infra.moto_server() as upstream:
        infra.seed_sm(upstream, f"n{args.n}", args.n, run.REGIONS[args.n])
        proxy = Proxy(upstream)
        proxy.hooks = [infra.control_hook(proxy)]
        with proxy:
            run.section_cache(report, proxy, args.n, args.latency, args.reps)
    print(json.dumps(report.data["cache"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
