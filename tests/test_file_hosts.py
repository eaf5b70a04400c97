"""Files come only from Thingiverse: file addresses, redirects and storage targets that point
anywhere else are refused before a connection is made, and a listener proves it."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from live import free_port
from world import APP_URL, CC_ND, OWNED_CC, OWNER, REMIXER, World

CUBE_STL, ORGANIZER_STL = 3001, 3005


class Listener:
    """A TCP server on a loopback port that only counts who connects."""

    def __init__(self) -> None:
        self.port = free_port()
        self.connections = 0
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._server.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    yield running
    running.close()


class Pointing(httpx2.AsyncBaseTransport):
    """Thingiverse, except that its answers point elsewhere: files' `direct_url`, a redirect
    from storage, or the upload ticket's storage `action`."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, *, direct_url: str | None = None,
                 redirect_to: str | None = None, action: str | None = None) -> None:
        self.inner = inner
        self.direct_url, self.redirect_to, self.action = direct_url, redirect_to, action

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path
        if self.redirect_to and path.startswith("/storage/"):
            return httpx2.Response(302, headers={"Location": self.redirect_to})
        response = await self.inner.handle_async_request(request)
        rewrite = ((self.direct_url and request.method == "GET" and path.endswith("/files"))
                   or (self.action and request.method == "POST" and path.endswith("/files")))
        if not rewrite:
            return response
        await response.aread()
        body = json.loads(response.content)
        if self.direct_url:
            body = [{**f, "direct_url": self.direct_url} for f in body]
        else:
            body["action"] = self.action
        return httpx2.Response(response.status_code, json=body)


def world_pointing(tmp_path: Path, **pointing: str) -> World:
    # A storage form's `action` exists only in the older upload flow: use it.
    return World(tmp_path, file_hosts=("cdn.thingiverse.com", "*.thingiverse.com", "localhost"),
                 wrap_transport=lambda inner: Pointing(inner, **pointing),
                 upload_flow="legacy")


def job_outcome(w: World, user: int, thing_id: int, file_id: int, action: str) -> dict:
    with w.client, w.sandbox:
        token = w.sign_in(user, thing_id)
        r = w.start_job(token, thing_id=thing_id, file_id=file_id, action=action, tool="scale",
                        options={"mode": "percent", "value": "150", "output": "stl"})
        assert r.status_code == 202, r.text
        return w.wait_job(token, r.json()["job_id"])


def bad_addresses(port: int) -> dict[str, tuple[str, str]]:
    """name -> (address, the sentence a job ends with)."""
    return {
        "another host": ("https://evil.example/x.stl",
                         "Thingiverse named a file on evil.example, which is not one of "
                         "Thingiverse's file hosts, so it was not contacted."),
        "another loopback port": (f"http://127.0.0.1:{port}/x.stl",
                                  "Thingiverse named a file on 127.0.0.1, which is not one of "
                                  "Thingiverse's file hosts, so it was not contacted."),
        "a link-local address": ("http://169.254.169.254/latest/meta-data/",
                                 "Thingiverse named a file on 169.254.169.254, which is not one "
                                 "of Thingiverse's file hosts, so it was not contacted."),
        "the app itself": (f"{APP_URL}/api/context?thing_id=2001",
                           "Thingiverse named a file on 127.0.0.1, which is not one of "
                           "Thingiverse's file hosts, so it was not contacted."),
        "an allowed name that resolves to loopback": (
            f"https://localhost:{port}/x.stl",
            "localhost points into a private network, so it was not contacted."),
        "a file host without https": ("http://cdn.thingiverse.com/x.stl",
                                      "Thingiverse named a file on cdn.thingiverse.com without "
                                      "https, so it was not contacted."),
    }


CASES = list(bad_addresses(0))


@pytest.mark.parametrize("case", CASES)
def test_a_direct_url_elsewhere_is_refused_uncontacted(tmp_path, listener, case):
    address, sentence = bad_addresses(listener.port)[case]
    job = job_outcome(world_pointing(tmp_path, direct_url=address), REMIXER, CC_ND,
                      ORGANIZER_STL, "download")
    assert (job["status"], job["message"]) == ("failed", sentence)
    assert listener.connections == 0


@pytest.mark.parametrize("case", CASES)
def test_a_redirect_elsewhere_is_refused_uncontacted(tmp_path, listener, case):
    address, sentence = bad_addresses(listener.port)[case]
    job = job_outcome(world_pointing(tmp_path, redirect_to=address), REMIXER, CC_ND,
                      ORGANIZER_STL, "download")
    assert (job["status"], job["message"]) == ("failed", sentence)
    assert listener.connections == 0


@pytest.mark.parametrize("case", CASES)
def test_a_storage_target_elsewhere_is_refused_uncontacted(tmp_path, listener, case):
    address, sentence = bad_addresses(listener.port)[case]
    job = job_outcome(world_pointing(tmp_path, action=address), OWNER, OWNED_CC, CUBE_STL,
                      "post")
    assert (job["status"], job["message"]) == ("failed", sentence)
    assert listener.connections == 0


def test_a_storage_hosts_own_words_never_reach_the_user(tmp_path):
    class Refusing(httpx2.AsyncBaseTransport):
        def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
            self.inner = inner

        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            if request.url.path.startswith("/storage/"):
                return httpx2.Response(403, text="<Error><Message>nope, ask admin@evil"
                                                "</Message></Error>")
            return await self.inner.handle_async_request(request)

    w = World(tmp_path, wrap_transport=Refusing)
    job = job_outcome(w, REMIXER, CC_ND, ORGANIZER_STL, "download")
    assert (job["status"], job["message"]) == (
        "failed", "Thingiverse's file storage did not hand over the model file. Please try again "
                  "in a minute.")
