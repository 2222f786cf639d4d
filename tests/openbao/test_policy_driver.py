"""`keep iam`'s HCL for OpenBao, enforced by the server itself: every driver operation keep
makes is allowed in scope and denied outside it (driver level; the CLI is in test_cli_bao.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from keep_secrets.model import AccessDenied, Expect
from keep_secrets.project import VaultConfig
from keep_secrets.vaults.openbao import OpenBaoVault, acl_policy
from tests.openbao.server import Api

pytestmark = pytest.mark.openbao

MakeBao = Callable[..., OpenBaoVault]


def _every_operation(vault: OpenBaoVault, stage: str) -> None:
    vault.set(stage, "K", "fake-1")
    vault.set(stage, "K", "fake-2")
    assert vault.get(stage, "K").value == "fake-2"
    assert vault.get(stage, "K", version="1").value == "fake-1"
    assert [s.key for s in vault.list(stage)] == ["K"]
    assert len(vault.history(stage, "K")) == 2
    vault.rollback(stage, "K", "1")
    vault.set_if(stage, "K", "fake-4", Expect("3"))
    vault.purge_version(stage, "K", "2")
    vault.delete(stage, "K")
    vault.restore(stage, "K")
    vault.delete(stage, "K", purge=True)
    assert vault.list(stage) == []


@pytest.mark.parametrize("scope", ["", "web"])
def test_full_policy_allows_every_operation_on_its_stages_only(
    make_bao: MakeBao, bao: Api, monkeypatch: pytest.MonkeyPatch, scope: str
) -> None:
    config = VaultConfig("bao", "openbao", "OpenBao", scope=scope)
    bao.put_policy("keep-full", acl_policy([config], "myapp", ["staging"]))
    root = make_bao(scope=scope)
    root.set("production", "OTHER", "fake-prod")
    monkeypatch.setenv("BAO_TOKEN", bao.token_with("keep-full"))
    vault = make_bao(scope=scope)
    _every_operation(vault, "staging")
    for attempt in (
        lambda: vault.list("production"),
        lambda: vault.get("production", "OTHER"),
        lambda: vault.set("production", "NEW", "fake"),
        lambda: vault.delete("production", "OTHER"),
        lambda: vault.history("production", "OTHER"),
    ):
        with pytest.raises(AccessDenied, match="myapp/"):
            attempt()
    # another namespace, and a deeper path below an allowed stage, are out of scope too
    with pytest.raises(AccessDenied):
        make_bao(scope=scope, namespace="otherapp").list("staging")
    deeper = vault.http.request("GET", f"/v1/secret/data/myapp/{scope + '/' if scope else ''}staging/a/b")
    assert deeper.status == 403


def _without(hcl_paths: list[tuple[str, tuple[str, ...]]], path: str, capability: str) -> str:
    blocks = []
    for candidate, capabilities in hcl_paths:
        kept = [c for c in capabilities if not (candidate == path and c == capability)]
        if kept:
            blocks.append(f'path "{candidate}" {{ capabilities = [{", ".join(map(repr, kept))}] }}'.replace("'", '"'))
    return "\n".join(blocks)


def test_every_capability_of_the_policy_is_needed(make_bao: MakeBao, bao: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Least privilege: drop any one capability and some keep operation is denied."""
    from keep_secrets.vaults.openbao import policy_paths

    paths = policy_paths(VaultConfig("bao", "openbao", "OpenBao"), "myapp", ["staging"])
    root_token = bao.token
    for path, capabilities in paths:
        for capability in capabilities:
            bao.reset_kv()
            bao.put_policy("keep-minus", _without(paths, path, capability))
            monkeypatch.setenv("BAO_TOKEN", bao.token_with("keep-minus"))
            with pytest.raises(AccessDenied):
                _every_operation(make_bao(), "staging")
            monkeypatch.setenv("BAO_TOKEN", root_token)


def test_read_only_policy_reads_and_cannot_write(make_bao: MakeBao, bao: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    config = VaultConfig("bao", "openbao", "OpenBao")
    bao.put_policy("keep-ro", acl_policy([config], "myapp", ["staging"], read_only=True))
    root = make_bao()
    root.set("staging", "K", "fake-1")
    root.set("staging", "K", "fake-2")
    monkeypatch.setenv("BAO_TOKEN", bao.token_with("keep-ro"))
    vault = make_bao()
    assert [s.value for s in vault.list("staging")] == ["fake-2"]
    assert vault.get("staging", "K", version="1").value == "fake-1"
    assert [v.value for v in vault.history("staging", "K")] == ["fake-2", "fake-1"]
    for attempt in (
        lambda: vault.set("staging", "K", "fake-3"),
        lambda: vault.set("staging", "NEW", "fake"),
        lambda: vault.delete("staging", "K"),
        lambda: vault.delete("staging", "K", purge=True),
        lambda: vault.rollback("staging", "K", "1"),
        lambda: vault.purge_version("staging", "K", "1"),
    ):
        with pytest.raises(AccessDenied):
            attempt()
    assert root.get("staging", "K").value == "fake-2"
