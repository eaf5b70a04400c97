"""The launch page's content: what it shows of the tools, rendered once per Thing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment

from thingapp.settings import Settings, origin_of
from thingapp.tools import Tool

TOOL_SCRIPT = "form.js"  # the optional browser code beside a tool's form.html


@dataclass(frozen=True)
class ToolView:
    """A tool as the launch page shows it."""
    id: str
    label: str
    has_script: bool


class LaunchPages:
    def __init__(self, env: Environment, settings: Settings, tools: Iterable[Tool],
                 cache_size: int = 4096) -> None:
        self.thingiverse_origin = origin_of(settings.thingiverse_url)
        self.tools = [ToolView(t.id, t.label, (t.folder / TOOL_SCRIPT).is_file()) for t in tools]
        template = env.get_template("launch.html")
        self.plain = lru_cache(maxsize=cache_size)(
            lambda thing_id: str(template.render(self.context(thing_id))))
        """The plain launch page (no code, no error) of a Thing, rendered once and kept."""

    def context(self, thing_id: int) -> dict[str, Any]:
        return {"thing_id": thing_id, "login": None, "error": None, "tools": self.tools,
                "thingiverse_origin": self.thingiverse_origin}
