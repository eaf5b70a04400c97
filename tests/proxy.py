"""A small round-robin reverse proxy for the scale-out tests, run in a thread on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx2
import uvicorn
from starlette.types import Receive, Scope, Send

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "content-length", "host"}


class RoundRobinProxy:
    """Sends each request to the next backend in turn; `pin` may name a backend for a path.
    `served` records (path, backend index) for the test to read."""

    def __init__(self, backends: list[str], pin: Callable[[str], int | None] = lambda p: None):
        self.backends, self.pin = backends, pin
        self.served: list[tuple[str, int]] = []
        self._next = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        index = self.pin(scope["path"])
        if index is None:
            index, self._next = self._next, (self._next + 1) % len(self.backends)
        self.served.append((scope["path"], index))
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"]
                   if k.decode().lower() not in HOP_BY_HOP]
        url = self.backends[index] + scope["path"]
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode()
        # The body as the backend sent it (gzipped static files stay gzipped, as they would
        # through a real proxy): raw bytes, not httpx's decoded content.
        async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as client, \
                client.stream(scope["method"], url, headers=headers, content=body) as upstream:
            raw = b"".join([chunk async for chunk in upstream.aiter_raw()])
        await send({"type": "http.response.start", "status": upstream.status_code,
                    "headers": [(k.encode(), v.encode()) for k, v in upstream.headers.multi_items()
                                if k.lower() not in HOP_BY_HOP]
                    + [(b"content-length", str(len(raw)).encode())]})
        await send({"type": "http.response.body", "body": raw})


class ProxyServer:
    def __init__(self, proxy: RoundRobinProxy, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(proxy, host="127.0.0.1", port=port,
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ProxyServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the proxy did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
