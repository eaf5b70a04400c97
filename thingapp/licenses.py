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
    attribution: bool = True  # a remix must credit the original


LICENSES: tuple[License, ...] = (
    License("cc", "Creative Commons - Attribution", True),
    License("cc-sa", "Creative Commons - Attribution - Share Alike", True, share_alike=True),
    License("cc-nd", "Creative Commons - Attribution - No Derivatives", False),
    License("cc-nc", "Creative Commons - Attribution - Non-Commercial", True, non_commercial=True),
    License("cc-nc-sa", "Creative Commons - Attribution - Non-Commercial - Share Alike", True,
            share_alike=True, non_commercial=True),
    License("cc-nc-nd", "Creative Commons - Attribution - Non-Commercial - No Derivatives", False,
            non_commercial=True),
    License("pd0", "Creative Commons - Public Domain Dedication", True, attribution=False),
    License("gpl", "GNU - GPL", True, share_alike=True),
    License("lgpl", "GNU - LGPL", True, share_alike=True),
    License("bsd", "BSD License", True),
    License(None, "Public Domain", True, attribution=False),
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


def says_no_derivatives(license_text: str | None) -> bool:
    """Whether a licence's own words forbid derivatives ("No Derivatives", an `-nd` code): this
    reading wins over any flag that says otherwise."""
    if not isinstance(license_text, str):
        return False
    return "no derivative" in _key(license_text) or _key(license_text).endswith("-nd")


# A remix never drops a condition of its parent: it keeps the attribution, share-alike keeps the
# parent's exact licence (GPL: the LGPL may become the GPL), non-commercial stays non-commercial.
_CODES = tuple(lic.code for lic in LICENSES if lic.code)
_SAME_TERMS = {"cc-sa": ("cc-sa",), "cc-nc-sa": ("cc-nc-sa",), "gpl": ("gpl",),
               "lgpl": ("lgpl", "gpl")}


def remix_licenses(parent_license: str | None) -> tuple[str, ...]:
    """Codes a remix of a Thing under `parent_license` may use, the parent's own first.

    Empty when the parent allows no derivatives (or its licence is unknown)."""
    parent = find_license(parent_license)
    if parent is None or not parent.allows_derivatives or says_no_derivatives(parent_license):
        return ()
    if parent.code in _SAME_TERMS:
        return _SAME_TERMS[parent.code]
    allowed = [code for code in _CODES if _keeps_conditions(parent, _BY_KEY[code])]
    own = parent.code or "pd0"  # legacy "Public Domain" remixes as CC0 first
    return (own, *[code for code in allowed if code != own])


def _keeps_conditions(parent: License, remix: License) -> bool:
    return ((remix.attribution or not parent.attribution)
            and (remix.non_commercial or not parent.non_commercial))


def remix_license_note(parent_license: str | None) -> str:
    """Why the remix's licences are the ones offered, in a sentence."""
    parent = find_license(parent_license)
    if parent is None or not remix_licenses(parent_license):
        return "The original's licence does not allow remixes."
    if parent.code == "gpl":
        return "A remix of a GPL Thing must stay under the GPL."
    if parent.code == "lgpl":
        return "A remix of an LGPL Thing must stay under the LGPL or the GPL."
    if parent.share_alike:
        return f"A remix of a share-alike Thing must keep its licence, {parent.display}."
    if parent.non_commercial:
        return ("A remix of a non-commercial Thing must stay non-commercial and keep the "
                "original's attribution.")
    if parent.attribution:
        return "A remix must keep the original's attribution, so it can't be public domain."
    return "The original is in the public domain: a remix may take any licence."
