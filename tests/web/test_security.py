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

from .conftest import BASE, FAKE_API, FAKE_DB, PORT


def _sign_in(anon: TestClient, auth: Auth) -> str:
    response = anon.get(f"/?token={auth.link_token}")
    assert response.status_code == 303
    return response.headers["set-cookie"]


# -- authentication ------------------------------------------------------------------------

def test_api_without_credentials_is_401_json(anon: TestClient) -> None:
    for method, path in (("GET", "/api/context"), ("GET", "/api/secrets?stage=local"), ("POST", "/api/secret")):
        response = anon.request(method, path)
        assert response.status_code == 401, path
        assert response.headers["content-type"].startswith("application/json")
        assert "Unauthorized" in response.json()["error"]


def test_page_without_credentials_explains_and_embeds_no_token(anon: TestClient, auth: Auth) -> None:
    response = anon.get("/")
    assert response.status_code == 401
    assert "one-time link" in response.text
    assert auth.link_token not in response.text and auth.session_token not in response.text


def test_one_time_link_sets_strict_httponly_cookie_and_redirects_without_token(anon: TestClient, auth: Auth) -> None:
    response = anon.get(f"/?token={auth.link_token}")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"keep_session_{PORT}={auth.session_token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert auth.link_token not in cookie
    # the cookie now opens the page and the API
    page = anon.get("/")
    assert page.status_code == 200
    assert '<script type="module" src="/static/app.js">' in page.text
    assert auth.session_token not in page.text and auth.link_token not in page.text
    assert anon.get("/api/context").status_code == 200


def test_one_time_link_cannot_be_used_twice(web_project: Path, auth: Auth) -> None:
    app = create_app(web_project, auth)
    with TestClient(app, base_url=BASE, follow_redirects=False) as first:
        assert first.get(f"/?token={auth.link_token}").status_code == 303
    with TestClient(app, base_url=BASE, follow_redirects=False) as second:
        again = second.get(f"/?token={auth.link_token}")
        assert again.status_code == 403
        assert "set-cookie" not in again.headers
        assert second.get("/api/context").status_code == 401


def test_head_request_does_not_spend_the_link(anon: TestClient, auth: Auth) -> None:
    assert anon.head(f"/?token={auth.link_token}").status_code == 200
    assert not auth.link_used
    assert anon.get(f"/?token={auth.link_token}").status_code == 303


def test_wrong_link_token_is_refused_and_does_not_burn_the_real_one(anon: TestClient, auth: Auth) -> None:
    wrong = anon.get("/?token=not-the-token")
    assert wrong.status_code == 403
    assert "set-cookie" not in wrong.headers
    assert anon.get(f"/?token={auth.link_token}").status_code == 303


def test_signed_in_browser_reopening_a_used_link_is_just_redirected(anon: TestClient, auth: Auth) -> None:
    _sign_in(anon, auth)
    again = anon.get(f"/?token={auth.link_token}")
    assert again.status_code == 303 and again.headers["location"] == "/"


def test_bearer_header_for_scripts(anon: TestClient, auth: Auth) -> None:
    ok = anon.get("/api/context", headers={"Authorization": f"Bearer {auth.session_token}"})
    assert ok.status_code == 200
    for bad in (f"Bearer {auth.link_token}", "Bearer nope", f"Basic {auth.session_token}", "Bearer "):
        assert anon.get("/api/context", headers={"Authorization": bad}).status_code == 401, bad


def test_wrong_cookie_value_is_401(anon: TestClient, auth: Auth) -> None:
    anon.cookies.set(auth.cookie_name, "forged")
    assert anon.get("/api/context").status_code == 401
    anon.cookies.clear()
    anon.cookies.set("keep_session_4001", auth.session_token)  # another server's cookie name
    assert anon.get("/api/context").status_code == 401


# -- DNS rebinding and cross-origin --------------------------------------------------------

@pytest.mark.parametrize(
    "host", ["evil.example:4000", "evil.example", "127.0.0.1:4001", "127.0.0.1", "", "127.0.0.1.evil.example:4000"]
)
def test_foreign_host_header_is_403_even_when_signed_in(client: TestClient, host: str) -> None:
    response = client.get("/api/context", headers={"Host": host})
    assert response.status_code == 403
    assert "Host" in response.json()["error"]


def test_foreign_host_cannot_use_the_link_either(anon: TestClient, auth: Auth) -> None:
    response = anon.get(f"/?token={auth.link_token}", headers={"Host": "rebind.example:4000"})
    assert response.status_code == 403
    assert not auth.link_used


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
    assert auth.login_url.startswith("http://127.0.0.1:4000/?token=")


def test_ipv6_loopback_bind() -> None:
    auth = Auth(host="::1", port=4000)
    assert auth.host_allowed("[::1]:4000")
    assert auth.host_allowed("localhost:4000")
    assert not auth.host_allowed("evil.example:4000")
    assert auth.base_url == "http://[::1]:4000"


def test_tokens_are_random_per_server_start() -> None:
    one, two = Auth(host="127.0.0.1", port=1), Auth(host="127.0.0.1", port=1)
    assert one.link_token != two.link_token and one.session_token != two.session_token
    assert len(one.link_token) >= 40 and one.link_token != one.session_token


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


def test_page_is_no_store(anon: TestClient, auth: Auth) -> None:
    _sign_in(anon, auth)
    assert anon.get("/").headers["cache-control"] == "no-store"


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
