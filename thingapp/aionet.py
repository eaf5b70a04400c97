"""An httpcore2 network backend on asyncio's own transports, for the shared HTTP client.

httpcore2 (under httpx2) runs on anyio under asyncio, and anyio pays for each socket read or
write with a cancel scope, a timer, an exception-mapping context and a checkpoint; to tell whether
an idle connection was closed by the server it polls the socket. For the app, which makes five
calls to Thingiverse per sign-in, that was about a third of the HTTP client's CPU time. Here a
read takes what the protocol already buffered, or waits on one future; a write hands the bytes
to the transport and waits only when the transport asks it to; an idle connection's state is
known without a syscall. (The same design is proposed upstream: pydantic/httpx2#1170.)
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2
import httpx2

# Buffered bytes at which an idle connection stops reading, and below which it reads again: reads
# go on while no request is under way, so a server's close or stray bytes are seen at once.
HIGH_WATER, LOW_WATER = 256 * 1024, 64 * 1024


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None  # how the connection was lost, if it was
        self.closed = False
        self.reading_paused = False
        self._reader: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport) or hasattr(transport, "write")
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed, self.error = True, exc
        self._wake_reader()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    async def wait(self, waiter: asyncio.Future[None], timeout: float | None,
                   timeout_error: type[Exception]) -> None:
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

    def readable(self) -> asyncio.Future[None]:
        self._reader = asyncio.get_running_loop().create_future()
        return self._reader


def _expire(waiter: asyncio.Future[None], error: Exception) -> None:
    if not waiter.done():
        waiter.set_exception(error)


class AsyncioStream(httpcore2.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport, self._protocol = transport, protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not (protocol.eof or protocol.closed):
            await protocol.wait(protocol.readable(), timeout, httpcore2.ReadTimeout)
        if protocol.buffer:
            data = bytes(protocol.buffer[:max_bytes])
            del protocol.buffer[:max_bytes]
            if protocol.reading_paused and len(protocol.buffer) < LOW_WATER:
                protocol.reading_paused = False
                self._transport.resume_reading()
            return data
        if protocol.error is not None:
            raise httpcore2.ReadError(str(protocol.error) or type(protocol.error).__name__)
        return b""  # the server closed the connection: httpcore2 knows what that means

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if protocol.closed or self._transport.is_closing():
            raise httpcore2.WriteError(str(protocol.error or "the connection is closed"))
        self._transport.write(buffer)
        writable = protocol._writable
        if writable is not None:
            await protocol.wait(writable, timeout, httpcore2.WriteTimeout)
            if protocol.closed:
                raise httpcore2.WriteError(str(protocol.error or "the connection is closed"))

    async def aclose(self) -> None:
        self._transport.close()  # (the loop closes the socket, after TLS's close_notify)
        await asyncio.sleep(0)

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore2.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(self._transport, self._protocol, ssl_context,
                                                 server_hostname=server_hostname)
        except TimeoutError:
            self._transport.abort()
            raise httpcore2.ConnectTimeout(f"no TLS handshake within {timeout} s") from None
        except (OSError, ssl.SSLError) as exc:
            self._transport.abort()
            raise httpcore2.ConnectError(str(exc)) from exc
        if transport is None:
            raise httpcore2.ConnectError("the connection closed during the TLS handshake")
        # The TLS layer now feeds the protocol: reading is paused and resumed on it (pausing
        # the raw socket underneath would never be undone).
        self._protocol.transport = transport
        self._protocol.reading_paused = False
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # of an idle connection: the server spoke or hung up
            protocol = self._protocol
            return bool(protocol.buffer) or protocol.eof or protocol.closed
        names = {"ssl_object": "ssl_object", "client_addr": "sockname",
                 "server_addr": "peername", "socket": "socket"}
        return self._transport.get_extra_info(names[info]) if info in names else None


class AsyncioBackend(httpcore2.AsyncNetworkBackend):
    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[tuple[Any, ...]] | None = None,
                          ) -> httpcore2.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_connection(
                    _Protocol, host, port,
                    local_addr=(local_address, 0) if local_address else None)
        except TimeoutError:
            raise httpcore2.ConnectTimeout(f"no connection within {timeout} s") from None
        except OSError as exc:
            raise httpcore2.ConnectError(str(exc)) from exc
        sock: socket.socket = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[tuple[Any, ...]] | None = None,
                                  ) -> httpcore2.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport, protocol = await loop.create_unix_connection(_Protocol, path)
        except TimeoutError:
            raise httpcore2.ConnectTimeout(f"no connection within {timeout} s") from None
        except OSError as exc:
            raise httpcore2.ConnectError(str(exc)) from exc
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def backend_transport(limits: httpx2.Limits,
                      verify: ssl.SSLContext | bool = True) -> httpx2.AsyncHTTPTransport:
    """httpx2's own transport, its connections made by `AsyncioBackend`. (The transport builds
    its pool itself and takes no backend, as in httpx, encode/httpx#3749: the pool is swapped
    for one built the same way with the backend; tests/test_aionet.py fails if that changes.)"""
    transport = httpx2.AsyncHTTPTransport(verify=verify, limits=limits)
    transport._pool = httpcore2.AsyncConnectionPool(
        ssl_context=httpx2.create_ssl_context(verify=verify),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry, network_backend=AsyncioBackend())
    return transport
