"""Making a file and posting it back, over HTTP, the app talking to the in-process sandbox."""

from __future__ import annotations

import io
import re
import struct
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import PIL.Image
import pytest
import trimesh
from world import (
    CC_ND,
    CC_SA,
    OTHER_CREATOR,
    OWNED_CC,
    OWNER,
    REMIXER,
    World,
    sandbox_with_flow,
)

CUBE_STL, CLIP_STL, CLIP_OBJ, NOTES_PDF, ORGANIZER_STL = 3001, 3002, 3003, 3004, 3005


def percent(value: object, output: str = "stl") -> dict:
    return {"mode": "percent", "value": value, "output": output}


def run_job(world: World, user: int, **body: object) -> dict:
    token = world.sign_in(user, body["thing_id"])
    r = world.start_job(token, tool="scale", **body)
    assert r.status_code == 202, r.text
    return world.wait_job(token, r.json()["job_id"])


def mesh_of(data: bytes, file_type: str) -> trimesh.Trimesh:
    return trimesh.load(io.BytesIO(data), file_type=file_type, force="mesh")


def files_of(world: World, thing_id: int) -> dict[str, dict]:
    r = world.api("GET", f"/things/{thing_id}/files", OWNER)
    assert r.status_code == 200, r.text
    return {f["name"]: f for f in r.json()}


def test_owner_posts_a_scaled_file_to_their_thing(world):
    job = run_job(world, OWNER, thing_id=OWNED_CC, file_id=CUBE_STL, action="post",
                  options=percent(150))
    assert job["status"] == "done", job
    assert job["result"]["url"] == "http://localhost:8800/thing:2001"
    assert job["message"] == ("Posted calibration_cube_150pct.stl to Calibration Cube. "
                              "Scaled to 150 %.")
    posted = files_of(world, OWNED_CC)["calibration_cube_150pct.stl"]
    data = world.sandbox.get(posted["direct_url"].removeprefix("http://localhost:8800")).content
    assert posted["size"] == len(data)
    assert mesh_of(data, "stl").extents == pytest.approx([30, 30, 30])


def test_remixer_posts_a_remix_that_names_its_parent_and_keeps_share_alike(world):
    job = run_job(world, REMIXER, thing_id=CC_SA, file_id=CLIP_OBJ, action="remix",
                  options={"mode": "target", "value": "24", "output": "stl"},
                  remix={"name": "Big clip", "license": "cc-sa", "category": "Household",
                         "publish": False})
    assert job["status"] == "done", job
    remix_id = job["result"]["thing_id"]
    remix = world.api("GET", f"/things/{remix_id}", REMIXER).json()
    assert remix["name"] == "Big clip"
    assert remix["license"] == "Creative Commons - Attribution - Share Alike"
    assert remix["is_remix"] is True and remix["is_derivative"] is True
    assert [a["id"] for a in remix["ancestors"]] == [CC_SA]
    assert remix["is_published"] == 0
    assert remix["is_wip"] == 1  # created as a work in progress, before its file was posted
    assert "Cable Clip" in remix["description"] and "olaf_original" in remix["description"]
    assert "thing:2002" in remix["description"]
    ancestors = world.api("GET", f"/things/{remix_id}/ancestors", REMIXER).json()
    assert [a["id"] for a in ancestors] == [CC_SA]
    files = files_of(world, remix_id)
    assert list(files) == ["cable_clip_24mm.stl"]


def test_remix_published_when_asked(world):
    job = run_job(world, REMIXER, thing_id=CC_SA, file_id=CLIP_STL, action="remix",
                  options=percent(200),
                  remix={"name": "Clip x2", "license": "cc-sa", "category": "Other",
                         "publish": True})
    assert job["status"] == "done" and job["result"]["published"] is True
    remix = world.api("GET", f"/things/{job['result']['thing_id']}", REMIXER).json()
    assert remix["is_published"] == 1


def test_remix_cannot_drop_share_alike(world):
    token = world.sign_in(REMIXER, CC_SA)
    r = world.start_job(token, thing_id=CC_SA, file_id=CLIP_STL, action="remix",
                        options=percent(120),
                        remix={"name": "Clip", "license": "cc", "category": "Other"})
    assert r.status_code == 400
    assert r.json()["error"] == "The remix must keep a licence the original allows: cc-sa."


def test_no_derivatives_download_has_the_size_and_attribution_and_is_private(world):
    token = world.sign_in(REMIXER, CC_ND)
    r = world.start_job(token, thing_id=CC_ND, file_id=ORGANIZER_STL, action="download",
                        tool="scale", options={"mode": "target", "value": "60", "output": "3mf"})
    job = world.wait_job(token, r.json()["job_id"])
    file = world.client.get(f"/api/jobs/{job['id']}/file",
                            headers={"Authorization": f"Bearer {token}"})
    assert file.status_code == 200
    assert 'filename="desk_organizer_60mm.3mf"' in file.headers["content-disposition"]
    assert max(mesh_of(file.content, "3mf").extents) == pytest.approx(60)
    model = zipfile.ZipFile(io.BytesIO(file.content)).read("3D/3dmodel.model").decode()
    assert '<metadata name="Title">Desk Organizer</metadata>' in model
    assert '<metadata name="Designer">olaf_original</metadata>' in model
    assert ('<metadata name="LicenseTerms">Creative Commons - Attribution - No Derivatives'
            '</metadata>') in model
    assert "http://localhost:8800/thing:2003" in model
    stranger = world.sign_in(OWNER, CC_ND)
    for path in (f"/api/jobs/{job['id']}", f"/api/jobs/{job['id']}/file"):
        r = world.client.get(path, headers={"Authorization": f"Bearer {stranger}"})
        assert r.status_code == 404
    assert world.client.get(f"/api/jobs/{job['id']}/file").status_code == 401


@pytest.mark.parametrize(("user", "thing", "action"), [
    (REMIXER, CC_SA, "post"), (REMIXER, CC_ND, "remix"), (REMIXER, CC_ND, "post"),
])
def test_actions_the_guidelines_do_not_offer_are_refused(world, user, thing, action):
    token = world.sign_in(user, thing)
    r = world.start_job(token, thing_id=thing, file_id=ORGANIZER_STL, action=action,
                        options=percent(100),
                        remix={"name": "x", "license": "cc-nd", "category": "Other"})
    assert r.status_code == 403
    assert "is not open to you on this Thing" in r.json()["error"]


@pytest.mark.parametrize(("options", "message"), [
    (percent(0), "The scale must be above 0 % and at most 10,000 %."),
    (percent(10001), "The scale must be above 0 % and at most 10,000 %."),
    (percent(-5), "The scale must be above 0 % and at most 10,000 %."),
    (percent("abc"), "The scale must be a number."),
    (percent("nan"), "The scale must be a number."),
    ({"mode": "target", "value": "0", "output": "stl"},
     "The target size must be above 0 mm and at most 10,000 mm."),
    (percent(100, output="step"), "Choose binary STL or 3MF as the output format."),
    ({"mode": "wobble"}, "Choose a scale in percent, a target size, or inches to millimetres."),
])
def test_bad_options_get_a_sentence(world, options, message):
    token = world.sign_in(OWNER)
    r = world.start_job(token, thing_id=OWNED_CC, file_id=CUBE_STL, action="post", tool="scale",
                        options=options)
    assert r.status_code == 400
    assert r.json()["error"] == message


@pytest.mark.parametrize("file_id", [NOTES_PDF, 999999])
def test_only_the_things_model_files_can_be_chosen(world, file_id):
    token = world.sign_in(REMIXER, CC_SA)
    r = world.start_job(token, thing_id=CC_SA, file_id=file_id, action="download",
                        options=percent(100))
    assert r.status_code == 400
    assert r.json()["error"] == "Choose one of this Thing's model files."


def test_context_lists_only_model_files_and_the_allowed_remix_licences(world):
    body = world.context(world.sign_in(REMIXER, CC_SA), CC_SA).json()
    assert [f["name"] for f in body["files"]] == ["cable_clip.stl", "cable_clip.obj"]
    assert [offered["code"] for offered in body["remix"]["licenses"]] == ["cc-sa"]
    assert body["remix"]["name"] == "Remix of Cable Clip"
    nd = world.context(world.sign_in(REMIXER, CC_ND), CC_ND).json()
    assert "remix" not in nd


@pytest.mark.parametrize(("data", "message"), [
    (b"this is not a mesh at all" * 10, "This file is not a STL model that can be read."),
    (b"\0" * 80 + struct.pack("<I", 0), "The model is empty: it has no triangles to work on."),
])
def test_a_file_that_is_not_a_usable_mesh_fails_with_a_sentence(world, data, message):
    file_id = world.put_file(OWNER, OWNED_CC, "broken.stl", data)
    job = run_job(world, OWNER, thing_id=OWNED_CC, file_id=file_id, action="post",
                  options=percent(120))
    assert job["status"] == "failed"
    assert job["message"] == message
    assert "broken_120pct.stl" not in files_of(world, OWNED_CC)


def test_a_file_over_the_size_limit_is_refused(tmp_path):
    w = World(tmp_path, max_file_mb=1)
    with w.client, w.sandbox:
        file_id = w.put_file(OWNER, OWNED_CC, "huge.stl", b"\0" * (1024 * 1024 + 1))
        token = w.sign_in(OWNER)
        r = w.start_job(token, thing_id=OWNED_CC, file_id=file_id, action="post",
                        options=percent(100))
        assert r.status_code == 400
        assert r.json()["error"] == "huge.stl is larger than the 1 MB this app accepts."


def test_a_thing_with_no_model_file_says_so(world):
    bare = world.api("POST", "/things/", OWNER, json={"name": "Notes only", "license": "cc",
                                                      "category": "Other"}).json()
    token = world.sign_in(OWNER, bare["id"])
    assert world.context(token, bare["id"]).json()["files"] == []
    r = world.start_job(token, thing_id=bare["id"], file_id=1, action="post", options=percent(100))
    assert r.status_code == 400
    assert r.json()["error"] == "This Thing has no STL, OBJ or 3MF file to work on."


# Faults after the remix exists: retried, then cleaned up -----------------------------------

def set_fault(world: World, **fault: object) -> None:
    r = world.sandbox.post("/sandbox/faults", json=fault)
    assert r.status_code in (200, 201), r.text


def storage_posts(world: World) -> int:
    return posts_to(world, "/storage-upload")


def posts_to(world: World, path: str) -> int:
    log = world.sandbox.get("/sandbox/requests").json()
    return sum(1 for e in log if e["method"] == "POST" and e["path"] == path)


# Each flow's way to the bytes: (the app's THINGAPP_UPLOAD_FLOW, the route that takes the file).
FLOWS = {"new": "/files/0/uploadFile", "legacy": "/storage-upload"}
FLOW_ROUTES = {"new": "POST /files/{id}/uploadFile", "legacy": "POST /storage-upload"}


@pytest.fixture(params=sorted(FLOWS))
def flow(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[World, str]]:
    w = World(tmp_path, upload_flow=request.param)
    with w.client, w.sandbox:
        yield w, request.param


def test_a_failed_upload_after_remix_creation_leaves_no_new_thing(flow):
    world, name = flow
    set_fault(world, route=FLOW_ROUTES[name], status=500)
    job = run_job(world, REMIXER, thing_id=CC_SA, file_id=CLIP_STL, action="remix",
                  options=percent(150),
                  remix={"name": "Doomed clip", "license": "cc-sa", "category": "Other"})
    assert job["status"] == "failed"
    assert job["message"] == {
        "new": "Thingiverse is having trouble right now. Please try again in a few minutes.",
        "legacy": "Thingiverse's file storage is busy, so the file was not posted. Please try "
                  "again."}[name] + " The half-made remix was removed, so nothing was posted."
    assert posts_to(world, FLOWS[name]) == 3  # tried, then tried again twice
    assert world.api("GET", "/things/9001", REMIXER).status_code == 404
    assert job["result"] is None or "url" not in job["result"]  # no link to a deleted Thing


def test_a_transient_storage_failure_is_retried_and_succeeds(flow):
    world, name = flow
    set_fault(world, route=FLOW_ROUTES[name], status=503, times=1)
    job = run_job(world, OWNER, thing_id=OWNED_CC, file_id=CUBE_STL, action="post",
                  options=percent(50))
    assert job["status"] == "done", job
    assert "calibration_cube_50pct.stl" in files_of(world, OWNED_CC)
    assert posts_to(world, FLOWS[name]) == 2


def test_storage_refusing_outright_is_not_retried(flow):
    world, name = flow
    set_fault(world, route=FLOW_ROUTES[name], status=403)
    job = run_job(world, OWNER, thing_id=OWNED_CC, file_id=CUBE_STL, action="post",
                  options=percent(50))
    assert job["status"] == "failed"
    assert job["message"] == {
        "legacy": "Thingiverse's file storage is busy, so the file was not posted. Please try "
                  "again.",
        "new": "Thingiverse did not accept the request. Please try again, or check the Thing "
               "on Thingiverse."}[name]
    assert "403" not in job["message"]
    assert posts_to(world, FLOWS[name]) == 1


def test_a_slow_upload_reports_its_progress_in_bytes(flow):
    world, name = flow
    token = world.sign_in(OWNER)
    set_fault(world, route=FLOW_ROUTES[name], bytes_per_second=4000)
    set_fault(world, route="GET /storage/{file_id}/{name}", latency_ms=300)
    set_fault(world, route={"new": "POST /files/{id}/FinalizeFiles",
                            "legacy": "POST /files/{id}/finalize"}[name], latency_ms=300)
    r = world.start_job(token, thing_id=OWNED_CC, file_id=CUBE_STL, action="post",
                        options=percent(100))
    seen: list[tuple[str, str, int | None]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = world.client.get(f"/api/jobs/{r.json()['job_id']}",
                               headers={"Authorization": f"Bearer {token}"}).json()
        seen.append((job["step"], job["message"], job["percent"]))
        if job["status"] != "running":
            break
        time.sleep(0.05)
    assert job["status"] == "done"
    steps = [step for step, _, _ in seen]
    assert {"download", "upload", "finalize"} <= set(steps)
    assert ("finalize", "Finishing on Thingiverse…", None) in seen
    uploading = [(m, p) for step, m, p in seen if step == "upload"]
    assert all(re.fullmatch(r"Uploading calibration_cube_100pct\.stl \(\d+ B of 684 B\)…", m)
               for m, _ in uploading), uploading
    latest = world.client.get(f"/api/jobs?thing_id={OWNED_CC}",
                              headers={"Authorization": f"Bearer {token}"}).json()
    assert latest["job"]["id"] == r.json()["job_id"]


def test_auto_falls_back_to_the_older_flow_and_remembers_it(tmp_path):
    world = World(tmp_path, sandbox_app=sandbox_with_flow("legacy"))  # the app: auto
    with world.client, world.sandbox:
        for scale in (50, 60):
            job = run_job(world, OWNER, thing_id=OWNED_CC, file_id=CUBE_STL, action="post",
                          options=percent(scale))
            assert job["status"] == "done", job
        assert posts_to(world, "/files/0/uploadFile") == 1  # tried once, then remembered
        assert storage_posts(world) == 2
        assert {"calibration_cube_50pct.stl", "calibration_cube_60pct.stl"} <= set(
            files_of(world, OWNED_CC))


def test_new_only_uses_todays_pair_and_never_the_deprecated_finalize(tmp_path):
    world = World(tmp_path, sandbox_app=sandbox_with_flow("new"))
    with world.client, world.sandbox:
        job = run_job(world, REMIXER, thing_id=CC_SA, file_id=CLIP_STL, action="remix",
                      options=percent(150),
                      remix={"name": "New-flow clip", "license": "cc-sa", "category": "Other"})
        assert job["status"] == "done", job
        assert posts_to(world, "/files/0/FinalizeFiles") == 1
        assert storage_posts(world) == 0
        assert "cable_clip_150pct.stl" in files_of(world, job["result"]["thing_id"])


def test_a_copy_that_does_not_match_is_a_sentence_and_the_retry_succeeds(flow):
    world, name = flow
    assert world.sandbox.post("/sandbox/corrupt-uploads", json={"count": 1}).status_code == 200
    job = run_job(world, OWNER, thing_id=OWNED_CC, file_id=CUBE_STL, action="post",
                  options=percent(70))
    assert job["status"] == "failed"
    assert job["message"] == ("Thingiverse's copy of calibration_cube_70pct.stl differs from "
                              "the file sent (its MD5 does not match). Please try again.")
    again = run_job(world, OWNER, thing_id=OWNED_CC, file_id=CUBE_STL, action="post",
                    options=percent(70))
    assert again["status"] == "done", again


@pytest.mark.parametrize(("fault", "errors"), [
    ({"status": 400, "body": {"errors": ["Add at least one image.", "Pick a category."]}},
     ["Add at least one image.", "Pick a category."]),
    ({"status": 502}, ["Thingiverse is having trouble right now. Please try again in a few "
                       "minutes."]),
])
def test_a_publish_refusal_shows_its_reasons_and_keeps_the_remix(world, fault, errors):
    set_fault(world, route="POST /things/{id}/publish", **fault)
    job = run_job(world, REMIXER, thing_id=CC_SA, file_id=CLIP_STL, action="remix",
                  options=percent(150),
                  remix={"name": "Clip", "license": "cc-sa", "category": "Other", "publish": True})
    assert job["status"] == "done"
    assert job["result"]["published"] is False
    assert job["result"]["publish_errors"] == errors
    assert "Thingiverse would not publish it yet" in job["message"]
    remix = world.api("GET", f"/things/{job['result']['thing_id']}", REMIXER).json()
    assert remix["is_published"] == 0
    assert list(files_of(world, remix["id"])) == ["cable_clip_150pct.stl"]


def sandbox_gets(world: World, path: str) -> int:
    return sum(1 for e in world.sandbox.get("/sandbox/requests").json()
               if e["method"] == "GET" and e["path"] == path)


def test_repeat_launches_read_the_thing_from_the_cache_and_a_post_refreshes_its_files(world):
    token = world.sign_in(OWNER)
    first = world.context(token, OWNED_CC).json()
    world.context(token, OWNED_CC)
    assert sandbox_gets(world, "/things/2001") == 1
    assert sandbox_gets(world, "/things/2001/files") == 1
    started = world.start_job(token, thing_id=OWNED_CC, file_id=CUBE_STL, action="post",
                              options=percent(75))
    job = world.wait_job(token, started.json()["job_id"])
    assert job["status"] == "done"
    after = world.context(token, OWNED_CC).json()
    assert [f["name"] for f in after["files"]] == [f["name"] for f in first["files"]] + [
        "calibration_cube_75pct.stl"]
    # Read once for the page and once, fresh, to decide the post; the page after from the cache.
    assert sandbox_gets(world, "/things/2001") == 2


def test_the_cache_is_per_user(world):
    world.context(world.sign_in(OWNER), CC_SA)
    world.context(world.sign_in(REMIXER, CC_SA), CC_SA)
    assert sandbox_gets(world, "/things/2002") == 2


def test_after_sign_in_the_actions_need_only_the_thing_and_its_files(world):
    token = world.sign_in(OWNER)  # tokeninfo and users/me, side by side
    before = sandbox_gets(world, "/users/me")
    world.context(token, OWNED_CC)
    assert sandbox_gets(world, "/users/me") == before == 1
    assert sandbox_gets(world, "/things/2001") == 1


@pytest.fixture
def app_token_world(tmp_path):
    """The app with an operator's read-only token minted by its own sandbox."""
    probe = World(tmp_path / "probe")
    with probe.sandbox:
        app_token = probe.mint_token(OTHER_CREATOR)
    w = World(tmp_path, sandbox_app=probe.sandbox_app, app_token=app_token)
    with w.client, w.sandbox:
        yield w


def test_an_app_token_prefetches_the_thing_at_launch(app_token_world):
    w = app_token_world
    assert w.client.get("/?thing_id=2002").status_code == 200
    deadline = time.monotonic() + 5
    while sandbox_gets(w, "/things/2002/files") == 0:
        assert time.monotonic() < deadline, "no prefetch happened"
        time.sleep(0.02)
    token = w.sign_in(REMIXER, CC_SA)
    body = w.context(token, CC_SA).json()
    assert body["reason"] == "The licence allows derivatives."
    assert sandbox_gets(w, "/things/2002") == 1  # the prefetch's read served the user
    assert sandbox_gets(w, "/things/2002/files") == 1


def test_a_prefetch_that_found_nothing_is_not_tried_again(app_token_world):
    w = app_token_world
    for _ in range(3):
        assert w.client.get("/?thing_id=987654").status_code == 200
    time.sleep(0.3)
    assert sandbox_gets(w, "/things/987654") == 1


def test_a_remix_gets_a_picture_of_the_model_and_its_parents_tags(flow):
    world, name = flow
    job = run_job(world, REMIXER, thing_id=CC_SA, file_id=CLIP_STL, action="remix",
                  options=percent(150),
                  remix={"name": "Pictured clip", "license": "cc-sa", "category": "Other"})
    assert job["status"] == "done", job
    remix_id = job["result"]["thing_id"]
    images = world.api("GET", f"/things/{remix_id}/images", REMIXER).json()
    assert [i["name"] for i in images] == ["cable_clip_150pct.png"]
    png = world.sandbox.get(images[0]["url"].removeprefix("http://localhost:8800")).content
    picture = PIL.Image.open(io.BytesIO(png))
    assert picture.format == "PNG" and picture.size[0] >= 640 and picture.size[1] >= 480
    colours = picture.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # shaded, not one flat colour
    blue = sum(n for n, (r, g, b) in colours if b > r + 40)
    assert blue > 0.05 * picture.size[0] * picture.size[1]  # the model fills part of the frame
    parent = world.api("GET", f"/things/{CC_SA}", REMIXER).json()
    remix = world.api("GET", f"/things/{remix_id}", REMIXER).json()
    assert [t["name"] for t in remix["tags"]] == [t["name"] for t in parent["tags"]]
    assert parent["tags"]  # the seeded parent has some to copy
    assert list(files_of(world, remix_id)) == ["cable_clip_150pct.stl"]  # the picture is no file


def test_the_upload_percentage_climbs_through_a_slow_upload(flow):
    """A 16 MB file at 2 MB/s: the page sees the percentage rise step by step, not jump to 100
    when the upload starts (loopback buffers hold a few MB; the rest waits for the reader)."""
    world, name = flow
    big = trimesh.creation.icosphere(subdivisions=7, radius=10)
    data = big.export(file_type="stl")
    file_id = world.put_file(OWNER, OWNED_CC, "sphere.stl", data)  # before any read is cached
    token = world.sign_in(OWNER)
    set_fault(world, route=FLOW_ROUTES[name], bytes_per_second=2_000_000)
    r = world.start_job(token, thing_id=OWNED_CC, file_id=file_id, action="post",
                        options={"mode": "percent", "value": "100", "output": "stl"})
    assert r.status_code == 202, r.text
    percents: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = world.client.get(f"/api/jobs/{r.json()['job_id']}",
                               headers={"Authorization": f"Bearer {token}"}).json()
        if job["step"] == "upload" and job["percent"] is not None:
            percents.append(job["percent"])
        if job["status"] != "running":
            break
        time.sleep(0.1)
    assert job["status"] == "done", job
    climbing = sorted(set(percents))
    assert percents == sorted(percents)  # never backwards
    assert len([p for p in climbing if 0 < p < 100]) >= 5, climbing


def test_the_remix_form_offers_the_parents_category_by_default(world):
    token = world.sign_in(REMIXER, CC_SA)
    offer = world.context(token, CC_SA).json()["remix"]
    assert offer["category"] == "Household"  # the Cable Clip's
    assert offer["category"] in offer["categories"]
    job = run_job(world, REMIXER, thing_id=CC_SA, file_id=CLIP_STL, action="remix",
                  options=percent(120), remix={"name": "Clip", "license": "cc-sa",
                                               "category": offer["category"]})
    categories = world.api("GET", f"/things/{job['result']['thing_id']}/categories",
                           REMIXER).json()
    assert [c["name"] for c in categories] == ["Household"]


def test_the_form_still_opens_when_the_categories_cannot_be_read(world):
    set_fault(world, route="GET /things/{id}/categories", status=500)
    token = world.sign_in(REMIXER, CC_SA)
    r = world.context(token, CC_SA)
    assert r.status_code == 200 and r.json()["remix"]["category"] == "Other"


def test_a_file_list_read_at_sign_in_is_not_kept_once_a_post_changed_it(world):
    """The sign-in's reads are cached together when the slowest is done: a file list read then,
    and changed by a post before that, must not come back (in this process or from the cache)."""
    set_fault(world, route="GET /things/{id}/categories", latency_ms=4000)
    token = world.sign_in(OWNER, OWNED_CC)  # its reads, categories among them, still under way
    r = world.start_job(token, thing_id=OWNED_CC, file_id=CUBE_STL, action="post", tool="scale",
                        options=percent(80))
    job = world.wait_job(token, r.json()["job_id"])
    assert job["status"] == "done", job
    files = [f["name"] for f in world.context(token, OWNED_CC).json()["files"]]
    assert "calibration_cube_80pct.stl" in files, files
    time.sleep(0.5)  # the sign-in's reads are all done and kept by now
    files = [f["name"] for f in world.context(token, OWNED_CC).json()["files"]]
    assert "calibration_cube_80pct.stl" in files, files
