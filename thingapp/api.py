"""The app's JSON endpoints, called by its own pages. Session auth is `Authorization: Bearer`."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from thingapp.actions import Action, choose_actions
from thingapp.failures import upstream_failure
from thingapp.jobs import JobRequest, Jobs, RemixRequest, job_view
from thingapp.jsonbody import BadRequest, read_json, read_limited
from thingapp.licenses import find_license, remix_licenses
from thingapp.reads import CachedReads
from thingapp.signin import MODES, SignIn, SignInError
from thingapp.store import JobRecord, SessionRecord, Store
from thingapp.thing_ids import MAX_THING_ID, parse_thing_ref
from thingapp.thingiverse import ThingiverseError
from thingapp.tools import Tool, ToolInputError
from thingapp.webhooks import MAX_WEBHOOK_BODY, BadWebhook, parse_event

REMIX_CATEGORIES = ("Other", "3D Printing", "Household", "Tools", "Toys & Games", "Hobby")
MAX_REMIX_NAME = 200

log = logging.getLogger("thingapp.api")


def _signin(request: Request) -> SignIn:
    signin: SignIn = request.app.state.signin
    return signin


async def start_login(request: Request) -> Response:
    """`POST /api/logins {thing_id?, mode?}` -> the claim (for this frame only) and where to go."""
    body = await read_json(request, {"thing_id": int, "mode": str}, required=set())
    thing_id = body.get("thing_id")
    if thing_id is not None and not 0 < thing_id <= MAX_THING_ID:
        raise BadRequest("thing_id is not a Thing id.")
    mode = body.get("mode", "popup")
    if mode not in MODES:
        raise BadRequest("mode must be 'popup' or 'frame'.")
    started = await _signin(request).start(thing_id, mode)
    return JSONResponse({"login_id": started.login_id, "claim": started.claim,
                         "authorize_url": started.authorize_url}, status_code=201)


async def complete_login(request: Request) -> Response:
    """`POST /api/callback`: what the callback page read from the URL fragment. Its
    Server-Timing header tells the time spent waiting for Thingiverse apart from the app's own."""
    started = time.perf_counter()
    timing: dict[str, float] = {}
    body = await read_json(request, {"state": str, "access_token": str, "token_type": str,
                                     "error": str, "error_description": str},
                           required={"state"})
    signin = _signin(request)
    if "error" in body:
        login = await signin.decline(body["state"])
        status = "denied"
    elif "access_token" in body:
        if body.get("token_type", "bearer").lower() != "bearer":
            raise BadRequest("token_type must be bearer.")
        login = await signin.complete(body["state"], body["access_token"], timing)
        status = "complete"
    else:
        raise BadRequest("Send access_token or error with the state.")
    return_to = f"/?thing_id={login.thing_id}" if login.thing_id else "/"
    upstream = timing.get("tokeninfo", 0.0)
    own = (time.perf_counter() - started) * 1000 - upstream
    return JSONResponse({"status": status, "mode": login.mode, "return_to": return_to},
                        headers={"Server-Timing": f"tokeninfo;dur={upstream:.2f}, "
                                                  f"app;dur={own:.2f}"})


async def claim_login(request: Request) -> Response:
    """`POST /api/logins/{login_id}/claim {claim}`: 202 while pending, then the session once."""
    body = await read_json(request, {"claim": str}, required={"claim"})
    claimed = await _signin(request).claim(request.path_params["login_id"], body["claim"])
    if claimed is None:
        return JSONResponse({"status": "pending"}, status_code=202)
    return JSONResponse({"status": "signed_in", "session_token": claimed.session_token,
                         "expires_in": claimed.expires_in})


async def current_session(request: Request) -> SessionRecord:
    """The session named by the request's `Authorization: Bearer` header, or a 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise SignInError(401, "Please connect your Thingiverse account first.", "signed_out")
    return await _signin(request).authenticate(token.strip())


class UpstreamFailed(Exception):
    """Thingiverse failed while serving a request; carries what to tell the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


async def _thing_and_files(request: Request, session: SessionRecord, thing_id: int,
                           *, with_me: bool = False) -> list[Any]:
    """The Thing, its files (and the user, for display), read side by side through the cache."""
    reads: CachedReads = request.app.state.reads
    calls = [reads.thing(session, thing_id), reads.files(session, thing_id)]
    if with_me:
        calls.append(reads.me(session))
    try:
        return list(await asyncio.gather(*calls))
    except ThingiverseError as exc:
        log.info("Thingiverse refused thing %s: %s", thing_id, exc)
        status, message = upstream_failure(exc, thing_id)
        if status == 401:
            await _signin(request).sign_out(session)
        raise UpstreamFailed(status, message) from exc


def _model_files(files: list[dict[str, Any]], tool: Tool) -> list[dict[str, Any]]:
    return [f for f in files if isinstance(f.get("id"), int) and isinstance(f.get("name"), str)
            and Path(f["name"]).suffix.lower() in tool.extensions]


def _tool(request: Request, tool_id: str | None = None) -> Tool:
    tools: dict[str, Tool] = request.app.state.tools
    if tool_id is None:
        return next(iter(tools.values()))
    if tool_id not in tools:
        raise BadRequest(f"There is no tool called {tool_id!r}.")
    return tools[tool_id]


async def context(request: Request) -> Response:
    """`GET /api/context?thing_id=N`: who is signed in, the Thing, its model files, and the
    actions on offer (with the licences a remix may take)."""
    session = await current_session(request)
    thing_id = parse_thing_ref(request.query_params.get("thing_id", ""))
    if thing_id is None:
        raise BadRequest("thing_id must be a Thing number.")
    thing, files, me = await _thing_and_files(request, session, thing_id, with_me=True)
    choice = choose_actions(thing, session.user_id)
    creator = thing.get("creator") if isinstance(thing.get("creator"), dict) else {}
    settings = request.app.state.settings
    tool = _tool(request)
    body: dict[str, Any] = {
        "user": {"id": session.user_id, "name": str(me.get("name") or session.user_id)},
        "thing": {"id": thing_id, "name": str(thing.get("name") or f"Thing {thing_id}"),
                  "creator": str(creator.get("name") or "unknown"),
                  "license": str(thing.get("license") or "unknown licence"),
                  "url": f"{settings.thingiverse_url}/thing:{thing_id}"},
        "actions": [{"id": a.value, "label": a.label} for a in choice.actions],
        "reason": choice.reason,
        "tool": {"id": tool.id, "label": tool.label},
        "files": [{"id": f["id"], "name": f["name"], "size": f.get("size")}
                  for f in _model_files(files, tool)],
    }
    if Action.REMIX in choice.actions:
        body["remix"] = {
            "name": f"Remix of {body['thing']['name']}"[:MAX_REMIX_NAME],
            "licenses": [{"code": code, "label": find_license(code).display}  # type: ignore[union-attr]
                         for code in remix_licenses(thing.get("license"))],
            "categories": list(REMIX_CATEGORIES),
        }
    return JSONResponse(body)


def _remix_request(raw: object, thing: dict[str, Any]) -> RemixRequest:
    if not isinstance(raw, dict):
        raise BadRequest("A remix needs a name, a licence and a category.")
    name, code = raw.get("name"), raw.get("license")
    category, publish = raw.get("category", "Other"), raw.get("publish", False)
    if set(raw) - {"name", "license", "category", "publish"}:
        raise BadRequest("The remix takes only name, license, category and publish.")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_REMIX_NAME:
        raise BadRequest(f"Give the remix a name of 1 to {MAX_REMIX_NAME} characters.")
    allowed = remix_licenses(thing.get("license"))
    if code not in allowed:
        raise BadRequest("The remix must keep a licence the original allows: "
                         + ", ".join(allowed) + ".")
    if category not in REMIX_CATEGORIES:
        raise BadRequest("Choose one of the offered categories.")
    if not isinstance(publish, bool):
        raise BadRequest("publish must be true or false.")
    return RemixRequest(name.strip(), str(code), str(category), publish)


async def start_job(request: Request) -> Response:
    """`POST /api/jobs`: make a file from one of the Thing's models and carry out an action.
    Everything the page says is checked again here: the action against the guidelines, the file
    against the Thing, the options against the tool, the remix licence against the parent's."""
    session = await current_session(request)
    body = await read_json(request, {"thing_id": int, "file_id": int, "tool": str,
                                     "options": dict, "action": str, "remix": dict},
                           required={"thing_id", "file_id", "action"})
    tool = _tool(request, body.get("tool"))
    try:
        action = Action(body["action"])
    except ValueError:
        raise BadRequest("action must be post, remix or download.") from None
    thing_id = body["thing_id"]
    if not 0 < thing_id <= MAX_THING_ID:
        raise BadRequest("thing_id is not a Thing id.")
    thing, files = await _thing_and_files(request, session, thing_id)
    choice = choose_actions(thing, session.user_id)
    if action not in choice.actions:
        return JSONResponse({"error": f"{action.label} is not open to you on this Thing: "
                                      f"{choice.reason}"}, status_code=403)
    models = _model_files(files, tool)
    if not models:
        raise BadRequest("This Thing has no STL, OBJ or 3MF file to work on.")
    chosen = next((f for f in models if f["id"] == body["file_id"]), None)
    if chosen is None:
        raise BadRequest("Choose one of this Thing's model files.")
    jobs: Jobs = request.app.state.jobs
    size = chosen.get("size")
    if isinstance(size, int) and size > jobs.max_file_bytes:
        raise BadRequest(f"{chosen['name']} is larger than the "
                         f"{jobs.max_file_bytes // (1024 * 1024)} MB this app accepts.")
    try:
        options = tool.parse_options(body.get("options", {}))
    except ToolInputError as exc:
        raise BadRequest(str(exc)) from exc
    remix = _remix_request(body.get("remix"), thing) if action is Action.REMIX else None
    job_id = await jobs.start(session.user_id, session.token,
                              JobRequest(thing, chosen, tool, options, action, remix))
    return JSONResponse({"job_id": job_id}, status_code=202)


async def _own_job(request: Request, session: SessionRecord) -> JobRecord | None:
    store: Store = request.app.state.store
    job = await store.get_job(request.path_params["job_id"])
    if job is None or job.user_id != session.user_id:
        return None
    return job


async def job_status(request: Request) -> Response:
    """`GET /api/jobs/{job_id}`: where a job is."""
    session = await current_session(request)
    job = await _own_job(request, session)
    if job is None:
        return JSONResponse({"error": "There is no such job."}, status_code=404)
    jobs: Jobs = request.app.state.jobs
    return JSONResponse(job_view(job, jobs.stale_after))


async def latest_job(request: Request) -> Response:
    """`GET /api/jobs?thing_id=N`: the user's latest job on this Thing, so a reloaded frame
    finds what it was doing."""
    session = await current_session(request)
    thing_id = parse_thing_ref(request.query_params.get("thing_id", ""))
    if thing_id is None:
        raise BadRequest("thing_id must be a Thing number.")
    store: Store = request.app.state.store
    job = await store.latest_job(session.user_id, thing_id)
    jobs: Jobs = request.app.state.jobs
    return JSONResponse({"job": job_view(job, jobs.stale_after) if job else None})


async def job_file(request: Request) -> Response:
    """`GET /api/jobs/{job_id}/file`: the produced file of a download job."""
    session = await current_session(request)
    job = await _own_job(request, session)
    jobs: Jobs = request.app.state.jobs
    path = jobs.file_path(job.id) if job is not None and job.status == "done" else None
    if path is None:
        return JSONResponse({"error": "This file is no longer here. Make it again."},
                            status_code=404)
    return FileResponse(path, filename=path.name, media_type="application/octet-stream")


async def webhook(request: Request) -> Response:
    """`POST /webhooks/{secret}`: Thingiverse's events. A wrong secret is a 404, as if the path
    did not exist; an event is stored once and then handed to the app's hook."""
    settings = request.app.state.settings
    secret = request.path_params["secret"]
    if not settings.webhook_secret or not hmac.compare_digest(
            secret.encode(), settings.webhook_secret.encode()):
        return JSONResponse({"error": "Not Found"}, status_code=404)
    raw = await read_limited(request, MAX_WEBHOOK_BODY)
    try:
        event = parse_event(raw)
    except BadWebhook as exc:
        raise BadRequest(str(exc)) from exc
    if event is None:
        return JSONResponse({"ok": True, "event": "ping"})
    store: Store = request.app.state.store
    stored = await store.add_webhook(event.key, event.event, raw.decode())
    if stored and request.app.state.on_webhook is not None:
        try:
            await request.app.state.on_webhook(event)
        except Exception:  # the event is stored; the operator can replay it from the list
            log.exception("the webhook hook failed on %s", event.key)
    return JSONResponse({"ok": True, "event": event.event, "duplicate": not stored})


async def logout(request: Request) -> Response:
    session = await current_session(request)
    await _signin(request).sign_out(session)
    return Response(status_code=204)
