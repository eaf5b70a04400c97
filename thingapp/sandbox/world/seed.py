"""The seeded world: three users, five Things and their files, shaped like the real API's answers.

Ids are fixed (tests and the demo rely on them). Objects are built by `objects` (Things, files) and
here (users), following the published schemas and the real samples, including the quirks an app
must cope with: `license` is a display string, `default_license` a code, and the legacy Thing
2004 has no `allows_derivatives` key at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import trimesh

from thingapp.sandbox.world import file_contents as fc
from thingapp.sandbox.world.licenses import ALL_RIGHTS_RESERVED, LICENSES, License
from thingapp.sandbox.world.objects import (
    ThingCounts,
    UserFacts,
    file_date,
    file_object,
    thing_object,
    user_object,
    user_summary,
)
from thingapp.sandbox.world.state import JsonObject, StoredFile, World


@dataclass(frozen=True)
class UserSeed:
    """The facts of a seeded user; the rest of the user object is derived."""

    id: int
    name: str
    first_name: str
    last_name: str
    default_license: str
    location: str
    bio: str
    registered: str


@dataclass(frozen=True)
class FileSeed:
    """A seeded file: its id, its name and how to make its bytes."""

    id: int
    name: str
    make: Callable[[], bytes]


@dataclass(frozen=True)
class ThingSeed:
    """The facts of a seeded Thing; the rest of the Thing object is derived."""

    id: int
    name: str
    creator_id: int
    license: License
    description: str
    tags: tuple[str, ...]
    added: str
    files: tuple[FileSeed, ...]
    # Legacy records predate the field; Thing 2004 must come back without it.
    has_allows_derivatives: bool = True
    category: str = "Other"


def _cable_clip() -> trimesh.Trimesh:
    return fc.cylinder(12, 10)


USERS: tuple[UserSeed, ...] = (
    UserSeed(1001, "mara_makes", "Mara", "Maker", "cc-sa", "Lyon, France",
             "Designs calibration prints and small fixes.", "2016-03-02T09:14:00+00:00"),
    UserSeed(1002, "remy_remix", "Remy", "Remixer", "cc", "Porto, Portugal",
             "Remixes other people's things to fit my desk.", "2018-11-20T17:40:12+00:00"),
    UserSeed(1003, "olaf_original", "Olaf", "Original", "cc-nd", "Bergen, Norway",
             "Original designs for a tidy workshop.", "2013-06-15T08:05:44+00:00"),
)

THINGS: tuple[ThingSeed, ...] = (
    ThingSeed(
        2001, "Calibration Cube", 1001, LICENSES["cc"],
        "A 20 mm calibration cube. Measure each side after printing and adjust your steps/mm.",
        ("calibration", "cube"), "2021-04-09T12:57:28+00:00",
        (FileSeed(3001, "calibration_cube.stl", lambda: fc.stl_bytes(fc.box(20, 20, 20))),),
        category="3D Printing",
    ),
    ThingSeed(
        2002, "Cable Clip", 1003, LICENSES["cc-sa"],
        "Snap-on clip for a 5 mm cable. Print it in PETG, it flexes better: "
        "<b>bold</b> & <script>alert(1)</script>",
        ("cable", "clip", "organizer"), "2022-01-17T08:30:00+00:00",
        (
            FileSeed(3002, "cable_clip.stl", lambda: fc.stl_bytes(_cable_clip())),
            FileSeed(3003, "cable_clip.obj", lambda: fc.obj_bytes(_cable_clip())),
            FileSeed(3004, "assembly_notes.pdf", lambda: fc.pdf_bytes(
                "Cable Clip - assembly notes",
                ["1. Print two clips, 0.2 mm layers, no supports.",
                 "2. Press the cable into the slot until it clicks."],
            )),
        ),
        category="Household",
    ),
    ThingSeed(
        2003, "Desk Organizer", 1003, LICENSES["cc-nd"],
        "A three-compartment desk organizer for pens, rulers and a phone.",
        ("desk", "organizer"), "2022-05-02T19:11:05+00:00",
        (FileSeed(3005, "desk_organizer.stl", lambda: fc.stl_bytes(fc.box(120, 80, 60))),),
        category="Household",
    ),
    ThingSeed(
        2004, "Vintage Bracket", 1003, ALL_RIGHTS_RESERVED,
        "An L bracket from the early days. Uploaded before licences had options.",
        ("bracket",), "2011-09-30T22:02:41+00:00",
        (FileSeed(3006, "bracket.stl", lambda: fc.stl_bytes(fc.box(40, 15, 30))),),
        has_allows_derivatives=False,
    ),
    ThingSeed(
        2005, "Hinge Box", 1003, LICENSES["cc-nc-sa"],
        "A small box with a print-in-place hinge.",
        ("box", "hinge", "print_in_place"), "2023-02-14T10:00:00+00:00",
        (FileSeed(3007, "hinge_box.3mf",
                  lambda: fc.threemf_bytes(fc.box(50, 40, 30), "Hinge Box")),),
        category="Toys & Games",
    ),
)


def build_world(public_url: str) -> World:
    """A fresh world with the seeded users, Things and files, URLs built on `public_url`."""
    users = {seed.id: _user_object(seed, public_url) for seed in USERS}
    files: dict[int, StoredFile] = {}
    things: dict[int, JsonObject] = {}
    for index, thing in enumerate(THINGS):
        for number, file_seed in enumerate(thing.files):
            content = file_seed.make()
            data = file_object(
                file_id=file_seed.id,
                name=file_seed.name,
                size=len(content),
                date=file_date(thing.added),
                public_url=public_url,
                downloads=17 * (number + 1),
                md5=hashlib.md5(content).hexdigest(),  # older files: hex
            )
            files[file_seed.id] = StoredFile(thing.id, data, content)
        things[thing.id] = _thing_object(thing, user_summary(users[thing.creator_id]),
                                         public_url, index)
    return World(users=users, things=things, files=files,
                 categories={thing.id: thing.category for thing in THINGS})


def _user_object(seed: UserSeed, public_url: str) -> JsonObject:
    facts = UserFacts(
        id=seed.id,
        name=seed.name,
        first_name=seed.first_name,
        last_name=seed.last_name,
        default_license=seed.default_license,
        location=seed.location,
        bio=seed.bio,
        registered=seed.registered,
        count_of_followers=seed.id % 97,
        count_of_following=seed.id % 13,
        count_of_designs=sum(thing.creator_id == seed.id for thing in THINGS),
        collection_count=1,
        make_count=2,
        like_count=5,
    )
    return user_object(facts, public_url)


def _thing_object(seed: ThingSeed, creator: JsonObject, public_url: str, index: int) -> JsonObject:
    counts = ThingCounts(
        likes=40 + 7 * index,
        collects=25 + 3 * index,
        comments=index,
        downloads=120 + 31 * index,
        views=900 + 113 * index,
        makes=3 + index,
        files=len(seed.files),
    )
    thing = thing_object(
        thing_id=seed.id,
        name=seed.name,
        creator=creator,
        license=seed.license,
        description=seed.description,
        instructions="",
        tags=list(seed.tags),
        added=seed.added,
        public_url=public_url,
        counts=counts,
    )
    if not seed.has_allows_derivatives:
        del thing["allows_derivatives"]
    return thing
