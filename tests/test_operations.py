"""What an operator relies on: the health check, `thingapp check` on the store, ports already in
use, and logs that neither leak addresses nor can be forged."""

from __future__ import annotations

import logging
import socket
import time

import httpx2
from live import GOOD, free_port, start_server
from live import cli_env as env
from live import run_cli as run
from world import World


def test_healthz_is_200_while_the_store_answers(world):
    r = world.client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"ok": True})
    assert "no-store" in r.headers["cache-control"]


def test_healthz_is_503_with_a_sentence_when_the_store_does_not_answer(tmp_path):
    w = World(tmp_path, store_url=f"redis://127.0.0.1:{free_port()}/0")  # nobody listens
    with w.client:
        r = w.client.get("/healthz")
    assert r.status_code == 503
    assert r.json() == {"ok": False, "error": "The app's store is not answering."}


def test_check_says_when_the_store_does_not_answer_without_its_password(tmp_path):
    port = free_port()
    result = run(["check"], env(tmp_path, **GOOD,
                                THINGAPP_STORE=f"redis://:hunter2secret@127.0.0.1:{port}/0"))
    assert result.returncode == 1
    assert result.stdout.startswith(f"The store redis://127.0.0.1:{port}/0 did not answer: ")
    assert "hunter2secret" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_port_in_use_ends_in_one_sentence_naming_the_flag(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = [(["demo", "--app-port", str(port), "--sandbox-port", str(free_port())],
                  "--app-port"),
                 (["demo", "--app-port", str(free_port()), "--sandbox-port", str(port)],
                  "--sandbox-port"),
                 (["serve", "--port", str(port)], "--port"),
                 (["sandbox", "--port", str(port)], "--port")]
        for args, flag in cases:
            result = run(args, env(tmp_path, **GOOD))
            assert result.returncode == 2, (args, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and f"Port {port} on 127.0.0.1 is already in use" in lines[0]
            assert f"choose another port with {flag}" in lines[0], lines[0]


def test_a_forged_log_line_is_escaped(world, caplog):
    caplog.set_level(logging.INFO, logger="thingapp.access")
    world.client.get("/static/%0d%0aINFO%20thingapp.access:%20GET%20/admin%20200%1b[2J")
    lines = [r.getMessage() for r in caplog.records if r.name == "thingapp.access"]
    assert len(lines) == 1
    assert "\n" not in lines[0] and "\r" not in lines[0] and "\x1b" not in lines[0]
    assert "/static/\\r\\nINFO thingapp.access: GET /admin 200\\x1b[2J 404" in lines[0]


def test_a_client_that_leaves_mid_body_is_logged_as_a_disconnect(tmp_path):
    port = free_port()
    server = start_server(["serve", "--port", str(port)], port, tmp_path / "serve.log",
                          env(tmp_path, **GOOD))
    try:
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.sendall(b"POST /api/logins HTTP/1.1\r\nHost: x\r\nContent-Type: "
                           b"application/json\r\nContent-Length: 5000\r\n\r\n{\"thing_id\"")
        deadline = time.monotonic() + 10
        while "disconnected" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert httpx2.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        server.stop()
    log = server.log()
    assert ("INFO thingapp: POST /api/logins: the client disconnected before sending its whole "
            "body") in log
    assert "POST /api/logins disconnected" in log
    assert "Traceback" not in log and "unhandled" not in log and " 500 " not in log


def test_outgoing_requests_are_not_logged_with_their_addresses(demo):
    r = httpx2.get(f"{demo.app_url}/?thing_id=2001&code=not-a-real-code")  # one code exchange
    assert r.status_code == 200 and "did not accept the sign-in code" in r.text
    log = demo.log()
    assert "GET / 200" in log  # the app's own access line
    assert "HTTP Request" not in log and "/login/oauth/access_token" not in log



def test_the_demo_prints_every_seeded_thing_with_its_owner_and_licence(demo):
    log = demo.log()
    for thing_id, name, owner, licence in [
            (2001, "Calibration Cube", "mara_makes", "Creative Commons - Attribution"),
            (2004, "Vintage Bracket", "olaf_original", "All Rights Reserved"),
            (2005, "Hinge Box", "olaf_original",
             "Creative Commons - Attribution - Non-Commercial - Share Alike")]:
        assert f"{demo.sandbox_url}/thing:{thing_id}   {name}, by {owner}, {licence}\n" in log
