"""The built-in tool on its own: names, sizes and attribution of what it makes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh

from thingapp.tools import SourceFile, ToolInputError
from thingapp.tools.scale import ScaleTool

THING = {"id": 7, "name": "Benchy <b>", "creator": {"name": "CreativeTools"},
         "license": "Creative Commons - Attribution - No Derivatives",
         "public_url": "https://www.thingiverse.com/thing:7"}


@pytest.fixture
def cube(tmp_path: Path) -> Path:
    path = tmp_path / "source.stl"
    trimesh.creation.box((20, 10, 5)).export(str(path))
    return path


def make(cube: Path, tmp_path: Path, name: str, **raw: str):
    tool = ScaleTool()
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return tool.run(SourceFile(cube, name, THING), tool.parse_options(raw), out)[0]


@pytest.mark.parametrize(("source_name", "produced"), [
    ("benchy.stl", "benchy_150pct.stl"),
    ("../../etc/passwd.stl", "passwd_150pct.stl"),
    ("..\\..\\win\\evil.stl", "win_evil_150pct.stl"),
    ("\x00\x07.stl", "model_150pct.stl"),
    ("my model (v2).STL", "my_model_v2_150pct.stl"),
])
def test_produced_names_are_safe_whatever_the_source_is_called(cube, tmp_path, source_name,
                                                               produced):
    made = make(cube, tmp_path, source_name, mode="percent", value="150", output="stl")
    assert made.name == produced
    assert made.path.parent == tmp_path / "out"


def test_each_mode_scales_to_the_size_it_names(cube, tmp_path):
    by_percent = make(cube, tmp_path, "c.stl", mode="percent", value="50", output="stl")
    assert trimesh.load(by_percent.path).extents == pytest.approx([10, 5, 2.5])
    by_target = make(cube, tmp_path, "c.stl", mode="target", value="100", output="stl")
    assert trimesh.load(by_target.path).extents == pytest.approx([100, 50, 25])
    by_inch = make(cube, tmp_path, "c.stl", mode="inch", output="stl")
    assert (by_inch.name, by_inch.summary) == ("c_in2mm.stl",
                                               "Converted from inches to millimetres (x25.4).")
    assert trimesh.load(by_inch.path).extents == pytest.approx([508, 254, 127])


def test_binary_stl_is_written(cube, tmp_path):
    made = make(cube, tmp_path, "c.stl", mode="percent", value="100", output="stl")
    data = made.path.read_bytes()
    assert not data.startswith(b"solid") and len(data) == 84 + 50 * 12


def test_3mf_carries_the_originals_attribution_escaped(cube, tmp_path):
    made = make(cube, tmp_path, "c.stl", mode="percent", value="100", output="3mf")
    model = zipfile.ZipFile(made.path).read("3D/3dmodel.model").decode()
    assert '<metadata name="Title">Benchy &lt;b&gt;</metadata>' in model
    assert '<metadata name="Designer">CreativeTools</metadata>' in model
    assert "https://www.thingiverse.com/thing:7" in model
    mesh = trimesh.load(io.BytesIO(made.path.read_bytes()), file_type="3mf", force="mesh")
    assert mesh.extents == pytest.approx([20, 10, 5])


def test_obj_and_3mf_sources_are_read(tmp_path):
    box = trimesh.creation.box((8, 8, 8))
    for suffix in ("obj", "3mf"):
        path = tmp_path / f"source.{suffix}"
        path.write_bytes(box.export(file_type=suffix) if suffix == "3mf"
                         else box.export(file_type="obj").encode())
        made = make(path, tmp_path, f"box.{suffix}", mode="percent", value="200", output="stl")
        assert trimesh.load(made.path).extents == pytest.approx([16, 16, 16])


def test_a_zip_that_is_not_a_3mf_is_not_a_model(tmp_path):
    path = tmp_path / "source.3mf"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "not a model")
    with pytest.raises(ToolInputError, match="not a 3MF model|empty"):
        make(path, tmp_path, "x.3mf", mode="percent", value="100", output="stl")


def broken_meshes() -> dict[str, trimesh.Trimesh]:
    box = trimesh.creation.box(extents=(20, 20, 20))
    flipped = box.faces.copy()
    flipped[:4] = flipped[:4, ::-1]
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=10)
    return {
        "a hole": trimesh.Trimesh(box.vertices, box.faces[2:], process=False),
        "flipped faces": trimesh.Trimesh(box.vertices, flipped, process=False),
        "duplicate faces": trimesh.Trimesh(box.vertices, np.vstack([box.faces, box.faces[:3]]),
                                           process=False),
        "40 faces cut out": trimesh.Trimesh(sphere.vertices, sphere.faces[40:], process=False),
    }


@pytest.mark.parametrize("kind", sorted(broken_meshes()))
def test_repair_makes_a_broken_mesh_watertight_and_says_so(tmp_path, kind):
    source = tmp_path / "broken.stl"
    broken_meshes()[kind].export(str(source))
    result = make(source, tmp_path, "broken.stl", mode="percent", value="100", repair="1")
    fixed = trimesh.load(str(result.path), file_type="stl")
    assert fixed.is_watertight and fixed.is_winding_consistent
    assert result.summary.startswith("Scaled to 100 %. Repaired: it was not watertight; now it is")
    without = make(source, tmp_path, "broken.stl", mode="percent", value="100")
    kept = trimesh.load(str(without.path), file_type="stl", process=False)
    kept.merge_vertices()
    assert not (kept.is_watertight and kept.is_winding_consistent)  # repaired only when asked


def test_repairing_a_sound_mesh_changes_nothing(cube, tmp_path):
    result = make(cube, tmp_path, "cube.stl", mode="percent", value="100", repair="1")
    assert result.summary == "Scaled to 100 %. It was watertight already: nothing to repair."
