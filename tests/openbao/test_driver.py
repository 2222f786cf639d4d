"""The openbao driver against a real `bao server -dev`: layout, foreign entries, tokens,
errors, retries, check-and-set, namespaces. (Behaviour every driver shares is in
tests/conformance/.)"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from keep_secrets.model import AccessDenied, Conflict, Expect, NotFound, RemoteError, UsageError
from keep_secrets.services.secret_ops import extract_field
from keep_secrets.vaults.openbao import OpenBaoVault, find_token
from tests.openbao.server import Api, DevServer

pytestmark = pytest.mark.openbao

MakeBao = Callable[..., OpenBaoVault]


def test_layout_value_field_and_custom_metadata(make_bao: MakeBao, bao: Api) -> None:
    vault = make_bao(scope="web")
    result = vault.set("staging", "DB_PASSWORD", "fake-pass")
    assert result.created and result.revision == "1"
    assert vault.remote_name("staging", "DB_PASSWORD") == "secret/data/myapp/web/staging/DB_PASSWORD"
    data = bao.ok("GET", "secret/data/myapp/web/staging/DB_PASSWORD")["data"]
    assert data["data"] == {"value": "fake-pass"}
    meta = bao.ok("GET", "secret/metadata/myapp/web/staging/DB_PASSWORD")["data"]
    assert meta["custom_metadata"] == {
        "ManagedBy": "Keep", "Namespace": "myapp", "Stage": "staging", "VaultSlug": "bao"
    }
    second = vault.set("staging", "DB_PASSWORD", "fake-pass-2")
    assert (second.created, second.revision) == (False, "2")


def test_foreign_entry_reads_as_json_object_and_field_works(make_bao: MakeBao, bao: Api) -> None:
    bao.ok("POST", "secret/data/myapp/staging/DB_CREDS", {"data": {"username": "app", "password": "fake-pw"}})
    vault = make_bao()
    secret = vault.get("staging", "DB_CREDS")
    assert json.loads(secret.value) == {"username": "app", "password": "fake-pw"}
    assert extract_field(secret.value, "password") == "fake-pw"
    assert [s.key for s in vault.list("staging")] == ["DB_CREDS"]
    # keep never replaces another client's fields with a single value
    with pytest.raises(Conflict, match=r"fields password, username;"):
        vault.set("staging", "DB_CREDS", "fake-flat")
    assert bao.ok("GET", "secret/data/myapp/staging/DB_CREDS")["data"]["data"]["username"] == "app"


def test_foreign_single_value_entry_is_adopted_keeping_its_metadata(make_bao: MakeBao, bao: Api) -> None:
    bao.ok("POST", "secret/data/myapp/staging/TOKEN", {"data": {"value": "fake-old"}})
    bao.ok("POST", "secret/metadata/myapp/staging/TOKEN", {"custom_metadata": {"owner": "ops"}})
    vault = make_bao()
    assert vault.get("staging", "TOKEN").value == "fake-old"
    assert vault.set("staging", "TOKEN", "fake-new").created is False
    custom = bao.ok("GET", "secret/metadata/myapp/staging/TOKEN")["data"]["custom_metadata"]
    assert custom == {"owner": "ops", "ManagedBy": "Keep", "Namespace": "myapp", "Stage": "staging", "VaultSlug": "bao"}


def test_sub_folders_are_not_keys(make_bao: MakeBao, bao: Api) -> None:
    bao.ok("POST", "secret/data/myapp/staging/nested/DEEP", {"data": {"value": "fake-deep"}})
    vault = make_bao()
    vault.set("staging", "TOP", "fake-top")
    assert [s.key for s in vault.list("staging")] == ["TOP"]


def test_history_labels_deleted_and_destroyed_versions(make_bao: MakeBao) -> None:
    vault = make_bao()
    for value in ("fake-1", "fake-2", "fake-3"):
        vault.set("staging", "H", value)
    vault.destroy("staging", "H", ["1"])
    vault.delete("staging", "H")
    history = vault.history("staging", "H")
    assert [(v.version, v.value, v.labels, v.current) for v in history] == [
        ("3", None, ("current", "deleted"), False),
        ("2", "fake-2", (), False),
        ("1", None, ("destroyed",), False),
    ]
    assert all(v.modified is not None for v in history)
    with pytest.raises(NotFound, match="deleted"):
        vault.get("staging", "H")
    with pytest.raises(NotFound, match="destroyed"):
        vault.get("staging", "H", version="1")
    with pytest.raises(Conflict):
        vault.rollback("staging", "H", "2")
    vault.restore("staging", "H")
    assert vault.rollback("staging", "H", "2").revision == "4"
    assert vault.get("staging", "H").value == "fake-2"
    with pytest.raises(UsageError, match="numbers"):
        vault.get("staging", "H", version="AWSPREVIOUS")


def test_deleted_listing_leaves_out_destroyed_and_live_current_versions(make_bao: MakeBao, bao: Api) -> None:
    vault = make_bao()
    for key in ("SOFT", "DESTROYED", "OLD_DELETED", "FOREIGN"):
        vault.set("staging", key, "fake-1")
    vault.set("staging", "OLD_DELETED", "fake-2")
    vault.delete("staging", "SOFT")
    vault.delete("staging", "DESTROYED")
    vault.destroy("staging", "DESTROYED", ["1"])  # its current version: deleted, then destroyed
    bao.ok("POST", "secret/delete/myapp/staging/OLD_DELETED", {"versions": [1]})  # an old version only
    bao.ok("POST", "secret/data/myapp/staging/OTHER_TOOL", {"data": {"user": "app"}})  # not keep's
    bao.ok("DELETE", "secret/data/myapp/staging/OTHER_TOOL")
    listing = vault.deleted_listing()
    assert listing is not None
    assert [d.key for d in listing.deleted("staging")] == ["OTHER_TOOL", "SOFT"]  # undelete works for both
    vault.restore("staging", "OTHER_TOOL")
    assert [d.key for d in listing.deleted("staging")] == ["SOFT"]


def test_restore_of_live_key_is_a_conflict(make_bao: MakeBao) -> None:
    vault = make_bao()
    vault.set("staging", "LIVE", "fake")
    with pytest.raises(Conflict, match="not deleted"):
        vault.restore("staging", "LIVE")


def test_set_if_is_check_and_set(make_bao: MakeBao) -> None:
    vault = make_bao()
    first = vault.set_if("staging", "CAS", "fake-1", Expect(None))
    assert (first.revision, first.created) == ("1", True)
    with pytest.raises(Conflict, match="not to exist"):
        vault.set_if("staging", "CAS", "fake-x", Expect(None))
    assert vault.set_if("staging", "CAS", "fake-2", Expect("1")).revision == "2"
    with pytest.raises(Conflict, match="version 1"):
        vault.set_if("staging", "CAS", "fake-stale", Expect("1"))
    assert vault.get("staging", "CAS").value == "fake-2"


def test_concurrent_writers_in_threads_lose_nothing(make_bao: MakeBao) -> None:
    vaults = [make_bao() for _ in range(6)]
    barrier = threading.Barrier(len(vaults))

    def write(i: int) -> None:
        barrier.wait()
        vaults[i].set("staging", "RACE", f"fake-{i}")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(vaults))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    history = vaults[0].history("staging", "RACE")
    assert sorted(v.value or "" for v in history) == sorted(f"fake-{i}" for i in range(6))


def test_cas_required_mount_works(make_bao: MakeBao, bao: Api) -> None:
    bao.ok("POST", "secret/config", {"cas_required": True})
    vault = make_bao()
    vault.set("staging", "STRICT", "fake-1")
    vault.set("staging", "STRICT", "fake-2")
    vault.rollback("staging", "STRICT", "1")
    assert vault.get("staging", "STRICT").value == "fake-1"


# -- tokens ----------------------------------------------------------------------------------

def test_token_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("BAO_TOKEN", "")
    monkeypatch.setenv("VAULT_TOKEN", "   ")
    assert find_token() is None
    (tmp_path / ".vault-token").write_text("fake-file-token\n")
    assert find_token() == ("fake-file-token", str(tmp_path / ".vault-token"))
    monkeypatch.setenv("VAULT_TOKEN", "fake-vault-token")
    assert find_token() == ("fake-vault-token", "VAULT_TOKEN")
    monkeypatch.setenv("BAO_TOKEN", "fake-bao-token")
    assert find_token() == ("fake-bao-token", "BAO_TOKEN")


def test_token_file_is_used(make_bao: MakeBao, bao: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BAO_TOKEN")
    monkeypatch.setenv("VAULT_TOKEN", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".vault-token").write_text(bao.token + "\n")
    vault = make_bao()
    vault.set("staging", "FROM_FILE", "fake")
    assert vault.get("staging", "FROM_FILE").value == "fake"


def test_missing_token_says_what_to_set(make_bao: MakeBao, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("BAO_TOKEN")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(AccessDenied) as caught:
        make_bao().get("staging", "ANY")
    assert "BAO_TOKEN" in caught.value.one_line() and "~/.vault-token" in caught.value.one_line()


def test_invalid_token_is_named(make_bao: MakeBao, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAO_TOKEN", "s.not-a-real-token")
    with pytest.raises(AccessDenied, match="invalid or expired") as caught:
        make_bao().list("staging")
    assert "BAO_TOKEN" in caught.value.message


def test_denied_path_names_path_and_capability(make_bao: MakeBao, bao: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    bao.put_policy("only-list", 'path "secret/metadata/myapp/staging/" { capabilities = ["list"] }')
    monkeypatch.setenv("BAO_TOKEN", bao.token_with("only-list"))
    vault = make_bao()
    assert vault.list("staging") == []
    with pytest.raises(AccessDenied) as caught:
        vault.set("staging", "NOPE", "fake")
    assert "'read' on secret/metadata/myapp/staging/NOPE" in caught.value.message
    assert "invalid" not in caught.value.message


# -- addresses, mounts, namespaces --------------------------------------------------------------

def test_unreachable_address_fails_after_bounded_retries(
    make_bao: MakeBao, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    monkeypatch.setenv("KEEP_OPENBAO_RETRY_SECONDS", "1.5")
    address = f"http://127.0.0.1:{closed_port}"
    vault = make_bao(address=address)
    started = time.monotonic()
    with pytest.raises(RemoteError) as caught:
        vault.get("staging", "ANY")
    elapsed = time.monotonic() - started
    assert address in caught.value.message and "connection refused" in caught.value.message
    assert 1.5 <= elapsed < 10


def test_address_defaults_to_bao_addr_then_vault_addr(
    make_bao: MakeBao, bao: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BAO_ADDR")
    monkeypatch.setenv("VAULT_ADDR", bao.address)
    assert make_bao(address=None).address == bao.address
    monkeypatch.setenv("BAO_ADDR", "http://127.0.0.1:1")
    assert make_bao(address=None).address == "http://127.0.0.1:1"
    monkeypatch.delenv("BAO_ADDR")
    monkeypatch.delenv("VAULT_ADDR")
    with pytest.raises(UsageError, match="BAO_ADDR"):
        make_bao(address=None)


def test_missing_mount_is_not_found(make_bao: MakeBao) -> None:
    with pytest.raises(NotFound, match="no KV v2 mount 'nosuch'"):
        make_bao(mount="nosuch").list("staging")


def test_vault_namespace_header(make_bao: MakeBao, bao: Api) -> None:
    status, _ = bao.call("GET", "sys/namespaces/team")
    if status != 200:
        bao.ok("POST", "sys/namespaces/team")
    team = Api(bao.address, bao.token)
    status, _ = team.call("GET", "team/sys/mounts/secret")
    if status != 200:
        bao.ok("POST", "team/sys/mounts/secret", {"type": "kv", "options": {"version": "2"}})
    bao.wait_kv("team/secret")
    vault = make_bao(vault_namespace="team")
    vault.set("staging", "IN_NS", "fake-ns")
    assert bao.ok("GET", "team/secret/data/myapp/staging/IN_NS")["data"]["data"] == {"value": "fake-ns"}
    assert make_bao().list("staging") == []
    vault.delete("staging", "IN_NS", purge=True)


def test_sealed_server_is_ridden_out(make_bao: MakeBao, bao: Api, bao_server: DevServer) -> None:
    vault = make_bao()
    vault.set("staging", "SEALED", "fake-sealed")
    bao.ok("PUT", "sys/seal")
    unsealer = threading.Timer(1.0, lambda: bao.ok("PUT", "sys/unseal", {"key": bao_server.unseal_key}))
    unsealer.start()
    try:
        started = time.monotonic()
        assert vault.get("staging", "SEALED").value == "fake-sealed"
        assert time.monotonic() - started >= 0.9
    finally:
        unsealer.join()
        if bao.call("GET", "sys/seal-status")[1].get("sealed"):
            bao.ok("PUT", "sys/unseal", {"key": bao_server.unseal_key})


def test_sealed_for_good_fails_naming_the_address(
    make_bao: MakeBao, bao: Api, bao_server: DevServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEP_OPENBAO_RETRY_SECONDS", "1")
    vault = make_bao()
    bao.ok("PUT", "sys/seal")
    try:
        with pytest.raises(RemoteError, match="sealed") as caught:
            vault.list("staging")
        assert bao.address in caught.value.message
    finally:
        bao.ok("PUT", "sys/unseal", {"key": bao_server.unseal_key})


def test_lazy_import() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from keep_secrets.vaults import base; base.driver_class('local'); "
        "print(any(m.startswith(('keep_secrets.vaults.openbao', 'hvac', 'httpx')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"




def test_references_from_listing_and_metadata_only(make_bao: MakeBao, bao: Api) -> None:
    vault = make_bao()
    vault.set("staging", "API_KEY", "fake-api")
    vault.set("staging", "GONE", "fake-gone")
    vault.delete("staging", "GONE")
    bao.ok("POST", "secret/data/myapp/staging/DB_CREDS", {"data": {"username": "u", "password": "fake-p"}})
    refs = vault.references("staging")
    assert [(r.key, r.service, r.name, dict(r.extra)) for r in refs] == [
        ("API_KEY", "openbao", "myapp/staging/API_KEY", {"mount": "secret", "property": "value"}),
        ("DB_CREDS", "openbao", "myapp/staging/DB_CREDS", {"mount": "secret"}),
    ]


def test_references_need_no_data_read(make_bao: MakeBao, bao: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    make_bao().set("staging", "API_KEY", "fake-api")
    bao.put_policy("refs-only", 'path "secret/metadata/myapp/staging/*" { capabilities = ["list", "read"] }')
    monkeypatch.setenv("BAO_TOKEN", bao.token_with("refs-only"))
    vault = make_bao()
    assert [r.key for r in vault.references("staging")] == ["API_KEY"]
    with pytest.raises(AccessDenied):
        vault.get("staging", "API_KEY")


def test_tls_with_ca_cert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keep_secrets.project import VaultConfig
    from tests.openbao.server import dev_server

    with dev_server(tmp_path, root_token="root-tls-fake", tls=True) as server:
        monkeypatch.setenv("BAO_TOKEN", server.root_token)
        ca = tmp_path / "vault-ca.pem"

        def vault(**options: str) -> OpenBaoVault:
            config = VaultConfig("tls", "openbao", "TLS", options={"address": server.address, **options})
            return OpenBaoVault(config, "myapp", str(tmp_path))

        # a certificate problem is not retried: retried, it would take the whole 60 s retry
        # budget; the bound leaves a loaded machine's TLS handshake all the time it needs
        monkeypatch.setenv("KEEP_OPENBAO_RETRY_SECONDS", "60")
        started = time.monotonic()
        with pytest.raises(RemoteError, match="TLS verification") as caught:
            vault().list("staging")
        assert "ca_cert" in caught.value.one_line()
        assert time.monotonic() - started < 30
        monkeypatch.delenv("KEEP_OPENBAO_RETRY_SECONDS")
        with_ca = vault(ca_cert="vault-ca.pem")  # relative to the project root
        with_ca.set("staging", "OVER_TLS", "fake-tls")
        assert with_ca.get("staging", "OVER_TLS").value == "fake-tls"
        monkeypatch.setenv("BAO_CACERT", str(ca))
        assert vault().get("staging", "OVER_TLS").value == "fake-tls"
        with pytest.raises(UsageError, match="CA certificate"):
            vault(ca_cert="missing.pem").list("staging")


def test_http_proxy_from_the_environment(make_bao: MakeBao, bao: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.aws.proxy import Proxy

    with Proxy(bao.address) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        # a name only the proxy "resolves" (it forwards everything to the dev server)
        vault = make_bao(address="http://bao.invalid:8200")
        vault.set("staging", "VIA_PROXY", "fake-proxied")
        assert vault.get("staging", "VIA_PROXY").value == "fake-proxied"
        assert any(r.path.startswith("http://bao.invalid:8200/v1/secret/data/myapp/staging/VIA_PROXY")
                   for r in proxy.requests)
        seen = len(proxy.requests)
        monkeypatch.setenv("NO_PROXY", "bao.invalid")
        monkeypatch.setenv("KEEP_OPENBAO_RETRY_SECONDS", "0")
        with pytest.raises(RemoteError, match=r"bao\.invalid.*cannot resolve"):
            make_bao(address="http://bao.invalid:8200").get("staging", "VIA_PROXY")
        monkeypatch.delenv("NO_PROXY")
        # loopback is never proxied (as with the bao CLI)
        assert make_bao().get("staging", "VIA_PROXY").value == "fake-proxied"
        assert len(proxy.requests) == seen


def test_https_proxy_tunnels_with_connect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keep_secrets.project import VaultConfig
    from tests.openbao.server import connect_proxy, dev_server

    with dev_server(tmp_path, root_token="root-tls-fake", tls=True) as server:
        port = int(server.address.rsplit(":", 1)[1])
        with connect_proxy(port) as (proxy_url, asked):
            monkeypatch.setenv("BAO_TOKEN", server.root_token)
            monkeypatch.setenv("HTTPS_PROXY", proxy_url.replace("http://", "http://user:fake-pw@"))
            # the proxy tunnels "bao.invalid" to the dev server; TLS is end to end, so the server's
            # certificate (made for localhost / 127.0.0.1) is checked against that name and refused
            config = VaultConfig("tls", "openbao", "TLS", options={
                "address": f"https://bao.invalid:{port}", "ca_cert": str(tmp_path / "vault-ca.pem")})
            vault = OpenBaoVault(config, "myapp", str(tmp_path))
            with pytest.raises(RemoteError, match="TLS verification"):
                vault.list("staging")
            import base64

            assert asked and asked[0].startswith(f"CONNECT bao.invalid:{port} ")
            assert f"Proxy-Authorization: Basic {base64.b64encode(b'user:fake-pw').decode()}" in asked[0]


def test_purge_version_destroys_one_old_version(make_bao: MakeBao, bao: Api) -> None:
    vault = make_bao()
    for value in ("fake-1", "fake-2", "fake-3"):
        vault.set("staging", "PV", value)
    vault.purge_version("staging", "PV", "1")
    assert bao.ok("GET", "secret/metadata/myapp/staging/PV")["data"]["versions"]["1"]["destroyed"] is True
    assert [(v.version, v.value) for v in vault.history("staging", "PV")] == [
        ("3", "fake-3"), ("2", "fake-2"), ("1", None)
    ]
    with pytest.raises(Conflict, match="current version"):
        vault.purge_version("staging", "PV", "3")
    with pytest.raises(NotFound):
        vault.purge_version("staging", "PV", "9")
    with pytest.raises(NotFound):
        vault.purge_version("staging", "MISSING", "1")
    assert vault.get("staging", "PV").value == "fake-3"


def test_planned_create_of_a_deleted_or_existing_key_says_why(make_bao: MakeBao) -> None:
    from keep_secrets.model import PreconditionFailed

    vault = make_bao()
    vault.set("staging", "GONE", "fake-gone")
    vault.delete("staging", "GONE")
    with pytest.raises(Conflict) as caught:
        vault.set_if("staging", "GONE", "fake-new", Expect(None))
    assert caught.value.deleted and not isinstance(caught.value, PreconditionFailed)
    vault.set("staging", "THERE", "fake-there")
    with pytest.raises(PreconditionFailed, match="at version 1"):
        vault.set_if("staging", "THERE", "fake-new", Expect(None))


def test_create_keeps_custom_metadata_another_client_set(make_bao: MakeBao, bao: Api) -> None:
    bao.ok("POST", "secret/metadata/myapp/staging/PRESET", {"custom_metadata": {"owner": "ops"}})
    vault = make_bao()
    assert vault.set_if("staging", "PRESET", "fake-v", Expect(None)).created is True
    custom = bao.ok("GET", "secret/metadata/myapp/staging/PRESET")["data"]["custom_metadata"]
    assert custom == {"owner": "ops", "ManagedBy": "Keep", "Namespace": "myapp", "Stage": "staging", "VaultSlug": "bao"}


def test_request_budgets(make_bao: MakeBao, bao: Api) -> None:
    """Requests per operation, counted by a proxy in front of the real server."""
    from tests.aws.proxy import Proxy

    with Proxy(bao.address) as proxy:
        vault = make_bao(address=proxy.url)

        def count(action: Callable[[], object]) -> list[str]:
            proxy.requests.clear()
            action()
            return [f"{r.method} {r.path.split('?')[0].split('/v1/')[1]}" for r in proxy.requests]

        assert count(lambda: vault.set_if("staging", "NEW", "fake-1", Expect(None))) == [
            "POST secret/data/myapp/staging/NEW", "POST secret/metadata/myapp/staging/NEW"]
        assert count(lambda: vault.set("staging", "NEW", "fake-2")) == [
            "GET secret/metadata/myapp/staging/NEW", "POST secret/data/myapp/staging/NEW"]
        assert count(lambda: vault.set("staging", "FRESH", "fake-1")) == [
            "GET secret/metadata/myapp/staging/FRESH", "POST secret/data/myapp/staging/FRESH",
            "POST secret/metadata/myapp/staging/FRESH"]
        assert count(lambda: vault.get("staging", "NEW")) == ["GET secret/data/myapp/staging/NEW"]
        for i in range(10):
            vault.set_if("staging", f"K{i}", "fake", Expect(None))
        listed = count(lambda: vault.list("staging"))
        assert listed[0] == "GET secret/metadata/myapp/staging/" and len(listed) == 1 + 12
        assert count(lambda: vault.delete("staging", "NEW")) == [
            "GET secret/metadata/myapp/staging/NEW", "POST secret/delete/myapp/staging/NEW"]
