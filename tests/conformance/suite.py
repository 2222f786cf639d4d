"""The driver conformance suite: every driver must behave the same through the Vault interface.

Plug a driver in with a subclass that provides a `vault` fixture (a fresh, empty vault):

    class TestLocal(ConformanceSuite):
        @pytest.fixture
        def vault(self, tmp_path): ...

Capabilities come from the driver's registry declaration (`capabilities.restore`,
`capabilities.accepts_plain`...), so a driver cannot claim one it does not pass.
"""

from __future__ import annotations

import pytest

from keep_secrets.model import Conflict, NotFound
from keep_secrets.vaults.base import Vault

NASTY_VALUES = [
    "simple",
    "with spaces and 'single' and \"double\" quotes",
    "dollar $HOME ${HOME} and backslash \\n \\ end",
    "multi\nline\nvalue\n",
    "-----BEGIN FAKE KEY-----\nMIIBfakefakefake\n-----END FAKE KEY-----",
    "unicode: ümlaut 漢字 emoji 🔐",
    "=#;&|<>`!*?[]{}~",
    "  leading and trailing spaces  ",
]


class ConformanceSuite:
    stage = "staging"
    other_stage = "production"

    @pytest.fixture
    def vault(self) -> Vault:  # pragma: no cover - overridden by each driver
        raise NotImplementedError

    # -- set / get ---------------------------------------------------------------------------
    def test_set_new_then_get(self, vault: Vault) -> None:
        result = vault.set(self.stage, "DB_PASSWORD", "fake-db-pass-123")
        assert result.created is True
        assert result.revision
        secret = vault.get(self.stage, "DB_PASSWORD")
        assert secret.key == "DB_PASSWORD"
        assert secret.value == "fake-db-pass-123"
        assert secret.stage == self.stage
        assert secret.vault == vault.slug
        assert secret.revision == result.revision
        assert secret.secure is True

    def test_update_reports_updated_and_new_revision(self, vault: Vault) -> None:
        first = vault.set(self.stage, "API_KEY", "fake-one")
        second = vault.set(self.stage, "API_KEY", "fake-two")
        assert second.created is False
        assert second.revision != first.revision
        assert vault.get(self.stage, "API_KEY").value == "fake-two"

    @pytest.mark.parametrize("value", NASTY_VALUES)
    def test_values_round_trip_exactly(self, vault: Vault, value: str) -> None:
        vault.set(self.stage, "NASTY", value)
        assert vault.get(self.stage, "NASTY").value == value

    def test_get_missing_is_not_found(self, vault: Vault) -> None:
        with pytest.raises(NotFound):
            vault.get(self.stage, "NOPE_NOT_THERE")
        assert vault.exists(self.stage, "NOPE_NOT_THERE") is False

    def test_key_case_and_dashes_are_kept(self, vault: Vault) -> None:
        vault.set(self.stage, "mixed-Case_key", "fake-v")
        assert [s.key for s in vault.list(self.stage)] == ["mixed-Case_key"]
        with pytest.raises(NotFound):
            vault.get(self.stage, "MIXED-CASE_KEY")

    def test_typed_capabilities_match_the_declaration(self, vault: Vault) -> None:
        caps = vault.capabilities
        assert (vault.replication() is not None) == caps.replication
        assert (vault.lambda_rotation() is not None) == caps.lambda_rotation
        assert (vault.deleted_listing() is not None) == caps.list_deleted
        assert caps.restore or not caps.list_deleted
        assert vault.declaration.vault_class is type(vault)

    def test_plain_values_when_supported(self, vault: Vault) -> None:
        if not vault.capabilities.accepts_plain:
            pytest.skip(f"{vault.driver} always encrypts")
        vault.set(self.stage, "PLAIN_ONE", "fake-plain", secure=False)
        assert vault.get(self.stage, "PLAIN_ONE").secure is False

    # -- list --------------------------------------------------------------------------------
    def test_list_is_sorted_and_isolated_by_stage(self, vault: Vault) -> None:
        for key in ("ZED", "ALPHA", "MIDDLE"):
            vault.set(self.stage, key, f"fake-{key.lower()}")
        vault.set(self.other_stage, "OTHER_STAGE_ONLY", "fake-other")
        listed = vault.list(self.stage)
        assert [s.key for s in listed] == ["ALPHA", "MIDDLE", "ZED"]
        assert {s.value for s in listed} == {"fake-alpha", "fake-middle", "fake-zed"}
        assert all(s.stage == self.stage and s.vault == vault.slug for s in listed)
        assert [s.key for s in vault.list(self.other_stage)] == ["OTHER_STAGE_ONLY"]

    def test_list_of_empty_stage(self, vault: Vault) -> None:
        assert vault.list(self.stage) == []

    def test_list_many_pages(self, vault: Vault) -> None:
        keys = [f"KEY_{i:03d}" for i in range(45)]
        for key in keys:
            vault.set(self.stage, key, f"fake-{key}")
        listed = vault.list(self.stage)
        assert [s.key for s in listed] == keys
        assert all(s.value == f"fake-{s.key}" for s in listed)

    # -- delete / restore --------------------------------------------------------------------
    def test_delete_then_get_is_not_found(self, vault: Vault) -> None:
        vault.set(self.stage, "TO_DELETE", "fake-v")
        vault.delete(self.stage, "TO_DELETE")
        with pytest.raises(NotFound):
            vault.get(self.stage, "TO_DELETE")
        assert "TO_DELETE" not in [s.key for s in vault.list(self.stage)]

    def test_delete_missing_is_not_found(self, vault: Vault) -> None:
        with pytest.raises(NotFound):
            vault.delete(self.stage, "NEVER_EXISTED")

    def test_restore_after_delete(self, vault: Vault) -> None:
        if not vault.capabilities.restore:
            pytest.skip(f"{vault.driver} deletes at once")
        vault.set(self.stage, "COMEBACK", "fake-back")
        vault.delete(self.stage, "COMEBACK")
        vault.restore(self.stage, "COMEBACK")
        assert vault.get(self.stage, "COMEBACK").value == "fake-back"

    def test_write_to_deleted_key_is_refused_until_restored(self, vault: Vault) -> None:
        if not vault.capabilities.restore:
            pytest.skip(f"{vault.driver} deletes at once")
        vault.set(self.stage, "PENDING", "fake-v")
        vault.delete(self.stage, "PENDING")
        with pytest.raises(Conflict):
            vault.set(self.stage, "PENDING", "fake-new")

    def test_deleted_keys_are_listed_until_restored_or_purged(self, vault: Vault) -> None:
        listing = vault.deleted_listing()
        if listing is None:
            pytest.skip(f"{vault.driver} cannot list deleted secrets")
        assert listing.deleted(self.stage) == []
        for key in ("GONE_B", "GONE_A", "BACK", "PURGED_NOW", "STAYS"):
            vault.set(self.stage, key, f"fake-{key.lower()}")
        vault.set(self.other_stage, "GONE_B", "fake-other-stage")
        for key in ("GONE_B", "GONE_A", "BACK", "PURGED_NOW"):
            vault.delete(self.stage, key)
        vault.delete(self.other_stage, "GONE_B")
        vault.restore(self.stage, "BACK")
        vault.delete(self.stage, "PURGED_NOW", purge=True)
        listed = listing.deleted(self.stage)
        assert [d.key for d in listed] == ["GONE_A", "GONE_B"]
        assert all(d.stage == self.stage and d.vault == vault.slug for d in listed)
        assert [d.name for d in listed] == [vault.remote_name(self.stage, k) for k in ("GONE_A", "GONE_B")]
        assert all(d.deleted is not None and d.deleted.tzinfo is not None for d in listed)
        assert [d.key for d in listing.deleted(self.other_stage)] == ["GONE_B"]
        vault.restore(self.stage, listed[0].key)  # what is listed can be restored
        assert vault.get(self.stage, "GONE_A").value == "fake-gone_a"
        assert [d.key for d in listing.deleted(self.stage)] == ["GONE_B"]

    def test_purge_deletes_at_once_and_key_can_be_reused(self, vault: Vault) -> None:
        vault.set(self.stage, "PURGED", "fake-v")
        vault.delete(self.stage, "PURGED", purge=True)
        with pytest.raises(NotFound):
            vault.get(self.stage, "PURGED")
        if vault.capabilities.restore:
            with pytest.raises((NotFound, Conflict)):
                vault.restore(self.stage, "PURGED")
        result = vault.set(self.stage, "PURGED", "fake-again")
        assert vault.get(self.stage, "PURGED").value == "fake-again"
        assert result.revision

    # -- history / rollback ------------------------------------------------------------------
    def test_history_newest_first_with_values(self, vault: Vault) -> None:
        for value in ("fake-v1", "fake-v2", "fake-v3"):
            vault.set(self.stage, "HIST", value)
        history = vault.history(self.stage, "HIST")
        assert [v.value for v in history] == ["fake-v3", "fake-v2", "fake-v1"]
        assert history[0].current is True
        assert not any(v.current for v in history[1:])
        assert len({v.version for v in history}) == 3

    def test_history_limit(self, vault: Vault) -> None:
        for i in range(4):
            vault.set(self.stage, "HLIM", f"fake-{i}")
        assert [v.value for v in vault.history(self.stage, "HLIM", limit=2)] == ["fake-3", "fake-2"]

    def test_history_of_missing_key(self, vault: Vault) -> None:
        with pytest.raises(NotFound):
            vault.history(self.stage, "NO_HISTORY")

    def test_get_by_version(self, vault: Vault) -> None:
        first = vault.set(self.stage, "VERSIONED", "fake-old")
        vault.set(self.stage, "VERSIONED", "fake-new")
        assert vault.get(self.stage, "VERSIONED", version=first.revision).value == "fake-old"
        assert vault.get(self.stage, "VERSIONED").value == "fake-new"

    def test_rollback_makes_old_value_current(self, vault: Vault) -> None:
        first = vault.set(self.stage, "ROLL", "fake-good")
        vault.set(self.stage, "ROLL", "fake-bad")
        vault.rollback(self.stage, "ROLL", first.revision)
        assert vault.get(self.stage, "ROLL").value == "fake-good"
        # drivers differ in how (a new version, or a moved label) but the current one is good
        current = [v for v in vault.history(self.stage, "ROLL") if v.current]
        assert [v.value for v in current] == ["fake-good"]

    def test_rollback_to_missing_version(self, vault: Vault) -> None:
        vault.set(self.stage, "ROLL2", "fake-v")
        with pytest.raises(NotFound):
            vault.rollback(self.stage, "ROLL2", "999999")
