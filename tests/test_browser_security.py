"""In Chromium: what the callback page does, and attacker-controlled Thing text staying inert."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from live import app_frame, approve_in

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
    token = httpx.post(f"{demo.sandbox_url}/sandbox/tokens",
                       json={"user_id": 1001, "client_id": "thingapp-demo"}).json()["access_token"]
    thing = httpx.post(f"{demo.sandbox_url}/things/", headers={"Authorization": f"Bearer {token}"},
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
