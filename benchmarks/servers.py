"""The app and the sandbox as real processes on loopback, for the load and benchmark runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CLIENT_ID, CLIENT_SECRET = "thingapp-demo", "thingapp-demo-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start") from None
            time.sleep(0.05)


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process in MB (Linux); `VmHWM` is its peak so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field}")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux, /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


# Every simulated user comes from 127.0.0.1: the per-address limits would refuse them.
LOOPBACK_LIMITS = {"THINGAPP_LOGINS_PER_MINUTE": "1000000",
                   "THINGAPP_CODE_LAUNCHES_PER_MINUTE": "1000000",
                   "THINGAPP_JOBS_PER_HOUR": "1000000"}


@dataclass
class Pair:
    app: subprocess.Popen[bytes]
    sandbox: subprocess.Popen[bytes]
    app_url: str
    sandbox_url: str

    def stop(self) -> None:
        for process in (self.app, self.sandbox):
            process.terminate()
            process.wait(timeout=10)


def start_pair(sandbox_args: tuple[str, ...] = (), app_env: dict[str, str] | None = None,
               app_command: tuple[str, ...] = (), app_token_user: int | None = None) -> Pair:
    """`thingapp sandbox` on localhost and `thingapp serve` (or `app_command --port P`) on
    127.0.0.1, wired together."""
    thingapp = str(Path(sys.executable).with_name("thingapp"))
    app_port, sandbox_port = free_port(), free_port()
    app_url, sandbox_url = f"http://127.0.0.1:{app_port}", f"http://localhost:{sandbox_port}"
    work = Path(tempfile.mkdtemp(prefix="thingapp-bench-"))
    quiet = subprocess.DEVNULL
    sandbox = subprocess.Popen([thingapp, "sandbox", "--port", str(sandbox_port), "--app-url",
                                app_url, *sandbox_args], stdout=quiet, stderr=quiet)
    _wait(sandbox_port, sandbox, "the sandbox")
    if app_token_user is not None:  # the operator's read-only token, from this sandbox
        import httpx2
        app_env = {**(app_env or {}), "THINGAPP_APP_TOKEN": httpx2.post(
            f"{sandbox_url}/sandbox/tokens",
            json={"user_id": app_token_user, "client_id": CLIENT_ID}).json()["access_token"]}
    env = {**os.environ, "THINGAPP_CLIENT_ID": CLIENT_ID, "THINGAPP_CLIENT_SECRET": CLIENT_SECRET,
           "THINGAPP_SECRET_KEY": "bench-key-" + "b" * 32, "THINGAPP_PUBLIC_URL": app_url,
           "THINGIVERSE_URL": sandbox_url, "THINGIVERSE_API_URL": sandbox_url,
           "THINGAPP_STORE": f"sqlite:///{work / 'app.sqlite3'}", **LOOPBACK_LIMITS,
           **(app_env or {})}
    command = [*app_command, "--port", str(app_port)] if app_command else [
        thingapp, "serve", "--port", str(app_port)]
    app = subprocess.Popen(command, env=env, stdout=quiet, stderr=quiet)
    _wait(app_port, app, "the app")
    return Pair(app, sandbox, app_url, sandbox_url)
