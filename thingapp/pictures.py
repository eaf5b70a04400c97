"""A picture of a model, for the Thing a remix creates (Thingiverse lists Things by their images).

Drawn on the server (`drawing.py`: matplotlib's Agg backend, no display, no GPU): the mesh,
reduced to at most 20,000 triangles with fast-simplification's quadric decimation, lit from the
upper left and framed in a cube, on white, 800x600 px. It runs in a worker process like the
tools do, under the same memory and time limits; this module stays light, so the web process
never imports matplotlib.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thingapp.tools import ProducedFile, SourceFile
from thingapp.tools.meshes import load_mesh


class PictureMaker:
    """Draws `picture.png` of a model; run by `Workers.run` as a tool is."""

    id = "picture"

    def run(self, source: SourceFile, options: Any, workdir: Path) -> list[ProducedFile]:
        from thingapp.drawing import draw  # the worker's import, preloaded by the fork server

        mesh = load_mesh(source.path, source.limits)
        path = workdir / "picture.png"
        draw(mesh, path)
        return [ProducedFile(path, f"{Path(source.name).stem}.png",
                             f"A picture of {source.name}.")]
