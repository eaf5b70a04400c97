"""Rules every sandbox API route keeps: the rate limit's windows, CORS for the registered app
origins, and the refusal of revoked tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sandbox_helpers import APP_URL, SANDBOX_URL, bearer, make_client, mint_token, tokeninfo
from starlette.testclient import TestClient

from thingapp.sandbox import SandboxConfig, default_config

OTHER_APP_ORIGIN = "http://127.0.0.1:9"  # the second client's redirect_uri origin
EVIL = "https://evil.example"
REMIX = {"name": "Remix", "license": "cc", "category": "Other", "description": "A remix."}


def limited(rate_limit: int, rate_window_s: float) -> TestClient:
    base = default_config(SANDBOX_URL, APP_URL)
    return make_client(SandboxConfig(base.public_url, base.app_url, base.clients,
                                     rate_limit=rate_limit, rate_window_s=rate_window_s))


@pytest.fixture
def tight() -> Iterator[TestClient]:
    """Two requests per one-second window."""
    with limited(2, 1.0) as client:
        yield client


# --- the rate limit ------------------------------------------------------------------------


def test_past_the_limit_answers_429_with_retry_after_until_the_window_closes(
    tight: TestClient,
) -> None:
    token = mint_token(tight)
    answers = [tight.get("/users/me", headers=bearer(token)) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["1", "0", "0"]
    refused = answers[2]
    assert refused.json() == {"error": "Too Many Requests"}
    assert refused.headers["x-error"] == "Too Many Requests"
    assert refused.headers["retry-after"] == "1"
    assert all("retry-after" not in a.headers for a in answers[:2])


def test_retry_after_counts_the_seconds_left_in_a_long_window() -> None:
    with limited(1, 300.0) as client:
        token = mint_token(client)
        assert client.get("/users/me", headers=bearer(token)).status_code == 200
        refused = client.get("/users/me", headers=bearer(token))
    assert refused.status_code == 429
    assert 298 <= int(refused.headers["retry-after"]) <= 300


def test_a_new_window_opens_after_the_old_one_closes(tight: TestClient) -> None:
    token = mint_token(tight)
    for _ in range(3):
        tight.get("/users/me", headers=bearer(token))
    time.sleep(1.05)
    again = tight.get("/users/me", headers=bearer(token))
    assert (again.status_code, again.headers["x-ratelimit-remaining"]) == (200, "1")


def test_each_tokens_window_opens_at_its_own_first_request() -> None:
    with limited(3, 1.0) as client:
        early, late = mint_token(client, 1001), mint_token(client, 1002)
        get = lambda token: client.get("/users/me", headers=bearer(token))  # noqa: E731
        assert get(early).headers["x-ratelimit-remaining"] == "2"
        time.sleep(0.5)
        assert get(late).headers["x-ratelimit-remaining"] == "2"
        time.sleep(0.6)  # early's window has closed, late's has 0.4 s to go
        assert get(early).headers["x-ratelimit-remaining"] == "2"
        assert get(late).headers["x-ratelimit-remaining"] == "1"


def test_error_answers_to_a_known_token_count_and_carry_the_header(sandbox: TestClient) -> None:
    token = mint_token(sandbox, 1002)
    answers = [
        sandbox.get("/things/9999", headers=bearer(token)),
        sandbox.patch("/things/2001", headers=bearer(token), json={"name": "Mine"}),
        sandbox.post("/things/", headers=bearer(token), json={"name": "No licence"}),
        sandbox.get("/things/2002/files?page=0", headers=bearer(token)),
        sandbox.get("/users/me", headers=bearer(token)),
    ]
    assert [a.status_code for a in answers] == [404, 403, 400, 400, 200]
    assert [a.headers["x-ratelimit-remaining"] for a in answers] == [
        "299", "298", "297", "296", "295"]


def test_config_refuses_a_window_that_is_not_positive() -> None:
    base = default_config(SANDBOX_URL, APP_URL)
    with pytest.raises(ValueError, match="rate_window_s must be positive"):
        SandboxConfig(base.public_url, base.app_url, base.clients, rate_window_s=0)


# --- CORS ------------------------------------------------------------------------------------


def cors_headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


@pytest.mark.parametrize("origin", [APP_URL, OTHER_APP_ORIGIN])
def test_api_answers_name_a_registered_origin(sandbox: TestClient, origin: str) -> None:
    response = sandbox.get("/things/2001", headers={**bearer(mint_token(sandbox)),
                                                    "Origin": origin})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert "Origin" in response.headers["vary"]
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"]
               .split(",")}
    assert {"x-ratelimit-remaining", "x-error", "link", "retry-after"} <= exposed


def test_api_errors_carry_cors_so_a_browser_app_can_read_them(sandbox: TestClient) -> None:
    response = sandbox.get("/users/me", headers={"Origin": APP_URL})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == APP_URL


def test_other_origins_get_no_cors_headers(sandbox: TestClient) -> None:
    token = mint_token(sandbox)
    for origin in (EVIL, APP_URL + ".evil.example", "null"):
        response = sandbox.get("/things/2001", headers={**bearer(token), "Origin": origin})
        assert response.status_code == 200
        assert cors_headers(response) == {}
        assert "Origin" in response.headers["vary"]


def preflight(sandbox: TestClient, path: str, origin: str, method: str = "PATCH") -> Any:
    return sandbox.options(path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type"})


@pytest.mark.parametrize("path", ["/things/2001", "/things/", "/files/3001/finalize",
                                  "/users/mara_makes/things"])
def test_preflight_from_the_app_allows_the_methods_and_headers(
    sandbox: TestClient, path: str
) -> None:
    response = preflight(sandbox, path, APP_URL)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == APP_URL
    methods = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
    assert methods == {"GET", "POST", "PATCH", "DELETE"}
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"]
               .split(",")}
    assert allowed == {"authorization", "content-type"}
    assert "Origin" in response.headers["vary"]


def test_preflight_from_another_origin_gets_no_cors_headers(sandbox: TestClient) -> None:
    response = preflight(sandbox, "/things/2001", EVIL)
    assert response.status_code == 204
    assert cors_headers(response) == {}


def test_www_and_storage_routes_get_no_cors(sandbox: TestClient) -> None:
    token = mint_token(sandbox)
    answers = [
        sandbox.post("/login/oauth/tokeninfo", data={"access_token": token},
                     headers={"Origin": APP_URL}),
        sandbox.get("/storage/3001/calibration_cube.stl", headers={"Origin": APP_URL}),
        sandbox.get("/thing:2001", headers={"Origin": APP_URL}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert all(cors_headers(a) == {} for a in answers)
    assert preflight(sandbox, "/login/oauth/tokeninfo", APP_URL, "POST").status_code == 405


# --- revoked tokens ------------------------------------------------------------------------

READ_ROUTES = {
    "/things/2002": 200,
    "/things/2002/files": 200,
    "/things/2002/ancestors": 200,
    "/files/3002": 200,
    "/files/3002/download": 302,
    "/users/me": 200,
    "/users/olaf_original": 200,
    "/users/olaf_original/things": 200,
}


@pytest.mark.parametrize(("path", "live_status"), READ_ROUTES.items())
def test_every_read_route_refuses_a_revoked_token(
    sandbox: TestClient, path: str, live_status: int
) -> None:
    token = mint_token(sandbox)
    assert sandbox.get(path, headers=bearer(token)).status_code == live_status
    revoked = sandbox.post("/sandbox/tokens/revoke", json={"access_token": token})
    assert revoked.json() == {"revoked": True}
    after = sandbox.get(path, headers=bearer(token))
    assert (after.status_code, after.json()) == (401, {"error": "Unauthorized"})
    assert after.headers["x-error"] == "Unauthorized"
    # tokeninfo, on the www side, refuses it in its own words.
    assert tokeninfo(sandbox, token).json() == {"error": "invalid token"}


def test_every_write_route_refuses_a_revoked_token(sandbox: TestClient) -> None:
    token = mint_token(sandbox, 1001)
    sandbox.post("/sandbox/tokens/revoke", json={"access_token": token})
    answers = [
        sandbox.post("/things/", headers=bearer(token), json=REMIX),
        sandbox.patch("/things/2001", headers=bearer(token), json={"name": "Renamed"}),
        sandbox.post("/things/2001/publish", headers=bearer(token)),
        sandbox.post("/things/2001/files", headers=bearer(token), json={"filename": "x.stl"}),
        sandbox.post("/files/8001/finalize", headers=bearer(token)),
        sandbox.delete("/things/2001", headers=bearer(token)),
    ]
    assert [a.status_code for a in answers] == [401] * 6
    thing = sandbox.get("/things/2001", headers=bearer(mint_token(sandbox))).json()
    assert thing["name"] == "Calibration Cube"  # nothing was changed or deleted
