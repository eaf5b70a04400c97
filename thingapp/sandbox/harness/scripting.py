"""Endpoints for tests and scripts: mint tokens and codes, revoke tokens, read the request log,
set, list and clear injected faults (see `faults`).

All take and give JSON; bad input gets 400 `{"error": sentence}`. None of them is part of
Thingiverse.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from thingapp.sandbox.context import SandboxContext, context_of
from thingapp.sandbox.harness.faults import BadFault, parse_fault, route_keys


class BadInput(Exception):
    """Input a script must fix; the message is the sentence returned."""


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as error:
        raise BadInput("The body must be a JSON object.") from error
    if not isinstance(body, dict):
        raise BadInput("The body must be a JSON object.")
    return body


async def _user_and_client(request: Request, context: SandboxContext) -> tuple[int, str]:
    body = await _json_object(request)
    user_id, client_id = body.get("user_id"), body.get("client_id")
    # Thingiverse itself mixes numeric and string ids, so scripts may send either.
    if isinstance(user_id, str) and user_id.isdigit():
        user_id = int(user_id)
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise BadInput("user_id must be the id of a seeded user, e.g. 1001.")
    if user_id not in context.world.users:
        raise BadInput(f"There is no user {user_id} in the sandbox.")
    if not isinstance(client_id, str) or context.config.client(client_id) is None:
        raise BadInput("client_id must be the id of a registered client.")
    return user_id, client_id


def _bad_input(error: BadInput) -> JSONResponse:
    return JSONResponse({"error": str(error)}, status_code=400)


async def mint_token(request: Request) -> Response:
    """POST /sandbox/tokens `{"user_id", "client_id"}` -> 201 `{"access_token"}`."""
    context = context_of(request)
    try:
        user_id, client_id = await _user_and_client(request, context)
    except BadInput as error:
        return _bad_input(error)
    token = context.world.issue_token(client_id, user_id)
    return JSONResponse({"access_token": token}, status_code=201)


async def mint_code(request: Request) -> Response:
    """POST /sandbox/codes `{"user_id", "client_id"}` -> 201 `{"code"}`, bound to the client's
    registered callback."""
    context = context_of(request)
    try:
        user_id, client_id = await _user_and_client(request, context)
    except BadInput as error:
        return _bad_input(error)
    client = context.config.client(client_id)
    assert client is not None  # checked by _user_and_client
    code = context.world.issue_code(client_id, user_id, client.redirect_uri)
    return JSONResponse({"code": code}, status_code=201)


async def revoke_token(request: Request) -> Response:
    """POST /sandbox/tokens/revoke `{"access_token"}` -> 200 `{"revoked": was_it_live}`."""
    context = context_of(request)
    try:
        token = (await _json_object(request)).get("access_token")
        if not isinstance(token, str) or not token:
            raise BadInput("access_token must be a token string.")
    except BadInput as error:
        return _bad_input(error)
    return JSONResponse({"revoked": context.world.revoke(token)})


async def corrupt_uploads(request: Request) -> Response:
    """POST /sandbox/corrupt-uploads `{"count": N}`: the next N files finalized get a `hash`
    that is not the MD5 of what was sent (storage kept other bytes) -> `{"count": N}`."""
    context = context_of(request)
    try:
        count = (await _json_object(request)).get("count")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 100:
            raise BadInput("count must be a whole number from 0 to 100.")
    except BadInput as error:
        return _bad_input(error)
    context.world.corrupt_uploads = count
    return JSONResponse({"count": count})


async def request_log(request: Request) -> Response:
    """GET /sandbox/requests: `[{"method", "path", "status"}, ...]`, oldest first, no queries."""
    entries = context_of(request).world.requests
    return JSONResponse(
        [{"method": e.method, "path": e.path, "status": e.status} for e in entries]
    )


async def set_fault(request: Request) -> Response:
    """POST /sandbox/faults `{"route", "kind", "latency_ms", "status", "bytes_per_second",
    "times", "body"}` -> 201 the fault as set (only `route` is required; see `faults`)."""
    context = context_of(request)
    try:
        fault = parse_fault(await _json_object(request), route_keys(request.app.routes))
    except (BadInput, BadFault) as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    context.faults.set(fault)
    return JSONResponse(fault.as_json(), status_code=201)


async def list_faults(request: Request) -> Response:
    """GET /sandbox/faults: the active faults, `times` showing how many requests each has left."""
    return JSONResponse([fault.as_json() for fault in context_of(request).faults.active()])


async def clear_faults(request: Request) -> Response:
    """DELETE /sandbox/faults: clear every fault -> `{"cleared": how_many}`."""
    return JSONResponse({"cleared": context_of(request).faults.clear()})
