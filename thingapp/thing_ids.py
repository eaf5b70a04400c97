"""Reading a Thing reference a person pasted or a launch URL carried."""

from __future__ import annotations

import re

MAX_THING_ID = 10**10  # far above any Thing id; keeps absurd numbers out of upstream URLs

_PATTERNS = (
    re.compile(r"^\s*(\d{1,11})\s*$"),
    re.compile(r"^\s*thing:(\d{1,11})\s*$", re.IGNORECASE),
    re.compile(r"^\s*(?:https?://)?(?:www\.)?[^/\s]*/thing:(\d{1,11})(?:[/?#]\S*)?\s*$",
               re.IGNORECASE),
)


def parse_thing_ref(text: str) -> int | None:
    """`2001`, `thing:2001` or `https://www.thingiverse.com/thing:2001` -> 2001; else None."""
    for pattern in _PATTERNS:
        match = pattern.match(text)
        if match:
            thing_id = int(match.group(1))
            return thing_id if 0 < thing_id <= MAX_THING_ID else None
    return None
