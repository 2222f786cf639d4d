"""Start-up benchmark: cold `keep --version`, `keep get` on the local vault and (with an AWS
endpoint) `keep get` on a Secrets Manager vault, as a ratio to `python -c pass`, measured
alternately in one run so machine noise hits every case alike.

    python bench/startup.py [--runs 21] [--json out.json] [--aws-endpoint http://moto:port]

Budget (SPEC §12): `keep --version` and local `keep get` <= 6x. The AWS case is reported
(boto3's import and the round trip are in it) but has no budget. Exits 1 when over budget.
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

BUDGET = 6.0
BASELINE = "python -c pass"
BUDGETED = ("keep --version", "keep get (local)")


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


def timed(cmd: list[str], cwd: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode()[:300]}")
    return elapsed


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
        for cmd in cases.values():  # warm the page cache once
            timed(cmd, str(project), env)
        for _ in range(runs):
            for name, cmd in cases.items():
                samples[name].append(timed(cmd, str(project), env))

    base = statistics.median(samples[BASELINE])
    rows = []
    for name, values in samples.items():
        median = statistics.median(values)
        ratio = median / base
        row: dict[str, Any] = {"case": name, "median_ms": round(median * 1000, 1), "ratio": round(ratio, 2)}
        if name in BUDGETED:
            row["budget"] = BUDGET
            row["ok"] = ratio <= BUDGET
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", dest="json_path")
    parser.add_argument("--aws-endpoint", help="moto (or other) endpoint for the AWS `keep get` case")
    args = parser.parse_args(argv)

    rows = measure(args.runs, args.aws_endpoint)
    print(f"{'case':<22} {'median ms':>10} {'ratio':>7}  budget")
    for row in rows:
        budget = ""
        if "budget" in row:
            budget = f"<= {BUDGET:g}x " + ("ok" if row["ok"] else "OVER")
        print(f"{row['case']:<22} {row['median_ms']:>10.1f} {row['ratio']:>6.2f}x  {budget}")
    if args.json_path:
        Path(args.json_path).write_text(json.dumps({"runs": args.runs, "results": rows}, indent=2))
    return 0 if all(row.get("ok", True) for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
