"""Fixtures for the AWS driver tests: vault factories pointed at moto (directly or through the
fault-injecting proxy) and a started proxy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from keep_secrets.project import VaultConfig
from keep_secrets.vaults.secretsmanager import SecretsManagerVault
from keep_secrets.vaults.ssm import SsmVault
from tests.aws.proxy import Proxy

REGION = "us-east-1"
REPLICA = "eu-west-1"


@pytest.fixture
def proxy(counted: Proxy) -> Proxy:
    """The shared counting proxy (tests/conftest.py) under the name these tests use."""
    return counted




@pytest.fixture
def make_sm() -> Iterator[Callable[..., SecretsManagerVault]]:
    made: list[SecretsManagerVault] = []

    def factory(
        endpoint: str, namespace: str = "myapp", slug: str = "secretsmanager", scope: str = "", **options: Any
    ) -> SecretsManagerVault:
        options.setdefault("region", REGION)
        options["endpoint_url"] = endpoint
        vault = SecretsManagerVault(VaultConfig(slug, "secretsmanager", "SM", scope, options), namespace, None)
        made.append(vault)
        return vault

    yield factory
    for vault in made:
        vault.close()


@pytest.fixture
def make_ssm() -> Iterator[Callable[..., SsmVault]]:
    made: list[SsmVault] = []

    def factory(
        endpoint: str, namespace: str = "myapp", slug: str = "ssm", scope: str = "", **options: Any
    ) -> SsmVault:
        options.setdefault("region", REGION)
        options["endpoint_url"] = endpoint
        vault = SsmVault(VaultConfig(slug, "ssm", "SSM", scope, options), namespace, None)
        made.append(vault)
        return vault

    yield factory
    for vault in made:
        vault.close()


def record_sends(client: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every request `client` sends from now on, in the order the threads send them: (operation,
    JSON body). Registered first on botocore's `before-send`, ahead of keep's own handler, so a
    request is recorded before anything that handler starts."""
    import json

    sends: list[tuple[str, dict[str, Any]]] = []

    def record(event_name: str = "", request: Any = None, **_: Any) -> None:
        body = request.body if request is not None else b""
        sends.append((event_name.rsplit(".", 1)[-1], json.loads(body or b"{}")))

    client.meta.events.register_first("before-send", record)
    return sends


def slow_next_pages(client: Any, page_op: str, seconds: float = 0.05) -> None:
    """Each listing page after the first takes `seconds` to prepare in the listing's thread (as
    when it waits for the GIL or the call gate): value reads released with the page would be
    sent in that time, ahead of it."""
    import time

    def slow(params: Any = None, **_: Any) -> None:
        if isinstance(params, dict) and "NextToken" in params:
            time.sleep(seconds)

    client.meta.events.register(f"before-call.*.{page_op}", slow)


def reads_sent_before_each_page(sends: list[tuple[str, dict[str, Any]]], page_op: str) -> list[int]:
    """For each listing page request after the first: how many value reads were sent before it."""
    counts, reads = [], 0
    for operation, body in sends:
        if operation == page_op:
            if "NextToken" in body:
                counts.append(reads)
        else:
            reads += 1
    return counts


def list_with_slow_next_pages(vault: Any, stage: str, page_op: str, count: int) -> tuple[int, list[int]]:
    """List `stage` of `vault` (`count` secrets) with each next page slowed in the listing's
    thread (:func:`slow_next_pages`): (value reads sent, reads sent before each next page)."""
    sends = record_sends(vault.client())
    slow_next_pages(vault.client(), page_op)
    assert len(vault.list(stage)) == count
    return sum(op != page_op for op, _ in sends), reads_sent_before_each_page(sends, page_op)
