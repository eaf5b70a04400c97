"""The api side's lists, paginated (see `paging`): a Thing's files and ancestors, a user's Things.

Each is an `api.api_endpoint` handler: Bearer token, rate counting and JSON errors as everywhere.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from thingapp.sandbox.api.endpoints import ancestor_summaries, not_found, thing_id_param
from thingapp.sandbox.api.paging import paged_response
from thingapp.sandbox.context import SandboxContext
from thingapp.sandbox.world.objects import category_object, thing_summary
from thingapp.sandbox.world.state import Grant


async def get_thing_files(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """GET /things/{id}/files: the Thing's file objects (finalized uploads only), in id order."""
    files = context.world.files_of(thing_id_param(request, context))
    return paged_response(request, [stored.data for stored in files])


async def get_thing_images(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """GET /things/{id}/images: summaries of the Thing's images, in id order."""
    images = context.world.images_of(thing_id_param(request, context))
    return JSONResponse([stored.data for stored in images])


async def get_thing_categories(request: Request, context: SandboxContext,
                               grant: Grant) -> Response:
    """GET /things/{id}/categories: the categories the Thing is in (one, here)."""
    thing_id = thing_id_param(request, context)
    name = context.world.categories.get(thing_id, "Other")
    return JSONResponse([category_object(name, context.config.public_url)])


async def get_ancestors(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """GET /things/{id}/ancestors: summaries of the Things it derives from; [] when none."""
    ancestors = ancestor_summaries(context.world, thing_id_param(request, context))
    return paged_response(request, ancestors)


async def get_user_things(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """GET /users/{username}/things: summaries of the user's Things, newest (highest id) first.

    As Thingiverse documents it, unpublished Things are listed only to their creator; an unknown
    user is a 404.
    """
    world = context.world
    user = world.user_named(str(request.path_params["username"]))
    if user is None:
        raise not_found()
    own = user["id"] == grant.user_id
    things = [
        thing_summary(thing)
        for _, thing in sorted(world.things.items(), reverse=True)
        if thing["creator"]["id"] == user["id"] and (own or thing["is_published"])
    ]
    return paged_response(request, things)
