"""The app's JSON endpoints, called by its own pages. Session auth is `Authorization: Bearer`."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from thingapp.actions import choose_actions
from thingapp.jsonbody import BadRequest, read_json
from thingapp.signin import MODES, SignIn, SignInError
from thingapp.store import SessionRecord
from thingapp.thing_ids import MAX_THING_ID, parse_thing_ref
from thingapp.thingiverse import ThingiverseClient, ThingiverseError

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
    """`POST /api/callback`: what the callback page read from the URL fragment."""
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
        login = await signin.complete(body["state"], body["access_token"])
        status = "complete"
    else:
        raise BadRequest("Send access_token or error with the state.")
    return_to = f"/?thing_id={login.thing_id}" if login.thing_id else "/"
    return JSONResponse({"status": status, "mode": login.mode, "return_to": return_to})


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


def upstream_failure(exc: ThingiverseError, thing_id: int) -> tuple[int, str]:
    """What to tell the user when Thingiverse refuses or fails."""
    if exc.status == 401:
        return 401, "Thingiverse no longer accepts your sign-in. Please connect again."
    if exc.status == 404:
        return 404, f"Thingiverse has no Thing {thing_id} (it may have been deleted)."
    if exc.status == 403:
        return 403, f"Thingiverse does not let this account see Thing {thing_id}."
    if exc.status in (420, 429):
        return 503, "Thingiverse is limiting requests right now. Try again in a few minutes."
    return 502, "Thingiverse did not answer properly. Try again in a minute."


async def context(request: Request) -> Response:
    """`GET /api/context?thing_id=N`: who is signed in, the Thing, and the actions on offer."""
    session = await current_session(request)
    thing_id = parse_thing_ref(request.query_params.get("thing_id", ""))
    if thing_id is None:
        raise BadRequest("thing_id must be a Thing number.")
    thingiverse: ThingiverseClient = request.app.state.thingiverse
    try:
        thing, me = await asyncio.gather(thingiverse.get_thing(session.token, thing_id),
                                         thingiverse.get_me(session.token))
    except ThingiverseError as exc:
        log.info("Thingiverse refused the context of thing %s: %s", thing_id, exc)
        status, message = upstream_failure(exc, thing_id)
        if status == 401:
            await _signin(request).sign_out(session)
        return JSONResponse({"error": message}, status_code=status)
    choice = choose_actions(thing, session.user_id)
    creator = thing.get("creator") if isinstance(thing.get("creator"), dict) else {}
    settings = request.app.state.settings
    return JSONResponse({
        "user": {"id": session.user_id, "name": str(me.get("name") or session.user_id)},
        "thing": {"id": thing_id, "name": str(thing.get("name") or f"Thing {thing_id}"),
                  "creator": str(creator.get("name") or "unknown"),
                  "license": str(thing.get("license") or "unknown licence"),
                  "url": f"{settings.thingiverse_url}/thing:{thing_id}"},
        "actions": [{"id": a.value, "label": a.label} for a in choice.actions],
        "reason": choice.reason,
    })


async def logout(request: Request) -> Response:
    session = await current_session(request)
    await _signin(request).sign_out(session)
    return Response(status_code=204)
