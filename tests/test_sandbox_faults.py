"""The fault kinds beyond a status (drop, timeout, malformed) and faults written as
`ROUTE=SPEC`; drops and timeouts both in process and on a real uvicorn server."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import pytest
from live import free_port
from sandbox_helpers import APP_URL, SANDBOX_URL, bearer, mint_token, running
from starlette.applications import Starlette
from starlette.testclient import TestClient

from thingapp.sandbox import create_sandbox_app, default_config
from thingapp.sandbox.harness.connection import ConnectionDropped, ConnectionTimedOut
from thingapp.sandbox.harness.fault_spec import parse_fault_spec
from thingapp.sandbox.harness.faults import BadFault, Fault


def set_fault(sandbox: TestClient, **fault: Any) -> Any:
    response = sandbox.post("/sandbox/faults", json=fault)
    assert response.status_code == 201, response.text
    return response.json()


def log_of(sandbox: TestClient) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = sandbox.get("/sandbox/requests").json()
    return entries


# --- in process ---------------------------------------------------------------------------------


def test_a_malformed_fault_answers_200_json_that_does_not_parse(sandbox: TestClient) -> None:
    assert set_fault(sandbox, route="GET /things/{id}", kind="malformed", times=1)["kind"] == \
        "malformed"
    token = mint_token(sandbox)
    response = sandbox.get("/things/2001", headers=bearer(token))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)
    assert sandbox.get("/things/2001", headers=bearer(token)).json()["id"] == 2001


def test_a_drop_fault_raises_a_transport_error_in_process(sandbox: TestClient) -> None:
    set_fault(sandbox, route="POST /login/oauth/tokeninfo", kind="drop", times=1)
    token = mint_token(sandbox)
    with pytest.raises(ConnectionDropped) as raised:
        sandbox.post("/login/oauth/tokeninfo", data={"access_token": token})
    assert isinstance(raised.value, httpx2.RemoteProtocolError)
    assert sandbox.post("/login/oauth/tokeninfo", data={"access_token": token}).status_code == 200
    assert {"method": "POST", "path": "/login/oauth/tokeninfo", "status": 0} in log_of(sandbox)


def test_a_timeout_fault_holds_the_request_then_raises_a_read_timeout(
    sandbox: TestClient,
) -> None:
    set_fault(sandbox, route="GET /users/me", kind="timeout", latency_ms=300)
    started = time.monotonic()
    with pytest.raises(ConnectionTimedOut) as raised:
        sandbox.get("/users/me", headers=bearer(mint_token(sandbox)))
    assert time.monotonic() - started >= 0.3
    assert isinstance(raised.value, httpx2.ReadTimeout)


def test_a_drop_reaches_an_app_on_httpx_asgi_transport_as_httpx_error() -> None:
    app = create_sandbox_app(default_config(SANDBOX_URL, APP_URL),
                             [Fault("GET /things/{id}", kind="drop")])

    async def fetch() -> None:
        transport = httpx2.ASGITransport(app)
        async with httpx2.AsyncClient(transport=transport, base_url=SANDBOX_URL) as client:
            await client.get("/things/2001")

    with pytest.raises(httpx2.RemoteProtocolError):
        asyncio.run(fetch())


@pytest.mark.parametrize(
    ("fault", "phrase"),
    [
        ({"kind": "explode"}, "kind must be null or one of status, drop, timeout, malformed"),
        ({"kind": "status"}, "kind status needs a status"),
        ({"kind": "drop", "status": 503}, "A drop fault answers no status"),
        ({"kind": "malformed", "status": 500}, "A malformed fault answers no status"),
    ],
)
def test_bad_kinds_are_refused_with_a_sentence(
    sandbox: TestClient, fault: dict[str, Any], phrase: str
) -> None:
    response = sandbox.post("/sandbox/faults", json={"route": "GET /things/{id}", **fault})
    assert response.status_code == 400
    assert phrase in response.json()["error"]
    assert sandbox.get("/sandbox/faults").json() == []


def test_a_status_fault_defaults_its_kind_and_a_latency_one_has_none(sandbox: TestClient) -> None:
    assert set_fault(sandbox, route="GET /things/{id}", status=502)["kind"] == "status"
    assert set_fault(sandbox, route="GET /users/me", latency_ms=1)["kind"] is None


# --- ROUTE=SPEC --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("POST /storage-upload=status:503",
         Fault("POST /storage-upload", kind="status", status=503)),
        ("GET /things/{id}=latency:500", Fault("GET /things/{id}", latency_ms=500)),
        ("POST /login/oauth/tokeninfo=drop", Fault("POST /login/oauth/tokeninfo", kind="drop")),
        ("GET /users/me=timeout:2000,times:1",
         Fault("GET /users/me", kind="timeout", latency_ms=2000, times=1)),
        ("GET  /users/me = malformed , times:3",
         Fault("GET /users/me", kind="malformed", times=3)),
        ("POST /storage-upload=bps:1000,latency_ms:5",
         Fault("POST /storage-upload", latency_ms=5, bytes_per_second=1000)),
    ],
)
def test_fault_specs_become_the_same_faults(spec: str, expected: Fault) -> None:
    assert parse_fault_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "phrase"),
    [
        ("GET /things/{id}", "ROUTE=SPEC"),
        ("=status:503", "ROUTE=SPEC"),
        ("GET /things/{id}=", "ROUTE=SPEC"),
        ("GET /things/{id}=status", "Unknown fault item 'status'"),
        ("GET /things/{id}=explode", "Unknown fault item 'explode'"),
        ("GET /things/{id}=status:abc", "status takes a whole number"),
        ("GET /things/{id}=status:200", "400 to 599"),
        ("GET /things/{id}=drop,status:503", "A drop fault answers no status"),
        ("GET /things/{id}=latency:5,latency:6", "latency_ms is given twice"),
        ("GET /things/{id}=drop:3", "Unknown fault item 'drop:3'"),
    ],
)
def test_bad_fault_specs_are_refused_with_a_sentence(spec: str, phrase: str) -> None:
    with pytest.raises(BadFault, match=".") as raised:
        parse_fault_spec(spec)
    assert phrase in str(raised.value)
    assert str(raised.value).endswith(".")


def test_faults_given_at_start_are_active_and_their_routes_checked() -> None:
    faults = [parse_fault_spec("GET /things/{id}=status:503,times:1")]
    with TestClient(create_sandbox_app(default_config(SANDBOX_URL, APP_URL), faults),
                    base_url=SANDBOX_URL) as client:
        assert client.get("/sandbox/faults").json()[0]["route"] == "GET /things/{id}"
        token = mint_token(client)
        assert client.get("/things/2001", headers=bearer(token)).status_code == 503
        assert client.get("/things/2001", headers=bearer(token)).status_code == 200
    with pytest.raises(BadFault, match="Unknown route 'GET /nowhere'"):
        create_sandbox_app(default_config(SANDBOX_URL, APP_URL),
                           [parse_fault_spec("GET /nowhere=drop")])


# --- on a real server -------------------------------------------------------------------------


@contextmanager
def serving(faults: list[Fault]) -> Iterator[tuple[str, Starlette]]:
    """The sandbox on uvicorn, on a free loopback port, in a thread."""
    port = free_port()
    app = create_sandbox_app(default_config(f"http://127.0.0.1:{port}", APP_URL), faults)
    with running(app, port) as url:
        yield url, app


def server_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("uvicorn") and r.levelno >= logging.ERROR]


def test_a_drop_on_a_real_server_is_a_connection_error(caplog: pytest.LogCaptureFixture) -> None:
    with serving([parse_fault_spec("GET /things/{id}=drop,times:1")]) as (url, _):
        with httpx2.Client(base_url=url, timeout=5) as client:
            token = client.post("/sandbox/tokens", json={
                "user_id": 1001, "client_id": "thingapp-demo"}).json()["access_token"]
            started = time.monotonic()
            with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
                client.get("/things/2001", headers=bearer(token))
            assert time.monotonic() - started < 2  # dropped at once, not timed out
            assert client.get("/things/2001", headers=bearer(token)).status_code == 200
            # The dropped request is logged once the server has seen its connection go, which
            # on a busy machine can be after the client's next requests.
            deadline = time.monotonic() + 5
            while {"method": "GET", "path": "/things/2001", "status": 0} not in (
                    log := client.get("/sandbox/requests").json()):
                assert time.monotonic() < deadline, log
                time.sleep(0.05)
    assert server_errors(caplog) == []  # no 500 answered, nothing logged as an app failure


def test_a_timeout_on_a_real_server_is_a_read_timeout(caplog: pytest.LogCaptureFixture) -> None:
    with serving([parse_fault_spec("GET /users/me=timeout:20000")]) as (url, _):
        with httpx2.Client(base_url=url, timeout=0.5) as client:
            token = client.post("/sandbox/tokens", json={
                "user_id": 1001, "client_id": "thingapp-demo"}).json()["access_token"]
            started = time.monotonic()
            with pytest.raises(httpx2.ReadTimeout):
                client.get("/users/me", headers=bearer(token))
            assert time.monotonic() - started < 2
        # The client gave up, so the hold ends: the server goes on serving and shuts down quickly.
        assert httpx2.get(f"{url}/sandbox/faults", timeout=5).status_code == 200
    assert server_errors(caplog) == []


def test_a_short_hold_on_a_real_server_ends_in_a_closed_connection() -> None:
    with serving([parse_fault_spec("GET /users/me=timeout:300")]) as (url, _):
        with httpx2.Client(base_url=url, timeout=5) as client:
            started = time.monotonic()
            with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
                client.get("/users/me")
            assert 0.3 <= time.monotonic() - started < 3


def test_a_timeout_without_latency_holds_longer_than_a_patient_client() -> None:
    with serving([parse_fault_spec("GET /users/me=timeout")]) as (url, _):
        with httpx2.Client(base_url=url, timeout=1.5) as client, \
                pytest.raises(httpx2.ReadTimeout):
            client.get("/users/me")  # the default hold is 60 s: not closed before 1.5 s
