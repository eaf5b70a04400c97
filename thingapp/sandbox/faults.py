"""Fault injection: make a route slow, fail, or read its request body slowly, set at run time.

A fault is keyed by a route as the route table names it, method and path template, e.g.
`"POST /storage-upload"` or `"GET /things/{id}"`, and does, in this order:

- `latency_ms`: wait this long before handling the request;
- `bytes_per_second`: read the request body no faster than this (meant for `POST /storage-upload`,
  so an app's upload progress is visibly slow);
- `status`: read the body, then answer this status instead of handling the request, with
  `{"error": "Injected fault"}` (S3 XML on storage routes), or with `body` (any JSON) when given,
  e.g. `{"errors": ["Add an image before publishing."]}` for a publish refusal.

`times` makes it apply to the next N matching requests only (null: until cleared). One fault per
route; setting one again replaces it. `FaultMiddleware` applies them; `/sandbox/faults` sets,
lists and clears them (see `scripting`). The scripting routes themselves can't be faulted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import anyio
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thingapp.sandbox.api import error_response
from thingapp.sandbox.storage import s3_error

INJECTED = "Injected fault"
SCRIPTING_PREFIX = "/sandbox/"
FAULT_KEYS = ("route", "latency_ms", "status", "bytes_per_second", "times", "body")
# S3's codes for the statuses a storage fault is most likely to inject.
_S3_CODES = {403: "AccessDenied", 500: "InternalError", 503: "SlowDown"}


class BadFault(ValueError):
    """A fault description that can't be used; the message is the sentence to return."""


@dataclass
class Fault:
    """One route's fault; `times` counts down to expiry (None: until cleared)."""

    route: str
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


def parse_fault(body: Any, valid_routes: Sequence[str]) -> Fault:
    """A fault from a `/sandbox/faults` body; raises `BadFault` with a sentence."""
    if not isinstance(body, dict):
        raise BadFault("The body must be a JSON object.")
    unknown = sorted(set(body) - set(FAULT_KEYS))
    if unknown:
        raise BadFault(f"Unknown fault fields {', '.join(unknown)}; use {', '.join(FAULT_KEYS)}.")
    route = body.get("route")
    if route not in valid_routes:
        raise BadFault(f"Unknown route {route!r}; the routes are: {', '.join(valid_routes)}.")
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
    return Fault(route, latency, status, body.get("bytes_per_second"), body.get("times"),
                 body.get("body"))


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
        if fault.latency_ms:
            await anyio.sleep(fault.latency_ms / 1000)
        if fault.bytes_per_second:
            receive = _throttled(receive, fault.bytes_per_second)
        if fault.status is None:
            await self.app(scope, receive, send)
            return
        # Read the body first, so a client still sending it sees the status, not a reset.
        while (await receive()).get("more_body", False):
            pass
        if fault.body is not None:
            response = JSONResponse(fault.body, status_code=fault.status)
        elif scope["path"].startswith("/storage"):
            response = s3_error(fault.status, _S3_CODES.get(fault.status, "InjectedFault"),
                                INJECTED + ".")
        else:
            response = error_response(fault.status, INJECTED)
        await response(scope, receive, send)


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
