"""The seeded world: three users, five Things and their files, shaped like the real API's answers.

Ids are fixed (tests and the demo rely on them). Objects follow the published schemas
(`user_schema.yaml`, `thing_schema.yaml`, `file_schema.yaml`) and the real samples, including the
quirks an app must cope with: `license` is a display string, `default_license` a code, and the
legacy Thing 2004 has no `allows_derivatives` key at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape

import trimesh

from thingapp.sandbox import file_contents as fc
from thingapp.sandbox.licenses import ALL_RIGHTS_RESERVED, LICENSES, License
from thingapp.sandbox.state import JsonObject, StoredFile, World
from thingapp.sandbox.storage import storage_url

# File types Thingiverse lists as printable; others (e.g. pdf) get a null `direct_url`.
PRINTABLE_EXTENSIONS = frozenset({"stl", "obj", "3mf", "amf", "ply"})

PLACEHOLDER_IMAGE = "/static/placeholder.svg"


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
    ),
    ThingSeed(
        2003, "Desk Organizer", 1003, LICENSES["cc-nd"],
        "A three-compartment desk organizer for pens, rulers and a phone.",
        ("desk", "organizer"), "2022-05-02T19:11:05+00:00",
        (FileSeed(3005, "desk_organizer.stl", lambda: fc.stl_bytes(fc.box(120, 80, 60))),),
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
            data = _file_object(file_seed, content, thing, public_url, downloads=17 * (number + 1))
            files[file_seed.id] = StoredFile(thing.id, content, data)
        creator = user_summary(users[thing.creator_id])
        things[thing.id] = _thing_object(thing, creator, public_url, index)
    return World(users=users, things=things, files=files)


def user_summary(user: JsonObject) -> JsonObject:
    """The short user object embedded as a Thing's `creator` (shape of the real sample)."""
    keys = ("id", "name", "first_name", "last_name", "url", "public_url", "thumbnail",
            "count_of_followers", "count_of_following", "count_of_designs", "accepts_tips",
            "is_following", "location")
    summary = {key: user[key] for key in keys}
    summary["cover"] = user["cover_image"]
    return summary


def _user_object(seed: UserSeed, public_url: str) -> JsonObject:
    image = public_url + PLACEHOLDER_IMAGE
    api = f"{public_url}/users/{seed.name}"
    return {
        "id": seed.id,
        "name": seed.name,
        "first_name": seed.first_name,
        "last_name": seed.last_name,
        "full_name": f"{seed.first_name} {seed.last_name}",
        "url": api,
        "public_url": f"{public_url}/{seed.name}",
        "thumbnail": image,
        "bio": seed.bio,
        "bio_html": f"<div><p>{escape(seed.bio)}</p></div>\n",
        "level": 10,
        "location": seed.location,
        "country": None,
        "industry": "Hobbyist",
        "subindustry": None,
        "registered": seed.registered,
        "last_active": "2024-05-01T12:00:00+00:00",
        "cover_image": image,
        "things_url": f"{api}/things",
        "copies_url": f"{api}/copies",
        "likes_url": f"{api}/likes",
        "printers": [],
        "programs": [],
        "types": [],
        "skill_level": "Intermediate",
        "accepts_tips": False,
        "groups": [],
        "website": "",
        "twitter": None,
        "count_of_followers": seed.id % 97,
        "count_of_following": seed.id % 13,
        "count_of_designs": sum(thing.creator_id == seed.id for thing in THINGS),
        "collection_count": 1,
        "make_count": 2,
        "like_count": 5,
        "has_favorite": False,
        "favorite_count": 0,
        "is_admin": False,
        "is_moderator": False,
        "is_featured": False,
        "is_verified": False,
        "is_following": False,
        "default_license": seed.default_license,
    }


def _thing_object(seed: ThingSeed, creator: JsonObject, public_url: str, index: int) -> JsonObject:
    api = f"{public_url}/things/{seed.id}"
    image = public_url + PLACEHOLDER_IMAGE
    description_html = f"<div><p>{escape(seed.description)}</p></div>\n"
    thing: JsonObject = {
        "id": seed.id,
        "name": seed.name,
        "thumbnail": image,
        "url": api,
        "public_url": f"{public_url}/thing:{seed.id}",
        "creator": creator,
        "added": seed.added,
        "modified": seed.added,
        "is_published": 1,
        "is_wip": 0,
        "is_featured": False,
        "is_nsfw": False,
        "is_ai": False,
        "like_count": 40 + 7 * index,
        "is_liked": False,
        "collect_count": 25 + 3 * index,
        "is_collected": False,
        "comment_count": index,
        "is_watched": False,
        "default_image": {
            "id": 5000 + seed.id,
            "url": image,
            "name": "placeholder.svg",
            "sizes": [
                {"type": kind, "size": size, "url": image}
                for kind, size in (("thumb", "large"), ("thumb", "medium"),
                                   ("preview", "card"), ("display", "large"))
            ],
            "added": seed.added,
        },
        "description": seed.description,
        "instructions": "",
        "description_html": description_html,
        "instructions_html": "<div></div>\n",
        "details": '<div><h1 class="thing-component-header summary summary">Summary</h1>\n'
        f"{description_html}</div>\n",
        "details_parts": [
            {"type": "summary", "name": "Summary", "required": "required",
             "data": [{"content": description_html}]},
            {"type": "settings", "name": "Print Settings"},
        ],
        "edu_details": "",
        "edu_details_parts": [],
        "license": seed.license.display,
        "allows_derivatives": seed.license.allows_derivatives,
        "files_url": f"{api}/files",
        "images_url": f"{api}/images",
        "likes_url": f"{api}/likes",
        "ancestors_url": f"{api}/ancestors",
        "derivatives_url": f"{api}/derivatives",
        "tags_url": f"{api}/tags",
        "tags": [_tag_object(tag, public_url) for tag in seed.tags],
        "categories_url": f"{api}/categories",
        "file_count": len(seed.files),
        "layout_count": 0,
        "layouts_url": f"{public_url}/layouts/{seed.id}",
        "is_private": 0,
        "is_purchased": 0,
        "in_library": False,
        "print_history_count": 0,
        "app_id": None,
        "download_count": 120 + 31 * index,
        "view_count": 900 + 113 * index,
        "education": {"grades": [], "subjects": []},
        "remix_count": 0,
        "make_count": 3 + index,
        "app_count": 1,
        "root_comment_count": index,
        "moderation": "",
        "is_derivative": False,
        "ancestors": [],
        "can_comment": True,
        "type_name": "Thing",
        "is_banned": False,
        "is_comments_disabled": False,
        "needs_moderation": 0,
        "is_decoy": 0,
    }
    if not seed.has_allows_derivatives:
        del thing["allows_derivatives"]
    return thing


def _tag_object(tag: str, public_url: str) -> JsonObject:
    return {
        "name": tag,
        "tag": tag,
        "url": f"{public_url}/tags/{tag}",
        "count": 10 + len(tag),
        "things_url": f"{public_url}/tags/{tag}/things",
        "absolute_url": f"{public_url}/tag:{tag}",
    }


def _file_object(
    seed: FileSeed, content: bytes, thing: ThingSeed, public_url: str, downloads: int
) -> JsonObject:
    extension = seed.name.rsplit(".", 1)[-1].lower()
    printable = extension in PRINTABLE_EXTENSIONS
    # "2021-04-09T12:57:28+00:00" -> "2021-04-09 12:57:28", the files' date format.
    date = thing.added[:19].replace("T", " ")
    return {
        "id": seed.id,
        "name": seed.name,
        "size": len(content),
        "url": f"{public_url}/files/{seed.id}",
        "public_url": f"{public_url}/download:{seed.id}",
        "download_url": f"{public_url}/files/{seed.id}/download",
        "direct_url": storage_url(public_url, seed.id, seed.name) if printable else None,
        "threejs_url": "",
        "thumbnail": public_url + PLACEHOLDER_IMAGE,
        "default_image": None,
        "date": date,
        "formatted_size": formatted_size(len(content)),
        "meta_data": [],
        "download_count": downloads,
    }


def formatted_size(size: int) -> str:
    """A size the way Thingiverse prints it: whole units, rounded down ("684 b", "10 mb")."""
    if size < 1024:
        return f"{size} b"
    if size < 1024 * 1024:
        return f"{size // 1024} kb"
    return f"{size // (1024 * 1024)} mb"
