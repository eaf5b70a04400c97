"""Fault injection: make a route slow, fail, break its answer or its connection, or read its
request body slowly, set at run time (`/sandbox/faults`) or at start (`thingapp sandbox --fault`).

A fault is keyed by a route as the route table names it, method and path template, e.g.
`"POST /storage-upload"` or `"GET /things/{id}"`, and does, in this order:

- `latency_ms`: wait this long before handling the request;
- `bytes_per_second`: read the request body no faster than this (meant for `POST /storage-upload`,
  so an app's upload progress is visibly slow);
- then what its `kind` says:
  - `null` (no `status` either): handle the request as usual, only later or slower;
  - `"status"` (the default when `status` is set): read the body, then answer this status instead
    of handling the request, with `{"error": "Injected fault"}` (S3 XML on storage routes), or
    with `body` (any JSON) when given, e.g. `{"errors": ["Add an image before publishing."]}`;
  - `"drop"`: close the connection without any response (see `connection`: a real server aborts
    the socket; in process, `ConnectionDropped` is raised to the client);
  - `"timeout"`: hold the request open, never answering, for `latency_ms` (60 s when 0), then
    close the connection as `drop` does (in process: `ConnectionTimedOut`); a client whose read
    timeout is shorter sees a read timeout. A client that gives up first ends the hold.
  - `"malformed"`: read the body, then answer 200 with `Content-Type: application/json` and a
    body that is not JSON (a truncated object).

`times` makes it apply to the next N matching requests only (null: until cleared). One fault per
route; setting one again replaces it. `FaultMiddleware` applies them; `/sandbox/faults` sets,
lists and clears them (see `scripting`); `parse_fault_spec` reads the command line's
`ROUTE=SPEC` form. The scripting routes themselves can't be faulted. The request log shows a
dropped or timed-out request with status 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import anyio
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thingapp.sandbox.harness.connection import (
    ConnectionDropped,
    ConnectionTimedOut,
    connection_of,
)
from thingapp.sandbox.http import error_response, s3_error

INJECTED = "Injected fault"
SCRIPTING_PREFIX = "/sandbox/"
FAULT_KEYS = ("route", "kind", "latency_ms", "status", "bytes_per_second", "times", "body")
KINDS = ("status", "drop", "timeout", "malformed")
DEFAULT_HOLD_MS = 60_000
# What a `malformed` fault answers: JSON cut off mid-object, as a truncated proxy answer would be.
MALFORMED_BODY = b'{"id": 2001, "name": "Calibration Cu'

# S3's codes for the statuses a storage fault is most likely to inject.
_S3_CODES = {403: "AccessDenied", 500: "InternalError", 503: "SlowDown"}


class BadFault(ValueError):
    """A fault description that can't be used; the message is the sentence to return."""


@dataclass
class Fault:
    """One route's fault; `times` counts down to expiry (None: until cleared)."""

    route: str
    kind: str | None = None
    latency_ms: float = 0
    status: int | None = None
    bytes_per_second: int | None = None
    times: int | None = None
    body: Any = None  # the JSON to answer with `status`, instead of the default error

    def as_json(self) -> dict[str, Any]:
        """The fault as `/sandbox/faults` shows it."""
        return asdict(self)


def route_keys(routes: Sequence[BaseRoute]) -> list[str]:
    """Every faultable route as "METHOD /path/template", in route-table order."""
    return [
        f"{method} {route.path}"
        for route in routes
        if isinstance(route, Route) and not route.path.startswith(SCRIPTING_PREFIX)
        for method in sorted((route.methods or {"GET"}) - {"HEAD"})
    ]


def parse_fault(body: Any, valid_routes: Sequence[str] | None) -> Fault:
    """A fault from a `/sandbox/faults` body; raises `BadFault` with a sentence.

    `valid_routes` None leaves the route unchecked (the app checks it when it is built).
    """
    if not isinstance(body, dict):
        raise BadFault("The body must be a JSON object.")
    unknown = sorted(set(body) - set(FAULT_KEYS))
    if unknown:
        raise BadFault(f"Unknown fault fields {', '.join(unknown)}; use {', '.join(FAULT_KEYS)}.")
    route = body.get("route")
    if not isinstance(route, str):
        raise BadFault('route must be a route key "METHOD /path", e.g. "GET /things/{id}".')
    if valid_routes is not None:
        check_route(route, valid_routes)
    latency = body.get("latency_ms", 0)
    if not _is_number(latency) or latency < 0:
        raise BadFault("latency_ms must be a number of milliseconds, 0 or more.")
    status = body.get("status")
    if status is not None and not (_is_int(status) and 400 <= status <= 599):
        raise BadFault("status must be null or an error status from 400 to 599.")
    for key in ("bytes_per_second", "times"):
        value = body.get(key)
        if value is not None and not (_is_int(value) and value > 0):
            raise BadFault(f"{key} must be null or a positive integer.")
    if body.get("body") is not None and status is None:
        raise BadFault("body needs a status to answer it with.")
    kind = _check_kind(body.get("kind"), status)
    return Fault(route, kind, latency, status, body.get("bytes_per_second"), body.get("times"),
                 body.get("body"))


def check_route(route: str, valid_routes: Sequence[str]) -> None:
    """Raise `BadFault` unless `route` is one of `valid_routes`."""
    if route not in valid_routes:
        raise BadFault(f"Unknown route {route!r}; the routes are: {', '.join(valid_routes)}.")


def _check_kind(kind: Any, status: int | None) -> str | None:
    if kind is None:
        return "status" if status is not None else None
    if kind not in KINDS:
        raise BadFault(f"kind must be null or one of {', '.join(KINDS)}; got {kind!r}.")
    if kind == "status" and status is None:
        raise BadFault("kind status needs a status from 400 to 599.")
    if kind != "status" and status is not None:
        raise BadFault(f"A {kind} fault answers no status: leave status and body out.")
    return str(kind)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or isinstance(value, float)


class FaultTable:
    """The active faults of one sandbox, by route key."""

    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}

    def set(self, fault: Fault) -> None:
        """Add a fault, replacing the route's previous one."""
        self._faults[fault.route] = fault

    def active(self) -> list[Fault]:
        """The faults in effect, in the order they were set."""
        return list(self._faults.values())

    def clear(self) -> int:
        """Remove every fault; how many there were."""
        count = len(self._faults)
        self._faults.clear()
        return count

    def take(self, route: str) -> Fault | None:
        """The fault for one request on this route, counting it against `times`."""
        fault = self._faults.get(route)
        if fault is not None and fault.times is not None:
            fault.times -= 1
            if fault.times == 0:
                del self._faults[route]
        return fault


class FaultMiddleware:
    """Applies the table's faults to the requests of the routes they name."""

    def __init__(self, app: ASGIApp, faults: FaultTable, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.faults = faults
        self.routes = [r for r in routes if isinstance(r, Route)]

    def route_key(self, scope: Scope) -> str | None:
        """The "METHOD /path/template" of the route this request goes to, if any."""
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return f"{scope['method']} {route.path}"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self.route_key(scope) if scope["type"] == "http" else None
        fault = self.faults.take(key) if key else None
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.kind == "timeout":
            if await _hold(receive, (fault.latency_ms or DEFAULT_HOLD_MS) / 1000):
                await _end_without_answer(scope, ConnectionTimedOut())
            return
        if fault.latency_ms:
            await anyio.sleep(fault.latency_ms / 1000)
        if fault.bytes_per_second:
            receive = _throttled(receive, fault.bytes_per_second)
        if fault.kind is None:
            await self.app(scope, receive, send)
            return
        if fault.kind == "drop":
            await _end_without_answer(scope, ConnectionDropped())
            return
        # Read the body first, so a client still sending it sees the answer, not a reset.
        while (await receive()).get("more_body", False):
            pass
        await _answer(fault, scope["path"])(scope, receive, send)


def _answer(fault: Fault, path: str) -> Response:
    if fault.kind == "malformed":
        return Response(MALFORMED_BODY, status_code=200, media_type="application/json")
    assert fault.status is not None  # kind "status"
    if fault.body is not None:
        return JSONResponse(fault.body, status_code=fault.status)
    if path.startswith("/storage"):
        return s3_error(fault.status, _S3_CODES.get(fault.status, "InjectedFault"), INJECTED + ".")
    return error_response(fault.status, INJECTED)


async def _hold(receive: Receive, seconds: float) -> bool:
    """Take the request body and wait `seconds`; False if the client went away meanwhile."""
    with anyio.move_on_after(seconds):
        while (await receive())["type"] != "http.disconnect":
            pass
        return False
    return True


async def _end_without_answer(scope: Scope, error: Exception) -> None:
    connection = connection_of(scope)
    if connection is None:  # not under SandboxStarlette: nothing to abort, so raise at once
        raise error
    await connection.end_without_answer(error)


def _throttled(receive: Receive, bytes_per_second: int) -> Receive:
    """`receive`, handing on body chunks no faster than `bytes_per_second` on average."""
    started: float | None = None
    received = 0

    async def receive_slowly() -> Message:
        nonlocal started, received
        message = await receive()
        if message["type"] == "http.request":
            now = anyio.current_time()
            started = now if started is None else started
            received += len(message.get("body", b""))
            await anyio.sleep(max(0.0, started + received / bytes_per_second - now))
        return message

    return receive_slowly
