"""The web UI on an openbao vault: an edit whose secret another process changed after the
server's revision check is a 409 - the server's check-and-set decides."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keep_secrets.services import secret_ops as svc
from tests.openbao.server import Api
from tests.web.conftest import _project_template, auth, client, web_home, web_project  # noqa: F401

pytestmark = pytest.mark.openbao


@pytest.fixture
def bao_web(web_project: Path, bao: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:  # noqa: F811
    (web_project / ".keep" / "vaults" / "bao.json").write_text(
        f'{{"slug": "bao", "driver": "openbao", "name": "OpenBao", "address": "{bao.address}"}}'
    )
    monkeypatch.setenv("BAO_TOKEN", os.environ["BAO_TOKEN"])
    yield web_project


def test_web_edit_is_a_409_when_another_process_wrote_after_the_check(
    bao_web: Path, client: Any, bao: Api, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    where = {"vault": "bao", "stage": "staging"}
    created = client.post("/api/secret", json={**where, "key": "WEB_KEY", "value": "fake-web-1"})
    assert created.status_code == 201, created.text
    start = created.json()["revision"]
    original = svc.check_revision

    def check_then_interfere(*args: Any, **kwargs: Any) -> Any:
        current = original(*args, **kwargs)
        bao.ok("POST", "secret/data/webdemo/staging/WEB_KEY", {"data": {"value": "fake-cli-write"}})
        return current

    monkeypatch.setattr(svc, "check_revision", check_then_interfere)
    response = client.put("/api/secret", json={**where, "key": "WEB_KEY", "value": "fake-web-2", "revision": start})
    assert response.status_code == 409, response.text
    conflict = response.json()["conflict"]
    assert conflict["expected"] == start and conflict["current"]["revision"] == "2"
    data = bao.ok("GET", "secret/data/webdemo/staging/WEB_KEY")
    assert data["data"]["data"] == {"value": "fake-cli-write"}
