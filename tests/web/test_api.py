"""Each JSON endpoint of the web UI, in process, checked against the real CLI where the
change must be visible to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from keep_secrets.formats.mask import mask
from tests.conftest import KeepRunner

from .conftest import FAKE_API, FAKE_DB, FAKE_STAGING_DB

LOCAL = {"vault": "local", "stage": "local"}


def _rev(client: TestClient, key: str, stage: str = "local", vault: str = "local") -> str:
    """The revision an editor starts from (read without revealing the value)."""
    response = client.get("/api/secret", params={"vault": vault, "stage": stage, "key": key, "masked": "1"})
    assert response.status_code == 200, response.text
    data = response.json()["secret"]
    assert data["masked"] is True
    return str(data["revision"])


def _get_value(client: TestClient, key: str, stage: str = "local") -> str:
    response = client.get("/api/secret", params={"stage": stage, "key": key})
    assert response.status_code == 200, response.text
    return str(response.json()["secret"]["value"])


# -- context -------------------------------------------------------------------------------

def test_context_describes_project(client: TestClient) -> None:
    data = client.get("/api/context").json()
    assert data["namespace"] == "webdemo"
    assert data["stages"] == ["local", "staging", "production"]
    assert data["default_vault"] == "local"
    assert [v["slug"] for v in data["vaults"]] == ["local"]
    assert data["vaults"][0]["default"] is True


def test_info_is_the_cli_info_object(client: TestClient, web_project: Path) -> None:
    data = client.get("/api/info").json()
    assert data["root"] == str(web_project)
    assert data["settings"]["namespace"] == "webdemo"


# -- list, search, reveal ------------------------------------------------------------------

def test_list_masks_every_value(client: TestClient) -> None:
    data = client.get("/api/secrets", params=LOCAL).json()
    assert {s["key"]: s["value"] for s in data["secrets"]} == {"API_KEY": mask(FAKE_API), "DB_PASSWORD": mask(FAKE_DB)}
    assert all(s["masked"] for s in data["secrets"])
    assert data["supports_restore"] is True


def test_default_vault_is_used_when_none_given(client: TestClient) -> None:
    data = client.get("/api/secrets", params={"stage": "staging"}).json()
    assert data["vault"] == "local"
    assert [s["key"] for s in data["secrets"]] == ["DB_PASSWORD"]


def test_search_values_keys_and_both(client: TestClient) -> None:
    def keys(**params: str) -> list[str]:
        response = client.get("/api/secrets", params={"stage": "local", **params})
        assert response.status_code == 200, response.text
        return [s["key"] for s in response.json()["secrets"]]

    assert keys(q="api-key") == ["API_KEY"]
    assert keys(q="API") == ["API_KEY"]  # values, case-insensitive
    assert keys(q="API", case="1") == []
    assert keys(q="db_", **{"in": "keys"}) == ["DB_PASSWORD"]
    assert keys(q="fake", **{"in": "both"}) == ["API_KEY", "DB_PASSWORD"]
    assert keys(only="DB_*") == ["DB_PASSWORD"]
    assert client.get("/api/secrets", params={"stage": "local", "q": "x", "in": "nowhere"}).status_code == 400


def test_reveal_returns_the_value(client: TestClient) -> None:
    data = client.get("/api/secret", params={"stage": "local", "key": "DB_PASSWORD"}).json()["secret"]
    assert data["value"] == FAKE_DB
    assert data["masked"] is False
    assert data["vault"] == "local" and data["stage"] == "local"


def test_reveal_errors(client: TestClient) -> None:
    missing = client.get("/api/secret", params={"stage": "local", "key": "NOPE"})
    assert missing.status_code == 404
    assert "NOPE" in missing.json()["error"]
    assert client.get("/api/secret", params={"stage": "local", "key": "bad key"}).status_code == 400
    assert client.get("/api/secret", params={"stage": "local"}).status_code == 400
    bad_stage = client.get("/api/secret", params={"stage": "prod", "key": "DB_PASSWORD"})
    assert bad_stage.status_code == 400
    assert "configured stages" in bad_stage.json()["error"]
    bad_vault = client.get("/api/secret", params={"stage": "local", "vault": "ssm", "key": "DB_PASSWORD"})
    assert bad_vault.status_code == 400


def test_reveal_a_json_field(client: TestClient) -> None:
    body = {**LOCAL, "key": "DB_JSON", "value": '{"user": "fake-user", "password": "fake-pw-1"}'}
    assert client.post("/api/secret", json=body).status_code == 201
    data = client.get("/api/secret", params={"stage": "local", "key": "DB_JSON", "field": "password"}).json()
    assert data["secret"]["value"] == "fake-pw-1"


# -- create, update ------------------------------------------------------------------------

def test_create_is_seen_by_the_cli(client: TestClient, cli: KeepRunner) -> None:
    response = client.post("/api/secret", json={**LOCAL, "key": "NEW_KEY", "value": "fake-new-value-1"})
    assert response.status_code == 201
    assert response.json()["created"] is True
    assert cli.ok("get", "NEW_KEY", "--stage", "local", "--format", "raw").stdout == "fake-new-value-1\n"


def test_create_refuses_an_existing_key(client: TestClient) -> None:
    response = client.post("/api/secret", json={**LOCAL, "key": "DB_PASSWORD", "value": "fake-other"})
    assert response.status_code == 409
    assert _get_value(client, "DB_PASSWORD") == FAKE_DB


def test_create_validates_every_input_and_writes_nothing(client: TestClient, cli: KeepRunner) -> None:
    cases = [
        ({**LOCAL, "key": "../../etc/passwd", "value": "x"}, "Invalid key"),
        ({**LOCAL, "key": "-LEADING", "value": "x"}, "Invalid key"),
        ({**LOCAL, "key": "K" * 256, "value": "x"}, "too long"),
        ({**LOCAL, "key": "", "value": "x"}, "key"),
        ({**LOCAL, "key": "GOOD_KEY"}, "value"),
        ({**LOCAL, "key": "GOOD_KEY", "value": 5}, "value"),
        ({**LOCAL, "key": "GOOD_KEY", "value": "a\x00b"}, "NUL"),
        ({**LOCAL, "key": 7, "value": "x"}, "string"),
        ({"vault": "local", "stage": "prod", "key": "GOOD_KEY", "value": "x"}, "Unknown stage"),
        ({"vault": "nope", "stage": "local", "key": "GOOD_KEY", "value": "x"}, "Unknown vault"),
        ({"vault": "local", "key": "GOOD_KEY", "value": "x"}, "stage"),
        ({**LOCAL, "key": "GOOD_KEY", "value": "x", "secure": "maybe"}, "true or false"),
    ]
    for body, message in cases:
        response = client.post("/api/secret", json=body)
        assert response.status_code == 400, (body, response.text)
        assert message in response.json()["error"], (body, response.json())
    shown = cli.ok("show", "--stage", "local", "--format", "json").json()
    assert isinstance(shown, list)
    assert sorted(s["key"] for s in shown) == ["API_KEY", "DB_PASSWORD"]


def test_update_changes_value_and_keeps_history(client: TestClient) -> None:
    body = {**LOCAL, "key": "DB_PASSWORD", "value": "fake-db-pass-456", "revision": _rev(client, "DB_PASSWORD")}
    response = client.put("/api/secret", json=body)
    assert response.status_code == 200
    assert response.json()["changed"] is True
    assert _get_value(client, "DB_PASSWORD") == "fake-db-pass-456"
    same = client.put("/api/secret", json={**body, "revision": response.json()["revision"]})
    assert same.json()["changed"] is False
    versions = client.get("/api/secret/history", params={"stage": "local", "key": "DB_PASSWORD"}).json()["versions"]
    assert len(versions) == 2


def test_update_of_a_missing_key_is_404(client: TestClient) -> None:
    response = client.put("/api/secret", json={**LOCAL, "key": "MISSING_KEY", "value": "fake", "revision": "1"})
    assert response.status_code == 404


def test_plain_values_on_the_local_vault(client: TestClient) -> None:
    response = client.post("/api/secret", json={**LOCAL, "key": "PLAIN_KEY", "value": "fake-plain", "secure": False})
    assert response.status_code == 201
    data = client.get("/api/secret", params={"stage": "local", "key": "PLAIN_KEY"}).json()["secret"]
    assert data["secure"] is False


# -- revisions: no silent overwrite ------------------------------------------------------------

def test_two_tabs_editing_the_same_secret_get_409_not_a_lost_update(client: TestClient, cli: KeepRunner) -> None:
    start = _rev(client, "DB_PASSWORD")  # tab A opens Edit
    tab_b = {**LOCAL, "key": "DB_PASSWORD", "value": "fake-from-tab-b-0001", "revision": start}
    assert client.put("/api/secret", json=tab_b).status_code == 200
    tab_a = {**LOCAL, "key": "DB_PASSWORD", "value": "fake-from-tab-a-0002", "revision": start}
    stale = client.put("/api/secret", json=tab_a)
    assert stale.status_code == 409
    data = stale.json()
    conflict = data["conflict"]
    assert conflict["expected"] == start and conflict["current"]["revision"] != start
    assert conflict["current"]["value"] == mask("fake-from-tab-b-0001")
    assert conflict["yours"] == mask("fake-from-tab-a-0002")
    assert "fake-from-tab" not in stale.text  # both values masked
    assert cli.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == "fake-from-tab-b-0001\n"
    # "overwrite": resend naming the revision the 409 reported
    again = client.put("/api/secret", json={**tab_a, "revision": conflict["current"]["revision"]})
    assert again.status_code == 200
    assert cli.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == "fake-from-tab-a-0002\n"


def test_edit_after_a_cli_change_is_409(client: TestClient, cli: KeepRunner) -> None:
    start = _rev(client, "API_KEY")
    cli.ok("set", "API_KEY", "fake-changed-by-cli-123", "--stage", "local")
    body = {**LOCAL, "key": "API_KEY", "value": "fake-web-value-456", "revision": start}
    assert client.put("/api/secret", json=body).status_code == 409
    assert client.delete("/api/secret", params={**LOCAL, "key": "API_KEY", "revision": start}).status_code == 409
    body = {**LOCAL, "key": "API_KEY", "new_key": "API_TOKEN", "revision": start}
    rename = client.post("/api/secret/rename", json=body)
    assert rename.status_code == 409
    assert rename.json()["conflict"]["current"]["value"] == mask("fake-changed-by-cli-123")
    assert cli.ok("get", "API_KEY", "--stage", "local", "--format", "raw").stdout == "fake-changed-by-cli-123\n"
    assert cli("get", "API_TOKEN", "--stage", "local").code == 3


def test_every_edit_must_name_its_revision(client: TestClient) -> None:
    for method, path, body in (
        ("PUT", "/api/secret", {**LOCAL, "key": "DB_PASSWORD", "value": "fake-no-revision"}),
        ("POST", "/api/secret/rename", {**LOCAL, "key": "DB_PASSWORD", "new_key": "DB_PASS"}),
    ):
        response = client.request(method, path, json=body)
        assert response.status_code == 400 and "revision" in response.json()["error"], path
    assert client.delete("/api/secret", params={**LOCAL, "key": "DB_PASSWORD"}).status_code == 400
    assert _get_value(client, "DB_PASSWORD") == FAKE_DB


def test_edit_of_a_key_deleted_elsewhere_is_404(client: TestClient, cli: KeepRunner) -> None:
    start = _rev(client, "API_KEY")
    cli.ok("delete", "API_KEY", "--stage", "local", "--force")
    body = {**LOCAL, "key": "API_KEY", "value": "fake-resurrected", "revision": start}
    assert client.put("/api/secret", json=body).status_code == 404
    assert cli("get", "API_KEY", "--stage", "local").code == 3  # not silently re-created


def test_concurrent_saves_from_one_revision_exactly_one_wins(client: TestClient) -> None:
    from concurrent.futures import ThreadPoolExecutor

    start = _rev(client, "DB_PASSWORD")

    def save(n: int) -> int:
        body = {**LOCAL, "key": "DB_PASSWORD", "value": f"fake-concurrent-{n:02d}", "revision": start}
        return client.put("/api/secret", json=body).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(save, range(6)))
    assert statuses == [200] + [409] * 5
    versions = client.get("/api/secret/history", params={**LOCAL, "key": "DB_PASSWORD"}).json()["versions"]
    assert len(versions) == 2


# -- delete, restore -----------------------------------------------------------------------

def test_delete_then_restore(client: TestClient, cli: KeepRunner) -> None:
    where = {"stage": "local", "key": "API_KEY", "revision": _rev(client, "API_KEY")}
    response = client.delete("/api/secret", params=where)
    assert response.status_code == 200
    assert response.json()["restorable"] is True
    assert cli("get", "API_KEY", "--stage", "local").code == 3
    restored = client.post("/api/secret/restore", json={**LOCAL, "key": "API_KEY"})
    assert restored.status_code == 200
    assert _get_value(client, "API_KEY") == FAKE_API


def test_deleted_list_is_the_stores_whoever_deleted(client: TestClient, cli: KeepRunner) -> None:
    listed = client.get("/api/secrets/deleted", params=LOCAL).json()
    assert (listed["deleted"], listed["complete"], listed["supports_restore"]) == ([], True, True)
    client.delete("/api/secret", params={**LOCAL, "key": "API_KEY", "revision": _rev(client, "API_KEY")})
    cli.ok("delete", "DB_PASSWORD", "--stage", "local", "--force")  # not through this server
    listed = client.get("/api/secrets/deleted", params=LOCAL).json()
    assert [d["key"] for d in listed["deleted"]] == ["DB_PASSWORD", "API_KEY"]  # newest first
    assert [d["name"] for d in listed["deleted"]] == ["local/DB_PASSWORD", "local/API_KEY"]
    assert all(d["deleted"].endswith("Z") for d in listed["deleted"])
    assert FAKE_API not in json.dumps(listed) and FAKE_DB not in json.dumps(listed)
    cli.ok("restore", "DB_PASSWORD", "--stage", "local")
    assert [d["key"] for d in client.get("/api/secrets/deleted", params=LOCAL).json()["deleted"]] == ["API_KEY"]
    cli.ok("delete", "API_KEY", "--stage", "local", "--force", "--purge")
    assert client.get("/api/secrets/deleted", params=LOCAL).json()["deleted"] == []
    assert client.get("/api/secrets/deleted", params={**LOCAL, "stage": "nope"}).status_code == 400


def test_delete_missing_is_404_and_purge_is_final(client: TestClient) -> None:
    assert client.delete("/api/secret", params={"stage": "local", "key": "NOPE", "revision": "1"}).status_code == 404
    purged = client.delete("/api/secret", params={"stage": "local", "key": "API_KEY", "purge": "1"})
    assert purged.json()["restorable"] is False
    assert client.post("/api/secret/restore", json={**LOCAL, "key": "API_KEY"}).status_code == 404


# -- rename, copy --------------------------------------------------------------------------

def test_rename(client: TestClient) -> None:
    response = client.post("/api/secret/rename", json={**LOCAL, "key": "API_KEY", "new_key": "API_TOKEN",
                                                       "revision": _rev(client, "API_KEY")})
    assert response.status_code == 200
    assert _get_value(client, "API_TOKEN") == FAKE_API
    assert client.get("/api/secret", params={"stage": "local", "key": "API_KEY"}).status_code == 404


def test_rename_refuses_existing_target_unless_overwrite(client: TestClient) -> None:
    body = {**LOCAL, "key": "API_KEY", "new_key": "DB_PASSWORD", "revision": _rev(client, "API_KEY")}
    assert client.post("/api/secret/rename", json=body).status_code == 409
    assert _get_value(client, "DB_PASSWORD") == FAKE_DB
    assert client.post("/api/secret/rename", json={**body, "overwrite": True}).status_code == 200
    assert _get_value(client, "DB_PASSWORD") == FAKE_API
    bad_name = {**LOCAL, "key": "DB_PASSWORD", "new_key": "bad/name", "revision": "1"}
    bad = client.post("/api/secret/rename", json=bad_name)
    assert bad.status_code == 400


def test_copy_to_another_stage(client: TestClient) -> None:
    body = {**LOCAL, "key": "API_KEY", "to_stage": "production"}
    dry = client.post("/api/secret/copy", json={**body, "dry_run": True})
    assert dry.status_code == 200 and dry.json()["outcome"] == "would create"
    assert client.get("/api/secret", params={"stage": "production", "key": "API_KEY"}).status_code == 404
    done = client.post("/api/secret/copy", json=body)
    assert done.json()["outcome"] == "created"
    assert _get_value(client, "API_KEY", "production") == FAKE_API
    again = client.post("/api/secret/copy", json=body)
    assert again.json()["outcome"] == "unchanged"


def test_copy_protects_a_different_destination_value(client: TestClient) -> None:
    body = {**LOCAL, "key": "DB_PASSWORD", "to_stage": "staging"}
    conflict = client.post("/api/secret/copy", json=body)
    assert conflict.status_code == 409
    assert _get_value(client, "DB_PASSWORD", "staging") == FAKE_STAGING_DB
    assert client.post("/api/secret/copy", json={**body, "overwrite": True}).json()["outcome"] == "updated"
    assert _get_value(client, "DB_PASSWORD", "staging") == FAKE_DB
    same = client.post("/api/secret/copy", json={**LOCAL, "key": "DB_PASSWORD", "to_stage": "local"})
    assert same.status_code == 400


# -- history, rollback ---------------------------------------------------------------------

def test_history_is_masked_newest_first_and_rollback_restores(client: TestClient) -> None:
    client.put("/api/secret", json={**LOCAL, "key": "DB_PASSWORD", "value": "fake-db-pass-second",
                                    "revision": _rev(client, "DB_PASSWORD")})
    versions = client.get("/api/secret/history", params={"stage": "local", "key": "DB_PASSWORD"}).json()["versions"]
    assert [v["current"] for v in versions] == [True, False]
    assert versions[0]["value"] == mask("fake-db-pass-second")
    assert versions[1]["value"] == mask(FAKE_DB)
    old = versions[1]["version"]
    revealed = client.get("/api/secret", params={"stage": "local", "key": "DB_PASSWORD", "version": old})
    assert revealed.json()["secret"]["value"] == FAKE_DB
    rolled = client.post("/api/secret/rollback", json={**LOCAL, "key": "DB_PASSWORD", "version": old})
    assert rolled.status_code == 200
    assert _get_value(client, "DB_PASSWORD") == FAKE_DB
    assert client.post("/api/secret/rollback", json={**LOCAL, "key": "DB_PASSWORD"}).status_code == 400
    assert client.get("/api/secret/history", params={"stage": "local", "key": "NOPE"}).status_code in (200, 404)


# -- diff ----------------------------------------------------------------------------------

def test_diff_matrix_is_masked(client: TestClient) -> None:
    data = client.get("/api/diff", params={"stages": "local,staging"}).json()
    assert data["columns"] == ["local:local", "local:staging"]
    rows = {r["key"]: r for r in data["rows"]}
    assert rows["DB_PASSWORD"]["status"] == "different"
    assert rows["DB_PASSWORD"]["values"] == {"local:local": mask(FAKE_DB), "local:staging": mask(FAKE_STAGING_DB)}
    assert rows["API_KEY"]["status"] == "incomplete"
    assert rows["API_KEY"]["values"]["local:staging"] is None
    assert data["counts"] == {"identical": 0, "different": 1, "incomplete": 1}
    assert FAKE_DB not in str(data)


def test_diff_rejects_unknown_stage(client: TestClient) -> None:
    assert client.get("/api/diff", params={"stages": "local,prod"}).status_code == 400


# -- import --------------------------------------------------------------------------------

ENV_TEXT = "NEW_ONE=fake-new-1\nDB_PASSWORD=fake-db-conflict\nAPI_KEY=" + FAKE_API + "\nEMPTY=\nbad.key=x\n"


def test_import_preview_reports_every_key(client: TestClient) -> None:
    response = client.post("/api/import/preview", json={**LOCAL, "content": ENV_TEXT})
    assert response.status_code == 200, response.text
    data = response.json()
    actions = {i["key"]: i["action"] for i in data["items"]}
    assert actions == {
        "NEW_ONE": "create", "DB_PASSWORD": "conflict", "API_KEY": "unchanged", "EMPTY": "skip", "bad.key": "invalid",
    }
    conflict = next(i for i in data["items"] if i["key"] == "DB_PASSWORD")
    assert conflict["existing"] == mask(FAKE_DB) and conflict["value"] == mask("fake-db-conflict")
    assert data["conflicts"] == 1
    assert "fake-db-conflict" not in response.text


def test_import_apply_refuses_conflicts_and_writes_nothing(client: TestClient) -> None:
    response = client.post("/api/import/apply", json={**LOCAL, "content": ENV_TEXT})
    assert response.status_code == 409
    assert "nothing was written" in response.json()["error"]
    assert client.get("/api/secret", params={"stage": "local", "key": "NEW_ONE"}).status_code == 404


def test_import_dry_run_writes_nothing(client: TestClient) -> None:
    response = client.post("/api/import/apply", json={**LOCAL, "content": ENV_TEXT, "dry_run": True})
    assert response.status_code == 200
    outcomes = {i["key"]: i["outcome"] for i in response.json()["items"]}
    assert outcomes["NEW_ONE"] == "would create" and outcomes["DB_PASSWORD"] == "conflict"
    assert client.get("/api/secret", params={"stage": "local", "key": "NEW_ONE"}).status_code == 404


def test_import_apply_with_overwrite_and_skip(client: TestClient) -> None:
    skip = client.post("/api/import/apply", json={**LOCAL, "content": ENV_TEXT, "mode": "skip"}).json()
    outcomes = {i["key"]: i["outcome"] for i in skip["items"]}
    assert outcomes["NEW_ONE"] == "created" and outcomes["DB_PASSWORD"] == "skipped"
    assert outcomes["bad.key"] == "failed"
    assert skip["ok"] is False  # the invalid key is reported, not dropped
    assert _get_value(client, "DB_PASSWORD") == FAKE_DB
    body = {**LOCAL, "content": ENV_TEXT, "mode": "overwrite", "except": "bad.key"}
    over = client.post("/api/import/apply", json=body)
    data = over.json()
    assert data["ok"] is True, data
    assert _get_value(client, "DB_PASSWORD") == "fake-db-conflict"


def test_import_json_and_errors(client: TestClient) -> None:
    json_text = '{"JSON_KEY": "fake-json-1", "NUM": 5}'
    data = client.post("/api/import/preview", json={**LOCAL, "content": json_text}).json()
    assert data["format"] == "json" and {i["key"] for i in data["items"]} == {"JSON_KEY", "NUM"}
    bad = client.post("/api/import/preview", json={**LOCAL, "content": "A='unclosed\n"})
    assert bad.status_code == 200 and bad.json()["bad_lines"] == [1] and bad.json()["items"] == []
    broken_json = client.post("/api/import/preview", json={**LOCAL, "content": '{"A": '})
    assert broken_json.status_code == 400 and "invalid JSON" in broken_json.json()["error"]
    assert client.post("/api/import/preview", json={**LOCAL, "content": "  "}).status_code == 400
    assert client.post("/api/import/preview", json={**LOCAL, "content": "A=b", "mode": "yolo"}).status_code == 400


# -- export --------------------------------------------------------------------------------

def test_export_preview_is_masked_and_reveal_is_exact(client: TestClient) -> None:
    preview = client.post("/api/export", json={**LOCAL, "format": "env"}).json()
    assert preview["masked"] is True and preview["count"] == 2
    assert FAKE_DB not in preview["content"] and "DB_PASSWORD=" in preview["content"]
    real = client.post("/api/export", json={**LOCAL, "format": "env", "reveal": True}).json()
    assert real["content"] == f"API_KEY={FAKE_API}\nDB_PASSWORD={FAKE_DB}\n"
    as_json = client.post("/api/export", json={**LOCAL, "format": "json", "reveal": True}).json()
    assert '"DB_PASSWORD": "fake-db-pass-123"' in as_json["content"]
    assert client.post("/api/export", json={**LOCAL, "format": "toml"}).status_code == 400
    assert client.get("/api/export/formats").json()["formats"][0] == "env"


def test_export_with_saved_and_unsaved_template(client: TestClient) -> None:
    template = "APP=demo\nDB={local:DB_PASSWORD}\nMISSING={local:NOPE}\n"
    saved = client.put("/api/template", json={"name": "local.env", "content": template})
    assert saved.status_code == 200
    failing = client.post("/api/export", json={"stage": "local", "template": "local.env", "reveal": True})
    assert failing.status_code == 404
    assert "NOPE" in failing.json()["error"] and "/tmp" not in failing.json()["error"]
    body = {"stage": "local", "template": "local.env", "missing": "remove", "reveal": True}
    done = client.post("/api/export", json=body)
    assert done.json()["content"] == f"APP=demo\nDB={FAKE_DB}\n"
    masked = client.post("/api/export", json={"stage": "local", "template": "local.env", "missing": "remove"}).json()
    assert masked["content"] is None and masked["count"] == 2
    body = {"stage": "staging", "content": "X={local:DB_PASSWORD}\n", "reveal": True}
    unsaved = client.post("/api/export", json=body)
    assert unsaved.json()["content"] == f"X={FAKE_STAGING_DB}\n"


# -- templates -----------------------------------------------------------------------------

def test_template_files_round_trip(client: TestClient, web_project: Path) -> None:
    assert client.get("/api/templates").json()["templates"] == []
    content = "# demo\nDB_PASSWORD={local:DB_PASSWORD}\r\n"
    assert client.put("/api/template", json={"name": "staging.env", "content": content}).status_code == 200
    assert (web_project / "env" / "staging.env").read_bytes() == content.encode()
    listed = client.get("/api/templates").json()["templates"]
    assert [(t["name"], t["stage"]) for t in listed] == [("staging.env", "staging")]
    assert client.get("/api/template", params={"name": "staging.env"}).json()["content"] == content
    assert client.delete("/api/template", params={"name": "staging.env"}).status_code == 200
    assert client.get("/api/template", params={"name": "staging.env"}).status_code == 404


def test_a_template_save_from_a_stale_revision_is_refused(client: TestClient, web_project: Path) -> None:
    """Two tabs open the same template; the first saves; the second's save, naming the revision
    it read, is a 409 that says what the file is at now, and the first's text stays."""
    (web_project / "env").mkdir(exist_ok=True)
    file = web_project / "env" / "local.env"
    file.write_text("A={local:DB_PASSWORD}\n")

    def read() -> dict[str, Any]:
        data = client.get("/api/template", params={"name": "local.env"}).json()
        assert isinstance(data, dict)
        return data

    def save(content: str, revision: str | None) -> Any:
        return client.put("/api/template", json={"name": "local.env", "content": content, "revision": revision})

    first, second = read(), read()
    assert first["revision"] == second["revision"]
    saved = save("A=first\n", first["revision"])
    assert saved.status_code == 200, saved.text
    assert saved.json()["revision"] == read()["revision"] != first["revision"]
    stale = save("A=second\n", second["revision"])
    assert stale.status_code == 409
    assert stale.json()["conflict"] == {
        "name": "local.env", "expected": second["revision"], "current": {"revision": saved.json()["revision"]}}
    assert "changed elsewhere" in stale.json()["error"]
    assert file.read_text() == "A=first\n"
    # overwriting on purpose names the revision the file is at now
    again = save("A=second\n", stale.json()["conflict"]["current"]["revision"])
    assert again.status_code == 200
    assert file.read_text() == "A=second\n"
    # changed by hand (an editor, the CLI) counts as well; deleted is a 409 with no current revision
    file.write_text("A=by-hand\n")
    assert save("B=1\n", again.json()["revision"]).status_code == 409
    file.unlink()
    gone = save("B=1\n", again.json()["revision"])
    assert gone.status_code == 409 and gone.json()["conflict"]["current"] is None
    assert "deleted" in gone.json()["error"]
    assert not file.exists()
    # without a revision (a new template, a script) it writes as before
    assert save("B=1\n", None).status_code == 200
    assert file.read_text() == "B=1\n"


def test_creating_a_template_under_a_taken_name_is_refused(client: TestClient, web_project: Path) -> None:
    """The page's New (or Generate) saved under an existing file's name overwrote that file
    silently. A create (`overwrite: false`) is now a 409 naming the file's revision, so the
    page can offer to open it or to overwrite it on purpose; a save without it writes as before."""
    (web_project / "env").mkdir(exist_ok=True)
    file = web_project / "env" / "local.env"
    file.write_text("A={local:DB_PASSWORD}\n")
    revision = client.get("/api/template", params={"name": "local.env"}).json()["revision"]

    def save(**body: Any) -> Any:
        return client.put("/api/template", json={"name": "local.env", "content": "NEW=1\n", **body})

    taken = save(overwrite=False, revision=None)
    assert taken.status_code == 409
    assert taken.json()["error"] == "Template local.env already exists"
    assert taken.json()["conflict"] == {"name": "local.env", "expected": None, "current": {"revision": revision}}
    assert file.read_text() == "A={local:DB_PASSWORD}\n"
    # overwriting on purpose names the revision the 409 reported (and is refused if it moved on)
    file.write_text("A=by-hand\n")
    assert save(revision=revision).status_code == 409
    assert file.read_text() == "A=by-hand\n"
    now = save(overwrite=False).json()["conflict"]["current"]["revision"]
    assert save(revision=now).status_code == 200
    assert file.read_text() == "NEW=1\n"
    # a free name is created; a script's save without either field writes as before
    fresh = client.put("/api/template", json={"name": "fresh.env", "content": "F=1\n", "overwrite": False})
    assert fresh.status_code == 200 and (web_project / "env" / "fresh.env").read_text() == "F=1\n"
    assert client.put("/api/template", json={"name": "local.env", "content": "SCRIPT=1\n"}).status_code == 200
    assert file.read_text() == "SCRIPT=1\n"


def test_a_template_delete_from_a_stale_revision_is_refused(client: TestClient, web_project: Path) -> None:
    """Delete from an editor opened before the file changed (another tab, an editor, the CLI)
    removed the newer file. With the revision the editor read it is a 409 that names the file's
    revision now, and the file stays; without a revision (a script) it deletes as before."""
    (web_project / "env").mkdir(exist_ok=True)
    file = web_project / "env" / "local.env"
    file.write_text("A={local:DB_PASSWORD}\n")
    opened = client.get("/api/template", params={"name": "local.env"}).json()["revision"]
    file.write_text("A=changed-elsewhere\n")
    now = client.get("/api/template", params={"name": "local.env"}).json()["revision"]

    def delete(revision: str | None) -> Any:
        params = {"name": "local.env"} | ({"revision": revision} if revision is not None else {})
        return client.delete("/api/template", params=params)

    stale = delete(opened)
    assert stale.status_code == 409
    assert "changed elsewhere" in stale.json()["error"]
    assert stale.json()["conflict"] == {"name": "local.env", "expected": opened, "current": {"revision": now}}
    assert file.read_text() == "A=changed-elsewhere\n"
    # deleting anyway names the revision the 409 reported
    assert delete(now).status_code == 200
    assert not file.exists()
    assert delete(now).status_code == 404
    # without a revision it deletes as before
    file.write_text("B=1\n")
    assert delete(None).status_code == 200
    assert not file.exists()


@pytest.mark.parametrize("outside", ["/tmp", "/", "../..", "..", "env/../../x", "~"])
def test_template_directory_must_stay_inside_the_project(client: TestClient, web_project: Path, outside: str) -> None:
    response = client.put("/api/settings", json={"template_path": outside})
    if outside == "~":  # a directory literally named "~" inside the project is fine
        assert response.status_code == 200
        return
    assert response.status_code == 400, response.text
    assert "outside the project" in response.json()["error"]
    assert client.get("/api/context").json()["template_path"] == "env"


def test_template_directory_symlinked_out_or_hand_edited_is_refused(client: TestClient, web_project: Path) -> None:
    (web_project / "linked").symlink_to(web_project.parent)
    assert client.put("/api/settings", json={"template_path": "linked"}).status_code == 400
    assert client.put("/api/settings", json={"template_path": "templates/prod"}).status_code == 200
    settings_file = web_project / ".keep" / "settings.json"
    data = json.loads(settings_file.read_text())
    data["template_path"] = "../"
    settings_file.write_text(json.dumps(data))
    (web_project.parent / "victim.env").write_text("A=1\n")
    for response in (client.get("/api/templates"), client.get("/api/template", params={"name": "victim.env"}),
                     client.delete("/api/template", params={"name": "victim.env"}),
                     client.put("/api/template", json={"name": "victim.env", "content": "B=2\n"})):
        assert response.status_code == 400, response.text
    assert (web_project.parent / "victim.env").read_text() == "A=1\n"


def test_template_names_cannot_escape_the_directory(client: TestClient, web_project: Path) -> None:
    for name in ("../evil.env", "/etc/passwd", "sub/x.env", ".hidden.env", "x.txt", "..env", "a\x00.env"):
        assert client.put("/api/template", json={"name": name, "content": "A=1\n"}).status_code == 400, name
        assert client.get("/api/template", params={"name": name}).status_code == 400, name
    outside = web_project.parent / "outside.env"
    outside.write_text("SECRET=fake-outside\n")
    (web_project / "env").mkdir(exist_ok=True)
    (web_project / "env" / "link.env").symlink_to(outside)
    assert client.get("/api/template", params={"name": "link.env"}).status_code == 400
    assert not (web_project.parent / "evil.env").exists()


def test_template_validate(client: TestClient) -> None:
    good = client.post("/api/template/validate", json={"content": "A={local:DB_PASSWORD}\n", "stage": "local"}).json()
    assert good["valid"] is True and good["placeholders"] == 1
    bad = client.post("/api/template/validate", json={"content": "A={local:NOPE}\n1X=y\n", "stage": "local"}).json()
    assert bad["valid"] is False
    assert any("NOPE" in p for p in bad["problems"]) and any("1X" in p for p in bad["problems"])
    syntax_only = client.post("/api/template/validate", json={"content": "A={local:NOPE}\n"}).json()
    assert syntax_only["valid"] is True


def test_template_generate(client: TestClient) -> None:
    data = client.post("/api/template/generate", json={"stage": "local"}).json()
    assert data["name"] == "local.env"
    assert "API_KEY={local:API_KEY}" in data["content"] and "DB_PASSWORD={local:DB_PASSWORD}" in data["content"]
    assert client.post("/api/template/generate", json={"stage": "production"}).status_code == 404


# -- settings, stages, vaults, workspace, verify -------------------------------------------

def test_settings_update_and_namespace_is_protected(client: TestClient, cli: KeepRunner) -> None:
    data = client.put("/api/settings", json={"app_name": "Renamed Demo"}).json()
    assert data["app_name"] == "Renamed Demo"
    assert "Renamed Demo" in cli.ok("info").stdout + cli.ok("info").stderr
    refused = client.put("/api/settings", json={"namespace": "other"})
    assert refused.status_code == 400
    assert client.get("/api/context").json()["namespace"] == "webdemo"
    assert client.put("/api/settings", json={"default_vault": "nope"}).status_code == 400


def test_stages_add_and_remove(client: TestClient) -> None:
    added = client.post("/api/stages", json={"name": "qa"})
    assert added.status_code == 201 and "qa" in added.json()["context"]["stages"]
    assert client.post("/api/stages", json={"name": "qa"}).status_code == 409
    assert client.post("/api/stages", json={"name": "Bad Stage"}).status_code == 400
    assert client.delete("/api/stages", params={"name": "production"}).status_code == 400
    assert client.delete("/api/stages", params={"name": "nope"}).status_code == 404
    assert "qa" not in client.delete("/api/stages", params={"name": "qa"}).json()["context"]["stages"]


def test_vaults_add_edit_default_delete(client: TestClient, web_project: Path) -> None:
    added = client.post("/api/vaults", json={"driver": "local", "slug": "team", "name": "Team vault"})
    assert added.status_code == 201, added.text
    assert (web_project / ".keep" / "vaults" / "team.json").exists()
    assert client.post("/api/vaults", json={"driver": "local", "slug": "team"}).status_code == 409
    assert client.post("/api/vaults", json={"driver": "nope", "slug": "x"}).status_code == 400
    assert client.post("/api/vaults", json={"driver": "ssm", "slug": "ssm", "region": "mars"}).status_code == 400
    edited = client.put("/api/vaults", json={"slug": "team", "name": "Team (renamed)"}).json()
    assert next(v for v in edited["context"]["vaults"] if v["slug"] == "team")["name"] == "Team (renamed)"
    secret = {"vault": "team", "stage": "local", "key": "T", "value": "fake-t"}
    assert client.post("/api/secret", json=secret).status_code == 201
    assert client.delete("/api/vaults", params={"slug": "local"}).status_code == 409  # the default
    assert client.put("/api/settings", json={"default_vault": "team"}).json()["default_vault"] == "team"
    assert client.delete("/api/vaults", params={"slug": "local"}).status_code == 200
    assert [v["slug"] for v in client.get("/api/context").json()["vaults"]] == ["team"]


def test_add_ssm_vault_config_only(client: TestClient, web_project: Path) -> None:
    response = client.post("/api/vaults", json={
        "driver": "ssm", "slug": "ssm", "name": "SSM", "region": "eu-west-1", "tier": "advanced", "scope": "team-a"})
    assert response.status_code == 201, response.text
    vault = next(v for v in response.json()["context"]["vaults"] if v["slug"] == "ssm")
    assert vault["options"]["region"] == "eu-west-1" and vault["options"]["tier"] == "Advanced"
    assert vault["scope"] == "team-a"
    assert client.post("/api/vaults", json={"driver": "local", "slug": "l2", "tier": "Standard"}).status_code == 400


def test_workspace(client: TestClient) -> None:
    data = client.put("/api/workspace", json={"stages": ["local", "production"]}).json()
    assert data["visible_stages"] == ["local", "production"]
    assert client.put("/api/workspace", json={"stages": ["nope"]}).status_code == 400
    reset = client.put("/api/workspace", json={"stages": []}).json()
    assert reset["visible_stages"] == ["local", "staging", "production"]


def test_verify_local_vault(client: TestClient) -> None:
    data = client.post("/api/verify", json={"stages": ["local"]}).json()
    assert data["ok"] is True
    [result] = data["results"]
    assert result["vault"] == "local" and result["list"] is True and result["write"] is True
    assert result["cleaned_up"] is True
    keys = [s["key"] for s in client.get("/api/secrets", params=LOCAL).json()["secrets"]]
    assert not any(k.startswith("keep-verify-") for k in keys)


def test_generate_random_value(client: TestClient) -> None:
    one = client.post("/api/secret/generate", json={"length": 40, "charset": "hex"}).json()
    two = client.post("/api/secret/generate", json={"length": 40, "charset": "hex"}).json()
    assert len(one["value"]) == 40 and set(one["value"]) <= set("0123456789abcdef")
    assert one["value"] != two["value"]
    assert client.post("/api/secret/generate", json={"length": 3}).status_code == 400
    assert client.post("/api/secret/generate", json={"charset": "emoji"}).status_code == 400


def test_context_reports_the_starting_vault_and_stage(web_project: Path) -> None:
    from keep_secrets.web.app import create_app
    from keep_secrets.web.security import Auth

    auth = Auth(host="127.0.0.1", port=4000)
    app = create_app(web_project, auth, {"stage": "staging", "vault": "local"})
    with TestClient(app, base_url="http://127.0.0.1:4000") as starting:
        session = starting.post("/api/session", json={"secret": auth.link_token}).json()["session"]
        starting.headers["Authorization"] = f"Session {session}"
        assert starting.get("/api/context").json()["initial"] == {"vault": "local", "stage": "staging"}


def test_the_starting_vault_and_stage_are_shown_even_if_the_workspace_hides_them(
    web_project: Path, client: TestClient, cli: KeepRunner
) -> None:
    """`keep server --vault V --stage S` with V and S hidden by the personal workspace: the page
    silently started on the first visible vault and stage instead."""
    from keep_secrets.web.app import create_app
    from keep_secrets.web.security import Auth

    cli.ok("vault:add", "--driver", "local", "--slug", "other", "--name", "Other", "-n")
    hidden = client.put("/api/workspace", json={"stages": ["local", "production"], "vaults": ["local"]})
    assert hidden.status_code == 200
    auth = Auth(host="127.0.0.1", port=4000)
    app = create_app(web_project, auth, {"stage": "staging", "vault": "other"})
    with TestClient(app, base_url="http://127.0.0.1:4000") as starting:
        session = starting.post("/api/session", json={"secret": auth.link_token}).json()["session"]
        starting.headers["Authorization"] = f"Session {session}"
        context = starting.get("/api/context").json()
    assert context["initial"] == {"vault": "other", "stage": "staging"}
    assert context["visible_stages"] == ["local", "staging", "production"]  # the project's order
    assert context["visible_vaults"] == ["local", "other"]
    # without the options, the workspace's choice stands
    plain = client.get("/api/context").json()
    assert plain["visible_stages"] == ["local", "production"] and plain["visible_vaults"] == ["local"]


def test_verify_read_only_writes_nothing(client: TestClient) -> None:
    data = client.post("/api/verify", json={"stages": ["staging"], "read_only": True}).json()
    [result] = data["results"]
    assert result["list"] is True and result["write"] is None and result["delete"] is None
    assert data["ok"] is True


# -- masking: the one shared rule (formats/mask.py, SPEC §6) ------------------------------------

_VALUES = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="'\"\\$#="), max_size=60)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_VALUES)
def test_every_masked_view_uses_the_shared_mask_function(client: TestClient, value: str) -> None:
    key = "MASK_PROBE"
    client.delete("/api/secret", params={**LOCAL, "key": key, "purge": "1"})
    assert client.post("/api/secret", json={**LOCAL, "key": key, "value": value}).status_code == 201
    listed = {s["key"]: s for s in client.get("/api/secrets", params=LOCAL).json()["secrets"]}
    assert listed[key]["value"] == mask(value) and listed[key]["masked"] is True
    meta = client.get("/api/secret", params={**LOCAL, "key": key, "masked": "1"}).json()["secret"]
    assert meta["value"] == mask(value)
    [version] = client.get("/api/secret/history", params={**LOCAL, "key": key}).json()["versions"]
    assert version["value"] == mask(value)
    preview = client.post("/api/import/preview", json={**LOCAL, "content": f"{key}=x{value}\n"}).json()
    [item] = [i for i in preview["items"] if i["key"] == key]
    assert item["existing"] == mask(value) and item["value"] == mask("x" + value)
    diff = client.get("/api/diff", params={"stages": "local"}).json()
    [row] = [r for r in diff["rows"] if r["key"] == key]
    assert list(row["values"].values()) == [mask(value)]


# -- import: a bad line is marked, the rest imports -----------------------------------------------

def test_import_marks_unreadable_lines_and_imports_the_rest(client: TestClient, cli: KeepRunner) -> None:
    content = "GOOD_ONE=fake-good-1\nBAD='fake-unclosed\nGOOD_TWO=fake-good-2\nX=\"fake\" trailing\n"
    preview = client.post("/api/import/preview", json={**LOCAL, "content": content})
    assert preview.status_code == 200, preview.text
    data = preview.json()
    assert data["bad_lines"] == [2, 4]
    assert [i["key"] for i in data["items"]] == ["GOOD_ONE", "GOOD_TWO"]
    assert "fake-unclosed" not in preview.text  # a bad line is named by number, never echoed
    applied = client.post("/api/import/apply", json={**LOCAL, "content": content}).json()
    assert applied["counts"] == {"created": 2} and applied["bad_lines"] == [2, 4]
    assert cli.ok("get", "GOOD_TWO", "--stage", "local", "--format", "raw").stdout == "fake-good-2\n"
    assert cli("get", "BAD", "--stage", "local").code == 3
    # the CLI keeps refusing such a file as a whole (nothing half-imported from a script)
    source = cli.cwd / "bad.env"
    source.write_text(content)
    refused = cli("import", str(source), "--stage", "staging")
    assert refused.code == 2 and "line" in refused.stderr
    assert cli("get", "GOOD_ONE", "--stage", "staging").code == 3


def test_a_write_landing_between_check_and_save_is_still_a_409(
    client: TestClient, cli: KeepRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process (the CLI) writes right after the server checked the revision: the
    store's conditional write refuses, nothing is overwritten."""
    from keep_secrets.web import routes_secrets

    real = routes_secrets.svc.check_revision
    raced: list[bool] = []

    def check_then_race(*args: object, **kwargs: object) -> object:
        current = real(*args, **kwargs)  # type: ignore[arg-type]
        if not raced:
            raced.append(True)
            cli.ok("set", "DB_PASSWORD", "fake-cli-won-the-race", "--stage", "local")
        return current

    monkeypatch.setattr(routes_secrets.svc, "check_revision", check_then_race)
    body = {**LOCAL, "key": "DB_PASSWORD", "value": "fake-web-lost-race", "revision": _rev(client, "DB_PASSWORD")}
    response = client.put("/api/secret", json=body)
    assert response.status_code == 409, response.text
    assert response.json()["conflict"]["current"]["value"] == mask("fake-cli-won-the-race")
    assert cli.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == "fake-cli-won-the-race\n"


def test_refs_endpoint_refuses_the_local_vault(client: TestClient) -> None:
    refused = client.get("/api/refs", params={"vault": "local", "stage": "local", "format": "ecs"})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert "Vault 'local' (local driver) keeps its values in this project" in error
    assert "no remote references" in error
