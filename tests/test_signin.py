"""The sign-in flow over HTTP, the app talking to the in-process sandbox."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from starlette.testclient import TestClient
from world import (
    ALL_RIGHTS_RESERVED,
    CC_ND,
    CC_SA,
    CLIENT_ID,
    OWNED_CC,
    OWNER,
    REMIXER,
    SECRET_KEY,
    World,
)

from thingapp.store import open_store


@pytest.mark.parametrize(("user", "thing", "actions", "reason"), [
    (OWNER, OWNED_CC, ["post", "download"], "You own this Thing."),
    (REMIXER, CC_SA, ["remix", "download"], "The licence allows derivatives."),
    (REMIXER, CC_ND, ["download"], "The licence does not allow derivatives."),
    (REMIXER, ALL_RIGHTS_RESERVED, ["download"], "The licence does not allow derivatives."),
    (OWNER, CC_SA, ["remix", "download"], "The licence allows derivatives."),
])
def test_signed_in_user_is_offered_the_guidelines_actions(world, user, thing, actions, reason):
    token = world.sign_in(user, thing)
    r = world.context(token, thing)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [a["id"] for a in body["actions"]] == actions
    assert body["reason"] == reason
    assert body["user"]["id"] == str(user)
    assert body["thing"]["id"] == thing
    assert body["thing"]["url"] == f"http://localhost:8800/thing:{thing}"


def test_context_names_the_user_and_the_thing(world):
    body = world.context(world.sign_in(OWNER), OWNED_CC).json()
    assert body["user"]["name"] == "mara_makes"
    assert body["thing"]["name"] == "Calibration Cube"
    assert body["thing"]["creator"] == "mara_makes"
    assert body["thing"]["license"] == "Creative Commons - Attribution"
    assert body["actions"][0]["label"] == "Post to this Thing"


def test_the_authorize_url_carries_client_callback_and_token_flow(world):
    login = world.start_login()
    url = login["authorize_url"]
    assert url.startswith("http://localhost:8800/login/oauth/authorize?")
    assert f"client_id={CLIENT_ID}" in url
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A8000%2Fcallback" in url
    assert "response_type=token" in url and "state=" in url
    assert login["claim"] not in url  # the claim never leaves the frame


def test_deny_tells_the_frame_the_user_declined(world):
    login = world.start_login()
    fragment = world.authorize(login, OWNER, decision="deny")
    assert fragment["error"] == "access_denied"
    r = world.callback(fragment)
    assert r.status_code == 200 and r.json()["status"] == "denied"
    r = world.claim(login)
    assert r.status_code == 403
    assert r.json() == {"error": "You declined access.", "reason": "denied"}
    assert world.session_count() == 0


def test_claim_is_pending_until_the_callback_arrives(world):
    login = world.start_login()
    assert world.claim(login).status_code == 202
    world.callback(world.authorize(login, OWNER))
    assert world.claim(login).status_code == 200


def test_a_token_issued_to_another_app_is_refused_and_makes_no_session(world):
    login = world.start_login()
    fragment = world.authorize(login, OWNER)
    fragment["access_token"] = world.mint_token(OWNER, client_id="other-app")
    r = world.callback(fragment)
    assert r.status_code == 400
    assert r.json()["reason"] == "wrong_audience"
    assert "different app" in r.json()["error"]
    claim = world.claim(login)
    assert claim.status_code == 400 and "different app" in claim.json()["error"]
    assert world.session_count() == 0


def test_a_replayed_callback_creates_no_second_session(world):
    login = world.start_login()
    fragment = world.authorize(login, OWNER)
    assert world.callback(fragment).status_code == 200
    replay = world.callback(fragment)
    assert replay.status_code == 409
    assert replay.json()["reason"] == "used"
    assert world.session_count() == 1
    assert world.claim(login).status_code == 200
    second = world.claim(login)
    assert second.status_code == 409 and "session_token" not in second.json()


def test_the_session_goes_only_to_the_frame_holding_the_claim(world):
    login = world.start_login()
    world.callback(world.authorize(login, OWNER))
    stolen = world.client.post(f"/api/logins/{login['login_id']}/claim",
                               json={"claim": "guessed-" + login["claim"][8:]})
    assert stolen.status_code == 403 and "session_token" not in stolen.json()
    assert world.claim(login).status_code == 200  # the real frame is unaffected


def test_a_token_delivered_with_another_frames_state_signs_in_only_that_frame(world):
    victim = world.start_login()
    attacker_token = world.mint_token(REMIXER)
    r = world.callback({"state": world.authorize(victim, OWNER)["state"],
                        "access_token": attacker_token, "token_type": "bearer"})
    assert r.status_code == 200
    other_frame = world.start_login()
    hijack = world.client.post(f"/api/logins/{victim['login_id']}/claim",
                               json={"claim": other_frame["claim"]})
    assert hijack.status_code == 403


def _state_for(login_id: str, *, key: str = SECRET_KEY, age: int = 0) -> str:
    class OldSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age
    return URLSafeTimedSerializer(key, salt="thingapp.login-state",
                                  signer=OldSigner).dumps(login_id)


@pytest.mark.parametrize(("make_state", "reason"), [
    (lambda login_id: _state_for(login_id, key="another-key-" + "y" * 30), "bad_state"),
    (lambda login_id: _state_for(login_id, age=3600), "expired"),
    (lambda login_id: _state_for(login_id)[:-2] + "xx", "bad_state"),
    (lambda login_id: "not-a-state", "bad_state"),
])
def test_forged_or_expired_state_is_refused(world, make_state, reason):
    login = world.start_login()
    token = world.mint_token(OWNER)
    r = world.callback({"state": make_state(login["login_id"]), "access_token": token})
    assert r.status_code == 400
    assert r.json()["reason"] == reason
    assert world.session_count() == 0
    assert world.claim(login).status_code == 202  # the real login is untouched


def test_session_tokens_are_checked(world, tmp_path):
    token = world.sign_in(OWNER)
    assert world.context(token, OWNED_CC).status_code == 200
    other_key = URLSafeTimedSerializer("another-key-" + "z" * 30, salt="thingapp.session")
    for bad in (token[:-3] + "abc", "nonsense", other_key.dumps("x")):
        r = world.context(bad, OWNED_CC)
        assert r.status_code == 401 and r.json()["reason"] == "signed_out"
    assert world.client.get("/api/context?thing_id=2001").status_code == 401


def test_sign_out_ends_the_session(world):
    token = world.sign_in(OWNER)
    headers = {"Authorization": f"Bearer {token}"}
    assert world.client.post("/api/logout", headers=headers).status_code == 204
    assert world.context(token, OWNED_CC).status_code == 401
    assert world.session_count() == 0


def test_an_expired_app_session_is_refused(tmp_path):
    w = World(tmp_path, session_ttl=1)
    with w.client, w.sandbox:
        token = w.sign_in(OWNER)
        time.sleep(2.1)
        assert w.context(token, OWNED_CC).status_code == 401


def test_the_app_session_token_expires_by_itself_even_if_the_store_keeps_the_session(tmp_path):
    import asyncio

    from thingapp.store import open_store
    w = World(tmp_path, session_ttl=1)
    with w.client, w.sandbox:
        token = w.sign_in(OWNER)
        session_id = URLSafeTimedSerializer(SECRET_KEY, salt="thingapp.session").loads(token)

        async def keep_for_an_hour() -> None:  # the store alone would still accept it
            store = open_store(w.settings.store_url)
            try:
                kept = await store.get_session(session_id)
                await store.delete_session(session_id)
                await store.create_session(session_id, kept.user_id, kept.token, 3600)
            finally:
                await store.close()
        asyncio.run(keep_for_an_hour())
        time.sleep(2.1)
        r = w.context(token, OWNED_CC)
        assert (r.status_code, r.json()["reason"]) == (401, "signed_out")


def test_a_callback_with_a_token_type_other_than_bearer_makes_no_session(world):
    login = world.start_login()
    fragment = world.authorize(login, OWNER)
    r = world.callback({**fragment, "token_type": "mac"})
    assert (r.status_code, r.json()["error"]) == (400, "token_type must be bearer.")
    assert world.session_count() == 0
    assert world.claim(login).status_code == 202  # still pending: nothing came of it


def test_a_session_survives_an_app_restart_on_the_same_store(tmp_path):
    w = World(tmp_path)
    with w.client, w.sandbox:
        token = w.sign_in(OWNER)
    restarted = World(tmp_path, sandbox_app=w.sandbox_app)  # same Thingiverse, new app
    with restarted.client, restarted.sandbox:
        assert restarted.context(token, OWNED_CC).status_code == 200


def test_unknown_thing_gets_a_sentence_not_a_500(world):
    r = world.context(world.sign_in(OWNER), 999999)
    assert r.status_code == 404
    assert r.json()["error"] == "Thingiverse has no Thing 999999 (it may have been deleted)."


def test_a_revoked_thingiverse_token_signs_the_user_out(world):
    login = world.start_login()
    fragment = world.authorize(login, OWNER)
    world.callback(fragment)
    token = world.claim(login).json()["session_token"]
    world.sandbox.post("/sandbox/tokens/revoke", json={"access_token": fragment["access_token"]})
    # A Thing not read during the sign-in (that one is served from the minute's cache, as a
    # repeat launch is), so the API is asked and refuses the token.
    r = world.context(token, CC_SA)
    assert r.status_code == 401 and "connect again" in r.json()["error"]
    assert world.session_count() == 0


# The legacy launch with ?code= ------------------------------------------------------------

def _code_for(world: World, user_id: int) -> str:
    r = world.sandbox.post("/sandbox/codes", json={"user_id": user_id, "client_id": CLIENT_ID})
    assert r.status_code == 201
    return r.json()["code"]


def test_launch_with_a_code_signs_in_without_a_click(world):
    assert world.client.get(f"/?thing_id={OWNED_CC}").status_code == 200  # the plain page, kept
    page = world.client.get(f"/?thing_id={OWNED_CC}&code={_code_for(world, OWNER)}")
    assert page.status_code == 200
    login_id = page.text.split('data-login-id="')[1].split('"')[0]
    claim = page.text.split('data-claim="')[1].split('"')[0]
    r = world.claim({"login_id": login_id, "claim": claim})
    assert r.status_code == 200
    assert world.context(r.json()["session_token"], OWNED_CC).json()["actions"][0]["id"] == "post"


def test_launch_with_a_bad_code_says_so(world):
    page = world.client.get(f"/?thing_id={OWNED_CC}&code=not-a-code")
    assert page.status_code == 200
    assert "Thingiverse did not accept the sign-in code" in page.text
    assert "data-claim" not in page.text


def test_launch_with_a_code_but_no_client_secret_says_so(tmp_path):
    w = World(tmp_path, client_secret="")
    with w.client, w.sandbox:
        page = w.client.get(f"/?thing_id={OWNED_CC}&code={_code_for(w, OWNER)}")
        assert page.status_code == 200
        assert "Automatic sign-in is not set up for this app" in page.text


# Launch page ----------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["thing_id=2002", "id=2002", "thing=https://www.thingiverse.com/thing:2002",
                                   "thing=thing:2002", "thing=+2002+"])
def test_launch_accepts_the_ways_a_thing_is_named(world, query):
    page = world.client.get(f"/?{query}")
    assert page.status_code == 200
    assert 'data-thing-id="2002"' in page.text
    assert world.client.get(f"/?{query}").text == page.text  # the same page the second time


def test_launch_pages_kept_by_address_stay_each_things_own(world):
    queries = ["thing_id=2002", "thing_id=2003", "id=2002", "thing=thing:2003", "thing_id=2002",
               "thing_id=2003&x=" + "y" * 80]  # the last too long to be kept
    for query in [*queries, *queries]:
        page = world.client.get(f"/?{query}")
        assert f'data-thing-id="{query.split("&")[0][-4:]}"' in page.text, query


def test_launch_without_a_thing_shows_a_picker(world):
    page = world.client.get("/")
    assert page.status_code == 200 and 'name="thing"' in page.text


@pytest.mark.parametrize("value", ["abc", "-5", "0", "99999999999999", "thing:", "https://evil.test/x"])
def test_launch_with_a_bad_thing_reference_explains(world, value):
    page = world.client.get("/", params={"thing": value})
    assert page.status_code == 400
    assert "That is not a Thing" in page.text


# Headers --------------------------------------------------------------------------------

PAGES = ["/", "/?thing_id=2001", "/?thing=nope", "/callback", "/no-such-page"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sets_the_framing_and_referrer_headers(world, path):
    r = world.client.get(path)
    csp = r.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["frame-ancestors"] == "http://localhost:8800"
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in csp
    assert "x-frame-options" not in r.headers
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"


def test_api_answers_are_not_cached(world):
    token = world.sign_in(OWNER)
    for r in (world.client.post("/api/logins", json={}), world.context(token, OWNED_CC),
              world.client.post("/api/callback", json={"state": "x", "access_token": "y"})):
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_frame_ancestors_follow_the_settings(tmp_path):
    w = World(tmp_path, frame_ancestors=("https://www.thingiverse.com", "https://thingiverse.com"))
    with w.client:
        csp = w.client.get("/?thing_id=1").headers["content-security-policy"]
    assert "frame-ancestors https://www.thingiverse.com https://thingiverse.com" in csp


def server_log(caplog) -> str:
    """What the app (and its upstream client) logged; the test's own HTTP client is not the app."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx2"))


def test_a_token_in_a_query_string_is_refused_and_not_logged(world, caplog):
    caplog.set_level(logging.INFO)
    r = world.client.get("/api/context?thing_id=2001&access_token=tok-in-url-123")
    assert r.status_code == 400 and "must not be sent in a URL" in r.json()["error"]
    assert "frame-ancestors" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    assert "GET /api/context 400" in server_log(caplog)
    assert "tok-in-url-123" not in server_log(caplog)


def test_no_token_or_claim_reaches_the_logs(world, caplog):
    caplog.set_level(logging.DEBUG)
    login = world.start_login()
    fragment = world.authorize(login, OWNER)
    world.callback(fragment)
    session = world.claim(login).json()["session_token"]
    world.context(session, OWNED_CC)
    assert "POST /api/callback 200" in server_log(caplog)
    for secret in (fragment["access_token"], login["claim"], session):
        assert secret not in server_log(caplog)


# Strict JSON ----------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b"{not json", "application/json", 400),
    (b"[]", "application/json", 400),
    (b'{"thing_id": "2001"}', "application/json", 400),
    (b'{"thing_id": true}', "application/json", 400),
    (b'{"thing_id": 2001, "extra": 1}', "application/json", 400),
    (b'{"mode": "window"}', "application/json", 400),
    (b'{"thing_id": 2001}', "text/plain", 415),
    (b'{"thing_id": 1, "mode": "' + b"x" * 20000 + b'"}', "application/json", 413),
])
def test_bad_json_bodies_get_a_sentence(world, body, content_type, status):
    r = world.client.post("/api/logins", content=body, headers={"content-type": content_type})
    assert r.status_code == status
    assert isinstance(r.json()["error"], str) and r.json()["error"].endswith(".")


def test_callback_without_token_or_error_is_refused(world):
    r = world.callback({"state": world.authorize(world.start_login(), OWNER)["state"]})
    assert r.status_code == 400


def test_an_unexpected_error_is_a_sentence_not_a_traceback(tmp_path):
    w = World(tmp_path)

    async def boom(request):
        raise RuntimeError("internal detail")
    w.app.router.add_route("/api/boom", boom)
    with TestClient(w.app, raise_server_exceptions=False, base_url="http://127.0.0.1:8000") as c:
        r = c.get("/api/boom")
    assert r.status_code == 500
    assert r.json() == {"error": "Something went wrong on our side. Please try again."}
    assert "frame-ancestors http://localhost:8800" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_the_callback_reports_upstream_and_own_time_apart(world):
    login = world.start_login()
    r = world.callback(world.authorize(login, OWNER))
    parts = dict(p.strip().split(";dur=") for p in r.headers["server-timing"].split(","))
    assert set(parts) == {"tokeninfo", "app"}
    assert float(parts["tokeninfo"]) > 0 and float(parts["app"]) > 0


def upstream_reads(world: World, thing_id: int) -> int:
    paths = {f"/things/{thing_id}", f"/things/{thing_id}/files",
             f"/things/{thing_id}/categories"}
    return sum(1 for e in world.sandbox.get("/sandbox/requests").json()
               if e["method"] == "GET" and e["path"] in paths)


def test_the_thing_is_read_beside_tokeninfo_so_the_page_needs_no_more_calls(world):
    login = world.start_login(OWNED_CC)
    assert world.callback(world.authorize(login, OWNER)).status_code == 200
    token = world.claim(login).json()["session_token"]
    read_during_sign_in = upstream_reads(world, OWNED_CC)
    assert read_during_sign_in == 3  # the Thing, its files, its categories
    assert world.context(token, OWNED_CC).status_code == 200
    assert upstream_reads(world, OWNED_CC) == read_during_sign_in  # all from the sign-in


def test_reads_made_with_a_token_of_another_app_are_never_kept(world):
    login = world.start_login(OWNED_CC)
    fragment = world.authorize(login, OWNER)
    fragment["access_token"] = world.mint_token(OWNER, client_id="other-app")
    assert world.callback(fragment).json()["reason"] == "wrong_audience"
    time.sleep(0.3)  # anything kept in the background would be there by now

    async def cached() -> list[str | None]:
        store = open_store(world.settings.store_url)
        try:
            return [await store.cache_get(key) for key in (
                f"thing:{OWNER}:{OWNED_CC}", f"files:{OWNER}:{OWNED_CC}",
                f"categories:{OWNED_CC}", f"me:{OWNER}")]
        finally:
            await store.close()
    assert asyncio.run(cached()) == [None, None, None, None]
