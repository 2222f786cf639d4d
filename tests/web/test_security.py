"""Every security rule of the web UI (SPEC §11), against the real app in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from keep_secrets.model import AccessDenied, Conflict, KeepError, NotFound, RemoteError, UsageError
from keep_secrets.vaults.local import LocalVault
from keep_secrets.web import routes_secrets
from keep_secrets.web.app import create_app
from keep_secrets.web.security import CSP, MAX_BODY, Auth

from .conftest import BASE, FAKE_API, FAKE_DB, PORT, sign_in

# -- authentication: no ambient credential -------------------------------------------------

def test_api_without_credentials_is_401_json(anon: TestClient) -> None:
    for method, path in (("GET", "/api/context"), ("GET", "/api/secrets?stage=local"), ("POST", "/api/secret"),
                         ("DELETE", "/api/session")):
        response = anon.request(method, path)
        assert response.status_code == 401, path
        assert response.headers["content-type"].startswith("application/json")
        assert "Unauthorized" in response.json()["error"]


def test_page_is_served_without_credentials_and_embeds_no_secret(anon: TestClient, auth: Auth) -> None:
    # the page holds nothing secret: it signs itself in with the secret of its URL fragment
    response = anon.get("/")
    assert response.status_code == 200
    assert '<script type="module" src="/static/app.js">' in response.text
    assert auth.link_token not in response.text
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-store"


def test_sign_in_secret_is_exchanged_once_for_a_session_header(anon: TestClient, auth: Auth) -> None:
    response = anon.post("/api/session", json={"secret": auth.link_token})
    assert response.status_code == 201
    assert "set-cookie" not in response.headers  # no ambient credential at all
    session = response.json()["session"]
    assert session != auth.link_token and len(session) >= 40
    assert anon.get("/api/context", headers={"Authorization": f"Session {session}"}).status_code == 200
    again = anon.post("/api/session", json={"secret": auth.link_token})
    assert again.status_code == 403 and "already used" in again.json()["error"]
    assert "Enter" in again.json()["hint"]


def test_cookie_alone_opens_nothing(anon: TestClient, auth: Auth) -> None:
    """A session secret captured as a cookie (what another local port's page would receive
    if the server set one) is not a credential."""
    session = sign_in(anon, auth.link_token)
    for name in (f"keep_session_{PORT}", "session", "keep.session"):
        anon.cookies.clear()
        anon.cookies.set(name, session)
        response = anon.get("/api/secret", params={"stage": "local", "key": "DB_PASSWORD"})
        assert response.status_code == 401, name
        assert FAKE_DB not in response.text
    anon.cookies.clear()
    assert anon.get("/api/context", headers={"Cookie": f"keep_session_{PORT}={session}"}).status_code == 401


def test_bearer_accepts_only_keep_server_token(web_project: Path) -> None:
    token = "fake-script-token-0123456789-abcdefghij"
    auth = Auth(host="127.0.0.1", port=PORT, api_token=token)
    with TestClient(create_app(web_project, auth), base_url=BASE) as anon:
        session = sign_in(anon, auth.link_token)
        assert anon.get("/api/context", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        # a browser session is not a Bearer token, and the script token is not a session
        for bad in (f"Bearer {session}", f"Session {token}", f"Bearer {auth.link_token}", "Bearer nope",
                    f"Basic {token}", "Bearer ", f"Bearer {token[:-1]}"):
            assert anon.get("/api/context", headers={"Authorization": bad}).status_code == 401, bad


def test_bearer_is_refused_without_keep_server_token(anon: TestClient, auth: Auth) -> None:
    session = sign_in(anon, auth.link_token)
    assert auth.api_token is None
    assert anon.get("/api/context", headers={"Authorization": f"Bearer {session}"}).status_code == 401
    assert anon.get("/api/context", headers={"Authorization": "Bearer "}).status_code == 401


def test_short_keep_server_token_is_refused() -> None:
    with pytest.raises(ValueError, match="32"):
        Auth(host="127.0.0.1", port=PORT, api_token="x" * 31)


def test_wrong_sign_in_secret_does_not_burn_the_real_one(anon: TestClient, auth: Auth) -> None:
    for bad in ({"secret": "not-the-secret"}, {"secret": ""}, {"secret": 5}, {}):
        wrong = anon.post("/api/session", json=bad)
        assert wrong.status_code == 403, bad
    assert sign_in(anon, auth.link_token)


def test_printed_link_and_browser_file_are_separate_one_time_secrets(anon: TestClient, auth: Auth) -> None:
    removed: list[bool] = []
    auth.on_file_used = lambda: removed.append(True)
    file_secret = auth.new_file_token()
    assert sign_in(anon, file_secret) and removed == [True]
    assert anon.post("/api/session", json={"secret": file_secret}).status_code == 403
    # the browser used its file: the printed link still works for someone who copies it
    assert sign_in(anon, auth.link_token)
    assert anon.post("/api/session", json={"secret": auth.link_token}).status_code == 403
    # Enter in the terminal: a new printed link, the old one stays dead
    old = auth.link_token
    auth.new_link()
    assert anon.post("/api/session", json={"secret": old}).status_code == 403
    assert sign_in(anon, auth.link_token)


def test_every_sign_in_is_its_own_session_and_sign_out_ends_only_it(anon: TestClient, auth: Auth) -> None:
    first = sign_in(anon, auth.link_token)
    auth.new_link()
    second = sign_in(anon, auth.link_token)
    assert first != second
    out = anon.delete("/api/session", headers={"Authorization": f"Session {first}"})
    assert out.status_code == 200 and out.json() == {"signed_out": True}
    assert anon.get("/api/context", headers={"Authorization": f"Session {first}"}).status_code == 401
    assert anon.get("/api/context", headers={"Authorization": f"Session {second}"}).status_code == 200


def test_sessions_end_when_idle(web_project: Path) -> None:
    now = [1000.0]
    auth = Auth(host="127.0.0.1", port=PORT, idle_timeout=600, clock=lambda: now[0])
    with TestClient(create_app(web_project, auth), base_url=BASE) as anon:
        headers = {"Authorization": f"Session {sign_in(anon, auth.link_token)}"}
        assert anon.get("/api/session", headers=headers).json()["idle_timeout"] == 600
        now[0] += 590
        assert anon.get("/api/context", headers=headers).status_code == 200  # activity restarts the clock
        now[0] += 590
        assert anon.get("/api/context", headers=headers).status_code == 200
        now[0] += 601
        assert anon.get("/api/context", headers=headers).status_code == 401
        assert auth.session_count == 0
        now[0] += 1
        assert anon.get("/api/context", headers=headers).status_code == 401


def test_idle_timeout_zero_means_until_the_server_stops() -> None:
    now = [0.0]
    auth = Auth(host="127.0.0.1", port=PORT, idle_timeout=0, clock=lambda: now[0])
    session = auth.sign_in(auth.link_token)
    now[0] += 10 ** 7
    assert auth.check_session(session)


# -- DNS rebinding and cross-origin --------------------------------------------------------

@pytest.mark.parametrize(
    "host", ["evil.example:4000", "evil.example", "127.0.0.1:4001", "127.0.0.1", "", "127.0.0.1.evil.example:4000"]
)
def test_foreign_host_header_is_403_even_when_signed_in(client: TestClient, host: str) -> None:
    response = client.get("/api/context", headers={"Host": host})
    assert response.status_code == 403
    assert "Host" in response.json()["error"]


def test_foreign_host_cannot_use_the_link_either(anon: TestClient, auth: Auth) -> None:
    response = anon.post("/api/session", json={"secret": auth.link_token}, headers={"Host": "rebind.example:4000"})
    assert response.status_code == 403
    assert not auth.link_used
    assert anon.get("/", headers={"Host": "rebind.example:4000"}).status_code == 403


@pytest.mark.parametrize("host", ["127.0.0.1:4000", "localhost:4000", "LOCALHOST:4000"])
def test_loopback_spellings_of_the_bound_address_are_accepted(client: TestClient, host: str) -> None:
    assert client.get("/api/context", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:4001", "https://127.0.0.1:4000"])
def test_foreign_origin_is_403(client: TestClient, origin: str) -> None:
    response = client.post("/api/secret", json={"stage": "local", "key": "X_KEY", "value": "fake-x-value"},
                           headers={"Origin": origin})
    assert response.status_code == 403
    assert client.get("/api/secret", params={"stage": "local", "key": "X_KEY"}).status_code == 404
    assert client.get("/api/context", headers={"Origin": origin}).status_code == 403


def test_same_origin_is_accepted(client: TestClient) -> None:
    response = client.post("/api/secret", json={"stage": "local", "key": "X_KEY", "value": "fake-x-value"},
                           headers={"Origin": BASE})
    assert response.status_code == 201


def test_cross_site_fetch_metadata_is_403(client: TestClient) -> None:
    response = client.get("/api/secrets", params={"stage": "local"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    # only a top-level navigation to the page itself (the sign-in file, a link) passes
    navigate = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}
    assert client.get("/", headers=navigate).status_code == 200
    for path, mode in (("/", "no-cors"), ("/", "cors"), ("/static/app.js", "no-cors"), ("/api/context", "navigate")):
        headers = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": mode}
        assert client.get(path, headers=headers).status_code == 403, (path, mode)
    same = client.get("/api/secrets", params={"stage": "local"}, headers={"Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200


def test_same_site_pages_on_other_ports_cannot_call_the_api(client: TestClient) -> None:
    # e.g. <script src="http://127.0.0.1:4000/api/..."> on a page served from 127.0.0.1:8080:
    # same-site, so the SameSite=Strict cookie is sent, and a no-cors GET has no Origin
    response = client.get("/api/secret", params={"stage": "local", "key": "DB_PASSWORD"},
                          headers={"Sec-Fetch-Site": "same-site"})
    assert response.status_code == 403
    assert FAKE_DB not in response.text
    assert client.get("/api/context", headers={"Sec-Fetch-Site": "none"}).status_code == 200


def test_writes_must_be_json(client: TestClient) -> None:
    # what an HTML form on another site could send without a CORS preflight
    response = client.post("/api/secret", content=b"stage=local&key=X&value=y",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    text = client.post("/api/secret", content=b"{}", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415


def test_oversized_body_is_413(client: TestClient) -> None:
    big = json.dumps({"stage": "local", "content": "A=" + "x" * (MAX_BODY + 10)})
    response = client.post("/api/import/preview", content=big, headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_wildcard_bind_accepts_ip_literals_but_not_names() -> None:
    auth = Auth(host="0.0.0.0", port=4000)
    assert auth.host_allowed("192.168.1.20:4000")
    assert auth.host_allowed("[::1]:4000")
    assert auth.host_allowed("localhost:4000")
    assert not auth.host_allowed("evil.example:4000")
    assert not auth.host_allowed("192.168.1.20:4001")
    assert auth.login_url.startswith("http://127.0.0.1:4000/#signin=")


def test_wildcard_bind_links_with_the_machine_name_and_accepts_it() -> None:
    auth = Auth(host="0.0.0.0", port=4000, host_names=("Devbox", "devbox.local"))
    assert auth.login_url == f"http://devbox:4000/#signin={auth.link_token}"
    assert auth.signin_url("s", local=True) == "http://127.0.0.1:4000/#signin=s"
    assert auth.host_allowed("devbox:4000") and auth.host_allowed("DEVBOX.local:4000")
    assert not auth.host_allowed("devbox.evil.example:4000")
    # bound to one address, the machine name is not an accepted Host
    assert not Auth(host="127.0.0.1", port=4000, host_names=()).host_allowed("devbox:4000")


def test_ipv6_loopback_bind() -> None:
    auth = Auth(host="::1", port=4000)
    assert auth.host_allowed("[::1]:4000")
    assert auth.host_allowed("localhost:4000")
    assert not auth.host_allowed("evil.example:4000")
    assert auth.base_url == "http://[::1]:4000"


def test_tokens_are_random_per_server_start() -> None:
    one, two = Auth(host="127.0.0.1", port=1), Auth(host="127.0.0.1", port=1)
    assert one.link_token != two.link_token and one.new_file_token() != two.new_file_token()
    assert len(one.link_token) >= 40 and one.link_token != one.file_token


# -- static files and headers --------------------------------------------------------------

def test_static_assets_are_served_with_security_headers(anon: TestClient) -> None:
    response = anon.get("/static/app.js")
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert anon.get("/static/app.css").status_code == 200


@pytest.mark.parametrize("path", [
    "/static/../security.py",
    "/static/%2e%2e/security.py",
    "/static/..%2fsecurity.py",
    "/static/%2e%2e/%2e%2e/project.py",
    "/static//etc/passwd",
    "/static/..%5c..%5cproject.py",
])
def test_static_path_traversal_is_refused(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (400, 401, 404)
    assert "import" not in response.text  # no Python source leaked


def test_api_answers_carry_csp_no_store_and_framing_headers(client: TestClient) -> None:
    response = client.get("/api/context")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


# -- error mapping -------------------------------------------------------------------------

def test_unknown_api_path_is_404_json(client: TestClient) -> None:
    response = client.get("/api/nope")
    assert response.status_code == 404
    assert response.json()["status"] == 404


def test_wrong_method_is_405_json(client: TestClient) -> None:
    response = client.patch("/api/secret", json={})
    assert response.status_code == 405
    assert response.json()["error"] == "Method not allowed"


def test_invalid_json_body_is_400(client: TestClient) -> None:
    response = client.post("/api/secret", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
    array = client.post("/api/secret", content=b"[1]", headers={"Content-Type": "application/json"})
    assert array.status_code == 400


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000, b"[" * 100_000 + b"]" * 100_000])
def test_deeply_nested_body_is_400_not_500(client: TestClient, anon: TestClient, body: bytes) -> None:
    for target, path in ((client, "/api/secret"), (anon, "/api/session")):
        response = target.post(path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (path, response.text)
        assert response.json()["status"] == 400


def test_deeply_nested_json_inside_a_field_is_400(client: TestClient) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    preview = client.post("/api/import/preview", json={"stage": "local", "content": nested, "format": "json"})
    assert preview.status_code == 400 and "nested" in preview.json()["error"]
    deep = {"stage": "local", "key": "DEEP_JSON", "value": '{"a":' * 10_000}
    assert client.post("/api/secret", json=deep).status_code == 201
    field = client.get("/api/secret", params={"stage": "local", "key": "DEEP_JSON", "field": "a"})
    assert field.status_code == 400


def test_unexpected_exception_is_500_without_details(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> object:
        raise RuntimeError(f"secret detail {FAKE_DB}")

    monkeypatch.setattr(routes_secrets.svc, "search", boom)
    response = client.get("/api/secrets", params={"stage": "local", "q": "x"})
    assert response.status_code == 500
    assert FAKE_DB not in response.text and "RuntimeError" not in response.text
    assert response.json()["error"].startswith("Internal error")


def test_values_never_appear_in_list_responses(client: TestClient) -> None:
    text = client.get("/api/secrets", params={"stage": "local"}).text
    assert FAKE_DB not in text and FAKE_API not in text


@pytest.mark.parametrize(("error", "status"), [
    (AccessDenied("AccessDenied: not allowed to perform ssm:GetParametersByPath"), 403),
    (NotFound("Secret gone"), 404),
    (Conflict("Secret exists"), 409),
    (UsageError("Bad input"), 400),
    (RemoteError("Throttled after 10 attempts"), 500),
])
def test_keep_errors_map_to_status_codes(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, error: KeepError, status: int
) -> None:
    def failing(self: object, stage: str) -> object:
        raise error

    monkeypatch.setattr(LocalVault, "list", failing)
    response = client.get("/api/secrets", params={"stage": "local"})
    assert response.status_code == status
    assert response.json() == {"error": error.message, "hint": None, "status": status}
