"""End to end in Chromium: each persona makes a file and the sandbox then holds what it posted."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import trimesh
from live import Demo, app_frame, sign_in_with_popup
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-output" / "screenshots"


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    app_frame(page).locator("html").screenshot(path=SCREENSHOTS / name)


def sandbox_api(demo: Demo, method: str, path: str, user_id: int,
                **kwargs: object) -> httpx2.Response:
    token = httpx2.post(f"{demo.sandbox_url}/sandbox/tokens",
                       json={"user_id": user_id, "client_id": "thingapp-demo"}
                       ).json()["access_token"]
    return httpx2.request(method, f"{demo.sandbox_url}{path}",
                         headers={"Authorization": f"Bearer {token}"}, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def faults(demo: Demo) -> Iterator[None]:
    yield
    httpx2.delete(f"{demo.sandbox_url}/sandbox/faults").raise_for_status()


def test_owner_posts_a_scaled_file_and_the_thing_lists_it(demo, page):
    frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")
    frame.get_by_label("Scale (%)").fill("125")
    frame.get_by_role("button", name="Make the file and post it to this Thing").click()
    expect(frame.locator("#job-message")).to_have_text(
        "Posted calibration_cube_125pct.stl to Calibration Cube. Scaled to 125 %.", timeout=20_000)
    expect(frame.locator("#job-link")).to_have_attribute("href", f"{demo.sandbox_url}/thing:2001")
    names = [f["name"] for f in sandbox_api(demo, "GET", "/things/2001/files", 1001).json()]
    assert "calibration_cube_125pct.stl" in names
    page.goto(f"{demo.sandbox_url}/thing:2001")
    expect(page.get_by_text("calibration_cube_125pct.stl")).to_be_visible()


def test_remixer_posts_a_remix_with_its_parent_as_ancestor(demo, page):
    frame = sign_in_with_popup(page, demo.sandbox_url, 2002, "remy_remix")
    expect(frame.locator("#remix-license option")).to_have_text(
        ["Creative Commons - Attribution - Share Alike"])
    screenshot(page, "remix-form.png")
    frame.get_by_label("Remix name").fill("Cable clip, twice the size")
    frame.get_by_label("Scale (%)").fill("200")
    frame.get_by_role("button", name="Make the file and post a remix").click()
    expect(frame.locator("#job-message")).to_contain_text(
        "Created the remix Cable clip, twice the size with cable_clip_200pct.stl", timeout=20_000)
    screenshot(page, "remix-done.png")
    href = frame.locator("#job-link").get_attribute("href")
    remix_id = int(href.rsplit(":", 1)[1])
    remix = sandbox_api(demo, "GET", f"/things/{remix_id}", 1002).json()
    assert remix["is_remix"] is True
    assert [a["id"] for a in remix["ancestors"]] == [2002]
    assert remix["license"] == "Creative Commons - Attribution - Share Alike"
    assert remix["creator"]["name"] == "remy_remix"


def test_no_derivatives_user_downloads_a_mesh_of_the_requested_size(demo, page):
    frame = sign_in_with_popup(page, demo.sandbox_url, 2003, "remy_remix")
    frame.get_by_label("Largest side in mm").check()
    frame.get_by_label("Largest side (mm)").fill("60")
    with page.expect_download() as download_info:
        frame.get_by_role("button", name="Make the file and download it").click()
    download = download_info.value
    assert download.suggested_filename == "desk_organizer_60mm.stl"
    mesh = trimesh.load(io.BytesIO(Path(download.path()).read_bytes()), file_type="stl")
    assert max(mesh.extents) == pytest.approx(60)
    expect(frame.locator("#job-message")).to_contain_text("desk_organizer_60mm.stl is ready.")


def test_progress_shows_during_a_slow_upload_and_survives_a_reload(demo, page: Page, faults):
    httpx2.post(f"{demo.sandbox_url}/sandbox/faults", json={
        "route": "POST /files/{id}/uploadFile", "bytes_per_second": 100}).raise_for_status()
    frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")  # 684 B: 7 s
    frame.get_by_label("Scale (%)").fill("90")
    frame.get_by_role("button", name="Make the file and post it to this Thing").click()
    message = frame.locator("#job-message")
    expect(message).to_have_text(
        re.compile(r"Uploading calibration_cube_90pct\.stl \(\d+ B of 684 B\)…"), timeout=10_000)
    expect(frame.locator("#job-progress")).to_be_visible()
    screenshot(page, "progress.png")
    page.reload()  # the frame keeps its session (its cookie) and finds the running job
    expect(frame.locator("#user-name")).to_have_text("mara_makes")
    expect(frame.locator("#job-message")).to_contain_text("Uploading", timeout=10_000)
    expect(frame.locator("#job-message")).to_have_text(
        "Posted calibration_cube_90pct.stl to Calibration Cube. Scaled to 90 %.", timeout=30_000)
