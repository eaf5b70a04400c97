"""End to end in Chromium: the chosen model's size and health, the result's size as the user
types, and the 3D preview drawn in the frame."""

from __future__ import annotations

import io
import re

import PIL.Image
import pytest
import trimesh
from live import sign_in_with_popup
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_the_model_is_measured_previewed_and_the_result_follows_the_scale(demo, page):
    frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")
    expect(frame.locator("#model-size")).to_have_text(
        "Size 20 x 20 x 20 mm · 12 triangles · watertight", timeout=15_000)
    result = frame.locator("#scale-result")
    expect(result).to_have_text("The result: 30 x 30 x 30 mm")  # the default 150 %
    frame.get_by_label("Scale (%)").fill("50")
    expect(result).to_have_text("The result: 10 x 10 x 10 mm")
    frame.get_by_label("Largest side in mm").check()
    frame.get_by_label("Largest side (mm)").fill("64")
    expect(result).to_have_text("The result: 64 x 64 x 64 mm")
    frame.get_by_label("Inches to mm").check()
    expect(result).to_have_text("The result: 508 x 508 x 508 mm")

    canvas = frame.locator("#preview-canvas")
    expect(canvas).to_have_attribute("aria-label", "3D preview of calibration_cube.stl (684 B), "
                                     "20 x 20 x 20 mm on a 250 x 210 x 220 mm bed. Drag, or use "
                                     "the arrow keys, to turn it; scroll, or + and -, to zoom.")
    box = canvas.bounding_box()
    assert box and box["width"] >= 150 and box["height"] >= 150
    page.wait_for_timeout(500)  # the model is drawn once three.js has loaded
    before = PIL.Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
    colours = before.getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 20, "the preview is one flat colour: nothing was drawn"
    canvas.focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("-")
    turned = PIL.Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
    assert turned.tobytes() != before.tobytes(), "the keyboard did not turn it"

    # The result (inches to mm: 508 mm, larger than the bed) against the bed, and back.
    frame.get_by_role("button", name="Show the result").click()
    expect(frame.get_by_role("button", name="Show the result")).to_have_attribute(
        "aria-pressed", "true")
    expect(canvas).to_have_attribute("aria-label", re.compile(
        r"^3D preview of the result, 508 x 508 x 508 mm on a 250 x 210 x 220 mm bed\."))
    page.wait_for_timeout(300)
    result = PIL.Image.open(io.BytesIO(canvas.screenshot())).convert("RGB")
    assert result.tobytes() != turned.tobytes(), "the result looks like the model as it is"


def test_fit_to_bed_makes_a_model_that_fits_the_bed(demo, page):
    frame = sign_in_with_popup(page, demo.sandbox_url, 2003, "remy_remix")
    expect(frame.locator("#model-size")).to_contain_text("Size 120 x 80 x 60 mm", timeout=15_000)
    frame.get_by_label("Printer bed").select_option(label="Prusa MK4 (250 x 210 x 220 mm)")
    frame.get_by_label("Inches to mm").check()
    expect(frame.locator("#bed-warning")).to_have_text(
        "The result (3048 x 2032 x 1524 mm) is larger than the bed (250 x 210 x 220 mm) and "
        "will not fit: Fit to bed scales it down to fit.")
    frame.get_by_role("button", name="Fit to bed").click()
    expect(frame.get_by_label("Scale (%)")).to_have_value("208.33")
    expect(frame.locator("#bed-warning")).to_have_text("")
    with page.expect_download() as download_info:
        frame.get_by_role("button", name="Make the file and download it").click()
    mesh = trimesh.load(download_info.value.path(), file_type="stl")
    assert all(v <= bed + 1e-6 for v, bed in zip(mesh.extents, (250, 210, 220), strict=True))
    assert max(mesh.extents) == pytest.approx(120 * 2.0833, rel=1e-3)


def test_a_refused_option_marks_its_field_and_takes_focus(demo, page):
    frame = sign_in_with_popup(page, demo.sandbox_url, 2001, "mara_makes")
    value = frame.get_by_label("Scale (%)")
    value.fill("0")
    frame.get_by_role("button", name="Make the file and post it to this Thing").click()
    expect(frame.locator("#form-error")).to_have_text(
        "The scale must be above 0 % and at most 10,000 %.")
    expect(value).to_have_attribute("aria-invalid", "true")
    expect(value).to_have_attribute("aria-describedby", "form-error")
    expect(value).to_be_focused()
