"""Drawing a mesh to a PNG with matplotlib's Agg backend (no display, no GPU); imported only in
worker processes (the fork server preloads it), never in the web process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import trimesh

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402 (after choosing the backend)
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402

MAX_FACES = 20_000  # enough to recognise the shape; drawing time grows with it
SIZE_PX = (800, 600)
COLOUR = np.array([0.15, 0.45, 0.85])  # a Thingiverse-like blue
LIGHT = np.array([-0.4, -0.5, 0.75])


def draw(mesh: trimesh.Trimesh, path: Path) -> None:
    if len(mesh.faces) > MAX_FACES:
        mesh = mesh.simplify_quadric_decimation(face_count=MAX_FACES)
    triangles = mesh.triangles
    light = LIGHT / np.linalg.norm(LIGHT)
    brightness = 0.3 + 0.7 * np.clip(mesh.face_normals @ light, 0.0, 1.0)
    colours = np.clip(COLOUR[None, :] * brightness[:, None] + 0.1 * brightness[:, None], 0, 1)

    width, height = SIZE_PX
    figure = Figure(figsize=(width / 100, height / 100), dpi=100, facecolor="white")
    axes: Any = figure.add_subplot(projection="3d")
    axes.add_collection3d(Poly3DCollection(triangles, facecolors=colours, edgecolors="none"))
    low, high = mesh.bounds
    centre, half = (low + high) / 2, max(float(np.max(high - low)) / 2, 1e-6)
    axes.set_xlim(centre[0] - half, centre[0] + half)
    axes.set_ylim(centre[1] - half, centre[1] + half)
    axes.set_zlim(centre[2] - half, centre[2] + half)
    axes.set_box_aspect((1, 1, 1), zoom=1.2)
    axes.view_init(elev=25, azim=-60)
    axes.set_axis_off()
    figure.subplots_adjust(left=0, right=1, bottom=0, top=1)
    figure.savefig(path, format="png", facecolor="white")
