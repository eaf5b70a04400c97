"""Response headers every page needs inside Thingiverse's iframe, an access log without secrets
or forged lines, and unexpected errors as sentences: one plain ASGI middleware, so they cover
every response, errors included.
"""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thingapp.web.jsonresponse import JSONResponse

access_log = logging.getLogger("thingapp.access")
error_log = logging.getLogger("thingapp")

SERVER_ERROR = "Something went wrong on our side. Please try again."
SERVER_ERROR_PAGE = ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
                     '<title>Thing app</title><link rel="stylesheet" href="/static/app.css">'
                     f'</head><body><main class="app"><p class="error">{SERVER_ERROR}</p>'
                     '</main></body></html>')

# Query parameters that would put a credential in a URL (and so in logs and Referer headers).
CREDENTIAL_PARAMS = ("access_token", "session_token", "token", "claim")


def content_security_policy(frame_ancestors: tuple[str, ...]) -> str:
    """No inline script, nothing from third origins, framable only by Thingiverse."""
    return "; ".join([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors " + " ".join(frame_ancestors),
    ])


def _carries_credential(query_string: bytes) -> bool:
    # Most requests carry no such word at all: parse only when one might be there.
    if not any(name.encode() in query_string for name in CREDENTIAL_PARAMS):
        return False
    return any(name in CREDENTIAL_PARAMS for name, _ in parse_qsl(query_string.decode("latin-1")))


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")


def loggable_path(path: str) -> str:
    """The path as logs may show it: the webhook URL's secret left out, and control characters
    (a percent-encoded CR or LF would start a forged line) written as escapes."""
    if path.startswith("/webhooks/"):
        return "/webhooks/…"
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii")
                        if m.group() != "\\" else "\\\\", path)


class EveryResponse:
    """Around every request:

    - the security headers: CSP with frame-ancestors (never X-Frame-Options, which can't name
      Thingiverse), no Referer, and no caching of anything but static files;
    - a request that carries a credential in its query string is refused before anything else
      sees it (tokens belong in headers and bodies);
    - one access-log line: method, path (never the query string), status, milliseconds;
    - an unexpected error becomes a sentence (JSON for the API, a page otherwise), with the
      security headers, and is logged with its traceback (Starlette's own last-resort handler
      sits outside every middleware, so its 500s would go out without them).

    One layer rather than three: each layer costs the launch page a call per ASGI message.
    """

    def __init__(self, app: ASGIApp, frame_ancestors: tuple[str, ...]) -> None:
        self.app = app
        # Built once: no response of the app sets these itself, so they are appended as they are.
        self.static_headers = [
            (b"content-security-policy", content_security_policy(frame_ancestors).encode()),
            (b"referrer-policy", b"no-referrer"),
            (b"x-content-type-options", b"nosniff"),
        ]
        self.headers = [*self.static_headers, (b"cache-control", b"no-store")]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        extra = self.static_headers if scope["path"].startswith("/static/") else self.headers
        status: int | None = None  # None: no answer yet (or the client went away first)

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            if _carries_credential(scope.get("query_string", b"")):
                response: Response = JSONResponse(
                    {"error": "Credentials must not be sent in a URL. Send them in the "
                              "Authorization header or the request body."}, status_code=400)
                await response(scope, receive, send_with_headers)
            else:
                await self.app(scope, receive, send_with_headers)
        except ClientDisconnect:  # it sent part of a body and left: nobody to answer
            error_log.info("%s %s: the client disconnected before sending its whole body",
                           scope["method"], loggable_path(scope["path"]))
        except Exception:
            error_log.exception("unhandled error on %s %s", scope["method"],
                                loggable_path(scope["path"]))
            if status is not None:  # the answer has begun: nothing to add
                raise
            if scope["path"].startswith(("/api/", "/webhooks/")):
                response = JSONResponse({"error": SERVER_ERROR}, status_code=500)
            else:
                response = HTMLResponse(SERVER_ERROR_PAGE, status_code=500)
            await response(scope, receive, send_with_headers)
        finally:
            access_log.info("%s %s %s %.1fms", scope["method"], loggable_path(scope["path"]),
                            "disconnected" if status is None else status,
                            (time.perf_counter() - started) * 1000)
