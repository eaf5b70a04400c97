"""A small async client for the parts of Thingiverse the app uses.

One `httpx.AsyncClient` is shared per process (the app creates it in its lifespan). Tokens travel
only in the `Authorization` header or a form body, never in a URL. Every failure, whether an HTTP
error, a timeout or a body that is not what Thingiverse documents, becomes a `ThingiverseError`
carrying the status and Thingiverse's message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class ThingiverseError(Exception):
    """Thingiverse refused, failed or could not be reached.

    `status` is the HTTP status Thingiverse answered (0 when no answer arrived); `message` is
    Thingiverse's own error text when it sent one, else a description of what went wrong.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Thingiverse answered {status}: {message}" if status
                         else f"Thingiverse could not be reached: {message}")
        self.status = status
        self.message = message


class InvalidToken(ThingiverseError):
    """tokeninfo did not vouch for the token (any non-200, non-JSON, or missing field)."""


@dataclass(frozen=True)
class TokenInfo:
    audience: str  # the client id the token was issued to, as a string
    user_id: str


def audience_matches(info: TokenInfo, client_id: str) -> bool:
    """Exact comparison: `123` and `"123"` match `"123"`; `"1234"`, `" 123"`, `"123 "` do not."""
    return bool(client_id) and info.audience == client_id


def _error_message(response: httpx.Response) -> str:
    header = response.headers.get("X-Error")
    if header:
        return header
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no message"
    if isinstance(body, dict):
        for key in ("error", "message"):
            if isinstance(body.get(key), str):
                return body[key]
        if isinstance(body.get("errors"), list):
            return "; ".join(str(e) for e in body["errors"])
    return response.reason_phrase or "no message"


class ThingiverseClient:
    """Calls Thingiverse's OAuth endpoints (`site_url`) and REST API (`api_url`)."""

    def __init__(self, http: httpx.AsyncClient, *, site_url: str, api_url: str,
                 client_id: str, client_secret: str = "") -> None:
        self.http = http
        self.site_url = site_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            raise ThingiverseError(0, "the request timed out") from exc
        except httpx.HTTPError as exc:
            raise ThingiverseError(0, type(exc).__name__) from exc

    async def tokeninfo(self, access_token: str) -> TokenInfo:
        """Ask Thingiverse who a token belongs to. Raises `InvalidToken` unless it says clearly."""
        response = await self._send("POST", f"{self.site_url}/login/oauth/tokeninfo",
                                    data={"access_token": access_token})
        if response.status_code >= 500:
            raise ThingiverseError(response.status_code, _error_message(response))
        if response.status_code != 200:
            raise InvalidToken(response.status_code, _error_message(response))
        try:
            body = response.json()
        except ValueError as exc:
            raise InvalidToken(200, "tokeninfo did not answer JSON") from exc
        if not isinstance(body, dict):
            raise InvalidToken(200, "tokeninfo answered an unexpected shape")
        audience, user_id = body.get("audience"), body.get("user_id")
        if isinstance(audience, bool) or not isinstance(audience, (str, int)):
            raise InvalidToken(200, "tokeninfo named no audience")
        if isinstance(user_id, bool) or not isinstance(user_id, (str, int)) or not str(user_id):
            raise InvalidToken(200, "tokeninfo named no user")
        # An integer audience is the same client id written as a number: compare its digits.
        return TokenInfo(audience=str(audience), user_id=str(user_id))

    async def exchange_code(self, code: str, redirect_uri: str | None = None) -> str:
        """Trade an authorization code for an access token (needs the client secret)."""
        data = {"client_id": self.client_id, "client_secret": self.client_secret, "code": code}
        if redirect_uri:
            data["redirect_uri"] = redirect_uri
        response = await self._send("POST", f"{self.site_url}/login/oauth/access_token", data=data)
        if response.status_code != 200:
            raise ThingiverseError(response.status_code, _form_or_json_error(response))
        token = _form_or_json_field(response, "access_token")
        if not token:
            raise ThingiverseError(response.status_code, "the answer held no access token")
        return token

    async def _get_json(self, token: str, path: str) -> Any:
        response = await self._send("GET", f"{self.api_url}{path}",
                                    headers={"Authorization": f"Bearer {token}"})
        if response.status_code != 200:
            raise ThingiverseError(response.status_code, _error_message(response))
        try:
            return response.json()
        except ValueError as exc:
            raise ThingiverseError(response.status_code, "the answer was not JSON") from exc

    async def get_thing(self, token: str, thing_id: int) -> dict[str, Any]:
        thing = await self._get_json(token, f"/things/{thing_id}")
        if not isinstance(thing, dict) or "id" not in thing:
            raise ThingiverseError(200, "the Thing came back in an unexpected shape")
        return thing

    async def get_thing_files(self, token: str, thing_id: int) -> list[dict[str, Any]]:
        files = await self._get_json(token, f"/things/{thing_id}/files")
        if not isinstance(files, list):
            raise ThingiverseError(200, "the file list came back in an unexpected shape")
        return [f for f in files if isinstance(f, dict)]

    async def get_me(self, token: str) -> dict[str, Any]:
        me = await self._get_json(token, "/users/me")
        if not isinstance(me, dict):
            raise ThingiverseError(200, "the user came back in an unexpected shape")
        return me


def _form_or_json_field(response: httpx.Response, name: str) -> str | None:
    """The code exchange is documented as form-encoded; accept JSON too."""
    try:
        body = response.json()
        value = body.get(name) if isinstance(body, dict) else None
        return value if isinstance(value, str) else None
    except ValueError:
        values = parse_qs(response.text).get(name)
        return values[0] if values else None


def _form_or_json_error(response: httpx.Response) -> str:
    return _form_or_json_field(response, "error") or _error_message(response)
