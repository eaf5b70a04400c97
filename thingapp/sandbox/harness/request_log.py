"""ASGI middleware recording every request's method, path and status in the world's log.

The log is what tests read to prove what an app did (and did not) ask for, so it must never hold a
secret itself: query strings are dropped, and a path segment shaped like a sandbox token or code
(32 hex digits) is replaced by a marker that still shows a secret was put in a URL.

A request the sandbox never answered (a `drop` or `timeout` fault) is logged with status 0.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thingapp.sandbox.world.state import World

LOG_PATH = "/sandbox/requests"
REDACTED = "[redacted]"
NO_ANSWER = 0
_SECRET_SHAPED = re.compile(r"[0-9a-fA-F]{32}")


def redact_path(path: str) -> str:
    """The path with every token-shaped segment replaced by a marker."""
    return "/".join(REDACTED if _SECRET_SHAPED.fullmatch(seg) else seg for seg in path.split("/"))


class RequestLogMiddleware:
    """Logs each HTTP request into `world` once its response has started (or failed)."""

    def __init__(self, app: ASGIApp, world: World) -> None:
        self.app = app
        self.world = world

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == LOG_PATH:
            await self.app(scope, receive, send)
            return
        # An exception escaping the app becomes a 500 further out; an app that returns without
        # starting a response ended the connection unanswered.
        status = NO_ANSWER

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        except Exception:
            status = status or 500
            raise
        finally:
            self.world.log_request(scope["method"], redact_path(scope["path"]), status)
