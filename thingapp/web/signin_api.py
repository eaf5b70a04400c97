"""The sign-in endpoints the app's own pages call: start, callback, claim, sign out."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from thingapp.signin import MODES
from thingapp.thing_ids import MAX_THING_ID
from thingapp.web.context import client_address, context_of, current_session
from thingapp.web.jsonbody import BadRequest, read_json


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
    return JSONResponse({"login_id": started.login_id, "claim": started.claim,
                         "authorize_url": started.authorize_url}, status_code=201)


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
        context.reads.remember_me(verified.user_id, verified.me)
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
    return JSONResponse({"status": "signed_in", "session_token": claimed.session_token,
                         "expires_in": claimed.expires_in})


async def logout(request: Request) -> Response:
    """`POST /api/logout`: the session ends on the server."""
    session = await current_session(request)
    await context_of(request).signin.sign_out(session)
    return Response(status_code=204)
