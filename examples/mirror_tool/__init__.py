"""An example tool: mirror a model across one axis. Try it in the demo beside the built-in one:

    PYTHONPATH=. .venv/bin/thingapp demo --tool thingapp.tools.scale:ScaleTool \
        --tool examples.mirror_tool:MirrorTool
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from thingapp.app import create_app
from thingapp.settings import Settings
from thingapp.tools import ProducedFile, SourceFile, ToolInputError
from thingapp.tools.meshes import load_mesh, output_name
from thingapp.tools.scale import ScaleTool


class MirrorTool:
    id, label = "mirror", "Mirror"
    extensions = (".stl", ".obj")
    folder = Path(__file__).parent  # form.html here: the fields of the tool's step

    def parse_options(self, raw: Mapping[str, Any]) -> str:
        """The form's values -> the tool's options, or a sentence for the user."""
        if raw.get("axis") not in ("x", "y", "z"):
            raise ToolInputError("Choose an axis to mirror across.")
        return str(raw["axis"])

    def run(self, source: SourceFile, axis: str, workdir: Path) -> list[ProducedFile]:
        """Runs in a worker thread: read source.path (the downloaded file), write into workdir."""
        mesh = load_mesh(source.path, source.limits)  # checked against the app's limits
        mesh.vertices[:, "xyz".index(axis)] *= -1
        mesh.invert()  # a mirror image turns the faces inside out: turn them back
        out = workdir / output_name(source.name, f"mirrored_{axis}", "stl")
        mesh.export(file_obj=str(out), file_type="stl")
        return [ProducedFile(out, out.name, f"Mirrored across the {axis.upper()} axis.")]


def create_mirror_app(settings: Settings) -> Starlette:
    """The app offering the built-in tool and this one (any class with a Tool's members will do):
    `uvicorn --factory` needs a function that takes no arguments, so wrap this in one."""
    return create_app(settings, tools=[ScaleTool(), MirrorTool()])
