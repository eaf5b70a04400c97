"""The scenarios that differ by engine, in Firefox and WebKit (Chromium runs them, and more, in the
Playwright tests): sign-in by popup (Agree, Deny), in the frame when popups are not allowed, a
reload, the three actions end to end, framing by a third origin, and no token where it must not
be. Two sites, as in the Chromium tests: the sandbox's Thing page on localhost, the app on
127.0.0.1 (over https for WebKit, which keeps no `Secure` cookie on plain http)."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pytest
import trimesh
from engines import Engine, Firefox, WebKit, wait_for
from live import Demo

pytestmark = pytest.mark.e2e
USERS = {"mara_makes": 1001, "remy_remix": 1002, "olaf_original": 1003}
SESSION_KEY = "thingapp.session"


@pytest.fixture(params=["firefox", "webkit"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "webkit":
        request.getfixturevalue("x_display")
        running: Engine = WebKit()
    else:
        running = Firefox()
    try:
        yield running
    finally:
        running.quit()


@pytest.fixture
def site(request: pytest.FixtureRequest, engine: Engine) -> Demo:
    """The demo this engine runs against: over https for WebKit."""
    demo: Demo = request.getfixturevalue("https_demo" if engine.name == "webkit" else "demo")
    return demo


def shows(engine: Engine, view: str) -> bool:
    return bool(engine.app(f"!document.querySelector('[data-view={view}]').hidden"))


def app_text(engine: Engine, selector: str) -> str:
    return str(engine.app(f"document.querySelector({json.dumps(selector)}).textContent.trim()"))


def wait_text(engine: Engine, selector: str, expected: str | re.Pattern[str],
              timeout: float = 15) -> str:
    seen: list[str] = []

    def read() -> str | None:
        text = app_text(engine, selector)
        seen.append(text)
        matches = (re.search(expected, text) if isinstance(expected, re.Pattern)
                   else text == expected)
        return text if matches else None
    try:
        return wait_for(read, timeout, what=f"{selector} to read {expected!r}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; it read {seen[-1:]!r}") from None


def approve(engine: Engine, username: str, decision: str, in_frame: bool = False) -> None:
    """On the sandbox's authorize page (in the popup, or in the app's frame): pick a user, then
    Agree or Deny."""
    run, click = (engine.app, engine.click_app) if in_frame else (engine.popup,
                                                                   engine.click_popup)
    wait_for(lambda: run("location.pathname === '/login/oauth/authorize' && "
                         "!!document.querySelector('button[value=agree]')"),
             what="the authorize page and its buttons")
    click(f"input[name=user_id][value='{USERS[username]}']")
    click(f"button[value={decision.lower()}]")


def sign_in(engine: Engine, demo: Demo, thing_id: int, username: str,
            decision: str = "Agree") -> None:
    engine.open(f"{demo.sandbox_url}/thing:{thing_id}")
    wait_for(lambda: shows(engine, "connect"), what="Connect")
    engine.click_app("#connect")
    wait_for(lambda: engine.popups() == 1, what="the popup")
    approve(engine, username, decision)
    wait_for(lambda: engine.popups() == 0, what="the popup to close")


def signed_in_as(engine: Engine, username: str) -> None:
    wait_text(engine, "#user-name", username)
    assert shows(engine, "signed-in")


def make(engine: Engine, *, value: str, button: str, mode: str = "percent",
         remix_name: str | None = None) -> None:
    engine.app(f"document.querySelector('input[name=mode][value={mode}]').click()")
    engine.app(f"document.querySelector('#scale-value').value = {json.dumps(value)}")
    if remix_name is not None:
        engine.app(f"document.querySelector('#remix-name').value = {json.dumps(remix_name)}")
    assert app_text(engine, "#go") == button
    engine.click_app("#go")


def test_connect_by_popup_and_agree(engine, site):
    sign_in(engine, site, 2002, "remy_remix")
    signed_in_as(engine, "remy_remix")
    assert app_text(engine, "#reason") == "The licence allows derivatives."
    assert engine.app("document.activeElement.id") == "thing-name"
    assert app_text(engine, "#status") == "Signed in as remy_remix."


def test_deny_says_declined_and_offers_a_retry(engine, site):
    sign_in(engine, site, 2001, "mara_makes", decision="Deny")
    wait_text(engine, "#status", "You declined access.")
    assert app_text(engine, "#connect") == "Try again"


def test_in_frame_sign_in_when_popups_are_not_allowed(engine, site):
    engine.open(f"{site.sandbox_url}/thing:2003?popups=0")
    wait_for(lambda: shows(engine, "connect"), what="Connect")
    engine.click_app("#connect")
    approve(engine, "remy_remix", "Agree", in_frame=True)
    signed_in_as(engine, "remy_remix")
    assert app_text(engine, "#reason") == ("You can download a resized copy (the licence does not "
                                           "allow remixes).")
    assert engine.popups() == 0
    assert engine.app("window.name") == ""


def test_a_reload_keeps_the_session(engine, site):
    """Firefox keeps the partitioned cookie; WebKit refuses it (Partitioned is ignored, the
    cookie is third-party) but keeps the frame's sessionStorage for the tab."""
    sign_in(engine, site, 2001, "mara_makes")
    signed_in_as(engine, "mara_makes")
    engine.reload()
    signed_in_as(engine, "mara_makes")
    stored = engine.app(f"sessionStorage.getItem({json.dumps(SESSION_KEY)}) !== null")
    if isinstance(engine, Firefox):
        names = [c["name"] for c in engine.frame_cookies()]
        assert "__Host-thingapp-session" in names, names
        # Which of the two carried it over: the cookie alone, with the tab's storage emptied.
        engine.app(f"sessionStorage.removeItem({json.dumps(SESSION_KEY)})")
        engine.reload()
        signed_in_as(engine, "mara_makes")
    else:
        assert stored


def test_owner_posts_a_file(engine, site):
    sign_in(engine, site, 2001, "mara_makes")
    signed_in_as(engine, "mara_makes")
    make(engine, value="125", button="Make the file and post it to this Thing")
    wait_text(engine, "#job-message",
              "Posted calibration_cube_125pct.stl to Calibration Cube. Scaled to 125 %.", 30)


def test_remixer_posts_a_remix(engine, site):
    sign_in(engine, site, 2002, "remy_remix")
    signed_in_as(engine, "remy_remix")
    make(engine, value="200", button="Make the file and post a remix",
         remix_name=f"Cable clip in {engine.name}")
    wait_text(engine, "#job-message", re.compile(
        rf"^Created the remix Cable clip in {engine.name} with cable_clip_200pct\.stl"), 30)


def test_download_when_the_licence_allows_no_remix(engine, site):
    sign_in(engine, site, 2003, "remy_remix")
    signed_in_as(engine, "remy_remix")
    # Keep what the page hands to the browser's download (WebKit can't fetch it back).
    engine.app("(() => { const make = URL.createObjectURL; window.handedOver = [];"
               " URL.createObjectURL = (blob) => { window.handedOver.push(blob);"
               " return make.call(URL, blob); }; })()")
    make(engine, mode="target", value="60", button="Make the file and download it")
    wait_text(engine, "#job-message", re.compile(r"desk_organizer_60mm\.stl is ready\."), 30)
    # The page says so, then fetches the file and hands it to the browser: wait for the link.
    assert wait_for(lambda: engine.app("document.querySelector('a.download')?.download"),
                    what="the download link") == "desk_organizer_60mm.stl"
    if isinstance(engine, Firefox):  # the file the browser saved
        data = wait_for(lambda: engine.downloaded("desk_organizer_60mm.stl"), what="the file")
    else:  # the file the page handed to the browser's download
        data = bytes(wait_for(lambda: engine.app(
            "window.handedOver[0].arrayBuffer().then(b => Array.from(new Uint8Array(b)))"),
            what="the file"))
    mesh = trimesh.load(io.BytesIO(data), file_type="stl")
    assert max(mesh.extents) == pytest.approx(60)


def test_a_third_origin_cannot_frame_the_app(engine, site):
    engine.open(site.sandbox_url.replace("localhost", "127.0.0.1") + "/thing:2001")
    engine.top("new Promise(r => setTimeout(r, 1000))")
    assert not engine.app("!!document.getElementById('connect')")
    engine.open(f"{site.sandbox_url}/thing:2001")
    wait_for(lambda: shows(engine, "connect"), what="Connect on the allowed origin")


def test_no_token_in_urls_logs_or_storage(engine, site):
    sign_in(engine, site, 2001, "mara_makes")
    signed_in_as(engine, "mara_makes")
    token = engine.app(f"sessionStorage.getItem({json.dumps(SESSION_KEY)})")
    assert token  # both engines allow the frame's storage: the one secret the page holds
    urls = engine.app("performance.getEntries().map(e => e.name).join(' ')") + " " + \
        engine.top("performance.getEntries().map(e => e.name).join(' ')")
    assert token not in urls and "access_token" not in urls
    assert engine.app("localStorage.length") == 0
    assert engine.app("document.cookie") == ""  # the app's cookies are HttpOnly
    log = site.log()
    assert token not in log and "access_token" not in log
