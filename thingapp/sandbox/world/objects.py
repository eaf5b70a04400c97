"""The API's JSON objects: users and their summaries, Things, Thing summaries, tags and files,
shaped like the real ones.

Both the seeded world and the write endpoints build their objects here, so a Thing created through
`POST /things/` has every key a seeded Thing has (plus `is_remix`). Shapes follow the published
schemas (`user_summary_schema.yaml`, `thing_schema.yaml`, `short_thing_schema.yaml`,
`file_schema.yaml`) and the real samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from urllib.parse import quote

from thingapp.sandbox.http import storage_url
from thingapp.sandbox.world.licenses import License
from thingapp.sandbox.world.state import JsonObject

# File types Thingiverse lists as printable; others (e.g. pdf) get a null `direct_url`.
PRINTABLE_EXTENSIONS = frozenset({"stl", "obj", "3mf", "amf", "ply"})

PLACEHOLDER_IMAGE = "/static/placeholder.svg"


@dataclass(frozen=True)
class ThingCounts:
    """A Thing's counters; a new Thing starts with all of them at zero."""

    likes: int = 0
    collects: int = 0
    comments: int = 0
    downloads: int = 0
    views: int = 0
    makes: int = 0
    files: int = 0


def now_iso() -> str:
    """Now, the way Things date themselves: "2021-04-09T12:57:28+00:00"."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class UserFacts:
    """What sets one user apart; the rest of the user object is derived or neutral."""

    id: int
    name: str
    first_name: str = ""
    last_name: str = ""
    default_license: str = "cc"
    location: str = ""
    bio: str = ""
    registered: str = "2020-01-01T00:00:00+00:00"
    count_of_followers: int = 0
    count_of_following: int = 0
    count_of_designs: int = 0
    collection_count: int = 0
    make_count: int = 0
    like_count: int = 0


def user_object(facts: UserFacts, public_url: str) -> JsonObject:
    """A full user object (`user_schema.yaml`, the real `/users/me` sample, less `current_app`)."""
    image = public_url + PLACEHOLDER_IMAGE
    api = f"{public_url}/users/{facts.name}"
    bio_html = f"<div><p>{escape(facts.bio)}</p></div>\n" if facts.bio else "<div></div>\n"
    return {
        "id": facts.id,
        "name": facts.name,
        "first_name": facts.first_name,
        "last_name": facts.last_name,
        "full_name": f"{facts.first_name} {facts.last_name}".strip(),
        "url": api,
        "public_url": f"{public_url}/{facts.name}",
        "thumbnail": image,
        "bio": facts.bio,
        "bio_html": bio_html,
        "level": 10,
        "location": facts.location,
        "country": None,
        "industry": "Hobbyist",
        "subindustry": None,
        "registered": facts.registered,
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
        "count_of_followers": facts.count_of_followers,
        "count_of_following": facts.count_of_following,
        "count_of_designs": facts.count_of_designs,
        "collection_count": facts.collection_count,
        "make_count": facts.make_count,
        "like_count": facts.like_count,
        "has_favorite": False,
        "favorite_count": 0,
        "is_admin": False,
        "is_moderator": False,
        "is_featured": False,
        "is_verified": False,
        "is_following": False,
        "default_license": facts.default_license,
    }


def user_summary(user: JsonObject) -> JsonObject:
    """The short user object embedded as a Thing's `creator` (shape of the real sample)."""
    keys = ("id", "name", "first_name", "last_name", "url", "public_url", "thumbnail",
            "count_of_followers", "count_of_following", "count_of_designs", "accepts_tips",
            "is_following", "location")
    summary = {key: user[key] for key in keys}
    summary["cover"] = user["cover_image"]
    return summary


def thing_object(
    *,
    thing_id: int,
    name: str,
    creator: JsonObject,
    license: License,
    description: str,
    instructions: str,
    tags: list[str],
    added: str,
    public_url: str,
    counts: ThingCounts,
    is_published: int = 1,
    is_wip: int = 0,
) -> JsonObject:
    """A full Thing object (`thing_schema.yaml`); `ancestors` is filled in when it is served."""
    api = f"{public_url}/things/{thing_id}"
    image = public_url + PLACEHOLDER_IMAGE
    thing: JsonObject = {
        "id": thing_id,
        "name": name,
        "thumbnail": image,
        "url": api,
        "public_url": f"{public_url}/thing:{thing_id}",
        "creator": creator,
        "added": added,
        "modified": added,
        "is_published": is_published,
        "is_wip": is_wip,
        "is_featured": False,
        "is_nsfw": False,
        "is_ai": False,
        "like_count": counts.likes,
        "is_liked": False,
        "collect_count": counts.collects,
        "is_collected": False,
        "comment_count": counts.comments,
        "is_watched": False,
        "default_image": {
            "id": 5000 + thing_id,
            "url": image,
            "name": "placeholder.svg",
            "sizes": [
                {"type": kind, "size": size, "url": image}
                for kind, size in (("thumb", "large"), ("thumb", "medium"),
                                   ("preview", "card"), ("display", "large"))
            ],
            "added": added,
        },
        # Set by set_texts below, kept here so the key order matches the real samples.
        "description": "",
        "instructions": "",
        "description_html": "",
        "instructions_html": "",
        "details": "",
        "details_parts": [],
        "edu_details": "",
        "edu_details_parts": [],
        "license": license.display,
        "allows_derivatives": license.allows_derivatives,
        "files_url": f"{api}/files",
        "images_url": f"{api}/images",
        "likes_url": f"{api}/likes",
        "ancestors_url": f"{api}/ancestors",
        "derivatives_url": f"{api}/derivatives",
        "tags_url": f"{api}/tags",
        "tags": [tag_object(tag, public_url) for tag in tags],
        "categories_url": f"{api}/categories",
        "file_count": counts.files,
        "layout_count": 0,
        "layouts_url": f"{public_url}/layouts/{thing_id}",
        "is_private": 0,
        "is_purchased": 0,
        "in_library": False,
        "print_history_count": 0,
        "app_id": None,
        "download_count": counts.downloads,
        "view_count": counts.views,
        "education": {"grades": [], "subjects": []},
        "remix_count": 0,
        "make_count": counts.makes,
        "app_count": 1,
        "root_comment_count": counts.comments,
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
    set_texts(thing, description=description, instructions=instructions)
    return thing


def set_texts(thing: JsonObject, *, description: str, instructions: str) -> None:
    """Set a Thing's description and instructions with the HTML renderings derived from them."""
    description_html = _paragraph_html(description)
    thing["description"] = description
    thing["instructions"] = instructions
    thing["description_html"] = description_html
    thing["instructions_html"] = _paragraph_html(instructions)
    thing["details"] = (
        '<div><h1 class="thing-component-header summary summary">Summary</h1>\n'
        f"{description_html}</div>\n"
    )
    thing["details_parts"] = [
        {"type": "summary", "name": "Summary", "required": "required",
         "data": [{"content": description_html}]},
        {"type": "settings", "name": "Print Settings"},
    ]


def _paragraph_html(text: str) -> str:
    return f"<div><p>{escape(text)}</p></div>\n" if text else "<div></div>\n"


def thing_summary(thing: JsonObject) -> JsonObject:
    """The short Thing object of lists such as ancestors (`short_thing_schema.yaml`)."""
    summary = {key: thing[key] for key in ("id", "name", "url", "public_url")}
    summary["created_at"] = thing["added"]
    summary["thumbnail"] = summary["preview_image"] = thing["thumbnail"]
    for key in ("creator", "is_private", "is_purchased", "is_published", "like_count",
                "collect_count", "make_count", "comment_count", "tags", "is_nsfw"):
        summary[key] = thing[key]
    summary["rank"] = None
    return summary


def tag_object(tag: str, public_url: str) -> JsonObject:
    """A tag as Things list them (`tag_schema.yaml`)."""
    return {
        "name": tag,
        "tag": tag,
        "url": f"{public_url}/tags/{tag}",
        "count": 10 + len(tag),
        "things_url": f"{public_url}/tags/{tag}/things",
        "absolute_url": f"{public_url}/tag:{tag}",
    }


def file_object(
    *, file_id: int, name: str, size: int, date: str, public_url: str, downloads: int,
    md5: str | None = None,
) -> JsonObject:
    """A file of a Thing (`file_schema.yaml`); `date` as files have it: "2021-04-09 12:57:28";
    `md5`, the file's MD5 as Thingiverse gives it in `hash` (hex on older files, base64 on newer
    ones)."""
    extension = name.rsplit(".", 1)[-1].lower()
    printable = extension in PRINTABLE_EXTENSIONS
    return {
        "id": file_id,
        "name": name,
        "size": size,
        "url": f"{public_url}/files/{file_id}",
        "public_url": f"{public_url}/download:{file_id}",
        "download_url": f"{public_url}/files/{file_id}/download",
        "direct_url": storage_url(public_url, file_id, name) if printable else None,
        "threejs_url": "",
        "thumbnail": public_url + PLACEHOLDER_IMAGE,
        "default_image": None,
        "date": date,
        "formatted_size": formatted_size(size),
        "meta_data": [],
        "download_count": downloads,
        "hash": md5,
    }


def category_object(name: str, public_url: str) -> JsonObject:
    """A category a Thing is in (`category_schema.yaml`)."""
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    slug = "-".join(part for part in slug.split("-") if part)
    return {"id": sum(map(ord, name)), "name": name, "url": f"{public_url}/categories/{slug}",
            "count": 1000 + len(name), "slug": slug,
            "things_url": f"{public_url}/categories/{slug}/things"}


def image_summary(*, image_id: int, name: str, date: str, public_url: str) -> JsonObject:
    """An image of a Thing (`image_summary_schema.yaml`), served by storage."""
    url = f"{public_url}/storage/images/{image_id}/{quote(name)}"
    return {"id": image_id, "url": url, "name": name,
            "sizes": [{"type": "display", "size": "large", "url": url}], "added": date}


def file_date(iso: str) -> str:
    """"2021-04-09T12:57:28+00:00" -> "2021-04-09 12:57:28", the files' date format."""
    return iso[:19].replace("T", " ")


def formatted_size(size: int) -> str:
    """A size the way Thingiverse prints it: whole units, rounded down ("684 b", "10 mb")."""
    if size < 1024:
        return f"{size} b"
    if size < 1024 * 1024:
        return f"{size // 1024} kb"
    return f"{size // (1024 * 1024)} mb"
