"""The web UI in a real headless Chromium (Debian's, driven by Playwright) against a real
`keep server` process: sign-in by the one-time link, and the main flows end to end."""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from keep_secrets.formats.mask import mask
from tests.conftest import KeepRunner, base_env

from .conftest import ARTEFACTS, FAKE_API, FAKE_DB, FAKE_STAGING_DB, Server, failed, start_server

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason="browser suite needs Debian's chromium at /usr/bin/chromium: "
        "install it with `apt-get install chromium` (as root), then re-run pytest",
    ),
]

if os.path.exists(CHROMIUM):
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, expect, sync_playwright
else:  # pragma: no cover - the module is skipped
    Browser = BrowserContext = ConsoleMessage = Locator = Page = object  # type: ignore[assignment,misc]


DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
BOTH = pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # one browser per module; the machine may be busy (tests run beside other work): be
    # patient before failing
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def viewport() -> dict[str, int]:
    """Desktop unless a test parametrizes `viewport` (BOTH: phone and desktop)."""
    return DESKTOP


class Tabs:
    """Browser contexts/tabs opened by a test: console errors collected, a screenshot of
    each kept as an artefact when the test fails, all closed at the end."""

    def __init__(self, browser: Browser, viewport: dict[str, int]) -> None:
        self.browser = browser
        self.viewport = viewport
        self.problems: list[str] = []
        self.pages: list[Page] = []
        self.contexts: list[BrowserContext] = []

    def open(self, url: str | None = None, *, context: BrowserContext | None = None, ready: bool = True) -> Page:
        if context is None:
            context = self.browser.new_context(viewport=self.viewport)  # type: ignore[arg-type]
            self.contexts.append(context)
        tab = context.new_page()
        tab.set_default_timeout(20_000)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and "the server responded with a status of 40" not in message.text:
                self.problems.append(message.text)

        tab.on("console", on_console)
        tab.on("pageerror", lambda exc: self.problems.append(str(exc)))
        self.pages.append(tab)
        if url is not None:
            tab.goto(url)
            if ready:
                tab.wait_for_selector("#secrets-table tbody tr")
        return tab

    def close(self, name: str, failed_test: bool) -> None:
        if failed_test:
            ARTEFACTS.mkdir(parents=True, exist_ok=True)
            for n, tab in enumerate(self.pages):
                with contextlib.suppress(Exception):
                    tab.screenshot(path=str(ARTEFACTS / f"{name}-{n}.png"), full_page=True)
        for context in self.contexts:
            with contextlib.suppress(Exception):
                context.close()


@pytest.fixture
def tabs(browser: Browser, viewport: dict[str, int], request: pytest.FixtureRequest) -> Iterator[Tabs]:
    opened = Tabs(browser, viewport)
    yield opened
    opened.close(re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name), failed(request))
    # no script error and no CSP violation anywhere in the test
    assert opened.problems == []


@pytest.fixture
def page(server: Server, tabs: Tabs) -> Page:
    """A fresh browser context signed in through the server's one-time link (the tabs
    close before the server stops)."""
    return tabs.open(server.url)


def _row(page: Page, key: str) -> Locator:
    return page.locator(f"#secrets-table tbody tr[data-key='{key}']")


def _session(page: Page) -> str | None:
    value = page.evaluate("localStorage.getItem('keep.session')")
    return value if isinstance(value, str) else None


def _api_status(page: Page, path: str, secret: str | None) -> int:
    script = """async ([path, secret]) =>
        (await fetch(path, {headers: secret ? {Authorization: "Session " + secret} : {}})).status"""
    return int(page.evaluate(script, [path, secret]))


def _recording_browser(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A stand-in for the desktop browser that records its whole command line (what `ps`
    shows every local user); returns the record file and the BROWSER variable."""
    record = tmp_path / "argv.txt"
    opener = tmp_path / "record-browser.sh"
    opener.write_text(f'#!/bin/sh\nprintf "%s\\n" "$0" "$@" > {record}.tmp && mv {record}.tmp {record}\n')
    opener.chmod(0o755)
    return record, {"BROWSER": f"{opener} %s"}


def _wait_for(path: Path) -> str:
    for _ in range(150):
        if path.exists():
            return path.read_text()
        time.sleep(0.1)
    raise AssertionError(f"{path} never appeared")


# -- 1, 2: sign-in without ambient credentials -------------------------------------------------

@BOTH
def test_session_is_kept_per_origin_not_in_a_cookie_and_sign_out_ends_it(page: Page, server: Server) -> None:
    # the secret left the address bar and the page; no cookie exists at all
    assert page.url == server.base + "/"
    assert server.secret not in page.content()
    assert page.context.cookies() == []
    secret = _session(page)
    assert secret and secret != server.secret and secret not in page.content()
    # a page served from another port of the same host (any local dev server) sees nothing
    port = int(server.base.rsplit(":", 1)[1])
    other = f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}"
    spy = page.context.new_page()
    spy.route(f"{other}/**", lambda route: route.fulfill(status=200, content_type="text/html", body="<p>dev</p>"))
    spy.goto(f"{other}/")
    assert spy.evaluate("localStorage.getItem('keep.session')") is None
    assert spy.context.cookies() == []
    spy.close()
    # the same-origin API accepts the header, not the bare request
    assert _api_status(page, "/api/context", secret) == 200
    assert _api_status(page, "/api/context", None) == 401
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#signin-message")).to_contain_text("signed out")
    expect(page.locator("#secrets-table")).to_be_hidden()
    assert _session(page) is None
    assert _api_status(page, "/api/context", secret) == 401
    assert FAKE_DB not in page.content()


@BOTH
def test_spent_link_in_another_browser_only_shows_the_sign_in_screen(page: Page, server: Server, tabs: Tabs) -> None:
    second = tabs.open(server.url, ready=False)
    expect(second.locator("#signin")).to_be_visible()
    expect(second.locator("#signin-message")).to_contain_text("already used")
    assert second.url == server.base + "/"  # the spent secret is out of the address bar too
    assert _session(second) is None
    # while the first browser stays signed in
    page.get_by_role("button", name="Reload").click()
    expect(_row(page, "DB_PASSWORD")).to_be_visible()


@BOTH
def test_browser_is_opened_on_a_file_whose_fragment_signs_in(
    tabs: Tabs, web_project: Path, web_home: Path, tmp_path: Path
) -> None:
    record, env = _recording_browser(tmp_path)
    running = start_server(web_project, {**base_env(web_home), **env}, browser=True)
    try:
        argv = _wait_for(record)
        [target] = [a for a in argv.splitlines() if a.startswith("file://")]
        signin_file = Path(target[len("file://"):])
        match = re.search(r"#signin=([A-Za-z0-9_-]+)", signin_file.read_text())
        assert match is not None
        file_secret = match.group(1)
        assert "#signin=" not in argv and file_secret not in argv and running.secret not in argv
        sent: list[str] = []
        tab = tabs.open()
        tab.on("request", lambda r: sent.append(f"{r.url} {r.headers.get('referer', '')}"))
        tab.goto(target)
        tab.wait_for_selector("#secrets-table tbody tr")
        assert tab.url == running.base + "/"
        assert not signin_file.exists()  # spent, and removed
        # no request carried the secret in its URL or Referer (fragments are never sent)
        assert sent and not any(file_secret in line or "#signin" in line for line in sent)
        assert not any(file_secret in line for line in running.stderr)
        # the printed link still works for someone who copies it, in another browser
        tabs.open(running.url)
    finally:
        assert running.stop() == 0


def test_secrets_are_listed_masked_and_one_is_revealed(page: Page) -> None:
    row = page.locator("#secrets-table tbody tr[data-key='DB_PASSWORD']")
    expect(row.locator("code")).to_have_text(str(mask(FAKE_DB)))
    assert FAKE_DB not in page.content() and FAKE_API not in page.content()
    row.get_by_role("button", name="Reveal DB_PASSWORD").click()
    expect(row.locator("code")).to_have_text(FAKE_DB)
    row.get_by_role("button", name="Hide DB_PASSWORD").click()
    expect(row.locator("code")).to_have_text(str(mask(FAKE_DB)))
    page.screenshot(path="/tmp/keep-web-secrets.png")


def test_create_edit_delete_and_undo(page: Page, cli: KeepRunner) -> None:
    page.get_by_role("button", name="+ New secret").click()
    dialog = page.locator("dialog[open]")
    dialog.locator("input[name=key]").fill("NEW_TOKEN")
    dialog.locator("textarea[name=value]").fill("fake-new-token-789")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_be_hidden()
    row = page.locator("#secrets-table tbody tr[data-key='NEW_TOKEN']")
    expect(row).to_be_visible()
    assert cli.ok("get", "NEW_TOKEN", "--stage", "local", "--format", "raw").stdout == "fake-new-token-789\n"

    revision_before = row.locator("td.rev").text_content() or ""
    _act(page, "NEW_TOKEN", "Edit")
    editor = page.locator("dialog[open] textarea[name=value]")
    # the current value is shown only after an explicit reveal
    expect(editor).to_have_value("")
    assert "fake-new-token-789" not in page.content()
    page.locator("dialog[open]").get_by_role("button", name="Reveal current value").click()
    expect(editor).to_have_value("fake-new-token-789")
    editor.fill("fake-new-token-edited")
    page.locator("dialog[open]").get_by_role("button", name="Save").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(page.locator(".toast").last).to_contain_text("Saved NEW_TOKEN")
    assert cli.ok("get", "NEW_TOKEN", "--stage", "local", "--format", "raw").stdout == "fake-new-token-edited\n"
    # the table has reloaded after the save: a Delete from the row still on screen before would
    # send the old revision and meet a conflict
    expect(row.locator("td.rev")).not_to_have_text(revision_before)

    _act(page, "NEW_TOKEN", "Delete")
    page.locator("dialog[open]").get_by_role("button", name="Delete").click()
    expect(page.locator("#secrets-table tbody tr[data-key='NEW_TOKEN']")).to_have_count(0)
    assert cli("get", "NEW_TOKEN", "--stage", "local").code == 3
    page.locator(".toast").filter(has_text="Deleted NEW_TOKEN").get_by_role("button", name="Undo").click()
    expect(page.locator("#secrets-table tbody tr[data-key='NEW_TOKEN']")).to_have_count(1)
    assert cli.ok("get", "NEW_TOKEN", "--stage", "local", "--format", "raw").stdout == "fake-new-token-edited\n"


def test_invalid_key_is_refused_in_the_dialog(page: Page, cli: KeepRunner) -> None:
    page.get_by_role("button", name="+ New secret").click()
    dialog = page.locator("dialog[open]")
    dialog.locator("input[name=key]").fill("../../etc/passwd")
    dialog.locator("textarea[name=value]").fill("fake")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.locator(".error")).to_contain_text("Invalid key")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    shown = cli.ok("show", "--stage", "local", "--format", "json").json()
    assert isinstance(shown, list) and len(shown) == 2


def test_history_reveal_and_rollback(page: Page, cli: KeepRunner) -> None:
    cli.ok("set", "DB_PASSWORD", "fake-db-pass-second", "--stage", "local")
    _reload_for(page, "DB_PASSWORD")
    _act(page, "DB_PASSWORD", "History")
    rows = page.locator("#history-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first.locator(".badge.current")).to_have_text("current")
    rows.nth(1).get_by_role("button", name="Reveal").click()
    expect(rows.nth(1).locator("code")).to_have_text(FAKE_DB)
    page.screenshot(path="/tmp/keep-web-history.png")
    rows.nth(1).get_by_role("button", name="Roll back to this").click()
    rows.nth(1).get_by_role("button", name=re.compile("^Confirm roll back")).click()
    expect(page.locator(".toast").last).to_contain_text("Rolled back DB_PASSWORD")
    assert cli.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == FAKE_DB + "\n"


def test_rename_and_copy_to_stage(page: Page, cli: KeepRunner) -> None:
    _act(page, "API_KEY", "Rename")
    page.locator("dialog[open] input[name=new_key]").fill("API_TOKEN")
    page.locator("dialog[open]").get_by_role("button", name="Rename").click()
    expect(page.locator("#secrets-table tbody tr[data-key='API_TOKEN']")).to_have_count(1)
    expect(page.locator("#secrets-table tbody tr[data-key='API_KEY']")).to_have_count(0)

    _act(page, "API_TOKEN", "Copy to…")
    dialog = page.locator("dialog[open]")
    dialog.locator("select[name=to_stage]").select_option("production")
    dialog.get_by_role("button", name="Dry run").click()
    expect(dialog).to_contain_text("would create")
    assert cli("get", "API_TOKEN", "--stage", "production").code == 3
    dialog.get_by_role("button", name="Copy", exact=True).click()
    expect(page.locator(".toast").last).to_contain_text("created")
    assert cli.ok("get", "API_TOKEN", "--stage", "production", "--format", "raw").stdout == FAKE_API + "\n"


def test_search_filters_rows(page: Page) -> None:
    page.select_option("#search-in", "values")
    page.fill("#search", "api-key")
    expect(page.locator("#secrets-table tbody tr")).to_have_count(1)
    expect(page.locator("#secrets-table tbody tr").first).to_have_attribute("data-key", "API_KEY")
    page.select_option("#search-in", "keys")
    page.fill("#search", "nothing-matches")
    expect(page.locator("#secrets-table tbody tr")).to_have_count(0)
    expect(page.locator("#secrets-empty")).to_contain_text("matches")


def test_switching_stage(page: Page) -> None:
    page.select_option("#ctx-stage", "staging")
    expect(page.locator("#secrets-table tbody tr")).to_have_count(1)
    expect(page.locator("#secret-count")).to_have_text("1 secret in local:staging")


def test_diff_matrix_and_inline_edit(page: Page, cli: KeepRunner) -> None:
    page.get_by_role("tab", name="Diff").click()
    expect(page.locator("#diff-table thead th")).to_have_count(5)  # key, status, 3 stages
    page.uncheck("#diff-stages input[value=production]")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#diff-table thead th")).to_have_count(4)
    db = page.locator("#diff-table tbody tr[data-key='DB_PASSWORD']")
    expect(db.locator(".badge")).to_have_text("different")
    api_row = page.locator("#diff-table tbody tr[data-key='API_KEY']")
    expect(api_row.locator(".badge")).to_have_text("incomplete")
    assert FAKE_STAGING_DB not in page.content()
    page.screenshot(path="/tmp/keep-web-diff.png")
    # create the missing staging value straight from its cell
    api_row.locator("td[data-cell='local:staging']").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.locator("input[name=key]")).to_have_value("API_KEY")
    dialog.locator("textarea[name=value]").fill("fake-api-staging")
    dialog.get_by_role("button", name="Create").click()
    expect(api_row.locator("td[data-cell='local:staging']")).not_to_have_text("missing")
    assert cli.ok("get", "API_KEY", "--stage", "staging", "--format", "raw").stdout == "fake-api-staging\n"
    # edit an existing cell: staging DB_PASSWORD becomes identical to local
    db.locator("td[data-cell='local:staging']").click()
    editor = page.locator("dialog[open] textarea[name=value]")
    expect(editor).to_have_value("")
    page.locator("dialog[open]").get_by_role("button", name="Reveal current value").click()
    expect(editor).to_have_value(FAKE_STAGING_DB)
    editor.fill(FAKE_DB)
    page.locator("dialog[open]").get_by_role("button", name="Save").click()
    expect(db.locator(".badge")).to_have_text("identical")
    expect(api_row.locator(".badge")).to_have_text("different")
    page.select_option("#diff-show", "changed")
    expect(page.locator("#diff-table tbody tr")).to_have_count(1)
    expect(page.locator("#diff-summary")).to_contain_text("1 identical")


def test_import_preview_and_dry_run(page: Page, cli: KeepRunner) -> None:
    page.get_by_role("tab", name="Import").click()
    page.fill("#import-content", "IMPORTED_ONE=fake-imported-1\nDB_PASSWORD=fake-db-other\n")
    page.get_by_role("button", name="Preview").click()
    table = page.locator("#import-table tbody")
    expect(table.locator("tr[data-key='IMPORTED_ONE'] .badge").first).to_have_text("create")
    expect(table.locator("tr[data-key='DB_PASSWORD'] .badge").first).to_have_text("conflict")
    expect(page.locator("#import-apply")).to_be_disabled()  # conflicts with mode "stop"
    page.get_by_role("button", name="Dry run").click()
    expect(table.locator("tr[data-key='IMPORTED_ONE'] td").last).to_have_text("would create")
    expect(page.locator("#import-summary")).to_contain_text("dry run")
    assert cli("get", "IMPORTED_ONE", "--stage", "local").code == 3
    page.screenshot(path="/tmp/keep-web-import.png")
    # keep the existing value, import the rest
    page.check("input[name=import-mode][value=skip]")
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(table.locator("tr[data-key='IMPORTED_ONE'] td").last).to_have_text("created")
    assert cli.ok("get", "IMPORTED_ONE", "--stage", "local", "--format", "raw").stdout == "fake-imported-1\n"
    assert cli.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == FAKE_DB + "\n"


def test_export_preview_is_masked_until_revealed(page: Page) -> None:
    page.get_by_role("tab", name="Export").click()
    page.get_by_role("button", name="Preview (masked)").click()
    output = page.locator("#export-output")
    expect(output).to_contain_text("DB_PASSWORD=")
    assert FAKE_DB not in (output.text_content() or "")
    page.get_by_role("button", name="Reveal values").click()
    expect(output).to_contain_text(f"DB_PASSWORD={FAKE_DB}")


def _until(page: Page, condition: object, what: str) -> None:
    """Let the page run (and route handlers fire) until condition() holds, for at most 10 s."""
    deadline = time.monotonic() + 10
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(20)


def test_an_export_asked_for_while_its_choices_load_waits_for_them(page: Page) -> None:
    """Preview clicked before the format list had come sent an empty format: the user got
    "Unknown format ''" and no preview (seen on a slow CI machine)."""
    held: list[object] = []
    page.route("**/api/export/formats", lambda route: held.append(route))
    page.get_by_role("tab", name="Export").click()
    _until(page, lambda: held, "the format list to be asked for")
    preview = page.get_by_role("button", name="Preview (masked)")
    preview.click()
    expect(preview).to_be_disabled()  # the click is being handled while the formats are still held
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    output = page.locator("#export-output")
    expect(output).to_contain_text("DB_PASSWORD=")
    expect(page.locator("#export-summary")).not_to_contain_text("Unknown format")
    assert FAKE_DB not in (output.text_content() or "")


def test_template_editor_validates(page: Page, web_project: Path) -> None:
    page.get_by_role("tab", name="Templates").click()
    page.fill("#template-name", "local.env")
    page.fill("#template-editor", "APP=demo\nDB={local:DB_PASSWORD}\nGONE={local:NOPE}\n")
    page.select_option("#template-stage", "local")
    page.get_by_role("button", name="Validate").click()
    expect(page.locator("#template-report .problem")).to_contain_text("NOPE")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#template-list button[data-name='local.env']")).to_be_visible()
    assert (web_project / "env" / "local.env").read_text() == "APP=demo\nDB={local:DB_PASSWORD}\nGONE={local:NOPE}\n"


def test_settings_add_stage(page: Page, web_project: Path) -> None:
    page.get_by_role("tab", name="Settings").click()
    page.fill("#stage-new", "qa")
    page.get_by_role("button", name="Add stage").click()
    expect(page.locator("#stage-list")).to_contain_text("qa")
    assert '"qa"' in (web_project / ".keep" / "settings.json").read_text()
    page.screenshot(path="/tmp/keep-web-settings.png", full_page=True)
    expect(page.locator("#ctx-stage option[value='qa']")).to_have_count(1)
    assert re.search(r"qa", page.locator("#ws-stages").inner_text())


def test_import_from_an_uploaded_file(page: Page, tmp_path: Path) -> None:
    source = tmp_path / "upload.env"
    source.write_text("UPLOADED_KEY='fake uploaded value'\n")
    page.get_by_role("tab", name="Import").click()
    page.set_input_files("#import-file", str(source))
    expect(page.locator("#import-content")).to_have_value("UPLOADED_KEY='fake uploaded value'\n")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#import-table tbody tr[data-key='UPLOADED_KEY'] .badge").first).to_have_text("create")


def test_export_download_has_the_real_values(page: Page) -> None:
    page.get_by_role("tab", name="Export").click()
    page.select_option("#export-format", "json")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download").click()
    download = info.value
    assert download.suggested_filename == "local.json"
    text = Path(download.path()).read_text()
    assert f'"DB_PASSWORD": "{FAKE_DB}"' in text


def test_vault_dialog_shows_only_the_driver_fields(page: Page, web_project: Path) -> None:
    page.get_by_role("tab", name="Settings").click()
    page.get_by_role("button", name="+ Add vault").click()
    dialog = page.locator("dialog[open]")
    expect(dialog.locator("label[data-field=region]")).to_be_hidden()
    dialog.locator("select[name=driver]").select_option("ssm")
    expect(dialog.locator("label[data-field=region]")).to_be_visible()
    expect(dialog.locator("label[data-field=tier]")).to_be_visible()
    expect(dialog.locator("label[data-field=replica_regions]")).to_be_hidden()
    dialog.locator("input[name=slug]").fill("ssm")
    dialog.locator("input[name=region]").fill("eu-west-1")
    dialog.get_by_role("button", name="Add vault").click()
    expect(page.locator("#vault-table tbody tr[data-slug='ssm']")).to_contain_text("eu-west-1")
    assert '"region": "eu-west-1"' in (web_project / ".keep" / "vaults" / "ssm.json").read_text()


# -- attacks, from a real browser ----------------------------------------------------------

def test_dns_rebinding_is_refused(browser: Browser, server: Server, tabs: Tabs) -> None:
    """A name an attacker controls that resolves to 127.0.0.1 (what DNS rebinding achieves)
    gets nothing: not the page, not the API, and the one-time link is not spent."""
    port = server.base.rsplit(":", 1)[1]
    rebinding = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*ARGS, "--host-resolver-rules=MAP rebind.test 127.0.0.1"])
    try:
        tab = rebinding.new_page()
        response = tab.goto(f"http://rebind.test:{port}/#signin={server.secret}")
        assert response is not None and response.status == 403
        assert "Host" in tab.content()
        api = tab.goto(f"http://rebind.test:{port}/api/secrets?stage=local")
        assert api is not None and api.status == 403
        assert FAKE_DB not in tab.content()
    finally:
        rebinding.close()
    # the real link still works afterwards
    tabs.open(server.url)


ATTACK_PAGE = """<!doctype html><html><body>
<form id="f" method="POST" action="{base}/api/secret" enctype="text/plain">
<input name='{{"stage":"local","key":"CSRF_FORM","value":"fake-pwned","x":"' value='"}}'></form>
<script>
fetch("{base}/api/secret", {{method: "POST", credentials: "include", mode: "no-cors",
  headers: {{"Content-Type": "text/plain"}},
  body: JSON.stringify({{stage: "local", key: "CSRF_FETCH", value: "fake-pwned"}})}})
  .finally(() => document.getElementById("f").submit());
</script></body></html>"""


def test_cross_site_requests_from_a_signed_in_browser_are_refused(page: Page, server: Server, cli: KeepRunner) -> None:
    """The signed-in browser visits an attacker's page that posts to the API (fetch with
    credentials, and a classic auto-submitted form): nothing is written."""
    attacker = page.context.new_page()
    attacker.route("http://attacker.test/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body=ATTACK_PAGE.format(base=server.base)))
    responses: list[int] = []
    attacker.on("response", lambda r: responses.append(r.status) if "/api/secret" in r.url else None)
    attacker.goto("http://attacker.test/")
    attacker.wait_for_url(f"{server.base}/api/secret", timeout=10_000)
    assert responses and all(status in (403, 415) for status in responses), responses
    shown = cli.ok("show", "--stage", "local", "--format", "json").json()
    assert isinstance(shown, list)
    assert sorted(s["key"] for s in shown) == ["API_KEY", "DB_PASSWORD"]
    attacker.close()


def test_generate_a_value_and_restore_from_the_toolbar(page: Page, cli: KeepRunner) -> None:
    page.get_by_role("button", name="+ New secret").click()
    dialog = page.locator("dialog[open]")
    dialog.locator("input[name=key]").fill("GENERATED")
    dialog.get_by_role("button", name="Generate random value").click()
    expect(dialog.locator("textarea[name=value]")).to_have_value(re.compile(r"^[A-Za-z0-9]{32}$"))
    value = dialog.locator("textarea[name=value]").input_value()
    dialog.get_by_role("button", name="Create").click()
    expect(page.locator("#secrets-table tbody tr[data-key='GENERATED']")).to_have_count(1)
    assert cli.ok("get", "GENERATED", "--stage", "local", "--format", "raw").stdout == value + "\n"
    cli.ok("delete", "GENERATED", "--stage", "local", "--force")
    page.get_by_role("button", name="Restore…").click()
    # deleted by the CLI: listed all the same (the store lists its deleted keys), nothing to type
    dialog = page.locator("dialog[open]")
    expect(dialog.locator(".deleted-list li")).to_have_count(1)
    expect(dialog.locator("input[name=key]")).to_have_count(0)
    dialog.get_by_role("button", name="Restore GENERATED").click()
    expect(page.locator("#secrets-table tbody tr[data-key='GENERATED']")).to_have_count(1)
    expect(dialog.locator(".deleted-list li")).to_have_count(0)


def test_plain_values_are_flagged_and_slash_focuses_search(page: Page, cli: KeepRunner) -> None:
    cli.ok("set", "PLAIN_ONE", "fake-plain-value", "--plain", "--stage", "local")
    page.get_by_role("button", name="Reload").click()
    expect(page.locator("#secrets-table tbody tr[data-key='PLAIN_ONE'] .badge")).to_have_text("marked plain")
    expect(page.locator("#secrets-table tbody tr[data-key='DB_PASSWORD'] .badge")).to_have_count(0)
    page.get_by_role("tab", name="Diff").click()
    page.locator("body").press("/")
    expect(page.locator("#search")).to_be_focused()
    expect(page.locator("#tab-secrets")).to_be_visible()


def test_verify_from_settings(page: Page) -> None:
    page.get_by_role("tab", name="Settings").click()
    page.get_by_role("button", name="Run verify").click()
    result = page.locator("#verify-result")
    expect(result.locator(".summary")).to_contain_text("all permissions present", timeout=30_000)
    expect(result.locator("tbody tr")).to_have_count(3)  # local vault x 3 stages


def test_markup_in_values_is_shown_as_text(page: Page, cli: KeepRunner) -> None:
    payload = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"
    cli.ok("set", "HTML_VALUE", payload, "--stage", "local")
    page.get_by_role("button", name="Reload").click()
    row = page.locator("#secrets-table tbody tr[data-key='HTML_VALUE']")
    row.get_by_role("button", name="Reveal HTML_VALUE").click()
    expect(row.locator("code")).to_have_text(payload)
    assert row.locator("img").count() == 0 and row.locator("script").count() == 0
    page.get_by_role("tab", name="Diff").click()
    expect(page.locator("#diff-table tbody tr[data-key='HTML_VALUE']")).to_have_count(1)
    assert page.title() != "pwned"


def test_server_stage_option_sets_the_starting_stage(tabs: Tabs, web_project: Path, web_home: Path) -> None:
    running = start_server(web_project, base_env(web_home), "--stage", "staging")
    try:
        tab = tabs.open(running.url)
        expect(tab.locator("#ctx-stage")).to_have_value("staging")
        expect(tab.locator("#secrets-table tbody tr")).to_have_count(1)
        expect(tab.locator("#secret-count")).to_have_text("1 secret in local:staging")
    finally:
        assert running.stop() == 0


# -- 6, 7: no silent overwrite; import/export/edit flows -------------------------------------------

@BOTH
def test_two_tabs_a_stale_edit_offers_reload_or_overwrite(
    page: Page, server: Server, tabs: Tabs, cli: KeepRunner
) -> None:
    revision_before = _row(page, "DB_PASSWORD").locator("td.rev").text_content() or ""
    # tab A opens Edit
    _act(page, "DB_PASSWORD", "Edit")
    dialog_a = page.locator("dialog[open]")
    dialog_a.locator("textarea[name=value]").fill("fake-from-tab-a-0001")
    # tab B (same browser: already signed in) saves first
    tab_b = tabs.open(server.base + "/", context=page.context)
    _act(tab_b, "DB_PASSWORD", "Edit")
    tab_b.locator("dialog[open] textarea[name=value]").fill("fake-from-tab-b-0002")
    tab_b.locator("dialog[open]").get_by_role("button", name="Save").click()
    expect(tab_b.locator("dialog[open]")).to_have_count(0)
    # tab A's save is refused: both values masked, a choice offered
    page.bring_to_front()  # the user looks at tab A again (a background tab paints no frames)
    dialog_a.get_by_role("button", name="Save").click()
    conflict = dialog_a.locator(".conflict-panel")
    expect(conflict).to_contain_text("changed elsewhere")
    expect(conflict).to_contain_text(str(mask("fake-from-tab-b-0002")))
    expect(conflict).to_contain_text(str(mask("fake-from-tab-a-0001")))
    assert "fake-from-tab-b-0002" not in page.content()
    assert cli.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == "fake-from-tab-b-0002\n"
    conflict.get_by_role("button", name="Overwrite with mine").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    assert cli.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == "fake-from-tab-a-0001\n"
    # the table has reloaded after the save before the CLI changes API_KEY, so its row is stale
    expect(_row(page, "DB_PASSWORD").locator("td.rev")).not_to_have_text(revision_before)
    # delete from a stale row: reload keeps the other writer's value
    cli.ok("set", "API_KEY", "fake-changed-by-cli-123", "--stage", "local")
    _act(page, "API_KEY", "Delete")
    page.locator("dialog[open]").get_by_role("button", name="Delete").click()
    stale = page.locator("dialog[open] .conflict-panel")
    expect(stale).to_contain_text(str(mask("fake-changed-by-cli-123")))
    stale.get_by_role("button", name="Reload").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(_row(page, "API_KEY").locator("code")).to_have_text(str(mask("fake-changed-by-cli-123")))
    assert cli.ok("get", "API_KEY", "--stage", "local", "--format", "raw").stdout == "fake-changed-by-cli-123\n"


def test_overwriting_from_a_conflict_in_the_diff_matrix_updates_the_matrix(page: Page, cli: KeepRunner) -> None:
    """An inline edit of a diff cell that meets a 409 and is saved with "Overwrite with mine"
    used to leave the matrix as it was (the reload went to an event nobody listened to)."""
    page.get_by_role("tab", name="Diff").click()
    expect(page.locator("#diff-table thead th")).to_have_count(5)
    page.uncheck("#diff-stages input[value=production]")
    page.get_by_role("button", name="Compare").click()
    db = page.locator("#diff-table tbody tr[data-key='DB_PASSWORD']")
    expect(db.locator(".badge")).to_have_text("different")
    db.locator("td[data-cell='local:staging']").click()
    page.locator("dialog[open] textarea[name=value]").fill(FAKE_DB)
    cli.ok("set", "DB_PASSWORD", "fake-changed-meanwhile-1", "--stage", "staging")
    page.locator("dialog[open]").get_by_role("button", name="Save").click()
    conflict = page.locator("dialog[open] .conflict-panel")
    expect(conflict).to_contain_text("changed elsewhere")
    conflict.get_by_role("button", name="Overwrite with mine").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    assert cli.ok("get", "DB_PASSWORD", "--stage", "staging", "--format", "raw").stdout == FAKE_DB + "\n"
    expect(db.locator(".badge")).to_have_text("identical")


@BOTH
def test_import_marks_a_bad_line_imports_the_rest_once(page: Page, cli: KeepRunner) -> None:
    page.get_by_role("tab", name="Import").click()
    page.fill("#import-content", "GOOD_ONE=fake-good-1\nBAD='fake-unclosed\nGOOD_TWO=fake-good-2\n")
    page.get_by_role("button", name="Preview").click()
    table = page.locator("#import-table tbody")
    expect(table.locator("tr.bad-line[data-line='2']")).to_contain_text("line 2")
    expect(page.locator("#import-summary")).to_contain_text("1 line not readable")
    expect(table.locator("tr[data-key='GOOD_TWO'] .badge").first).to_have_text("create")
    apply = page.get_by_role("button", name="Import", exact=True)
    expect(apply).to_be_enabled()
    apply.click()
    expect(table.locator("tr[data-key='GOOD_ONE'] td").last).to_have_text("created")
    # never re-enabled after importing: a second click cannot import twice
    expect(apply).to_be_disabled()
    expect(page.get_by_role("button", name="Dry run")).to_be_disabled()
    assert cli.ok("get", "GOOD_TWO", "--stage", "local", "--format", "raw").stdout == "fake-good-2\n"
    assert cli("get", "BAD", "--stage", "local").code == 3
    versions = cli.ok("history", "GOOD_ONE", "--stage", "local", "--format", "json").json()
    assert isinstance(versions, list) and len(versions) == 1


@BOTH
def test_export_error_clears_the_previous_preview(page: Page, cli: KeepRunner) -> None:
    cli.ok("set", "PEM_KEY", "fake-line-one\nfake-line-two", "--stage", "local")
    page.get_by_role("tab", name="Export").click()
    page.get_by_role("button", name="Reveal values").click()
    output = page.locator("#export-output")
    expect(output).to_contain_text("DB_PASSWORD=")
    page.select_option("#export-format", "docker")  # cannot hold a multi-line value
    page.get_by_role("button", name="Reveal values").click()
    expect(page.locator("#export-summary .badge.bad")).to_contain_text("PEM_KEY")
    expect(output).to_be_hidden()
    assert FAKE_DB not in page.content()


@BOTH
def test_edit_of_a_key_deleted_elsewhere_says_so(page: Page, cli: KeepRunner) -> None:
    cli.ok("delete", "API_KEY", "--stage", "local", "--force")
    _act(page, "API_KEY", "Edit")
    dialog = page.locator("dialog[open]")
    expect(dialog.locator("h2")).to_have_text("API_KEY no longer exists")
    expect(dialog).to_contain_text("deleted or renamed elsewhere")
    expect(dialog.locator("input[name=key]")).to_have_count(0)  # not an empty "New secret" form
    dialog.get_by_role("button", name="Close").click()
    expect(_row(page, "API_KEY")).to_have_count(0)


# A dialog opened right after another was closed (the "no longer exists" dialog after an edit
# found the key gone) used to receive the closed one's queued `close` event: it was settled at
# once, so Save closed it unseen and "Create it again…" did nothing.

def test_saving_an_edit_of_a_key_deleted_meanwhile_says_so_and_stays_open(page: Page, cli: KeepRunner) -> None:
    _act(page, "API_KEY", "Edit")
    dialog = page.locator("dialog[open]")
    dialog.locator("textarea").fill("fake-new-value-1")
    cli.ok("delete", "API_KEY", "--stage", "local", "--force")
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator("#dialog-title")).to_have_text("API_KEY no longer exists")
    page.wait_for_timeout(500)  # the queued close event of the edit dialog has come by now
    expect(page.locator("dialog[open] h2")).to_have_text("API_KEY no longer exists")
    page.locator("dialog[open]").get_by_role("button", name="Close").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    expect(_row(page, "API_KEY")).to_have_count(0)
    assert cli("get", "API_KEY", "--stage", "local").code == 3


def test_create_it_again_after_a_reveal_found_the_key_gone(page: Page, cli: KeepRunner) -> None:
    _act(page, "API_KEY", "Edit")
    dialog = page.locator("dialog[open]")
    # the edit has read the key before it goes (deleted first, Edit opens "no longer exists" at once)
    expect(dialog.locator("h2")).to_have_text("Edit API_KEY in local:local")
    cli.ok("delete", "API_KEY", "--stage", "local", "--force", "--purge")
    dialog.get_by_role("button", name="Reveal current value").click()
    expect(page.locator("dialog[open] h2")).to_have_text("API_KEY no longer exists")
    page.wait_for_timeout(500)
    page.locator("dialog[open]").get_by_role("button", name="Create it again…").click()
    form = page.locator("dialog[open]")
    expect(form.locator("h2")).to_have_text("New secret in local:local")
    expect(form.locator("input[name=key]")).to_have_value("API_KEY")
    form.locator("textarea").fill("fake-again-value-3")
    form.get_by_role("button", name="Create").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    assert cli.ok("get", "API_KEY", "--stage", "local", "--format", "raw").stdout == "fake-again-value-3\n"
    expect(_row(page, "API_KEY").locator("td.val code")).to_have_text(mask("fake-again-value-3"))  # reloaded


def test_a_secret_created_again_from_the_gone_dialog_shows_in_the_table(page: Page, cli: KeepRunner) -> None:
    cli.ok("delete", "API_KEY", "--stage", "local", "--force")
    _act(page, "API_KEY", "Edit")
    page.locator("dialog[open]").get_by_role("button", name="Create it again…").click()
    form = page.locator("dialog[open]")
    expect(form.locator("h2")).to_have_text("New secret in local:local")
    form.locator("input[name=key]").fill("API_KEY_AGAIN")
    form.locator("textarea").fill("fake-again-value-2")
    form.get_by_role("button", name="Create").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    # the table is reloaded: the new key is there, the one deleted elsewhere is gone
    expect(_row(page, "API_KEY_AGAIN")).to_have_count(1)
    expect(_row(page, "API_KEY")).to_have_count(0)


# -- 8, 9, 10: phone to wide screen, 5,000 secrets, everyday usability ---------------------------

def _act(page: Page, key: str, action: str) -> None:
    """Click a row action: straight on a wide screen, through the row's menu on a phone."""
    row = _row(page, key)
    toggle = row.get_by_role("button", name=f"Actions for {key}")
    if toggle.is_visible():
        toggle.click()
    row.get_by_role("menuitem", name=f"{action} {key}").click()


def _reload_for(page: Page, key: str) -> None:
    """Reload the table after the CLI changed `key`, and wait until its row shows the change:
    on a phone a row menu opened before the new rows come is closed by their drawing."""
    revision = _row(page, key).locator("td.rev")
    before = revision.text_content() or ""
    page.get_by_role("button", name="Reload").click()
    expect(revision).not_to_have_text(before)


def _page_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


@BOTH
def test_every_tab_fits_the_screen_and_row_actions_are_reachable(page: Page, viewport: dict[str, int]) -> None:
    width = viewport["width"]
    key_cell = _row(page, "DB_PASSWORD").locator("td.key").bounding_box()
    assert key_cell is not None and key_cell["width"] >= 220  # no 3-characters-a-line keys
    for tab in ("Secrets", "Diff", "Import", "Export", "Templates", "Settings"):
        page.get_by_role("tab", name=tab).click()
        expect(page.locator(f"#tab-{tab.lower()}")).to_be_visible()
        page.wait_for_timeout(150)
        assert _page_width(page) <= width, tab  # no sideways page scroll
        if tab == "Diff":  # keys stay on one line; the matrix scrolls inside its card
            diff_key = page.locator("#diff-table tbody tr[data-key='DB_PASSWORD'] td.key").bounding_box()
            assert diff_key is not None and diff_key["height"] <= 44
    # a template with a very long line renders inside its box, not by widening the page
    page.get_by_role("tab", name="Templates").click()
    page.fill("#template-name", "wide.env")
    page.fill("#template-editor", "LONG=" + "x" * 3000 + "\nDB={local:DB_PASSWORD}\n")
    page.select_option("#template-stage", "local")
    page.get_by_role("button", name="Render (reveals values)").click()
    expect(page.locator("#template-output")).to_contain_text("LONG=xxx")
    assert _page_width(page) <= width
    # row actions: every one reachable (a menu on a phone)
    page.get_by_role("tab", name="Secrets").click()
    _act(page, "API_KEY", "History")
    dialog = page.locator("dialog[open]")
    expect(dialog.locator("#history-table")).to_be_visible()
    box, last = dialog.bounding_box(), dialog.locator("#history-table tbody tr").first.locator("td").last.bounding_box()
    assert box is not None and last is not None
    assert last["x"] + last["width"] <= box["x"] + box["width"] + 1  # the last column is not clipped
    dialog.get_by_role("button", name="Close").click()
    _act(page, "API_KEY", "Rename")
    expect(page.locator("dialog[open] input[name=new_key]")).to_have_value("API_KEY")
    page.locator("dialog[open]").get_by_role("button", name="Cancel").click()
    _act(page, "API_KEY", "Delete")
    expect(page.locator("dialog[open]")).to_contain_text("Delete API_KEY")


#: Every control of the top bar and the secrets table that is displayed, with the reasons it
#: cannot be reached: past the window's edge, or cut off by an ancestor that clips (overflow
#: hidden/clip; a scrolling ancestor can be scrolled, so it does not count).
_UNREACHABLE = """() => {
  const problems = [];
  const items = document.querySelectorAll(
    '.topbar button, .topbar select, #tab-secrets .toolbar > *, ' +
    '#secrets-table tbody button, #secrets-table tbody .badge');
  for (const el of items) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;  // not displayed (a closed row menu on a phone)
    const name = (el.getAttribute('aria-label') || el.textContent || el.id).trim().slice(0, 40);
    if (r.left < -1 || r.right > window.innerWidth + 1) problems.push(`${name}: past the window's edge`);
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      const overflow = getComputedStyle(up).overflowX;
      if (overflow !== 'hidden' && overflow !== 'clip') continue;
      const box = up.getBoundingClientRect();
      if (r.left < box.left - 1 || r.right > box.right + 1) {
        problems.push(`${name}: cut off by ${up.tagName.toLowerCase()}.${up.className}`);
        break;
      }
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth) problems.push('the page scrolls sideways');
  return problems;
}"""


def test_at_every_window_width_every_row_and_top_bar_control_is_reachable(page: Page, cli: KeepRunner) -> None:
    # a secret with the "marked plain" badge (the widest value cell) and a long key
    cli.ok("set", "PLAIN_FLAG", "fake-plain-value", "--stage", "local", "--plain")
    cli.ok("set", "A_RATHER_LONG_KEY_NAME_FOR_THE_DATABASE_URL", "fake-url-value-0123456789", "--stage", "local")
    page.get_by_role("button", name="Reload").click()
    expect(_row(page, "PLAIN_FLAG")).to_have_count(1)
    found: dict[int, list[str]] = {}
    # tablets (768, 820), small laptops (1024, 1100) and everything between a phone and a wide screen
    for width in sorted({*range(360, 1441, 60), 701, 768, 820, 1001, 1024, 1100, 1280}):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(80)
        problems = page.evaluate(_UNREACHABLE)
        if problems:
            found[width] = problems
    assert not found, "\n".join(f"{width}px: {'; '.join(problems[:4])}" for width, problems in found.items())


def test_no_row_of_the_previous_stage_stays_clickable_while_another_stage_loads(page: Page) -> None:
    """Switching the stage of a slow vault used to leave the old stage's rows on screen until
    the new list came, their buttons already acting on the new stage: Reveal on a local row
    showed the staging value under it (and Edit/Delete named the other stage's key)."""
    held: list[object] = []
    page.route("**/api/secrets?*stage=staging*", lambda route: held.append(route))
    page.select_option("#ctx-stage", "staging")
    expect(page.locator("#secrets-empty")).to_have_text("Loading local:staging…")
    _until(page, lambda: held, "the staging listing to be asked for")
    expect(page.locator("#secrets-table tbody tr")).to_have_count(0)
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    expect(page.locator("#secret-count")).to_have_text("1 secret in local:staging")
    expect(page.locator("#secrets-empty")).to_be_hidden()
    _row(page, "DB_PASSWORD").get_by_role("button", name="Reveal DB_PASSWORD").click()
    expect(_row(page, "DB_PASSWORD").locator("code")).to_have_text(FAKE_STAGING_DB)


def test_a_stage_that_cannot_be_listed_says_so_in_the_table(page: Page) -> None:
    page.route("**/api/secrets?*stage=staging*", lambda route: route.fulfill(
        status=403, content_type="application/json", json={"error": "fake access denied", "status": 403}))
    page.select_option("#ctx-stage", "staging")
    expect(page.locator("#secrets-empty")).to_contain_text("Could not list local:staging: fake access denied")
    expect(page.locator("#secrets-table tbody tr")).to_have_count(0)


@BOTH
def test_5000_secrets_in_a_stage_stay_responsive(page: Page, viewport: dict[str, int]) -> None:
    """The listing of a stage with 5,000 secrets (the real answer plus generated masked rows):
    the table builds one page of rows, the header stays in view, and a re-render is measured."""
    def many(route: object) -> None:
        response = route.fetch()  # type: ignore[attr-defined]
        data = response.json()
        template = {**data["secrets"][0]} if data["secrets"] else {"value": "********", "revision": "1", "secure": True}
        query = parse_qs(urlsplit(route.request.url).query).get("q", [""])[0].lower()  # type: ignore[attr-defined]
        extra = [{**template, "key": f"BULK_KEY_{n:05d}"} for n in range(4998)]
        extra = [s for s in extra if query in s["key"].lower()]
        data["secrets"] = sorted(data["secrets"] + extra, key=lambda s: s["key"])
        route.fulfill(response=response, json=data)  # type: ignore[attr-defined]

    page.route("**/api/secrets?*", many)
    page.get_by_role("button", name="Reload").click()
    expect(page.locator("#secret-count")).to_have_text("5000 secrets in local:local")
    expect(page.locator("#pager-text")).to_have_text("1–100 of 5000")
    assert page.locator("#secrets-table tbody tr").count() == 100
    height = int(page.evaluate("document.documentElement.scrollHeight"))
    assert height < 20_000  # was 43,000 px for 1,000 secrets
    timings = []
    for _ in range(3):
        page.get_by_role("button", name="Next ›").click()
        timings.append(int(page.evaluate("Number(document.body.dataset.renderMs)")))
    expect(page.locator("#pager-text")).to_have_text("301–400 of 5000")
    print(f"\n5000 secrets at {viewport['width']} px: page render {timings} ms, document {height} px")
    # the header stays under the top bar while the rows scroll
    if viewport["width"] > 700:
        page.mouse.wheel(0, 2500)
        page.wait_for_timeout(300)
        header = page.locator("#secrets-table thead th").first.bounding_box()
        topbar = page.locator(".topbar").bounding_box()
        assert header is not None and topbar is not None
        assert abs(header["y"] - (topbar["y"] + topbar["height"])) <= 2
    # the search narrows it on the server and starts again at page 1
    page.fill("#search", "BULK_KEY_0499")
    matching = sum("KEY_0499" in f"KEY_{n:05d}" for n in range(4998))
    expect(page.locator("#secrets-table tbody tr")).to_have_count(matching)
    expect(page.locator("#pager")).to_be_hidden()


@BOTH
def test_search_copy_restore_history_toasts_and_fonts(page: Page, cli: KeepRunner, viewport: dict[str, int]) -> None:
    # search looks at keys by default (values only when asked)
    page.fill("#search", "DB_")
    expect(page.locator("#secrets-table tbody tr")).to_have_count(1)
    expect(_row(page, "DB_PASSWORD")).to_be_visible()
    page.select_option("#search-in", "values")
    page.fill("#search", "api-key")
    expect(page.locator("#secrets-table tbody tr")).to_have_count(1)
    expect(_row(page, "API_KEY")).to_be_visible()
    page.fill("#search", "")
    page.select_option("#search-in", "keys")
    expect(page.locator("#secrets-table tbody tr")).to_have_count(2)
    # copy a value without revealing it
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    _row(page, "API_KEY").get_by_role("button", name="Copy API_KEY").click()
    expect(page.locator(".toast").last).to_contain_text("Copied the value of API_KEY")
    assert page.evaluate("navigator.clipboard.readText()") == FAKE_API
    assert FAKE_API not in page.content()
    # restore lists the deleted keys
    _act(page, "DB_PASSWORD", "Delete")
    page.locator("dialog[open]").get_by_role("button", name="Delete").click()
    expect(_row(page, "DB_PASSWORD")).to_have_count(0)
    page.get_by_role("button", name="Restore…").click()
    page.locator("dialog[open]").get_by_role("button", name="Restore DB_PASSWORD").click()
    expect(_row(page, "DB_PASSWORD")).to_have_count(1)
    expect(page.locator("dialog[open] .deleted-list li")).to_have_count(0)
    page.locator("dialog[open]").get_by_role("button", name="Close").click()
    assert cli.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == FAKE_DB + "\n"
    # history: nothing clipped, and a rollback is confirmed first
    cli.ok("set", "DB_PASSWORD", "fake-db-pass-second", "--stage", "local")
    _reload_for(page, "DB_PASSWORD")
    _act(page, "DB_PASSWORD", "History")
    older = page.locator("#history-table tbody tr").nth(1)
    older.get_by_role("button", name="Roll back to this").click()
    expect(older).to_contain_text("Roll back to version")
    assert cli.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == "fake-db-pass-second\n"
    older.get_by_role("button", name=re.compile("^Confirm roll back")).click()
    expect(page.locator(".toast").last).to_contain_text("Rolled back DB_PASSWORD")
    assert cli.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == FAKE_DB + "\n"
    # toasts: at most three, and the page makes room so no control stays under them
    for _ in range(5):
        page.get_by_role("button", name="Reload").click()
    expect(page.locator("#toasts .toast")).to_have_count(3)
    page.mouse.wheel(0, 5000)
    page.wait_for_timeout(300)
    target = _row(page, "DB_PASSWORD").locator("td.row-actions button:visible").last
    target.scroll_into_view_if_needed()
    page.mouse.wheel(0, 5000)
    page.wait_for_timeout(200)
    box = target.bounding_box()
    assert box is not None
    hit = page.evaluate("([x, y]) => document.elementFromPoint(x, y)?.closest('button')?.textContent ?? null",
                        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert hit == target.text_content()
    # monospace in every value, import and template field
    page.get_by_role("button", name="+ New secret").click()
    fonts = [page.locator("dialog[open] textarea[name=value]").evaluate("e => getComputedStyle(e).fontFamily")]
    page.locator("dialog[open]").get_by_role("button", name="Cancel").click()
    page.get_by_role("tab", name="Import").click()
    fonts.append(page.locator("#import-content").evaluate("e => getComputedStyle(e).fontFamily"))
    page.get_by_role("tab", name="Templates").click()
    fonts.append(page.locator("#template-editor").evaluate("e => getComputedStyle(e).fontFamily"))
    assert all("monospace" in f for f in fonts), fonts


def test_session_ended_banner_clears_after_signing_in_again(tabs: Tabs, web_project: Path, web_home: Path) -> None:
    env = base_env(web_home)
    first = start_server(web_project, env, tty=True)
    port = first.base.rsplit(":", 1)[1]
    try:
        page = tabs.open(first.url)
    finally:
        assert first.stop() == 0
    # the server restarts on the same port: the page's session is gone
    second = start_server(web_project, env, "--port", port, tty=True)
    try:
        page.get_by_role("button", name="Reload").click()
        expect(page.locator("#signin")).to_be_visible()
        expect(page.locator("#signin-message")).to_contain_text("session has ended")
        expect(page.locator("#secrets-table")).to_be_hidden()
        # Enter in the terminal prints a new sign-in; opened in the same tab, it signs in
        link = second.new_link()
        page.goto(link)
        expect(page.locator("#signin")).to_be_hidden()
        expect(page.locator("#banner")).to_be_hidden()
        expect(_row(page, "DB_PASSWORD")).to_be_visible()
        assert page.url == second.base + "/"
    finally:
        assert second.stop() == 0


# -- issue 14: copy references (keep refs in the page) ------------------------------------------

@pytest.fixture
def sm_server(web_project: Path, web_home: Path, cli: KeepRunner, moto: str) -> Iterator[Server]:
    """The server of a project that also has a Secrets Manager vault `sm` (moto) with two
    secrets in production. Requested before `tabs`, so the tabs close before it stops."""
    import json

    (web_project / ".keep" / "vaults" / "sm.json").write_text(json.dumps({
        "slug": "sm", "driver": "secretsmanager", "name": "SM", "scope": "", "region": "us-east-1",
        "endpoint_url": moto,
    }))
    for key in ("DB_PASSWORD", "API_KEY"):
        cli.ok("set", key, f"fake-sm-{key.lower()}", "--vault", "sm", "--stage", "production")
    running = start_server(web_project, base_env(web_home))
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.aws
@pytest.mark.parametrize("viewport", [PHONE], ids=["phone"])
def test_references_are_copied_for_a_secrets_manager_stage_only(
    sm_server: Server, tabs: Tabs, viewport: dict[str, int]
) -> None:
    import json

    page = tabs.open(sm_server.url)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    expect(page.locator("#copy-refs")).to_be_hidden()  # the local vault has no remote references
    page.select_option("#ctx-vault", "sm")
    page.select_option("#ctx-stage", "production")
    expect(_row(page, "DB_PASSWORD")).to_have_count(1)
    page.get_by_role("button", name="References…").click()
    dialog = page.locator("dialog[open]")
    dialog.locator("select[name=format]").select_option("ecs")
    expect(dialog).to_contain_text("2 references from sm:production (no value was read)")
    assert _page_width(page) <= viewport["width"]  # the preview scrolls inside the dialog
    dialog.get_by_role("button", name="Copy to clipboard").click()
    expect(page.locator(".toast").last).to_contain_text("Copied 2 references (ecs)")
    copied = json.loads(page.evaluate("navigator.clipboard.readText()"))
    assert [entry["name"] for entry in copied] == ["API_KEY", "DB_PASSWORD"]
    assert all(entry["valueFrom"].startswith("arn:aws:secretsmanager:us-east-1:") for entry in copied)
    assert "fake-sm-" not in page.content()
    # external-secrets needs the store's name before anything is listed or copied
    page.get_by_role("button", name="References…").click()
    dialog.locator("select[name=format]").select_option("external-secrets")
    expect(dialog).to_contain_text("Name the SecretStore")
    dialog.locator("input[name=store]").fill("aws-secrets")
    dialog.locator("input[name=store]").press("Tab")
    expect(dialog.locator("pre")).to_contain_text("kind: ExternalSecret")
    dialog.get_by_role("button", name="Copy to clipboard").click()
    expect(page.locator(".toast").last).to_contain_text("(external-secrets)")
    assert "name: aws-secrets" in page.evaluate("navigator.clipboard.readText()")
    page.select_option("#ctx-vault", "local")
    expect(page.locator("#copy-refs")).to_be_hidden()


def test_a_late_references_listing_does_not_overwrite_a_newer_format_choice(sm_server: Server, tabs: Tabs) -> None:
    """The dialog's first listing (ECS) answered after the user had picked External Secrets,
    which waits for a store name: the ECS text and count replaced the "Name the SecretStore"
    prompt under the External Secrets choice."""
    page = tabs.open(sm_server.url)
    _count_answers(page)
    page.select_option("#ctx-vault", "sm")
    page.select_option("#ctx-stage", "production")
    expect(_row(page, "DB_PASSWORD")).to_have_count(1)
    held: list[object] = []
    page.route("**/api/refs?*", lambda route: held.append(route))
    page.get_by_role("button", name="References…").click()
    _until(page, lambda: held, "the first listing to be asked for")
    dialog = page.locator("dialog[open]")
    dialog.locator("select[name=format]").select_option("external-secrets")
    expect(dialog).to_contain_text("Name the SecretStore")
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    _answers_read(page, "/api/refs?", 1)  # the held ECS answer has come and been handled
    expect(dialog).to_contain_text("Name the SecretStore")
    expect(dialog.locator("pre")).to_have_text("")


# -- late answers: what the page shows and enables is for the choices on screen ---------------

_COUNT_ANSWERS = """() => {
  if (window.__keepAnswers) return;
  window.__keepAnswers = [];
  const json = Response.prototype.json;
  Response.prototype.json = function () {
    const url = this.url;
    return json.call(this).finally(() => window.__keepAnswers.push(url));
  };
}"""


def _count_answers(page: Page) -> None:
    """From now on the page records each API answer it has read (the URL), so a test can wait
    until a released answer has been handled even when handling it changes nothing on screen."""
    page.evaluate(_COUNT_ANSWERS)


def _answers_read(page: Page, part: str, n: int) -> None:
    """Wait until the page has read n answers whose URL contains `part`. The code awaiting an
    answer runs in the microtasks right after it is read, before this check's next poll."""
    page.wait_for_function(
        "([part, n]) => window.__keepAnswers.filter((u) => u.includes(part)).length >= n", arg=[part, n])


def _hold_first(page: Page, pattern: str) -> list[object]:
    """Hold the first request matching `pattern` (the list gets its route, to continue later);
    later ones go through."""
    held: list[object] = []

    def hold_first(route: object) -> None:
        if held:
            route.continue_()  # type: ignore[attr-defined]
        else:
            held.append(route)

    page.route(pattern, hold_first)
    return held


def test_a_late_first_comparison_does_not_replace_a_newer_one(page: Page) -> None:
    """The Diff tab's first comparison (every stage) answered after the user had unchecked a
    stage and pressed Compare: the matrix went back to the columns no longer chosen."""
    _count_answers(page)
    held = _hold_first(page, "**/api/diff?*")
    page.get_by_role("tab", name="Diff").click()
    _until(page, lambda: held, "the tab's first comparison to be asked for")
    page.uncheck("#diff-stages input[value=production]")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#diff-table thead th")).to_have_count(4)  # key, status, 2 stages
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    _answers_read(page, "/api/diff?", 2)
    expect(page.locator("#diff-table thead th")).to_have_count(4)
    expect(page.locator("#diff-table thead")).not_to_contain_text("production")


def test_a_preview_answered_after_the_target_changed_does_not_enable_import(page: Page, cli: KeepRunner) -> None:
    """Preview pressed, then the target stage changed while it ran: its late answer drew the
    old stage's plan and enabled Import, which then wrote into a stage nobody had previewed."""
    held: list[object] = []
    page.route("**/api/import/preview", lambda route: held.append(route))
    page.get_by_role("tab", name="Import").click()
    page.fill("#import-content", "DB_PASSWORD=fake-db-from-import\n")
    page.check("input[name=import-mode][value=overwrite]")
    preview = page.get_by_role("button", name="Preview")
    preview.click()
    _until(page, lambda: held, "the preview to be asked for")
    page.select_option("#import-stage", "staging")
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    expect(preview).to_be_enabled()  # the preview has finished
    expect(page.get_by_role("button", name="Import", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Dry run")).to_be_disabled()
    expect(page.locator("#import-result")).to_be_hidden()
    # a preview of what is on screen enables it again, for the stage shown
    page.unroute("**/api/import/preview")
    preview.click()
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-table tbody tr[data-key='DB_PASSWORD'] td").last).to_have_text("updated")
    assert cli.ok("get", "DB_PASSWORD", "--stage", "staging", "--format", "raw").stdout == "fake-db-from-import\n"
    assert cli.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == FAKE_DB + "\n"


def test_an_export_answered_after_the_stage_changed_is_not_shown_or_copied(page: Page) -> None:
    """Reveal values pressed for local, then the stage changed to staging while it ran: local's
    values appeared under "staging", and Copy put local's values on the clipboard."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    held: list[object] = []
    page.route("**/api/export", lambda route: held.append(route))
    page.get_by_role("tab", name="Export").click()
    expect(page.locator("#export-format option[value=env]")).to_have_count(1)
    reveal = page.get_by_role("button", name="Reveal values")
    reveal.click()
    _until(page, lambda: held, "the export to be asked for")
    page.select_option("#export-stage", "staging")
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    expect(reveal).to_be_enabled()  # the export of local has come back
    expect(page.locator("#export-output")).to_be_hidden()
    expect(page.locator("#export-summary")).to_be_empty()
    assert FAKE_DB not in page.content()
    page.unroute("**/api/export")
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.locator(".toast").last).to_contain_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == f"DB_PASSWORD={FAKE_STAGING_DB}\n"


def _click_if_drawn(page: Page, selector: str) -> None:
    """What a user does with a control on screen: a real mouse click where it is drawn (also when
    the page does not let it act); nothing when it is not drawn."""
    box = page.locator(selector).bounding_box()
    if box is not None:
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_nothing_on_the_page_acts_before_its_context_has_loaded(server: Server, tabs: Tabs) -> None:
    """A slow machine draws the page before /api/context answers: a tab or a button clicked then
    ran without the vaults and stages (the Export tab and New secret threw, Reload answered
    "Cannot read properties of null"; an Export preview would have sent an empty format)."""
    page = tabs.open()
    held: list[object] = []
    page.route("**/api/context", lambda route: held.append(route))
    page.goto(server.url)
    _until(page, lambda: held, "the context to be asked for")
    for selector in (".tabs button[data-tab=export]", "#export-preview", ".tabs button[data-tab=secrets]",
                     "#new-secret", "#refresh"):
        _click_if_drawn(page, selector)
    page.keyboard.press("/")
    expect(page.locator("dialog[open]")).to_have_count(0)
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    expect(_row(page, "DB_PASSWORD")).to_be_visible()
    expect(page.locator(".toast.error")).to_have_count(0)
    assert tabs.problems == []
    # once it has, everything acts as usual
    page.get_by_role("tab", name="Export").click()
    page.get_by_role("button", name="Preview (masked)").click()
    expect(page.locator("#export-output")).to_contain_text("DB_PASSWORD=")


@pytest.mark.aws
def test_the_toolbar_follows_a_vault_switch_at_once(sm_server: Server, tabs: Tabs, web_project: Path) -> None:
    """Switching vault left the previous vault's References… and Restore… buttons until the new
    vault's listing answered (for good when it failed): References… on the local vault opened a
    dialog the server refused, and Restore… was offered for a vault that deletes at once."""
    import json

    config = web_project / ".keep" / "vaults" / "sm.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "recovery_window_days": 0}))
    page = tabs.open(sm_server.url)
    expect(page.locator("#restore-secret")).to_be_visible()  # the local vault restores
    held: list[object] = []
    page.route("**/api/secrets?*", lambda route: held.append(route))
    page.select_option("#ctx-vault", "sm")
    _until(page, lambda: held, "the sm listing to be asked for")
    expect(page.locator("#restore-secret")).to_be_hidden()
    expect(page.locator("#copy-refs")).to_be_visible()
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    held.clear()
    expect(page.locator("#secret-count")).to_have_text("0 secrets in sm:local")
    expect(page.locator("#restore-secret")).to_be_hidden()  # sm deletes at once here
    page.select_option("#ctx-vault", "local")
    _until(page, lambda: held, "the local listing to be asked for")
    expect(page.locator("#copy-refs")).to_be_hidden()
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    expect(_row(page, "DB_PASSWORD")).to_be_visible()
    expect(page.locator("#restore-secret")).to_be_visible()
    expect(page.locator("#copy-refs")).to_be_hidden()


def test_a_template_opened_late_does_not_replace_a_new_one_being_typed(page: Page, web_project: Path) -> None:
    """A template clicked in the list, then New and typing: the clicked template's text came
    late and replaced what the user had typed, and the file name (Save then wrote to that file)."""
    (web_project / "env").mkdir(exist_ok=True)
    (web_project / "env" / "local.env").write_text("DB={local:DB_PASSWORD}\n")
    _count_answers(page)
    held: list[object] = []
    page.route("**/api/template?*", lambda route: held.append(route))
    page.get_by_role("tab", name="Templates").click()
    page.locator("#template-list button[data-name='local.env']").click()
    _until(page, lambda: held, "the template to be asked for")
    page.get_by_role("button", name="New", exact=True).click()
    page.fill("#template-name", "fresh.env")
    page.fill("#template-editor", "APP=fresh\n")
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    _answers_read(page, "/api/template?", 1)
    expect(page.locator("#template-editor")).to_have_value("APP=fresh\n")
    expect(page.locator("#template-name")).to_have_value("fresh.env")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#template-list button[data-name='fresh.env']")).to_be_visible()
    assert (web_project / "env" / "fresh.env").read_text() == "APP=fresh\n"
    assert (web_project / "env" / "local.env").read_text() == "DB={local:DB_PASSWORD}\n"


def test_a_workspace_without_the_shown_stage_takes_its_rows_away(page: Page) -> None:
    """Saving a workspace without the stage on screen moved the page to another stage but left
    the old stage's rows in the table until a new listing came: Reveal on a local row then
    showed the staging value under it."""
    page.get_by_role("tab", name="Settings").click()
    page.uncheck("#ws-stages input[value=local]")
    held: list[object] = []
    page.route("**/api/secrets?*stage=staging*", lambda route: held.append(route))
    page.get_by_role("button", name="Save workspace").click()
    expect(page.locator("#ctx-stage")).to_have_value("staging")
    page.get_by_role("tab", name="Secrets").click()
    _until(page, lambda: held, "the staging listing to be asked for")
    expect(page.locator("#secrets-table tbody tr")).to_have_count(0)
    expect(page.locator("#secrets-empty")).to_have_text("Loading local:staging…")
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    expect(page.locator("#secret-count")).to_have_text("1 secret in local:staging")
    _row(page, "DB_PASSWORD").get_by_role("button", name="Reveal DB_PASSWORD").click()
    expect(_row(page, "DB_PASSWORD").locator("code")).to_have_text(FAKE_STAGING_DB)


def test_a_row_action_right_after_an_edit_acts_on_the_saved_revision(page: Page, cli: KeepRunner) -> None:
    """Delete pressed on a row right after saving an edit of it, while the table reloaded: the
    row on screen still had the old revision, so the page said the secret "was changed
    elsewhere" (the change was the user's own) and deleted nothing."""
    _act(page, "API_KEY", "Edit")
    page.locator("dialog[open] textarea[name=value]").fill("fake-edited-0001")
    held = _hold_first(page, "**/api/secrets?*")
    page.locator("dialog[open]").get_by_role("button", name="Save").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    _until(page, lambda: held, "the table's reload to be asked for")
    _act(page, "API_KEY", "Delete")
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    page.locator("dialog[open]").get_by_role("button", name="Delete").click()
    expect(_row(page, "API_KEY")).to_have_count(0)
    expect(page.locator(".conflict-panel")).to_have_count(0)
    assert cli("get", "API_KEY", "--stage", "local").code == 3


def test_a_rollback_answering_after_its_dialog_was_left_does_not_close_the_next_one(
    page: Page, cli: KeepRunner
) -> None:
    """A rollback confirmed, then History closed and New secret opened while it ran: its answer
    closed the New secret dialog, with what the user had typed in it."""
    cli.ok("set", "DB_PASSWORD", "fake-db-pass-second", "--stage", "local")
    _act(page, "DB_PASSWORD", "History")
    rows = page.locator("#history-table tbody tr")
    expect(rows).to_have_count(2)
    held: list[object] = []
    page.route("**/api/secret/rollback", lambda route: held.append(route))
    rows.nth(1).get_by_role("button", name="Roll back to this").click()
    rows.nth(1).get_by_role("button", name=re.compile("^Confirm roll back")).click()
    _until(page, lambda: held, "the rollback to be asked for")
    page.locator("dialog[open]").get_by_role("button", name="Close").click()
    page.get_by_role("button", name="+ New secret").click()
    page.locator("dialog[open] input[name=key]").fill("TYPED_MEANWHILE")
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    expect(page.locator(".toast").last).to_contain_text("Rolled back DB_PASSWORD")  # shown just before its close
    expect(page.locator("dialog[open] h2")).to_have_text("New secret in local:local")
    expect(page.locator("dialog[open] input[name=key]")).to_have_value("TYPED_MEANWHILE")
    assert cli.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == FAKE_DB + "\n"


def test_a_save_answering_after_its_dialog_was_left_does_not_close_the_next_one(page: Page, cli: KeepRunner) -> None:
    """Save pressed on an edit of a key deleted meanwhile, then Cancel and New secret while the
    save ran: its answer closed the New secret dialog being typed into and said "no longer exists"."""
    _count_answers(page)
    _act(page, "API_KEY", "Edit")
    dialog = page.locator("dialog[open]")
    dialog.locator("textarea").fill("fake-new-value-1")
    cli.ok("delete", "API_KEY", "--stage", "local", "--force")
    held: list[object] = []
    page.route("**/api/secret", lambda r: held.append(r) if r.request.method == "PUT" else r.continue_())
    dialog.get_by_role("button", name="Save").click()
    _until(page, lambda: held, "the save to be asked for")
    dialog.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="+ New secret").click()
    page.locator("dialog[open] input[name=key]").fill("TYPED_MEANWHILE")
    read = int(page.evaluate("window.__keepAnswers.length"))
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    page.wait_for_function("(n) => window.__keepAnswers.length > n", arg=read)  # the save's 404 has been handled
    expect(page.locator("dialog[open] h2")).to_have_text("New secret in local:local")
    expect(page.locator("dialog[open] input[name=key]")).to_have_value("TYPED_MEANWHILE")


def test_a_dialog_whose_data_comes_after_another_was_opened_does_not_replace_it(page: Page) -> None:
    """History pressed (its versions slow to come), then New secret and typing: the history came
    and replaced the New secret dialog, and what the user had typed in it."""
    _count_answers(page)
    held: list[object] = []
    page.route("**/api/secret/history?*", lambda route: held.append(route))
    _act(page, "API_KEY", "History")
    _until(page, lambda: held, "the history to be asked for")
    page.get_by_role("button", name="+ New secret").click()
    page.locator("dialog[open] input[name=key]").fill("TYPED_MEANWHILE")
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    _answers_read(page, "/api/secret/history?", 1)
    expect(page.locator("dialog[open] h2")).to_have_text("New secret in local:local")
    expect(page.locator("dialog[open] input[name=key]")).to_have_value("TYPED_MEANWHILE")
    page.locator("dialog[open]").get_by_role("button", name="Cancel").click()
    # asked for again, it opens as usual
    page.unroute("**/api/secret/history?*")
    _act(page, "API_KEY", "History")
    expect(page.locator("#history-table tbody tr")).to_have_count(1)


def test_coming_back_to_export_from_another_stage_clears_the_preview(page: Page) -> None:
    """Export revealed for staging, then the Secrets tab and back: the form started again from the
    page's stage (local) but still showed staging's values, and Copy put them on the clipboard."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    output = page.locator("#export-output")
    page.get_by_role("tab", name="Export").click()
    page.select_option("#export-stage", "staging")
    page.get_by_role("button", name="Reveal values").click()
    expect(output).to_contain_text(f"DB_PASSWORD={FAKE_STAGING_DB}")
    page.get_by_role("tab", name="Secrets").click()
    page.get_by_role("tab", name="Export").click()
    expect(page.locator("#export-stage")).to_have_value("local")
    expect(output).to_be_hidden()
    assert FAKE_STAGING_DB not in page.content()
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.locator(".toast").last).to_contain_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert f"DB_PASSWORD={FAKE_DB}\n" in copied and FAKE_STAGING_DB not in copied


def test_a_save_in_settings_keeps_what_is_being_changed_in_another_card(page: Page, web_project: Path) -> None:
    """A new app name typed (not saved yet) and a workspace stage unticked, then a stage added:
    the page drew the settings again from the server and the typed name and the untick were gone."""
    page.get_by_role("tab", name="Settings").click()
    page.fill("#set-app-name", "Renamed Demo")
    page.uncheck("#ws-stages input[value=production]")
    page.fill("#stage-new", "qa")
    page.get_by_role("button", name="Add stage").click()
    expect(page.locator("#stage-list")).to_contain_text("qa")
    expect(page.locator("#set-app-name")).to_have_value("Renamed Demo")
    expect(page.locator("#ws-stages input[value=production]")).not_to_be_checked()
    expect(page.locator("#ws-stages input[value=local]")).to_be_checked()
    page.get_by_role("button", name="Save settings").click()
    expect(page.locator(".toast").last).to_contain_text("Settings saved")
    assert '"Renamed Demo"' in (web_project / ".keep" / "settings.json").read_text()
    expect(page.locator("#set-app-name")).to_have_value("Renamed Demo")
    expect(page.locator("#ws-stages input[value=production]")).not_to_be_checked()


def test_signing_out_elsewhere_takes_a_revealed_value_out_of_the_open_dialog(
    page: Page, server: Server, tabs: Tabs
) -> None:
    """An edit dialog with the current value revealed, and the session ended from another tab:
    the dialog was closed but kept its content, so the value stayed in the signed-out page."""
    _act(page, "DB_PASSWORD", "Edit")
    page.locator("dialog[open]").get_by_role("button", name="Reveal current value").click()
    expect(page.locator("dialog[open] textarea[name=value]")).to_have_value(FAKE_DB)
    other = tabs.open(server.base + "/", context=page.context)
    other.get_by_role("button", name="Sign out").click()
    expect(other.locator("#signin")).to_be_visible()
    expect(page.locator("#signin-message")).to_contain_text("signed out in another tab")
    expect(page.locator("dialog[open]")).to_have_count(0)
    assert FAKE_DB not in page.content()
    assert page.locator("#dialog textarea").count() == 0


def _answer_later(held: list[tuple[object, object]]) -> object:
    """A route handler that lets the server answer at once but holds the answer from the page
    (route.fulfill releases it): the server acted on the request while the session was valid."""
    def handler(route: object) -> None:
        held.append((route, route.fetch()))  # type: ignore[attr-defined]
    return handler


@pytest.mark.parametrize("where", ["export", "template"])
def test_revealed_values_answering_after_sign_out_stay_out_of_the_page(page: Page, where: str) -> None:
    """Reveal values (Export) or Render (Templates) pressed, then Sign out while the answer was on
    its way: the values came into the signed-out page (and showed again on the next sign-in)."""
    held: list[tuple[object, object]] = []
    page.route("**/api/export", _answer_later(held))
    if where == "export":
        page.get_by_role("tab", name="Export").click()
        expect(page.locator("#export-format option[value=env]")).to_have_count(1)
        page.get_by_role("button", name="Reveal values").click()
    else:
        page.get_by_role("tab", name="Templates").click()
        page.fill("#template-editor", "DB={local:DB_PASSWORD}\n")
        page.select_option("#template-stage", "local")
        page.get_by_role("button", name="Render (reveals values)").click()
    _until(page, lambda: held, "the server to have answered")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signin")).to_be_visible()
    _count_answers(page)
    for route, response in held:
        route.fulfill(response=response)  # type: ignore[attr-defined]
    _answers_read(page, "/api/export", 1)
    assert FAKE_DB not in page.content()


@pytest.mark.parametrize(("action", "path"), [
    ("History", "**/api/secret/history?*"), ("Edit", "**/api/secret?*"), ("Restore", "**/api/secrets/deleted?*"),
])
def test_a_dialog_whose_data_answers_after_sign_out_does_not_open(page: Page, action: str, path: str) -> None:
    """History, Edit or Restore… pressed, then Sign out while the answer was on its way (the
    server had answered while the session was valid): the dialog opened over the sign-in screen."""
    held: list[tuple[object, object]] = []
    page.route(path, _answer_later(held))
    if action == "Restore":
        page.get_by_role("button", name="Restore…").click()
    else:
        _act(page, "DB_PASSWORD", action)
    _until(page, lambda: held, "the server to have answered")
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signin")).to_be_visible()
    _count_answers(page)
    for route, response in held:
        route.fulfill(response=response)  # type: ignore[attr-defined]
    _answers_read(page, path.strip("*").split("?")[0] + "?", 1)
    expect(page.locator("dialog[open]")).to_have_count(0)
    assert page.locator("#dialog-body *").count() == 0


def test_a_reveal_answering_after_the_user_typed_keeps_what_was_typed(page: Page, cli: KeepRunner) -> None:
    """Reveal current value pressed in an edit, then a new value typed while it came: the
    revealed value replaced what the user had typed (and Save would have saved it back)."""
    _count_answers(page)
    _act(page, "DB_PASSWORD", "Edit")
    dialog = page.locator("dialog[open]")
    expect(dialog.locator("code.masked")).to_have_count(1)
    held: list[object] = []
    page.route("**/api/secret?*", lambda route: held.append(route))
    dialog.get_by_role("button", name="Reveal current value").click()
    _until(page, lambda: held, "the value to be asked for")
    dialog.locator("textarea[name=value]").fill("fake-typed-meanwhile")
    for route in held:
        route.continue_()  # type: ignore[attr-defined]
    _answers_read(page, "/api/secret?", 1)
    expect(dialog.locator("code.revealed")).to_have_text(FAKE_DB)  # the current value is shown above
    expect(dialog.locator("textarea[name=value]")).to_have_value("fake-typed-meanwhile")
    expect(dialog).to_contain_text("the new value you typed was kept")
    page.unroute("**/api/secret?*")
    # emptied, the box takes the current value from another reveal
    dialog.locator("textarea[name=value]").fill("")
    dialog.get_by_role("button", name="Reveal current value").click()
    expect(dialog.locator("textarea[name=value]")).to_have_value(FAKE_DB)
    dialog.locator("textarea[name=value]").fill("fake-typed-meanwhile")
    dialog.get_by_role("button", name="Save").click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    assert cli.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == "fake-typed-meanwhile\n"


def test_removing_the_import_target_vault_in_settings_disables_import(page: Page, cli: KeepRunner) -> None:
    """A preview for vault `second`, then `second` removed in Settings: back on Import, the
    target fell back to another vault with Import still enabled, so it wrote into a vault
    nobody had previewed."""
    cli.ok("vault:add", "--driver", "local", "--slug", "second", "--name", "Second", "--no-verify", "-n")
    page.reload()
    page.wait_for_selector("#secrets-table tbody tr")
    page.get_by_role("tab", name="Import").click()
    page.select_option("#import-vault", "second")
    page.fill("#import-content", "DB_PASSWORD=fake-db-from-import\n")
    page.check("input[name=import-mode][value=overwrite]")
    page.get_by_role("button", name="Preview").click()
    apply = page.get_by_role("button", name="Import", exact=True)
    expect(apply).to_be_enabled()
    page.get_by_role("tab", name="Settings").click()
    page.locator("#vault-table tbody tr[data-slug='second']").get_by_role("button", name="Delete").click()
    page.locator("dialog[open]").get_by_role("button", name="Remove").click()
    expect(page.locator("#vault-table tbody tr[data-slug='second']")).to_have_count(0)
    page.get_by_role("tab", name="Import").click()
    expect(page.locator("#import-vault")).to_have_value("local")
    expect(apply).to_be_disabled()
    expect(page.get_by_role("button", name="Dry run")).to_be_disabled()
    assert cli.ok("get", "DB_PASSWORD", "--stage", "local", "--format", "raw").stdout == FAKE_DB + "\n"


def _template_saved_in_one_of_two_tabs(page: Page, server: Server, tabs: Tabs, web_project: Path) -> tuple[Path, Page]:
    """env/local.env open in `page` and in a second tab; `page` saves a change to it, and the
    second tab, still showing the old text, is brought to the front. Returns the file and that tab."""
    file = web_project / "env" / "local.env"
    file.parent.mkdir(exist_ok=True)
    file.write_text("DB={local:DB_PASSWORD}\n")
    other = tabs.open(server.base + "/", context=page.context)
    for tab in (page, other):
        tab.bring_to_front()  # the user looks at that tab (a background tab paints no frames)
        tab.get_by_role("tab", name="Templates").click()
        tab.locator("#template-list button[data-name='local.env']").click()
        expect(tab.locator("#template-editor")).to_have_value("DB={local:DB_PASSWORD}\n")
    page.bring_to_front()
    page.fill("#template-editor", "FIRST={local:DB_PASSWORD}\n")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".toast").last).to_contain_text("Saved local.env")
    other.bring_to_front()
    return file, other


def test_two_tabs_saving_one_template_the_second_is_told_and_offered_reload_or_overwrite(
    page: Page, server: Server, tabs: Tabs, web_project: Path
) -> None:
    """The same template open in two tabs, each saved: the second Save silently overwrote the
    first tab's change. Now it is refused, says so, and Reload or Overwrite with mine follow."""
    file, other = _template_saved_in_one_of_two_tabs(page, server, tabs, web_project)
    other.fill("#template-editor", "SECOND={local:DB_PASSWORD}\n")
    other.get_by_role("button", name="Save").click()
    panel = other.locator("#template-report .conflict-panel")
    expect(panel).to_contain_text("local.env was changed elsewhere")
    assert file.read_text() == "FIRST={local:DB_PASSWORD}\n"
    # Reload shows the first tab's text; saved from there, it goes through
    panel.get_by_role("button", name="Reload").click()
    expect(other.locator("#template-editor")).to_have_value("FIRST={local:DB_PASSWORD}\n")
    expect(panel).to_have_count(0)
    other.fill("#template-editor", "FIRST={local:DB_PASSWORD}\nSECOND=2\n")
    other.get_by_role("button", name="Save").click()
    expect(other.locator(".toast").last).to_contain_text("Saved local.env")
    assert file.read_text() == "FIRST={local:DB_PASSWORD}\nSECOND=2\n"
    # the first tab, now behind, is told too; it overwrites on purpose
    page.bring_to_front()
    page.fill("#template-editor", "MINE=1\n")
    page.get_by_role("button", name="Save").click()
    mine = page.locator("#template-report .conflict-panel")
    expect(mine).to_contain_text("changed elsewhere")
    assert file.read_text() == "FIRST={local:DB_PASSWORD}\nSECOND=2\n"
    mine.get_by_role("button", name="Overwrite with mine").click()
    expect(mine).to_have_count(0)
    expect(page.locator(".toast").last).to_contain_text("Saved local.env")
    assert file.read_text() == "MINE=1\n"


def test_a_workspace_change_compares_the_diff_matrix_again(page: Page) -> None:
    """Diff compared (every stage), then production taken out of the workspace in Settings: back
    on Diff the ticks said production was not chosen, but the matrix still showed its column
    (and the schema check its problems) until Compare was pressed."""
    page.get_by_role("tab", name="Diff").click()
    expect(page.locator("#diff-table thead th")).to_have_count(5)  # key, status, 3 stages
    page.get_by_role("tab", name="Settings").click()
    page.uncheck("#ws-stages input[value=production]")
    page.get_by_role("button", name="Save workspace").click()
    expect(page.locator(".toast").last).to_contain_text("Workspace saved")
    page.get_by_role("tab", name="Diff").click()
    expect(page.locator("#diff-stages input[value=production]")).not_to_be_checked()
    expect(page.locator("#diff-table thead th")).to_have_count(4)
    expect(page.locator("#diff-table thead")).not_to_contain_text("production")


def test_a_new_template_saved_under_a_taken_name_is_refused_and_offers_open_or_overwrite(
    page: Page, web_project: Path
) -> None:
    """New (or Generate), then Save under the name of an existing file: the file was silently
    replaced. Now the save is refused, the panel says so and offers Open it or Overwrite."""
    file = web_project / "env" / "local.env"
    file.parent.mkdir(exist_ok=True)
    file.write_text("DB={local:DB_PASSWORD}\n")
    page.get_by_role("tab", name="Templates").click()
    expect(page.locator("#template-list button[data-name='local.env']")).to_be_visible()
    page.get_by_role("button", name="New", exact=True).click()
    page.fill("#template-name", "local.env")
    page.fill("#template-editor", "MINE=1\n")
    page.get_by_role("button", name="Save").click()
    panel = page.locator("#template-report .conflict-panel")
    expect(panel).to_contain_text("local.env already exists")
    assert file.read_text() == "DB={local:DB_PASSWORD}\n"
    # Open it shows the file, which saved from there is an ordinary save
    panel.get_by_role("button", name="Open it").click()
    expect(page.locator("#template-editor")).to_have_value("DB={local:DB_PASSWORD}\n")
    expect(panel).to_have_count(0)
    # Generate names the stage's file: the same refusal; Overwrite writes the generated text
    page.get_by_role("button", name="Generate…").click()
    dialog = page.locator("dialog[open]")
    dialog.locator("select[name=stage]").select_option("local")
    dialog.get_by_role("button", name="Generate", exact=True).click()
    expect(page.locator(".toast").last).to_contain_text("review and Save")
    expect(page.locator("#template-name")).to_have_value("local.env")
    generated = page.locator("#template-editor").input_value()
    assert "{local:DB_PASSWORD}" in generated and generated != "DB={local:DB_PASSWORD}\n"
    page.get_by_role("button", name="Save").click()
    expect(panel).to_contain_text("local.env already exists")
    assert file.read_text() == "DB={local:DB_PASSWORD}\n"
    panel.get_by_role("button", name="Overwrite", exact=True).click()
    expect(page.locator(".toast").last).to_contain_text("Saved local.env")
    expect(panel).to_have_count(0)
    assert file.read_text() == generated


def test_deleting_a_template_changed_in_another_tab_is_refused_and_offers_reload_or_delete_anyway(
    page: Page, server: Server, tabs: Tabs, web_project: Path
) -> None:
    """The same template open in two tabs; the first saves a change; the second, still showing
    the old text, presses Delete: the first tab's change was deleted unseen. Now the delete is
    refused, says so, and Reload or Delete anyway follow."""
    file, other = _template_saved_in_one_of_two_tabs(page, server, tabs, web_project)

    def delete() -> None:
        other.locator("#template-delete").click()
        other.locator("dialog[open]").get_by_role("button", name="Delete", exact=True).click()

    delete()
    panel = other.locator("#template-report .conflict-panel")
    expect(panel).to_contain_text("local.env was changed elsewhere")
    expect(panel).to_contain_text("Nothing was deleted")
    assert file.read_text() == "FIRST={local:DB_PASSWORD}\n"
    # Reload shows the first tab's text; deleted from there, it goes
    panel.get_by_role("button", name="Reload").click()
    expect(other.locator("#template-editor")).to_have_value("FIRST={local:DB_PASSWORD}\n")
    expect(panel).to_have_count(0)
    file.write_text("BY_HAND=1\n")  # an editor or the CLI changes it once more
    delete()
    expect(panel).to_contain_text("local.env was changed elsewhere")
    assert file.read_text() == "BY_HAND=1\n"
    panel.get_by_role("button", name="Delete anyway").click()
    expect(other.locator(".toast").last).to_contain_text("Deleted local.env")
    expect(panel).to_have_count(0)
    expect(other.locator("#template-list button[data-name='local.env']")).to_have_count(0)
    assert not file.exists()
