"""The built-in tool: scale a model (percent, target size, or inches to millimetres) and convert it
to binary STL or 3MF, with trimesh. A 3MF result carries the original's attribution.

Its form's fields are in form.html beside this file, and their behaviour in form.js."""

from __future__ import annotations

import io
import math
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import trimesh

from thingapp.tools import ProducedFile, SourceFile, ToolInputError

MAX_PERCENT = 10_000.0
MAX_TARGET_MM = 10_000.0
INCH = 25.4
FORMATS = {"stl": "stl", "3mf": "3mf"}
CORE_NS = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"


@dataclass(frozen=True)
class ScaleOptions:
    mode: str  # "percent", "target" (largest dimension in mm) or "inch"
    value: float  # the percent or the millimetres; unused for "inch"
    output: str  # "stl" or "3mf"


def _number(raw: object, what: str) -> float:
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise ToolInputError(f"The {what} must be a number.") from None
    if not math.isfinite(value):
        raise ToolInputError(f"The {what} must be a number.")
    return value


def _short(value: float) -> str:
    return f"{value:.4g}" if value != int(value) else str(int(value))


class ScaleTool:
    id = "scale"
    label = "Scale & convert"
    extensions = (".stl", ".obj", ".3mf")
    folder = Path(__file__).parent

    def parse_options(self, raw: Mapping[str, Any]) -> ScaleOptions:
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
                    f"The scale must be above 0 % and at most {MAX_PERCENT:,.0f} %.")
            return ScaleOptions("percent", value, output)
        if mode == "target":
            value = _number(raw.get("value", ""), "target size")
            if not 0 < value <= MAX_TARGET_MM:
                raise ToolInputError(
                    f"The target size must be above 0 mm and at most {MAX_TARGET_MM:,.0f} mm.")
            return ScaleOptions("target", value, output)
        raise ToolInputError("Choose a scale in percent, a target size, or inches to millimetres.")

    def run(self, source: SourceFile, options: ScaleOptions, workdir: Path) -> list[ProducedFile]:
        mesh = load_mesh(source.path)
        largest = float(max(mesh.extents))
        if options.mode == "target":
            factor, tag, summary = options.value / largest, f"{_short(options.value)}mm", \
                f"Scaled so its largest side is {_short(options.value)} mm."
        elif options.mode == "inch":
            factor, tag, summary = INCH, "in2mm", "Converted from inches to millimetres (x25.4)."
        else:
            factor, tag, summary = options.value / 100, f"{_short(options.value)}pct", \
                f"Scaled to {_short(options.value)} %."
        mesh.apply_scale(factor)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(source.name).stem).strip("._") or "model"
        name = f"{stem}_{tag}.{options.output}"
        out = workdir / name
        if options.output == "3mf":
            package = mesh.export(file_type="3mf")
            assert isinstance(package, bytes)  # trimesh exports 3MF as the zip's bytes
            out.write_bytes(with_attribution(package, source.thing))
        else:
            mesh.export(file_obj=str(out), file_type="stl")  # binary STL
        return [ProducedFile(out, name, summary)]


def _is_framed_as(path: Path, file_type: str) -> bool:
    """Whether the file has its format's framing at all; trimesh reads garbage as an empty mesh,
    and the user deserves to hear "not a model" rather than "empty"."""
    if file_type == "3mf":
        return zipfile.is_zipfile(path)
    if file_type == "stl":
        with open(path, "rb") as f:
            head = f.read(84)
        if head.lstrip()[:5].lower() == b"solid":
            return True
        size = path.stat().st_size
        return len(head) == 84 and size == 84 + 50 * int.from_bytes(head[80:84], "little")
    return True


def load_mesh(path: Path) -> trimesh.Trimesh:
    """One triangle mesh from an STL, OBJ or 3MF file, or a ToolInputError saying why not."""
    file_type = path.suffix.lower().lstrip(".")
    if not _is_framed_as(path, file_type):
        raise ToolInputError(f"This file is not a {file_type.upper()} model that can be read.")
    try:
        loaded = trimesh.load(str(path), file_type=file_type, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many kinds for unreadable files
        raise ToolInputError(
            f"This file is not a {file_type.upper()} model that can be read.") from exc
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise ToolInputError("The model is empty: it has no triangles to scale.")
    if not float(max(loaded.extents)) > 0:
        raise ToolInputError("The model is flat in every direction: it has no size to scale.")
    return loaded


def attribution(thing: Mapping[str, Any]) -> dict[str, str]:
    """Title, designer, licence and source of the original Thing."""
    creator: Mapping[str, Any] = thing["creator"] if isinstance(thing.get("creator"),
                                                                   Mapping) else {}
    return {"Title": str(thing.get("name") or ""),
            "Designer": str(creator.get("name") or ""),
            "LicenseTerms": str(thing.get("license") or ""),
            "Source": str(thing.get("public_url") or "")}


def with_attribution(threemf: bytes, thing: Mapping[str, Any]) -> bytes:
    """The 3MF package with the original's attribution as model metadata (3MF core spec names;
    the source URL goes into Description, since the spec has no name for it)."""
    credit = attribution(thing)
    entries = {"Title": credit["Title"], "Designer": credit["Designer"],
               "LicenseTerms": credit["LicenseTerms"],
               "Description": f"Derived from {credit['Title']} by {credit['Designer']}, "
                              f"{credit['Source']}, licensed {credit['LicenseTerms']}."}
    ElementTree.register_namespace("", CORE_NS)
    src, out = zipfile.ZipFile(io.BytesIO(threemf)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.lower().endswith(".model"):
                root = ElementTree.fromstring(data)
                for old in root.findall(f"{{{CORE_NS}}}metadata"):
                    if old.get("name") in entries:
                        root.remove(old)
                for position, (name, value) in enumerate(entries.items()):
                    element = ElementTree.Element(f"{{{CORE_NS}}}metadata", {"name": name})
                    element.text = value
                    root.insert(position, element)
                data = ElementTree.tostring(root, xml_declaration=True, encoding="UTF-8")
            dst.writestr(item, data)
    return out.getvalue()
