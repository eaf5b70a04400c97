"""The frame's cookies over HTTP: set only for the app's page in a frame, traded for a session
token only by that page, never an authorization by themselves, ended by sign-out and by the
session's idle and absolute limits."""

from __future__ import annotations

import re
import time

import httpx2
import pytest
from world import APP_URL, OWNED_CC, OWNER, SANDBOX_URL, World

SESSION, SIGNING_IN = "__Host-thingapp-session", "__Host-thingapp-signin"
FRAME = {"X-Thingapp-Framed": "1", "Origin": APP_URL, "Sec-Fetch-Site": "same-origin"}
ATTRIBUTES = "; Path=/; Secure; HttpOnly; SameSite=None; Partitioned"


def set_cookies(r: httpx2.Response) -> dict[str, str]:
    """name -> the whole Set-Cookie line, for each cookie the answer sets (last one wins)."""
    return {line.split("=", 1)[0]: line for line in r.headers.get_list("set-cookie")
            if "Partitioned" in line}


def value(line: str) -> str:
    return line.split(";", 1)[0].split("=", 1)[1]


def post(world: World, path: str, cookies: dict[str, str], headers: dict[str, str] | None = None,
         **kwargs: object) -> httpx2.Response:
    """A request carrying exactly these cookies (the test client's own jar kept out of it)."""
    world.client.cookies.clear()
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return world.client.post(path, headers={**(headers or {}), "Cookie": cookie},
                             **kwargs)  # type: ignore[arg-type]


def trade(world: World, cookie: str, headers: dict[str, str] = FRAME) -> httpx2.Response:
    return post(world, "/api/session", {SESSION: cookie}, headers, json={"thing_id": OWNED_CC})


def frame_sign_in(world: World, user: int = OWNER) -> tuple[str, str]:
    """Sign in as the frame does: the session token, and the cookie the claim sets."""
    login = world.start_login()
    assert world.callback(world.authorize(login, user)).status_code == 200
    r = post(world, f"/api/logins/{login['login_id']}/claim", {}, FRAME,
             json={"claim": login["claim"]})
    assert r.status_code == 200, r.text
    return r.json()["session_token"], value(set_cookies(r)[SESSION])


def test_a_claim_in_the_frame_sets_the_cookie_and_one_at_top_level_does_not(world):
    login = world.start_login()
    world.callback(world.authorize(login, OWNER))
    r = post(world, f"/api/logins/{login['login_id']}/claim", {}, FRAME,
             json={"claim": login["claim"]})
    line = set_cookies(r)[SESSION]
    assert re.fullmatch(rf"{SESSION}=[\w.-]+; Max-Age=\d+{re.escape(ATTRIBUTES)}", line), line
    assert int(re.search(r"Max-Age=(\d+)", line).group(1)) > world.settings.session_ttl
    assert r.json()["session_token"] not in line  # the cookie is not the Bearer token

    login = world.start_login()
    world.callback(world.authorize(login, OWNER))
    r = post(world, f"/api/logins/{login['login_id']}/claim", {},
             {"Origin": APP_URL, "Sec-Fetch-Site": "same-origin"}, json={"claim": login["claim"]})
    assert r.status_code == 200 and r.headers.get_list("set-cookie") == []


def test_the_cookie_trades_for_a_fresh_token_that_works(world):
    _, cookie = frame_sign_in(world)
    r = trade(world, cookie)
    assert r.status_code == 200, r.text
    assert r.json()["signed_in_now"] is False
    fresh = r.json()["session_token"]
    assert world.context(fresh, OWNED_CC).json()["user"]["name"] == "mara_makes"
    assert r.headers["cache-control"] == "no-store"
    assert not [h for h in r.headers if h.startswith("access-control-")]
    assert set_cookies(r) == {}  # the cookie stays as it was set


@pytest.mark.parametrize("headers", [
    {**FRAME, "Origin": SANDBOX_URL},  # a Thingiverse page
    {**FRAME, "Origin": "null"},
    {k: v for k, v in FRAME.items() if k != "Origin"},
    {**FRAME, "Sec-Fetch-Site": "cross-site"},
    {**FRAME, "Sec-Fetch-Site": "same-site"},
    {k: v for k, v in FRAME.items() if k != "X-Thingapp-Framed"},  # at top level, or a form
], ids=["thingiverse-origin", "null-origin", "no-origin", "cross-site", "same-site",
        "not-framed"])
def test_a_trade_from_anywhere_but_the_apps_page_in_a_frame_is_refused(world, headers):
    _, cookie = frame_sign_in(world)
    r = trade(world, cookie, headers)
    assert r.status_code == 403, r.text
    assert "session_token" not in r.text and set_cookies(r) == {}


def test_a_trade_must_be_json(world):
    _, cookie = frame_sign_in(world)
    r = post(world, "/api/session", {SESSION: cookie},
             {**FRAME, "Content-Type": "text/plain"}, content=b"{}")
    assert r.status_code == 415 and "session_token" not in r.text


def test_the_cookie_alone_authorizes_nothing(world):
    _, cookie = frame_sign_in(world)
    world.client.cookies.clear()
    headers = {**FRAME, "Cookie": f"{SESSION}={cookie}"}
    for method, path, body in [
            ("GET", f"/api/context?thing_id={OWNED_CC}", None),
            ("POST", "/api/jobs", {"thing_id": OWNED_CC, "file_id": 1, "action": "download"}),
            ("GET", f"/api/jobs?thing_id={OWNED_CC}", None),
            ("POST", "/api/logout", None),
            ("POST", "/api/session/remember", None)]:
        r = world.client.request(method, path, headers=headers, json=body)
        assert r.status_code == 401, (path, r.text)
    assert trade(world, cookie).status_code == 200  # and the session is still there


def test_sign_out_ends_the_session_and_removes_the_cookie(world):
    token, cookie = frame_sign_in(world)
    r = post(world, "/api/logout", {SESSION: cookie},
             {**FRAME, "Authorization": f"Bearer {token}"})
    assert r.status_code == 204
    assert [line for line in r.headers.get_list("set-cookie")] == [
        f"{SESSION}=; Max-Age=0{ATTRIBUTES}",
        f"{SESSION}=; Max-Age=0{ATTRIBUTES.removesuffix('; Partitioned')}"]
    r = trade(world, cookie)  # a cookie kept anyway (another tab) finds nothing
    assert r.status_code == 401
    assert r.json()["error"] == "Your session has ended. Please connect again."
    assert f"{SESSION}=; Max-Age=0" in r.headers["set-cookie"]
    assert world.session_count() == 0


def test_without_a_cookie_the_trade_says_signed_out_without_a_sentence(world):
    r = post(world, "/api/session", {}, FRAME, json={"thing_id": OWNED_CC})
    assert r.status_code == 401
    assert r.json() == {"error": "", "reason": "signed_out", "making_file": False}


def test_a_forged_cookie_is_refused(world):
    _, cookie = frame_sign_in(world)
    payload, _, signature = cookie.rpartition(".")
    r = trade(world, f"{payload}.{signature[::-1]}")
    assert r.status_code == 401 and "session_token" not in r.text


def test_a_session_unused_past_its_idle_limit_ends(tmp_path):
    world = World(tmp_path, session_idle=1)
    with world.client, world.sandbox:
        token, cookie = frame_sign_in(world)
        for _ in range(3):  # used every 0.6 s: alive after 1.8 s
            time.sleep(0.6)
            assert world.context(token, OWNED_CC).status_code == 200
        time.sleep(1.2)
        r = trade(world, cookie)
        assert r.status_code == 401
        assert r.json()["error"] == ("You were signed out after 1 second without using the app. "
                                     "Please connect again.")
        assert world.context(token, OWNED_CC).status_code == 401  # the Bearer token too
        assert world.session_count() == 0


def test_a_session_past_its_absolute_limit_ends_however_busy(tmp_path):
    world = World(tmp_path, session_ttl=2, session_idle=60)
    with world.client, world.sandbox:
        token, cookie = frame_sign_in(world)
        assert trade(world, cookie).status_code == 200
        time.sleep(2.2)
        r = trade(world, cookie)
        assert r.status_code == 401
        assert r.json()["error"] == ("You signed in more than 2 seconds ago, so you were signed "
                                     "out. Please connect again.")
        assert world.context(token, OWNED_CC).status_code == 401


def test_an_in_frame_sign_in_keeps_its_claim_in_a_cookie_until_the_frame_is_back(world):
    r = post(world, "/api/logins", {}, FRAME, json={"thing_id": OWNED_CC, "mode": "frame"})
    login = r.json()
    pending = value(set_cookies(r)[SIGNING_IN])
    assert re.search(rf"Max-Age={world.settings.login_ttl};", set_cookies(r)[SIGNING_IN])
    signing_in = post(world, "/api/session", {SIGNING_IN: pending}, FRAME, json={})
    assert signing_in.status_code == 202  # Thingiverse has not answered yet
    world.callback(world.authorize(login, OWNER))
    r = post(world, "/api/session", {SIGNING_IN: pending}, FRAME, json={})
    assert r.status_code == 200 and r.json()["signed_in_now"] is True
    assert set(set_cookies(r)) == {SESSION, SIGNING_IN}
    assert "Max-Age=0" in set_cookies(r)[SIGNING_IN]
    assert world.context(r.json()["session_token"], OWNED_CC).status_code == 200
    again = post(world, "/api/session", {SIGNING_IN: pending}, FRAME, json={})
    assert again.status_code == 409 and "session_token" not in again.text  # once only
    # A popup-mode login (whose claim never leaves the frame's memory) sets no such cookie.
    r = post(world, "/api/logins", {}, FRAME, json={"thing_id": OWNED_CC, "mode": "popup"})
    assert set_cookies(r) == {}


def test_an_unfinished_in_frame_sign_in_does_not_hide_the_session(world):
    _, session = frame_sign_in(world)
    r = post(world, "/api/logins", {}, FRAME, json={"thing_id": OWNED_CC, "mode": "frame"})
    pending = value(set_cookies(r)[SIGNING_IN])  # the user went to Thingiverse, and came back
    both = {SIGNING_IN: pending, SESSION: session}
    r = post(world, "/api/session", both, FRAME, json={})
    assert r.status_code == 200 and r.json()["signed_in_now"] is False
    denied = post(world, "/api/logins", {}, FRAME, json={"thing_id": OWNED_CC, "mode": "frame"})
    login, pending = denied.json(), value(set_cookies(denied)[SIGNING_IN])
    world.callback(world.authorize(login, OWNER, "deny"))
    r = post(world, "/api/session", {SIGNING_IN: pending, SESSION: session}, FRAME, json={})
    assert r.status_code == 403 and r.json()["error"] == "You declined access."
    assert set(set_cookies(r)) == {SIGNING_IN}  # the session's cookie stays
    assert trade(world, session).status_code == 200
