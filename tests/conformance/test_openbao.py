"""The OpenBao (KV v2) driver against the conformance suite, on a real `bao server -dev`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from keep_secrets.vaults.openbao import OpenBaoVault
from tests.conformance.suite import ConformanceSuite


class TestOpenBaoConformance(ConformanceSuite):
    @pytest.fixture
    def vault(self, make_bao: Callable[..., Any]) -> OpenBaoVault:
        vault: OpenBaoVault = make_bao()
        return vault


class TestScopedOpenBaoConformance(ConformanceSuite):
    """With a scope segment, on a second KV v2 mount at a nested path."""

    @pytest.fixture
    def vault(self, make_bao: Callable[..., Any], bao: Any) -> OpenBaoVault:
        status, _ = bao.call("GET", "sys/mounts/kv/team")
        if status == 200:
            bao.reset_kv("kv/team")
        else:
            bao.ok("POST", "sys/mounts/kv/team", {"type": "kv", "options": {"version": "2"}})
            bao.wait_kv("kv/team")
        vault: OpenBaoVault = make_bao(slug="bao-team", scope="app2", mount="kv/team")
        return vault
