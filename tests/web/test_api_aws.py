"""The web API over AWS vaults (SSM and Secrets Manager on moto's server over HTTP): the same
endpoints, the same masking and validation, whatever the driver."""

from __future__ import annotations

import json

import boto3
import pytest
from starlette.testclient import TestClient

from keep_secrets.formats.mask import mask

from .conftest import FAKE_DB

pytestmark = pytest.mark.aws

REGION = "us-east-1"


@pytest.fixture
def aws_client(client: TestClient, moto: str) -> TestClient:
    for driver, slug in (("ssm", "ssm"), ("secretsmanager", "sm")):
        response = client.post("/api/vaults", json={
            "driver": driver, "slug": slug, "name": slug.upper(), "region": REGION, "endpoint_url": moto})
        assert response.status_code == 201, response.text
    return client


def test_create_list_reveal_on_both_aws_drivers(aws_client: TestClient, moto: str) -> None:
    for slug in ("ssm", "sm"):
        body = {"vault": slug, "stage": "production", "key": "DB_PASSWORD", "value": f"fake-{slug}-db-pass-1"}
        assert aws_client.post("/api/secret", json=body).status_code == 201
        listed = aws_client.get("/api/secrets", params={"vault": slug, "stage": "production"}).json()
        assert [(s["key"], s["value"]) for s in listed["secrets"]] == [("DB_PASSWORD", mask(body["value"]))]
        revealed = aws_client.get("/api/secret", params={"vault": slug, "stage": "production", "key": "DB_PASSWORD"})
        assert revealed.json()["secret"]["value"] == body["value"]
    param = boto3.client("ssm", endpoint_url=moto, region_name=REGION).get_parameter(
        Name="/webdemo/production/DB_PASSWORD", WithDecryption=True)
    assert param["Parameter"]["Value"] == "fake-ssm-db-pass-1"
    tags = boto3.client("secretsmanager", endpoint_url=moto, region_name=REGION).describe_secret(
        SecretId="webdemo/production/DB_PASSWORD")["Tags"]
    assert {t["Key"] for t in tags} == {"ManagedBy", "Namespace", "Stage", "VaultSlug"}


def test_plain_is_refused_by_secrets_manager_but_not_ssm(aws_client: TestClient) -> None:
    sm = aws_client.post("/api/secret", json={
        "vault": "sm", "stage": "local", "key": "PLAIN", "value": "fake-plain", "secure": False})
    assert sm.status_code == 400
    assert "always encrypts" in sm.json()["error"]
    ssm = aws_client.post("/api/secret", json={
        "vault": "ssm", "stage": "local", "key": "PLAIN", "value": "fake-plain", "secure": False})
    assert ssm.status_code == 201


def test_copy_local_to_ssm_and_diff_across_vaults(aws_client: TestClient) -> None:
    copied = aws_client.post("/api/secret/copy", json={
        "vault": "local", "stage": "local", "key": "DB_PASSWORD", "to_vault": "ssm", "to_stage": "local"})
    assert copied.status_code == 200 and copied.json()["outcome"] == "created", copied.text
    data = aws_client.get("/api/diff", params={"vaults": "local,ssm", "stages": "local"}).json()
    assert data["columns"] == ["local:local", "ssm:local"]
    rows = {r["key"]: r for r in data["rows"]}
    assert rows["DB_PASSWORD"]["status"] == "identical"
    assert rows["API_KEY"]["status"] == "incomplete"
    assert FAKE_DB not in str(data)


def test_import_into_secrets_manager_and_delete_restore(aws_client: TestClient) -> None:
    body = {"vault": "sm", "stage": "staging", "content": "SM_ONE=fake-sm-one\nSM_TWO=fake-sm-two\n"}
    applied = aws_client.post("/api/import/apply", json=body).json()
    assert applied["ok"] is True and applied["counts"] == {"created": 2}
    again = aws_client.post("/api/import/apply", json=body).json()
    assert again["counts"] == {"unchanged": 2}
    where = {"vault": "sm", "stage": "staging", "key": "SM_ONE"}
    revision = aws_client.get("/api/secret", params={**where, "masked": "1"}).json()["secret"]["revision"]
    deleted = aws_client.delete("/api/secret", params={**where, "revision": revision})
    assert deleted.status_code == 200 and deleted.json()["restorable"] is True
    listed = aws_client.get("/api/secrets", params={"vault": "sm", "stage": "staging"}).json()["secrets"]
    keys = [s["key"] for s in listed]
    assert keys == ["SM_TWO"]
    gone = aws_client.get("/api/secrets/deleted", params={"vault": "sm", "stage": "staging"}).json()
    assert [(d["key"], d["name"]) for d in gone["deleted"]] == [("SM_ONE", "webdemo/staging/SM_ONE")]
    assert gone["complete"] is True
    assert aws_client.post("/api/secret/restore", json=where).status_code == 200
    assert aws_client.get("/api/secrets/deleted", params={"vault": "sm", "stage": "staging"}).json()["deleted"] == []
    ssm = aws_client.get("/api/secrets/deleted", params={"vault": "ssm", "stage": "staging"}).json()
    assert (ssm["supports_restore"], ssm["deleted"]) == (False, [])
    assert aws_client.get("/api/secret", params=where).json()["secret"]["value"] == "fake-sm-one"


def test_missing_remote_secret_is_404(aws_client: TestClient) -> None:
    for slug in ("ssm", "sm"):
        response = aws_client.get("/api/secret", params={"vault": slug, "stage": "local", "key": "NOPE"})
        assert response.status_code == 404, response.text


# -- references (keep refs in the page) ------------------------------------------------------

def test_refs_endpoint_lists_references_without_reading_a_value(client: TestClient, moto: str) -> None:
    from tests.aws.proxy import Proxy

    with Proxy(moto) as counted:
        for driver, slug in (("ssm", "ssm"), ("secretsmanager", "sm")):
            response = client.post("/api/vaults", json={
                "driver": driver, "slug": slug, "name": slug.upper(), "region": REGION, "endpoint_url": counted.url})
            assert response.status_code == 201, response.text
        for slug in ("ssm", "sm"):
            for key in ("DB_PASSWORD", "API_KEY"):
                body = {"vault": slug, "stage": "production", "key": key, "value": f"fake-{slug}-{key.lower()}"}
                assert client.post("/api/secret", json=body).status_code == 201
        counted.reset_counts()
        where = {"vault": "sm", "stage": "production"}
        ecs = client.get("/api/refs", params={**where, "format": "ecs"})
        assert ecs.status_code == 200, ecs.text
        data = ecs.json()
        assert (data["vault"], data["stage"], data["format"], data["count"]) == ("sm", "production", "ecs", 2)
        entries = json.loads(data["text"])
        assert [e["name"] for e in entries] == ["API_KEY", "DB_PASSWORD"]
        assert all(e["valueFrom"].startswith("arn:aws:secretsmanager:") for e in entries)
        cfn = client.get("/api/refs", params={"vault": "ssm", "stage": "production", "format": "cloudformation"})
        assert "{{resolve:ssm-secure:/webdemo/production/DB_PASSWORD}}" in cfn.json()["text"]
        eso = client.get("/api/refs", params={**where, "format": "external-secrets", "store": "aws-secrets",
                                              "store_kind": "ClusterSecretStore"}).json()
        assert "kind: ClusterSecretStore" in eso["text"] and "name: aws-secrets" in eso["text"]
        assert "name: webdemo-production" in eso["text"]
        as_json = client.get("/api/refs", params=where).json()  # json is the default format
        assert as_json["format"] == "json" and len(json.loads(as_json["text"])) == 2
        assert not {"GetSecretValue", "BatchGetSecretValue", "GetParameter", "GetParameters",
                    "GetParametersByPath"} & set(counted.counts), counted.counts
        everything = json.dumps([ecs.json(), cfn.json(), eso, as_json])
        assert "fake-" not in everything

        missing_store = client.get("/api/refs", params={**where, "format": "external-secrets"})
        assert missing_store.status_code == 400 and "'store'" in missing_store.json()["error"]
        bad = client.get("/api/refs", params={**where, "format": "yaml"})
        assert bad.status_code == 400 and "ecs, cloudformation, external-secrets, json" in bad.json()["error"]



@pytest.mark.parametrize("window", [0, 7])
def test_the_page_promises_an_undo_only_where_a_delete_can_be_undone(
    client: TestClient, moto: str, window: int
) -> None:
    """A Secrets Manager vault with recovery_window_days 0 deletes at once: the secrets list
    said `supports_restore: true` (the page's delete dialog then promised "You can undo this
    right after.") and the delete answered `restorable: true` (an Undo button that fails)."""
    response = client.post("/api/vaults", json={
        "driver": "secretsmanager", "slug": "sm", "name": "SM", "region": REGION, "endpoint_url": moto,
        "recovery_window_days": window})
    assert response.status_code == 201, response.text
    where = {"vault": "sm", "stage": "production"}
    assert client.post("/api/secret", json={**where, "key": "TEMP", "value": "fake-temp-1"}).status_code == 201
    listed = client.get("/api/secrets", params=where).json()
    revision = listed["secrets"][0]["revision"]
    deleted = client.delete("/api/secret", params={**where, "key": "TEMP", "revision": revision})
    assert deleted.status_code == 200, deleted.text
    assert listed["supports_restore"] is (window != 0)
    assert deleted.json()["restorable"] is (window != 0)
