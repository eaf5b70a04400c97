"""The HTTP client's transport (thingapp/aionet.py): what httpx2 expects of one and what HTTP/1.1
asks of a client, against a real server on loopback (its bytes written by hand where a test needs
a server misbehaving), under asyncio's own loop and uvloop (the one `thingapp serve` runs)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2
import pytest
import trustme
import uvloop

from thingapp.aionet import HIGH_WATER, AsyncioTransport

LIMITS = httpx2.Limits(max_connections=4, max_keepalive_connections=2)
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Callable[[Awaitable[object]], object]:
    return asyncio.run if request.param == "asyncio" else uvloop.run  # type: ignore[return-value]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head and body (by Content-Length); b"" when the client hung up."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b""
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return head + await reader.readexactly(length)


def new_client(timeout: float = 5.0) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=AsyncioTransport(LIMITS), timeout=timeout)


def answer(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


class Answering:
    """A server's handler: each request on a connection answered with `reply(request)` (by
    default 200 "ok"); it keeps the requests and counts the connections it was given."""

    def __init__(self, reply: Callable[[bytes], bytes] = lambda _: answer(b"ok")) -> None:
        self.reply = reply
        self.requests: list[bytes] = []
        self.connections = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while request := await read_request(reader):
            self.requests.append(request)
            writer.write(self.reply(request))
            await writer.drain()


@contextlib.asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """A server on loopback answering with `handler`; its URL. On leaving, every connection is
    closed and every handler has ended."""
    handlers: list[asyncio.Task[None]] = []
    writers: list[asyncio.StreamWriter] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        writers.append(writer)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(tracked, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.close()
        for writer, task in zip(writers, handlers, strict=True):
            writer.close()
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


def test_answers_come_whole_over_one_kept_connection(run):
    big = bytes(range(256)) * (3 * HIGH_WATER // 256)  # past the point where reading pauses
    handler = Answering(lambda request: answer(big if b"GET /big" in request else b"small"))

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            for _ in range(3):
                assert (await client.get(f"{url}/small")).content == b"small"
                assert (await client.get(f"{url}/big")).content == big
        assert handler.connections == 1
    run(body())


def test_a_connection_the_server_closed_while_idle_is_not_used_again(run):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"once"))  # keep-alive by HTTP/1.1's default, then hangs up
        await writer.drain()
        writer.close()

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            for _ in range(3):
                assert (await client.get(url)).content == b"once"
                await asyncio.sleep(0.05)  # the close arrives while the connection is idle
    run(body())


def test_a_request_body_larger_than_the_socket_buffers_reaches_a_slow_server(run):
    sent = b"x" * (8 * 1024 * 1024)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        received = 0
        while received < len(sent):  # slowly: the client has to wait for the transport
            received += len(await reader.read(256 * 1024))
            await asyncio.sleep(0.01)
        writer.write(answer(b"%d %d" % (received, len(head))))
        await writer.drain()
        writer.close()

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            got = (await client.post(url, content=sent)).content
            assert got.split()[0] == str(len(sent)).encode()
    run(body())


def test_a_server_that_reads_nothing_is_a_write_timeout_not_memory_spent(run):
    async def body() -> None:
        given_up = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            await given_up.wait()  # reads no body: the client must wait, not buffer it all

        async with serving(handler) as url, httpx2.AsyncClient(
                transport=AsyncioTransport(LIMITS),
                timeout=httpx2.Timeout(5, write=0.3)) as client:
            with pytest.raises(httpx2.WriteTimeout):
                await client.post(url, content=b"x" * (32 * 1024 * 1024))
            given_up.set()
    run(body())


def test_a_server_that_does_not_answer_in_time_is_a_read_timeout(run):
    async def body() -> None:
        answered = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await read_request(reader)
            await answered.wait()  # (after the client gave up)
            writer.close()

        async with serving(handler) as url, new_client(timeout=0.2) as client:
            with pytest.raises(httpx2.ReadTimeout):
                await client.get(url)
            answered.set()
    run(body())


def test_a_server_that_hangs_up_mid_answer_is_an_error_not_a_short_body(run):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        await writer.drain()
        writer.transport.abort()

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            with pytest.raises((httpx2.ReadError, httpx2.RemoteProtocolError)):
                await client.get(url)
    run(body())


def test_a_refused_connection_is_a_connect_error(run):
    async def body() -> None:
        async with serving(read_request) as url:  # type: ignore[arg-type]
            pass  # (and closed)
        async with new_client() as client:
            with pytest.raises(httpx2.ConnectError):
                await client.get(url)
    run(body())


def tls_pair() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server's context with a certificate for 127.0.0.1, and a client's that trusts it."""
    authority = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_tls)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    return server_tls, trusting


def test_a_large_answer_over_tls_read_slowly_arrives_whole(run):
    """Reading pauses past the high-water mark and resumes as the reader catches up: over TLS
    that must be the TLS layer's reading (pausing the socket under it was never undone)."""
    server_tls, trusting = tls_pair()
    big = bytes(range(256)) * (4 * 1024 * 1024 // 256)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(big))
        await writer.drain()

    async def body() -> None:
        async with serving(handler, server_tls) as url, httpx2.AsyncClient(
                transport=AsyncioTransport(LIMITS, verify=trusting), timeout=5) as client:
            received = bytearray()
            async with client.stream("GET", url) as response:
                async for chunk in response.aiter_bytes():
                    received += chunk
                    await asyncio.sleep(0.002)  # a slow reader: the buffer fills and pauses
            assert bytes(received) == big
    run(body())


def test_tls_is_checked_against_the_certificate_authority(run):
    server_tls, trusting = tls_pair()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader):
            writer.write(answer(b"over tls"))
            await writer.drain()
        writer.close()

    async def body() -> None:
        async with serving(handler, server_tls) as url:
            async with httpx2.AsyncClient(
                    transport=AsyncioTransport(LIMITS, verify=trusting)) as client:
                response = await client.get(url)
                assert response.content == b"over tls"
                assert response.extensions["network_stream"].get_extra_info(
                    "ssl_object") is not None
            async with new_client() as client:
                with pytest.raises(httpx2.ConnectError):  # an authority nobody trusts
                    await client.get(url)
    run(body())


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent(run):
    """A token is input (it comes from the sign-in's URL fragment): one carrying a line break
    must not add a header, or a second request, to what Thingiverse receives."""
    handler = Answering()

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            for bad in ("Bearer x\r\nX-Injected: 1", "Bearer x\nGET / HTTP/1.1", "Bearer \x00"):
                with pytest.raises(httpx2.LocalProtocolError):
                    await client.get(url, headers={"Authorization": bad})
            with pytest.raises(httpx2.LocalProtocolError):
                await client.get(url, headers={"X-Bad Name": "1"})
            with pytest.raises(httpx2.LocalProtocolError):
                await client.request("GET / HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET", url)
            assert (await client.get(url, headers={"Authorization": "Bearer fine"})).text == "ok"
        assert len(handler.requests) == 1 and b"Bearer fine" in handler.requests[0]
    run(body())


def test_an_endless_answer_head_is_an_error_not_memory(run):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nX-Long: ")
        with contextlib.suppress(ConnectionError):
            for _ in range(1000):  # 64 MB of one header's value, if nobody stops it
                writer.write(b"a" * 65536)
                await writer.drain()

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            with pytest.raises(httpx2.RemoteProtocolError, match="answer.s head"):
                await client.get(url)
    run(body())


def test_answers_without_a_length_and_in_chunks_arrive_whole(run):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        if b"GET /chunked" in request:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"5\r\nhello\r\n6\r\n chunk\r\n0\r\n\r\n")
            await writer.drain()
            await read_request(reader)  # the connection was kept: a second request comes on it
            writer.write(answer(b"again"))
        else:  # no length: the body ends where the server closes
            writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil ")
            await writer.drain()
            writer.write(b"the close")
        await writer.drain()
        writer.close()

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            assert (await client.get(f"{url}/chunked")).content == b"hello chunk"
            assert (await client.get(f"{url}/chunked")).content == b"again"
            await asyncio.sleep(0.05)  # (the server hangs up: a new connection follows)
            assert (await client.get(f"{url}/close")).content == b"until the close"
    run(body())


def test_a_streamed_request_body_goes_in_chunks_and_arrives_whole(run):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"transfer-encoding: chunked" in head.lower()
        received = b""
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            received += (await reader.readexactly(size + 2))[:-2]
        await reader.readexactly(2)
        writer.write(answer(received))
        await writer.drain()

    async def parts() -> AsyncIterator[bytes]:
        for part in (b"one ", b"", b"two ", b"three"):
            yield part

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            assert (await client.post(url, content=parts())).content == b"one two three"
    run(body())


def test_connections_stay_within_the_limit_and_a_request_waits_no_longer_than_the_pool_timeout(
        run):
    open_now = most = 0
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, most
        open_now += 1
        most = max(most, open_now)
        try:
            while await read_request(reader):
                await release.wait()
                writer.write(answer(b"ok"))
                await writer.drain()
        finally:
            open_now -= 1

    async def body() -> None:
        async with serving(handler) as url, httpx2.AsyncClient(
                transport=AsyncioTransport(LIMITS), timeout=httpx2.Timeout(5, pool=0.3)) as client:
            waiting = [asyncio.ensure_future(client.get(f"{url}/{n}")) for n in range(4)]
            await asyncio.sleep(0.1)
            with pytest.raises(httpx2.PoolTimeout):  # all 4 connections are taken
                await client.get(f"{url}/late")
            release.set()
            assert [r.text for r in await asyncio.gather(*waiting)] == ["ok"] * 4
            for n in range(10):  # kept ones are used again; never more than 4 open at once
                await asyncio.gather(*(client.get(f"{url}/{n}/{m}") for m in range(6)))
        assert most == LIMITS.max_connections
    run(body())


def test_a_connection_is_not_used_again_after_close_an_unread_body_or_stray_bytes(run):
    def reply(request: bytes) -> bytes:
        if b"GET /close" in request:
            return b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
        if b"GET /stray" in request:
            return answer(b"ok") + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray"
        return answer(b"x" * (4 * HIGH_WATER) if b"GET /big" in request else b"ok")
    handler = Answering(reply)

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            for path in ("close", "stray"):
                assert (await client.get(f"{url}/{path}")).text == "ok"
                await asyncio.sleep(0.05)
                assert (await client.get(f"{url}/next")).text == "ok"
            async with client.stream("GET", f"{url}/big") as response:
                assert response.status_code == 200  # its body left unread
            assert (await client.get(f"{url}/next")).text == "ok"
        assert handler.connections == 4  # a new one after each of the three, and the first
    run(body())


def test_an_informational_answer_before_the_real_one_is_skipped(run):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"the real one"))
        await writer.drain()

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            response = await client.get(url)
            assert (response.status_code, response.content) == (200, b"the real one")
    run(body())


def test_a_connection_idle_past_the_keepalive_expiry_is_not_used_again(run):
    handler = Answering()

    async def body() -> None:
        limits = httpx2.Limits(max_connections=4, max_keepalive_connections=2,
                               keepalive_expiry=0.2)
        async with serving(handler) as url, httpx2.AsyncClient(
                transport=AsyncioTransport(limits)) as client:
            await client.get(url)
            await client.get(url)  # kept
            await asyncio.sleep(0.3)
            await client.get(url)  # expired: a new one
        assert handler.connections == 2
    run(body())


def test_an_answer_sent_before_the_whole_body_was_taken_reaches_the_caller(run):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n"
                     b"Connection: close\r\n\r\ntoo much")
        await writer.drain()
        writer.write_eof()  # done: the rest of the body is read and dropped
        while await reader.read(65536):
            pass

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            response = await client.post(url, content=b"x" * (16 * 1024 * 1024))
            assert (response.status_code, response.content) == (413, b"too much")
    run(body())


def test_a_slow_reader_holds_a_bounded_part_of_a_fast_answer(run):
    big = b"x" * (8 * 1024 * 1024)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(big))
        await writer.drain()

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            sizes = []
            async with client.stream("GET", url) as response:
                async for chunk in response.aiter_raw():
                    sizes.append(len(chunk))
                    await asyncio.sleep(0.02)  # the server could send megabytes meanwhile
            assert sum(sizes) == len(big)
            assert max(sizes) <= 2 * HIGH_WATER
    run(body())


NEVER_BODY = {  # what a server sends after its answer's head instead of (more) body
    "trailer lines": (b"Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n", b"X-T: 1\r\n"),
    "one trailer's value": (b"Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: ", b"a"),
    "a chunk extension": (b"Transfer-Encoding: chunked\r\n\r\n1;", b"a"),
}


@pytest.mark.parametrize("kind", NEVER_BODY)
def test_bytes_that_are_never_body_are_an_error_not_memory_cpu_or_a_wait(run, kind):
    """Each would otherwise be kept (trailers), built up quadratically (httptools joins a value's
    pieces) or, arriving now and then, keep a read from ever timing out."""
    start, filler = NEVER_BODY[kind]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n" + start)
        with contextlib.suppress(ConnectionError):
            for _ in range(2000):  # 64 MB in all, 1 KB every few milliseconds
                writer.write(filler * (1024 // len(filler)))
                await writer.drain()
                await asyncio.sleep(0.002)

    async def body() -> None:
        async with serving(handler) as url, new_client(timeout=0.5) as client:
            cpu = time.process_time()
            with pytest.raises(httpx2.RemoteProtocolError, match="framing or trailers"):
                await asyncio.wait_for(client.get(url), 10)
            assert time.process_time() - cpu < 1.0
    run(body())


def test_a_flood_of_informational_answers_is_an_error(run):
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        with contextlib.suppress(ConnectionError):
            while True:  # for as long as the client listens
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" * 50)
                await writer.drain()

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            with pytest.raises(httpx2.RemoteProtocolError):
                await asyncio.wait_for(client.get(url), 5)
    run(body())


@pytest.mark.parametrize("status", [b"099", b"101"])
def test_an_answer_with_a_status_nobody_can_take_is_refused(run, status):
    """Below 100 is no status (llhttp reads it, with a body); 101 switches protocols nobody asked
    for. Neither may pass for an informational answer whose body is glued onto the next one."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 %s Odd\r\nContent-Length: 5\r\nUpgrade: x\r\n"
                     b"Connection: upgrade\r\n\r\nEVIL!" % status + answer(b"real"))
        await writer.drain()
        with contextlib.suppress(ConnectionError):
            await reader.read()  # until the client hangs up

    async def body() -> None:
        loop_errors: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda _, error: loop_errors.append(error))
        async with serving(handler) as url, new_client() as client:
            with pytest.raises(httpx2.RemoteProtocolError):
                await client.get(url)
        # (the test server's handlers are cancelled on leaving: not an error of the client's)
        assert [e for e in loop_errors if not isinstance(e.get("exception"),
                                                          asyncio.CancelledError)] == []
    run(body())


def client_sockets_to(url: str) -> int:
    """How many TCP connections to `url`'s port this machine has open from the client's side
    (Linux's own table: a socket the client still holds, whatever the transport thinks)."""
    port = int(url.rsplit(":", 1)[1])
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for row in rows if int(row[2].split(":")[1], 16) == port and row[3] == "01")


def test_a_connection_given_up_on_is_dropped_at_once_not_left_flushing(run):
    """A write timeout leaves megabytes unsent: a close that waited to flush them would keep the
    socket open past the pool's limit for as long as the server reads nothing."""
    async def body() -> None:
        stop = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            await stop.wait()  # reads no body

        async with serving(handler) as url, httpx2.AsyncClient(
                transport=AsyncioTransport(LIMITS), timeout=httpx2.Timeout(5, write=0.2)) as client:
            for _ in range(2 * LIMITS.max_connections):
                with pytest.raises(httpx2.WriteTimeout):
                    await client.post(url, content=b"x" * (16 * 1024 * 1024))
            await asyncio.sleep(0.2)
            assert client_sockets_to(url) == 0
            stop.set()
    run(body())


@pytest.mark.parametrize("length", [3, 100])
def test_a_streamed_body_is_held_to_its_content_length(run, length):
    """Longer, the rest would be read as another request (smuggled); shorter, the server would
    wait for the missing bytes until the read timeout."""
    handler = Answering()

    async def parts() -> AsyncIterator[bytes]:
        yield b"abc"
        yield b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"

    async def body() -> None:
        async with serving(handler) as url, new_client(timeout=30) as client:
            with pytest.raises(httpx2.LocalProtocolError):
                await asyncio.wait_for(client.post(
                    url, content=parts(), headers={"Content-Length": str(length)}), 5)
            with pytest.raises(httpx2.LocalProtocolError):  # the same when all is at hand
                await asyncio.wait_for(client.post(
                    url, content=b"abc" + b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
                    headers={"Content-Length": str(length)}), 5)
            await asyncio.sleep(0.1)
        assert not any(b"GET /smuggled" in request for request in handler.requests)
    run(body())


def test_an_http_1_0_answer_is_read_but_its_connection_not_kept(run):
    handler = Answering(lambda _: b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
                                  b"Content-Length: 3\r\n\r\nold")

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            for _ in range(2):
                response = await client.get(url)
                assert (response.content, response.http_version) == (b"old", "HTTP/1.0")
        assert handler.connections == 2
    run(body())


def test_no_more_connections_are_kept_idle_than_the_limit_says(run):
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader):
            await release.wait()  # so that four connections are open at once
            writer.write(answer(b"ok"))
            await writer.drain()

    async def body() -> None:
        async with serving(handler) as url, new_client() as client:
            calls = [asyncio.ensure_future(client.get(f"{url}/{n}")) for n in range(4)]
            await asyncio.sleep(0.1)
            assert client_sockets_to(url) == LIMITS.max_connections
            release.set()
            await asyncio.gather(*calls)
            await asyncio.sleep(0.1)
            assert client_sockets_to(url) == LIMITS.max_keepalive_connections
    run(body())
