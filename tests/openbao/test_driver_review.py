"""The openbao driver against a real `bao server -dev`: cases found in review (KV v2 settings
and states a demanding user meets that the first tests did not)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from keep_secrets.vaults.openbao import OpenBaoVault
from tests.openbao.server import Api

pytestmark = pytest.mark.openbao

MakeBao = Callable[..., OpenBaoVault]


@pytest.mark.parametrize("where", ["mount", "key"])
def test_delete_version_after_does_not_make_live_versions_deleted(make_bao: MakeBao, bao: Api, where: str) -> None:
    """With `delete_version_after` (on the mount's config or the key's metadata) every live
    version carries a `deletion_time` in the future: it is live until then."""
    vault = make_bao()
    if where == "mount":
        bao.ok("POST", "secret/config", {"delete_version_after": "1h"})
    else:
        bao.ok("POST", "secret/metadata/myapp/staging/EXPIRING", {"delete_version_after": "1h"})
    assert vault.set("staging", "EXPIRING", "fake-1").revision == "1"
    assert vault.set("staging", "EXPIRING", "fake-2").revision == "2"
    assert vault.get("staging", "EXPIRING").value == "fake-2"
    history = vault.history("staging", "EXPIRING")
    assert [(v.version, v.value, v.labels, v.current) for v in history] == [
        ("2", "fake-2", ("current",), True),
        ("1", "fake-1", (), False),
    ]
    assert vault.deleted("staging") == []
    assert [r.key for r in vault.references("staging")] == ["EXPIRING"]
    assert vault.rollback("staging", "EXPIRING", "1").revision == "3"
    vault.delete("staging", "EXPIRING")
    assert [d.key for d in vault.deleted("staging")] == ["EXPIRING"]
    vault.restore("staging", "EXPIRING")
    assert vault.get("staging", "EXPIRING").value == "fake-1"
