"""The site's HTML pages: the index, Thing pages embedding the app, and message pages."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from thingapp.sandbox.api.endpoints import ancestor_summaries
from thingapp.sandbox.context import context_of
from thingapp.sandbox.www.bridge import SHIPPING_ADDRESS

# What Thingiverse's iframe allows by default (downloads included, so an app can offer a file
# from inside the frame); `?popups=0` drops the popup flags so an app's in-frame sign-in fallback
# can be exercised.
IFRAME_SANDBOX = "allow-scripts allow-same-origin allow-forms allow-downloads"
IFRAME_POPUP_FLAGS = "allow-popups allow-popups-to-escape-sandbox"
# Whether Thingiverse's iframe lets the app ask for the Storage Access API is not known;
# `?storage_access=1` adds the flag so that an app's fallback to it can be exercised.
IFRAME_STORAGE_ACCESS_FLAG = "allow-storage-access-by-user-activation"


def message_page(request: Request, title: str, sentence: str, status: int) -> Response:
    """A small HTML page carrying one sentence (used for every HTML error)."""
    return context_of(request).templates.TemplateResponse(
        request, "message.html", {"title": title, "sentence": sentence}, status_code=status
    )


async def index(request: Request) -> Response:
    """GET /: every Thing (seeded or made through the API; linked to its page) and the users."""
    context = context_of(request)
    world = context.world
    return context.templates.TemplateResponse(
        request,
        "index.html",
        {"things": list(world.things.values()), "users": list(world.users.values())},
    )


async def thing_page(request: Request) -> Response:
    """GET /thing:{id}: the Thing, with the app embedded in an iframe.

    `?popups=0` drops the iframe's popup permissions; `?storage_access=1` lets the iframe ask for
    the Storage Access API; `?launch_as=USER_ID` mints a code for that
    user and the embedded app and launches the app with `&code=` (the legacy SDK launch).
    The page hosts the parent-frame bridge (see `bridge`): the iframe's `data-app-origin` names
    the only origin whose messages it answers.
    """
    context = context_of(request)
    thing_id: int = request.path_params["id"]
    thing = context.world.things.get(thing_id)
    if thing is None:
        return message_page(
            request, "Thing not found", f"There is no Thing {thing_id} in the sandbox.", 404
        )
    launch: dict[str, str | int] = {"thing_id": thing_id}
    launch_as = request.query_params.get("launch_as")
    if launch_as is not None:
        if not launch_as.isdigit() or int(launch_as) not in context.world.users:
            return message_page(
                request, "Unknown user", "Set launch_as to the id of a seeded user, e.g. 1001.", 400
            )
        app = context.config.clients[0]
        launch["code"] = context.world.issue_code(app.client_id, int(launch_as), app.redirect_uri)
    popups = request.query_params.get("popups") != "0"
    flags = f"{IFRAME_SANDBOX} {IFRAME_POPUP_FLAGS}" if popups else IFRAME_SANDBOX
    if request.query_params.get("storage_access") == "1":
        flags += f" {IFRAME_STORAGE_ACCESS_FLAG}"
    return context.templates.TemplateResponse(
        request,
        "thing.html",
        {
            "thing": thing,
            "ancestors": ancestor_summaries(context.world, thing_id),
            "files": [stored.data for stored in context.world.files_of(thing_id)],
            "users": list(context.world.users.values()),
            "iframe_src": f"{context.config.app_url}/?{urlencode(launch)}",
            "iframe_sandbox": flags,
            "popups": popups,
            "app_origin": context.config.app_origin,
            "address": SHIPPING_ADDRESS,
        },
    )
