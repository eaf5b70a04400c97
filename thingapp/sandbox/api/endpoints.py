"""The api side, reading single objects: a Thing, a file, the current user, a user by name, the
download redirect; and the plumbing every API endpoint shares (see `listing` for the paginated
lists, `editing` and `uploads` for writes).

Every endpoint wants `Authorization: Bearer TOKEN` with a live token of any client (a query
`access_token` is not accepted: tokens don't belong in URLs; a revoked token is dead). Errors are
JSON `{"error": ...}` with the same text in `X-Error`, as older clients read. Every answer
carries `X-RateLimit-Remaining`, counted per token (per client address when there is no live
token) in fixed windows (see `ratelimit`); past the limit the API answers 429
`{"error": "Too Many Requests"}` with `Retry-After` (seconds until the window closes).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from thingapp.sandbox.context import SandboxContext, context_of
from thingapp.sandbox.http import error_response, storage_url
from thingapp.sandbox.world.objects import PLACEHOLDER_IMAGE, thing_summary
from thingapp.sandbox.world.state import Grant, JsonObject, World

ApiHandler = Callable[[Request, SandboxContext, Grant], Awaitable[Response]]


class ApiError(Exception):
    """An error answer of the API: HTTP status and Thingiverse's message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def not_found() -> ApiError:
    """The answer for an unknown (or deleted) Thing or file."""
    return ApiError(404, "Not Found")


def forbidden() -> ApiError:
    """The answer to a request on another user's Thing or file."""
    return ApiError(403, "Forbidden")


def api_endpoint(handler: ApiHandler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler with Bearer authentication, rate counting and error mapping."""

    async def endpoint(request: Request) -> Response:
        context = context_of(request)
        token = _bearer_token(request)
        grant = context.world.grant_for(token) if token else None
        # Key the counter by the token only once it is known live, so junk tokens share one bucket.
        host = request.client.host if request.client else "unknown"
        rate_key = token if grant else f"address:{host}"
        spent = context.rate.spend(rate_key)
        response: Response
        if spent.over_limit:
            response = error_response(429, "Too Many Requests")
            response.headers["Retry-After"] = spent.retry_after
        elif grant is None:
            response = error_response(401, "Unauthorized")
        else:
            try:
                response = await handler(request, context, grant)
            except ApiError as error:
                response = error_response(error.status, error.message)
        response.headers["X-RateLimit-Remaining"] = str(spent.remaining)
        return response

    return endpoint


def _bearer_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def id_param(request: Request, name: str = "id") -> int:
    # Ids are matched as text so that /things/abc is the API's JSON 404, not the router's.
    raw = str(request.path_params[name])
    if not raw.isdigit():
        raise not_found()
    return int(raw)


def thing_id_param(request: Request, context: SandboxContext) -> int:
    """The id of the Thing in the path; 404 unless it exists."""
    thing_id = id_param(request)
    if thing_id not in context.world.things:
        raise not_found()
    return thing_id


def check_owner(world: World, thing_id: int, grant: Grant) -> None:
    """403 unless the token's user made the Thing."""
    if world.things[thing_id]["creator"]["id"] != grant.user_id:
        raise forbidden()


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body; 400 for anything else."""
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, "The body must be a JSON object.") from error
    if not isinstance(body, dict):
        raise ApiError(400, "The body must be a JSON object.")
    return body


def render_thing(world: World, thing_id: int) -> JsonObject:
    """The Thing object as served: its ancestors as summaries of those Things as they are now."""
    return {
        **world.things[thing_id],
        "is_derivative": bool(world.ancestor_ids.get(thing_id)),
        "ancestors": ancestor_summaries(world, thing_id),
    }


def ancestor_summaries(world: World, thing_id: int) -> list[JsonObject]:
    """Summaries of the Thing's ancestors that still exist, in the order they were given."""
    summaries = []
    for ancestor in world.ancestor_ids.get(thing_id, []):
        if ancestor in world.things:
            summaries.append(thing_summary(world.things[ancestor]))
        elif ancestor in world.outside_summaries:  # named by a seeded Thing, served as given
            summaries.append(world.outside_summaries[ancestor])
    return summaries


async def get_thing(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """GET /things/{id}: the Thing object."""
    return JSONResponse(render_thing(context.world, thing_id_param(request, context)))


async def get_file(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """GET /files/{id}: one file object."""
    stored = context.world.files.get(id_param(request))
    if stored is None:
        raise not_found()
    return JSONResponse(stored.data)


async def download_file(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """GET /files/{id}/download: 302 to storage (which refuses requests carrying Authorization)."""
    file_id = id_param(request)
    stored = context.world.files.get(file_id)
    if stored is None:
        raise not_found()
    url = storage_url(context.config.public_url, file_id, stored.data["name"])
    return RedirectResponse(url, status_code=302)


async def get_user(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """GET /users/{username}: the user object (as `/users/me` has it, without `current_app`)."""
    user = context.world.user_named(str(request.path_params["username"]))
    if user is None:
        raise not_found()
    return JSONResponse(user)


async def get_me(request: Request, context: SandboxContext, grant: Grant) -> Response:
    """GET /users/me: the token's user, with `current_app` naming the client it was issued to."""
    user: dict[str, Any] = dict(context.world.users[grant.user_id])
    index, client = next(
        (i, c) for i, c in enumerate(context.config.clients) if c.client_id == grant.client_id
    )
    app_id = 4001 + index
    public_url = context.config.public_url
    user["current_app"] = {
        "id": app_id,
        "name": client.name,
        "url": f"{public_url}/apps/{app_id}",
        "public_url": f"{public_url}/app:{app_id}",
        "thumbnail": public_url + PLACEHOLDER_IMAGE,
        "is_published": False,
        "is_approved": False,
    }
    return JSONResponse(user)
