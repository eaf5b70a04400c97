"""Firefox and WebKit for the per-engine browser tests, behind one small driver interface.

Chromium runs through Playwright (conftest). Playwright's Firefox and WebKit are its own patched
builds, which can't be downloaded here; so:
- Firefox: Debian's `firefox-esr`, driven over WebDriver BiDi (its built-in remote agent, no
  geckodriver) by the small client below, on websocket-client.
- WebKit: Debian's `webkit2gtk-driver` (WebKitWebDriver + MiniBrowser), driven by Selenium, under
  a virtual X display (MiniBrowser has no headless mode): `xvfb-run` or an Xvfb started here.

Each engine's third-party cookie policy is pinned at launch (Firefox:
`network.cookie.cookieBehavior` = 5, its default; MiniBrowser: `--cookies-policy=no-third-party`),
so a default changing under us does not silently change what is tested.

The driver speaks of three documents: the top page (a Thing page on the sandbox), the app's
frame in it, and the newest popup window.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from live import spawn, wait_or_kill

APP_FRAME = "iframe[title='Thing app']"
T = TypeVar("T")
FIREFOX_PREFS = {
    "network.cookie.cookieBehavior": 5,  # Total Cookie Protection: Firefox's default, pinned
    "app.update.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "network.dns.disablePrefetch": True,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
}
MINIBROWSER = Path("/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser")


class Engine(Protocol):
    name: str
    version: str

    def open(self, url: str) -> None:
        """Navigate the main window's top page and wait for it to load."""

    def top(self, script: str) -> Any:
        """The value of a JavaScript expression in the top page."""

    def app(self, script: str) -> Any:
        """The value of a JavaScript expression in the app's frame (whatever it shows now)."""

    def click_app(self, selector: str) -> None:
        """Click an element of the app's frame as a user does (a user activation)."""

    def popup(self, script: str) -> Any:
        """The value of a JavaScript expression in the newest popup window."""

    def click_popup(self, selector: str) -> None: ...

    def popups(self) -> int:
        """How many windows besides the main one are open."""

    def downloaded(self, name: str) -> bytes | None:
        """The file the browser saved under `name`, if it has (None: not yet)."""

    def reload(self) -> None: ...

    def quit(self) -> None: ...


def wait_for(read: Callable[[], T], timeout: float = 20.0, what: str = "") -> T:
    """Poll `read` until it returns something truthy; errors count as not yet."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = read()
            if last:
                return last
        except Exception as exc:  # a document between two pages, a frame not there yet
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what or read}; last: {last!r}")
        time.sleep(0.1)


# --- Firefox over WebDriver BiDi --------------------------------------------------------------

class BiDiError(Exception):
    pass


class Firefox:
    """Debian's firefox-esr, headless, in a fresh profile, over its WebDriver BiDi socket."""

    name = "firefox"

    def __init__(self, binary: str | None = None) -> None:
        import websocket

        binary = binary or os.environ.get("THINGAPP_FIREFOX") or shutil.which("firefox-esr") \
            or shutil.which("firefox") or "firefox-esr"
        self.profile = Path(tempfile.mkdtemp(prefix="thingapp-firefox-"))
        self.downloads = self.profile / "downloads"
        prefs = {**FIREFOX_PREFS, "browser.download.folderList": 2,
                 "browser.download.dir": str(self.downloads),
                 "browser.download.useDownloadDir": True,
                 "browser.download.always_ask_before_handling_new_types": False}
        (self.profile / "user.js").write_text("".join(
            f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items()))
        self.log = self.profile / "firefox.log"
        with open(self.log, "wb") as log:
            self.process = spawn([binary, "--headless", "--no-remote", "--profile",
                                  str(self.profile), "--remote-debugging-port", "0"],
                                 stdout=log, stderr=subprocess.STDOUT)
        url = wait_for(lambda: re.search(r"WebDriver BiDi listening on (ws://\S+)",
                                         self.log.read_text(errors="replace")),
                       timeout=30, what="Firefox's BiDi socket").group(1)
        # Firefox refuses a handshake that names an Origin: send none.
        self.socket = websocket.create_connection(f"{url}/session", timeout=30,
                                                  suppress_origin=True)
        self._ids = itertools.count(1)
        session = self.send("session.new", {"capabilities": {"alwaysMatch": {
            "acceptInsecureCerts": True, "unhandledPromptBehavior": {"default": "dismiss"}}}})
        self.version = session["capabilities"]["browserVersion"]
        self.main = self.send("browsingContext.getTree", {})["contexts"][0]["context"]

    def send(self, method: str, params: dict[str, Any]) -> Any:
        command_id = next(self._ids)
        self.socket.send(json.dumps({"id": command_id, "method": method, "params": params}))
        while True:  # events may come first: this client subscribes to none
            message = json.loads(self.socket.recv())
            if message.get("id") != command_id:
                continue
            if message.get("type") == "error":
                raise BiDiError(f"{method}: {message.get('error')}: {message.get('message')}")
            return message["result"]

    def _tree(self) -> list[dict[str, Any]]:
        contexts: list[dict[str, Any]] = self.send("browsingContext.getTree", {})["contexts"]
        return contexts

    def _frame(self) -> str:
        """The app's frame: the first child of the main window's top page."""
        main = next(c for c in self._tree() if c["context"] == self.main)
        if not main["children"]:
            raise AssertionError("the page has no frame (yet)")
        context: str = main["children"][0]["context"]
        return context

    def _popup(self) -> str:
        others = [c["context"] for c in self._tree() if c["context"] != self.main]
        if not others:
            raise AssertionError("no popup is open")
        return str(others[-1])

    def _evaluate(self, context: str, script: str, activate: bool = False) -> Any:
        result = self.send("script.evaluate", {
            "expression": script, "target": {"context": context}, "awaitPromise": True,
            "userActivation": activate, "resultOwnership": "none"})
        if result["type"] == "exception":
            raise BiDiError(result["exceptionDetails"]["text"])
        return _bidi_value(result["result"])

    def open(self, url: str) -> None:
        # Waiting within the command fails it ("Address rejected") when a frame of the page is
        # refused, at whatever state the refusal lands: wait here instead.
        self.send("browsingContext.navigate", {"context": self.main, "url": url, "wait": "none"})
        wait_for(lambda: self.top("location.href") == url
                 and self.top("document.readyState") == "complete", what=f"{url} to load")

    def top(self, script: str) -> Any:
        return self._evaluate(self.main, script)

    def app(self, script: str) -> Any:
        return self._evaluate(self._frame(), script)

    def click_app(self, selector: str) -> None:
        self._evaluate(self._frame(), f"document.querySelector({json.dumps(selector)}).click()",
                       activate=True)

    def popup(self, script: str) -> Any:
        return self._evaluate(self._popup(), script)

    def click_popup(self, selector: str) -> None:
        self._evaluate(self._popup(), f"document.querySelector({json.dumps(selector)}).click()",
                       activate=True)

    def popups(self) -> int:
        return len(self._tree()) - 1

    def downloaded(self, name: str) -> bytes | None:
        path = self.downloads / name
        return path.read_bytes() if path.is_file() else None

    def reload(self) -> None:
        self.send("browsingContext.reload", {"context": self.main, "wait": "interactive"})
        wait_for(lambda: self.top("document.readyState") == "complete", what="the reload")

    def cookies(self) -> list[dict[str, Any]]:
        """Every cookie the browser holds, whatever its partition."""
        found: list[dict[str, Any]] = self.send("storage.getCookies", {})["cookies"]
        return found

    def frame_cookies(self) -> list[dict[str, Any]]:
        """The cookies kept in the top page's partition: those the app's frame sends. (BiDi
        keys a frame's own partition by the frame's origin, so ask with the top page.)"""
        found: list[dict[str, Any]] = self.send("storage.getCookies", {
            "partition": {"type": "context", "context": self.main}})["cookies"]
        return found

    def quit(self) -> None:
        try:
            self.send("browser.close", {})
        except Exception:  # the socket closes under us as it should
            pass
        self.socket.close()
        wait_or_kill(self.process)
        shutil.rmtree(self.profile, ignore_errors=True)


def _bidi_value(value: dict[str, Any]) -> Any:
    """A BiDi remote value as Python (primitives, arrays and plain objects)."""
    kind = value["type"]
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "number", "boolean"):
        return value["value"]
    if kind == "array":
        return [_bidi_value(v) for v in value.get("value", [])]
    if kind == "object":
        return {k: _bidi_value(v) for k, v in value.get("value", [])}
    return f"<{kind}>"


# --- WebKit through WebKitWebDriver ------------------------------------------------------------

class WebKit:
    """Debian's MiniBrowser through WebKitWebDriver and Selenium; needs an X display."""

    name = "webkit"

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service

        options = Options()
        options.binary_location = os.environ.get("THINGAPP_MINIBROWSER", str(MINIBROWSER))
        for argument in ("--automation", "--cookies-policy=no-third-party"):
            options.add_argument(argument)
        options.accept_insecure_certs = True  # the test's own certificate, for this run only
        driver = shutil.which("WebKitWebDriver") or "/usr/bin/WebKitWebDriver"
        with warnings.catch_warnings():  # Selenium's own WebKitGTK class still uses its old API
            warnings.filterwarnings("ignore", "setting remote_server_addr", DeprecationWarning)
            self.driver = webdriver.WebKitGTK(options=options,
                                              service=Service(executable_path=driver))
        self.version = str(self.driver.capabilities.get("browserVersion", "?"))
        self.main = self.driver.current_window_handle
        self.driver.set_window_size(1200, 1000)

    def _in_main(self) -> None:
        self.driver.switch_to.window(self.main)
        self.driver.switch_to.default_content()

    def _in_frame(self) -> None:
        self._in_main()
        self.driver.switch_to.frame(self.driver.find_element("css selector", APP_FRAME))

    def _in_popup(self) -> None:
        others = [h for h in self.driver.window_handles if h != self.main]
        if not others:
            raise AssertionError("no popup is open")
        self.driver.switch_to.window(others[-1])

    def _run(self, script: str) -> Any:
        return self.driver.execute_script(f"return ({script});")

    def open(self, url: str) -> None:
        self._in_main()
        self.driver.get(url)

    def top(self, script: str) -> Any:
        self._in_main()
        return self._run(script)

    def app(self, script: str) -> Any:
        self._in_frame()
        return self._run(script)

    def click_app(self, selector: str) -> None:
        # WebKitWebDriver scrolls the frame's document but not the page around the frame:
        # bring both into view before the click.
        self._in_main()
        self._run(f"document.querySelector({json.dumps(APP_FRAME)}).scrollIntoView()")
        self._in_frame()
        element = self.driver.find_element("css selector", selector)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def popup(self, script: str) -> Any:
        self._in_popup()
        return self._run(script)

    def click_popup(self, selector: str) -> None:
        self._in_popup()
        self.driver.find_element("css selector", selector).click()

    def popups(self) -> int:
        return len(self.driver.window_handles) - 1

    def downloaded(self, name: str) -> bytes | None:
        return None  # MiniBrowser's downloads can't be directed under automation

    def reload(self) -> None:
        self._in_main()
        self.driver.refresh()

    def quit(self) -> None:
        self.driver.quit()
