"""Bytes of the seeded files: real meshes (binary STL, OBJ, 3MF) and a small real PDF.

Meshes are made with trimesh, in millimetres, resting on the print bed (lowest corner at the
origin), so an app that measures them gets the seeded size back.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence

import trimesh

# A fixed timestamp keeps the 3MF archive's bytes (and so its size) the same on every run.
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)
_3MF_CORE = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"


def box(x: float, y: float, z: float) -> trimesh.Trimesh:
    """A box of the given size in mm, resting on the bed."""
    return _on_bed(trimesh.creation.box(extents=(x, y, z)))


def cylinder(diameter: float, height: float) -> trimesh.Trimesh:
    """An upright cylinder of the given size in mm, resting on the bed."""
    return _on_bed(trimesh.creation.cylinder(radius=diameter / 2, height=height, sections=48))


def _on_bed(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    mesh.apply_translation(-mesh.bounds[0])
    return mesh


def stl_bytes(mesh: trimesh.Trimesh) -> bytes:
    """The mesh as binary STL."""
    data = mesh.export(file_type="stl")
    assert isinstance(data, bytes)
    return data


def obj_bytes(mesh: trimesh.Trimesh) -> bytes:
    """The mesh as Wavefront OBJ text."""
    data = mesh.export(file_type="obj")
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def threemf_bytes(mesh: trimesh.Trimesh, name: str) -> bytes:
    """The mesh as a minimal 3MF package (core spec: one object, one build item).

    Written by hand because trimesh's 3MF exporter needs networkx and lxml, which this
    project does not depend on.
    """
    model = ET.Element("model", {"unit": "millimeter", "xml:lang": "en-US", "xmlns": _3MF_CORE})
    resources = ET.SubElement(model, "resources")
    obj = ET.SubElement(resources, "object", {"id": "1", "name": name, "type": "model"})
    mesh_el = ET.SubElement(obj, "mesh")
    vertices = ET.SubElement(mesh_el, "vertices")
    for x, y, z in mesh.vertices.tolist():
        ET.SubElement(vertices, "vertex", {"x": f"{x:.6g}", "y": f"{y:.6g}", "z": f"{z:.6g}"})
    triangles = ET.SubElement(mesh_el, "triangles")
    for a, b, c in mesh.faces.tolist():
        ET.SubElement(triangles, "triangle", {"v1": str(a), "v2": str(b), "v3": str(c)})
    build = ET.SubElement(model, "build")
    ET.SubElement(build, "item", {"objectid": "1"})
    model_xml = ET.tostring(model, encoding="utf-8", xml_declaration=True)

    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="model" '
        'ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>'
        "</Types>"
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
        'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>'
        "</Relationships>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in (
            ("[Content_Types].xml", content_types.encode()),
            ("_rels/.rels", rels.encode()),
            ("3D/3dmodel.model", model_xml),
        ):
            info = zipfile.ZipInfo(path, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def pdf_bytes(title: str, lines: Sequence[str]) -> bytes:
    """A one-page PDF 1.4 document (Helvetica text, correct xref table) with the given text."""

    def literal(text: str) -> str:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return f"({escaped})"

    text_ops = [f"BT /F1 18 Tf 72 770 Td {literal(title)} Tj /F1 11 Tf"]
    text_ops += [f"0 -22 Td {literal(line)} Tj" for line in lines]
    text_ops.append("ET")
    stream = "\n".join(text_ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)
