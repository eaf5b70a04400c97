"""The sign-in endpoints the app's own pages call: start, callback, claim, resume, sign out."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from thingapp.settings import origin_of
from thingapp.signin import MODES, Claimed, SignInError
from thingapp.thing_ids import MAX_THING_ID
from thingapp.web import cookies
from thingapp.web.context import client_address, context_of, current_session
from thingapp.web.errors import SIGN_IN_STATUS
from thingapp.web.jsonbody import BadRequest, read_json
from thingapp.web.jsonresponse import JSONResponse


async def start_login(request: Request) -> Response:
    """`POST /api/logins {thing_id?, mode?}` -> the claim (for this frame only) and where to go."""
    body = await read_json(request, {"thing_id": int, "mode": str}, required=set())
    thing_id = body.get("thing_id")
    if thing_id is not None and not 0 < thing_id <= MAX_THING_ID:
        raise BadRequest("thing_id is not a Thing id.")
    mode = body.get("mode", "popup")
    if mode not in MODES:
        raise BadRequest("mode must be 'popup' or 'frame'.")
    context = context_of(request)
    await context.limiter.hit(context.limiter.logins, "logins", client_address(request))
    started = await context.signin.start(thing_id, mode)
    response = JSONResponse({"login_id": started.login_id, "claim": started.claim,
                             "authorize_url": started.authorize_url}, status_code=201)
    if mode == "frame" and cookies.framed(request):  # the frame leaves: the claim waits here
        cookies.set_cookie(response, cookies.SIGNING_IN, context.signin.pending(started),
                           context.settings.login_ttl)
    return response


async def complete_login(request: Request) -> Response:
    """`POST /api/callback`: what the callback page read from the URL fragment. Its
    Server-Timing header tells the time spent waiting for Thingiverse apart from the app's own."""
    started = time.perf_counter()
    body = await read_json(request, {"state": str, "access_token": str, "token_type": str,
                                     "error": str, "error_description": str},
                           required={"state"})
    context = context_of(request)
    upstream = 0.0
    if "error" in body:
        login = await context.signin.decline(body["state"])
        status = "denied"
    elif "access_token" in body:
        if body.get("token_type", "bearer").lower() != "bearer":
            raise BadRequest("token_type must be bearer.")
        login, verified = await context.signin.complete(body["state"], body["access_token"])
        context.reads.remember(verified.user_id, verified.me, login.thing_id,
                               verified.thing_reads)
        upstream = verified.tokeninfo_ms
        status = "complete"
    else:
        raise BadRequest("Send access_token or error with the state.")
    return_to = f"/?thing_id={login.thing_id}" if login.thing_id else "/"
    own = (time.perf_counter() - started) * 1000 - upstream
    return JSONResponse({"status": status, "mode": login.mode, "return_to": return_to},
                        headers={"Server-Timing": f"tokeninfo;dur={upstream:.2f}, "
                                                  f"app;dur={own:.2f}"})


async def claim_login(request: Request) -> Response:
    """`POST /api/logins/{login_id}/claim {claim}`: 202 while pending, then the session once."""
    body = await read_json(request, {"claim": str}, required={"claim"})
    claimed = await context_of(request).signin.claim(request.path_params["login_id"],
                                                     body["claim"])
    if claimed is None:
        return JSONResponse({"status": "pending"}, status_code=202)
    return _signed_in(request, claimed, now=True)


def _signed_in(request: Request, claimed: Claimed, *, now: bool) -> Response:
    """The session token for the page, and (in a frame) the cookie that finds it again.
    `now`: the user has just signed in (rather than come back to a session)."""
    response = JSONResponse({"status": "signed_in", "session_token": claimed.session_token,
                             "expires_in": claimed.expires_in, "signed_in_now": now})
    if now and cookies.framed(request):
        settings = context_of(request).settings
        cookies.set_cookie(response, cookies.SESSION, claimed.remember,
                           settings.session_ttl + cookies.OUTLIVE_SESSION)
        if cookies.SIGNING_IN in request.cookies:
            cookies.clear_cookie(response, cookies.SIGNING_IN)
    return response


async def resume(request: Request) -> Response:
    """`POST /api/session {thing_id?}` from the app's page in a frame: its cookie traded for a
    session token. The cookie names an in-frame sign-in coming back, or the session this frame
    had before a reload. 202 while the in-frame sign-in waits for Thingiverse (and no session is
    there); 401 when there is none, with a sentence if one ended, and whether this browser has a
    file being made for the Thing."""
    context = context_of(request)
    if not cookies.from_own_page(request, origin_of(context.settings.public_url)):
        return JSONResponse({"error": "Only the app's own page can resume its session."},
                            status_code=403)
    body = await read_json(request, {"thing_id": int}, required=set())
    signin = context.signin
    signing_in = request.cookies.get(cookies.SIGNING_IN)
    remembered = request.cookies.get(cookies.SESSION)
    waiting = False
    if signing_in:
        try:
            claimed = await signin.claim_pending(signing_in)
        except SignInError as exc:  # declined, refused, used: the frame says why
            return _not_signed_in(exc, clear=cookies.SIGNING_IN, making_file=False)
        if claimed is not None:
            return _signed_in(request, claimed, now=True)
        waiting = True
    ended = None
    if remembered:
        try:
            return _signed_in(request, await signin.resume(remembered), now=False)
        except SignInError as exc:
            ended = exc
    if waiting:
        return JSONResponse({"status": "pending"}, status_code=202)
    thing_id = body.get("thing_id")
    marks = [m for m in context.job_marks.read(request) if m.thing_id == thing_id]
    making = any([await context.jobs.is_running(m.user_id, m.job_id) for m in marks])
    return _not_signed_in(ended, clear=cookies.SESSION if ended else None, making_file=making)


def _not_signed_in(ended: SignInError | None, *, clear: str | None,
                   making_file: bool) -> Response:
    """No session: why (a sentence, if one ended), and the cookie that named it removed."""
    response = JSONResponse({"error": ended.message if ended else "",
                             "reason": ended.reason if ended else "signed_out",
                             "making_file": making_file},
                            status_code=SIGN_IN_STATUS[ended.reason] if ended else 401)
    if clear:
        cookies.clear_cookie(response, clear)
    return response


async def remember(request: Request) -> Response:
    """`POST /api/session/remember`: where partitioned cookies are not kept but the Storage
    Access API gave the frame its own cookies, keep the session in an unpartitioned one."""
    context = context_of(request)
    if not cookies.from_own_page(request, origin_of(context.settings.public_url)):
        return JSONResponse({"error": "Only the app's own page can do this."}, status_code=403)
    session = await current_session(request)
    response = Response(status_code=204)
    cookies.set_cookie(response, cookies.SESSION, context.signin.remember(session),
                       context.settings.session_ttl + cookies.OUTLIVE_SESSION, partitioned=False)
    return response


async def logout(request: Request) -> Response:
    """`POST /api/logout`: the session ends on the server."""
    session = await current_session(request)
    await context_of(request).signin.sign_out(session)
    response = Response(status_code=204)
    if cookies.SESSION in request.cookies:
        cookies.clear_cookie(response, cookies.SESSION)
    return response
