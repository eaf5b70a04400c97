"""Hostile model files, over HTTP: each ends its job with a sentence, in a worker process under
memory and time limits, while the web process stays small and keeps answering."""

from __future__ import annotations

import io
import random
import resource
import struct
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh
from world import CC_ND, REMIXER, World

MODEL = "3D/3dmodel.model"
BUDGET = 1000  # triangles, for these tests


def three_mf(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in members.items():
            package.writestr(name, data)
    return out.getvalue()


def zip_bomb() -> bytes:
    """A 3MF whose model unpacks to 50 MB from about 50 KB."""
    return three_mf({MODEL: b" " * (50 * 1024 * 1024)})


def unpacks_past_the_budget() -> bytes:
    """12 MB of model that packs only 20:1 (no bomb), past 10 x a 1 MB file limit."""
    rng = random.Random(1)
    words = [rng.randbytes(20) for _ in range(16)]
    return three_mf({MODEL: b"".join(rng.choice(words) for _ in range(600_000))})


def too_many_members() -> bytes:
    return three_mf({f"Metadata/{n}.txt": b"x" for n in range(1001)})


def deeply_nested() -> bytes:
    depth = 100_000
    return three_mf({MODEL: b"<model>" + b"<a>" * depth + b"</a>" * depth + b"</model>"})


def binary_stl(triangles: int) -> bytes:
    mesh = trimesh.creation.icosphere(subdivisions=0)
    records = np.zeros(triangles, dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    records["v"] = np.resize(mesh.triangles.astype(np.float32) * 10, (triangles, 3, 3))
    return b"\0" * 80 + struct.pack("<I", triangles) + records.tobytes()


def ascii_stl(triangles: int) -> bytes:
    facet = (b"facet normal 0 0 1\n outer loop\n  vertex 0 0 0\n  vertex 1 0 0\n"
             b"  vertex 0 1 0\n endloop\nendfacet\n")
    return b"solid big\n" + facet * triangles + b"endsolid big\n"


def grid_obj(side: int) -> bytes:
    """A wavy grid of 2 (side - 1)^2 triangles."""
    xs, ys = np.meshgrid(np.arange(side, dtype=float), np.arange(side, dtype=float))
    vertices = np.column_stack([xs.ravel(), ys.ravel(), np.sin(xs.ravel() / 7)])
    index = np.arange(side * side).reshape(side, side) + 1
    a, b = index[:-1, :-1].ravel(), index[:-1, 1:].ravel()
    c, d = index[1:, :-1].ravel(), index[1:, 1:].ravel()
    faces = np.concatenate([np.column_stack([a, b, c]), np.column_stack([b, d, c])])
    out = io.StringIO()
    np.savetxt(out, vertices, fmt="v %.3f %.3f %.3f")
    np.savetxt(out, faces, fmt="f %d %d %d")
    return out.getvalue().encode()


CASES = {
    "zip bomb 3MF": ("bomb.3mf", zip_bomb,
                     "This 3MF file is packed far more tightly than a model can be (a zip "
                     "bomb?), so it was not opened."),
    "3MF unpacking past the budget": ("big.3mf", unpacks_past_the_budget,
                                      "This 3MF file unpacks to 11 MB; this app opens 3MF files "
                                      "of up to 10 MB unpacked."),
    "3MF of too many files": ("many.3mf", too_many_members,
                              "This 3MF file holds 1,001 files; this app opens 3MF files of up "
                              "to 1,000."),
    "3MF with deeply nested XML": ("deep.3mf", deeply_nested,
                                   "This file is not a 3MF model that can be read."),
    "ASCII STL past the triangle budget": ("big.stl", lambda: ascii_stl(BUDGET + 1),
                                           "This model has 1,001 triangles or more; this app "
                                           "works on models of up to 1,000."),
    "binary STL past the triangle budget": ("big.stl", lambda: binary_stl(BUDGET + 1),
                                            "This model has 1,001 triangles or more; this app "
                                            "works on models of up to 1,000."),
    "STL header claiming billions of triangles": (
        "liar.stl", lambda: b"\0" * 80 + struct.pack("<I", 4_000_000_000) + b"\0" * 50,
        "This file is not a STL model that can be read."),
    "OBJ naming vertices it does not have": (
        "huge.obj", lambda: b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 1 2 999999999\n",
        "This OBJ model refers to vertices it does not have, so it can't be read."),
    "OBJ past the triangle budget": ("big.obj", lambda: grid_obj(24),
                                     "This model has 1,001 triangles or more; this app works on "
                                     "models of up to 1,000."),
}


@pytest.fixture
def limited(tmp_path: Path):
    w = World(tmp_path, max_file_mb=1, max_triangles=BUDGET)
    with w.client, w.sandbox:
        yield w


def run_download(w: World, name: str, data: bytes, timeout: float = 60) -> dict:
    file_id = w.put_file(1003, CC_ND, name, data)  # olaf_original owns the ND Thing
    token = w.sign_in(REMIXER, CC_ND)
    r = w.start_job(token, thing_id=CC_ND, file_id=file_id, action="download", tool="scale",
                    options={"mode": "percent", "value": "150", "output": "stl"})
    assert r.status_code == 202, r.text
    return w.wait_job(token, r.json()["job_id"], timeout=timeout)


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_hostile_file_ends_in_its_sentence_outside_the_web_process(limited, case):
    name, make, sentence = CASES[case]
    data = make()
    assert len(data) < 1024 * 1024  # small on disk, as such files are
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    job = run_download(limited, name, data)
    assert (job["status"], job["message"]) == ("failed", sentence)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mb < 50, f"the web process grew by {grown_mb:.0f} MB"


def test_a_job_past_the_time_limit_is_stopped_and_the_app_keeps_answering(tmp_path):
    w = World(tmp_path, job_seconds=1.0)
    with w.client, w.sandbox:
        # The Thing's file list is read once and cached for a minute: both files first.
        file_id = w.put_file(1003, CC_ND, "slow.obj", grid_obj(400))  # 318k triangles: > 1 s
        small = w.put_file(1003, CC_ND, "small.stl", binary_stl(20))
        token = w.sign_in(REMIXER, CC_ND)
        started = time.monotonic()
        r = w.start_job(token, thing_id=CC_ND, file_id=file_id, action="download",
                        tool="scale", options={"mode": "percent", "value": "150",
                                               "output": "3mf"})
        job_id = r.json()["job_id"]
        answered = []
        while (view := w.client.get(f"/api/jobs/{job_id}", headers={
                "Authorization": f"Bearer {token}"}).json())["status"] == "running":
            asked = time.monotonic()
            assert w.client.get("/healthz").status_code == 200
            answered.append(time.monotonic() - asked)
            time.sleep(0.05)
        assert view["status"] == "failed"
        assert view["message"] == ("This model took longer than 1 seconds to process, so it was "
                                   "stopped. Try a smaller model.")
        assert time.monotonic() - started < 10
        assert answered and max(answered) < 0.5  # the web process was never busy with it
        # The next job gets a new worker.
        r = w.start_job(token, thing_id=CC_ND, file_id=small, action="download", tool="scale",
                        options={"mode": "percent", "value": "150", "output": "stl"})
        assert w.wait_job(token, r.json()["job_id"])["status"] == "done"


def test_a_job_past_the_memory_limit_ends_in_a_sentence(tmp_path):
    w = World(tmp_path, job_memory_mb=512, max_file_mb=100)
    with w.client, w.sandbox:
        job = run_download(w, "heavy.obj", grid_obj(900), timeout=120)  # 1.6M triangles
    assert (job["status"], job["message"]) == (
        "failed", "This model is too large to process here: it needs more than 512 MB.")


@pytest.mark.parametrize(("options", "sentence"), [
    ({"mode": "percent", "value": "0.04"},
     "That would make the model 0.08 mm across at its largest; choose a size of at least "
     "0.1 mm."),
    ({"mode": "percent", "value": "10000"},
     "That would make the model 20.0 m across at its largest; choose a size of at most 10 m."),
])
def test_a_result_too_small_or_too_large_to_print_is_refused(world, options, sentence):
    file_id = world.put_file(1003, CC_ND, "cube.stl",
                             trimesh.creation.box((200, 10, 5)).export(file_type="stl"))
    token = world.sign_in(REMIXER, CC_ND)
    r = world.start_job(token, thing_id=CC_ND, file_id=file_id, action="download", tool="scale",
                        options={**options, "output": "stl"})
    job = world.wait_job(token, r.json()["job_id"])
    assert (job["status"], job["message"]) == ("failed", sentence)


def test_long_and_non_ascii_names_stay_readable_and_short(world):
    cube = trimesh.creation.box((10, 10, 10)).export(file_type="stl")
    names = [("Würfel groß.stl", "Würfel_groß_150pct.stl"),
             ("x" * 230 + ".stl", "x" * 109 + "_150pct.stl")]  # 120 bytes, the extension kept
    file_ids = [world.put_file(1003, CC_ND, name, cube) for name, _ in names]
    token = world.sign_in(REMIXER, CC_ND)
    for file_id, (_, expected) in zip(file_ids, names, strict=True):
        r = world.start_job(token, thing_id=CC_ND, file_id=file_id, action="download",
                            tool="scale", options={"mode": "percent", "value": "150",
                                                   "output": "stl"})
        job = world.wait_job(token, r.json()["job_id"])
        assert job["result"]["download"] == expected, job
        file = world.client.get(f"/api/jobs/{job['id']}/file",
                                headers={"Authorization": f"Bearer {token}"})
        assert file.status_code == 200
        if not expected.isascii():  # RFC 6266: the UTF-8 name, percent-encoded
            assert ("filename*=utf-8''W%C3%BCrfel_gro%C3%9F_150pct.stl"
                    in file.headers["content-disposition"])
