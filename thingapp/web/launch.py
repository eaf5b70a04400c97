"""The launch page's content: what it shows of the tools, rendered once per Thing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from jinja2 import Environment
from starlette.datastructures import QueryParams

from thingapp.settings import Settings, origin_of
from thingapp.thing_ids import parse_thing_ref
from thingapp.tools import Tool

TOOL_SCRIPT = "form.js"  # the optional browser code beside a tool's form.html
THING_PARAMS = ("thing_id", "id", "thing")  # the launch URL's, the older one's, the picker's
MAX_KEPT_QUERY = 64  # bytes; `thing_id=` and a Thing id fit many times over


def thing_param(params: QueryParams) -> str | None:
    """The Thing a launch URL names, as written (the first non-empty of THING_PARAMS)."""
    return next((params[k] for k in THING_PARAMS if params.get(k)), None)


class PlainPage(NamedTuple):
    """A Thing's launch page as every visitor gets it (no code, no error), encoded."""
    thing_id: int
    page: bytes


@dataclass(frozen=True)
class ToolView:
    """A tool as the launch page shows it."""
    id: str
    label: str
    has_script: bool


class LaunchPages:
    def __init__(self, env: Environment, settings: Settings, tools: Iterable[Tool],
                 cache_size: int = 4096) -> None:
        self.cache_size = cache_size
        self.thingiverse_origin = origin_of(settings.thingiverse_url)
        self.tools = [ToolView(t.id, t.label, (t.folder / TOOL_SCRIPT).is_file()) for t in tools]
        template = env.get_template("launch.html")
        self.plain = lru_cache(maxsize=cache_size)(
            lambda thing_id: template.render(self.context(thing_id)).encode())
        """The plain launch page (no code, no error) of a Thing, rendered and encoded once and
        kept."""
        self._by_query: dict[bytes, int] = {}  # a launch URL's query -> its Thing

    def for_query(self, query_string: bytes) -> PlainPage | None:
        """The plain page when a launch URL's query asks for just that (the launch every
        visitor makes), else None. Short queries are kept with their Thing, so a repeat costs
        two lookups; never one with a code in it."""
        thing_id = self._by_query.get(query_string)
        if thing_id is None:
            params = QueryParams(query_string)
            raw = thing_param(params)
            thing_id = parse_thing_ref(raw) if raw else None
            if thing_id is None or "code" in params:
                return None
            if len(query_string) <= MAX_KEPT_QUERY:
                if len(self._by_query) >= self.cache_size:
                    self._by_query.clear()
                self._by_query[query_string] = thing_id
        return PlainPage(thing_id, self.plain(thing_id))

    def context(self, thing_id: int) -> dict[str, Any]:
        return {"thing_id": thing_id, "login": None, "error": None, "tools": self.tools,
                "thingiverse_origin": self.thingiverse_origin}
