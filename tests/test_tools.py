"""Tools as a developer adds them: the README's example beside the built-in one, over HTTP."""

from __future__ import annotations

import io
import os
import re
import sys
from pathlib import Path

import pytest
import trimesh
from world import CC_ND, REMIXER, World

from examples.mirror_tool import MirrorTool
from thingapp.tools import ProducedFile, SourceFile, ToolInputError
from thingapp.tools.scale import ScaleTool

ROOT = Path(__file__).resolve().parent.parent
ORGANIZER_STL = 3005


@pytest.fixture
def two_tools(tmp_path: Path):
    w = World(tmp_path, tools=[ScaleTool(), MirrorTool()])
    with w.client, w.sandbox:
        yield w


def test_the_readme_shows_the_example_tool_as_it_is_in_examples():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / "examples" / "mirror_tool" / "__init__.py").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert any(block.strip() in example and "class MirrorTool" in block for block in blocks)


def test_the_launch_page_offers_each_tool_with_its_own_fields(two_tools):
    page = two_tools.client.get("/?thing_id=2003").text
    assert "<title>Scale &amp; convert · Mirror · Thing app</title>" in page
    assert re.search(r'<input type="radio" name="tool" value="scale" checked>', page)
    assert re.search(r'<input type="radio" name="tool" value="mirror">', page)
    assert '<fieldset data-tool="scale">' in page  # the default tool's fields, shown
    assert '<fieldset data-tool="mirror" hidden disabled>' in page  # the other's, until chosen
    assert 'name="axis" value="x"' in page  # the example's form.html, included
    assert '<script type="module" src="/tools/scale/form.js">' in page
    assert "/tools/mirror/form.js" not in page  # it has no script


def test_a_tools_script_is_served_from_its_folder_and_nothing_else_is(two_tools):
    r = two_tools.client.get("/tools/scale/form.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.text == (ScaleTool.folder / "form.js").read_text()
    for path in ("/tools/mirror/form.js", "/tools/nope/form.js", "/tools/scale/__init__.py",
                 "/tools/scale/form.html", "/tools/scale/%2e%2e/form.js"):
        assert two_tools.client.get(path).status_code == 404, path


def test_the_context_lists_the_tools_and_the_chosen_tool_makes_the_file(two_tools):
    token = two_tools.sign_in(REMIXER, CC_ND)
    context = two_tools.context(token, CC_ND).json()
    assert context["tools"] == [
        {"id": "scale", "label": "Scale & convert", "extensions": [".stl", ".obj", ".3mf"]},
        {"id": "mirror", "label": "Mirror", "extensions": [".stl", ".obj"]}]
    r = two_tools.start_job(token, thing_id=CC_ND, file_id=ORGANIZER_STL, action="download",
                            tool="mirror", options={"axis": "x"})
    assert r.status_code == 202, r.text
    job = two_tools.wait_job(token, r.json()["job_id"])
    assert job["status"] == "done", job
    file = two_tools.client.get(f"/api/jobs/{job['id']}/file",
                                headers={"Authorization": f"Bearer {token}"})
    assert 'filename="desk_organizer_mirrored_x.stl"' in file.headers["content-disposition"]
    source = two_tools.api("GET", f"/files/{ORGANIZER_STL}", REMIXER).json()
    original = trimesh.load(io.BytesIO(two_tools.sandbox.get(
        source["direct_url"].removeprefix("http://localhost:8800")).content), file_type="stl")
    mirrored = trimesh.load(io.BytesIO(file.content), file_type="stl")
    assert mirrored.bounds[0][0] == pytest.approx(-original.bounds[1][0])
    assert mirrored.volume == pytest.approx(original.volume)  # faces still point outward


def test_a_tool_refuses_its_own_bad_options_and_an_unknown_tool_is_named(two_tools):
    token = two_tools.sign_in(REMIXER, CC_ND)
    body = dict(thing_id=CC_ND, file_id=ORGANIZER_STL, action="download")
    r = two_tools.start_job(token, **body, tool="mirror", options={"axis": "w"})
    assert (r.status_code, r.json()["error"]) == (400, "Choose an axis to mirror across.")
    r = two_tools.start_job(token, **body, tool="rotate", options={})
    assert (r.status_code, r.json()["error"]) == (400, "There is no tool called 'rotate'.")


def test_a_tool_id_that_cannot_be_a_url_part_is_refused_at_start(tmp_path):
    class Odd(MirrorTool):
        id = "../mirror"
    with pytest.raises(ValueError, match="tool id '../mirror'"):
        World(tmp_path, tools=[Odd()])


class SchedulingReport(MirrorTool):
    """Says, as a refusal, how the worker process it runs in is scheduled."""
    id, label = "report", "Report"

    def run(self, source: SourceFile, axis: str, workdir: Path) -> list[ProducedFile]:
        raise ToolInputError(f"policy {os.sched_getscheduler(0)}, niceness {os.nice(0)}")


@pytest.mark.skipif(sys.platform != "linux", reason="SCHED_IDLE is Linux's")
def test_a_tool_runs_only_on_a_core_the_web_process_does_not_want(tmp_path):
    w = World(tmp_path, tools=[SchedulingReport()])
    with w.client, w.sandbox:
        token = w.sign_in(REMIXER, CC_ND)
        r = w.start_job(token, thing_id=CC_ND, file_id=ORGANIZER_STL, action="download",
                        tool="report", options={"axis": "x"})
        job = w.wait_job(token, r.json()["job_id"])
    assert job["message"] == f"policy {os.SCHED_IDLE}, niceness 19", job
