"""What the page shows of a model before the tool runs: its size and health, and a compact copy
for the 3D preview (GLB), made once per file in a worker process and kept in the work directory.

The model is read with the same limits as a job's (file size, triangles, archive budget) and, for
the preview, reduced to at most `MAX_PREVIEW_FACES` triangles with fast-simplification's quadric
decimation, so even a 1.3M-triangle model travels as a few megabytes.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import trimesh

from thingapp.thingiverse import ThingiverseClient
from thingapp.tools import Limits, ProducedFile, SourceFile
from thingapp.tools.meshes import load_mesh
from thingapp.workers import Workers

MAX_PREVIEW_FACES = 150_000
INFO, GLB = "info.json", "preview.glb"


def model_info(mesh: trimesh.Trimesh) -> dict[str, Any]:
    """The model's size in millimetres (X, Y, Z), triangle count and health."""
    watertight = bool(mesh.is_watertight)
    return {"size_mm": [round(float(v), 2) for v in mesh.extents],
            "triangles": int(len(mesh.faces)), "watertight": watertight,
            "winding_consistent": bool(mesh.is_winding_consistent),
            "volume_mm3": round(float(abs(mesh.volume)), 1) if watertight else None}


class PreviewMaker:
    """Writes `info.json` and `preview.glb` of a model; run by `Workers.run` as a tool is."""

    id = "preview"

    def run(self, source: SourceFile, options: Any, workdir: Path) -> list[ProducedFile]:
        mesh = load_mesh(source.path, source.limits)
        mesh.merge_vertices()  # STL repeats each corner per triangle: join them to judge health
        info = model_info(mesh)
        if len(mesh.faces) > MAX_PREVIEW_FACES:
            mesh = mesh.simplify_quadric_decimation(face_count=MAX_PREVIEW_FACES)
        info["preview_triangles"] = int(len(mesh.faces))
        glb, data = workdir / GLB, mesh.export(file_type="glb")
        assert isinstance(data, bytes)
        glb.write_bytes(data)
        (workdir / INFO).write_text(json.dumps(info))
        return [ProducedFile(glb, GLB, ""), ProducedFile(workdir / INFO, INFO, "")]


class Previews:
    def __init__(self, thingiverse: ThingiverseClient, workers: Workers, folder: Path,
                 limits: Limits, max_file_bytes: int) -> None:
        self.thingiverse, self.workers, self.folder = thingiverse, workers, folder
        self.limits, self.max_file_bytes = limits, max_file_bytes
        self._making: dict[str, asyncio.Lock] = {}  # one making per file in this process

    @staticmethod
    def _key(file: dict[str, Any]) -> str:
        return f"{int(file['id'])}-{int(file.get('size') or 0)}"

    def ready(self, file: dict[str, Any]) -> bool:
        """Whether this file's preview is made already (asking for it costs nothing)."""
        return (self.folder / self._key(file) / INFO).is_file()

    async def folder_of(self, token: str, thing: dict[str, Any], file: dict[str, Any]) -> Path:
        """The folder holding `info.json` and `preview.glb` of one of the Thing's files, made
        now if needed. Raises what a job's download and tool would (sentences for the user)."""
        key = self._key(file)
        done = self.folder / key
        lock = self._making.setdefault(key, asyncio.Lock())
        async with lock:
            if await anyio.Path(done / INFO).is_file():
                return done
            building = self.folder / f"{key}.part"
            await anyio.to_thread.run_sync(shutil.rmtree, building, True)
            await anyio.Path(building).mkdir(parents=True)
            try:
                source = building / ("source" + Path(str(file["name"])).suffix.lower())
                await self.thingiverse.download_file(token, file, source, self.max_file_bytes)
                async with self.workers.slot():
                    await self.workers.run(PreviewMaker(), SourceFile(
                        source, str(file["name"]), thing, self.limits), None, building)
                await anyio.Path(source).unlink()
                await anyio.Path(building).rename(done)
            finally:
                await anyio.to_thread.run_sync(shutil.rmtree, building, True)
        self._making.pop(key, None)
        return done
