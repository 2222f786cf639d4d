"""Start-up benchmark: cold `keep --version`, `keep get` on the local vault and (with an AWS
endpoint) `keep get` on a Secrets Manager vault, as a ratio to `python -c pass`, measured
alternately in one run so machine noise hits every case alike.

    python bench/startup.py [--runs 21] [--json out.json] [--aws-endpoint http://moto:port]

Budgets (SPEC §12): `keep --version` <= 3x and local `keep get` <= 4x, on the median wall
times. The AWS case is reported (boto3's import and the round trip are in it) but has no
budget. Exits 1 when over budget.

Run it from a built wheel (`$(python bench/wheel_env.py) bench/startup.py`): an editable
install or a source checkout adds import-system work to every process. Each run also records
the child's CPU time (user + system, from wait4): on a machine shared with other work the wall
times include waiting for a CPU, the CPU times much less so; both ratios are reported, the
budget is judged on wall time as SPEC §12 states it.
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
from typing import Any

BASELINE = "python -c pass"
BUDGETS = {"keep --version": 3.0, "keep get (local)": 4.0}
BUDGETED = tuple(BUDGETS)


def keep_command() -> list[str]:
    """The `keep` console script of this interpreter's environment (a built wheel installed in a
    venv: what users run), else the one on PATH, else the module."""
    beside = Path(sys.executable).with_name("keep")
    if beside.is_file():
        return [str(beside)]
    script = shutil.which("keep")
    if script:
        return [script]
    return [sys.executable, "-c", "import sys; from keep_secrets.cli import main; sys.exit(main())"]


def timed(cmd: list[str], cwd: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child: user + system)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.decode()[:300]}")
    return elapsed, usage.ru_utime + usage.ru_stime


def _aws_vault(project: Path, endpoint: str, env: dict[str, str], keep: list[str]) -> None:
    config = {"slug": "sm", "driver": "secretsmanager", "name": "sm", "scope": "", "region": "us-east-1",
              "endpoint_url": endpoint}
    (project / ".keep" / "vaults" / "sm.json").write_text(json.dumps(config))
    subprocess.run([*keep, "set", "BENCH_KEY", "fake-bench-value", "--stage", "local", "--vault", "sm"],
                   cwd=project, env=env, check=True, capture_output=True)


def measure(runs: int = 21, aws_endpoint: str | None = None) -> list[dict[str, Any]]:
    """Median wall time of each case and its ratio to `python -c pass`."""
    keep = keep_command()
    with tempfile.TemporaryDirectory(prefix="keep-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEEP_")}
        env.update(HOME=tmp, XDG_CONFIG_HOME=f"{tmp}/config", XDG_DATA_HOME=f"{tmp}/data")
        if aws_endpoint:
            env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
                       AWS_EC2_METADATA_DISABLED="true")
            env.pop("AWS_PROFILE", None)
        project = Path(tmp) / "proj"
        project.mkdir()
        subprocess.run([*keep, "init", "--no-interaction", "--namespace", "bench"], cwd=project, env=env,
                       check=True, capture_output=True)
        subprocess.run([*keep, "set", "BENCH_KEY", "fake-bench-value", "--stage", "local"], cwd=project, env=env,
                       check=True, capture_output=True)
        cases = {
            BASELINE: [sys.executable, "-c", "pass"],
            "keep --version": [*keep, "--version"],
            "keep get (local)": [*keep, "get", "BENCH_KEY", "--stage", "local"],
        }
        if aws_endpoint:
            _aws_vault(project, aws_endpoint, env, keep)
            cases["keep get (AWS, moto)"] = [*keep, "get", "BENCH_KEY", "--stage", "local", "--vault", "sm"]
        samples: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}
        for cmd in cases.values():  # warm the page cache once
            timed(cmd, str(project), env)
        for _ in range(runs):
            for name, cmd in cases.items():
                wall, used = timed(cmd, str(project), env)
                samples[name].append(wall)
                cpu[name].append(used)

    base = statistics.median(samples[BASELINE])
    base_cpu = statistics.median(cpu[BASELINE])
    rows = []
    for name, values in samples.items():
        median = statistics.median(values)
        ratio = median / base
        cpu_median = statistics.median(cpu[name])
        row: dict[str, Any] = {
            "case": name, "median_ms": round(median * 1000, 1), "ratio": round(ratio, 2),
            "cpu_median_ms": round(cpu_median * 1000, 1), "cpu_ratio": round(cpu_median / base_cpu, 2),
            "samples_ms": [round(v * 1000, 1) for v in values],
            "cpu_samples_ms": [round(v * 1000, 1) for v in cpu[name]],
        }
        if name in BUDGETS:
            row["budget"] = BUDGETS[name]
            row["ok"] = ratio <= BUDGETS[name]
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--aws-endpoint", help="moto (or other) endpoint for the AWS `keep get` case")
    args = parser.parse_args(argv)

    rows = measure(args.runs, args.aws_endpoint)
    print(f"{'case':<22} {'median ms':>10} {'ratio':>7} {'CPU ms':>8} {'CPU ratio':>9}  budget (wall)")
    for row in rows:
        budget = ""
        if "budget" in row:
            budget = f"<= {row['budget']:g}x " + ("ok" if row["ok"] else "OVER")
        print(f"{row['case']:<22} {row['median_ms']:>10.1f} {row['ratio']:>6.2f}x {row['cpu_median_ms']:>8.1f} "
              f"{row['cpu_ratio']:>8.2f}x  {budget}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps({"runs": args.runs, "results": rows}, indent=2))
    return 0 if all(row.get("ok", True) for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
