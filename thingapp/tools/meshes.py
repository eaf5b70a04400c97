"""Reading a model file safely, for any tool: the file is checked before trimesh opens it.

A model file is input from anyone. What it claims is checked against the limits first, in the
cheapest way its format allows: a binary STL's triangle count from its header and size, an ASCII
STL's or an OBJ's while streaming its lines, a 3MF's archive from its directory (declared sizes,
compression ratios, member count) and then its triangles while streaming its XML. Only then is
it loaded, in a worker process that has its own memory and time limits (see thingapp/workers.py).
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO
from xml.sax.saxutils import escape

import numpy as np
import trimesh
from lxml import etree

from thingapp.tools import Limits, ToolInputError

MAX_MEMBERS = 1000  # files in one 3MF archive
RATIO_CHECKED_FROM = 2 * 1024 * 1024  # members at least this large must not be absurdly packed
MAX_RATIO = 100  # uncompressed : compressed
MAX_NAME_BYTES = 120  # of a produced file's name: far below the file system's 255
# A binary STL: an 80-byte header, a triangle count, then one 50-byte record per triangle.
STL_RECORD = np.dtype([("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)),
                       ("attributes", "<u2")])
STL_CHUNK = 65536  # records read at a time when streaming: 3.2 MB


EMPTY = "The model is empty: it has no triangles to work on."


def _unreadable(file_type: str) -> ToolInputError:
    return ToolInputError(f"This file is not a {file_type.upper()} model that can be read.")


def _too_many(count: int, limits: Limits) -> ToolInputError:
    return ToolInputError(f"This model has {count:,} triangles or more; this app works on models "
                          f"of up to {limits.max_triangles:,}.")


def _check_binary_stl(path: Path, limits: Limits) -> bool:
    """True for a binary STL within the limits; False when the file is not a binary STL."""
    if not is_binary_stl(path):
        return False
    count = (path.stat().st_size - 84) // 50
    if count > limits.max_triangles:
        raise _too_many(count, limits)
    return True


def _check_ascii_lines(path: Path, limits: Limits, file_type: str) -> None:
    """Count an ASCII STL's facets or an OBJ's triangles while streaming its lines; an OBJ face
    must name vertices it has (or has yet to list: OBJ allows that only for negative indices)."""
    triangles = vertices = 0
    with open(path, "rb") as f:
        for line in f:
            word = line.split(None, 1)[0] if line.strip() else b""
            if file_type == "stl" and word == b"facet":
                triangles += 1
            elif file_type == "obj" and word == b"v":
                vertices += 1
            elif file_type == "obj" and word == b"f":
                corners = line.split()[1:]
                triangles += max(0, len(corners) - 2)
                for corner in corners:
                    index = corner.split(b"/", 1)[0]
                    if index.lstrip(b"-").isdigit() and abs(int(index)) > vertices:
                        raise ToolInputError("This OBJ model refers to vertices it does not "
                                             "have, so it can't be read.")
            if triangles > limits.max_triangles:
                raise _too_many(triangles, limits)


def _check_3mf(path: Path, limits: Limits) -> None:
    """The archive, from its directory, before anything is unpacked; then its triangles."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _unreadable("3mf") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise ToolInputError(f"This 3MF file holds {len(members):,} files; this app opens "
                                 f"3MF files of up to {MAX_MEMBERS:,}.")
        for member in members:
            if (member.file_size >= RATIO_CHECKED_FROM
                    and member.file_size > MAX_RATIO * max(member.compress_size, 1)):
                raise ToolInputError("This 3MF file is packed far more tightly than a model can "
                                     "be (a zip bomb?), so it was not opened.")
        unpacked = sum(member.file_size for member in members)
        if unpacked > limits.max_unpacked_bytes:
            raise ToolInputError(
                f"This 3MF file unpacks to {unpacked / 1024 ** 2:,.0f} MB; this app opens 3MF "
                f"files of up to {limits.max_unpacked_bytes / 1024 ** 2:,.0f} MB unpacked.")
        triangles = 0
        for member in members:
            if not member.filename.lower().endswith(".model"):
                continue
            try:
                with archive.open(member) as stream:
                    # Streamed, so a model's size costs no memory; lxml refuses absurd nesting.
                    for _, element in etree.iterparse(stream, events=("end",), huge_tree=False,
                                                      resolve_entities=False, no_network=True):
                        if isinstance(element.tag, str) and element.tag.endswith("}triangle"):
                            triangles += 1
                            if triangles > limits.max_triangles:
                                raise _too_many(triangles, limits)
                        element.clear(keep_tail=False)
            except (etree.XMLSyntaxError, zipfile.BadZipFile, OSError, EOFError) as exc:
                raise _unreadable("3mf") from exc


def is_binary_stl(path: Path) -> bool:
    """Whether the file is framed as a binary STL (its size agrees with its triangle count)."""
    with open(path, "rb") as f:
        head = f.read(84)
    return len(head) == 84 and path.stat().st_size == 84 + 50 * int.from_bytes(head[80:84],
                                                                              "little")


def _stl_chunks(path: Path) -> Iterator[np.ndarray]:
    with open(path, "rb") as f:
        f.seek(84)
        while True:
            chunk = np.fromfile(f, dtype=STL_RECORD, count=STL_CHUNK)
            if not len(chunk):
                return
            yield chunk


def binary_stl_extents(path: Path) -> np.ndarray:
    """The size of a binary STL along X, Y and Z, read in chunks (memory stays flat)."""
    low, high = np.full(3, np.inf), np.full(3, -np.inf)
    for chunk in _stl_chunks(path):
        corners = chunk["vertices"].reshape(-1, 3)
        low = np.minimum(low, corners.min(axis=0))
        high = np.maximum(high, corners.max(axis=0))
    if not np.isfinite(low).all() or not np.isfinite(high).all():
        raise ToolInputError("The model is empty, or has corners that are not numbers, so it "
                             "has no size to work on.")
    extents: np.ndarray = high - low
    return extents


def write_scaled_binary_stl(source: Path, out: Path, factor: float) -> None:
    """Scale a binary STL by `factor` into `out`, record by record (facet normals keep their
    direction under a uniform scale; attribute bytes are kept)."""
    with open(source, "rb") as f:
        count = f.read(84)[80:84]
    header = b"binary STL scaled by thingapp".ljust(80, b" ")
    with open(out, "wb") as dst:
        dst.write(header + count)
        for chunk in _stl_chunks(source):
            chunk["vertices"] *= np.float32(factor)
            chunk.tofile(dst)


def check_model_file(path: Path, limits: Limits) -> None:
    """Raise ToolInputError, with a sentence, for a file that is not a model of its kind or that
    is past the limits; cheap, and before any full parse."""
    file_type = path.suffix.lower().lstrip(".")
    if file_type == "3mf":
        _check_3mf(path, limits)
    elif file_type == "stl":
        if not _check_binary_stl(path, limits):
            with open(path, "rb") as f:
                if f.read(512).lstrip()[:5].lower() != b"solid":
                    raise _unreadable("stl")
            _check_ascii_lines(path, limits, "stl")
    elif file_type == "obj":
        _check_ascii_lines(path, limits, "obj")


def load_mesh(path: Path, limits: Limits | None = None) -> trimesh.Trimesh:
    """One triangle mesh from an STL, OBJ or 3MF file within the limits, or a ToolInputError
    saying why not."""
    limits = limits or Limits()
    file_type = path.suffix.lower().lstrip(".")
    check_model_file(path, limits)
    try:
        loaded = trimesh.load(str(path), file_type=file_type, force="mesh", process=False)
    except MemoryError:
        raise
    except Exception as exc:  # trimesh raises many kinds for unreadable files
        raise _unreadable(file_type) from exc
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise ToolInputError(EMPTY)
    if len(loaded.faces) > limits.max_triangles:
        raise _too_many(len(loaded.faces), limits)
    largest_side(loaded.extents)
    return loaded


def largest_side(extents: np.ndarray) -> float:
    """The model's largest size along an axis, or a ToolInputError for a flat one."""
    largest = float(max(extents))
    if not largest > 0:
        raise ToolInputError("The model is flat in every direction: it has no size to work on.")
    return largest


def output_name(source_name: str, tag: str, extension: str) -> str:
    """A produced file's name: the source's stem (letters of any script kept, other characters
    as "_", cut to a safe length), a tag and the extension, e.g. `Würfel_150pct.stl`."""
    stem = unicodedata.normalize("NFC", Path(source_name).stem)
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._") or "model"
    suffix = f"_{tag}.{extension}"
    budget = MAX_NAME_BYTES - len(suffix.encode())
    while len(stem.encode()) > budget:
        stem = stem[:-1]
    return stem.rstrip("._") + suffix


# --- writing a 3MF, streamed ---------------------------------------------------------------

CORE_NS = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="model" '
    'ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/></Types>')
RELATIONSHIPS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel" '
    'Target="/3D/3dmodel.model" Id="rel0"/></Relationships>')
VERTEX = '<vertex x="%.9g" y="%.9g" z="%.9g"/>'
TRIANGLE = '<triangle v1="%d" v2="%d" v3="%d"/>'


Pieces = Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]


def write_3mf(out: Path, pieces: Pieces, metadata: Mapping[str, str]) -> None:
    """A 3MF file of one object, streamed into its zip. `pieces()` yields (vertices, triangles)
    in order, each piece's triangles numbering its own vertices from 0; it is called twice
    (vertices first, then triangles), and memory holds one piece at a time."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", CONTENT_TYPES)
        package.writestr("_rels/.rels", RELATIONSHIPS)
        with package.open("3D/3dmodel.model", "w", force_zip64=True) as model:
            head = "".join(f'<metadata name="{escape(k)}">{escape(v)}</metadata>'
                           for k, v in metadata.items())
            model.write(f'<?xml version="1.0" encoding="UTF-8"?>\n<model unit="millimeter" '
                        f'xml:lang="en-US" xmlns="{CORE_NS}">{head}<resources>'
                        '<object id="1" type="model"><mesh><vertices>'.encode())
            for vertices, _ in pieces():
                _write_rows(model, VERTEX, vertices)
            model.write(b"</vertices><triangles>")
            offset = 0
            for vertices, triangles in pieces():
                _write_rows(model, TRIANGLE, triangles + offset)
                offset += len(vertices)
            model.write(b'</triangles></mesh></object></resources>'
                        b'<build><item objectid="1"/></build></model>')


def _write_rows(stream: IO[bytes], row_format: str, rows: np.ndarray) -> None:
    for start in range(0, len(rows), STL_CHUNK):
        block = rows[start:start + STL_CHUNK]
        stream.write("".join(row_format % tuple(row) for row in block.tolist()).encode())


def binary_stl_parts(path: Path, factor: float) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A binary STL as (vertices, triangles) pieces for write_3mf, scaled by `factor`: each
    triangle its own three corners, as the STL lists them."""
    for chunk in _stl_chunks(path):
        vertices = chunk["vertices"].reshape(-1, 3) * np.float32(factor)
        yield vertices, np.arange(len(vertices)).reshape(-1, 3)

