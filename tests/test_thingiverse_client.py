"""The Thingiverse client: tokeninfo's strict reading, exact audiences, one error type."""

import asyncio
import json

import httpx
import pytest

from thingapp.thingiverse import (InvalidToken, ThingiverseClient, ThingiverseError,
                                  audience_matches)


def client_answering(handler) -> ThingiverseClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ThingiverseClient(http, site_url="https://tv.test", api_url="https://api.tv.test",
                             client_id="123", client_secret="s3")


def run(coro):
    return asyncio.run(coro)


def tokeninfo_answer(status: int, body: bytes | str, seen: list | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, content=body if isinstance(body, bytes) else body.encode())
    return handler


def test_tokeninfo_sends_the_token_in_a_form_body_not_the_url():
    seen: list[httpx.Request] = []
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
        return httpx.Response(404, json={"error": "Not Found"})
    with pytest.raises(ThingiverseError) as caught:
        run(client_answering(handler).get_thing("t", 5))
    assert (caught.value.status, caught.value.message) == (404, "Not Found")


def test_x_error_header_is_read_first():
    def handler(request):
        return httpx.Response(403, headers={"X-Error": "Forbidden by policy"}, json={"error": "x"})
    with pytest.raises(ThingiverseError) as caught:
        run(client_answering(handler).get_me("t"))
    assert caught.value.message == "Forbidden by policy"


def test_api_calls_send_the_token_only_in_the_authorization_header():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, json={"id": 7, "name": "x"})
    run(client_answering(handler).get_thing("tok-abc", 7))
    assert seen[0].headers["authorization"] == "Bearer tok-abc"
    assert "tok-abc" not in str(seen[0].url)


def test_timeouts_and_connection_failures_become_thingiverse_errors():
    def timeout(request):
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request):
        raise httpx.ConnectError("refused", request=request)
    for handler in (timeout, refused):
        with pytest.raises(ThingiverseError) as caught:
            run(client_answering(handler).get_thing("t", 1))
        assert caught.value.status == 0


def test_malformed_api_json_is_an_error_not_a_crash():
    with pytest.raises(ThingiverseError, match="not JSON"):
        run(client_answering(lambda r: httpx.Response(200, content=b"{oops")).get_thing("t", 1))
    with pytest.raises(ThingiverseError, match="unexpected shape"):
        run(client_answering(lambda r: httpx.Response(200, json=[1])).get_thing("t", 1))


def test_code_exchange_reads_the_form_encoded_answer():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, content=b"access_token=tok9&token_type=bearer",
                              headers={"content-type": "application/x-www-form-urlencoded"})
    assert run(client_answering(handler).exchange_code("c0de")) == "tok9"
    assert b"client_secret=s3" in seen[0].content and b"code=c0de" in seen[0].content


def test_refused_code_exchange_is_an_error():
    def handler(request):
        return httpx.Response(400, content=b"error=invalid_grant")
    with pytest.raises(ThingiverseError) as caught:
        run(client_answering(handler).exchange_code("bad"))
    assert caught.value.message == "invalid_grant"
