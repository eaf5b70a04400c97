"""In Chromium: what the callback page does, and attacker-controlled Thing text staying inert."""

from __future__ import annotations

import json
import time

import httpx2
import pytest
from live import app_frame, approve_in
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_the_callback_page_makes_one_post_and_nothing_else(demo, page):
    page.goto(f"{demo.sandbox_url}/thing:2001")
    with page.expect_popup() as popup_info:
        app_frame(page).get_by_role("button", name="Connect Thingiverse").click()
    popup = popup_info.value
    requests: list[tuple[str, str]] = []
    popup.on("request", lambda r: requests.append((r.method, r.url)))
    with popup.expect_event("close"):
        approve_in(popup, "mara_makes")
    at_callback = requests[next(i for i, (_, url) in enumerate(requests)
                                if url.startswith(f"{demo.app_url}/callback")):]
    assert [(m, u.removeprefix(demo.app_url)) for m, u in at_callback] == [
        ("GET", "/callback"), ("GET", "/static/callback.js"), ("POST", "/api/callback")]
    assert all("access_token" not in url for _, url in requests)
    expect(app_frame(page).locator("#reason")).to_have_text("You own this Thing.")


def test_thing_names_carrying_markup_render_as_text(demo, page):
    hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
    token = httpx2.post(f"{demo.sandbox_url}/sandbox/tokens",
                       json={"user_id": 1001, "client_id": "thingapp-demo"}).json()["access_token"]
    thing = httpx2.post(f"{demo.sandbox_url}/things/", headers={"Authorization": f"Bearer {token}"},
                       json={"name": hostile, "license": "cc", "category": "Other",
                             "description": hostile}).json()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{demo.sandbox_url}/thing:{thing['id']}")
    with page.expect_popup() as popup_info:
        app_frame(page).get_by_role("button", name="Connect Thingiverse").click()
    with popup_info.value.expect_event("close"):
        approve_in(popup_info.value, "mara_makes")
    frame = app_frame(page)
    expect(frame.locator("#thing-name")).to_have_text(hostile)
    expect(frame.locator("#thing-name img")).to_have_count(0)
    assert page.frames[1].evaluate("window.pwned") is None
    assert page.evaluate("window.pwned") is None
    assert dialogs == []


def test_a_login_planted_in_window_name_is_not_taken_at_top_level(demo, page):
    """Login CSRF: another site completes a login with its own account, opens the app with the
    claim in window.name (or a ?code=), hoping the visitor ends up signed in as the attacker."""
    login = httpx2.post(f"{demo.app_url}/api/logins",
                       json={"thing_id": 2001, "mode": "frame"}).json()
    state = login["authorize_url"].split("state=")[1]
    token = httpx2.post(f"{demo.sandbox_url}/sandbox/tokens",
                       json={"user_id": 1003, "client_id": "thingapp-demo"}).json()["access_token"]
    assert httpx2.post(f"{demo.app_url}/api/callback",
                      json={"state": state, "access_token": token}).status_code == 200
    planted = "thingapp.pending:" + json.dumps(
        {"login_id": login["login_id"], "claim": login["claim"], "thing_id": 2001})
    page.goto(f"{demo.sandbox_url}/")  # "another site"
    page.evaluate("name => { window.name = name; }", planted)
    page.goto(f"{demo.app_url}/?thing_id=2001")
    expect(page.get_by_role("button", name="Connect Thingiverse")).to_be_visible()
    expect(page.locator("#user-name")).to_have_text("")
    claim = httpx2.post(f"{demo.app_url}/api/logins/{login['login_id']}/claim",
                       json={"claim": login["claim"]})
    assert claim.status_code == 200  # the planted login was never taken by the visitor


def test_a_closed_sign_in_window_ends_the_wait(demo, page):
    page.goto(f"{demo.sandbox_url}/thing:2001")
    frame = app_frame(page)
    with page.expect_popup() as popup_info:
        frame.get_by_role("button", name="Connect Thingiverse").click()
    popup_info.value.wait_for_url("**/login/oauth/authorize**")
    popup_info.value.close()
    expect(frame.locator("#status")).to_have_text(
        "The Thingiverse window was closed before you agreed.", timeout=15_000)
    expect(frame.get_by_role("button", name="Try again")).to_be_visible()


def test_the_callback_takes_the_token_out_of_its_own_url_before_anything_else(demo, page):
    """The frame's own address (and so its history entry) never keeps `#access_token=`: by the
    time the callback page makes its one request, its URL is bare."""
    seen: list[tuple[str, str]] = []

    def record(route) -> None:  # noqa: ANN001 (Playwright's Route)
        frame = route.request.frame
        seen.append((frame.url, frame.evaluate("location.href")))
        route.continue_()
    page.route("**/api/callback", record)
    page.goto(f"{demo.sandbox_url}/thing:2003?popups=0")
    frame = app_frame(page)
    frame.get_by_role("button", name="Connect Thingiverse").click()
    approve_in(frame, "remy_remix")
    expect(frame.locator("#reason")).to_have_text(
        "You can download a resized copy (the licence does not allow remixes).")
    assert len(seen) == 1
    bare = [url.endswith("/callback") and "#" not in url for url in seen[0]]
    assert bare == [True, True], "the callback page's URL still held its fragment"  # not shown


@pytest.mark.parametrize("outcome", ["failed", "succeeded"])
def test_the_callback_tells_only_the_apps_own_origin(demo, page, leak_watch, outcome):
    """A Thingiverse-origin page that opens the callback itself hears nothing from it: the
    callback posts to its opener with the app's origin as the target, never "*"."""
    page.goto(f"{demo.sandbox_url}/")
    page.evaluate("window.heard = []; addEventListener('message', e => window.heard.push(e.data))")
    token = "forged-token-4c1d9e"
    fragment = f"state=forged&access_token={token}&token_type=bearer"
    if outcome == "succeeded":  # a login of the page's own, with a real token for it
        login = httpx2.post(f"{demo.app_url}/api/logins", json={"thing_id": 2001}).json()
        token = httpx2.post(f"{demo.sandbox_url}/sandbox/tokens", json={
            "user_id": 1003, "client_id": "thingapp-demo"}).json()["access_token"]
        state = login["authorize_url"].split("state=")[1]
        fragment = f"access_token={token}&token_type=bearer&state={state}"
    leak_watch.secrets.add(token)  # it must appear in no log, URL or storage either
    with page.expect_popup() as popup_info:
        page.evaluate("url => { window.open(url); }", f"{demo.app_url}/callback#{fragment}")
    popup = popup_info.value
    if outcome == "succeeded":
        popup.wait_for_event("close", timeout=10_000)  # it posted, then closed itself
    else:
        expect(popup.locator("#message")).to_contain_text("did not come from this app")
    page.wait_for_timeout(500)
    assert page.evaluate("window.heard.length") == 0


BURST = """async ([target, origin]) => {
  const to = {frame: () => document.querySelector('iframe').contentWindow,
              opener: () => window.opener, self: () => window}[target]();
  for (let n = 0; n < 10; n++) {
    to.postMessage({type: 'thingapp:signin'}, origin);
    await new Promise((done) => setTimeout(done, 80));
  }
}"""


def test_the_launch_page_heeds_only_its_own_popup_on_its_own_origin(demo, page):
    """A "signed in" message makes the waiting frame claim at once. Messages from the Thingiverse
    page around it, from the authorize page in the popup (right window, wrong origin) and from
    the frame itself (right origin, wrong window) must not: the frame keeps its slow poll."""
    claims: list[float] = []
    page.context.on("request", lambda r: claims.append(time.monotonic())
                    if r.url.endswith("/claim") else None)
    page.goto(f"{demo.sandbox_url}/thing:2001")
    frame = app_frame(page)
    with page.expect_popup() as popup_info:
        frame.get_by_role("button", name="Connect Thingiverse").click()
    popup = popup_info.value
    popup.wait_for_url("**/login/oauth/authorize**")
    app = next(f for f in page.frames if f.url.startswith(demo.app_url))
    for sender, target, origin in [(page, "frame", demo.app_url), (popup, "opener", "*"),
                                   (app, "self", demo.app_url)]:
        started = time.monotonic()
        sender.evaluate(BURST, [target, origin])
        during = [t for t in claims if t >= started]
        assert len(during) <= 1, f"{len(during)} claims answered a forged message"  # polls only
    popup.close()


def test_a_code_launch_opened_at_top_level_is_not_claimed(demo, page):
    """Login CSRF with a ?code=: another site sends the visitor, at top level, to the app with a
    code of the attacker's account. The page must not take the sign-in it would make."""
    code = httpx2.post(f"{demo.sandbox_url}/sandbox/codes",
                      json={"user_id": 1003, "client_id": "thingapp-demo"}).json()["code"]
    claims: list[str] = []
    page.on("request", lambda r: claims.append(r.url) if r.url.endswith("/claim") else None)
    page.goto(f"{demo.sandbox_url}/")  # "another site"
    page.goto(f"{demo.app_url}/?thing_id=2001&code={code}")
    expect(page.get_by_role("button", name="Connect Thingiverse")).to_be_visible()
    page.wait_for_timeout(500)
    expect(page.locator("#user-name")).to_have_text("")
    assert claims == []
