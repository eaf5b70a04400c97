"""End to end in Chromium, against a sandbox that offers only today's upload pair or only the
older flow (the app in its default `auto` mode, so the second also exercises the fallback): an
owner post, and a remix with its picture and tags, published from the done screen."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx2
import PIL.Image
import pytest
from live import Demo, sign_in_with_popup, start_demo
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"


@pytest.fixture(scope="module", params=["new", "legacy"])
def flow_demo(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Demo, str]]:
    running = start_demo(tmp_path_factory.mktemp(f"flow-{request.param}"),
                         "--upload-flow", request.param)
    yield running, request.param
    running.stop()


def posts(demo: Demo) -> list[str]:
    return [e["path"] for e in httpx2.get(f"{demo.sandbox_url}/sandbox/requests").json()
            if e["method"] == "POST"]


def as_user(demo: Demo, method: str, path: str, user_id: int, **kwargs: object) -> httpx2.Response:
    token = httpx2.post(f"{demo.sandbox_url}/sandbox/tokens", json={
        "user_id": user_id, "client_id": "thingapp-demo"}).json()["access_token"]
    return httpx2.request(method, f"{demo.sandbox_url}{path}",  # type: ignore[arg-type]
                         headers={"Authorization": f"Bearer {token}"}, **kwargs)


def test_owner_posts_through_the_flow_on_offer(flow_demo, page: Page):
    demo, flow = flow_demo
    frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")
    frame.get_by_label("Scale (%)").fill("130")
    frame.get_by_role("button", name="Make the file and post it to this Thing").click()
    expect(frame.get_by_role("heading", name="Posted")).to_be_visible(timeout=20_000)
    expect(frame.get_by_role("heading", name="Posted")).to_be_focused()
    expect(frame.locator("#job-message")).to_have_text(
        "Posted calibration_cube_130pct.stl to Calibration Cube. Scaled to 130 %.")
    expect(frame.get_by_role("link", name="View Calibration Cube on Thingiverse")
           ).to_have_attribute("href", f"{demo.sandbox_url}/thing:2001")
    sent = posts(demo)
    if flow == "new":
        assert "/files/0/FinalizeFiles" in sent and "/storage-upload" not in sent
    else:  # auto tried today's pair once, found it gone, and used the older flow
        assert sent.count("/files/0/uploadFile") == 1 and "/storage-upload" in sent
        assert "/files/0/FinalizeFiles" not in sent
    names = [f["name"] for f in as_user(demo, "GET", "/things/2001/files", 1001).json()]
    assert "calibration_cube_130pct.stl" in names


def test_a_remix_has_a_picture_and_tags_and_publishes_from_the_done_screen(flow_demo,
                                                                          page: Page):
    demo, flow = flow_demo
    frame = sign_in_with_popup(page, demo.sandbox_url, 2002, "remy_remix")
    frame.get_by_label("Remix name").fill(f"Clip, {flow} flow")
    expect(frame.get_by_label("Category")).to_have_value("Household")  # the parent's
    frame.get_by_role("button", name="Make the file and post a remix").click()
    expect(frame.get_by_role("heading", name="Remix created")).to_be_visible(timeout=30_000)
    link = frame.get_by_role("link", name=f"View Clip, {flow} flow on Thingiverse")
    remix_id = int(link.get_attribute("href").rsplit(":", 1)[1])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    frame.locator("html").screenshot(path=SCREENSHOTS / f"remix-done-{flow}.png")

    images = as_user(demo, "GET", f"/things/{remix_id}/images", 1002).json()
    assert [i["name"] for i in images] == ["cable_clip_150pct.png"]
    picture = PIL.Image.open(io.BytesIO(httpx2.get(images[0]["url"]).content))
    assert picture.format == "PNG" and picture.size[0] >= 640 and picture.size[1] >= 480
    assert len(picture.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 50
    remix = as_user(demo, "GET", f"/things/{remix_id}", 1002).json()
    parent = as_user(demo, "GET", "/things/2002", 1002).json()
    assert [t["name"] for t in remix["tags"]] == [t["name"] for t in parent["tags"]]
    assert remix["is_published"] == 0

    # Refused first (Thingiverse's reasons shown as they come), then published.
    httpx2.post(f"{demo.sandbox_url}/sandbox/faults", json={
        "route": "POST /things/{id}/publish", "status": 400, "times": 1,
        "body": {"errors": ["Add a description before publishing."]}}).raise_for_status()
    frame.get_by_role("button", name="Publish now").click()
    expect(frame.locator("#publish-errors li")).to_have_text(
        ["Add a description before publishing."])
    expect(frame.locator("#job-message")).to_have_text(
        "Thingiverse would not publish the remix yet.")
    frame.get_by_role("button", name="Publish now").click()
    expect(frame.get_by_role("heading", name="Remix published")).to_be_visible()
    expect(frame.get_by_role("button", name="Publish now")).to_be_hidden()
    assert as_user(demo, "GET", f"/things/{remix_id}", 1002).json()["is_published"] == 1


def test_a_copy_that_does_not_match_says_so_and_try_again_posts_it(flow_demo, page: Page):
    demo, _ = flow_demo
    httpx2.post(f"{demo.sandbox_url}/sandbox/corrupt-uploads", json={"count": 1}
               ).raise_for_status()
    frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")
    frame.get_by_label("Scale (%)").fill("140")
    frame.get_by_role("button", name="Make the file and post it to this Thing").click()
    expect(frame.get_by_role("heading", name="The file was not made")).to_be_visible(
        timeout=20_000)
    expect(frame.locator("#job-message")).to_have_text(
        "Thingiverse's copy of calibration_cube_140pct.stl differs from the file sent (its MD5 "
        "does not match). Please try again.")
    expect(frame.locator("#job-result")).to_be_hidden()
    frame.get_by_role("button", name="Try again").click()
    frame.get_by_role("button", name="Make the file and post it to this Thing").click()
    expect(frame.get_by_role("heading", name="Posted")).to_be_visible(timeout=20_000)
