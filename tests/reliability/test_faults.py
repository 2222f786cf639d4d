"""Retries and deadlines, through the fault-injecting proxy (tests/aws/proxy.py) in front of
moto or against a local server that accepts connections and never answers; `keep` runs as a
real subprocess."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.aws.proxy import Proxy, ProxyRequest, ProxyResponse
from tests.conftest import KeepRunner

pytestmark = pytest.mark.aws

REGION = "us-east-1"
WRITES = {"CreateSecret", "PutSecretValue", "PutParameter"}
#: the back-off delays x 0.01 (KEEP_AWS_BACKOFF_SCALE): the attempts, their order and the retry
#: decisions are the product's; only the sleeps between them are shorter
FAST_BACKOFF = {"KEEP_AWS_BACKOFF_SCALE": "0.01"}


def add_vault(project: Path, slug: str, driver: str) -> None:
    data = {"slug": slug, "driver": driver, "name": f"Fake {driver}", "scope": "", "region": REGION}
    (project / ".keep" / "vaults" / f"{slug}.json").write_text(json.dumps(data, indent=4) + "\n")


def env_file(count: int, prefix: str = "FAULT_KEY") -> str:
    return "".join(f"{prefix}_{i:03d}=fake-value-{i}\n" for i in range(count))


@pytest.mark.parametrize("driver", ["secretsmanager", "ssm"])
def test_every_write_gets_its_full_attempts(kp: KeepRunner, counted: Proxy, driver: str) -> None:
    """botocore's retry quota (500 tokens per client, 5 per retry) ran dry after ~25 such keys:
    from then on every call got one attempt. Each write here fails 5 times before it works."""
    add_vault(kp.cwd, "aws", driver)
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def flaky_writes(request: ProxyRequest) -> ProxyResponse | None:
        if request.operation not in WRITES or not isinstance(request.json, dict):
            return None
        name = str(request.json.get("Name") or request.json.get("SecretId"))
        with lock:
            seen[name] += 1
            if seen[name] > 5:
                return None
        return ProxyResponse.aws_error(request, 500, "InternalFailure", "injected server error")

    counted.hooks.append(flaky_writes)
    result = kp.process()("import", "-", "--vault", "aws", "--stage", "staging", input=env_file(30),
                env={"AWS_ENDPOINT_URL": counted.url, "KEEP_WRITE_INTERVAL": "0", **FAST_BACKOFF}, timeout=300)
    assert result.code == 0, result.stderr[-2000:]
    assert "30 created" in result.stderr and "failed" not in result.stderr
    assert len(seen) == 30 and set(seen.values()) == {6}


def test_default_attempts_and_timeouts_are_documented() -> None:
    from keep_secrets.vaults import aws

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert (aws.max_attempts(), aws.connect_timeout(), aws.read_timeout(), aws.deadline()) == (6, 5, 10, 30)
    assert aws.backoff_scale() == 1
    for name in ("KEEP_AWS_MAX_ATTEMPTS", "KEEP_AWS_CONNECT_TIMEOUT", "KEEP_AWS_READ_TIMEOUT", "KEEP_AWS_DEADLINE"):
        assert name in readme


@dataclass
class Silent:
    url: str
    #: time.monotonic() of each connection accepted, in order
    accepted: list[float] = field(default_factory=list)

    def since_first_call(self) -> float:
        """Seconds from the first connection keep made to now: what keep's deadline bounds,
        without the process's start-up (imports, the project, a vault's settings), which a busy
        machine stretches by seconds."""
        assert self.accepted, "keep never connected"
        return time.monotonic() - self.accepted[0]


@pytest.fixture
def silent_server() -> Iterator[Silent]:
    """A local HTTP endpoint that accepts every connection, reads, and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.2)
    stop = threading.Event()
    held: list[socket.socket] = []
    silent = Silent(f"http://127.0.0.1:{server.getsockname()[1]}")

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            silent.accepted.append(time.monotonic())
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield silent
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()


@pytest.mark.parametrize("driver", ["secretsmanager", "ssm"])
def test_silent_endpoint_is_bounded_by_the_deadline(kp: KeepRunner, silent_server: Silent, driver: str) -> None:
    """A real `keep get` against an endpoint that never answers ends at the deadline: 2 attempts of
    1 s here (KEEP_AWS_READ_TIMEOUT=1, KEEP_AWS_DEADLINE=3) instead of 6. With the defaults the same
    rule ends it after ~20 s (was 181 s: 6 attempts x 30 s read timeout); that arithmetic, on the
    defaults keep's clients really get, is test_defaults_end_a_silent_call_after_two_attempts."""
    add_vault(kp.cwd, "aws", driver)
    result = kp.process()("get", "SOME_KEY", "--vault", "aws", "--stage", "staging", timeout=60,
                env={"AWS_ENDPOINT_URL": silent_server.url, "KEEP_AWS_DEADLINE": "3", "KEEP_AWS_READ_TIMEOUT": "1",
                     "KEEP_AWS_WAIT_NOTICE": "0.5"})
    elapsed = silent_server.since_first_call()
    assert result.code == 1, result.stderr
    # ~2 s of attempts, then the error and the exit; the attempt count below is what tells the
    # deadline from the 6 attempts there would be without it
    assert elapsed < 8, elapsed
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("keep: notice: waiting for " + silent_server.url), result.stderr
    assert "KEEP_AWS_DEADLINE" in lines[0] and "Traceback" not in result.stderr
    assert "Cannot reach" in result.stderr and "ReadTimeoutError" in result.stderr
    assert "gave up after 2 attempts (deadline 3 s" in result.stderr


@pytest.mark.parametrize("driver", ["secretsmanager", "ssm"])
def test_defaults_end_a_silent_call_after_two_attempts(driver: str) -> None:
    """The defaults as a client of each driver gets them (no KEEP_* set: the autouse fixture clears
    them), and what keep's retry handler makes of them for an endpoint that never answers: the
    first read timeout (10 s) is retried, since 10 + 10 s fit in the 30 s deadline; the second is
    not, since a third attempt could end past it. So ~20 s in all, instead of 6 x 10 s."""
    from botocore.exceptions import ReadTimeoutError

    from keep_secrets.project import VaultConfig
    from keep_secrets.vaults.secretsmanager import SecretsManagerVault
    from keep_secrets.vaults.ssm import SsmVault

    closed = "http://127.0.0.1:9"  # nothing is sent: the test only asks the handler
    cls = SecretsManagerVault if driver == "secretsmanager" else SsmVault
    vault = cls(VaultConfig("aws", driver, "AWS", options={"region": REGION, "endpoint_url": closed}), "myapp", None)
    try:
        client = vault.client()
        handler = client.meta.keep_retry_handler
        assert (handler.deadline, handler.read_timeout, handler.backoff_scale) == (30, 10, 1)
        assert (client.meta.config.read_timeout, client.meta.config.connect_timeout) == (10, 5)
        name = "GetSecretValue" if driver == "secretsmanager" else "GetParameter"
        operation = client.meta.service_model.operation_model(name)

        def after_timeout(attempt: int, elapsed: float) -> float | None:
            wait: float | None = handler.needs_retry(
                attempts=attempt, operation=operation, response=None,
                caught_exception=ReadTimeoutError(endpoint_url=closed),
                request_dict={"context": {"keep_started": time.monotonic() - elapsed}},
            )
            return wait

        first = after_timeout(1, 10.05)
        assert first is not None and 0 <= first <= 0.05  # the error back-off base, unscaled
        assert after_timeout(2, 20.1) is None
        assert after_timeout(5, 1.0) is not None and after_timeout(6, 1.0) is None  # 6 attempts
    finally:
        vault.close()


def test_deadline_and_notice_delay_are_configurable(kp: KeepRunner, silent_server: Silent) -> None:
    add_vault(kp.cwd, "aws", "secretsmanager")
    result = kp.process()("set", "SOME_KEY", "fake-value", "--vault", "aws", "--stage", "staging", timeout=60,
                env={"AWS_ENDPOINT_URL": silent_server.url, "KEEP_AWS_DEADLINE": "3", "KEEP_AWS_READ_TIMEOUT": "1",
                     "KEEP_AWS_WAIT_NOTICE": "0.5"})
    elapsed = silent_server.since_first_call()  # was timed from the process's start (5.5 s of 8 here, loaded)
    assert result.code == 1 and elapsed < 8, (elapsed, result.stderr)
    assert result.stderr.count("keep: notice: waiting for") == 1
    assert "gave up after 2 attempts (deadline 3 s" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("driver, keys", [("secretsmanager", 200), ("ssm", 50)])
def test_bulk_import_survives_throttling_and_5xx(kp: KeepRunner, counted: Proxy, driver: str, keys: int) -> None:
    """40% of all calls fail at random (4% throttling, 36% HTTP 500), through keep's retry handler and
    botocore's adaptive rate limiter: every key is created, none fails. The mix is mostly 5xx because
    each throttle costs ~2 s of real waiting in the adaptive limiter (it drops to its 0.5 calls/s
    floor and climbs back slowly), which is botocore's doing, not keep's; with 30% throttling this
    test took 140 s. The guard against botocore's retry quota running dry is
    test_every_write_gets_its_full_attempts (deterministic): with botocore's own retry handler put
    back, that test fails and this random mix passes, at the old 30%/10% too (checked 2026-12-01)."""
    add_vault(kp.cwd, "aws", driver)
    counted.throttle_rate = 0.04
    counted.fail_5xx_rate = 0.36
    start = time.monotonic()
    result = kp.process()("import", "-", "--vault", "aws", "--stage", "staging", input=env_file(keys),
                env={"AWS_ENDPOINT_URL": counted.url, "KEEP_WRITE_INTERVAL": "0", **FAST_BACKOFF}, timeout=900)
    elapsed = time.monotonic() - start
    print(f"{driver}: {elapsed:.1f}s injected={dict(counted.injected)} counts={dict(counted.counts)}")
    assert result.code == 0, result.stderr[-3000:]
    assert f"{keys} created" in result.stderr and "failed" not in result.stderr
    assert counted.injected["throttle"] >= 1 and counted.injected["5xx"] > keys / 3
