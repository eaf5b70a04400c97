"""The HTML pages: the launch page the iframe shows, and the OAuth callback page."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from thingapp.settings import origin_of
from thingapp.signin import SignIn, SignInError
from thingapp.thing_ids import parse_thing_ref


async def launch(request: Request) -> Response:
    """`GET /?thing_id=N` (or `id`, or `thing` from the picker form; `code` from a legacy launch)."""
    templates = request.app.state.templates
    raw = next((request.query_params[k] for k in ("thing_id", "id", "thing")
                if request.query_params.get(k)), None)
    if raw is None:
        return templates.TemplateResponse(request, "picker.html", {"error": None})
    thing_id = parse_thing_ref(raw)
    if thing_id is None:
        return templates.TemplateResponse(
            request, "picker.html", status_code=400,
            context={"error": "That is not a Thing. Paste a Thing's address, such as "
                              "https://www.thingiverse.com/thing:2001, or its number."})
    request.app.state.reads.prefetch(thing_id)  # with an app token: read while the user signs in
    code = request.query_params.get("code")
    if not code:  # the page every visitor of this Thing gets: rendered once per Thing
        return HTMLResponse(request.app.state.launch_page(thing_id))
    context = launch_context(request.app, thing_id)
    signin: SignIn = request.app.state.signin
    try:
        context["login"] = await signin.sign_in_with_code(code, thing_id)
    except SignInError as exc:
        context["error"] = exc.message
    return templates.TemplateResponse(request, "launch.html", context)


def launch_context(app: Starlette, thing_id: int) -> dict[str, Any]:
    return {"thing_id": thing_id, "login": None, "error": None,
            "tools": list(app.state.tools.values()),
            "thingiverse_origin": origin_of(app.state.settings.thingiverse_url)}


def launch_page_cache(app: Starlette, size: int = 4096) -> Callable[[int], str]:
    """The plain launch page (no code, no error) by Thing id, rendered once and kept."""
    @lru_cache(maxsize=size)
    def render(thing_id: int) -> str:
        template = app.state.templates.get_template("launch.html")
        return str(template.render(launch_context(app, thing_id)))
    return render


async def callback(request: Request) -> Response:
    """Where Thingiverse sends the user back; the page's script does the rest."""
    return request.app.state.templates.TemplateResponse(request, "callback.html", {})
