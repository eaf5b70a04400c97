"""The Thing and job endpoints: what a signed-in user may do with a Thing, making a file, and
following the job. Session auth is `Authorization: Bearer`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from thingapp.actions import Action, choose_actions
from thingapp.failures import job_failure_sentence, upstream_failure
from thingapp.jobs import JobFailed, JobRequest
from thingapp.previews import GLB as PREVIEW_GLB
from thingapp.previews import INFO as PREVIEW_INFO
from thingapp.rate_limits import LimitExceeded
from thingapp.remix import RemixInvalid, parse_remix, remix_offer
from thingapp.store import SessionRecord
from thingapp.thing_ids import MAX_THING_ID, parse_thing_ref
from thingapp.thingiverse import PublishRefused, ThingiverseError
from thingapp.tools import ToolInputError
from thingapp.web import cookies
from thingapp.web.context import AppContext, context_of, current_session
from thingapp.web.cookies import JobMark
from thingapp.web.errors import UpstreamFailed
from thingapp.web.jsonbody import BadRequest, read_json
from thingapp.web.jsonresponse import JSONResponse
from thingapp.workers import WorkerLimitHit

log = logging.getLogger("thingapp.things")
RUNNING_RETRY_AFTER = 10  # seconds: a small job is done by then


async def _thing_and_files(context: AppContext, session: SessionRecord, thing_id: int,
                           *, with_me: bool = False, fresh: bool = False) -> list[Any]:
    """The Thing, its files (and the user, for display), read side by side through the cache;
    the Thing read afresh when a write will be decided on it."""
    reads = context.reads
    thing = reads.fresh_thing(session, thing_id) if fresh else reads.thing(session, thing_id)
    calls = [thing, reads.files(session, thing_id)]
    if with_me:
        calls.append(reads.me(session))
    try:
        return list(await asyncio.gather(*calls))
    except ThingiverseError as exc:
        log.info("Thingiverse refused thing %s: %s", thing_id, exc)
        status, message = upstream_failure(exc, thing_id)
        if status == 401:
            await context.signin.sign_out(session)
        raise UpstreamFailed(status, message) from exc


def _model_files(files: list[dict[str, Any]], extensions: Sequence[str]) -> list[dict[str, Any]]:
    return [f for f in files if isinstance(f.get("id"), int) and isinstance(f.get("name"), str)
            and Path(f["name"]).suffix.lower() in extensions]


def _kinds(extensions: Sequence[str]) -> str:
    """(".stl", ".obj", ".3mf") -> "STL, OBJ or 3MF"."""
    names = [e.lstrip(".").upper() for e in extensions]
    return " or ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def _thing_id(request: Request) -> int:
    thing_id = parse_thing_ref(request.query_params.get("thing_id", ""))
    if thing_id is None:
        raise BadRequest("thing_id must be a Thing number.")
    return thing_id


async def context(request: Request) -> Response:
    """`GET /api/context?thing_id=N`: who is signed in, the Thing, its model files, the tools,
    and the actions on offer (with the licences a remix may take)."""
    session = await current_session(request)
    thing_id = _thing_id(request)
    app = context_of(request)
    # Read beside the rest (no extra round trip); only a remix offer uses it, as its default.
    categories = asyncio.ensure_future(app.reads.categories(session, thing_id))
    try:
        thing, files, me = await _thing_and_files(app, session, thing_id, with_me=True)
    except BaseException:
        categories.cancel()
        await asyncio.gather(categories, return_exceptions=True)
        raise
    choice = choose_actions(thing, session.user_id)
    creator = thing.get("creator") if isinstance(thing.get("creator"), dict) else {}
    name = str(thing.get("name") or f"Thing {thing_id}")
    tools = list(app.tools.values())
    extensions = {ext for tool in tools for ext in tool.extensions}
    body: dict[str, Any] = {
        "user": {"id": session.user_id, "name": str(me.get("name") or session.user_id)},
        "thing": {"id": thing_id, "name": name,
                  "creator": str(creator.get("name") or "unknown"),
                  "license": str(thing.get("license") or "unknown licence"),
                  "url": f"{app.settings.thingiverse_url}/thing:{thing_id}"},
        "actions": [{"id": a.value, "label": a.label} for a in choice.actions],
        "reason": choice.reason,
        "tools": [{"id": t.id, "label": t.label, "extensions": list(t.extensions)}
                  for t in tools],
        "files": [{"id": f["id"], "name": f["name"], "size": f.get("size")}
                  for f in _model_files(files, sorted(extensions))],
    }
    try:
        parent_categories = await categories
    except ThingiverseError as exc:  # the form falls back to "Other"
        log.info("categories of thing %s unread: %s", thing_id, exc)
        parent_categories = []
    if Action.REMIX in choice.actions:
        body["remix"] = remix_offer(thing, name, parent_categories)
    return JSONResponse(body)


async def start_job(request: Request) -> Response:
    """`POST /api/jobs`: make a file from one of the Thing's models and carry out an action.
    Everything the page says is checked again here: the action against the guidelines, the file
    against the Thing, the options against the tool, the remix licence against the parent's."""
    session = await current_session(request)
    body = await read_json(request, {"thing_id": int, "file_id": int, "tool": str,
                                     "options": dict, "action": str, "remix": dict},
                           required={"thing_id", "file_id", "action"})
    app = context_of(request)
    tool = app.tool(body.get("tool"))
    if tool is None:
        raise BadRequest(f"There is no tool called {body.get('tool')!r}.")
    try:
        action = Action(body["action"])
    except ValueError:
        raise BadRequest("action must be post, remix or download.") from None
    thing_id = body["thing_id"]
    if not 0 < thing_id <= MAX_THING_ID:
        raise BadRequest("thing_id is not a Thing id.")
    # Ownership and licence decide a write on Thingiverse: read them as they are now.
    thing, files = await _thing_and_files(app, session, thing_id,
                                          fresh=action is not Action.DOWNLOAD)
    choice = choose_actions(thing, session.user_id)
    if action not in choice.actions:
        return JSONResponse({"error": f"{action.label} is not open to you on this Thing: "
                                      f"{choice.reason}"}, status_code=403)
    models = _model_files(files, tool.extensions)
    if not models:
        raise BadRequest(f"This Thing has no {_kinds(tool.extensions)} file to work on.")
    chosen = next((f for f in models if f["id"] == body["file_id"]), None)
    if chosen is None:
        raise BadRequest("Choose one of this Thing's model files.")
    max_bytes = app.jobs.max_file_bytes
    size = chosen.get("size")
    if isinstance(size, int) and size > max_bytes:
        raise BadRequest(f"{chosen['name']} is larger than the "
                         f"{max_bytes // (1024 * 1024)} MB this app accepts.")
    try:
        options = tool.parse_options(body.get("options", {}))
        remix = parse_remix(body.get("remix"), thing) if action is Action.REMIX else None
    except ToolInputError as exc:
        return JSONResponse({"error": str(exc), "field": exc.field}, status_code=400)
    except RemixInvalid as exc:
        raise BadRequest(str(exc)) from exc
    limiter = app.limiter
    if await app.jobs.running(session.user_id) >= limiter.limits.running_jobs:
        most = limiter.limits.running_jobs
        raise LimitExceeded(f"You can have {most} file{'s' if most != 1 else ''} being made at "
                            "once; start another when one is done.", RUNNING_RETRY_AFTER)
    await limiter.hit(limiter.jobs, "jobs", session.user_id)
    job_id = await app.jobs.start(session.user_id, session.token,
                                  JobRequest(thing, chosen, tool, options, action, remix))
    response = JSONResponse({"job_id": job_id}, status_code=202)
    if cookies.framed(request):  # a signed-out frame can still say this file is being made
        app.job_marks.add(request, response, JobMark(thing_id, job_id, session.user_id))
    return response


NO_SUCH_JOB = "There is no such job."


async def job_status(request: Request) -> Response:
    """`GET /api/jobs/{job_id}`: where a job is."""
    session = await current_session(request)
    jobs = context_of(request).jobs
    job = await jobs.get(session.user_id, request.path_params["job_id"])
    if job is None:
        return JSONResponse({"error": NO_SUCH_JOB}, status_code=404)
    return JSONResponse(jobs.view(job))


async def latest_job(request: Request) -> Response:
    """`GET /api/jobs?thing_id=N`: the user's latest job on this Thing, so a reloaded frame
    finds what it was doing."""
    session = await current_session(request)
    jobs = context_of(request).jobs
    job = await jobs.latest(session.user_id, _thing_id(request))
    return JSONResponse({"job": jobs.view(job) if job else None})


async def _model_file(request: Request) -> tuple[AppContext, SessionRecord, dict[str, Any],
                                                dict[str, Any]]:
    """The session, the Thing and the model file a preview request names (one the user can
    read, of a kind some tool takes, within the size limit)."""
    session = await current_session(request)
    app = context_of(request)
    thing_id = parse_thing_ref(str(request.path_params["thing_id"]))
    if thing_id is None:
        raise BadRequest("thing_id must be a Thing number.")
    thing, files = await _thing_and_files(app, session, thing_id)
    extensions = sorted({ext for tool in app.tools.values() for ext in tool.extensions})
    file_id = request.path_params["file_id"]
    chosen = next((f for f in _model_files(files, extensions) if str(f["id"]) == file_id), None)
    if chosen is None:
        raise BadRequest("Choose one of this Thing's model files.")
    size = chosen.get("size")
    if isinstance(size, int) and size > app.jobs.max_file_bytes:
        raise BadRequest(f"{chosen['name']} is larger than the "
                         f"{app.jobs.max_file_bytes // (1024 * 1024)} MB this app accepts.")
    return app, session, thing, chosen


async def _preview_folder(request: Request) -> Path:
    app, session, thing, file = await _model_file(request)
    if not app.previews.ready(file):  # making one costs a download and a worker: counted
        await app.limiter.hit(app.limiter.previews, "previews", session.user_id)
    try:
        return await app.previews.folder_of(session.token, thing, file)
    except ToolInputError as exc:
        raise BadRequest(str(exc)) from exc
    except WorkerLimitHit as exc:
        raise BadRequest(str(exc), 413) from exc
    except ThingiverseError as exc:
        raise UpstreamFailed(502, job_failure_sentence(exc)) from exc


async def model_preview(request: Request) -> Response:
    """`GET /api/things/{thing_id}/files/{file_id}/preview`: the model's size in mm, triangle
    count and health (made once per file in a worker, then kept)."""
    folder = await _preview_folder(request)
    return Response((folder / PREVIEW_INFO).read_bytes(), media_type="application/json")


async def model_preview_glb(request: Request) -> Response:
    """`GET .../preview.glb`: a compact copy of the model for the 3D preview."""
    folder = await _preview_folder(request)
    return FileResponse(folder / PREVIEW_GLB, media_type="model/gltf-binary")


async def publish_remix(request: Request) -> Response:
    """`POST /api/jobs/{job_id}/publish`: publish the work-in-progress remix a job created.
    Thingiverse's reasons for refusing (a blank description, say) come back as sentences."""
    session = await current_session(request)
    jobs = context_of(request).jobs
    job = await jobs.get(session.user_id, request.path_params["job_id"])
    if job is None:
        return JSONResponse({"error": NO_SUCH_JOB}, status_code=404)
    try:
        view = await jobs.publish(job, session.token)
    except PublishRefused as exc:
        return JSONResponse({"error": "Thingiverse would not publish the remix yet.",
                             "reasons": exc.errors}, status_code=409)
    except ThingiverseError as exc:
        return JSONResponse({"error": job_failure_sentence(exc)}, status_code=502)
    except JobFailed as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    return JSONResponse(view)


async def job_file(request: Request) -> Response:
    """`GET /api/jobs/{job_id}/file`: the produced file of a download job."""
    session = await current_session(request)
    jobs = context_of(request).jobs
    job = await jobs.get(session.user_id, request.path_params["job_id"])
    path = await jobs.file(job) if job is not None else None
    if path is None:
        return JSONResponse({"error": "This file is no longer here. Make it again."},
                            status_code=404)
    return FileResponse(path, filename=path.name, media_type="application/octet-stream")
