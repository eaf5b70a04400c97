"""The command line as a developer meets it: `thingapp check`, `thingapp serve`, the Procfile."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path

import httpx2
from live import GOOD, THINGAPP, free_port, spawn
from live import cli_env as env
from live import run_cli as run

ROOT = Path(__file__).resolve().parent.parent


def test_check_lists_every_problem_in_a_sentence(tmp_path):
    result = run(["check"], env(tmp_path, THINGAPP_SECRET_KEY="changeme"))
    assert result.returncode == 1
    assert "THINGAPP_CLIENT_ID is missing" in result.stdout
    assert "THINGAPP_SECRET_KEY is missing or a placeholder" in result.stdout
    assert "THINGAPP_PUBLIC_URL is missing" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_check_passes_complete_settings(tmp_path):
    result = run(["check"], env(tmp_path, **GOOD))
    assert result.returncode == 0
    assert result.stdout.strip() == "The settings are complete, and the store answers."


def test_serve_refuses_to_start_with_a_placeholder_key(tmp_path):
    result = run(["serve", "--port", str(free_port())],
                 env(tmp_path, **{**GOOD, "THINGAPP_SECRET_KEY": "secret"}))
    assert result.returncode == 2
    assert "thingapp can't start:" in result.stderr
    assert "THINGAPP_SECRET_KEY is missing or a placeholder" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_procfile_serves_the_app_on_port(tmp_path):
    procfile = (ROOT / "Procfile").read_text()
    command = next(line for line in procfile.splitlines() if line.startswith("web:"))[4:]
    port = free_port()
    environment = env(tmp_path, **GOOD, PORT=str(port),
                      PATH=f"{Path(THINGAPP).parent}{os.pathsep}{os.environ['PATH']}")
    server = spawn(["bash", "-c", "exec " + command.strip()], env=environment,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx2.get(f"http://127.0.0.1:{port}/?thing_id=2001")
                break
            except httpx2.ConnectError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
                time.sleep(0.1)
        assert r.status_code == 200
        assert "frame-ancestors https://www.thingiverse.com" in r.headers["content-security-policy"]
    finally:
        server.terminate()
        server.communicate(timeout=10)
    assert shlex.split(command)[:2] == ["thingapp", "serve"]
