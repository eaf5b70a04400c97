"""The api side, writing Things: create, update, delete and publish.

Bodies are JSON objects. Fields (all optional on `PATCH`; `name`, `license` and `category`
required on create): `name` (non-blank), `license` (a code of the sandbox's licence table),
`category` (a full category name from `CATEGORIES`), `description`, `instructions`, `is_wip`
(bool), `tags` (list of strings), `ancestors` (list of ids of existing Things), `is_remix` (bool).
Unknown fields are ignored, as Thingiverse does; a field of the wrong type is a 400 with a
sentence. Only a Thing's creator may change, delete or publish it (403 otherwise).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from thingapp.sandbox.api.endpoints import (
    ApiError,
    check_owner,
    json_body,
    render_thing,
    thing_id_param,
)
from thingapp.sandbox.context import SandboxContext
from thingapp.sandbox.world.licenses import LICENSES
from thingapp.sandbox.world.objects import (
    ThingCounts,
    now_iso,
    set_texts,
    tag_object,
    thing_object,
    user_summary,
)
from thingapp.sandbox.world.state import Grant, JsonObject, World

# Thingiverse's top-level categories, plus two of the sub-categories apps commonly name.
CATEGORIES = (
    "3D Printing",
    "3D Printer Parts",
    "3D Printer Accessories",
    "Art",
    "Fashion",
    "Gadgets",
    "Hobby",
    "Household",
    "Learning",
    "Models",
    "Tools",
    "Toys & Games",
    "Other",
)
REQUIRED_ON_CREATE = ("name", "license", "category")


def check_thing_fields(
    body: dict[str, Any], world: World, *, creating: bool, thing_id: int | None = None
) -> dict[str, Any]:
    """The known fields of a create or update body, checked; raises a 400 `ApiError`."""
    if creating:
        for key in REQUIRED_ON_CREATE:
            if key not in body:
                raise ApiError(400, f"The field {key} is required.")
    fields: dict[str, Any] = {}
    if "name" in body:
        if not isinstance(body["name"], str) or not body["name"].strip():
            raise ApiError(400, "The name must be a non-blank string.")
        fields["name"] = body["name"]
    if "license" in body:
        if not isinstance(body["license"], str) or body["license"] not in LICENSES:
            raise ApiError(400, f"The license must be one of the codes {', '.join(LICENSES)}.")
        fields["license"] = body["license"]
    if "category" in body:
        if not isinstance(body["category"], str) or body["category"] not in CATEGORIES:
            raise ApiError(400, f"The category must be one of {', '.join(CATEGORIES)}.")
        fields["category"] = body["category"]
    for key in ("description", "instructions"):
        if key in body:
            if not isinstance(body[key], str):
                raise ApiError(400, f"The {key} must be a string.")
            fields[key] = body[key]
    for key in ("is_wip", "is_remix"):
        if key in body:
            if not isinstance(body[key], bool):
                raise ApiError(400, f"The field {key} must be true or false.")
            fields[key] = body[key]
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
            raise ApiError(400, "The tags must be a list of non-blank strings.")
        fields["tags"] = list(dict.fromkeys(tags))
    if "ancestors" in body:
        fields["ancestors"] = _check_ancestors(body["ancestors"], world, thing_id)
    return fields


def _check_ancestors(ancestors: Any, world: World, thing_id: int | None) -> list[int]:
    if not isinstance(ancestors, list) or not all(
        isinstance(a, int) and not isinstance(a, bool) for a in ancestors
    ):
        raise ApiError(400, "The ancestors must be a list of Thing ids (integers).")
    for ancestor in ancestors:
        if ancestor not in world.things:
            raise ApiError(400, f"The ancestor {ancestor} is not an existing Thing.")
        if ancestor == thing_id:
            raise ApiError(400, "A Thing cannot be its own ancestor.")
    return list(dict.fromkeys(ancestors))


async def create_thing(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """POST /things/: a new unpublished Thing of the token's user (ids from 9001 up)."""
    world = context.world
    fields = check_thing_fields(await json_body(request), world, creating=True)
    thing_id = world.new_thing_id()
    public_url = context.config.public_url
    thing = thing_object(
        thing_id=thing_id,
        name=fields["name"],
        creator=user_summary(world.users[grant.user_id]),
        license=LICENSES[fields["license"]],
        description=fields.get("description", ""),
        instructions=fields.get("instructions", ""),
        tags=fields.get("tags", []),
        added=now_iso(),
        public_url=public_url,
        counts=ThingCounts(),
        is_published=0,
        is_wip=int(fields.get("is_wip", True)),
    )
    thing["is_remix"] = fields.get("is_remix", False)
    world.things[thing_id] = thing
    world.categories[thing_id] = fields["category"]
    world.ancestor_ids[thing_id] = fields.get("ancestors", [])
    return JSONResponse(render_thing(world, thing_id))


async def update_thing(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """PATCH /things/{id}: change the given fields of the user's own Thing."""
    world = context.world
    thing_id = thing_id_param(request, context)
    check_owner(world, thing_id, grant)
    fields = check_thing_fields(await json_body(request), world, creating=False, thing_id=thing_id)
    _apply(world.things[thing_id], fields, context.config.public_url)
    if "category" in fields:
        world.categories[thing_id] = fields["category"]
    if "ancestors" in fields:
        world.ancestor_ids[thing_id] = fields["ancestors"]
    return JSONResponse(render_thing(world, thing_id))


def _apply(thing: JsonObject, fields: dict[str, Any], public_url: str) -> None:
    if "name" in fields:
        thing["name"] = fields["name"]
    if "license" in fields:
        license = LICENSES[fields["license"]]
        thing["license"] = license.display
        thing["allows_derivatives"] = license.allows_derivatives
    if "description" in fields or "instructions" in fields:
        set_texts(
            thing,
            description=str(fields.get("description", thing["description"]) or ""),
            instructions=str(fields.get("instructions", thing["instructions"]) or ""),
        )
    if "is_wip" in fields:
        thing["is_wip"] = int(fields["is_wip"])
    if "tags" in fields:
        thing["tags"] = [tag_object(tag, public_url) for tag in fields["tags"]]
    if "is_remix" in fields:
        thing["is_remix"] = fields["is_remix"]
    thing["modified"] = now_iso()


async def delete_thing(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """DELETE /things/{id}: remove the user's own Thing with its files; answers the Thing."""
    world = context.world
    thing_id = thing_id_param(request, context)
    check_owner(world, thing_id, grant)
    thing = render_thing(world, thing_id)
    world.delete_thing(thing_id)
    return JSONResponse(thing)


async def publish_thing(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """POST /things/{id}/publish: publish the user's own Thing, or 400 `{"errors": [...]}`."""
    world = context.world
    thing_id = thing_id_param(request, context)
    check_owner(world, thing_id, grant)
    thing = world.things[thing_id]
    errors = [
        sentence
        for text, sentence in (
            (thing["name"], "Name is required."),
            (thing["description"], "Description is required."),
        )
        if not text.strip()
    ]
    if errors:
        headers = {"X-Error": " ".join(errors)}
        return JSONResponse({"errors": errors}, status_code=400, headers=headers)
    thing["is_published"], thing["is_wip"] = 1, 0
    thing["modified"] = now_iso()
    return JSONResponse(render_thing(world, thing_id))
