"""The web Diff view shows `keep check` results: GET /api/check and its rendering (real
Chromium), with no value on the wire or on the page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from .conftest import FAKE_DB, FAKE_STAGING_DB, Server

SCHEMA = '[keys.DB_PASSWORD]\npattern = "x{100}"\n\n[keys.API_KEY]\n'
CHROMIUM = "/usr/bin/chromium"


def _schema(project: Path, text: str = SCHEMA) -> None:
    (project / ".keep" / "schema.toml").write_text(text)


def test_check_endpoint(client: TestClient, web_project: Path) -> None:
    assert client.get("/api/check").json() == {"schema": False, "ok": True, "problems": []}
    _schema(web_project)
    response = client.get("/api/check", params={"stages": "local,staging"})
    assert response.status_code == 200
    data = response.json()
    assert data["schema"] is True and data["ok"] is False and data["keys"] == 2
    assert {(p["key"], p["stage"], p["problem"].split(" ")[0]) for p in data["problems"]} == {
        ("DB_PASSWORD", "local", "value"), ("DB_PASSWORD", "staging", "value"), ("API_KEY", "staging", "required"),
    }
    assert FAKE_DB not in response.text and FAKE_STAGING_DB not in response.text


def test_bad_schema_is_a_400_naming_the_line(client: TestClient, web_project: Path) -> None:
    _schema(web_project, "[keys.A]\npattern = \"(\"\n")
    response = client.get("/api/check")
    assert response.status_code == 400
    assert "schema.toml:2:" in response.json()["error"]


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium at /usr/bin/chromium")
def test_diff_view_lists_schema_problems(server: Server, web_project: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    _schema(web_project)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url)
            page.wait_for_selector("#secrets-table tbody tr")
            page.get_by_role("tab", name="Diff").click()
            box = page.locator("#diff-check")
            # local, staging, production: two pattern failures, DB_PASSWORD missing in production,
            # API_KEY missing in staging and production
            expect(box.locator(".badge")).to_have_text("schema: 5 problem(s)", timeout=20_000)
            expect(box.locator("li[data-key='API_KEY']")).to_have_count(2)  # staging and production
            expect(box).to_contain_text("DB_PASSWORD (local:staging): value does not match the pattern")
            assert FAKE_DB not in page.content() and FAKE_STAGING_DB not in page.content()
            # fix the schema: the next Compare shows no problem
            _schema(web_project, "[keys.DB_PASSWORD]\nstages = [\"local\", \"staging\"]\n")
            page.get_by_role("button", name="Compare").click()
            expect(box.locator(".badge")).to_have_text("schema: no problems")
        finally:
            browser.close()
    assert errors == []

