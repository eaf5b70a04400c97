"""The sandbox: one Starlette app standing in for www.thingiverse.com and api.thingiverse.com.

Routes, at a glance (the method and path template of each is its key for fault injection):

    www (site and OAuth)
      GET  /                              index of every Thing (seeded or created) and the users
      GET  /thing:{id:int}                Thing page embedding the app, hosting the parent-frame
                                          bridge (see `bridge`) (?popups=0, ?launch_as=USER_ID)
      GET  /login/oauth/authorize         "Authorize {app}" page: pick a seeded user, Agree or Deny
      POST /login/oauth/authorize         303 back to the app (#access_token=... or ?code=...)
      POST /login/oauth/tokeninfo         form access_token -> {"audience", "user_id"}
      POST /login/oauth/access_token      form client_id, client_secret, code -> form-encoded token
      GET  /download:{file_id:int}        public download link -> storage
    api (Authorization: Bearer TOKEN; errors {"error": ...} with X-Error; X-RateLimit-Remaining
         on every answer, 429 with Retry-After past the limit (see `ratelimit`); CORS for the
         registered app origins (see `cors`); lists paginated with ?page, ?per_page and a Link
         header (see `paging`))
      GET    /things/{id}                 the Thing
      GET    /things/{id}/files           its files (finalized uploads only), paginated
      GET    /things/{id}/ancestors       summaries of the Things it derives from ([] if none),
                                          paginated
      GET    /files/{id}, /files/{id}/download, /users/me
      GET    /users/{username}            the user object
      GET    /users/{username}/things     summaries of the user's Things, newest first, paginated
                                          (unpublished ones only to their creator)
      POST   /things/                     create: {"name", "license" (code), "category", ...}
                                          -> the new Thing (ids from 9001, unpublished, WIP)
      PATCH  /things/{id}                 owner: change any of the create fields -> the Thing
      DELETE /things/{id}                 owner: remove it with its files -> the deleted Thing
      POST   /things/{id}/publish         owner: -> the Thing, or 400 {"errors": [sentences]}
      POST   /things/{id}/files           owner: {"filename"} -> {"action", "fields"}, the storage
                                          form for one upload (file ids from 8001)
      POST   /files/{id}/finalize         owner, after storage has the bytes: -> the file object;
                                          only now is it listed on its Thing
    storage (no Authorization header allowed, like S3; errors are S3 XML)
      GET  /storage/{file_id}/{name}      a file's bytes
      POST /storage-upload                multipart form: the issued fields, in order, then
                                          `file` last -> 303 to success_action_redirect (or 200
                                          empty, per SandboxConfig.storage_success_status)
    scripting (not Thingiverse; for tests, scripts and the bridge's dialogs)
      POST /sandbox/tokens         {"user_id": 1001, "client_id": "thingapp-demo"}
                                   -> 201 {"access_token"}
      POST /sandbox/codes          same body -> 201 {"code"}
      POST /sandbox/tokens/revoke  {"access_token": "..."} -> 200 {"revoked": true|false}; the
                                   token is dead for tokeninfo and every API route from then on
      GET  /sandbox/requests       [{"method", "path", "status"}, ...] of every other request
                                   (status 0: dropped or timed out without an answer)
      POST /sandbox/faults         {"route": "POST /storage-upload", "kind": null,
                                    "latency_ms": 0, "status": null, "bytes_per_second": null,
                                    "times": null, "body": null}
                                   -> 201 the fault (see `faults`: kinds status, drop, timeout,
                                   malformed); unknown route -> 400
      GET  /sandbox/faults         the active faults
      DELETE /sandbox/faults       clear them -> {"cleared": N}
      GET  /sandbox/things/{id}/files  [{"id", "name"}] of a Thing, for the file_select dialog
      POST /sandbox/orders         a payment made in the bridge's dialog -> 201 {"order_id"}
      GET  /sandbox/orders         the payments made

The world is the built-in seed (`seed`), or a seed directory's (`SandboxConfig.seed_dir`, see
`seed_dir`). Example, minting a token for Mara and reading a Thing with it:

    token = client.post("/sandbox/tokens", json={"user_id": 1001, "client_id": "thingapp-demo"})
    client.get("/things/2001", headers={"Authorization": f"Bearer {token.json()['access_token']}"})

The request log never holds a token: query strings are dropped and token-shaped path segments
are replaced by "[redacted]". Uploaded bytes live in a temporary directory of the app instance,
removed at shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from thingapp.sandbox.api import editing, listing, uploads
from thingapp.sandbox.api import endpoints as api
from thingapp.sandbox.api.cors import CorsMiddleware
from thingapp.sandbox.api.ratelimit import RateLimiter
from thingapp.sandbox.config import SandboxClient, SandboxConfig, default_config
from thingapp.sandbox.context import SandboxContext
from thingapp.sandbox.harness import scripting
from thingapp.sandbox.harness.connection import SandboxStarlette
from thingapp.sandbox.harness.faults import (
    Fault,
    FaultMiddleware,
    FaultTable,
    check_route,
    route_keys,
)
from thingapp.sandbox.harness.request_log import RequestLogMiddleware
from thingapp.sandbox.storage import files as storage
from thingapp.sandbox.world.seed import build_world
from thingapp.sandbox.world.seed_dir import load_seed_dir
from thingapp.sandbox.world.state import World
from thingapp.sandbox.www import bridge, oauth, pages

__all__ = ["SandboxClient", "SandboxConfig", "create_sandbox_app", "default_config"]

WWW = "thingapp.sandbox.www"  # the package holding the www host's templates/ and static/
# The sandbox takes small forms and JSON only (storage's upload form has its own limit, checked
# as it streams); anything bigger is a client bug.
MAX_BODY_BYTES = 64 * 1024


def _route(path: str, endpoint: Callable[..., Any], *methods: str) -> Route:
    return Route(path, endpoint, methods=list(methods) or None, max_body_size=MAX_BODY_BYTES)


def _api_routes() -> list[Route]:
    """The api host's routes, each behind `api.api_endpoint`."""
    endpoint = api.api_endpoint
    return [
        _route("/things/", endpoint(editing.create_thing), "POST"),
        _route("/things/{id}", endpoint(api.get_thing), "GET"),
        _route("/things/{id}", endpoint(editing.update_thing), "PATCH"),
        _route("/things/{id}", endpoint(editing.delete_thing), "DELETE"),
        _route("/things/{id}/files", endpoint(listing.get_thing_files), "GET"),
        _route("/things/{id}/files", endpoint(uploads.start_upload), "POST"),
        _route("/things/{id}/ancestors", endpoint(listing.get_ancestors), "GET"),
        _route("/things/{id}/publish", endpoint(editing.publish_thing), "POST"),
        # The current upload pair; uploadFile carries the file itself, so no small-body limit.
        Route("/files/{id}/uploadFile", endpoint(uploads.upload_file), methods=["POST"]),
        _route("/files/{id}/FinalizeFiles", endpoint(uploads.finalize_files), "POST"),
        _route("/things/{id}/images", endpoint(listing.get_thing_images), "GET"),
        _route("/things/{id}/categories", endpoint(listing.get_thing_categories), "GET"),
        _route("/files/{id}", endpoint(api.get_file)),
        _route("/files/{id}/download", endpoint(api.download_file)),
        _route("/files/{id}/finalize", endpoint(uploads.finalize_upload), "POST"),
        _route("/users/me", endpoint(api.get_me)),
        _route("/users/{username}", endpoint(api.get_user)),
        _route("/users/{username}/things", endpoint(listing.get_user_things)),
    ]


def _world(config: SandboxConfig) -> World:
    if config.seed_dir is None:
        return build_world(config.public_url)
    return load_seed_dir(config.seed_dir, config.public_url)


def create_sandbox_app(config: SandboxConfig, faults: Sequence[Fault] = ()) -> Starlette:
    """Build a sandbox with a freshly seeded world of its own, and `faults` already set.

    Raises `seed_dir.SeedError` for a seed directory it can't use and `faults.BadFault` for a
    fault on a route it doesn't have (both ValueErrors carrying one sentence).
    """
    world = _world(config)
    templates = Jinja2Templates(
        env=jinja2.Environment(
            loader=jinja2.PackageLoader(WWW, "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    )
    api_routes = _api_routes()
    routes: list[BaseRoute] = [
        _route("/", pages.index),
        _route("/thing:{id:int}", pages.thing_page),
        _route("/login/oauth/authorize", oauth.authorize_page, "GET"),
        _route("/login/oauth/authorize", oauth.authorize_decision, "POST"),
        _route("/login/oauth/tokeninfo", oauth.tokeninfo, "POST"),
        _route("/login/oauth/access_token", oauth.access_token, "POST"),
        _route("/download:{file_id:int}", storage.public_download),
        *api_routes,
        _route("/storage/images/{image_id:int}/{name}", storage.serve_image),
        _route("/storage/{file_id}/{name}", storage.serve_file),
        Route("/storage-upload", storage.receive_upload, methods=["POST"]),
        _route("/sandbox/tokens", scripting.mint_token, "POST"),
        _route("/sandbox/codes", scripting.mint_code, "POST"),
        _route("/sandbox/tokens/revoke", scripting.revoke_token, "POST"),
        _route("/sandbox/corrupt-uploads", scripting.corrupt_uploads, "POST"),
        _route("/sandbox/requests", scripting.request_log),
        _route("/sandbox/faults", scripting.set_fault, "POST"),
        _route("/sandbox/faults", scripting.list_faults, "GET"),
        _route("/sandbox/faults", scripting.clear_faults, "DELETE"),
        _route("/sandbox/things/{id}/files", bridge.thing_files),
        _route("/sandbox/orders", bridge.record_order, "POST"),
        _route("/sandbox/orders", bridge.list_orders, "GET"),
        Mount("/static", StaticFiles(packages=[(WWW, "static")]), name="static"),
    ]
    table = FaultTable()
    for fault in faults:
        check_route(fault.route, route_keys(routes))
        table.set(fault)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            world.blobs.close()

    app = SandboxStarlette(
        routes=routes,
        middleware=[
            Middleware(RequestLogMiddleware, world=world),
            Middleware(CorsMiddleware, origins=config.app_origins(), api_routes=api_routes),
            Middleware(FaultMiddleware, faults=table, routes=routes),
        ],
        lifespan=lifespan,
    )
    app.state.sandbox = SandboxContext(
        config=config,
        world=world,
        templates=templates,
        faults=table,
        rate=RateLimiter(config.rate_limit, config.rate_window_s),
    )
    return app


@dataclass(frozen=True)
class ThingListing:
    id: int
    name: str
    owner: str  # the creator's username
    license: str  # as the API shows it


def list_things(app: Starlette) -> list[ThingListing]:
    """Every Thing in a sandbox app's world, by id: what `thingapp demo` prints."""
    world = cast(SandboxContext, app.state.sandbox).world
    return [ThingListing(t["id"], t["name"], t["creator"]["name"], t["license"])
            for _, t in sorted(world.things.items())]

