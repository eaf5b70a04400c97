"""CORS on the API routes, for the registered apps' origins only (see `SandboxConfig.app_origins`).

A request to an API route whose `Origin` is a registered app origin gets
`Access-Control-Allow-Origin: <that origin>` on its answer, whatever the status (so a browser app
can read a 401 or a 429), with `Access-Control-Expose-Headers` naming the headers an app reads.
A preflight (`OPTIONS` with `Access-Control-Request-Method`) to an API route is answered here with
204: the allowed methods and headers for a registered origin, no CORS headers for any other.
Every API answer carries `Vary: Origin`. The www, storage and scripting routes get no CORS headers.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOW_METHODS = "GET, POST, PATCH, DELETE"
ALLOW_HEADERS = "Authorization, Content-Type"
EXPOSE_HEADERS = "Link, Retry-After, X-Error, X-RateLimit-Remaining"
PREFLIGHT_MAX_AGE_S = 600


class CorsMiddleware:
    """Adds CORS headers to the answers of `api_routes` for requests from `origins`."""

    def __init__(self, app: ASGIApp, origins: frozenset[str], api_routes: Sequence[Route]) -> None:
        self.app = app
        self.origins = origins
        self.api_routes = api_routes

    def _is_api(self, scope: Scope) -> bool:
        # PARTIAL: the path is an API route's, the method isn't (e.g. a preflight's OPTIONS).
        return any(route.matches(scope)[0] is not Match.NONE for route in self.api_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._is_api(scope):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin if origin in self.origins else None
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await _preflight(allowed)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                response_headers.add_vary_header("Origin")
                if allowed:
                    response_headers["Access-Control-Allow-Origin"] = allowed
                    response_headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)


def _preflight(origin: str | None) -> Response:
    headers = {"Vary": "Origin"}
    if origin:
        headers |= {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
        }
    return Response(status_code=204, headers=headers)
