"""Real servers and a real browser: `thingapp demo` in a subprocess, driven by Chromium."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import (
    Browser,
    BrowserContext,
    Frame,
    FrameLocator,
    Page,
    Playwright,
    Request,
    Response,
    expect,
)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic",
                 # Block third-party cookies as Safari, Firefox and Chrome's users now meet them.
                 "--test-third-party-cookie-phaseout"]


def _parent_death_signal() -> Callable[[], None] | None:
    """Linux: a function for `preexec_fn` that has the child sent SIGTERM when the test process
    dies, however it dies (a crash, a kill, a timeout), so no server outlives a run."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, called after
    parent = os.getpid()

    def die_with_parent() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return die_with_parent


def wait_or_kill(process: subprocess.Popen[bytes], seconds: float = 10) -> None:
    """Wait for a process asked to stop; kill it if it takes longer than `seconds`."""
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def spawn(args: Sequence[str], **popen: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen` for a server a test starts: it dies with the test process."""
    return subprocess.Popen(list(args), preexec_fn=_parent_death_signal(), **popen)


THINGAPP = str(Path(sys.executable).with_name("thingapp"))
GOOD = {"THINGAPP_CLIENT_ID": "abc123", "THINGAPP_SECRET_KEY": "s" * 40,
        "THINGAPP_PUBLIC_URL": "https://app.example.com"}  # settings `thingapp serve` accepts


def cli_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """This process's environment without its THINGAPP_/THINGIVERSE_ settings, plus `settings`
    and a store in `tmp_path`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("THINGAPP_", "THINGIVERSE_"))}
    return {**base, "THINGAPP_STORE": f"sqlite:///{tmp_path / 'cli.sqlite3'}", **settings}


def run_cli(args: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`thingapp ARGS` to its end, its output captured."""
    return subprocess.run([THINGAPP, *args], env=environment, capture_output=True, text=True,
                          timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A `thingapp` command serving on a port, its output in a log file."""
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        wait_or_kill(self.process)


def start_server(args: list[str], port: int, log_path: Path, env: dict[str, str] | None = None,
                 host: str = "127.0.0.1") -> Server:
    """Run `thingapp ARGS` and wait until it accepts connections on `port`."""
    thingapp = Path(sys.executable).with_name("thingapp")
    with open(log_path, "ab") as log:
        process = spawn([str(thingapp), *args], stdout=log, stderr=subprocess.STDOUT,
                        env={**os.environ, **(env or {})})
    server = Server(process, f"http://{host}:{port}", log_path)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(
                    f"thingapp {' '.join(args)} did not start:\n{server.log()}") from None
            time.sleep(0.05)


@dataclass
class Demo(Server):
    """A running `thingapp demo`: the app at `url` (127.0.0.1), the sandbox on localhost."""
    sandbox_url: str = ""

    @property
    def app_url(self) -> str:
        return self.url


def start_demo(workdir: Path, *args: str, env: dict[str, str] | None = None) -> Demo:
    """`thingapp demo ARGS` on free ports, its store and log in `workdir`."""
    app_port, sandbox_port = free_port(), free_port()
    log_path = workdir / "demo.log"
    thingapp = Path(sys.executable).with_name("thingapp")
    with open(log_path, "wb") as log:
        process = spawn(
            [str(thingapp), "demo", "--app-port", str(app_port), "--sandbox-port",
             str(sandbox_port), "--store", f"sqlite:///{workdir / 'demo.sqlite3'}", *args],
            stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env={**os.environ, **(env or {})})
    scheme = "https" if "--https" in args else "http"
    demo = Demo(process, f"{scheme}://127.0.0.1:{app_port}", log_path,
                sandbox_url=f"http://localhost:{sandbox_port}")
    deadline = time.monotonic() + 30
    while "thingapp demo is running." not in demo.log():
        if process.poll() is not None or time.monotonic() > deadline:
            demo.stop()
            raise RuntimeError(f"thingapp demo did not start:\n{demo.log()}")
        time.sleep(0.1)
    return demo


def start_x_display() -> tuple[subprocess.Popen[bytes], str]:
    """An Xvfb server on a free display number, for browsers with no headless mode."""
    read, write = os.pipe()
    process = spawn(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x1024x24",
                     "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as numbers:
        number = numbers.readline().strip()
    if not number:
        raise RuntimeError("Xvfb did not start")
    return process, f":{number}"


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A real redis-server on a free loopback port, persisting nothing; (process, URL)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make test`, which installs it")
    port = free_port()
    process = spawn([binary, "--port", str(port), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium where Playwright can't download its own, else Playwright's."""
    path = os.environ.get("THINGAPP_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)


def app_frame(page: Page) -> FrameLocator:
    return page.frame_locator("iframe[title='Thing app']")


def approve_in(auth_page: Page, username: str, decision: str = "Agree") -> None:
    """On the sandbox's authorize page: pick a seeded user, then Agree or Deny."""
    auth_page.get_by_label(username).check()
    auth_page.get_by_role("button", name=decision).click()


def sign_in_with_popup(page: Page, sandbox_url: str, thing_id: int, username: str,
                       decision: str = "Agree", query: str = "") -> FrameLocator:
    page.goto(f"{sandbox_url}/thing:{thing_id}{query}")
    frame = app_frame(page)
    with page.expect_popup() as popup_info:
        frame.get_by_role("button", name="Connect Thingiverse").click()
    popup = popup_info.value
    popup.wait_for_url("**/login/oauth/authorize**")
    with popup.expect_event("close"):  # listening before it can happen
        approve_in(popup, username, decision)
    return frame


def sign_out(frame: FrameLocator) -> None:
    """Click Sign out and wait until the app has done it: a page loaded before its answer
    arrives would still carry the session cookie, and be signed in."""
    frame.get_by_role("button", name="Sign out").click()
    expect(frame.locator("#status")).to_have_text("You are signed out.")


class LeakWatch:
    """Collects, from browser contexts, the secrets the browser sees (access tokens in callback
    fragments, claims and session tokens in the app's answers) and everything that must never
    hold one (request URLs, Referer headers, storage, HTML the app served)."""

    # sessionStorage may hold the app session token (DESIGN.md allows it, for reloads) where a
    # browser allows it in the frame; localStorage must never hold a token, claim or cookie.
    STORAGE = """(() => { try { return JSON.stringify(Object.entries(localStorage)); }
      catch { return ''; } })()"""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.urls: list[str] = []
        self.referers: list[str] = []
        self.html: list[str] = []
        self.local_storage: list[str] = []

    def observe(self, context: BrowserContext) -> None:
        context.on("request", self._request)
        context.on("response", self._response)
        context.on("page", lambda page: page.on("framenavigated", self._navigated))

    def _request(self, request: Request) -> None:
        self.urls.append(request.url)
        referer = request.headers.get("referer")
        if referer:
            self.referers.append(referer)

    def _navigated(self, frame: Frame) -> None:
        fragment = frame.url.partition("#")[2]
        for part in fragment.split("&"):
            name, _, value = part.partition("=")
            if name == "access_token" and value:
                self.secrets.add(value)

    def _response(self, response: Response) -> None:
        url = response.url.split("?")[0]
        try:
            if response.request.resource_type == "document" and "/callback" not in url:
                self.html.append(response.text())
            elif url.endswith(("/claim", "/api/logins", "/api/session")) and response.status in (
                    200, 201):
                body = response.json()
                for key in ("session_token", "claim"):
                    if body.get(key):
                        self.secrets.add(body[key])
            for header in response.headers_array():  # the app's cookies: secrets as well
                name, _, rest = header["value"].partition("=")
                if header["name"].lower() == "set-cookie" and name.startswith("__Host-thingapp"):
                    cookie = rest.split(";")[0]
                    if cookie:
                        self.secrets.add(cookie)
        except Exception:  # a response whose body is gone (navigated away): nothing to read
            pass

    def dump_storage(self, context: BrowserContext) -> None:
        for page in context.pages:
            for frame in page.frames:
                try:
                    self.local_storage.append(frame.evaluate(self.STORAGE))
                except Exception:  # a frame that went away or was never scriptable
                    pass

    def leaks(self, extra_text: dict[str, str]) -> list[str]:
        places = {"a request URL": self.urls, "a Referer header": self.referers,
                  "served HTML": self.html, "localStorage": self.local_storage,
                  **{name: [text] for name, text in extra_text.items()}}
        return [f"{secret[:6]}… in {where}" for secret in self.secrets
                for where, texts in places.items() if any(secret in t for t in texts)]
