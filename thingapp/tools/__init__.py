"""What a tool is: something the app hands a Thing's model file and options, and that makes files.

The app does the rest (sign-in, choosing the action, downloading the source, posting the result).
To add a tool, write a class with these members and pass an instance to
`create_app(settings, tools=[...])`. Its folder holds `form.html`, the fields of its step (a Jinja
partial, included in the page's form), and optionally `form.js`, an ES module the page loads
beside it (served at `/tools/{id}/form.js`). `thingapp/tools/scale/` is the built-in example.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class ToolInputError(Exception):
    """The user's file or options can't be used; `str(exc)` is a sentence for them. `field`
    names the form control at fault (its `name`), when one is: the page marks it and moves
    focus there."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


DEFAULT_MAX_TRIANGLES = 5_000_000


@dataclass(frozen=True)
class Limits:
    """How much a model may ask of the machine (the operator's settings); see tools/meshes.py."""
    max_triangles: int = DEFAULT_MAX_TRIANGLES
    max_unpacked_bytes: int = 2000 * 1024 * 1024  # an archive's members, all told


@dataclass(frozen=True)
class SourceFile:
    path: Path  # the downloaded model file, on disk
    name: str  # its name on Thingiverse, e.g. "benchy.stl"
    thing: Mapping[str, Any]  # the Thing as Thingiverse describes it (attribution comes from here)
    limits: Limits = Limits()  # read it with thingapp.tools.meshes.load_mesh(path, limits)


@dataclass(frozen=True)
class ProducedFile:
    path: Path
    name: str  # the name to post it under, e.g. "benchy_150pct.stl"
    summary: str  # one line for the user and the remix description, e.g. "Scaled to 150 %."


class Tool(Protocol):
    # Read-only members, so plain class attributes satisfy them (`extensions = (".stl",)`).
    @property
    def id(self) -> str:
        """Stable id used in requests and URLs, e.g. "scale" (letters, digits, - and _)."""

    @property
    def label(self) -> str:
        """Shown to the user, e.g. "Scale & convert"."""

    @property
    def extensions(self) -> Sequence[str]:
        """The source files it accepts, lower-case, with the dot, e.g. (".stl", ".obj")."""

    @property
    def folder(self) -> Path:
        """Holds form.html (the fields of the tool's step) and, optionally, form.js."""

    def parse_options(self, raw: Mapping[str, Any]) -> Any:
        """Check the form's values; raise ToolInputError with a sentence when they are wrong."""

    def run(self, source: SourceFile, options: Any, workdir: Path) -> list[ProducedFile]:
        """Make the files (in a worker thread: it may be slow). Raise ToolInputError for bad
        input."""
