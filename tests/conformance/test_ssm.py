"""The SSM Parameter Store driver against the conformance suite, on moto's server over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from keep_secrets.vaults.ssm import SsmVault
from tests.aws.conftest import make_ssm  # noqa: F401 - fixture
from tests.conformance.suite import ConformanceSuite


class TestSsmConformance(ConformanceSuite):
    @pytest.fixture
    def vault(self, moto: str, make_ssm: Callable[..., SsmVault]) -> Iterator[SsmVault]:  # noqa: F811
        yield make_ssm(moto)


class TestScopedAdvancedSsmConformance(ConformanceSuite):
    @pytest.fixture
    def vault(self, moto: str, make_ssm: Callable[..., SsmVault]) -> Iterator[SsmVault]:  # noqa: F811
        yield make_ssm(moto, scope="app2", tier="Advanced", slug="ssm-adv")
