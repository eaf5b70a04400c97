"""Thingiverse misbehaving, through the sandbox's fault injection, against real processes: what
the user is told (a sentence, never a 500), that nothing is lost, and that a retry succeeds."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from live import Server, free_port, start_server

ENV = {"THINGAPP_CLIENT_ID": "thingapp-demo", "THINGAPP_CLIENT_SECRET": "thingapp-demo-secret",
       "THINGAPP_SECRET_KEY": "faults-key-" + "f" * 32, "THINGAPP_HTTP_TIMEOUT": "1",
       "THINGAPP_JOB_STALE_AFTER": "2"}


class Pair:
    """`thingapp sandbox` and `thingapp serve` (SQLite), with a user's view of the app."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.app_port = free_port()
        sandbox_port = free_port()
        self.sandbox = start_server(["sandbox", "--port", str(sandbox_port), "--app-url",
                                     f"http://127.0.0.1:{self.app_port}"], sandbox_port,
                                    tmp_path / "sandbox.log", host="localhost")
        self.env = {**ENV, "THINGAPP_PUBLIC_URL": f"http://127.0.0.1:{self.app_port}",
                    "THINGIVERSE_URL": self.sandbox.url, "THINGIVERSE_API_URL": self.sandbox.url,
                    "THINGAPP_STORE": f"sqlite:///{tmp_path / 'app.sqlite3'}"}
        self.app = self.start_app()

    def start_app(self) -> Server:
        return start_server(["serve", "--port", str(self.app_port)], self.app_port,
                            self.tmp_path / "app.log", self.env)

    def stop(self) -> None:
        self.app.stop()
        self.sandbox.stop()

    def fault(self, route: str, **spec: object) -> None:
        r = httpx2.post(f"{self.sandbox.url}/sandbox/faults", json={"route": route, **spec})
        assert r.status_code == 201, r.text

    def clear_faults(self) -> None:
        httpx2.delete(f"{self.sandbox.url}/sandbox/faults").raise_for_status()

    def callback(self, user_id: int = 1001, thing_id: int = 2001) -> tuple[dict, httpx2.Response]:
        """Start a login, agree at the sandbox, deliver the callback: (login, its answer)."""
        login = httpx2.post(f"{self.app.url}/api/logins", json={"thing_id": thing_id}).json()
        query = {k: v[0] for k, v in parse_qs(urlsplit(login["authorize_url"]).query).items()}
        agreed = httpx2.post(f"{self.sandbox.url}/login/oauth/authorize",
                            data={**query, "user_id": str(user_id), "decision": "agree"})
        fragment = {k: v[0] for k, v in parse_qs(urlsplit(agreed.headers["location"]).fragment
                                                 ).items()}
        return login, httpx2.post(f"{self.app.url}/api/callback", json=fragment, timeout=30)

    def sign_in(self, user_id: int = 1001, thing_id: int = 2001) -> str:
        login, r = self.callback(user_id, thing_id)
        assert r.status_code == 200, r.text
        return httpx2.post(f"{self.app.url}/api/logins/{login['login_id']}/claim",
                          json={"claim": login["claim"]}).json()["session_token"]

    def new_thing(self, license: str = "cc-nd") -> int:
        """A Thing of olaf_original's that nobody has read yet (so no cache holds it)."""
        token = httpx2.post(f"{self.sandbox.url}/sandbox/tokens",
                           json={"user_id": 1003, "client_id": "thingapp-demo"}
                           ).json()["access_token"]
        return int(httpx2.post(f"{self.sandbox.url}/things/",
                              headers={"Authorization": f"Bearer {token}"},
                              json={"name": "Fresh", "license": license, "category": "Other"}
                              ).json()["id"])

    def get(self, path: str, token: str) -> httpx2.Response:
        return httpx2.get(f"{self.app.url}{path}", headers={"Authorization": f"Bearer {token}"},
                         timeout=30)

    def job(self, token: str, **body: object) -> dict:
        r = httpx2.post(f"{self.app.url}/api/jobs", json={"tool": "scale", **body},
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 202, r.text
        return self.wait_job(token, r.json()["job_id"])

    def wait_job(self, token: str, job_id: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            view = self.get(f"/api/jobs/{job_id}", token).json()
            if view["status"] != "running" or time.monotonic() > deadline:
                return view
            time.sleep(0.1)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    running = Pair(tmp_path_factory.mktemp("faults"))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def no_faults_left(pair: Pair) -> Iterator[None]:
    yield
    pair.clear_faults()


@pytest.mark.parametrize("spec", [{"kind": "timeout", "latency_ms": 5000},
                                  {"status": 503}, {"status": 500}, {"kind": "drop"},
                                  {"kind": "malformed"}])
def test_tokeninfo_failing_tells_the_user_and_a_retry_signs_in(pair, spec):
    pair.fault("POST /login/oauth/tokeninfo", **spec)
    started = time.monotonic()
    _, r = pair.callback()
    if spec.get("kind") == "malformed":  # a 200 that is not JSON vouches for nothing
        assert r.status_code == 400 and "did not accept this sign-in" in r.json()["error"]
    else:
        assert r.status_code == 502
        assert r.json()["error"] == ("Thingiverse could not confirm the sign-in just now. "
                                     "Please try again in a minute.")
    assert time.monotonic() - started < 10  # bounded, even when tokeninfo never answers
    pair.clear_faults()
    assert pair.sign_in()


@pytest.mark.parametrize(("spec", "status", "says"), [
    ({"status": 500}, 502, "Thingiverse did not answer properly. Try again in a minute."),
    ({"status": 502}, 502, "Thingiverse did not answer properly. Try again in a minute."),
    ({"kind": "malformed"}, 502, "Thingiverse did not answer properly. Try again in a minute."),
    ({"kind": "drop"}, 502, "Thingiverse did not answer properly. Try again in a minute."),
    ({"kind": "timeout", "latency_ms": 5000}, 502,
     "Thingiverse did not answer properly. Try again in a minute."),
    ({"status": 429}, 503, "Thingiverse is limiting requests right now."),
])
def test_the_api_failing_tells_the_user_and_a_retry_shows_the_actions(pair, spec, status, says):
    token = pair.sign_in(1002, 2002)
    thing_id = pair.new_thing()
    pair.fault("GET /things/{id}", **spec)
    r = pair.get(f"/api/context?thing_id={thing_id}", token)
    assert r.status_code == status and r.json()["error"].startswith(says)
    pair.clear_faults()
    r = pair.get(f"/api/context?thing_id={thing_id}", token)
    assert r.status_code == 200 and r.json()["reason"] == "The licence does not allow derivatives."


def test_a_single_dropped_read_is_retried_without_the_user_noticing(pair):
    token = pair.sign_in(1003, 2004)
    thing_id = pair.new_thing()
    pair.fault("GET /things/{id}", kind="drop", times=1)
    r = pair.get(f"/api/context?thing_id={thing_id}", token)
    assert r.status_code == 200 and r.json()["reason"] == "You own this Thing."


def test_storage_refusing_an_upload_leaves_no_remix_and_a_retry_posts_it(pair):
    token = pair.sign_in(1002, 2002)
    pair.fault("POST /files/{id}/uploadFile", status=403)
    remix = {"name": "Clip remix", "license": "cc-sa", "category": "Other"}
    failed = pair.job(token, thing_id=2002, file_id=3002, action="remix", remix=remix,
                      options={"mode": "percent", "value": "110", "output": "stl"})
    assert failed["status"] == "failed"
    assert "The half-made remix was removed, so nothing was posted." in failed["message"]
    pair.clear_faults()
    done = pair.job(token, thing_id=2002, file_id=3002, action="remix", remix=remix,
                    options={"mode": "percent", "value": "110", "output": "stl"})
    assert done["status"] == "done", done
    remix_id = done["result"]["thing_id"]
    user = httpx2.post(f"{pair.sandbox.url}/sandbox/tokens",
                      json={"user_id": 1002, "client_id": "thingapp-demo"}).json()["access_token"]
    things = httpx2.get(f"{pair.sandbox.url}/users/remy_remix/things",
                       headers={"Authorization": f"Bearer {user}"}).json()
    assert [t["id"] for t in things] == [remix_id]  # the failed attempt left nothing behind


def test_the_app_killed_mid_upload_reports_the_job_failed_and_names_the_remix(pair):
    token = pair.sign_in(1002, 2005)
    pair.fault("POST /files/{id}/uploadFile", bytes_per_second=200)
    r = httpx2.post(f"{pair.app.url}/api/jobs", headers={"Authorization": f"Bearer {token}"},
                   json={"thing_id": 2005, "file_id": 3007, "action": "remix", "tool": "scale",
                         "options": {"mode": "percent", "value": "120", "output": "stl"},
                         "remix": {"name": "Hinge box, bigger", "license": "cc-nc-sa",
                                   "category": "Other"}})
    job_id = r.json()["job_id"]
    deadline = time.monotonic() + 20
    while pair.get(f"/api/jobs/{job_id}", token).json()["step"] != "upload":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(pair.app.process.pid, signal.SIGKILL)
    pair.app.process.wait()
    pair.clear_faults()
    pair.app = pair.start_app()
    view = pair.wait_job(token, job_id)  # the session survived the restart too
    assert view["status"] == "failed"
    assert view["message"].startswith("The job stopped when the app restarted.")
    remix_url = view["result"]["url"]
    assert f"A half-made remix may be left at {remix_url}" in view["message"]
    retry = pair.job(token, thing_id=2005, file_id=3007, action="remix",
                     options={"mode": "percent", "value": "120", "output": "stl"},
                     remix={"name": "Hinge box, bigger", "license": "cc-nc-sa",
                            "category": "Other"})
    assert retry["status"] == "done", retry
