"""Benchmark plumbing: a moto server in its own process, the counting/latency proxy of
tests/aws/proxy.py in this process, a write-rate limiter hook, seeding straight into moto,
and a throw-away keep project wired to the proxy.

Why moto runs in a separate process: its request handling is CPU work, and sharing one GIL
with the measured client would make concurrency look worse (or better) than it is. The
measured client runs in yet another process (bench/worker.py) for the same reason; only the
proxy (which mostly sleeps) lives here, so its call counts are read directly.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # tests/aws/proxy.py is imported as a plain module path
    sys.path.insert(0, str(ROOT))

from tests.aws.proxy import Proxy, ProxyRequest, ProxyResponse  # noqa: E402

REGION = "us-east-1"
NAMESPACE = "bench"
KEEP = [sys.executable, "-c", "import sys; from keep_secrets.cli import main; sys.exit(main())"]
WRITE_OPS = frozenset({"PutParameter", "PutSecretValue", "CreateSecret", "TagResource", "UpdateSecret"})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


#: the process id of each running moto server, by URL (for its CPU time: :func:`cpu_seconds`)
MOTO_PIDS: dict[str, int] = {}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far, all its threads (dead ones too), from
    /proc (clock ticks, 10 ms on Linux: compare sums or means over several runs); 0.0 where
    /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server in a child process; yields its URL and stops it on exit."""
    port = free_port()
    code = (
        "import time, sys\n"
        "from moto.server import ThreadedMotoServer\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from tests.aws.moto_gaps import honour_describe_parameters_max_results\n"
        "honour_describe_parameters_max_results()\n"
        f"s = ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False)\n"
        "s.start()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
        "s.stop()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if b"ready" not in line:
            raise RuntimeError("moto server did not start")
        url = f"http://127.0.0.1:{port}"
        MOTO_PIDS[url] = proc.pid
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        MOTO_PIDS.pop(f"http://127.0.0.1:{port}", None)
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def control_hook(proxy: Proxy) -> Any:
    """Proxy hook for the bench's own control calls: `GET /__bench/latency?ms=20` sets the
    injected latency, so one worker process can measure several latencies."""

    def hook(request: ProxyRequest) -> ProxyResponse | None:
        if not request.path.startswith("/__bench/latency"):
            return None
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
        proxy.latency_ms = float(query["ms"][0])
        return ProxyResponse(200, b"ok", {"Content-Type": "text/plain"})

    return hook


def set_latency(proxy_url: str, ms: float) -> None:
    urllib.request.urlopen(f"{proxy_url}/__bench/latency?ms={ms:g}", timeout=30).read()


class WriteRateLimit:
    """Proxy hook: a token bucket over write calls per region (default 3 per second, burst 3),
    answering the excess with ThrottlingException as SSM PutParameter does at its default
    throughput. Reads pass untouched. `throttled` counts the refusals per region."""

    def __init__(self, per_second: float = 3.0, burst: float = 3.0) -> None:
        self.per_second = per_second
        self.burst = burst
        self.enabled = False
        self.throttled: Counter[str] = Counter()
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self.throttled.clear()

    def __call__(self, request: ProxyRequest) -> ProxyResponse | None:
        if not self.enabled or request.operation not in WRITE_OPS:
            return None
        region = request.region or "?"
        with self._lock:
            now = time.monotonic()
            tokens, stamp = self._buckets.get(region, (self.burst, now))
            tokens = min(self.burst, tokens + (now - stamp) * self.per_second)
            if tokens >= 1:
                self._buckets[region] = (tokens - 1, now)
                return None
            self._buckets[region] = (tokens, now)
            self.throttled[region] += 1
        return ProxyResponse.aws_error(request, 400, "ThrottlingException", "Rate exceeded")


def aws_env(base: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in (base or dict(os.environ)).items()
        if not k.startswith(("AWS_", "KEEP_")) and k not in ("NO_COLOR",)
    }
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def boto_client(service: str, endpoint: str, region: str = REGION) -> Any:
    import boto3
    from botocore.config import Config

    from keep_secrets.vaults.aws import aws_timestamp

    # Keep (PHP) uses the SDK defaults: legacy retries, a plain client. Its responses are parsed
    # with keep's timestamp parser, as keep's own client's are: botocore's default (a dateutil
    # tzlocal() per value) costs ~60 us a timestamp against ~7 us, client CPU (~0.1 s over
    # Keep's pattern of 400 Secrets Manager secrets) that has nothing to do with the access
    # pattern being compared
    session: Any = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region
    )
    factory = session._session.get_component("response_parser_factory")
    factory.set_parser_defaults(timestamp_parser=aws_timestamp)
    return session.client(service, endpoint_url=endpoint, config=Config(max_pool_connections=32))


def fake_value(stage: str, i: int) -> str:
    return f"fake-{stage}-value-{i:05d}"


def key_name(i: int) -> str:
    return f"BENCH_KEY_{i:05d}"


def seed_sm(upstream: str, stage: str, count: int, region: str = REGION, slug: str = "sm") -> None:
    """Create `count` secrets of `stage` straight in moto, tagged as keep tags them."""
    client = boto_client("secretsmanager", upstream, region)
    tags = [
        {"Key": "ManagedBy", "Value": "Keep"},
        {"Key": "Namespace", "Value": NAMESPACE},
        {"Key": "Stage", "Value": stage},
        {"Key": "VaultSlug", "Value": slug},
    ]

    def create(i: int) -> None:
        client.create_secret(Name=f"{NAMESPACE}/{stage}/{key_name(i)}", SecretString=fake_value(stage, i), Tags=tags)

    _parallel(create, range(count))


def seed_ssm(upstream: str, stage: str, count: int, region: str = REGION) -> None:
    client = boto_client("ssm", upstream, region)

    def put(i: int) -> None:
        client.put_parameter(
            Name=f"/{NAMESPACE}/{stage}/{key_name(i)}", Value=fake_value(stage, i), Type="SecureString", Overwrite=True
        )

    _parallel(put, range(count))


def _parallel(func: Any, items: Iterable[int]) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in pool.map(func, items):
            pass


def make_project(
    root: Path, stages: list[str], proxy_url: str, home: Path, extra_vaults: dict[str, tuple[str, str]] | None = None
) -> dict[str, str]:
    """A keep project with an `ssm` and an `sm` vault (us-east-1) behind the proxy, plus
    `extra_vaults` {slug: (driver, region)}; returns the env to run keep with (isolated HOME)."""
    env = aws_env()
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local" / "share"))
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [*KEEP, "init", "--no-interaction", "--name", "Bench", "--namespace", NAMESPACE],
        cwd=root, env=env, check=True, capture_output=True,
    )
    settings_path = root / ".keep" / "settings.json"
    settings = json.loads(settings_path.read_text())
    key = "stages" if "stages" in settings else "envs"
    for stage in stages:
        if stage not in settings[key]:
            settings[key].append(stage)
    settings_path.write_text(json.dumps(settings, indent=2))
    vaults = {"ssm": ("ssm", REGION), "sm": ("secretsmanager", REGION), **(extra_vaults or {})}
    for slug, (driver, region) in vaults.items():
        config = {"slug": slug, "driver": driver, "name": slug, "scope": "", "region": region,
                  "endpoint_url": proxy_url}
        (root / ".keep" / "vaults" / f"{slug}.json").write_text(json.dumps(config))
    return env


def run_keep(args: list[str], cwd: Path, env: dict[str, str], stdin: bytes | None = None) -> tuple[float, str, str]:
    """Run keep; (seconds, stdout, stderr). A failure stops the bench with keep's message."""
    start = time.perf_counter()
    proc = subprocess.run([*KEEP, *args], cwd=cwd, env=env, input=stdin, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"keep {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()[-600:]}")
    return elapsed, proc.stdout.decode(), proc.stderr.decode()


def new_tmp() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="keep-bench-")


__all__ = ["Proxy", "ProxyRequest", "ProxyResponse"]
