"""The Secrets Manager driver against the conformance suite, on moto's server over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from keep_secrets.vaults.secretsmanager import SecretsManagerVault
from tests.aws.conftest import make_sm  # noqa: F401 - fixture
from tests.aws.moto_gaps import aws_like_hooks
from tests.aws.proxy import Proxy
from tests.conformance.suite import ConformanceSuite


@pytest.fixture
def aws_like(moto: str) -> Iterator[str]:
    """moto behind a proxy that answers as real AWS where moto differs (see moto_gaps)."""
    with Proxy(moto, hooks=aws_like_hooks(moto)) as proxy:
        yield proxy.url


class TestSecretsManagerConformance(ConformanceSuite):
    @pytest.fixture
    def vault(self, aws_like: str, make_sm: Callable[..., SecretsManagerVault]) -> Iterator[SecretsManagerVault]:  # noqa: F811
        yield make_sm(aws_like)


class TestScopedSecretsManagerConformance(ConformanceSuite):
    """The same behaviour with a scope segment and the newer `Env` stage tag."""

    @pytest.fixture
    def vault(self, aws_like: str, make_sm: Callable[..., SecretsManagerVault]) -> Iterator[SecretsManagerVault]:  # noqa: F811
        yield make_sm(aws_like, scope="app2", stage_tag="Env", slug="sm-scoped")
