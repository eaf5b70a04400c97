"""What a tool is: something the app hands a Thing's model file and options, and that makes files.

The app does the rest (sign-in, choosing the action, downloading the source, posting the result).
To add a tool, write a class with these attributes and methods and pass an instance to
`create_app(settings, tools=[...])`; its options form is a Jinja partial in `templates/tools/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class ToolInputError(Exception):
    """The user's file or options can't be used; `str(exc)` is a sentence for them."""


@dataclass(frozen=True)
class SourceFile:
    path: Path  # the downloaded model file, on disk
    name: str  # its name on Thingiverse, e.g. "benchy.stl"
    thing: Mapping[str, Any]  # the Thing as Thingiverse describes it (attribution comes from here)


@dataclass(frozen=True)
class ProducedFile:
    path: Path
    name: str  # the name to post it under, e.g. "benchy_150pct.stl"
    summary: str  # one line for the user and the remix description, e.g. "Scaled to 150 %."


class Tool(Protocol):
    id: str  # stable id used in requests, e.g. "scale"
    label: str  # shown to the user
    extensions: tuple[str, ...]  # the source files it accepts, lower-case, with the dot
    options_template: str  # a Jinja partial rendering the tool's form fields

    def parse_options(self, raw: Mapping[str, Any]) -> Any:
        """Check the form's values; raise ToolInputError with a sentence when they are wrong."""

    def run(self, source: SourceFile, options: Any, workdir: Path) -> list[ProducedFile]:
        """Make the files (in a worker thread: it may be slow). Raise ToolInputError for bad input."""
