"""Several instances, one store: the sign-in crosses instances, a state is spent once, and a
restart signs nobody out. Real processes: `thingapp serve` x2, `thingapp sandbox`, Redis."""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from live import Server, free_port, sign_in_with_popup, start_server
from playwright.sync_api import expect
from proxy import ProxyServer, RoundRobinProxy

CLIENT = {"THINGAPP_CLIENT_ID": "thingapp-demo", "THINGAPP_CLIENT_SECRET": "thingapp-demo-secret",
          "THINGAPP_SECRET_KEY": "scale-out-key-" + "k" * 30}


def app_env(public_url: str, sandbox_url: str, store_url: str) -> dict[str, str]:
    return {**CLIENT, "THINGAPP_PUBLIC_URL": public_url, "THINGIVERSE_URL": sandbox_url,
            "THINGIVERSE_API_URL": sandbox_url, "THINGAPP_STORE": store_url}


def start_sandbox(tmp_path: Path, app_url: str) -> Server:
    port = free_port()
    return start_server(["sandbox", "--port", str(port), "--app-url", app_url], port,
                        tmp_path / "sandbox.log", host="localhost")


def start_app(tmp_path: Path, name: str, env: dict[str, str]) -> Server:
    port = free_port()
    return start_server(["serve", "--port", str(port)], port, tmp_path / f"{name}.log", env)


def authorize(sandbox: Server, authorize_url: str, user_id: int) -> dict[str, str]:
    """Agree on the sandbox's authorize page, as a browser would; the callback's fragment."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
    r = httpx2.post(f"{sandbox.url}/login/oauth/authorize",
                   data={**query, "user_id": str(user_id), "decision": "agree"})
    assert r.status_code == 303, r.text
    return {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).fragment).items()}


@pytest.fixture
def cluster(tmp_path: Path, store_url: str):
    """Two app instances sharing one store (Redis, or one SQLite file as two worker processes on
    a machine do) behind a round-robin proxy; the callback is pinned to the first instance and
    the claim to the second, so the sign-in always crosses instances."""
    proxy_port = free_port()
    public = f"http://127.0.0.1:{proxy_port}"
    sandbox = start_sandbox(tmp_path, public)
    env = app_env(public, sandbox.url, store_url)
    apps = [start_app(tmp_path, "app-a", env), start_app(tmp_path, "app-b", env)]
    proxy = RoundRobinProxy([a.url for a in apps],
                            pin=lambda path: 0 if path == "/api/callback" else
                            1 if path.endswith("/claim") else None)
    try:
        with ProxyServer(proxy, proxy_port):
            yield proxy, apps, sandbox
    finally:
        for server in (*apps, sandbox):
            server.stop()


@pytest.mark.e2e
def test_sign_in_completes_across_two_instances_sharing_a_store(cluster, page):
    proxy, apps, sandbox = cluster
    frame = sign_in_with_popup(page, sandbox.url, 2001, "mara_makes")
    expect(frame.locator("#reason")).to_have_text("You own this Thing.")
    callback = [i for path, i in proxy.served if path == "/api/callback"]
    claims = [i for path, i in proxy.served if path.endswith("/claim")]
    assert callback == [0] and claims and set(claims) == {1}
    assert {i for _, i in proxy.served} == {0, 1}
    assert "POST /api/callback 200" in apps[0].log()
    assert "/claim 200" in apps[1].log()


def test_a_state_spent_on_two_instances_at_once_succeeds_once(cluster):
    proxy, apps, sandbox = cluster
    login = httpx2.post(f"{apps[0].url}/api/logins", json={"thing_id": 2001}).json()
    fragment = authorize(sandbox, login["authorize_url"], 1001)
    results: list[int] = []
    barrier = threading.Barrier(2)

    def deliver(app: Server) -> None:
        barrier.wait()
        results.append(httpx2.post(f"{app.url}/api/callback", json=fragment).status_code)
    threads = [threading.Thread(target=deliver, args=(app,)) for app in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 409]
    claim = httpx2.post(f"{apps[1].url}/api/logins/{login['login_id']}/claim",
                       json={"claim": login["claim"]})
    assert claim.status_code == 200


def test_a_session_outlives_an_app_restart_on_the_same_sqlite_file(tmp_path):
    app_port = free_port()
    public = f"http://127.0.0.1:{app_port}"
    sandbox = start_sandbox(tmp_path, public)
    env = app_env(public, sandbox.url, f"sqlite:///{tmp_path / 'app.sqlite3'}")
    app = start_server(["serve", "--port", str(app_port)], app_port, tmp_path / "app.log", env)
    try:
        login = httpx2.post(f"{app.url}/api/logins", json={"thing_id": 2001}).json()
        httpx2.post(f"{app.url}/api/callback",
                   json=authorize(sandbox, login["authorize_url"], 1001)).raise_for_status()
        token = httpx2.post(f"{app.url}/api/logins/{login['login_id']}/claim",
                           json={"claim": login["claim"]}).json()["session_token"]
        app.stop()
        app = start_server(["serve", "--port", str(app_port)], app_port, tmp_path / "app.log",
                           env)
        r = httpx2.get(f"{app.url}/api/context?thing_id=2001",
                      headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert r.json()["reason"] == "You own this Thing."
    finally:
        app.stop()
        sandbox.stop()


def test_serve_with_several_workers_shares_one_sqlite_file(tmp_path):
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    sandbox = start_sandbox(tmp_path, public)
    env = app_env(public, sandbox.url, f"sqlite:///{tmp_path / 'app.sqlite3'}")
    app = start_server(["serve", "--port", str(port), "--workers", "2"], port,
                       tmp_path / "app.log", env)
    try:
        tokens = []
        for _ in range(6):  # consecutive requests land on either worker
            login = httpx2.post(f"{app.url}/api/logins", json={"thing_id": 2001}).json()
            httpx2.post(f"{app.url}/api/callback",
                       json=authorize(sandbox, login["authorize_url"], 1001)).raise_for_status()
            tokens.append(httpx2.post(f"{app.url}/api/logins/{login['login_id']}/claim",
                                     json={"claim": login["claim"]}).json()["session_token"])
        for token in tokens:
            r = httpx2.get(f"{app.url}/api/context?thing_id=2001",
                          headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and r.json()["reason"] == "You own this Thing."
        assert app.log().count("Started server process") >= 2
    finally:
        app.stop()
        sandbox.stop()
