"""The sandbox's own licence table: the codes Thingiverse accepts and the strings it returns.

Deliberately separate from the app's table: a stand-in that imported the app's table would
agree with the app's mistakes instead of catching them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class License:
    """One licence as Thingiverse shows it."""

    display: str
    allows_derivatives: bool


LICENSES: dict[str, License] = {
    "cc": License("Creative Commons - Attribution", True),
    "cc-sa": License("Creative Commons - Attribution - Share Alike", True),
    "cc-nd": License("Creative Commons - Attribution - No Derivatives", False),
    "cc-nc": License("Creative Commons - Attribution - Non-Commercial", True),
    "cc-nc-sa": License("Creative Commons - Attribution - Non-Commercial - Share Alike", True),
    "cc-nc-nd": License("Creative Commons - Attribution - Non-Commercial - No Derivatives", False),
    "pd0": License("Creative Commons - Public Domain Dedication", True),
    "gpl": License("GNU - GPL", True),
    "lgpl": License("GNU - LGPL", True),
    "bsd": License("BSD License", True),
}

# Legacy licences have no code: they only ever come back from the API, never go in.
ALL_RIGHTS_RESERVED = License("All Rights Reserved", False)
