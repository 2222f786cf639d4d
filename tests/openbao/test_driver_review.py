"""The openbao driver against a real `bao server -dev`: cases found in review (KV v2 settings
and states a demanding user meets that the first tests did not)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keep_secrets.model import AccessDenied, Expect, NotFound, UsageError
from keep_secrets.vaults.openbao import OpenBaoVault
from tests.conftest import KeepRunner
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


_ODD = st.sampled_from(["\n", "\r", "\t", " ", "\x7f", "\u20ac", "\u00e9", "\u2028"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(head=st.text("abcXYZ019.-_", min_size=1, max_size=12), odd=_ODD,
       tail=st.text("abcXYZ019.-_", min_size=1, max_size=12))
def test_a_token_that_is_not_printable_ascii_is_exit_4_in_one_line(
    bao_project: KeepRunner, head: str, odd: str, tail: str
) -> None:
    """A token pasted with a line break, a space or a non-ASCII character inside it (tokens are
    printable ASCII): exit 4 saying where it came from, one line, the token not echoed."""
    token = f"s.{head}{odd}{tail}"
    result = bao_project("get", "ANY", "--vault", "bao", "--stage", "staging", env={"BAO_TOKEN": token})
    assert result.code == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "BAO_TOKEN" in result.stderr
    assert f"{head}{odd}{tail}" not in result.stderr


def test_a_vault_namespace_that_does_not_exist_is_named_not_an_empty_stage(
    make_bao: MakeBao, bao: Api, bao_project: KeepRunner
) -> None:
    """A mistyped `vault_namespace`: the server answers 404 "namespace not found" on every
    path; keep said the stage was empty and `set` said "Secret ... not found"."""
    vault = make_bao(vault_namespace="no-such-team")
    for action in (lambda: vault.list("staging"), lambda: vault.get("staging", "K"),
                   lambda: vault.set("staging", "K", "fake"), lambda: vault.history("staging", "K"),
                   lambda: vault.deleted("staging")):
        with pytest.raises(NotFound, match=r"no namespace 'no-such-team'"):
            action()
    cfg = bao_project.cwd / ".keep" / "vaults" / "bao.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "vault_namespace": "no-such-team"}))
    for args in (("show",), ("set", "K", "fake")):
        result = bao_project(*args, "--vault", "bao", "--stage", "staging")
        assert result.code == 3 and "no namespace 'no-such-team'" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("mount", ["kv1", "cubbyhole"])
def test_a_mount_that_is_not_kv_v2_is_refused_and_nothing_is_written(make_bao: MakeBao, bao: Api, mount: str) -> None:
    """`bao secrets enable kv` makes a KV version 1 engine: keep listed an empty stage, said
    "not found", and `set` wrote {"data":..., "options":...} at `kv1/data/...` and keep's custom
    metadata as another entry at `kv1/metadata/...`, reporting revision ''."""
    if mount == "kv1":
        bao.call("DELETE", "sys/mounts/kv1")
        bao.ok("POST", "sys/mounts/kv1", {"type": "kv", "options": {"version": "1"}})
        bao.ok("POST", "kv1/myapp/staging/V1_ENTRY", {"value": "fake-v1"})
    vault = make_bao(mount=mount)
    expected = r"KV version 1" if mount == "kv1" else r"'cubbyhole' engine"
    for action in (lambda: vault.list("staging"), lambda: vault.get("staging", "K"),
                   lambda: vault.set("staging", "K", "fake"),
                   lambda: vault.set_if("staging", "K", "fake", Expect(None)),
                   lambda: vault.history("staging", "K")):
        with pytest.raises(UsageError, match=expected):
            action()
    for path in (f"{mount}/data/myapp/staging/K", f"{mount}/metadata/myapp/staging/K"):
        assert bao.call("GET", path)[0] == 404, path


def test_a_valid_token_without_the_default_policy_is_not_called_invalid(
    make_bao: MakeBao, bao: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A least-privilege token (`bao token create -policy=keep-myapp -no-default-policy`) may
    not call auth/token/lookup-self: a path its policy lacks is a missing capability, not an
    invalid or expired token (the user would log in again for nothing)."""
    bao.put_policy("only-staging", 'path "secret/data/myapp/staging/+" { capabilities = ["read"] }')
    answer = bao.ok("POST", "auth/token/create", {"policies": ["only-staging"], "no_default_policy": True, "ttl": "1h"})
    monkeypatch.setenv("BAO_TOKEN", str(answer["auth"]["client_token"]))
    with pytest.raises(AccessDenied) as caught:
        make_bao().get("production", "K")
    assert "'read' on secret/data/myapp/production/K" in caught.value.message
    assert "invalid" not in caught.value.message
    monkeypatch.setenv("BAO_TOKEN", "s.fake-not-a-token")
    with pytest.raises(AccessDenied, match="invalid or expired"):
        make_bao().get("production", "K")
