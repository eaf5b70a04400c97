"""Thingiverse licences: the API returns display strings and accepts codes.

The table follows THINGIVERSE.md's "Licences" section. Anything not in it (All Rights Reserved,
Nokia, a string Thingiverse adds tomorrow) is treated as allowing no derivatives: the safe reading.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class License:
    code: str | None  # the code Thingiverse accepts on create; None for legacy licences
    display: str  # the string Thingiverse returns on a Thing
    allows_derivatives: bool
    share_alike: bool = False  # a remix must keep exactly this licence
    non_commercial: bool = False  # a remix must stay non-commercial


LICENSES: tuple[License, ...] = (
    License("cc", "Creative Commons - Attribution", True),
    License("cc-sa", "Creative Commons - Attribution - Share Alike", True, share_alike=True),
    License("cc-nd", "Creative Commons - Attribution - No Derivatives", False),
    License("cc-nc", "Creative Commons - Attribution - Non-Commercial", True, non_commercial=True),
    License("cc-nc-sa", "Creative Commons - Attribution - Non-Commercial - Share Alike", True,
            share_alike=True, non_commercial=True),
    License("cc-nc-nd", "Creative Commons - Attribution - Non-Commercial - No Derivatives", False,
            non_commercial=True),
    License("pd0", "Creative Commons - Public Domain Dedication", True),
    License("gpl", "GNU - GPL", True, share_alike=True),
    License("lgpl", "GNU - LGPL", True, share_alike=True),
    License("bsd", "BSD License", True),
    License(None, "Public Domain", True),
)

# Older display strings seen on Things, mapped to the licence they mean.
_VARIANTS = {
    "creative commons - share alike": "cc-sa",
    "creative commons - no derivatives": "cc-nd",
    "creative commons - non-commercial": "cc-nc",
    "creative commons - non-commercial - share alike": "cc-nc-sa",
    "creative commons - non-commercial - no derivatives": "cc-nc-nd",
    "creative commons - public domain": "pd0",
    "gnu - general public license": "gpl",
    "gnu - lesser general public license": "lgpl",
    "bsd": "bsd",
}


def _key(text: str) -> str:
    return " ".join(text.split()).lower()


_BY_KEY: dict[str, License] = {}
for _licence in LICENSES:
    _BY_KEY[_key(_licence.display)] = _licence
    if _licence.code:
        _BY_KEY[_licence.code] = _licence
for _variant, _code in _VARIANTS.items():
    _BY_KEY[_variant] = _BY_KEY[_code]


def find_license(text: str | None) -> License | None:
    """The licence a display string or code names, or None when it is unknown."""
    if not isinstance(text, str):
        return None
    return _BY_KEY.get(_key(text))


def allows_derivatives(license_text: str | None) -> bool:
    """Whether a licence string permits derivatives; unknown licences do not."""
    found = find_license(license_text)
    return found is not None and found.allows_derivatives


# The licences a remix may take, by the parent's licence: never less restrictive than the parent.
# Share-alike licences force their own terms; non-commercial ones keep NC; permissive ones allow
# any.
_CODES = tuple(lic.code for lic in LICENSES if lic.code)
_REMIX_CODES = {
    "cc-sa": ("cc-sa",),
    "cc-nc-sa": ("cc-nc-sa",),
    "gpl": ("gpl",),
    "lgpl": ("lgpl", "gpl"),  # LGPL work may be relicensed under the GPL
    "cc-nc": ("cc-nc", "cc-nc-sa", "cc-nc-nd"),
}


def remix_licenses(parent_license: str | None) -> tuple[str, ...]:
    """Codes a remix of a Thing under `parent_license` may use, the parent's own first.

    Empty when the parent allows no derivatives (or its licence is unknown)."""
    parent = find_license(parent_license)
    if parent is None or not parent.allows_derivatives:
        return ()
    if parent.code in _REMIX_CODES:
        return _REMIX_CODES[parent.code]
    own = parent.code or "pd0"  # legacy "Public Domain" remixes as CC0
    return (own, *[code for code in _CODES if code != own])
