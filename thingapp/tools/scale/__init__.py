"""The built-in tool: scale a model (percent, target size, or inches to millimetres) and convert it
to binary STL or 3MF, with trimesh. A 3MF result carries the original's attribution.

Its form's fields are in form.html beside this file, and their behaviour in form.js."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from thingapp.tools import ProducedFile, SourceFile, ToolInputError
from thingapp.tools.meshes import (
    EMPTY,
    Pieces,
    binary_stl_extents,
    binary_stl_parts,
    check_model_file,
    is_binary_stl,
    largest_side,
    load_mesh,
    output_name,
    write_3mf,
    write_scaled_binary_stl,
)

MAX_PERCENT = 10_000.0
MAX_TARGET_MM = 10_000.0
SMALLEST_RESULT_MM, LARGEST_RESULT_MM = 0.1, 10_000.0  # the result's largest side
INCH = 25.4
FORMATS = {"stl": "stl", "3mf": "3mf"}


@dataclass(frozen=True)
class ScaleOptions:
    mode: str  # "percent", "target" (largest dimension in mm) or "inch"
    value: float  # the percent or the millimetres; unused for "inch"
    output: str  # "stl" or "3mf"
    repair: bool = False  # make the mesh watertight first (pymeshfix), and say what changed


def _number(raw: object, what: str) -> float:
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise ToolInputError(f"The {what} must be a number.", "value") from None
    if not math.isfinite(value):
        raise ToolInputError(f"The {what} must be a number.", "value")
    return value


def _short(value: float) -> str:
    return f"{value:.4g}" if value != int(value) else str(int(value))


class ScaleTool:
    id = "scale"
    label = "Scale & convert"
    extensions = (".stl", ".obj", ".3mf")
    folder = Path(__file__).parent

    def parse_options(self, raw: Mapping[str, Any]) -> ScaleOptions:
        options = self._scale(raw)
        repair = raw.get("repair", False)
        if repair not in (True, False, "1", "on", ""):
            raise ToolInputError("Repair is on or off.")
        return replace(options, repair=repair in (True, "1", "on"))

    def _scale(self, raw: Mapping[str, Any]) -> ScaleOptions:
        mode = str(raw.get("mode", "percent"))
        output = str(raw.get("output", "stl")).lower()
        if output not in FORMATS:
            raise ToolInputError("Choose binary STL or 3MF as the output format.")
        if mode == "inch":
            return ScaleOptions("inch", INCH, output)
        if mode == "percent":
            value = _number(raw.get("value", ""), "scale")
            if not 0 < value <= MAX_PERCENT:
                raise ToolInputError(
                    f"The scale must be above 0 % and at most {MAX_PERCENT:,.0f} %.", "value")
            return ScaleOptions("percent", value, output)
        if mode == "target":
            value = _number(raw.get("value", ""), "target size")
            if not 0 < value <= MAX_TARGET_MM:
                raise ToolInputError(
                    f"The target size must be above 0 mm and at most {MAX_TARGET_MM:,.0f} mm.",
                    "value")
            return ScaleOptions("target", value, output)
        raise ToolInputError("Choose a scale in percent, a target size, or inches to millimetres.")

    def run(self, source: SourceFile, options: ScaleOptions, workdir: Path) -> list[ProducedFile]:
        # A binary STL is streamed, a chunk of records at a time: memory stays flat whatever
        # its size. Other formats (and any model to repair) are read with trimesh.
        streamed = is_binary_stl(source.path) and not options.repair
        repaired = ""
        if streamed:
            check_model_file(source.path, source.limits)
            if source.path.stat().st_size == 84:
                raise ToolInputError(EMPTY)
            largest = largest_side(binary_stl_extents(source.path))
        else:
            mesh = load_mesh(source.path, source.limits)
            if options.repair:
                mesh, repaired = repair(mesh)
            largest = largest_side(mesh.extents)
        if options.mode == "target":
            factor, tag, summary = options.value / largest, f"{_short(options.value)}mm", \
                f"Scaled so its largest side is {_short(options.value)} mm."
        elif options.mode == "inch":
            factor, tag, summary = INCH, "in2mm", "Converted from inches to millimetres (x25.4)."
        else:
            factor, tag, summary = options.value / 100, f"{_short(options.value)}pct", \
                f"Scaled to {_short(options.value)} %."
        _check_result_size(largest, factor)
        summary = f"{summary} {repaired}".strip()
        name = output_name(source.name, tag, options.output)
        out = workdir / name
        if options.output == "3mf":
            pieces: Pieces
            if streamed:
                pieces = functools.partial(binary_stl_parts, source.path, factor)
            else:
                mesh.apply_scale(factor)
                pieces = functools.partial(lambda m: [(m.vertices, m.faces)], mesh)
            write_3mf(out, pieces, attribution_metadata(source.thing))
        elif streamed:
            write_scaled_binary_stl(source.path, out, factor)
        else:
            mesh.apply_scale(factor)
            mesh.export(file_obj=str(out), file_type="stl")  # binary STL
        return [ProducedFile(out, name, summary)]


def repair(mesh: trimesh.Trimesh) -> tuple[trimesh.Trimesh, str]:
    """The mesh made watertight by pymeshfix (MeshFix: fills holes, drops duplicate and
    degenerate faces, makes the winding consistent), and a sentence saying what changed.
    Chosen by measuring on a holed box, a box with flipped faces, one with duplicate faces and a
    sphere with 40 faces cut out: pymeshfix closed all four (under 30 ms); manifold3d refused
    each (a non-manifold input gives an empty result); trimesh's own repair needs scipy."""
    import pymeshfix

    before = mesh.copy()
    before.merge_vertices()
    if before.is_watertight and before.is_winding_consistent:
        return mesh, "It was watertight already: nothing to repair."
    fixer = pymeshfix.MeshFix(np.asarray(before.vertices), np.asarray(before.faces))
    fixer.repair()
    fixed = trimesh.Trimesh(fixer.points, fixer.faces)
    if not fixed.is_watertight:
        raise ToolInputError("This model could not be repaired into a closed shape.")
    return fixed, (f"Repaired: it was not watertight; now it is ({len(before.faces):,} -> "
                   f"{len(fixed.faces):,} triangles).")


def _check_result_size(largest: float, factor: float) -> None:
    """A result too small to print or too large to be a print is a mistake: say so."""
    result = largest * factor
    if result < SMALLEST_RESULT_MM:
        raise ToolInputError(f"That would make the model {_short(round(result, 4))} mm across at "
                             f"its largest; choose a size of at least {SMALLEST_RESULT_MM} mm.")
    if result > LARGEST_RESULT_MM:
        raise ToolInputError(f"That would make the model {result / 1000:,.1f} m across at its "
                             f"largest; choose a size of at most {LARGEST_RESULT_MM / 1000:g} m.")


def attribution(thing: Mapping[str, Any]) -> dict[str, str]:
    """Title, designer, licence and source of the original Thing."""
    creator: Mapping[str, Any] = thing["creator"] if isinstance(thing.get("creator"),
                                                                   Mapping) else {}
    return {"Title": str(thing.get("name") or ""),
            "Designer": str(creator.get("name") or ""),
            "LicenseTerms": str(thing.get("license") or ""),
            "Source": str(thing.get("public_url") or "")}


def attribution_metadata(thing: Mapping[str, Any]) -> dict[str, str]:
    """The original's attribution as 3MF model metadata (3MF core spec names; the source URL
    goes into Description, since the spec has no name for it)."""
    credit = attribution(thing)
    return {"Title": credit["Title"], "Designer": credit["Designer"],
            "LicenseTerms": credit["LicenseTerms"],
            "Description": f"Derived from {credit['Title']} by {credit['Designer']}, "
                           f"{credit['Source']}, licensed {credit['LicenseTerms']}."}
