"""The pages: the launch page the iframe shows, the OAuth callback page, a tool's script, and
the health check for load balancers."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from thingapp.signin import SignInError
from thingapp.thing_ids import parse_thing_ref
from thingapp.web.context import client_address, context_of
from thingapp.web.jsonresponse import JSONResponse
from thingapp.web.launch import TOOL_SCRIPT, thing_param

log = logging.getLogger("thingapp.pages")

async def launch(request: Request) -> Response:
    """`GET /?thing_id=N` (or `id`, or `thing` from the picker form; `code` from a legacy
    launch)."""
    app = context_of(request)
    plain = app.launch_pages.for_query(request.scope["query_string"])
    if plain is not None:  # the page every visitor of this Thing gets: made once per Thing
        app.reads.prefetch(plain.thing_id)  # with an app token: read while the user signs in
        return HTMLResponse(plain.page)
    templates = app.templates
    raw = thing_param(request.query_params)
    if raw is None:
        return templates.TemplateResponse(request, "picker.html", {"error": None})
    thing_id = parse_thing_ref(raw)
    if thing_id is None:
        return templates.TemplateResponse(
            request, "picker.html", status_code=400,
            context={"error": "That is not a Thing. Paste a Thing's address, such as "
                              "https://www.thingiverse.com/thing:2001, or its number."})
    app.reads.prefetch(thing_id)
    code = request.query_params.get("code")
    if not code:  # `code=` empty, or a long query: the plain page all the same
        return HTMLResponse(app.launch_pages.plain(thing_id))
    # Each ?code= costs a code exchange with the app's secret: counted per address.
    await app.limiter.hit(app.limiter.code_launches, "code-launches", client_address(request))
    context = app.launch_pages.context(thing_id)
    try:
        context["login"], verified = await app.signin.sign_in_with_code(code, thing_id)
        app.reads.remember(verified.user_id, verified.me)
    except SignInError as exc:
        context["error"] = exc.message
    return templates.TemplateResponse(request, "launch.html", context)


async def callback(request: Request) -> Response:
    """Where Thingiverse sends the user back; the page's script does the rest."""
    return context_of(request).templates.TemplateResponse(request, "callback.html", {})


async def tool_script(request: Request) -> Response:
    """`GET /tools/{tool_id}/form.js`: the browser code beside a tool's form, if it has any."""
    tool = context_of(request).tool(request.path_params["tool_id"])
    views = {view.id: view for view in context_of(request).launch_pages.tools}
    if tool is None or not views[tool.id].has_script:
        return JSONResponse({"error": "Not Found"}, status_code=404)
    return FileResponse(tool.folder / TOOL_SCRIPT, media_type="text/javascript")


async def healthz(request: Request) -> Response:
    """`GET /healthz` for load balancers: 200 when the store answers, 503 with a sentence when it
    does not. No auth, no secrets, no call to Thingiverse."""
    try:
        await context_of(request).store.ping()
    except Exception as exc:
        log.warning("health check: the store did not answer (%s)", type(exc).__name__)
        return JSONResponse({"ok": False, "error": "The app's store is not answering."},
                            status_code=503)
    return JSONResponse({"ok": True})
