"""The rules for a remix the user asks for: its name, its category, and a licence the parent allows.

Pure policy beside `licenses.py` and `actions.py`: what the form offers, and the check of what
comes back (the page's choices are never trusted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from thingapp.licenses import find_license, remix_license_note, remix_licenses

# Thingiverse's top-level categories (a remix's create call names one by its full name).
CATEGORIES = ("3D Printing", "3D Printer Parts", "3D Printer Accessories", "Art", "Fashion",
              "Gadgets", "Hobby", "Household", "Learning", "Models", "Tools", "Toys & Games",
              "Other")
MAX_NAME = 200


class RemixInvalid(ValueError):
    """The remix asked for breaks a rule; `str(exc)` is a sentence for the user."""


@dataclass(frozen=True)
class RemixRequest:
    name: str
    license: str  # a code the parent's licence allows
    category: str
    publish: bool


def remix_offer(parent: Mapping[str, Any], parent_name: str,
                parent_categories: Sequence[str] = ()) -> dict[str, Any]:
    """What the form offers for a remix of `parent`: a name, the licences, the categories (the
    parent's first, as the default, when it is one of them)."""
    licences = []
    for code in remix_licenses(parent.get("license")):
        licence = find_license(code)
        licences.append({"code": code, "label": licence.display if licence else code})
    return {"name": f"Remix of {parent_name}"[:MAX_NAME], "licenses": licences,
            "license_note": remix_license_note(parent.get("license")),
            "categories": list(CATEGORIES),
            "category": next((c for c in parent_categories if c in CATEGORIES), "Other")}


def parse_remix(raw: object, parent: Mapping[str, Any]) -> RemixRequest:
    """The remix the page sent, checked against the rules and the parent's licence."""
    if not isinstance(raw, dict):
        raise RemixInvalid("A remix needs a name, a licence and a category.")
    if set(raw) - {"name", "license", "category", "publish"}:
        raise RemixInvalid("The remix takes only name, license, category and publish.")
    name, code = raw.get("name"), raw.get("license")
    category, publish = raw.get("category", "Other"), raw.get("publish", False)
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise RemixInvalid(f"Give the remix a name of 1 to {MAX_NAME} characters.")
    allowed = remix_licenses(parent.get("license"))
    if code not in allowed:
        raise RemixInvalid("The remix must keep a licence the original allows: "
                           + ", ".join(allowed) + ".")
    if category not in CATEGORIES:
        raise RemixInvalid("Choose one of the offered categories.")
    if not isinstance(publish, bool):
        raise RemixInvalid("publish must be true or false.")
    return RemixRequest(name.strip(), str(code), str(category), publish)
