"""The app wired to an in-process sandbox, so HTTP tests cross both for real."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
from starlette.applications import Starlette
from starlette.testclient import TestClient

from thingapp.app import create_app
from thingapp.sandbox import create_sandbox_app, default_config
from thingapp.settings import Settings
from thingapp.store import Census, open_store
from thingapp.tools import Tool
from thingapp.tools.scale import ScaleTool
from thingapp.webhooks import WebhookHook

APP_URL = "http://127.0.0.1:8000"
SANDBOX_URL = "http://localhost:8800"
CLIENT_ID = "thingapp-demo"
CLIENT_SECRET = "thingapp-demo-secret"
SECRET_KEY = "test-secret-key-" + "x" * 32

OWNER, REMIXER, OTHER_CREATOR = 1001, 1002, 1003
OWNED_CC, CC_SA, CC_ND, ALL_RIGHTS_RESERVED, CC_NC_SA = 2001, 2002, 2003, 2004, 2005


def sandbox_with_flow(upload_flow: str) -> Starlette:
    """A sandbox offering only one upload flow ("new" or "legacy")."""
    config = default_config(SANDBOX_URL, APP_URL, CLIENT_ID, CLIENT_SECRET)
    return create_sandbox_app(replace(config, upload_flow=upload_flow))


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, secret_key=SECRET_KEY,
        public_url=APP_URL, thingiverse_url=SANDBOX_URL, api_url=SANDBOX_URL,
        store_url=f"sqlite:///{tmp_path / 'app.sqlite3'}")
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Snapshot:
    store: Census
    thingiverse_writes: int


class World:
    """An app and a sandbox, wired together in one process, with a story-like API for tests."""

    def __init__(self, tmp_path: Path, sandbox_app: object = None,
                 wrap_transport: Callable[[httpx2.AsyncBaseTransport], httpx2.AsyncBaseTransport]
                 = lambda t: t, on_webhook: WebhookHook | None = None,
                 tools: Sequence[Tool] = (ScaleTool(),), **overrides: object) -> None:
        self.tmp_path = tmp_path
        self.sandbox_app = sandbox_app or create_sandbox_app(
            default_config(SANDBOX_URL, APP_URL, CLIENT_ID, CLIENT_SECRET))
        self.sandbox = TestClient(self.sandbox_app, base_url=SANDBOX_URL)
        self.settings = make_settings(tmp_path, **overrides)
        self.app = create_app(self.settings,
                              transport=wrap_transport(httpx2.ASGITransport(self.sandbox_app)),
                              on_webhook=on_webhook, tools=tools)
        self.client = TestClient(self.app, base_url=APP_URL)

    def mint_token(self, user_id: int, client_id: str = CLIENT_ID) -> str:
        r = self.sandbox.post("/sandbox/tokens", json={"user_id": user_id, "client_id": client_id})
        assert r.status_code == 201, r.text
        return r.json()["access_token"]

    def start_login(self, thing_id: int | None = OWNED_CC, mode: str = "popup") -> dict:
        r = self.client.post("/api/logins", json={"thing_id": thing_id, "mode": mode})
        assert r.status_code == 201, r.text
        return r.json()

    def authorize(self, login: dict, user_id: int, decision: str = "agree") -> dict[str, str]:
        """Click Agree/Deny on the sandbox's authorize page; the fragment it redirects to."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(login["authorize_url"]).query).items()}
        page = self.sandbox.get("/login/oauth/authorize", params=query)
        assert page.status_code == 200, page.text
        r = self.sandbox.post("/login/oauth/authorize", data={**query, "user_id": str(user_id),
                                                              "decision": decision},
                              follow_redirects=False)
        assert r.status_code in (302, 303), r.text
        location = urlsplit(r.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == f"{APP_URL}/callback"
        return {k: v[0] for k, v in parse_qs(location.fragment).items()}

    def callback(self, fragment: dict[str, str]) -> httpx2.Response:
        return self.client.post("/api/callback", json=fragment)

    def claim(self, login: dict) -> httpx2.Response:
        return self.client.post(f"/api/logins/{login['login_id']}/claim",
                                json={"claim": login["claim"]})

    def sign_in(self, user_id: int, thing_id: int = OWNED_CC) -> str:
        """The whole token flow; returns the app session token."""
        login = self.start_login(thing_id)
        assert self.callback(self.authorize(login, user_id)).status_code == 200
        r = self.claim(login)
        assert r.status_code == 200, r.text
        return r.json()["session_token"]

    def context(self, session_token: str, thing_id: int) -> httpx2.Response:
        return self.client.get(f"/api/context?thing_id={thing_id}",
                               headers={"Authorization": f"Bearer {session_token}"})

    def start_job(self, session_token: str, **body: object) -> httpx2.Response:
        return self.client.post("/api/jobs", json=body,
                                headers={"Authorization": f"Bearer {session_token}"})

    def wait_job(self, session_token: str, job_id: str, timeout: float = 30) -> dict:
        """Poll the job as the page does until it is no longer running."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.client.get(f"/api/jobs/{job_id}",
                                headers={"Authorization": f"Bearer {session_token}"})
            assert r.status_code == 200, r.text
            if r.json()["status"] != "running":
                return r.json()
            assert time.monotonic() < deadline, r.json()
            time.sleep(0.05)

    def api(self, method: str, path: str, user_id: int, **kwargs: object) -> httpx2.Response:
        """Call the sandbox's API as a user, the way a test checks what Thingiverse holds."""
        token = self.mint_token(user_id)
        return self.sandbox.request(method, path, headers={"Authorization": f"Bearer {token}"},
                                    **kwargs)  # type: ignore[arg-type]

    def put_file(self, user_id: int, thing_id: int, name: str, data: bytes) -> int:
        """Put a file on a Thing through the sandbox's own upload flow; its new file id."""
        ticket = self.api("POST", f"/things/{thing_id}/files", user_id, json={"filename": name})
        assert ticket.status_code == 200, ticket.text
        action = ticket.json()["action"].removeprefix(SANDBOX_URL)
        stored = self.sandbox.post(action, data=ticket.json()["fields"],
                                   files={"file": (name, data)}, follow_redirects=False)
        assert stored.status_code in (200, 303), stored.text
        finalize = ticket.json()["fields"]["success_action_redirect"].removeprefix(SANDBOX_URL)
        done = self.api("POST", finalize, user_id)
        assert done.status_code == 200, done.text
        return int(done.json()["id"])

    def census(self) -> Census:
        """What the app's store holds, asked through the store's own interface."""
        async def count() -> Census:
            store = open_store(self.settings.store_url)
            try:
                return await store.census()
            finally:
                await store.close()
        return asyncio.run(count())

    def session_count(self) -> int:
        return self.census().sessions

    def state_snapshot(self) -> Snapshot:
        """The app's stored state, and how many writes Thingiverse has received."""
        return Snapshot(
            store=self.census(),
            thingiverse_writes=sum(
                1 for e in self.sandbox.get("/sandbox/requests").json()
                if e["method"] in ("POST", "PATCH", "DELETE")
                and not e["path"].startswith(("/login/oauth/", "/sandbox/"))))

    def authorize_state(self, login: dict) -> str:
        """The state a login sends to Thingiverse (as the callback would bring it back)."""
        return parse_qs(urlsplit(login["authorize_url"]).query)["state"][0]

    def shared_session(self) -> str:
        """One signed-in session, reused (for property tests that need many requests)."""
        if not hasattr(self, "_shared_session"):
            self._shared_session = self.sign_in(OWNER)
        return self._shared_session
