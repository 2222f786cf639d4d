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
