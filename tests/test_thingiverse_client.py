"""The Thingiverse client: tokeninfo's strict reading, exact audiences, one error type."""

import asyncio
import json

import httpx2
import pytest

from thingapp.file_hosts import FileHosts
from thingapp.thingiverse import InvalidToken, ThingiverseClient, ThingiverseError, audience_matches

# The mock's storage and CDN, configured as the operator would configure their own hosts (a
# mock has no DNS to check them with).
TEST_HOSTS = FileHosts(["https://tv.test", "https://api.tv.test", "https://storage.test",
                        "https://cdn.test"], [])


def client_answering(handler) -> ThingiverseClient:
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    return ThingiverseClient(http, site_url="https://tv.test", api_url="https://api.tv.test",
                             client_id="123", client_secret="s3", retry_pauses=(0.01, 0.01),
                             file_hosts=TEST_HOSTS)


def run(coro):
    return asyncio.run(coro)


def tokeninfo_answer(status: int, body: bytes | str, seen: list | None = None):
    def handler(request: httpx2.Request) -> httpx2.Response:
        if seen is not None:
            seen.append(request)
        return httpx2.Response(status, content=body if isinstance(body, bytes) else body.encode())
    return handler


def test_tokeninfo_sends_the_token_in_a_form_body_not_the_url():
    seen: list[httpx2.Request] = []
    c = client_answering(tokeninfo_answer(200, '{"audience": "123", "user_id": "244"}', seen))
    info = run(c.tokeninfo("tok-secret"))
    assert (info.audience, info.user_id) == ("123", "244")
    assert seen[0].method == "POST" and seen[0].url.path == "/login/oauth/tokeninfo"
    assert "tok-secret" not in str(seen[0].url)
    assert seen[0].content == b"access_token=tok-secret"


@pytest.mark.parametrize(("audience", "matches"), [
    (123, True), ("123", True), ("1234", False), (" 123", False), ("123 ", False), ("12", False),
])
def test_audience_is_compared_exactly(audience, matches):
    body = json.dumps({"audience": audience, "user_id": "244"})
    info = run(client_answering(tokeninfo_answer(200, body)).tokeninfo("t"))
    assert audience_matches(info, "123") is matches


@pytest.mark.parametrize(("status", "body"), [
    (200, '{"user_id": "244"}'),  # no audience
    (200, '{"audience": "123"}'),  # no user
    (200, '{"audience": true, "user_id": "244"}'),
    (200, '{"audience": "123", "user_id": ""}'),
    (200, "<html>not json</html>"),
    (200, '["123", "244"]'),
    (400, '{"error": "invalid token"}'),
    (401, ""),
])
def test_anything_but_a_clear_tokeninfo_answer_is_an_invalid_token(status, body):
    with pytest.raises(InvalidToken):
        run(client_answering(tokeninfo_answer(status, body)).tokeninfo("t"))


def test_tokeninfo_5xx_is_an_upstream_failure_not_an_invalid_token():
    with pytest.raises(ThingiverseError) as caught:
        run(client_answering(tokeninfo_answer(503, "busy")).tokeninfo("t"))
    assert not isinstance(caught.value, InvalidToken) and caught.value.status == 503


def test_api_errors_carry_status_and_thingiverses_message():
    def handler(request):
        return httpx2.Response(404, json={"error": "Not Found"})
    with pytest.raises(ThingiverseError) as caught:
        run(client_answering(handler).get_thing("t", 5))
    assert (caught.value.status, caught.value.message) == (404, "Not Found")


def test_x_error_header_is_read_first():
    def handler(request):
        return httpx2.Response(403, headers={"X-Error": "Forbidden by policy"}, json={"error": "x"})
    with pytest.raises(ThingiverseError) as caught:
        run(client_answering(handler).get_me("t"))
    assert caught.value.message == "Forbidden by policy"


def test_api_calls_send_the_token_only_in_the_authorization_header():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx2.Response(200, json={"id": 7, "name": "x"})
    run(client_answering(handler).get_thing("tok-abc", 7))
    assert seen[0].headers["authorization"] == "Bearer tok-abc"
    assert "tok-abc" not in str(seen[0].url)


def test_timeouts_and_connection_failures_become_thingiverse_errors():
    def timeout(request):
        raise httpx2.ReadTimeout("slow", request=request)

    def refused(request):
        raise httpx2.ConnectError("refused", request=request)
    for handler in (timeout, refused):
        with pytest.raises(ThingiverseError) as caught:
            run(client_answering(handler).get_thing("t", 1))
        assert caught.value.status == 0


def test_malformed_api_json_is_an_error_not_a_crash():
    with pytest.raises(ThingiverseError, match="not JSON"):
        run(client_answering(lambda r: httpx2.Response(200, content=b"{oops")).get_thing("t", 1))
    with pytest.raises(ThingiverseError, match="unexpected shape"):
        run(client_answering(lambda r: httpx2.Response(200, json=[1])).get_thing("t", 1))


def test_code_exchange_reads_the_form_encoded_answer():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx2.Response(200, content=b"access_token=tok9&token_type=bearer",
                              headers={"content-type": "application/x-www-form-urlencoded"})
    assert run(client_answering(handler).exchange_code("c0de")) == "tok9"
    assert b"client_secret=s3" in seen[0].content and b"code=c0de" in seen[0].content


def test_refused_code_exchange_is_an_error():
    def handler(request):
        return httpx2.Response(400, content=b"error=invalid_grant")
    with pytest.raises(ThingiverseError) as caught:
        run(client_answering(handler).exchange_code("bad"))
    assert caught.value.message == "invalid_grant"


# Uploads and downloads --------------------------------------------------------------------

from thingapp.thingiverse import UploadTicket  # noqa: E402

FIELDS = {"AWSAccessKeyId": "AK", "bucket": "b", "key": "uploads/1/x.stl", "acl": "public-read",
          "success_action_redirect": "https://api.tv.test/files/77/finalize", "policy": "cG9s",
          "signature": "sig", "Content-Type": "application/octet-stream",
          "Content-Disposition": 'attachment; filename="x.stl"'}


def multipart_names(request: httpx2.Request) -> list[str]:
    body = request.read()
    boundary = request.headers["content-type"].split("boundary=")[1].encode()
    names = []
    for part in body.split(b"--" + boundary)[1:-1]:
        header = part.split(b"\r\n\r\n", 1)[0].decode()
        names.append(header.split('name="')[1].split('"')[0])
    return names


def test_the_storage_form_sends_every_field_in_order_then_the_file_last(tmp_path):
    seen = []

    def storage(request):
        seen.append(request)
        return httpx2.Response(303, headers={"Location": "https://api.tv.test/files/77/finalize"})
    path = tmp_path / "x.stl"
    path.write_bytes(b"solid x" * 1000)
    progress = []
    finalize = run(client_answering(storage).send_to_storage(
        UploadTicket("https://storage.test/up", FIELDS), path, "x.stl",
        lambda done, total: progress.append((done, total))))
    assert finalize == "https://api.tv.test/files/77/finalize"
    assert multipart_names(seen[0]) == [*FIELDS, "file"]
    assert "authorization" not in seen[0].headers
    assert progress[-1] == (7000, 7000)


def test_a_200_from_storage_finalizes_at_success_action_redirect(tmp_path):
    path = tmp_path / "x.stl"
    path.write_bytes(b"x")
    finalize = run(client_answering(lambda r: httpx2.Response(200)).send_to_storage(
        UploadTicket("https://storage.test/up", FIELDS), path, "x.stl"))
    assert finalize == FIELDS["success_action_redirect"]


def test_the_token_is_never_sent_to_a_host_other_than_the_api(tmp_path):
    seen = []
    c = client_answering(lambda r: seen.append(r) or httpx2.Response(200, json={}))
    with pytest.raises(ThingiverseError, match="refused to send the token"):
        run(c.finalize_upload("tok", "https://evil.test/files/1/finalize"))
    with pytest.raises(ThingiverseError, match="refused to send the token"):
        run(c.download_file("tok", {"direct_url": None,
                                    "download_url": "https://evil.test/files/1/download"},
                            tmp_path / "f", 1000))
    assert seen == []


def test_download_url_redirect_is_followed_without_the_token(tmp_path):
    seen = []

    def handler(request):
        seen.append(request)
        if request.url.host == "api.tv.test":
            return httpx2.Response(302, headers={"Location": "https://storage.test/f/x.stl"})
        return httpx2.Response(200, content=b"mesh-bytes")
    dest = tmp_path / "x.stl"
    run(client_answering(handler).download_file(
        "tok", {"direct_url": None, "download_url": "https://api.tv.test/files/5/download"},
        dest, 1000))
    assert dest.read_bytes() == b"mesh-bytes"
    assert seen[0].headers["authorization"] == "Bearer tok"
    assert "authorization" not in seen[1].headers


def test_a_download_past_the_limit_stops(tmp_path):
    from thingapp.thingiverse import FileTooLarge

    async def body():
        yield b"x" * 600
        yield b"x" * 600

    def handler(request):  # no Content-Length: the limit must hold while streaming
        return httpx2.Response(200, content=body())
    with pytest.raises(FileTooLarge):
        run(client_answering(handler).download_file(
            "tok", {"direct_url": "https://cdn.test/x.stl"}, tmp_path / "x", 1000))


# Backing off -------------------------------------------------------------------------------

def answers(*responses: httpx2.Response, seen: list | None = None):
    queue = list(responses)

    def handler(request):
        if seen is not None:
            seen.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]
    return handler


def test_a_read_rate_limited_once_is_retried_after_retry_after():
    seen: list = []
    c = client_answering(answers(httpx2.Response(429, headers={"Retry-After": "0.2"}),
                                 httpx2.Response(200, json={"id": 5, "name": "x"}), seen=seen))
    assert run(c.get_thing("t", 5))["id"] == 5
    assert len(seen) == 2


def test_the_wait_before_a_retry_is_the_one_retry_after_asks_for():
    import time as clock
    for asked in (0.6, 1.2):
        seen: list = []
        c = client_answering(answers(httpx2.Response(429, headers={"Retry-After": str(asked)}),
                                     httpx2.Response(200, json={"id": 5}), seen=seen))
        started = clock.monotonic()
        assert run(c.get_thing("t", 5))["id"] == 5
        waited = clock.monotonic() - started
        assert asked <= waited < asked + 0.4, (asked, waited)  # not the 0.01 s fixed pause


def test_a_read_still_limited_gives_up_in_bounded_time_and_says_when_to_retry():
    import time as clock
    seen: list = []
    c = client_answering(answers(httpx2.Response(429, headers={"Retry-After": "37"},
                                                json={"error": "Too Many Requests"}), seen=seen))
    started = clock.monotonic()
    with pytest.raises(ThingiverseError) as caught:
        run(c.get_thing("t", 5))
    assert clock.monotonic() - started < 5  # bounded: Retry-After is capped per wait
    assert len(seen) == 3
    assert (caught.value.status, caught.value.retry_after) == (429, 37.0)
    from thingapp.failures import upstream_failure
    assert upstream_failure(caught.value, 5) == (
        503, "Thingiverse is limiting requests right now. Try again in 37 seconds.")


def test_a_dropped_connection_on_a_read_is_retried():
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            raise httpx2.RemoteProtocolError("dropped", request=request)
        return httpx2.Response(200, json={"id": 1})
    assert run(client_answering(handler).get_thing("t", 1))["id"] == 1


def test_writes_are_never_retried():
    seen: list = []
    c = client_answering(answers(httpx2.Response(503), seen=seen))
    with pytest.raises(ThingiverseError):
        run(c.create_thing("t", {"name": "x"}))
    assert len(seen) == 1


def test_file_lists_follow_the_next_links_within_the_api():
    seen = []

    def handler(request):
        seen.append(str(request.url))
        page = int(request.url.params.get("page", "1"))
        links = ('<https://api.tv.test/things/5/files?page=2&per_page=100>; rel="next"'
                 if page == 1 else '<https://evil.test/steal?page=3>; rel="next"')
        return httpx2.Response(200, json=[{"id": page, "name": f"f{page}.stl"}],
                              headers={"Link": links})
    with pytest.raises(ThingiverseError, match="refused to send the token"):
        run(client_answering(handler).get_thing_files("t", 5))
    assert [u.split("?")[0] for u in seen] == ["https://api.tv.test/things/5/files"] * 2

    def well_behaved(request):
        page = int(request.url.params.get("page", "1"))
        links = ('<https://api.tv.test/things/5/files?page=2&per_page=100>; rel="next"'
                 if page == 1 else "")
        return httpx2.Response(200, json=[{"id": page, "name": f"f{page}.stl"}],
                              headers={"Link": links} if links else {})
    files = run(client_answering(well_behaved).get_thing_files("t", 5))
    assert [f["id"] for f in files] == [1, 2]


def test_only_a_finalize_address_gets_the_token():
    seen = []
    c = client_answering(lambda r: seen.append(r) or httpx2.Response(200, json={"id": 1}))
    for address in ("https://api.tv.test/things/5", "https://api.tv.test/users/me",
                    "https://api.tv.test/files/12/finalize/../../things/5"):
        with pytest.raises(ThingiverseError, match="not a finalize address"):
            run(c.finalize_upload("tok", address))
    assert seen == []
    assert run(c.finalize_upload("tok", "https://api.tv.test/files/12/finalize")) == {"id": 1}


def test_a_download_that_cannot_connect_is_a_thingiverse_error(tmp_path):
    def refused(request):
        raise httpx2.ConnectError("refused", request=request)
    with pytest.raises(ThingiverseError, match="the download failed") as caught:
        run(client_answering(refused).download_file(
            "tok", {"direct_url": "https://cdn.test/x.stl"}, tmp_path / "x", 1000))
    assert caught.value.status == 0


class Slow(httpx2.AsyncBaseTransport):
    """Answers every call after `seconds`, counting how many are under way at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.now, self.most = seconds, 0, 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.now += 1
        self.most = max(self.most, self.now)
        await asyncio.sleep(self.seconds)
        self.now -= 1
        return httpx2.Response(200, json={"id": 1, "name": "Cube"})


def slow_client(transport: Slow, at_once: int, pool_timeout: float = 5) -> ThingiverseClient:
    http = httpx2.AsyncClient(transport=transport, timeout=httpx2.Timeout(5, pool=pool_timeout))
    return ThingiverseClient(http, site_url="https://tv.test", api_url="https://api.tv.test",
                             client_id="123", retry_pauses=(), at_once=at_once)


def test_calls_to_thingiverse_take_turns_and_all_are_answered():
    transport = Slow(0.02)
    c = slow_client(transport, at_once=3)

    async def many() -> list:
        return await asyncio.gather(*(c.get_thing("tok", 1) for _ in range(12)))
    assert [thing["name"] for thing in run(many())] == ["Cube"] * 12
    assert transport.most == 3


def test_a_call_that_waits_too_long_for_its_turn_is_a_timeout_error():
    c = slow_client(Slow(0.5), at_once=1, pool_timeout=0.05)

    async def two() -> list:
        return await asyncio.gather(c.get_thing("tok", 1), c.get_thing("tok", 2),
                                    return_exceptions=True)
    first, second = run(two())
    assert first["name"] == "Cube"
    assert isinstance(second, ThingiverseError) and "timed out" in str(second)


def test_a_file_being_uploaded_takes_no_turn_from_the_calls(tmp_path):
    """Uploads last minutes: one may not keep a sign-in's tokeninfo waiting for a turn."""
    model = tmp_path / "cube.stl"
    model.write_bytes(b"solid cube\nendsolid cube\n")
    transport = Slow(0.3)
    c = slow_client(transport, at_once=1, pool_timeout=0.1)

    async def upload_and_read() -> tuple:
        return await asyncio.gather(c.upload_file("tok", model, "cube.stl"),
                                    c.get_thing("tok", 1), return_exceptions=True)
    upload, thing = run(upload_and_read())
    assert upload == 1 and thing["name"] == "Cube"
