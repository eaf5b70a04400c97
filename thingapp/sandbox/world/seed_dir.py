"""Seeding the world from a directory: `thingapp sandbox --seed DIR`, `SandboxConfig.seed_dir`.

The directory (see `example_seed/` beside this module, built from a real answer of the API):

    DIR/
      users/<anything>.json        a user object each, as `GET /users/me` answers it
      things/<id>.json             a Thing each, as `GET /things/{id}` answers it
      things/<id>/files/<name>     that Thing's files: the bytes, named as the file is called

Rules:
- A user needs an integer `id` and a `name` (the username); ids and names are unique. A Thing
  needs an integer `id` equal to its file name's, a non-blank `name` and a `creator` with an
  integer `id` and a `name`. The creator must be one of the users, under the same name; if no
  user has that id, a user is made from the Thing's `creator` summary.
- The JSON given is served as given, except: URLs on Thingiverse's own hosts
  (`https://www.thingiverse.com`, `https://api.thingiverse.com`) are rewritten onto the sandbox's
  `public_url`, so links work (other hosts, e.g. the image CDN, are left alone); the link fields
  a Thing or user derives from its id or name (`url`, `public_url`, `files_url`, `images_url`,
  `ancestors_url`, ..., `things_url`, ...) are set to the sandbox's own; a Thing's `file_count`
  counts the files beside it; `current_app` is dropped from users (`/users/me` adds the token's).
  Keys the sandbox needs that are missing (e.g. `description`, `license`, a user's `full_name`)
  are filled in with neutral values.
- A Thing's `ancestors` that are Things of the seed are linked to them (served as those Things
  are now); the others are served as given.
- Files get ids from 3001 up, in Thing id order then file name order; their bytes are read into
  memory at start. Dotfiles are ignored.
Anything else is refused with a `SeedError` carrying one sentence. Without a directory, the
built-in seed (`seed`) is used.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from thingapp.sandbox.world.licenses import LICENSES, License
from thingapp.sandbox.world.objects import (
    ThingCounts,
    UserFacts,
    file_date,
    file_object,
    now_iso,
    thing_object,
    user_object,
    user_summary,
)
from thingapp.sandbox.world.state import JsonObject, StoredFile, World

FIRST_SEED_FILE_ID = 3001
_THINGIVERSE_ORIGIN = re.compile(r"^https?://(?:www|api)\.thingiverse\.com(?=[/?#]|$)")
_ID = re.compile(r"[1-9][0-9]{0,17}")
# The keys the sandbox itself reads (pages, summaries, editing); filled in when missing.
THING_KEYS_NEEDED = (
    "id", "name", "thumbnail", "url", "public_url", "creator", "added", "modified",
    "is_published", "is_wip", "is_private", "is_purchased", "like_count", "collect_count",
    "comment_count", "make_count", "tags", "is_nsfw", "description", "instructions",
    "description_html", "instructions_html", "license", "file_count",
)
_THING_LINKS = ("files", "images", "likes", "ancestors", "derivatives", "tags", "categories")
_USER_LINKS = ("url", "public_url", "things_url", "copies_url", "likes_url")
_USER_TEXTS = ("first_name", "last_name", "default_license", "location", "bio", "registered")
_USER_COUNTS = ("count_of_followers", "count_of_following", "count_of_designs")


class SeedError(ValueError):
    """A seed directory that can't be used; the message is one sentence saying why."""


def load_seed_dir(directory: str | Path, public_url: str) -> World:
    """A fresh world holding the directory's users, Things and files."""
    root = Path(directory)
    if not root.is_dir():
        raise SeedError(f"The seed directory {root} does not exist or is not a directory.")
    if not (root / "users").is_dir() and not (root / "things").is_dir():
        raise SeedError(
            f"The seed directory {root} has neither users/ nor things/ in it; "
            "see thingapp/sandbox/world/example_seed for the format."
        )
    loader = _Loader(root, public_url)
    for path in _entries(root / "users"):
        loader.add_user(path)
    things = _thing_paths(root)
    for thing_id, path in things:
        loader.add_thing(thing_id, path)
    if not loader.users:
        raise SeedError(f"The seed directory {root} seeds no user: add users/*.json or Things.")
    for thing_id, _ in things:
        loader.add_files(thing_id)
    return loader.world()


def _entries(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if not p.name.startswith("."))


def _thing_paths(root: Path) -> list[tuple[int, Path]]:
    found: list[tuple[int, Path]] = []
    for path in _entries(root / "things"):
        stem = path.name.removesuffix(".json") if path.is_file() else path.name
        if not _ID.fullmatch(stem) or (path.is_file() and not path.name.endswith(".json")):
            raise SeedError(
                f"things/{path.name} is neither a Thing's <id>.json nor its <id>/ folder of files."
            )
        if path.is_dir():
            if not (root / "things" / f"{stem}.json").is_file():
                raise SeedError(f"things/{stem}/ has no things/{stem}.json beside it.")
            extra = [p.name for p in _entries(path) if p.name != "files" or not p.is_dir()]
            if extra:
                raise SeedError(
                    f"things/{stem}/ holds {extra[0]}, but only a files/ folder goes there."
                )
        else:
            found.append((int(stem), path))
    return sorted(found)


class _Loader:
    """Builds the world's users, Things and files from the directory, checking as it goes."""

    def __init__(self, root: Path, public_url: str) -> None:
        self.root = root
        self.public_url = public_url
        self.users: dict[int, JsonObject] = {}
        self.things: dict[int, JsonObject] = {}
        self.files: dict[int, StoredFile] = {}
        self.ancestors: dict[int, list[JsonObject]] = {}

    def _read(self, path: Path) -> JsonObject:
        where = path.relative_to(self.root).as_posix()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as error:
            raise SeedError(f"{where} is not UTF-8 text.") from error
        except json.JSONDecodeError as error:
            raise SeedError(f"{where} is not valid JSON: {error.msg} at line {error.lineno}.") \
                from error
        if not isinstance(data, dict):
            raise SeedError(f"{where} must hold one JSON object.")
        rewritten: JsonObject = self._rewrite(data)
        return rewritten

    def _rewrite(self, value: Any) -> Any:
        """`value` with every URL on Thingiverse's own hosts moved onto the sandbox."""
        if isinstance(value, dict):
            return {key: self._rewrite(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._rewrite(item) for item in value]
        if isinstance(value, str):
            return _THINGIVERSE_ORIGIN.sub(self.public_url, value, count=1)
        return value

    def add_user(self, path: Path) -> None:
        where = path.relative_to(self.root).as_posix()
        if not path.is_file() or path.suffix != ".json":
            raise SeedError(f"{where} is not a .json file; users/ holds one user object per file.")
        given = self._read(path)
        given.pop("current_app", None)
        self._add_user(given, where)

    def _add_user(self, given: JsonObject, where: str) -> JsonObject:
        user_id, name = given.get("id"), given.get("name")
        if not isinstance(user_id, int) or isinstance(user_id, bool) \
                or not isinstance(name, str) or not _plain_name(name):
            raise SeedError(f"{where} needs an integer id and a username as name.")
        if user_id in self.users:
            raise SeedError(f"{where} has the id {user_id}, which another user already has.")
        if any(u["name"].casefold() == name.casefold() for u in self.users.values()):
            raise SeedError(f"{where} has the name {name}, which another user already has.")
        texts = {k: given[k] for k in _USER_TEXTS if isinstance(given.get(k), str)}
        counts = {k: given[k] for k in _USER_COUNTS if _is_int(given.get(k))}
        base = user_object(UserFacts(id=user_id, name=name, **texts, **counts), self.public_url)
        user = {**base, **given, **{key: base[key] for key in _USER_LINKS}}
        self.users[user_id] = user
        return user

    def add_thing(self, thing_id: int, path: Path) -> None:
        where = path.relative_to(self.root).as_posix()
        given = self._read(path)
        if given.get("id") != thing_id or not _is_int(given.get("id")):
            raise SeedError(f"{where} must have the id {thing_id}, as its file name says.")
        name = given.get("name")
        if not isinstance(name, str) or not name.strip():
            raise SeedError(f"{where} needs a non-blank name.")
        for key in ("description", "instructions", "license"):
            if key in given and not isinstance(given[key], str):
                raise SeedError(f"{where} has a {key} that is not a string.")
        creator = self._creator(given.get("creator"), where)
        base = thing_object(
            thing_id=thing_id,
            name=name,
            creator=creator,
            license=_license(given.get("license")),
            description=given.get("description", ""),
            instructions=given.get("instructions", ""),
            tags=[],
            added=given["added"] if isinstance(given.get("added"), str) else now_iso(),
            public_url=self.public_url,
            counts=ThingCounts(),
        )
        thing = {**{k: base[k] for k in THING_KEYS_NEEDED if k not in given}, **given}
        thing["creator"] = creator
        for key in ("url", "public_url", *(f"{link}_url" for link in _THING_LINKS)):
            thing[key] = base[key]
        if "layouts_url" in thing:
            thing["layouts_url"] = base["layouts_url"]
        self.ancestors[thing_id] = self._ancestors(given.get("ancestors", []), where)
        self.things[thing_id] = thing

    def _creator(self, creator: Any, where: str) -> JsonObject:
        if not isinstance(creator, dict) or not _is_int(creator.get("id")) \
                or not isinstance(creator.get("name"), str):
            raise SeedError(f"{where} needs a creator with an integer id and a name.")
        user = self.users.get(creator["id"])
        if user is None:
            user = self._add_user(_user_from_summary(creator), f"{where}'s creator")
        elif user["name"] != creator["name"]:
            raise SeedError(
                f"{where} names its creator {creator['name']}, but user {user['id']} is "
                f"{user['name']}."
            )
        return {**user_summary(user), **creator, "url": user["url"],
                "public_url": user["public_url"]}

    def _ancestors(self, ancestors: Any, where: str) -> list[JsonObject]:
        if not isinstance(ancestors, list) or not all(
            isinstance(a, dict) and _is_int(a.get("id")) for a in ancestors
        ):
            raise SeedError(f"{where} has ancestors that are not a list of Thing summaries.")
        return ancestors

    def add_files(self, thing_id: int) -> None:
        folder = self.root / "things" / str(thing_id) / "files"
        thing = self.things[thing_id]
        paths = _entries(folder)
        for number, path in enumerate(paths):
            if not path.is_file():
                raise SeedError(f"things/{thing_id}/files/{path.name} is not a file.")
            file_id = FIRST_SEED_FILE_ID + len(self.files)
            content = path.read_bytes()
            data = file_object(
                file_id=file_id,
                name=path.name,
                size=len(content),
                date=file_date(thing["added"]),
                public_url=self.public_url,
                downloads=17 * (number + 1),
                md5=hashlib.md5(content).hexdigest(),  # older files: hex
            )
            self.files[file_id] = StoredFile(thing_id, data, content)
        thing["file_count"] = len(paths)

    def world(self) -> World:
        ancestor_ids: dict[int, list[int]] = {}
        outside: dict[int, JsonObject] = {}
        for thing_id, summaries in self.ancestors.items():
            ancestor_ids[thing_id] = [summary["id"] for summary in summaries]
            for summary in summaries:
                if summary["id"] not in self.things:
                    outside[summary["id"]] = summary
        return World(users=self.users, things=self.things, files=self.files,
                     ancestor_ids=ancestor_ids, outside_summaries=outside)


def _user_from_summary(creator: JsonObject) -> JsonObject:
    """A user object's fields from a Thing's `creator` summary (`cover` is `cover_image`)."""
    user = {key: value for key, value in creator.items() if key != "cover"}
    if "cover" in creator:
        user["cover_image"] = creator["cover"]
    return user


def _license(display: Any) -> License:
    known = {lic.display: lic for lic in LICENSES.values()}
    if isinstance(display, str):
        return known.get(display, License(display, False))
    return LICENSES["cc"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plain_name(name: str) -> bool:
    return bool(name.strip()) and not any(c in name for c in "/?#") and name.isprintable()
