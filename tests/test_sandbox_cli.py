"""`thingapp sandbox` as a developer runs it: --rate-limit, --rate-window, --seed and --fault."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from live import free_port, spawn
from sandbox_helpers import EXAMPLE

THINGAPP = str(Path(sys.executable).with_name("thingapp"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([THINGAPP, "sandbox", "--port", str(free_port()), *args],
                          capture_output=True, text=True, timeout=30)


@contextmanager
def sandbox_process(*args: str) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = spawn([THINGAPP, "sandbox", "--port", str(port), "--public-url", url, *args],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx2.get(f"{url}/sandbox/faults", timeout=1)
                break
            except httpx2.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--seed", "/nowhere/at/all"], "The seed directory /nowhere/at/all does not exist"),
        (["--fault", "GET /nowhere=status:503"], "Unknown route 'GET /nowhere'"),
        (["--fault", "GET /things/{id}"], "A fault is written ROUTE=SPEC"),
        (["--fault", "GET /things/{id}=explode"], "Unknown fault item 'explode'"),
        (["--rate-limit", "0"], "rate_limit must be positive"),
        (["--rate-window", "0"], "rate_window_s must be positive"),
    ],
)
def test_bad_settings_stop_the_sandbox_with_one_sentence(args: list[str], phrase: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert phrase in result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if "can't start" in line]
    assert len(lines) == 1 and lines[0].endswith(".")


def test_a_malformed_seed_directory_stops_it_too(tmp_path: Path) -> None:
    (tmp_path / "users").mkdir()
    (tmp_path / "users" / "a.json").write_text("{not json")
    result = run("--seed", str(tmp_path))
    assert result.returncode == 2
    assert "users/a.json is not valid JSON" in result.stderr


def test_the_flags_shape_the_running_sandbox() -> None:
    with sandbox_process("--seed", str(EXAMPLE), "--rate-limit", "2", "--rate-window", "30",
                         "--fault", "GET /things/{id}=status:503,times:1",
                         "--fault", "POST /login/oauth/tokeninfo=drop") as url:
        with httpx2.Client(base_url=url, timeout=5) as client:
            token = client.post("/sandbox/tokens", json={
                "user_id": 12345, "client_id": "thingapp-demo"}).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            faulted = client.get("/things/922740", headers=headers)
            assert faulted.status_code == 503
            thing = client.get("/things/922740", headers=headers)
            assert thing.status_code == 200 and thing.json()["url"] == f"{url}/things/922740"
            assert thing.headers["x-ratelimit-remaining"] == "1"
            client.get("/users/me", headers=headers)
            limited = client.get("/users/me", headers=headers)
            assert limited.status_code == 429
            assert 28 <= int(limited.headers["retry-after"]) <= 30
            with pytest.raises((httpx2.RemoteProtocolError, httpx2.ReadError)):
                client.post("/login/oauth/tokeninfo", data={"access_token": token})
