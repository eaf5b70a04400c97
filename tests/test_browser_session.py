"""End to end in Chromium (third-party cookies blocked, the frame's storage blocked): a reload keeps
the session through the frame's partitioned cookie, which nothing else can use, and an in-frame
sign-in keeps its secret where no other origin in the frame can read it."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator

import httpx2
import pytest
from engines import wait_for
from live import Demo, app_frame, approve_in, sign_in_with_popup, sign_out, start_demo
from playwright.sync_api import Browser, Page, Route, expect

pytestmark = pytest.mark.e2e

STORAGE_BLOCKED = ("(() => { try { sessionStorage.length; return false; } "
                   "catch { return true; } })()")
COOKIE = re.compile(r"^__Host-thingapp-session=[\w.-]+; Max-Age=\d+; Path=/; Secure; HttpOnly; "
                    r"SameSite=None; Partitioned$")


def authorize_requests(page: Page) -> list[str]:
    """Every request for Thingiverse's authorize page from here on, as the browser sends them."""
    seen: list[str] = []
    page.context.on("request", lambda r: seen.append(r.url) if "/login/oauth/authorize" in r.url
                    else None)
    return seen


def authorize_pages_served(demo: Demo) -> int:
    """How many authorize pages the sandbox has served, all told."""
    log = httpx2.get(f"{demo.sandbox_url}/sandbox/requests").json()
    return sum(1 for entry in log if entry["path"] == "/login/oauth/authorize")


def signed_in_after_reload(page: Page, reload_frame: bool = False) -> float:
    """Reload the page (or only the app's frame) and return the seconds until the app shows the
    signed-in user; no Connect in between that a user could click."""
    started = time.monotonic()
    if reload_frame:  # (evaluate returns at once: wait for the new document)
        with page.expect_event("framenavigated", lambda frame: frame.parent_frame is not None):
            page.frames[1].evaluate("location.reload()")
    else:
        page.reload()
    expect(app_frame(page).locator("#user-name")).to_be_visible()
    return time.monotonic() - started


def test_a_reload_of_the_page_or_the_frame_keeps_the_session(demo, page):
    frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")
    expect(frame.locator("#reason")).to_have_text("You own this Thing.")
    assert page.frames[1].evaluate(STORAGE_BLOCKED)  # only the cookie can carry it over
    authorizing, served = authorize_requests(page), authorize_pages_served(demo)
    assert served > 0  # the sign-in itself went through it
    popups: list[Page] = []
    page.context.on("page", lambda new_page: popups.append(new_page))
    for reload_frame in (False, True):
        seconds = signed_in_after_reload(page, reload_frame)
        expect(frame.locator("#user-name")).to_have_text("mara_makes")
        expect(frame.locator("#reason")).to_have_text("You own this Thing.")
        assert seconds < 3, f"signed in {seconds:.2f} s after the reload"
        what = "frame" if reload_frame else "page"
        print(f"signed in {seconds:.2f} s after reloading the {what}")
    assert authorizing == [] and popups == [] and authorize_pages_served(demo) == served
    # A resumed session is not a new sign-in: focus stays with the Thing page.
    assert page.frames[1].evaluate("document.activeElement === document.body")


def test_after_sign_in_focus_is_on_the_thing_and_the_user_is_announced(demo, page):
    frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")
    expect(frame.locator("#thing-name")).to_be_focused()
    status = frame.get_by_role("status").first
    expect(status).to_have_text("Signed in as mara_makes.")
    page.wait_for_timeout(1500)  # still there for a screen reader that speaks later
    expect(status).to_have_text("Signed in as mara_makes.")


def test_the_session_cookie_is_partitioned_http_only_and_set_only_in_the_frame(demo, page):
    with page.expect_response(lambda r: r.url.endswith("/claim") and r.status == 200) as claimed:
        frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")
    set_cookies = [h["value"] for h in claimed.value.headers_array()
                   if h["name"].lower() == "set-cookie"]
    expect(frame.locator("#reason")).to_have_text("You own this Thing.")
    assert len(set_cookies) == 1 and COOKIE.match(set_cookies[0]), set_cookies
    [cookie] = [c for c in page.context.cookies() if c["name"] == "__Host-thingapp-session"]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "None"
    assert cookie["domain"] == "127.0.0.1" and cookie["path"] == "/"
    assert cookie.get("partitionKey", "http://localhost") == "http://localhost"
    assert page.frames[1].evaluate("document.cookie") == ""  # no script of the page reads it

    # The app opened at top level, signed in there: no cookie at all.
    top = page.context.browser.new_context()
    try:
        app = top.new_page()
        app.goto(f"{demo.app_url}/?thing_id=2001")
        with app.expect_popup() as popup_info:
            app.get_by_role("button", name="Connect Thingiverse").click()
        approve_in(popup_info.value, "mara_makes")
        expect(app.locator("#reason")).to_have_text("You own this Thing.")
        assert [c["name"] for c in top.cookies()] == []
    finally:
        top.close()


def test_sign_out_then_reload_shows_connect(demo, page):
    frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")
    frame.get_by_role("button", name="Sign out").click()
    expect(frame.locator("#status")).to_have_text("You are signed out.")
    assert not [c for c in page.context.cookies() if c["name"] == "__Host-thingapp-session"]
    page.reload()
    expect(app_frame(page).get_by_role("button", name="Connect Thingiverse")).to_be_visible()
    expect(app_frame(page).locator("#status")).to_have_text("")


def test_the_thingiverse_origin_cannot_trade_the_cookie(demo, page):
    """A top-level page of Thingiverse's site shares the cookie's partition, so the browser
    sends it the cookie; the trade is still refused, and the page reads nothing."""
    # (The frame's own check that its cookie was kept is answered, and logged, before.)
    with page.expect_response(lambda r: r.url.endswith("/api/session") and r.status == 200):
        frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")
    expect(frame.locator("#reason")).to_have_text("You own this Thing.")
    page.goto(f"{demo.sandbox_url}/")
    log_before = len(demo.log())
    results = page.evaluate("""async (url) => {
      const tries = [
        {headers: {'Content-Type': 'application/json', 'X-Thingapp-Framed': '1'}, body: '{}'},
        {mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body: '{}'},
        {mode: 'no-cors', headers: {'Content-Type': 'application/x-www-form-urlencoded'},
         body: 'thing_id=2001'},
      ];
      const out = [];
      for (const t of tries) {
        try {
          const r = await fetch(url, {method: 'POST', credentials: 'include', ...t});
          out.push(r.type + ':' + r.status + ':' + await r.text());
        } catch (e) { out.push('refused:' + e.name); }
      }
      return out;
    }""", f"{demo.app_url}/api/session")
    assert results == ["refused:TypeError", "opaque:0:", "opaque:0:"], results
    # Chromium may not even send the cookie here (its partition key also notes that the frame
    # was cross-site); Firefox keys it by the top-level site alone. Either way, the app refuses.
    # (A line is written once its answer is sent: wait for the second.)
    log = wait_for(lambda: (text := demo.log()[log_before:]).count(
        "POST /api/session 403") == 2 and text, what="two refusals in the log")
    assert "POST /api/session 200" not in log, log


def test_in_frame_sign_in_leaves_nothing_a_page_in_the_frame_can_use(demo, page):
    """The authorize page, in the frame during an in-frame sign-in, records all it can read;
    replayed from a page of Thingiverse's origin, it gives no session, and the real frame still
    signs in."""
    page.goto(f"{demo.sandbox_url}/thing:2003?popups=0")
    frame = app_frame(page)
    frame.get_by_role("button", name="Connect Thingiverse").click()
    frame.get_by_role("button", name="Agree").wait_for()
    authorize = next(f for f in page.frames if "/login/oauth/authorize" in f.url)
    seen = authorize.evaluate("""() => {
      const read = (f) => { try { return String(f()); } catch (e) { return 'blocked'; } };
      return {name: window.name, url: location.href, referrer: document.referrer,
              cookie: document.cookie, history: String(history.length),
              local: read(() => JSON.stringify(localStorage)),
              session: read(() => JSON.stringify(sessionStorage))};
    }""")
    # The claim waits in the frame's cookie (signed, not secret from the test).
    [cookie] = [c for c in page.context.cookies() if c["name"] == "__Host-thingapp-signin"]
    login_id, claim = json.loads(base64.urlsafe_b64decode(cookie["value"].split(".")[0] + "=="))
    everything = json.dumps(seen)
    assert claim not in everything and login_id not in everything, seen
    assert re.fullmatch(r"(thingapp\.frame:2003)?", seen["name"]), seen

    # The attacker replays what it found, from a page of Thingiverse's origin, as the frame's
    # own script would: the claim endpoint and the cookie trade.
    attacker = page.context.new_page()
    attacker.goto(f"{demo.sandbox_url}/")
    tried = attacker.evaluate("""async ([app, seen]) => {
      const found = []; let pending = null;
      try { pending = JSON.parse(seen.name.replace(/^[^{]*/, '')); } catch {}
      const post = async (path, body) => {
        try {
          const r = await fetch(app + path, {method: 'POST', credentials: 'include',
            headers: {'Content-Type': 'application/json', 'X-Thingapp-Framed': '1'},
            body: JSON.stringify(body)});
          return r.status + ':' + await r.text();
        } catch (e) { return 'refused'; }
      };
      if (pending && pending.login_id)
        found.push(await post(`/api/logins/${pending.login_id}/claim`, {claim: pending.claim}));
      found.push(await post('/api/session', {thing_id: 2003}));
      return found;
    }""", [demo.app_url, seen])
    assert not [t for t in tried if "session_token" in t], tried
    attacker.close()

    approve_in(frame, "remy_remix")
    expect(frame.locator("#reason")).to_have_text(
        "You can download a resized copy (the licence does not allow remixes).")
    expect(frame.locator("#thing-name")).to_be_focused()
    assert page.frames[1].evaluate("window.name") == ""


def test_a_signed_out_frame_says_its_file_is_still_being_made(demo, page, browser: Browser):
    httpx2.post(f"{demo.sandbox_url}/sandbox/faults", json={
        "route": "POST /files/{id}/uploadFile", "bytes_per_second": 100}).raise_for_status()
    try:  # (684 B at 100 B/s: still uploading after the sign-out and reload)
        frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")
        frame.get_by_label("Scale (%)").fill("80")
        frame.get_by_role("button", name="Make the file and post it to this Thing").click()
        expect(frame.locator("#job-message")).to_contain_text("Uploading", timeout=10_000)
        sign_out(frame)
        page.reload()
        expect(app_frame(page).locator("#status")).to_have_text(
            "A file is still being made for this Thing; connect to see it.")
        expect(app_frame(page).get_by_role("button", name="Connect Thingiverse")).to_be_visible()
        other = browser.new_context()  # another browser: it started nothing here
        try:
            stranger = other.new_page()
            stranger.goto(f"{demo.sandbox_url}/thing:2001")
            expect(app_frame(stranger).get_by_role("button", name="Connect Thingiverse")
                   ).to_be_visible()
            expect(app_frame(stranger).locator("#status")).to_have_text("")
        finally:
            other.close()
    finally:
        httpx2.delete(f"{demo.sandbox_url}/sandbox/faults").raise_for_status()


@pytest.fixture(scope="module")
def short_sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """A demo whose sessions end after 4 s unused, and 8 s after sign-in however busy."""
    running = start_demo(tmp_path_factory.mktemp("short-sessions"), env={
        "THINGAPP_SESSION_IDLE_SECONDS": "4", "THINGAPP_SESSION_MAX_SECONDS": "8"})
    yield running
    running.stop()


def test_a_session_unused_past_its_idle_limit_asks_to_connect(short_sessions, page):
    frame = sign_in_with_popup(page, short_sessions.sandbox_url, 2001, "mara_makes")
    expect(frame.locator("#reason")).to_have_text("You own this Thing.")
    page.wait_for_timeout(2000)
    signed_in_after_reload(page)  # used within the limit: still signed in, and seen again
    # The page's last request (the preview's model) is made before the idle time counts.
    expect(app_frame(page).locator("#preview-canvas")).to_have_attribute(
        "aria-label", re.compile("^3D preview"), timeout=15_000)
    page.wait_for_timeout(4500)
    page.reload()
    expect(app_frame(page).locator("#status")).to_have_text(
        "You were signed out after 4 seconds without using the app. Please connect again.")
    expect(app_frame(page).get_by_role("button", name="Connect Thingiverse")).to_be_visible()


def test_a_session_past_its_absolute_limit_asks_to_connect(short_sessions, page):
    frame = sign_in_with_popup(page, short_sessions.sandbox_url, 2001, "mara_makes")
    expect(frame.locator("#reason")).to_have_text("You own this Thing.")
    signed_in = time.monotonic()
    while time.monotonic() - signed_in < 5.5:  # busy all along: never idle for 4 s
        page.wait_for_timeout(1500)
        signed_in_after_reload(page)
    page.wait_for_timeout(max(0, 8.6 - (time.monotonic() - signed_in)) * 1000)
    page.reload()
    expect(app_frame(page).locator("#status")).to_have_text(
        "You signed in more than 8 seconds ago, so you were signed out. Please connect again.")



def claim_without_cookies(route: Route) -> None:
    """The claim, answered to the browser without its Set-Cookie: a browser that keeps no
    partitioned cookie. (Sent from here: Playwright's own fetch would store the cookie.)"""
    request = route.request
    answer = httpx2.post(request.url, content=request.post_data_buffer, headers=request.headers)
    route.fulfill(status=answer.status_code, body=answer.content, headers={
        k: v for k, v in answer.headers.items()
        if k.lower() not in ("set-cookie", "content-length", "content-encoding")})


def test_where_partitioned_cookies_are_refused_storage_access_keeps_the_session(demo, page):
    """A browser that drops the partitioned cookie (simulated: the claim's Set-Cookie is taken
    out on its way to the browser) offers "Stay signed in", which asks for storage access; once
    it is granted, a reload finds the session in an ordinary cookie without a click."""
    page.context.grant_permissions(["storage-access"])

    page.route("**/claim", claim_without_cookies)
    frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes",
                               query="?storage_access=1")
    expect(frame.locator("#user-name")).to_have_text("mara_makes")
    assert page.context.cookies() == []
    frame.get_by_role("button", name="Stay signed in on this browser").click()
    expect(frame.locator("#status")).to_have_text("This browser will keep you signed in.")
    [cookie] = page.context.cookies()
    assert cookie["name"] == "__Host-thingapp-session" and cookie["httpOnly"]
    assert "partitionKey" not in cookie  # the browser's own cookie for the app, by permission
    signed_in_after_reload(page)
    expect(frame.get_by_role("button", name="Stay signed in on this browser")).to_be_hidden()


def test_without_storage_access_stay_signed_in_says_the_browser_will_not(demo, page):
    """The same browser, but Thingiverse's frame gives no way to ask for storage access."""
    page.route("**/claim", claim_without_cookies)
    frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")
    frame.get_by_role("button", name="Stay signed in on this browser").click()
    expect(frame.locator("#status")).to_have_text(
        "This browser does not let the app remember you: you will connect again after a reload.")
    page.reload()
    expect(app_frame(page).get_by_role("button", name="Connect Thingiverse")).to_be_visible()


def test_a_token_thingiverse_revoked_ends_the_session_with_a_sentence(demo, page):
    tokens: list[str] = []
    page.context.on("page", lambda p: p.on("framenavigated", lambda f: tokens.extend(
        re.findall(r"access_token=([0-9a-f]+)", f.url))))
    frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")
    expect(frame.locator("#reason")).to_have_text("You own this Thing.")
    [token] = set(tokens)
    httpx2.post(f"{demo.sandbox_url}/sandbox/tokens/revoke",
               json={"access_token": token}).raise_for_status()
    page.goto(f"{demo.sandbox_url}/thing:2002")  # a Thing the app has not read for this user
    expect(frame.locator("#status")).to_have_text(
        "Thingiverse no longer accepts your sign-in. Please connect again.")
    expect(frame.get_by_role("button", name="Connect Thingiverse")).to_be_visible()
    page.reload()  # the session is gone on the server too
    expect(frame.locator("#status")).to_have_text("Your session has ended. Please connect again.")
