"""Ending a connection without an answer, for the `drop` and `timeout` faults.

Under a real server (uvicorn) the connection is aborted at the socket: the client sees the
connection close with no response at all (httpx: `RemoteProtocolError` "Server disconnected
without sending a response", or a `ReadError` when the reset beats it). Over an in-process ASGI
transport (Starlette's `TestClient`, `httpx2.ASGITransport`) there is no socket, so the app raises
instead, after the request has run its course: `ConnectionDropped` for `drop` and
`ConnectionTimedOut` for `timeout`. Both subclass httpx's own transport errors, so an app that
talks to the sandbox in process through `httpx2.ASGITransport` meets the exception class it would
meet over the network.

`SandboxStarlette` gives each HTTP request a `Connection` (in the scope under `SCOPE_KEY`) that
knows the server's transport when there is one.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

SCOPE_KEY = "thingapp.sandbox.harness.connection"
# How long to wait for the server to notice an aborted connection before handing back.
_NOTICE_TIMEOUT_S = 1.0


class ConnectionDropped(httpx2.RemoteProtocolError):
    """Raised over in-process transports: the sandbox closed the connection without answering."""

    def __init__(self) -> None:
        super().__init__("The sandbox dropped the connection without answering (injected fault).")


class ConnectionTimedOut(httpx2.ReadTimeout):
    """Raised over in-process transports: the sandbox held the request and never answered."""

    def __init__(self) -> None:
        super().__init__("The sandbox held the request and never answered (injected fault).")


class Connection:
    """One request's connection: aborts the server's transport, or notes the error to raise."""

    def __init__(self, send: Send) -> None:
        # uvicorn hands the app a bound method of its per-request cycle, which holds the transport.
        self._cycle: Any = getattr(send, "__self__", None)
        self.raise_after: Exception | None = None

    def _transport(self) -> Any:
        # asyncio's own, or uvloop's (which does not subclass asyncio.Transport): anything
        # that can abort.
        transport = getattr(self._cycle, "transport", None)
        return transport if callable(getattr(transport, "abort", None)) else None

    async def end_without_answer(self, error: Exception) -> None:
        """Close the connection now; over an in-process transport, raise `error` once the app
        has returned (the caller sends nothing either way)."""
        transport = self._transport()
        if transport is None:
            self.raise_after = error
            return
        transport.abort()
        # Let the server see the connection go, so it doesn't answer a 500 on our behalf.
        with anyio.move_on_after(_NOTICE_TIMEOUT_S):
            # uvicorn's request cycle has a flag but no event to wait on: poll it, briefly.
            while not getattr(self._cycle, "disconnected", True):  # noqa: ASYNC110
                await anyio.sleep(0.001)


def connection_of(scope: Scope) -> Connection | None:
    """The request's `Connection` (None outside a `SandboxStarlette`)."""
    connection = scope.get(SCOPE_KEY)
    return connection if isinstance(connection, Connection) else None


class SandboxStarlette(Starlette):
    """Starlette, with a `Connection` per HTTP request so faults can end it without an answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        connection = Connection(send)
        scope[SCOPE_KEY] = connection
        await super().__call__(scope, receive, send)
        if connection.raise_after is not None:
            raise connection.raise_after
