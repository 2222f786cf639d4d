"""Check-and-set where keep knows the version it expects: rename (NEW must still be as read)
and web edits (the secret must still be at the editor's revision). Another client's write is
injected between keep's read and its write, on a real server; the server's cas decides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from keep_secrets.model import Conflict
from keep_secrets.services import secret_ops as svc
from keep_secrets.vaults.openbao import OpenBaoVault
from tests.openbao.server import Api

pytestmark = pytest.mark.openbao

MakeBao = Callable[..., OpenBaoVault]


def _after_reading(vault: OpenBaoVault, key: str, action: Callable[[], None]) -> None:
    """Run `action` (another client's write) right after keep's next read of `key`."""
    original = vault.get
    done = []

    def get(stage: str, wanted: str, version: str | None = None) -> Any:
        try:
            return original(stage, wanted, version)
        finally:
            if wanted == key and not done:
                done.append(True)
                action()

    vault.get = get  # type: ignore[method-assign]


def test_rename_never_overwrites_a_target_created_meanwhile(make_bao: MakeBao, bao: Api) -> None:
    vault = make_bao()
    vault.set("staging", "OLD", "fake-old")
    _after_reading(vault, "NEW", lambda: bao.ok(
        "POST", "secret/data/myapp/staging/NEW", {"data": {"value": "fake-theirs"}}))
    with pytest.raises(Conflict, match="during the rename"):
        svc.rename(vault, "staging", "OLD", "NEW")
    assert vault.get("staging", "NEW").value == "fake-theirs"
    assert vault.get("staging", "OLD").value == "fake-old"


def test_rename_overwrite_is_conditional_on_the_target_read(make_bao: MakeBao, bao: Api) -> None:
    vault = make_bao()
    vault.set("staging", "OLD", "fake-old")
    vault.set("staging", "NEW", "fake-new-1")
    _after_reading(vault, "NEW", lambda: bao.ok(
        "POST", "secret/data/myapp/staging/NEW", {"data": {"value": "fake-new-2"}}))
    with pytest.raises(Conflict):
        svc.rename(vault, "staging", "OLD", "NEW", overwrite=True)
    assert vault.get("staging", "NEW").value == "fake-new-2"
    # without interference the overwrite goes through
    result = svc.rename(make_bao(), "staging", "OLD", "NEW", overwrite=True)
    assert result.overwrote and make_bao().get("staging", "NEW").value == "fake-old"
