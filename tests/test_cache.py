"""The encrypted incremental cache and its offline fallback (SPEC §13), through the `keep` CLI
against moto behind the counting proxy (tests/aws/proxy.py): calls are counted on the wire.

* 200 cached Secrets Manager secrets: a second export is ceil(N/100) ListSecrets calls and no
  value read; one value changed and one secret deleted outside keep (boto3) show up with <= 1
  value read.
* SSM, 100 parameters, one changed outside keep: at most one GetParameters call.
* Endpoint down (proxy answering 503, or a closed local port): export and run are served from
  the cache with one notice; --no-cache exits 1; --offline makes zero calls; an entry past
  cache_max_stale is not served.
* A read denied by policy (403 AccessDenied): exit 4 and nothing from the cache.
* No value in plaintext under HOME or the project; cache files 0600, directory 0700.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import stat
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from keep_secrets.model import NotFound, Secret, UsageError, Version, WriteResult
from keep_secrets.project import Project, VaultConfig
from keep_secrets.vaults import registry
from keep_secrets.vaults.base import Vault, open_vault
from keep_secrets.vaults.cache import CachedVault, NotCached
from keep_secrets.vaults.registry import Capabilities, Driver
from tests.aws.proxy import Proxy, ProxyRequest, ProxyResponse

from .conftest import FAKE_REGION, KeepRunner
from .test_call_budgets import seed_sm, seed_ssm, values
from .test_no_plaintext import _assert_nowhere

pytestmark = pytest.mark.aws

VALUE_READS = ("GetSecretValue", "BatchGetSecretValue", "GetParameter", "GetParameters", "GetParametersByPath")


def _vault(kp: KeepRunner, slug: str, driver: str, endpoint: str, **extra: Any) -> None:
    config = {"slug": slug, "driver": driver, "name": slug, "scope": "", "region": FAKE_REGION,
              "endpoint_url": endpoint, "cache": "on", **extra}
    (kp.cwd / ".keep" / "vaults" / f"{slug}.json").write_text(json.dumps(config))


@pytest.fixture
def aws(kp: KeepRunner, counted: Proxy) -> KeepRunner:
    """The `kp` project with cached `ssm` and `sm` vaults behind the counting proxy; one attempt
    per call so an unreachable endpoint fails at once."""
    _vault(kp, "ssm", "ssm", counted.url)
    _vault(kp, "sm", "secretsmanager", counted.url)
    kp.env["KEEP_WRITE_INTERVAL"] = "0"
    kp.env["KEEP_AWS_MAX_ATTEMPTS"] = "1"
    return kp


def exported(result: Any) -> dict[str, str]:
    data = result.json()
    assert isinstance(data, dict)
    return {str(k): str(v) for k, v in data.items()}


def export(kp: KeepRunner, vault: str, stage: str, *flags: str) -> Any:
    return kp("export", "--vault", vault, "--stage", stage, "--format", "json", *flags)


def reads(proxy: Proxy) -> int:
    return sum(proxy.counts.get(op, 0) for op in VALUE_READS)


def sm_client(moto: str) -> Any:
    return boto3.client("secretsmanager", region_name=FAKE_REGION, endpoint_url=moto)


def cache_files(home: Path) -> list[Path]:
    return sorted((home / ".cache" / "keep").glob("*.db"))


def age_cache(home: Path, seconds: float) -> None:
    """Make every cached stage and entry `seconds` older (as if refreshed that long ago)."""
    for path in cache_files(home):
        conn = sqlite3.connect(path)
        with conn:
            conn.execute("UPDATE stages SET refreshed = refreshed - ?", (seconds,))
            conn.execute("UPDATE entries SET fetched = fetched - ?", (seconds,))
        conn.close()


# -- refresh costs only the listing ------------------------------------------------------------

def test_sm_200_second_export_is_listing_only_and_changes_cost_one_read(
    aws: KeepRunner, counted: Proxy, moto: str
) -> None:
    expected = values("staging", 200)
    seed_sm(moto, "staging", expected)
    first = export(aws, "sm", "staging")
    assert first.code == 0, first.stderr
    assert exported(first) == expected

    counted.reset_counts()
    second = export(aws, "sm", "staging")
    assert second.code == 0, second.stderr
    assert exported(second) == expected
    assert counted.total <= math.ceil(200 / 100)
    assert dict(counted.counts) == {"ListSecrets": 2}
    assert "served from the cache" not in second.stderr

    client = sm_client(moto)
    client.put_secret_value(SecretId="myapp/staging/FAKE_KEY_010", SecretString="fake-changed-outside-keep")
    client.delete_secret(SecretId="myapp/staging/FAKE_KEY_020", ForceDeleteWithoutRecovery=True)
    counted.reset_counts()
    third = export(aws, "sm", "staging")
    assert third.code == 0, third.stderr
    want = dict(expected, FAKE_KEY_010="fake-changed-outside-keep")
    del want["FAKE_KEY_020"]
    assert exported(third) == want
    assert reads(counted) <= 1
    assert counted.counts["ListSecrets"] == 2
    batch = [r.json for r in counted.requests if r.operation == "BatchGetSecretValue"]
    assert len(batch) == 1 and len(batch[0]["SecretIdList"]) == 1


def test_ssm_100_one_changed_outside_keep_is_one_value_call(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    expected = values("staging", 100)
    seed_ssm(moto, "staging", expected)
    assert exported(export(aws, "ssm", "staging")) == expected
    counted.reset_counts()
    assert exported(export(aws, "ssm", "staging")) == expected
    assert dict(counted.counts) == {"DescribeParameters": 2}

    boto3.client("ssm", region_name=FAKE_REGION, endpoint_url=moto).put_parameter(
        Name="/myapp/staging/FAKE_KEY_042", Value="fake-ssm-changed", Type="SecureString", Overwrite=True)
    counted.reset_counts()
    result = export(aws, "ssm", "staging")
    assert exported(result) == dict(expected, FAKE_KEY_042="fake-ssm-changed")
    assert reads(counted) <= 1
    assert counted.counts["DescribeParameters"] == math.ceil(100 / 50)


def test_writes_through_keep_update_the_cache(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    seed_sm(moto, "staging", values("staging", 5))
    export(aws, "sm", "staging")
    aws.ok("set", "FAKE_KEY_001", "fake-set-through-keep", "--vault", "sm", "--stage", "staging")
    aws.ok("set", "FAKE_NEW", "fake-new-through-keep", "--vault", "sm", "--stage", "staging")
    aws.ok("delete", "FAKE_KEY_002", "--force", "--purge", "--vault", "sm", "--stage", "staging")
    counted.reset_counts()
    result = export(aws, "sm", "staging")
    got = exported(result)
    assert got["FAKE_KEY_001"] == "fake-set-through-keep"
    assert got["FAKE_NEW"] == "fake-new-through-keep"
    assert "FAKE_KEY_002" not in got
    assert reads(counted) == 0  # what keep wrote is cached at the version AWS returned
    # offline, a write makes no call and says so
    counted.reset_counts()
    refused = aws("set", "FAKE_KEY_001", "fake-offline", "--vault", "sm", "--stage", "staging", "--offline")
    assert refused.code == 1 and "--offline" in refused.stderr
    assert counted.total == 0


def test_deleted_keys_are_listed_through_the_cache_and_never_offline(aws: KeepRunner, counted: Proxy,
                                                                     moto: str) -> None:
    seed_sm(moto, "staging", values("staging", 3))
    export(aws, "sm", "staging")
    aws.ok("delete", "FAKE_KEY_002", "--force", "--vault", "sm", "--stage", "staging")
    counted.reset_counts()
    listed = aws.ok("restore", "--list", "--vault", "sm", "--stage", "staging", "--format", "json")
    assert [d["key"] for d in json.loads(listed.stdout)] == ["FAKE_KEY_002"]
    assert dict(counted.counts) == {"ListSecrets": 1}
    counted.reset_counts()
    refused = aws("restore", "--list", "--vault", "sm", "--stage", "staging", "--offline")
    assert refused.code == 1 and "Offline: the deleted secrets" in refused.stderr, refused.stderr
    assert counted.total == 0


def test_get_with_the_cache_is_one_value_read(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    seed_sm(moto, "staging", values("staging", 150))
    counted.reset_counts()
    result = aws.ok("get", "FAKE_KEY_003", "--vault", "sm", "--stage", "staging", "--format", "raw")
    assert result.stdout == "fake-staging-value-003\n"
    assert dict(counted.counts) == {"GetSecretValue": 1}
    # and what it read is served offline
    counted.reset_counts()
    offline = aws.ok("get", "FAKE_KEY_003", "--vault", "sm", "--stage", "staging", "--format", "raw", "--offline")
    assert offline.stdout == "fake-staging-value-003\n"
    assert counted.total == 0


# -- offline ----------------------------------------------------------------------------------------

RUN_PRINT = "import os, sys; sys.stdout.write(os.environ.get('FAKE_KEY_001', 'unset'))"


def test_endpoint_down_serves_the_cache_with_one_notice(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    expected = values("staging", 30)
    seed_sm(moto, "staging", expected)
    assert exported(export(aws, "sm", "staging")) == expected

    counted.fail_regions = {FAKE_REGION}  # every request answered 503
    served = export(aws, "sm", "staging")
    assert served.code == 0, served.stderr
    assert exported(served) == expected
    lines = [line for line in served.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, served.stderr
    assert "served from the cache" in lines[0] and "old: AWS Secrets Manager unreachable" in lines[0]

    ran = aws("run", "--vault", "sm", "--stage", "staging", "--", sys.executable, "-c", RUN_PRINT)
    assert ran.code == 0, ran.stderr
    assert ran.stdout == expected["FAKE_KEY_001"]
    assert "served from the cache" in ran.stderr

    strict = export(aws, "sm", "staging", "--no-cache")
    assert strict.code == 1 and strict.stdout == ""
    aws.env["KEEP_NO_CACHE"] = "1"
    assert export(aws, "sm", "staging").code == 1
    del aws.env["KEEP_NO_CACHE"]

    counted.reset_counts()
    offline = export(aws, "sm", "staging", "--offline")
    assert offline.code == 0 and exported(offline) == expected
    assert counted.total == 0
    missing = export(aws, "sm", "production", "--offline")
    assert missing.code == 1 and "sm:production is not cached" in missing.stderr
    assert counted.total == 0


def test_closed_port_serves_the_cache(aws: KeepRunner, counted: Proxy, moto: str, closed_port: int) -> None:
    seed_ssm(moto, "staging", values("staging", 12))
    assert export(aws, "ssm", "staging").code == 0
    closed = closed_port  # refuses connections for the whole test (no other worker's server on it)
    config_path = aws.cwd / ".keep" / "vaults" / "ssm.json"
    config = json.loads(config_path.read_text())
    config["endpoint_url"] = f"http://127.0.0.1:{closed}"
    config_path.write_text(json.dumps(config))
    # a new endpoint is a new cache location: nothing cached for it, so exit 1 as without a cache
    assert export(aws, "ssm", "staging").code == 1
    config["endpoint_url"] = counted.url
    config_path.write_text(json.dumps(config))
    counted.fail_mode = "reset"
    counted.fail_regions = {FAKE_REGION}
    served = export(aws, "ssm", "staging")
    assert served.code == 0, served.stderr
    assert exported(served) == values("staging", 12)
    assert "served from the cache" in served.stderr


def test_cache_older_than_max_stale_is_not_served(aws: KeepRunner, counted: Proxy, moto: str, home: Path) -> None:
    seed_sm(moto, "staging", values("staging", 5))
    assert export(aws, "sm", "staging").code == 0
    age_cache(home, 3 * 3600)
    counted.fail_regions = {FAKE_REGION}
    served = export(aws, "sm", "staging")
    assert served.code == 0 and "3 h old" in served.stderr
    age_cache(home, 22 * 3600)  # now 25 h old, past the default 24h
    stale = export(aws, "sm", "staging")
    assert stale.code == 1 and stale.stdout == ""
    assert "older than cache_max_stale" in stale.stderr
    counted.reset_counts()
    offline = export(aws, "sm", "staging", "--offline")
    assert offline.code == 1 and counted.total == 0
    aws.ok("vault:edit", "sm", "--cache-max-stale", "2d", "-n")
    assert export(aws, "sm", "staging").code == 0


def test_access_denied_is_never_answered_from_the_cache(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    seed_sm(moto, "staging", values("staging", 5))
    seed_ssm(moto, "staging", values("staging", 5))
    assert export(aws, "sm", "staging").code == 0
    assert export(aws, "ssm", "staging").code == 0

    def deny(request: ProxyRequest) -> ProxyResponse | None:
        return ProxyResponse.aws_error(request, 403, "AccessDeniedException", "User is not authorized (fake)")

    counted.hooks.append(deny)
    for vault in ("sm", "ssm"):
        denied = export(aws, vault, "staging")
        assert denied.code == 4, denied.stderr
        assert denied.stdout == "" and "served from the cache" not in denied.stderr
        single = aws("get", "FAKE_KEY_001", "--vault", vault, "--stage", "staging")
        assert single.code == 4 and "fake-staging" not in single.stdout
        # the revoked stage is forgotten: not even --offline serves it afterwards
        offline = export(aws, vault, "staging", "--offline")
        assert offline.code == 1 and offline.stdout == ""
        assert "not cached" in offline.stderr


def test_diff_and_templates_are_served_offline(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    seed_sm(moto, "staging", {"FAKE_A": "fake-a-staging-1", "FAKE_B": "fake-b-same-2"})
    seed_ssm(moto, "staging", {"FAKE_A": "fake-a-other-3", "FAKE_B": "fake-b-same-2"})
    online = aws.ok("diff", "--vault", "sm,ssm", "--stage", "staging", "--format", "json").json()
    (aws.cwd / "app.env").write_text("A={sm:FAKE_A}\nB={ssm:FAKE_B}\n")
    aws.ok("export", "--stage", "staging", "--template", "app.env")
    counted.reset_counts()
    offline = aws.ok("diff", "--vault", "sm,ssm", "--stage", "staging", "--format", "json", "--offline")
    assert offline.json() == online
    rendered = aws.ok("export", "--stage", "staging", "--template", "app.env", "--offline")
    assert "A=fake-a-staging-1" in rendered.stdout and "B=fake-b-same-2" in rendered.stdout
    assert counted.total == 0


def test_expired_credentials_are_never_answered_from_the_cache(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    seed_sm(moto, "staging", values("staging", 3))
    assert export(aws, "sm", "staging").code == 0

    def expired(request: ProxyRequest) -> ProxyResponse | None:
        return ProxyResponse.aws_error(request, 400, "ExpiredTokenException", "The security token has expired")

    counted.hooks.append(expired)
    result = export(aws, "sm", "staging")
    assert result.code == 4 and result.stdout == ""


# -- the store on disk --------------------------------------------------------------------------------

def test_no_plaintext_and_private_files(aws: KeepRunner, counted: Proxy, moto: str, home: Path) -> None:
    expected = {"FAKE_CACHE_A": "fake-cache-plaintext-1a2b", "FAKE_CACHE_B": "fake-cache-ünïcødé-3c4d"}
    seed_sm(moto, "staging", expected)
    seed_ssm(moto, "staging", expected)
    assert exported(export(aws, "sm", "staging")) == expected
    assert exported(export(aws, "ssm", "staging")) == expected
    aws.ok("set", "FAKE_CACHE_C", "fake-cache-written-5e6f", "--vault", "sm", "--stage", "staging")
    files = cache_files(home)
    assert len(files) == 2
    _assert_nowhere([*expected.values(), "fake-cache-written-5e6f"], aws.cwd, home)
    directory = home / ".cache" / "keep"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    key = home / ".config" / "keep" / "keys" / "cache.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert directory not in key.parents


def test_corrupt_or_undecryptable_cache_is_discarded_with_one_warning(
    aws: KeepRunner, counted: Proxy, moto: str, home: Path
) -> None:
    expected = values("staging", 4)
    seed_sm(moto, "staging", expected)
    assert export(aws, "sm", "staging").code == 0
    # another key: every value fails to open
    (home / ".config" / "keep" / "keys" / "cache.key").write_text("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\n")
    result = export(aws, "sm", "staging")
    assert result.code == 0 and exported(result) == expected
    assert result.stderr.count("discarded") == 1
    # garbage instead of a database
    for path in cache_files(home):
        path.write_bytes(os.urandom(4096))
    result = export(aws, "sm", "staging")
    assert result.code == 0 and exported(result) == expected
    assert result.stderr.count("discarded") == 1
    counted.reset_counts()
    assert exported(export(aws, "sm", "staging")) == expected
    assert reads(counted) == 0  # rebuilt


def test_cache_status_and_clear(aws: KeepRunner, counted: Proxy, moto: str, home: Path) -> None:
    seed_sm(moto, "staging", values("staging", 3))
    seed_ssm(moto, "production", values("production", 2))
    export(aws, "sm", "staging")
    export(aws, "ssm", "production")
    status = aws.ok("cache", "status", "--format", "json").json()
    assert isinstance(status, dict)
    rows = {(r["vault"], r["stage"]): r for r in status["stages"]}
    assert rows[("sm", "staging")]["entries"] == 3 and rows[("ssm", "production")]["entries"] == 2
    assert rows[("sm", "staging")]["bytes"] > 0 and rows[("sm", "staging")]["age_seconds"] < 600
    table = aws.ok("cache", "status").stdout
    assert "ENTRIES" in table and "sm" in table
    assert "fake-" not in table
    aws.ok("cache", "clear", "--vault", "sm")
    assert [r["vault"] for r in aws.ok("cache", "status", "--format", "json").json()["stages"]] == ["ssm"]
    aws.ok("cache", "clear")
    assert cache_files(home) == []


def test_vault_add_and_edit_take_the_cache_options(kp: KeepRunner, counted: Proxy) -> None:
    kp.ok("vault:add", "--driver", "secretsmanager", "--slug", "sm2", "--name", "sm2", "--region", FAKE_REGION,
          "--endpoint-url", counted.url, "--cache", "on", "--cache-max-stale", "90m", "-n", "--no-verify")
    config = json.loads((kp.cwd / ".keep" / "vaults" / "sm2.json").read_text())
    assert config["cache"] == "on" and config["cache_max_stale"] == "90m"
    bad = kp("vault:edit", "sm2", "--cache-max-stale", "soon", "-n")
    assert bad.code == 2 and "cache" in bad.stderr
    kp.ok("vault:edit", "sm2", "--cache", "off", "-n")
    assert json.loads((kp.cwd / ".keep" / "vaults" / "sm2.json").read_text())["cache"] == "off"


def test_other_writes_through_keep_keep_the_cache_right(aws: KeepRunner, counted: Proxy, moto: str) -> None:
    seed_ssm(moto, "staging", values("staging", 20))
    export(aws, "ssm", "staging")
    aws.ok("set", "FAKE_KEY_001", "fake-second-version", "--vault", "ssm", "--stage", "staging")
    aws.ok("rollback", "FAKE_KEY_001", "--to", "1", "--vault", "ssm", "--stage", "staging")
    (aws.cwd / "in.env").write_text("FAKE_KEY_002=fake-imported-2\nFAKE_IMPORTED=fake-imported-new\n")
    aws.ok("import", "in.env", "--overwrite", "--vault", "ssm", "--stage", "staging")
    aws.ok("rotate", "FAKE_KEY_003", "--vault", "ssm", "--stage", "staging")
    rotated = aws.ok("get", "FAKE_KEY_003", "--vault", "ssm", "--stage", "staging", "--format", "raw",
                     "--no-cache").stdout[:-1]
    counted.reset_counts()
    got = exported(export(aws, "ssm", "staging"))
    assert got == dict(values("staging", 20), FAKE_KEY_002="fake-imported-2", FAKE_IMPORTED="fake-imported-new",
                       FAKE_KEY_003=rotated)
    assert reads(counted) <= 1  # only the rolled-back key is read again (its new version was not written by set)


def test_a_ciphertext_moved_to_another_key_does_not_open(
    aws: KeepRunner, counted: Proxy, moto: str, home: Path
) -> None:
    seed_sm(moto, "staging", {"FAKE_A": "fake-value-a-1111", "FAKE_B": "fake-value-b-2222"})
    export(aws, "sm", "staging")
    (path,) = cache_files(home)
    conn = sqlite3.connect(path)
    with conn:
        nonce, sealed = conn.execute("SELECT nonce, ciphertext FROM entries WHERE key = 'FAKE_A'").fetchone()
        conn.execute("UPDATE entries SET nonce = ?, ciphertext = ? WHERE key = 'FAKE_B'", (nonce, sealed))
    conn.close()
    counted.fail_regions = {FAKE_REGION}
    result = export(aws, "sm", "staging")  # unreachable, and the cache is discarded: nothing to serve
    assert result.code == 1 and result.stdout == ""
    assert result.stderr.count("discarded") == 1
    assert "fake-value-a" not in result.stderr


# -- the wrapper is its driver to everyone ------------------------------------------------------

class _FakeRemote(Vault):
    """A remote store with history only (no restore, no single-version purge), in memory."""

    driver = "fakeremote"

    def __init__(self, config: VaultConfig, namespace: str, project_root: str | None = None) -> None:
        super().__init__(config, namespace, project_root)
        self.data: dict[str, str] = {}

    def remote_name(self, stage: str, key: str) -> str:
        return f"{stage}/{key}"

    def list(self, stage: str) -> list[Secret]:
        return [self.get(stage, key) for key in sorted(self.data)]

    def get(self, stage: str, key: str, version: str | None = None) -> Secret:
        if key not in self.data:
            raise NotFound(f"Secret '{key}' not found", key=key)
        return Secret(key, self.data[key], "1", None, self.slug, stage)

    def set(self, stage: str, key: str, value: str, secure: bool = True) -> WriteResult:
        self.data[key] = value
        return WriteResult(revision="1", created=True)

    def delete(self, stage: str, key: str, purge: bool = False) -> None:
        self.data.pop(key)

    def history(self, stage: str, key: str, limit: int | None = None) -> list[Version]:
        return [Version("1", self.get(stage, key).value, None, current=True)]

    def rollback(self, stage: str, key: str, version: str) -> WriteResult:
        return WriteResult(revision="1", created=False)


@pytest.fixture
def fake_remote() -> Any:
    declared = Driver(name="fakeremote", label="Fake remote store", vault_class=_FakeRemote, remote=True,
                      capabilities=Capabilities(history=True))
    registry.register(declared)
    yield declared
    registry.forget("fakeremote")


@pytest.mark.parametrize("mode", ["auto", "offline"])
def test_the_cache_wrapper_reports_its_drivers_name_label_and_capabilities(fake_remote: Driver, mode: Any) -> None:
    inner = _FakeRemote(VaultConfig(slug="far", driver="fakeremote", name="Far"), "ns")
    wrapped = CachedVault(inner, mode)
    assert wrapped.driver == "fakeremote"
    assert wrapped.declaration is fake_remote and wrapped.declaration.label == "Fake remote store"
    assert wrapped.capabilities == fake_remote.capabilities
    if mode == "offline":  # what needs the store says so, whatever the driver could do
        for call in (lambda: wrapped.purge_version("s", "K", "1"), lambda: wrapped.restore("s", "K")):
            with pytest.raises(NotCached) as refused:
                call()
            assert refused.value.needs_store and "needs the store" in refused.value.message
        return
    # online, the driver's own refusals come through, naming the driver (never "cached")
    with pytest.raises(UsageError, match=r"^The fakeremote driver cannot remove a single version$"):
        wrapped.purge_version("s", "K", "1")
    with pytest.raises(UsageError, match=r"^The fakeremote driver cannot restore deleted secrets$"):
        wrapped.restore("s", "K")
    with pytest.raises(UsageError, match=r"^Vault 'far' \(fakeremote driver\) keeps its values"):
        wrapped.references("s")


def test_open_vault_behind_the_cache_names_the_driver_everywhere(aws: KeepRunner, counted: Proxy,
                                                                  moto: str) -> None:
    """keep info, the web's vault list and a driver's error say `ssm`/`secretsmanager`, with
    the cache on; the unreachable notice names the store by its label."""
    project = Project.load_at(aws.cwd)
    for slug, driver in (("ssm", "ssm"), ("sm", "secretsmanager")):
        opened = open_vault(project, slug)
        assert isinstance(opened, CachedVault) and opened.driver == driver
        assert opened.declaration is registry.get(driver)
    info = aws.ok("info", "--format", "json").json()
    assert isinstance(info, dict)
    assert {v["slug"]: v["driver"] for v in info["vaults"]} == {"local": "local", "ssm": "ssm",
                                                                 "sm": "secretsmanager"}
    refused = aws("replicate", "--vault", "ssm", "--stage", "staging")
    assert refused.code == 2 and "uses the ssm driver" in refused.stderr and "cached" not in refused.stderr
    seed_sm(moto, "staging", values("staging", 2))
    assert export(aws, "sm", "staging").code == 0
    counted.fail_regions = {FAKE_REGION}
    served = export(aws, "sm", "staging")
    assert served.code == 0 and "old: AWS Secrets Manager unreachable" in served.stderr


@pytest.mark.parametrize("dry_run", [False, True])
def test_replicate_offline_makes_no_call_and_says_so(aws: KeepRunner, counted: Proxy, moto: str,
                                                     dry_run: bool) -> None:
    """--offline means no network call for every command: replicate (which reads the stage's
    replica state and changes it) refuses before its first call, as writes do."""
    seed_sm(moto, "staging", values("staging", 2))
    _vault(aws, "sm", "secretsmanager", counted.url, replica_regions=["eu-west-1"])
    counted.reset_counts()
    args = ["replicate", "--vault", "sm", "--stage", "staging", "--offline", *(["--dry-run"] if dry_run else [])]
    refused = aws(*args)
    assert refused.code == 1, refused.stderr
    assert "Offline: replicating secrets in vault 'sm' needs the store" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) <= 2 and "Traceback" not in refused.stderr
    assert counted.total == 0
    online = aws.ok(*[a for a in args if a != "--offline"])  # the cached vault still replicates online
    assert ("would change" if dry_run else "Replicas updated for 2 of 2") in online.stderr


# -- which store a cache file belongs to -----------------------------------------------------------

def test_the_cache_file_is_named_by_where_the_store_is_not_by_slug_alone() -> None:
    """Two vaults with the same slug and namespace (two projects, say) at different addresses
    never share a cache file: before drivers declared their location, every driver but the AWS
    ones was told apart by slug, namespace and scope only, and one vault's cached values would
    have been served, offline, for the other. The cache's own options do not move the file."""
    from keep_secrets.vaults.cache import _location

    def digest(**options: Any) -> str:
        return _location(_FakeRemote(VaultConfig("far", "fakeremote", "Far", "", options), "ns"))[0]

    assert digest(address="http://127.0.0.1:8201") != digest(address="http://127.0.0.1:8202")
    assert digest(address="http://127.0.0.1:8201", mount="a") != digest(address="http://127.0.0.1:8201", mount="b")
    assert digest(address="http://127.0.0.1:8201") == digest(address="http://127.0.0.1:8201", cache="on",
                                                             cache_max_stale="1h")


def test_an_aws_vaults_cache_file_keeps_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """The AWS drivers' location (region, endpoint, profile, from the settings or the
    environment) gives the same file name as before, so existing caches stay valid."""
    import hashlib

    from keep_secrets.vaults.cache import _location
    from keep_secrets.vaults.secretsmanager import SecretsManagerVault

    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_PROFILE", "fake-profile")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    config = VaultConfig("sm", "secretsmanager", "SM", "team", {"endpoint_url": "http://127.0.0.1:1", "cache": "on"})
    vault = SecretsManagerVault(config, "ns", None)
    parts = {"driver": "secretsmanager", "namespace": "ns", "slug": "sm", "scope": "team", "region": "eu-west-3",
             "endpoint": "http://127.0.0.1:1", "profile": "fake-profile"}
    before = hashlib.sha256("\0".join(f"{k}={v}" for k, v in sorted(parts.items())).encode()).hexdigest()[:32]
    assert _location(vault)[0] == before
