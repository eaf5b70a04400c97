"""The shared HTTP client's transport: HTTP/1.1 on asyncio's own transports, each answer parsed by
httptools (llhttp, the C parser uvicorn already serves the app with).

httpx2's own transport sends each request through httpcore2's pool, h11 (HTTP/1.1 written in Python)
and anyio: about 250 us of CPU a call here, two thirds of what a call to Thingiverse costs the app,
and the app makes five of them per sign-in. This transport keeps httpx2's client (its API, errors,
timeouts and limits) and does the same work with less: a request's head goes out in one write, the
answer is parsed in C as it arrives, a read waits on one future, a kept connection's state is known
without a syscall.

What it promises, each tested in tests/test_aionet.py: one request at a time on a connection, kept
for the next only when its HTTP/1.1 answer was read whole and the server did not ask to close; at
most MAX_HEAD bytes of an answer that are not body (head, chunk framing, trailers) and at most
HIGH_WATER of body buffered (reading pauses, the server waits); a request body written only as
fast as the server takes it (write timeout) and held to its Content-Length; a method or header
that could break the request's lines refused before anything is sent; a connection given up on
dropped at once (no flush to wait for); TLS checked against the authority.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httptools
import httpx2

# Buffered answer bytes at which reading pauses (until the reader takes them).
HIGH_WATER = 256 * 1024
WRITE_SIZE = 64 * 1024  # a body at hand goes out in pieces of this size, as fast as it's taken
# Bytes an answer may send with no body byte among them: its head (as httpcore2's limit), or
# chunk framing, trailers and informational answers before and after the body.
MAX_HEAD = 100 * 1024
PIECE_COST = 64  # what one piece of body costs in memory beside its bytes (counted to the mark)
_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # control characters but tab


async def acquire(semaphore: asyncio.Semaphore, timeout: float | None) -> None:
    """`semaphore.acquire()`, waiting at most `timeout` seconds (then TimeoutError); no timer
    when it is free at once (setting and cancelling one cost ten times the acquiring)."""
    if semaphore.locked():
        async with asyncio.timeout(timeout):
            await semaphore.acquire()
    else:
        await semaphore.acquire()


def _expire(waiter: asyncio.Future[None], error: Exception) -> None:
    if not waiter.done():
        waiter.set_exception(error)


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection to one origin, carrying one request at a time. The protocol's
    callbacks and httptools' fill in the answer; the request's task waits on `_waiter`."""

    def __init__(self, origin: tuple[str, str, int]) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.error: httpx2.TransportError | None = None  # why no (more) answer can be read
        self.closed = False
        self.idle_since = 0.0
        self.expecting = False  # a request was sent and its answer is not complete
        self._waiter: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._reading_paused = False
        self._new_answer(b"GET")

    def _new_answer(self, method: bytes) -> None:
        self.head_only = method == b"HEAD"
        self.not_body = 0  # bytes since the last body byte, up to MAX_HEAD
        self.status, self.reason = 0, b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = self.complete = self.keep_alive = False
        self.body: deque[bytes] = deque()
        self.buffered = 0

    # -- asyncio's side --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if not self.expecting:  # bytes nobody asked for: the connection can't be trusted again
            self._fail(httpx2.RemoteProtocolError("the server sent bytes nobody asked for"))
            return
        self.not_body += len(data)  # (on_body sets it back to 0)
        try:
            self.parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            self._fail(httpx2.RemoteProtocolError(f"the answer could not be read: {exc!r}"))
            return
        if self.not_body > MAX_HEAD:
            self._fail(httpx2.RemoteProtocolError(
                f"over {MAX_HEAD} bytes of an answer's head, framing or trailers"))
            return
        self._wake()

    def eof_received(self) -> bool:
        if self.expecting and self.head_done and self._ends_at_close():
            self._on_complete(keep_alive=False)
        elif self.expecting:
            self._fail(httpx2.RemoteProtocolError(
                "the server closed the connection before its answer was complete"
                if self.head_done else "the server closed the connection without answering"))
        self._wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.expecting and self.error is None:
            self.error = httpx2.ReadError(str(exc or "the connection was lost"))
        self._wake()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # -- httptools' side -------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        if not self.expecting:
            raise httpx2.RemoteProtocolError("a second answer to one request")

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.head_done:  # (trailers are dropped)
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if self.status < 100 or self.status == 101:  # (nobody asked to switch protocols)
            raise httpx2.RemoteProtocolError(f"an answer with status {self.status}")
        if self.status >= 200:  # (an informational answer comes before the real one)
            self.head_done = True
            if self.head_only:  # no body follows, whatever its headers say
                self._on_complete(keep_alive=False)

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return
        self.body.append(body)
        self.buffered += len(body) + PIECE_COST
        self.not_body = 0
        if self.buffered > HIGH_WATER and not self._reading_paused and self.transport:
            self._reading_paused = True
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if not self.head_done:  # the end of an informational answer
            self.reason, self.headers = b"", []  # (not_body goes on: they share MAX_HEAD)
        elif not self.complete:  # kept only if HTTP/1.1 and not asked to close (as h11)
            self._on_complete(keep_alive=self.parser.should_keep_alive()
                              and self.parser.get_http_version() == "1.1")

    # -- the request's side ----------------------------------------------------------------------
    def _on_complete(self, keep_alive: bool) -> None:
        self.complete, self.keep_alive, self.expecting = True, keep_alive, False

    def _ends_at_close(self) -> bool:
        """An answer without a length: its body is all the server sends until it closes."""
        return not any(name.lower() in (b"content-length", b"transfer-encoding")
                       for name, _ in self.headers)

    def _fail(self, error: httpx2.TransportError) -> None:
        if self.error is None:
            self.error = error
        self.expecting = False
        self.close()
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _wait(self, waiter: asyncio.Future[None], timeout: float | None,
                    timeout_error: type[httpx2.TimeoutException]) -> None:
        """Wait for `waiter`, raising `timeout_error` after `timeout` seconds (set on the
        future, so a CancelledError here is always a cancellation from outside)."""
        if timeout is None:
            await waiter
            return
        timer = asyncio.get_running_loop().call_later(
            timeout, _expire, waiter, timeout_error(f"no answer within {timeout} s"))
        try:
            await waiter
        finally:
            timer.cancel()

    async def _write(self, data: bytes, timeout: float | None) -> None:
        if self.closed or self.transport is None or self.transport.is_closing():
            raise httpx2.WriteError(str(self.error or "the connection is closed"))
        self.transport.write(data)
        if self._writable is not None:
            await self._wait(self._writable, timeout, httpx2.WriteTimeout)
            if self.closed:
                raise httpx2.WriteError(str(self.error or "the connection is closed"))

    async def send(self, request: httpx2.Request, timeout: float | None) -> None:
        method = request.method.encode("ascii", "replace")
        if not _NAME.fullmatch(method):
            raise httpx2.LocalProtocolError(f"refused to send the method {request.method!r}")
        lines = [b"%s %s HTTP/1.1" % (method, request.url.raw_path)]
        for name, value in request.headers.raw:
            if not _NAME.fullmatch(name) or _BAD_VALUE.search(value):
                raise httpx2.LocalProtocolError(f"refused to send the header {name!r}")
            lines.append(name + b": " + value)
        head = b"\r\n".join(lines) + b"\r\n\r\n"
        chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
        length = request.headers.get("content-length", "0")
        if not chunked and not length.isdigit():
            raise httpx2.LocalProtocolError(f"refused to send Content-Length: {length!r}")
        left = None if chunked else int(length)
        self._new_answer(method)
        self.expecting = True
        try:
            if isinstance(request.stream, httpx2.ByteStream) and left == len(request.content):
                content = request.content  # all at hand, and as long as it says
                await self._write(head + content[:WRITE_SIZE], timeout)
                for start in range(WRITE_SIZE, len(content), WRITE_SIZE):
                    await self._write(content[start:start + WRITE_SIZE], timeout)
                return
            await self._write(head, timeout)
            async for chunk in request.stream:  # type: ignore[union-attr]
                if left is not None:
                    left -= len(chunk)
                    if left < 0:
                        raise httpx2.LocalProtocolError("a body longer than its Content-Length")
                if chunk:
                    await self._write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk,
                                      timeout)
            if chunked:
                await self._write(b"0\r\n\r\n", timeout)
            elif left:
                raise httpx2.LocalProtocolError("a body shorter than its Content-Length")
        except httpx2.WriteError:
            pass  # a server may answer (say 413) and close before taking the whole body

    async def receive_head(self, timeout: float | None) -> None:
        while not self.head_done:
            if self.error is not None:
                raise self.error
            if self.closed:
                raise httpx2.RemoteProtocolError("the connection closed without an answer")
            self._waiter = asyncio.get_running_loop().create_future()
            await self._wait(self._waiter, timeout, httpx2.ReadTimeout)

    async def receive_body(self, timeout: float | None) -> bytes | None:
        """What arrived of the body since the last call, waiting for some; None at its end."""
        while True:
            if self.body:
                data = b"".join(self.body)
                self.body.clear()
                self.buffered = 0
                if self._reading_paused and self.transport is not None:
                    self._reading_paused = False
                    self.transport.resume_reading()
                return data
            if self.complete:
                return None
            if self.error is not None:
                raise self.error
            self._waiter = asyncio.get_running_loop().create_future()
            await self._wait(self._waiter, timeout, httpx2.ReadTimeout)

    def reusable(self) -> bool:
        return (self.complete and self.keep_alive and not self.body and self.error is None
                and not self.closed and self.transport is not None
                and not self.transport.is_closing())

    def close(self) -> None:
        self.expecting = False
        if self.transport is not None and not self.closed:
            self.transport.abort()  # (as anyio/httpcore2: nothing left to flush or wait for)

    def get_extra_info(self, name: str) -> Any:
        """As httpcore2's network streams: `response.extensions["network_stream"]`."""
        names = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername"}
        return (self.transport.get_extra_info(names[name])
                if name in names and self.transport is not None else None)


class _Body(httpx2.AsyncByteStream):
    def __init__(self, pool: AsyncioTransport, connection: _Connection,
                 timeout: float | None) -> None:
        self._pool, self._connection, self._timeout = pool, connection, timeout
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (data := await self._connection.receive_body(self._timeout)) is not None:
            yield data

    async def aclose(self) -> None:
        if not self._done:
            self._done = True
            self._pool.give_back(self._connection)


class AsyncioTransport(httpx2.AsyncBaseTransport):
    """httpx2's transport interface: `httpx2.AsyncClient(transport=AsyncioTransport(limits))`.
    `limits` as for httpx2's own: connections carrying a request at once (more wait, up to the
    pool timeout), connections kept idle, and for how long."""

    def __init__(self, limits: httpx2.Limits, *,
                 verify: ssl.SSLContext | bool = True) -> None:
        self._tls = httpx2.create_ssl_context(verify=verify)
        self._slots = asyncio.Semaphore(limits.max_connections or 1_000_000)
        self._max = limits.max_connections
        self._max_idle = limits.max_keepalive_connections
        self._expiry = limits.keepalive_expiry
        self._idle: list[_Connection] = []  # the most recently used last
        self._busy = 0
        self._closed = False  # (by aclose: connections still busy are closed when done)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx2.UnsupportedProtocol(f"no {url.scheme!r} URLs here, only http(s)")
        origin = (url.scheme, url.raw_host.decode("ascii"),
                  url.port or (443 if url.scheme == "https" else 80))
        try:
            await acquire(self._slots, timeouts.get("pool"))
        except TimeoutError:
            raise httpx2.PoolTimeout("no connection free in time") from None
        self._busy += 1
        try:
            connection = self._kept(origin) or await self._connect(origin, timeouts.get("connect"))
            try:
                await connection.send(request, timeouts.get("write"))
                await connection.receive_head(timeouts.get("read"))
            except BaseException:
                connection.close()
                raise
        except BaseException:
            self._busy -= 1
            self._slots.release()
            raise
        return httpx2.Response(
            connection.status, headers=connection.headers,
            stream=_Body(self, connection, timeouts.get("read")),
            extensions={"http_version": b"HTTP/" + connection.parser.get_http_version().encode(),
                        "reason_phrase": connection.reason.strip(),
                        "network_stream": connection})

    def give_back(self, connection: _Connection) -> None:
        """A request is done with `connection`: keep it for the next, or close it."""
        self._busy -= 1
        self._slots.release()
        if self._closed or not connection.reusable():
            connection.close()
            return
        connection.idle_since = time.monotonic()
        self._idle.append(connection)
        if self._max_idle is not None and len(self._idle) > self._max_idle:
            self._idle.pop(0).close()

    def _kept(self, origin: tuple[str, str, int]) -> _Connection | None:
        """The most recently used idle connection to `origin` still good to use; the expired
        and the broken are closed on the way."""
        oldest_usable = time.monotonic() - (self._expiry or 0)
        found = None
        for connection in reversed(list(self._idle)):
            if not connection.reusable() or (
                    self._expiry is not None and connection.idle_since < oldest_usable):
                self._idle.remove(connection)
                connection.close()
            elif found is None and connection.origin == origin:
                self._idle.remove(connection)
                found = connection
        return found

    async def _connect(self, origin: tuple[str, str, int],
                       timeout: float | None) -> _Connection:
        if self._max is not None and self._idle and self._busy + len(self._idle) > self._max:
            self._idle.pop(0).close()  # room for this one within max_connections
        scheme, host, port = origin
        tls = self._tls if scheme == "https" else None
        try:
            async with asyncio.timeout(timeout):
                _, connection = await asyncio.get_running_loop().create_connection(
                    lambda: _Connection(origin), host, port, ssl=tls,
                    server_hostname=host if tls else None)
        except TimeoutError:
            raise httpx2.ConnectTimeout(f"no connection within {timeout} s") from None
        except OSError as exc:  # (ssl.SSLError among them)
            raise httpx2.ConnectError(str(exc) or type(exc).__name__) from exc
        return connection

    async def aclose(self) -> None:
        self._closed = True
        for connection in self._idle:
            connection.close()
        self._idle.clear()
        await asyncio.sleep(0)
