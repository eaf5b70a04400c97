"""The model's size, health and 3D preview over HTTP: measured once per file in a worker, kept,
only for a model file of a Thing the user can read."""

from __future__ import annotations

import io

import trimesh
from world import CC_ND, OWNED_CC, OWNER, REMIXER, World

CUBE_STL = 3001


def preview(world: World, token: str, thing_id: int, file_id: int, glb: bool = False):  # noqa: ANN201
    suffix = ".glb" if glb else ""
    return world.client.get(f"/api/things/{thing_id}/files/{file_id}/preview{suffix}",
                            headers={"Authorization": f"Bearer {token}"})


def reads_of(world: World, path_start: str) -> int:
    return sum(1 for e in world.sandbox.get("/sandbox/requests").json()
               if e["method"] == "GET" and e["path"].startswith(path_start))


def test_a_model_is_measured_and_previewed_once(world):
    token = world.sign_in(OWNER)
    info = preview(world, token, OWNED_CC, CUBE_STL)
    assert info.status_code == 200, info.text
    assert info.json() == {"size_mm": [20.0, 20.0, 20.0], "triangles": 12, "watertight": True,
                           "winding_consistent": True, "volume_mm3": 8000.0,
                           "preview_triangles": 12}
    glb = preview(world, token, OWNED_CC, CUBE_STL, glb=True)
    assert glb.headers["content-type"] == "model/gltf-binary"
    mesh = trimesh.load(io.BytesIO(glb.content), file_type="glb", force="mesh")
    assert list(mesh.extents) == [20.0, 20.0, 20.0]
    assert reads_of(world, "/storage/") == 1  # downloaded once, for both answers


def test_a_large_model_travels_decimated(world):
    sphere = trimesh.creation.icosphere(subdivisions=7, radius=30)  # 327,680 triangles
    file_id = world.put_file(OWNER, OWNED_CC, "sphere.stl", sphere.export(file_type="stl"))
    token = world.sign_in(OWNER)
    info = preview(world, token, OWNED_CC, file_id).json()
    assert info["triangles"] == 327_680 and info["preview_triangles"] <= 150_000
    assert len(preview(world, token, OWNED_CC, file_id, glb=True).content) < 5_000_000


def test_only_a_model_file_of_a_readable_thing_and_only_signed_in(world):
    token = world.sign_in(REMIXER, CC_ND)
    assert preview(world, token, CC_ND, CUBE_STL).status_code == 400  # not this Thing's file
    assert preview(world, token, OWNED_CC, 3004).status_code == 400  # assembly_notes.pdf
    assert world.client.get(f"/api/things/{OWNED_CC}/files/{CUBE_STL}/preview").status_code == 401


def test_a_file_that_is_not_a_model_gets_a_sentence(world):
    file_id = world.put_file(OWNER, OWNED_CC, "broken.stl", b"solid x\nthis is not an stl\n")
    token = world.sign_in(OWNER)
    r = preview(world, token, OWNED_CC, file_id)
    assert r.status_code == 400 and r.json()["error"].endswith(".")
    assert "Traceback" not in r.text


def test_the_viewer_travels_compressed_to_a_browser_that_takes_gzip(world):
    path = "/static/vendor/three/three.core.js"
    packed = world.client.get(path, headers={"Accept-Encoding": "gzip"})
    assert packed.status_code == 200 and packed.headers["content-encoding"] == "gzip"
    assert packed.num_bytes_downloaded < len(packed.content) / 3  # httpx unpacked it
    plain = world.client.get(path, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == packed.content
    again = world.client.get(path, headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304  # and cached by the browser in between


def test_measuring_new_models_is_limited_per_person_with_its_own_sentence(tmp_path):
    world = World(tmp_path, jobs_per_hour=2)
    with world.client, world.sandbox:
        box = trimesh.creation.box(extents=(10, 10, 10)).export(file_type="stl")
        extra = [world.put_file(OWNER, OWNED_CC, f"box{i}.stl", box) for i in range(2)]
        token = world.sign_in(OWNER)
        for file_id in (CUBE_STL, extra[0]):
            assert preview(world, token, OWNED_CC, file_id).status_code == 200
        assert preview(world, token, OWNED_CC, CUBE_STL).status_code == 200  # kept: free
        refused = preview(world, token, OWNED_CC, extra[1])
        assert refused.status_code == 429
        assert refused.json()["error"].startswith("You have previewed 2 new models in the last "
                                                  "hour")
        job = world.start_job(token, thing_id=OWNED_CC, file_id=CUBE_STL, action="download",
                              tool="scale", options={"mode": "percent", "value": "110"})
        assert job.status_code == 202  # making files has its own allowance
