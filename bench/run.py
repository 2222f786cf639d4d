"""keep's benchmark suite (issue 6, SPEC §12). Run it from the checkout:

    python bench/run.py            # or: python -m bench
    python bench/run.py --quick    # small sizes, for a smoke test
    python bench/run.py --only listing,set

Sections:

* startup  - cold `keep --version` / `keep get` (local, AWS on moto) vs `python -c pass`;
* listing  - export of N secrets (Secrets Manager, SSM) through a latency-injecting proxy in
             front of a moto server: keep vs a re-enactment of Keep's calls vs the floor;
* set      - `set` of an existing key in a stage of N secrets: calls and time, keep vs Keep;
* diff     - `keep diff` over 2 vaults x 3 stages vs `keep show` of one stage (CLI);
* cache    - a repeated Secrets Manager export of 400 unchanged secrets with the cache on vs
             the same export without it vs Keep's pattern (what bench/cache.py runs alone);
* bulk     - `keep import` / `keep copy` of 200 secrets into SSM with writes throttled to
             3 per second, first run and an equal re-run (which must write nothing);
* memory   - peak RSS of `keep export` of 5000 secrets (local vault) and of 1000 (Secrets Manager).

Prints one table per section and writes everything to bench/results/bench-<time>.json.
Exits 1 when a budget does not hold.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import infra, startup
from bench.infra import NAMESPACE, WRITE_OPS, Proxy, fake_value, key_name

RESULTS = Path(__file__).resolve().parent / "results"
SECTIONS = ("startup", "listing", "set", "cache", "diff", "bulk", "memory")
# one moto region per data set: moto's ListSecrets / GetParametersByPath scan every secret of
# the region on each call, so unrelated data sets would slow each other down
REGIONS = {20: "ap-south-1", 60: "ap-northeast-1", 100: "us-west-1", 200: "us-west-2", 400: "eu-west-1",
           1000: "eu-central-1"}
BUDGETS = {
    "startup": "keep --version <= 3x and keep get (local) <= 4x python -c pass (median wall, from a wheel)",
    "sm_export": "Secrets Manager export of 400 at 50 ms <= 0.15x Keep's pattern, <= ceil(N/20)+ceil(N/100) calls",
    "ssm_export": "SSM export of 200 at 50 ms <= 0.3x Keep's pattern",
    "sm_set": "Secrets Manager set of an existing key <= 2 calls",
    "diff": "diff over 2 vaults x 3 stages <= 1.3x show of one stage",
    "bulk": "0 write calls on equal re-runs; throttled bulk writes finish without an error",
}


class Report:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.budgets: dict[str, dict[str, Any]] = {}
        self.tables: list[str] = []

    def budget(self, name: str, ok: bool, measured: str) -> None:
        self.budgets[name] = {"budget": BUDGETS[name], "ok": ok, "measured": measured}

    def table(self, title: str, header: list[str], rows: list[list[str]]) -> None:
        widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
        lines = [f"### {title}", ""]
        lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
        lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for row in rows:
            lines.append("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        text = "\n".join(lines)
        self.tables.append(text)
        print(text + "\n", flush=True)


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def total(calls: dict[str, int]) -> int:
    return sum(calls.values())


def calls_text(calls: dict[str, int]) -> str:
    short = {"ListSecrets": "List", "BatchGetSecretValue": "Batch", "GetParametersByPath": "ByPath",
             "DescribeParameters": "Describe", "GetParameters": "Values",
             "PutSecretValue": "Put", "TagResource": "Tag", "GetSecretValue": "Get", "PutParameter": "Put",
             "GetParameter": "Get"}
    return f"{total(calls)} (" + " ".join(f"{short.get(k, k)} {v}" for k, v in sorted(calls.items())) + ")"


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent / "worker.py"), json.dumps(spec)],
        capture_output=True, text=True, env=infra.aws_env(),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {spec['task']} {spec['service']} failed: {proc.stderr[-1500:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def cpu_pids(proxy: Proxy) -> dict[str, int]:
    """The processes whose CPU time a worker measures per run: moto (behind `proxy`) and this
    process (the proxy's threads; nothing else runs here while a worker measures)."""
    pid = infra.MOTO_PIDS.get(proxy.upstream)
    return {"moto": pid, "proxy": os.getpid()} if pid else {}


def mean_ms(values: list[float]) -> float:
    return 1000 * sum(values) / len(values) if values else float("nan")


# -- sections ------------------------------------------------------------------------------------

def section_startup(report: Report, moto_url: str, runs: int) -> None:
    log(f"startup: {runs} alternating runs per case")
    rows = startup.measure(runs, moto_url)
    report.data["startup"] = rows
    report.table(
        "Start-up (cold process, median)",
        ["case", "median ms", "ratio to python -c pass", "CPU ms", "CPU ratio", "budget (wall)"],
        [[r["case"], f"{r['median_ms']:.0f}", f"{r['ratio']:.2f}x", f"{r['cpu_median_ms']:.0f}",
          f"{r['cpu_ratio']:.2f}x",
          (f"<= {r['budget']:g}x " + ("ok" if r["ok"] else "OVER")) if "budget" in r else "-"] for r in rows],
    )
    budgeted = [r for r in rows if "budget" in r]
    report.budget("startup", all(r["ok"] for r in budgeted),
                  ", ".join(f"{r['case']} {r['ratio']:.2f}x" for r in budgeted))


def seed(moto_url: str, jobs: list[tuple[str, str, int, str]]) -> None:
    """Seed (service, stage, count, region) data sets in parallel, straight into moto."""
    errors: list[BaseException] = []

    def one(job: tuple[str, str, int, str]) -> None:
        service, stage, count, region = job
        try:
            if service == "sm":
                infra.seed_sm(moto_url, stage, count, region)
            else:
                infra.seed_ssm(moto_url, stage, count, region)
        except BaseException as exc:  # re-raised below, in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def section_listing(report: Report, proxy: Proxy, sizes: list[int], latencies: list[float],
                    reps: Callable[[int], int], ssm_budget_n: int) -> None:
    results: dict[str, Any] = {}
    rows: list[list[str]] = []
    cpu_rows: list[list[str]] = []
    jobs = [(svc, n) for svc in ("sm", "ssm") for n in sizes]
    if ssm_budget_n not in sizes:
        jobs.append(("ssm", ssm_budget_n))
    for service, n in jobs:
        budget_only = service == "ssm" and n == ssm_budget_n and n not in sizes
        lats = [50.0] if budget_only else latencies
        log(f"listing: {service} N={n} at {', '.join(f'{x:g}' for x in lats)} ms")
        spec = {"task": "listing", "service": service, "endpoint": proxy.url, "region": REGIONS[n],
                "stage": f"n{n}", "n": n, "reps": 9 if budget_only else reps(n), "latencies": lats,
                "cpu_pids": cpu_pids(proxy)}
        out = run_worker(spec)
        for lat, cases in out.items():
            k, kp, fl = (median(cases[c]["times"]) for c in ("keep", "keep_pattern", "floor"))
            entry = {
                "service": service, "n": n, "latency_ms": float(lat), "reps": spec["reps"],
                "keep_s": k, "keep_pattern_s": kp, "floor_s": fl,
                "keep_calls": cases["keep"]["calls"], "keep_pattern_calls": cases["keep_pattern"]["calls"],
                "floor_calls": cases["floor"]["calls"], "samples": {c: cases[c]["times"] for c in cases},
                "cpu_ms": {c: {proc: mean_ms(v) for proc, v in cases[c].get("cpu", {}).items()} for c in cases},
            }
            results[f"{service}-{n}-{lat}"] = entry
            if entry["cpu_ms"]["keep"]:
                cpu = entry["cpu_ms"]
                cpu_rows.append([
                    "Secrets Manager" if service == "sm" else "SSM", str(n), f"{float(lat):g}",
                    f"{cpu['keep']['moto']:.0f}", f"{cpu['keep_pattern']['moto']:.0f}", f"{cpu['floor']['moto']:.0f}",
                    f"{cpu['keep']['proxy']:.0f}", f"{cpu['keep_pattern']['proxy']:.0f}",
                    f"{1000 * k:.0f}", f"{cpu['keep']['moto'] / (1000 * k):.0%}",
                ])
            rows.append([
                "Secrets Manager" if service == "sm" else "SSM", str(n), f"{float(lat):g}",
                ms(k), ms(kp), ms(fl), f"{k / kp:.2f}x", f"{k / fl:.2f}x",
                calls_text(entry["keep_calls"]), str(total(entry["keep_pattern_calls"])),
                str(total(entry["floor_calls"])),
            ])
    report.data["listing"] = results
    report.table(
        "Export of N secrets (median ms; keep = driver + export service, in process)",
        ["vault", "N", "latency ms", "keep", "Keep's pattern", "floor", "keep/Keep", "keep/floor",
         "keep calls", "Keep calls", "floor calls"],
        rows,
    )
    if cpu_rows:
        report.table(
            "CPU time per export run (mean ms; moto = the emulator's process, proxy = the latency proxy's)",
            ["vault", "N", "latency ms", "moto, keep", "moto, Keep's pattern", "moto, floor", "proxy, keep",
             "proxy, Keep's pattern", "keep wall", "moto busy in keep's run"],
            cpu_rows,
        )
    sm = results.get("sm-400-50.0") or results.get(f"sm-{max(sizes)}-{max(latencies)}")
    if sm:
        n = sm["n"]
        limit = math.ceil(n / 20) + math.ceil(n / 100)
        ratio = sm["keep_s"] / sm["keep_pattern_s"]
        calls = total(sm["keep_calls"])
        report.budget("sm_export", ratio <= 0.15 and calls <= limit,
                      f"N={n} at {sm['latency_ms']:g} ms: {ratio:.2f}x, {calls} calls (limit {limit})")
    ssm = results.get(f"ssm-{ssm_budget_n}-50.0")
    if ssm:
        ratio = ssm["keep_s"] / ssm["keep_pattern_s"]
        report.budget("ssm_export", ratio <= 0.3,
                      f"N={ssm_budget_n} at 50 ms: {ratio:.2f}x, {total(ssm['keep_calls'])} calls")


def section_set(report: Report, proxy: Proxy, sizes: list[int], latency: float, reps: Callable[[int], int]) -> None:
    results: dict[str, Any] = {}
    rows: list[list[str]] = []
    worst = 0
    for service in ("sm", "ssm"):
        for n in sizes:
            log(f"set: {service} in a stage of {n} at {latency:g} ms")
            spec = {"task": "set", "service": service, "endpoint": proxy.url, "region": REGIONS[n],
                    "stage": f"n{n}", "n": n, "reps": reps(n), "latencies": [latency]}
            cases = run_worker(spec)[str(latency)]
            k, kp = median(cases["keep"]["times"]), median(cases["keep_pattern"]["times"])
            kc, kpc = cases["keep"]["calls"], cases["keep_pattern"]["calls"]
            if service == "sm":
                worst = max(worst, total(kc))
            expected = 2 * math.ceil(n / 20) + 3 if service == "sm" else 2
            results[f"{service}-{n}"] = {"service": service, "n": n, "latency_ms": latency, "keep_s": k,
                                         "keep_pattern_s": kp, "keep_calls": kc, "keep_pattern_calls": kpc,
                                         "keep_pattern_expected_calls": expected}
            rows.append(["Secrets Manager" if service == "sm" else "SSM", str(n), ms(k), ms(kp), f"{k / kp:.2f}x",
                         calls_text(kc), f"{total(kpc)} (formula {expected})"])
    report.data["set"] = results
    report.table(f"set of an existing key in a stage of N secrets ({latency:g} ms per request, median ms)",
                 ["vault", "N", "keep", "Keep's pattern", "keep/Keep", "keep calls", "Keep calls"], rows)
    report.budget("sm_set", worst <= 2, f"at most {worst} calls")


def section_cache(report: Report, proxy: Proxy, n: int, latency: float, reps: int) -> None:
    """The cached re-export of the Secrets Manager stage `n<n>` (seeded for the listing section
    in REGIONS[n]) against the same export uncached and Keep's pattern, in a worker process."""
    log(f"cache: Secrets Manager N={n} at {latency:g} ms, {reps} alternating runs")
    spec = {"task": "cache", "service": "sm", "endpoint": proxy.url, "region": REGIONS[n], "stage": f"n{n}",
            "n": n, "reps": reps, "latencies": [latency]}
    cases = run_worker(spec)[str(latency)]
    medians = {name: median(cases[name]["times"]) for name in cases}
    results: dict[str, Any] = {"n": n, "latency_ms": latency, "reps": reps}
    rows = []
    for name in ("cached", "uncached", "keep_pattern"):
        counted = cases[name]["calls"]
        reads = counted.get("BatchGetSecretValue", 0) + counted.get("GetSecretValue", 0)
        results[name] = {"median_s": medians[name], "calls": counted, "value_reads": reads,
                         "samples": cases[name]["times"]}
        rows.append([{"keep_pattern": "Keep's pattern"}.get(name, f"keep, {name}"), ms(medians[name]),
                     f"{medians[name] / medians['uncached']:.2f}x", f"{medians[name] / medians['keep_pattern']:.2f}x",
                     calls_text(counted), str(reads)])
    report.data["cache"] = results
    report.table(
        f"repeated export of {n} unchanged Secrets Manager secrets ({latency:g} ms per request, median ms)",
        ["case", "median ms", "/ uncached", "/ Keep's pattern", "calls", "value reads"],
        rows,
    )


def _counted(proxy: Proxy, func: Callable[[], float]) -> tuple[float, dict[str, int]]:
    proxy.reset_counts()
    seconds = func()
    return seconds, {k: v for k, v in proxy.counts.items() if not k.startswith("GET /__bench")}


def section_diff(report: Report, proxy: Proxy, root: Path, env: dict[str, str], n: int, latency: float,
                 reps: int) -> None:
    proxy.latency_ms = latency
    cases = {
        "diff 2 vaults x 3 stages": ["diff", "--vault", "ssm,sm", "--stage", "d1,d2,d3", "--format", "json"],
        "show ssm:d1": ["show", "--vault", "ssm", "--stage", "d1", "--format", "json"],
        "show sm:d1": ["show", "--vault", "sm", "--stage", "d1", "--format", "json"],
    }
    log(f"diff: {reps} alternating runs at {latency:g} ms, {n} secrets per cell")
    samples: dict[str, list[float]] = {name: [] for name in cases}
    moto_cpu: dict[str, list[float]] = {name: [] for name in cases}
    cli_cpu: dict[str, list[float]] = {name: [] for name in cases}
    calls: dict[str, dict[str, int]] = {}
    moto_pid = infra.MOTO_PIDS.get(proxy.upstream)
    for args in cases.values():  # warm the page cache
        infra.run_keep(args, root, env)
    for _ in range(reps):
        for name, args in cases.items():

            def once(args: list[str] = args) -> float:
                return infra.run_keep(args, root, env)[0]

            moto_before = infra.cpu_seconds(moto_pid) if moto_pid else 0.0
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            seconds, counted = _counted(proxy, once)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cli_cpu[name].append(after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime)
            if moto_pid:
                moto_cpu[name].append(infra.cpu_seconds(moto_pid) - moto_before)
            samples[name].append(seconds)
            calls[name] = counted
    medians = {name: median(values) for name, values in samples.items()}
    one_stage = max(medians["show ssm:d1"], medians["show sm:d1"])
    ratio = medians["diff 2 vaults x 3 stages"] / one_stage
    report.data["diff"] = {"n_per_cell": n, "latency_ms": latency, "samples": samples, "calls": calls,
                           "ratio_to_slowest_show": ratio,
                           "moto_cpu_ms": {name: mean_ms(v) for name, v in moto_cpu.items()},
                           "cli_cpu_ms": {name: mean_ms(v) for name, v in cli_cpu.items()}}
    report.table(
        f"diff vs show (keep CLI end to end, {n} secrets per cell, {latency:g} ms per request, median ms; "
        "CPU = mean ms)",
        ["command", "median ms", "ratio to slowest show", "calls", "keep's CPU", "moto's CPU"],
        [[name, ms(medians[name]), f"{medians[name] / one_stage:.2f}x", calls_text(calls[name]),
          f"{mean_ms(cli_cpu[name]):.0f}", f"{mean_ms(moto_cpu[name]):.0f}" if moto_cpu[name] else "-"]
         for name in cases],
    )
    report.budget("diff", ratio <= 1.3, f"{ratio:.2f}x the slowest single-stage show")


def section_bulk(report: Report, proxy: Proxy, limit: infra.WriteRateLimit, root: Path, env: dict[str, str],
                 n: int, latency: float, regions: dict[str, str]) -> None:
    """import into one SSM region and copy within another, at the same time: the throttle is
    per region (as AWS's is), so the two runs do not share a budget but do share the clock."""
    proxy.latency_ms = latency
    lines = "".join(f"{key_name(i)}={fake_value('imp', i)}\n" for i in range(n))
    (root / "bulk.env").write_text(lines)
    commands = {
        "import": ["import", "bulk.env", "--vault", "ssmimp", "--stage", "imp"],
        "copy": ["copy", "--only=*", "--from=ssmcopy:src", "--to=ssmcopy:dst"],
    }
    region_of = {"import": regions["ssmimp"], "copy": regions["ssmcopy"]}
    results: dict[str, Any] = {}
    rows: list[list[str]] = []
    limit.enabled = True
    try:
        for attempt in ("first run", "re-run"):
            log(f"bulk: {attempt} of import and copy of {n} secrets, writes throttled to 3/s per region")
            limit.reset()
            proxy.reset_counts()
            outcome: dict[str, Any] = {}

            def go(name: str, into: dict[str, Any]) -> None:
                start = time.perf_counter()
                proc = subprocess.run([*infra.KEEP, *commands[name]], cwd=root, env=env, capture_output=True,
                                      text=True)
                into[name] = (time.perf_counter() - start, proc.returncode, proc.stderr)

            threads = [threading.Thread(target=go, args=(name, outcome)) for name in commands]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            for name in commands:
                seconds, code, stderr = outcome[name]
                writes = sum(1 for r in proxy.requests if r.operation in WRITE_OPS and r.region == region_of[name])
                throttled = limit.throttled[region_of[name]]
                summary = stderr.strip().splitlines()[-1] if stderr.strip() else ""
                results[f"{name} {attempt}"] = {"seconds": seconds, "exit": code, "write_calls": writes,
                                                "throttled": throttled, "summary": summary}
                floor = n / limit.per_second if attempt == "first run" else 0.0
                rows.append([name, attempt, f"{seconds:.1f}", f"{floor:.1f}" if floor else "-", str(code),
                             str(writes), str(throttled), summary[:60]])
    finally:
        limit.enabled = False
    report.data["bulk"] = {"n": n, "latency_ms": latency, "writes_per_second": limit.per_second, **results}
    report.table(
        f"bulk import/copy of {n} secrets into SSM (writes throttled to 3/s, {latency:g} ms per request)",
        ["command", "run", "seconds", "floor s", "exit", "write calls (incl. throttled)", "throttled",
         "keep's summary"],
        rows,
    )
    ok = all(r["exit"] == 0 for r in results.values()) and all(
        results[f"{name} re-run"]["write_calls"] == 0 for name in commands)
    measured = ", ".join(f"{k}: exit {v['exit']}, {v['write_calls']} writes" for k, v in results.items())
    report.budget("bulk", ok, measured)


_RSS_LAUNCHER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
lines = sum(chunk.count(b"\\n") for chunk in iter(lambda: proc.stdout.read(65536), b""))
_, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - start
code = os.waitstatus_to_exitcode(status)
if code:
    sys.exit(f"exit {code}")
print(json.dumps({"maxrss_kib": usage.ru_maxrss, "seconds": seconds, "lines": lines}))
"""


def section_memory(report: Report, n: int, aws: tuple[str, str, int] | None = None) -> None:
    """Peak RSS of `keep export` of n secrets from the local vault (kernel's ru_maxrss) and,
    with `aws` = (moto URL, region, count), of the already seeded Secrets Manager stage
    `n<count>` in that region."""
    log(f"memory: seeding {n} secrets into a local vault")
    with infra.new_tmp() as tmp:
        home = Path(tmp) / "home"
        root = Path(tmp) / "proj"
        root.mkdir()
        env = infra.aws_env()
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
        subprocess.run([*infra.KEEP, "init", "--no-interaction", "--namespace", NAMESPACE], cwd=root, env=env,
                       check=True, capture_output=True)
        code = (
            "import sys\n"
            "from keep_secrets.project import Project\n"
            "from keep_secrets.vaults.base import open_vault\n"
            "vault = open_vault(Project.load(), 'local')\n"
            # seeding only: without fsync per commit, 5000 single-key transactions take
            # seconds instead of a minute; the file is the same
            "vault._db().execute('PRAGMA synchronous=OFF')\n"
            f"for i in range({n}):\n"
            "    vault.set('local', f'BENCH_KEY_{i:05d}', f'fake-local-value-{i:05d}-' + 'x' * 40)\n"
        )
        subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True)
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("keep --version", [*infra.KEEP, "--version"]),
            (f"keep export ({n}, local)", [*infra.KEEP, "export", "--stage", "local", "--vault", "local"]),
        ]
        if aws is not None:
            url, region, count = aws
            config = {"slug": "smbig", "driver": "secretsmanager", "name": "smbig", "scope": "", "region": region,
                      "endpoint_url": url}
            (root / ".keep" / "vaults" / "smbig.json").write_text(json.dumps(config))
            settings_path = root / ".keep" / "settings.json"
            settings = json.loads(settings_path.read_text())
            settings["stages" if "stages" in settings else "envs"].append(f"n{count}")
            settings_path.write_text(json.dumps(settings))
            cases.append((f"keep export ({count}, Secrets Manager)",
                          [*infra.KEEP, "export", "--stage", f"n{count}", "--vault", "smbig"]))
        rows = []
        results = {}
        for name, cmd in cases:
            # measured from a small launcher process: a child forked from this (large) process
            # would report this process's RSS as its own peak
            proc = subprocess.run([sys.executable, "-c", _RSS_LAUNCHER, *cmd], cwd=root, env=env,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"{name} failed: {proc.stderr[-500:]}")
            measured = json.loads(proc.stdout)
            peak_mb, seconds, lines = measured["maxrss_kib"] / 1024, measured["seconds"], measured["lines"]
            results[name] = {"peak_rss_mb": peak_mb, "seconds": seconds, "lines": lines}
            rows.append([name, f"{peak_mb:.1f}", f"{seconds * 1000:.0f}", str(lines)])
    report.data["memory"] = results
    report.table("peak memory (RSS)", ["command", "peak RSS MB", "wall ms", "stdout lines"], rows)


# -- main ----------------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    import keep_secrets

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"nproc": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_start": load, "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            # a wheel installs under site-packages; a checkout or editable install does not
            "keep_secrets_from": str(Path(keep_secrets.__file__).parent), "executable": sys.executable}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="keep's benchmark suite")
    parser.add_argument("--quick", action="store_true", help="small sizes and few runs (smoke test)")
    parser.add_argument("--only", default="", help=f"comma-separated sections ({', '.join(SECTIONS)})")
    parser.add_argument("--json", dest="json_path", help="where to write the JSON (default bench/results/)")
    args = parser.parse_args(argv)
    chosen = [s for s in args.only.split(",") if s] or list(SECTIONS)
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")

    quick = args.quick
    sizes = [20, 60] if quick else [100, 400, 1000]
    ssm_budget_n = 60 if quick else 200
    latencies = [0.0, 20.0, 50.0]
    reps: Callable[[int], int] = (lambda n: 1) if quick else (lambda n: 5 if n <= 400 else 1)
    diff_n, bulk_n, memory_n = (20, 12, 300) if quick else (100, 200, 5000)
    cache_n = 60 if quick else 400
    bulk_regions = {"ssmimp": "us-east-2", "ssmcopy": "ca-central-1"}

    report = Report()
    report.data["machine"] = machine()
    report.data["quick"] = quick
    began = time.perf_counter()
    log(f"machine: {report.data['machine']}")
    with infra.moto_server() as moto_url:
        limit = infra.WriteRateLimit(per_second=3.0, burst=3.0)
        proxy = Proxy(moto_url)
        proxy.hooks = [infra.control_hook(proxy), limit]
        with proxy, infra.new_tmp() as tmp:
            if "startup" in chosen:
                section_startup(report, moto_url, 5 if quick else 11)
            jobs: list[tuple[str, str, int, str]] = []
            if {"listing", "set"} & set(chosen):
                for n in sorted({*sizes, ssm_budget_n}):
                    if n in sizes:
                        jobs.append(("sm", f"n{n}", n, REGIONS[n]))
                    jobs.append(("ssm", f"n{n}", n, REGIONS[n]))
            if "cache" in chosen and ("sm", f"n{cache_n}", cache_n, REGIONS[cache_n]) not in jobs:
                jobs.append(("sm", f"n{cache_n}", cache_n, REGIONS[cache_n]))
            if "diff" in chosen:
                for stage in ("d1", "d2", "d3"):
                    jobs += [("sm", stage, diff_n, infra.REGION), ("ssm", stage, diff_n, infra.REGION)]
            if "bulk" in chosen:
                jobs.append(("ssm", "src", bulk_n, bulk_regions["ssmcopy"]))
            if jobs:
                log(f"seeding {sum(j[2] for j in jobs)} secrets into moto")
                seed(moto_url, jobs)
            if "listing" in chosen:
                section_listing(report, proxy, sizes, latencies, reps, ssm_budget_n)
            if "set" in chosen:
                section_set(report, proxy, sizes, 20.0, reps)
            if "cache" in chosen:
                section_cache(report, proxy, cache_n, 50.0, 3 if quick else 7)
            if {"diff", "bulk"} & set(chosen):
                root = Path(tmp) / "proj"
                env = infra.make_project(
                    root, ["d1", "d2", "d3", "imp", "src", "dst"], proxy.url, Path(tmp) / "home",
                    {slug: ("ssm", region) for slug, region in bulk_regions.items()},
                )
                if "diff" in chosen:
                    section_diff(report, proxy, root, env, diff_n, 20.0, 3 if quick else 9)
                if "bulk" in chosen:
                    section_bulk(report, proxy, limit, root, env, bulk_n, 20.0, bulk_regions)
            if "memory" in chosen:
                seeded = {"listing", "set"} & set(chosen)
                section_memory(report, memory_n, (moto_url, REGIONS[max(sizes)], max(sizes)) if seeded else None)

    elapsed = time.perf_counter() - began
    report.data["elapsed_s"] = elapsed
    report.data["load_average_at_end"] = os.getloadavg() if hasattr(os, "getloadavg") else None
    report.data["budgets"] = report.budgets
    rows = [[name, b["budget"], b["measured"], "ok" if b["ok"] else "OVER"] for name, b in report.budgets.items()]
    if rows:
        report.table("budgets (SPEC §12)", ["budget", "rule", "measured", "result"], rows)
    print(f"total bench time: {elapsed:.0f} s on {report.data['machine']['nproc']} CPUs, "
          f"Python {report.data['machine']['python']}, load average {report.data['machine']['load_average_at_start']} "
          f"at the start, {report.data['load_average_at_end']} at the end; keep from "
          f"{report.data['machine']['keep_secrets_from']}")
    report.data["tables"] = report.tables
    if args.json_path:
        out = Path(args.json_path)
    else:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(report.data, indent=2, default=str))
    print(f"results: {out}")
    return 0 if all(b["ok"] for b in report.budgets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
