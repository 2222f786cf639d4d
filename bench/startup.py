"""Start-up benchmark: cold `keep --version` and `keep get` on the local vault, as a ratio to
`python -c pass`, measured alternately in one run so machine noise hits both sides alike.

    python bench/startup.py [--runs 21] [--json out.json]

Budget (SPEC §12): each ratio <= 6. Exits 1 when a ratio is over budget.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET = 6.0


def keep_command() -> list[str]:
    script = shutil.which("keep")
    if script:
        return [script]
    return [sys.executable, "-m", "keep_secrets"]


def timed(cmd: list[str], cwd: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[:300]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", dest="json_path")
    args = parser.parse_args(argv)

    keep = keep_command()
    with tempfile.TemporaryDirectory(prefix="keep-bench-") as tmp:
        env = dict(os.environ)
        env.update(HOME=tmp, XDG_CONFIG_HOME=f"{tmp}/config", XDG_DATA_HOME=f"{tmp}/data")
        project = Path(tmp) / "proj"
        project.mkdir()
        subprocess.run([*keep, "init", "--no-interaction", "--namespace", "bench"], cwd=project, env=env,
                       check=True, capture_output=True)
        subprocess.run([*keep, "set", "BENCH_KEY", "fake-bench-value", "--stage", "local"], cwd=project, env=env,
                       check=True, capture_output=True)
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "keep --version": [*keep, "--version"],
            "keep get (local)": [*keep, "get", "BENCH_KEY", "--stage", "local"],
        }
        samples: dict[str, list[float]] = {name: [] for name in cases}
        for name, cmd in cases.items():  # warm the page cache once
            timed(cmd, str(project), env)
        for _ in range(args.runs):
            for name, cmd in cases.items():
                samples[name].append(timed(cmd, str(project), env))

    base = statistics.median(samples["python -c pass"])
    rows = []
    failed = False
    print(f"{'case':<20} {'median ms':>10} {'ratio':>7}  budget")
    for name, values in samples.items():
        median = statistics.median(values)
        ratio = median / base
        over = name != "python -c pass" and ratio > BUDGET
        failed = failed or over
        rows.append({"case": name, "median_ms": round(median * 1000, 1), "ratio": round(ratio, 2)})
        budget = "" if name == "python -c pass" else (f"<= {BUDGET:g}x " + ("OVER" if over else "ok"))
        print(f"{name:<20} {median * 1000:>10.1f} {ratio:>6.2f}x  {budget}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps({"runs": args.runs, "results": rows}, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
