"""End to end in Chromium: the sandbox's Thing page on one site, the app in its iframe on
another."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from live import app_frame, approve_in, sign_in_with_popup
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
DOWNLOAD_ONLY = "You can download a resized copy (the licence does not allow remixes)."
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"


@pytest.mark.parametrize(("thing_id", "username", "actions", "button", "reason"), [
    (2001, "mara_makes", ["Post to this Thing (recommended)", "Download"],
     "Make the file and post it to this Thing", "You own this Thing."),
    (2002, "remy_remix", ["Post a Remix (recommended)", "Download"],
     "Make the file and post a remix", "The licence allows derivatives."),
    (2003, "remy_remix", None,  # download alone: no lone radio, a sentence says what is on offer
     "Make the file and download it",
     "You can download a resized copy (the licence does not allow remixes)."),
])
def test_each_persona_sees_its_action_and_reason(demo, page, thing_id, username, actions, button,
                                                 reason):
    frame = sign_in_with_popup(page, demo.sandbox_url, thing_id, username)
    expect(frame.locator("#user-name")).to_have_text(username)
    expect(frame.locator("#reason")).to_have_text(reason)
    if actions is None:
        expect(frame.locator("#actions-fieldset")).to_be_hidden()
    else:
        expect(frame.locator("#actions label")).to_have_text(actions)
        expect(frame.locator("#actions input").first).to_be_checked()
    expect(frame.get_by_role("button", name=button)).to_be_visible()


def test_signed_in_page_shows_the_thing(demo, page):
    frame = sign_in_with_popup(page, demo.sandbox_url, 2002, "remy_remix")
    expect(frame.locator("#thing-name")).to_have_text("Cable Clip")
    expect(frame.locator("#thing-creator")).to_have_text("olaf_original")
    expect(frame.locator("#thing-license")).to_have_text(
        "Creative Commons - Attribution - Share Alike")
    expect(frame.locator("#thing-link")).to_have_attribute("href", f"{demo.sandbox_url}/thing:2002")


def test_where_storage_is_allowed_a_reload_keeps_the_session(demo, page):
    page.goto(f"{demo.app_url}/?thing_id=2001")  # first-party: sessionStorage works here
    with page.expect_popup() as popup_info:
        page.get_by_role("button", name="Connect Thingiverse").click()
    approve_in(popup_info.value, "mara_makes")
    expect(page.locator("#reason")).to_have_text("You own this Thing.")
    page.reload()
    expect(page.locator("#user-name")).to_have_text("mara_makes")


def test_deny_shows_declined_with_a_retry(demo, page):
    frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes", decision="Deny")
    expect(frame.locator("#status")).to_have_text("You declined access.")
    retry = frame.get_by_role("button", name="Try again")
    expect(retry).to_be_visible()
    with page.expect_popup() as popup_info:  # and the retry really signs in
        retry.click()
    approve_in(popup_info.value, "mara_makes")
    expect(frame.locator("#reason")).to_have_text("You own this Thing.")


def test_iframe_without_popups_signs_in_within_the_frame(demo, page):
    page.goto(f"{demo.sandbox_url}/thing:2003?popups=0")
    frame = app_frame(page)
    opened = []
    page.context.on("page", lambda new_page: opened.append(new_page))
    frame.get_by_role("button", name="Connect Thingiverse").click()
    approve_in(frame, "remy_remix")  # the authorize page now shows inside the iframe
    expect(frame.locator("#reason")).to_have_text(DOWNLOAD_ONLY)
    assert opened == []


def test_launch_with_a_code_signs_in_without_a_click(demo, page):
    page.goto(f"{demo.sandbox_url}/thing:2001?launch_as=1001")
    frame = app_frame(page)
    expect(frame.locator("#reason")).to_have_text("You own this Thing.")
    src = page.locator("iframe[title='Thing app']").get_attribute("src")
    assert "code=" in src  # the launch URL carried it; the frame's own URL no longer does
    assert "code=" not in page.frames[1].url


def test_a_third_origin_cannot_frame_the_app(demo, page):
    refusals: list[str] = []
    page.on("console", lambda message: refusals.append(message.text))
    # The same sandbox page, reached as 127.0.0.1: another origin than the allowed localhost.
    page.goto(demo.sandbox_url.replace("localhost", "127.0.0.1") + "/thing:2001")
    page.wait_for_timeout(1000)
    assert any("frame-ancestors" in text for text in refusals), refusals
    expect(app_frame(page).get_by_role("button", name="Connect Thingiverse")).to_have_count(0)
    # ...while the allowed origin gets the app.
    page.goto(f"{demo.sandbox_url}/thing:2001")
    expect(app_frame(page).get_by_role("button", name="Connect Thingiverse")).to_be_visible()


STORAGE_BLOCKED = ("(() => { try { sessionStorage.length; return false; } "
                   "catch { return true; } })()")
STORAGE_DUMP = """(() => { const dump = (s) => {
    try { return JSON.stringify(Object.entries(s())); } catch { return 'blocked'; } };
  return [dump(() => localStorage), dump(() => sessionStorage)]; })()"""


def test_tokens_stay_out_of_storage_urls_and_logs(demo, page):
    seen_urls: list[str] = []
    fragments: list[str] = []
    page.context.on("request", lambda request: seen_urls.append(request.url))
    page.context.on("page", lambda p: p.on(
        "framenavigated", lambda f: fragments.append(f.url) if "#access_token=" in f.url else None))
    frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")
    expect(frame.locator("#reason")).to_have_text("You own this Thing.")
    access_token = re.search(r"access_token=([0-9a-f]+)", fragments[0]).group(1)
    app = page.frames[1]
    stored = " ".join(app.evaluate(STORAGE_DUMP))
    html = app.content()
    assert access_token not in stored and access_token not in html
    assert not [url for url in seen_urls if access_token in url]
    assert access_token not in demo.log()
    assert "POST /api/callback 200" in demo.log()


def test_screenshots_at_iframe_width(demo, page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{demo.sandbox_url}/thing:2002")
    app = app_frame(page).locator("html")
    expect(app_frame(page).get_by_role("button", name="Connect Thingiverse")).to_be_visible()
    assert page.frames[1].evaluate("window.innerWidth") == 600
    app.screenshot(path=SCREENSHOTS / "launch.png")
    sign_in_with_popup(page, demo.sandbox_url, 2002, "remy_remix")
    expect(app_frame(page).locator("#reason")).to_be_visible()
    app.screenshot(path=SCREENSHOTS / "signed-in.png")
    page.screenshot(path=SCREENSHOTS / "thing-page.png", full_page=True)
    assert (SCREENSHOTS / "signed-in.png").stat().st_size > 5000
