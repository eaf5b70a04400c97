"""End to end in Chromium: an app offering two tools, the user choosing the second."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import trimesh
from live import Demo, sign_in_with_popup, start_demo
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def two_tool_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    running = start_demo(tmp_path_factory.mktemp("two-tools"),
                         "--tool", "thingapp.tools.scale:ScaleTool",
                         "--tool", "examples.mirror_tool:MirrorTool",
                         env={"PYTHONPATH": str(ROOT)})
    yield running
    running.stop()


def test_the_chosen_tools_fields_are_shown_and_sent(two_tool_demo, page):
    frame = sign_in_with_popup(page, two_tool_demo.sandbox_url, 2003, "remy_remix")
    expect(frame.get_by_role("heading", level=1)).to_have_text("Scale & convert · Mirror")
    scale, mirror = frame.locator("fieldset[data-tool=scale]"), frame.locator(
        "fieldset[data-tool=mirror]")
    expect(scale).to_be_visible()
    expect(mirror).to_be_hidden()
    frame.get_by_label("Mirror", exact=True).check()
    expect(scale).to_be_hidden()
    expect(mirror).to_be_visible()
    frame.get_by_label("Y axis").check()
    with page.expect_download() as download_info:
        frame.get_by_role("button", name="Make the file and download it").click()
    download = download_info.value
    assert download.suggested_filename == "desk_organizer_mirrored_y.stl"
    mesh = trimesh.load(io.BytesIO(Path(download.path()).read_bytes()), file_type="stl")
    assert mesh.bounds[1][1] <= 0  # the organizer sits at y >= 0: mirrored, it is at y <= 0
    expect(frame.locator("#job-message")).to_contain_text("Mirrored across the Y axis.")
