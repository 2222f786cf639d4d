"""The local driver against the conformance suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from keep_secrets.project import VaultConfig
from keep_secrets.vaults.local import LocalVault
from tests.conformance.suite import ConformanceSuite


class TestLocalConformance(ConformanceSuite):
    @pytest.fixture
    def vault(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalVault:
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        monkeypatch.delenv("KEEP_LOCAL_KEY", raising=False)
        vault = LocalVault(VaultConfig("local", "local", "Local"), "myapp", str(tmp_path))
        yield vault
        vault.close()
