"""Hostile input: each case a clear 4xx with a sentence, never a 500, and no state changed.

One table; each row sets itself up (if it needs a login or a session), makes its request, and
names the status and the words the answer must carry. Then property-based tests throw generated
bodies at every JSON endpoint: none may produce a 500.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from world import CC_SA, OWNED_CC, OWNER, REMIXER, SECRET_KEY, World

from thingapp.store import LoginStatus

MB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    name: str
    send: Callable[[World, Any], httpx2.Response]  # the hostile request
    status: int
    says: str
    setup: Callable[[World], Any] = lambda w: None  # what a real user did before it


def _state(login_id: str, key: str = SECRET_KEY, age: int = 0) -> str:
    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age
    return URLSafeTimedSerializer(key, salt="thingapp.login-state", signer=Signer).dumps(login_id)


def _login_and_token(w: World) -> tuple[dict, str]:
    return w.start_login(), w.mint_token(OWNER)


def _callback_with(make_state: Callable[[str], str]) -> Callable[[World, Any], httpx2.Response]:
    return lambda w, ctx: w.callback({"state": make_state(ctx[0]["login_id"]),
                                      "access_token": ctx[1]})


def _spent_callback(w: World) -> dict:
    login = w.start_login()
    fragment = w.authorize(login, OWNER)
    w.callback(fragment)
    w.claim(login)
    return fragment


def _two_frames(w: World) -> tuple[dict, dict]:
    mine, theirs = w.start_login(), w.start_login()
    w.callback(w.authorize(theirs, OWNER))
    return mine, theirs


def _other_clients_token(w: World) -> dict:
    login = w.start_login()
    return {"state": w.authorize_state(login),
            "access_token": w.mint_token(OWNER, client_id="other-app")}


def _post(path: str, body: bytes, content_type: str = "application/json"
          ) -> Callable[[World, Any], httpx2.Response]:
    def send(w: World, session: str | None) -> httpx2.Response:
        headers = {"content-type": content_type}
        if session:
            headers["authorization"] = f"Bearer {session}"
        return w.client.post(path, content=body, headers=headers)
    return send


def _context(thing: str) -> Callable[[World, Any], httpx2.Response]:
    return lambda w, token: w.client.get("/api/context", params={"thing_id": thing},
                                         headers={"authorization": f"Bearer {token}"})


def _signed_in(w: World) -> str:
    return w.sign_in(OWNER)


def _deleted_thing(w: World) -> tuple[str, int]:
    thing = w.api("POST", "/things/", OWNER, json={"name": "Soon gone", "license": "cc",
                                                   "category": "Other"}).json()
    w.api("DELETE", f"/things/{thing['id']}", OWNER)
    return w.sign_in(OWNER), thing["id"]


def _tampered_session(w: World) -> str:
    token = w.sign_in(OWNER)
    return token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")


def _expired_session(w: World) -> str:
    class Old(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 9 * 3600
    return URLSafeTimedSerializer(SECRET_KEY, salt="thingapp.session", signer=Old).dumps("any")


def _other_keys_session(w: World) -> str:
    return URLSafeTimedSerializer("another-key-" + "z" * 30, salt="thingapp.session").dumps("x")


JSON_ENDPOINTS = ["/api/logins", "/api/callback", "/api/logins/some-login/claim"]
JOB = b'{"thing_id": 2001, "file_id": 3001, "action": "post"'

CASES = [
    Case("forged state", _callback_with(lambda i: _state(i, key="k" * 40)), 400,
         "did not come from this app", _login_and_token),
    Case("expired state", _callback_with(lambda i: _state(i, age=3600)), 400, "took too long",
         _login_and_token),
    Case("state of no login", _callback_with(lambda i: _state("no-such-login")), 400,
         "has expired", _login_and_token),
    Case("reused state", lambda w, fragment: w.callback(fragment), 409, "already used",
         _spent_callback),
    Case("another frame's claim", lambda w, frames: w.client.post(
        f"/api/logins/{frames[1]['login_id']}/claim", json={"claim": frames[0]["claim"]}),
        403, "unknown or has expired", _two_frames),
    Case("token issued to another client", lambda w, fragment: w.callback(fragment), 400,
         "different app", _other_clients_token),
    Case("token in a query string",
         lambda w, _: w.client.get("/?thing_id=2001&access_token=abc"), 400,
         "not be sent in a URL"),
    Case("session token in a query string",
         lambda w, _: w.client.get("/api/context?thing_id=2001&session_token=abc"), 400,
         "not be sent in a URL"),
    *[Case(f"not JSON to {path}", _post(path, b"thing_id=1"), 400, "not valid JSON")
      for path in JSON_ENDPOINTS],
    *[Case(f"JSON of the wrong type to {path}", _post(path, b'["a", 1]'), 400,
           "must be a JSON object") for path in JSON_ENDPOINTS],
    *[Case(f"1 MB body to {path}", _post(path, b'{"x": "' + b"y" * MB + b'"}'), 413,
           "larger than 16 KB") for path in JSON_ENDPOINTS],
    *[Case(f"JSON nested 5,000 deep to {path}", _post(path, b"[" * 5000 + b"]" * 5000), 400,
           "not valid JSON") for path in JSON_ENDPOINTS],
    *[Case(f"UTF-16 JSON to {path}", _post(path, '{"thing_id": 1}'.encode("utf-16")), 400,
           "not valid JSON") for path in JSON_ENDPOINTS],
    *[Case(f"unknown field to {path}", _post(path, b'{"evil": 1}'), 400,
           "Unknown field(s): evil.") for path in JSON_ENDPOINTS],
    *[Case(f"form content type to {path}",
           _post(path, b"{}", "application/x-www-form-urlencoded"), 415,
           "Content-Type: application/json") for path in JSON_ENDPOINTS],
    Case("not JSON to /api/jobs", _post("/api/jobs", b"nope"), 400, "not valid JSON", _signed_in),
    Case("1 MB body to /api/jobs", _post("/api/jobs", b"{" + b" " * MB + b"}"), 413,
         "larger than 16 KB", _signed_in),
    Case("unknown field to /api/jobs", _post("/api/jobs", JOB + b', "owner": 1}'), 400,
         "Unknown field(s): owner", _signed_in),
    Case("wrong types to /api/jobs",
         _post("/api/jobs", b'{"thing_id": "2001", "file_id": 1, "action": "post"}'), 400,
         "must be a int", _signed_in),
    Case("options not an object", _post("/api/jobs", JOB + b', "options": 5}'), 400,
         "must be a dict", _signed_in),
    Case("unknown action", _post("/api/jobs", JOB.replace(b"post", b"delete") + b"}"), 400,
         "action must be post, remix or download", _signed_in),
    Case("job for a Thing of another owner", _post("/api/jobs", JOB.replace(
        b"2001", b"2003") + b"}"), 403, "is not open to you", _signed_in),
    Case("negative thing id", _context("-5"), 400, "must be a Thing number", _signed_in),
    Case("huge thing id", _context("9" * 30), 400, "must be a Thing number", _signed_in),
    Case("non-numeric thing id", _context("abc"), 400, "must be a Thing number", _signed_in),
    Case("deleted thing", lambda w, ctx: _context(str(ctx[1]))(w, ctx[0]), 404,
         "may have been deleted", _deleted_thing),
    Case("tampered session token", _context("2001"), 401, "session has ended", _tampered_session),
    Case("expired session token", _context("2001"), 401, "session has ended", _expired_session),
    Case("session token of another key", _context("2001"), 401, "session has ended",
         _other_keys_session),
    Case("no session", lambda w, _: w.client.get("/api/context?thing_id=2001"), 401,
         "connect your Thingiverse account"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_gets_a_4xx_sentence_and_changes_nothing(world, case):
    context = case.setup(world)
    before = world.state_snapshot()
    r = case.send(world, context)
    assert r.status_code == case.status, r.text
    is_json = r.headers.get("content-type", "").startswith("application/json")
    assert case.says in (r.json()["error"] if is_json else r.text)
    after = world.state_snapshot()
    assert after.store.sessions == before.store.sessions  # nobody got a session
    assert after.store.jobs == before.store.jobs
    assert after.store.webhooks == before.store.webhooks
    assert after.thingiverse_writes == before.thingiverse_writes
    # No login is created or completed; one may at most be marked failed (so its frame hears
    # why).
    logins_before, logins_after = before.store.logins, after.store.logins
    assert sum(logins_after.values()) == sum(logins_before.values())
    for status in (LoginStatus.COMPLETE, LoginStatus.CLAIMED, LoginStatus.DENIED):
        assert logins_after.get(status, 0) == logins_before.get(status, 0), status


@pytest.mark.parametrize("how", ["chunked", "a lying Content-Length"])
def test_a_json_body_over_the_limit_is_refused_however_it_is_sent(world, how):
    body = json.dumps({"thing_id": 2001, "mode": "x" * 20_000}).encode()
    headers = {"content-type": "application/json"}
    if how == "chunked":
        content: object = iter([body[:8000], body[8000:]])  # no Content-Length at all
    else:
        content, headers["content-length"] = body, "40"
    r = world.client.post("/api/logins", content=content, headers=headers)
    assert (r.status_code, r.json()["error"]) == (413, "The request body is larger than 16 KB.")
    assert world.census().logins == {}


# Tokeninfo answering oddly, for an app whose client id is "123" ---------------------------------

class ScriptedTokeninfo(httpx2.AsyncBaseTransport):
    """Thingiverse, except that tokeninfo answers with `content` (status 200)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, content: bytes) -> None:
        self.inner, self.content = inner, content

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/login/oauth/tokeninfo":
            return httpx2.Response(200, content=self.content)
        return await self.inner.handle_async_request(request)


@pytest.mark.parametrize(("tokeninfo", "status", "says"), [
    ({"audience": 123, "user_id": "1001"}, 200, ""),
    ({"audience": "123", "user_id": "1001"}, 200, ""),
    ({"audience": "1234", "user_id": "1001"}, 400, "different app"),
    ({"audience": " 123", "user_id": "1001"}, 400, "different app"),
    ({"audience": "123 ", "user_id": "1001"}, 400, "different app"),
    ({"audience": 123.0, "user_id": "1001"}, 400, "did not accept"),
    ({"user_id": "1001"}, 400, "did not accept"),
    ({"audience": "123"}, 400, "did not accept"),
    ("<html>Service Unavailable</html>", 400, "did not accept"),
])
def test_the_audience_must_match_exactly_and_tokeninfo_must_be_clear(tmp_path, tokeninfo, status,
                                                                      says):
    content = tokeninfo.encode() if isinstance(tokeninfo, str) else json.dumps(tokeninfo).encode()
    w = World(tmp_path, client_id="123",
              wrap_transport=lambda inner: ScriptedTokeninfo(inner, content))
    with w.client, w.sandbox:
        login = w.start_login()
        r = w.callback({"state": w.authorize_state(login), "access_token": "any-token"})
        assert r.status_code == status, r.text
        if status != 200:
            assert says in r.json()["error"]
        assert w.session_count() == (1 if status == 200 else 0)


class CookieSetting(httpx2.AsyncBaseTransport):
    """Thingiverse with a cookie on every answer (as a CDN in front of it may set one), noting
    the Cookie header each call carried."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner, self.sent = inner, []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.sent.append(request.headers.get("cookie"))
        response = await self.inner.handle_async_request(request)
        response.headers["set-cookie"] = f"visitor=of-call-{len(self.sent)}; Path=/"
        return response


def test_a_cookie_thingiverse_sets_never_rides_along_with_another_call(tmp_path):
    """One HTTP client serves every user: a cookie from one user's answer must not go out with
    the next user's calls."""
    upstream: list[CookieSetting] = []
    w = World(tmp_path, wrap_transport=lambda inner: upstream.append(CookieSetting(inner))
              or upstream[-1])
    with w.client, w.sandbox:
        for user_id, thing_id in ((OWNER, OWNED_CC), (REMIXER, CC_SA)):
            assert w.context(w.sign_in(user_id, thing_id), thing_id).status_code == 200
    assert len(upstream[0].sent) >= 8  # tokeninfo and the reads, for each user
    assert upstream[0].sent == [None] * len(upstream[0].sent)


class DeepThing(httpx2.AsyncBaseTransport):
    """Thingiverse, except that a Thing's answer carries a field nested 300 levels deep."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner, self.thing_reads = inner, 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path != f"/things/{OWNED_CC}":
            return response
        self.thing_reads += 1
        await response.aread()
        thing = response.json()
        thing["extra"] = json.loads("[" * 300 + "]" * 300)
        return httpx2.Response(200, json=thing)


def test_a_thing_nested_deeper_than_the_json_writer_goes_is_still_shown_and_cached(tmp_path):
    upstream: list[DeepThing] = []
    w = World(tmp_path, wrap_transport=lambda inner: upstream.append(DeepThing(inner))
              or upstream[-1])
    with w.client, w.sandbox:
        token = w.sign_in(OWNER, OWNED_CC)
        for _ in range(2):
            r = w.context(token, OWNED_CC)
            assert r.status_code == 200, r.text
            assert r.json()["thing"]["name"] == "Calibration Cube"
    assert upstream[0].thing_reads == 1  # the second from the cache


# File names and Thing text from Thingiverse are attacker-controlled --------------------------

def test_a_source_file_name_with_markup_and_shell_characters_makes_a_safe_name(world):
    import trimesh
    cube = trimesh.creation.box((10, 10, 10)).export(file_type="stl")
    # The sandbox refuses folders and control characters in names; test_scale_tool covers those.
    file_id = world.put_file(OWNER, OWNED_CC, "evil name;rm <b>&$(x).stl", cube)
    token = world.sign_in(OWNER)
    r = world.start_job(token, thing_id=OWNED_CC, file_id=file_id, action="download", tool="scale",
                        options={"mode": "percent", "value": "200", "output": "stl"})
    job = world.wait_job(token, r.json()["job_id"])
    assert job["status"] == "done", job
    assert job["result"]["download"] == "evil_name_rm_b_x_200pct.stl"
    file = world.client.get(f"/api/jobs/{job['id']}/file",
                            headers={"Authorization": f"Bearer {token}"})
    assert 'filename="evil_name_rm_b_x_200pct.stl"' in file.headers["content-disposition"]


# Property-based: no generated body makes a JSON endpoint answer 500 ---------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children,
                                                                       max_size=4),
    max_leaves=12)
objects = st.dictionaries(
    st.sampled_from(["thing_id", "mode", "state", "access_token", "error", "claim", "file_id",
                     "action", "tool", "options", "remix", "token_type", "x"]),
    json_values, max_size=6)
bodies = st.one_of(objects.map(lambda o: json.dumps(o).encode()),
                   json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200))


@pytest.fixture
def hook_world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path, webhook_secret="s" * 20)
    with w.client:
        yield w


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, path=st.sampled_from(JSON_ENDPOINTS + ["/api/jobs"]))
def test_no_generated_body_makes_a_500(world, body, path):
    headers = {"content-type": "application/json"}
    if path == "/api/jobs":
        headers["authorization"] = f"Bearer {world.shared_session()}"
    r = world.client.post(path, content=body, headers=headers)
    assert r.status_code < 500, (r.status_code, r.text)
    if r.status_code >= 400:
        assert isinstance(r.json()["error"], str)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_no_generated_webhook_body_makes_a_500(hook_world, body):
    r = hook_world.client.post("/webhooks/" + "s" * 20, content=body,
                               headers={"content-type": "application/json"})
    assert r.status_code in (200, 400), (r.status_code, r.text)
