"""A small async client for the parts of Thingiverse the app uses.

One `httpx2.AsyncClient` is shared per process (the app creates it in its lifespan). Tokens travel
only in the `Authorization` header or a form body, never in a URL. Every failure, whether an HTTP
error, a timeout or a body that is not what Thingiverse documents, becomes a `ThingiverseError`
carrying the status and Thingiverse's message.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio
import anyio.to_thread
import httpx2
import orjson

from thingapp.aionet import acquire
from thingapp.file_hosts import DEFAULT_FILE_HOSTS, FileHostRefused, FileHosts


class ThingiverseError(Exception):
    """Thingiverse refused, failed or could not be reached.

    `status` is the HTTP status Thingiverse answered (0 when no answer arrived); `message` is
    Thingiverse's own error text when it sent one, else a description of what went wrong.
    """

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"Thingiverse answered {status}: {message}" if status
                         else f"Thingiverse could not be reached: {message}")
        self.status = status
        self.message = message
        self.retry_after = retry_after  # seconds Thingiverse asked us to wait, when it said


FINALIZE_PATH = re.compile(r"/files/\d+/finalize/?$")
MAX_PAGES = 20  # of a list endpoint: 2,000 files at 100 a page
RETRY_STATUSES = (420, 429, 502, 503, 504)
FLOW_MISSING = (404, 405, 410)  # an upload endpoint that is gone
RETRY_PAUSES = (0.5, 1.5)  # then give up: the user hears about it within ~2 s of waiting
# Calls to Thingiverse at once, per process (the app's HTTP client keeps a connection for
# each); the rest wait their turn here, in order. Left to queue inside httpcore's pool instead,
# waiting calls cost CPU in proportion to their number, and so does every idle connection the
# pool keeps (each call checks them all): 300 users signing in at once ran at 38 requests/s with
# the pool queueing, 265/s with 100 turns, 380/s with 20.
UPSTREAM_AT_ONCE = 20
MAX_RETRY_WAIT = 2.0  # never sleep longer than this on one Retry-After


def _retry_after(response: httpx2.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None

class UnsafeFileHost(ThingiverseError):
    """A file address pointed somewhere the app does not go; `message` is the user's sentence.
    Nothing was contacted."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


class StorageRefused(ThingiverseError):
    """Thingiverse's file storage or CDN answered with an error. Its text is not kept: it comes
    from a host that is not the API, and the user hears our words only."""

    def __init__(self, status: int, doing: str) -> None:
        super().__init__(status, f"file storage answered {status} to the {doing}")
        self.doing = doing  # "upload" or "download"


class PublishRefused(ThingiverseError):
    """Thingiverse would not publish the Thing; `errors` are its reasons."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(400, "; ".join(errors))
        self.errors = errors

class UploadFlowMissing(ThingiverseError):
    """The API has no `uploadFile` (404/405/410): the older three-step flow is the way."""


class InvalidToken(ThingiverseError):
    """tokeninfo did not vouch for the token (any non-200, non-JSON, or missing field)."""

@dataclass(frozen=True)
class TokenInfo:
    audience: str  # the client id the token was issued to, as a string
    user_id: str

def audience_matches(info: TokenInfo, client_id: str) -> bool:
    """Exact comparison: `123` and `"123"` match `"123"`; `"1234"`, `" 123"`, `"123 "` do not."""
    return bool(client_id) and info.audience == client_id

def _error_message(response: httpx2.Response) -> str:
    header = response.headers.get("X-Error")
    if header:
        return str(header)
    try:
        body = orjson.loads(response.content)
    except ValueError:
        return response.reason_phrase or "no message"
    if isinstance(body, dict):
        for key in ("error", "message"):
            if isinstance(body.get(key), str):
                return str(body[key])
        if isinstance(body.get("errors"), list):
            return "; ".join(str(e) for e in body["errors"])
    return response.reason_phrase or "no message"

class ThingiverseClient:
    """Calls Thingiverse's OAuth endpoints (`site_url`) and REST API (`api_url`)."""

    def __init__(self, http: httpx2.AsyncClient, *, site_url: str, api_url: str,
                 client_id: str, client_secret: str = "",
                 retry_pauses: tuple[float, ...] = RETRY_PAUSES,
                 file_hosts: FileHosts | None = None, at_once: int = UPSTREAM_AT_ONCE) -> None:
        self.http = http
        self._turns = asyncio.Semaphore(at_once)
        self.retry_pauses = retry_pauses
        self.site_url = site_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        # Files come from, and go to, Thingiverse's hosts only (see file_hosts.py).
        self.file_hosts = file_hosts or FileHosts([self.site_url, self.api_url],
                                                  DEFAULT_FILE_HOSTS)
        self.client_id = client_id
        self.client_secret = client_secret

    async def _send(self, method: str, url: str, *, retry: bool = False, file: bool = False,
                    **kwargs: Any) -> httpx2.Response:
        """One request; with `retry` (safe requests only), 429/5xx answers and failed
        connections are tried again after a bounded pause. A `file` transfer (minutes long)
        takes no turn: it would keep sign-ins waiting."""
        for pause in (*self.retry_pauses, None) if retry else (None,):
            try:
                async with contextlib.nullcontext() if file else self._turn():
                    response = await self.http.request(method, url, **kwargs)
            except httpx2.HTTPError as exc:
                reason = ("the request timed out" if isinstance(exc, httpx2.TimeoutException)
                          else type(exc).__name__)
                if pause is None:
                    raise ThingiverseError(0, reason) from exc
                await asyncio.sleep(pause)
                continue
            if pause is None or response.status_code not in RETRY_STATUSES:
                return response
            wait = _retry_after(response)
            await asyncio.sleep(min(MAX_RETRY_WAIT, pause if wait is None else wait))
        raise AssertionError("unreachable")

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """Wait for one of the UPSTREAM_AT_ONCE turns, as long as the client's pool timeout."""
        wait = self.http.timeout.pool
        try:
            await acquire(self._turns, wait)
        except TimeoutError:
            raise httpx2.PoolTimeout(f"no turn to call Thingiverse within {wait} s") from None
        try:
            yield
        finally:
            self._turns.release()

    async def tokeninfo(self, access_token: str) -> TokenInfo:
        """Ask Thingiverse who a token belongs to. Raises `InvalidToken` unless it says clearly."""
        response = await self._send("POST", f"{self.site_url}/login/oauth/tokeninfo",
                                    data={"access_token": access_token}, retry=True)
        if response.status_code >= 500:
            raise ThingiverseError(response.status_code, _error_message(response))
        if response.status_code != 200:
            raise InvalidToken(response.status_code, _error_message(response))
        try:
            body = orjson.loads(response.content)
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

    async def _api(self, method: str, token: str, path_or_url: str, **kwargs: Any) -> Any:
        """Call the API with the token; the JSON answer, or ThingiverseError."""
        url = path_or_url if "://" in path_or_url else f"{self.api_url}{path_or_url}"
        self._check_api_url(url)
        response = await self._send(method, url, headers={"Authorization": f"Bearer {token}"},
                                    retry=method == "GET", **kwargs)
        if response.status_code not in (200, 201):
            raise ThingiverseError(response.status_code, _error_message(response),
                                   _retry_after(response))
        try:
            return orjson.loads(response.content)
        except ValueError as exc:
            raise ThingiverseError(response.status_code, "the answer was not JSON") from exc

    async def _check_file_host(self, url: str) -> None:
        try:
            await self.file_hosts.check(url)
        except FileHostRefused as exc:
            raise UnsafeFileHost(str(exc)) from exc

    def _check_api_url(self, url: str) -> None:
        """The user's token goes to the API's origin and nowhere else, whatever URL an answer
        names."""
        if _origin(url) != _origin(self.api_url):
            raise ThingiverseError(0, f"refused to send the token to {_origin(url)}")

    async def get_thing(self, token: str, thing_id: int) -> dict[str, Any]:
        thing = await self._api("GET", token, f"/things/{thing_id}")
        if not isinstance(thing, dict) or "id" not in thing:
            raise ThingiverseError(200, "the Thing came back in an unexpected shape")
        return thing

    async def get_thing_files(self, token: str, thing_id: int) -> list[dict[str, Any]]:
        """Every file of a Thing, following the `Link: next` pages (at most MAX_PAGES)."""
        files: list[dict[str, Any]] = []
        url: str | None = f"{self.api_url}/things/{thing_id}/files?per_page=100"
        for _ in range(MAX_PAGES):
            if url is None:
                break
            self._check_api_url(url)
            response = await self._send("GET", url, retry=True,
                                        headers={"Authorization": f"Bearer {token}"})
            if response.status_code != 200:
                raise ThingiverseError(response.status_code, _error_message(response),
                                       _retry_after(response))
            try:
                page = orjson.loads(response.content)
            except ValueError as exc:
                raise ThingiverseError(200, "the answer was not JSON") from exc
            if not isinstance(page, list):
                raise ThingiverseError(200, "the file list came back in an unexpected shape")
            files.extend(f for f in page if isinstance(f, dict))
            url = response.links.get("next", {}).get("url")
        return files

    async def get_me(self, token: str) -> dict[str, Any]:
        me = await self._api("GET", token, "/users/me")
        if not isinstance(me, dict):
            raise ThingiverseError(200, "the user came back in an unexpected shape")
        return me

    # Writing --------------------------------------------------------------------------------

    async def create_thing(self, token: str, fields: dict[str, Any]) -> dict[str, Any]:
        thing = await self._api("POST", token, "/things/", json=fields)
        if not isinstance(thing, dict) or not isinstance(thing.get("id"), int):
            raise ThingiverseError(200, "the new Thing came back in an unexpected shape")
        return thing

    async def delete_thing(self, token: str, thing_id: int) -> None:
        await self._api("DELETE", token, f"/things/{thing_id}")

    async def publish_thing(self, token: str, thing_id: int) -> None:
        url = f"{self.api_url}/things/{thing_id}/publish"
        response = await self._send("POST", url, headers={"Authorization": f"Bearer {token}"})
        if response.status_code == 400:
            try:
                errors = orjson.loads(response.content).get("errors")
            except (ValueError, AttributeError):
                errors = None
            if isinstance(errors, list) and errors:
                raise PublishRefused([str(e) for e in errors])
        if response.status_code not in (200, 201):
            raise ThingiverseError(response.status_code, _error_message(response))

    async def upload_file(self, token: str, path: Path, name: str,
                          progress: Callable[[int, int], None] | None = None) -> int:
        """Today's upload, step 1 of 2 (`POST /files/0/uploadFile`): the file itself, streamed
        from disk to the API as a pending upload; its pending id. `UploadFlowMissing` when the
        API has no such endpoint (404, 405 or 410)."""
        url = f"{self.api_url}/files/0/uploadFile"
        with open(path, "rb") as raw:  # noqa: ASYNC230 (opened here: see send_to_storage)
            body = _CountingReader(raw, (await anyio.Path(path).stat()).st_size, progress)
            response = await self._send(
                "POST", url, file=True, headers={"Authorization": f"Bearer {token}"},
                files={"file": (name, body, "application/octet-stream")},
                timeout=httpx2.Timeout(120.0, connect=5.0))
        if response.status_code in FLOW_MISSING:
            raise UploadFlowMissing(response.status_code, _error_message(response))
        if response.status_code not in (200, 201):
            raise ThingiverseError(response.status_code, _error_message(response),
                                   _retry_after(response))
        try:
            pending = orjson.loads(response.content).get("id")
        except (ValueError, AttributeError):
            pending = None
        if not isinstance(pending, int) or isinstance(pending, bool):
            raise ThingiverseError(200, "the pending upload came back in an unexpected shape")
        return pending

    async def finalize_files(self, token: str, thing_id: int, pending: list[int]) -> None:
        """Today's upload, step 2 of 2 (`POST /files/0/FinalizeFiles`): the pending uploads
        become the Thing's files (an image becomes one of its images), in this order."""
        await self._api("POST", token, "/files/0/FinalizeFiles", json={
            "pending_uploads": [{"id": pid, "rank": rank} for rank, pid in enumerate(pending)],
            "target_id": thing_id, "target_type": "thing"})

    async def get_thing_categories(self, token: str, thing_id: int) -> list[str]:
        """The names of the categories a Thing is in."""
        found = await self._api("GET", token, f"/things/{thing_id}/categories")
        if not isinstance(found, list):
            raise ThingiverseError(200, "the categories came back in an unexpected shape")
        return [str(c["name"]) for c in found if isinstance(c, dict) and c.get("name")]

    async def get_thing_images(self, token: str, thing_id: int) -> list[dict[str, Any]]:
        images = await self._api("GET", token, f"/things/{thing_id}/images")
        if not isinstance(images, list):
            raise ThingiverseError(200, "the image list came back in an unexpected shape")
        return [i for i in images if isinstance(i, dict)]

    async def request_upload(self, token: str, thing_id: int, name: str) -> UploadTicket:
        """The older upload, step 1 of 3: ask Thingiverse where to send a file for this
        Thing."""
        ticket = await self._api("POST", token, f"/things/{thing_id}/files",
                                 json={"filename": name})
        action = ticket.get("action") if isinstance(ticket, dict) else None
        fields = ticket.get("fields") if isinstance(ticket, dict) else None
        if not isinstance(action, str) or not isinstance(fields, dict):
            raise ThingiverseError(200, "the upload ticket came back in an unexpected shape")
        return UploadTicket(action, {str(k): str(v) for k, v in fields.items()})

    async def send_to_storage(self, ticket: UploadTicket, path: Path, name: str,
                              progress: Callable[[int, int], None] | None = None) -> str:
        """The older upload, step 2 of 3: POST the storage form, streaming the file from disk.
        Returns the finalize address. No Authorization header: storage is not the API and
        rejects a second auth mechanism. Fields in the order given, the file last; redirects are
        not followed."""
        await self._check_file_host(ticket.action)
        # httpx's multipart encoder reads the file itself, in 64 KB pieces from the page cache;
        # opened here, not in a thread, so a cancelled job can't drop it open.
        with open(path, "rb") as raw:  # noqa: ASYNC230
            body = _CountingReader(raw, (await anyio.Path(path).stat()).st_size, progress)
            response = await self._send(
                "POST", ticket.action, file=True, data=ticket.fields,
                files={"file": (name, body, "application/octet-stream")},
                timeout=httpx2.Timeout(120.0, connect=5.0))
        if response.status_code not in (200, 201, 204, 303):
            raise StorageRefused(response.status_code, "upload")
        location = response.headers.get("location") if response.status_code == 303 else None
        finalize = urljoin(ticket.action, location) if location else ticket.fields.get(
            "success_action_redirect")
        if not finalize:
            raise ThingiverseError(response.status_code, "storage named no finalize address")
        return finalize

    async def finalize_upload(self, token: str, finalize_url: str) -> dict[str, Any]:
        """The older upload, step 3 of 3 (deprecated by Thingiverse): tell the API the file
        arrived. Returns the new file object.
        The address comes from storage's answer: only a finalize address gets the token."""
        if not FINALIZE_PATH.search(urlsplit(finalize_url).path):
            raise ThingiverseError(0, "storage named an address that is not a finalize address")
        file = await self._api("POST", token, finalize_url)
        if not isinstance(file, dict):
            raise ThingiverseError(200, "the finalized file came back in an unexpected shape")
        return file

    async def download_file(self, token: str, file: dict[str, Any], dest: Path, limit: int,
                            progress: Callable[[int, int], None] | None = None) -> None:
        """Save a Thing's file to `dest`, streaming, refusing past `limit` bytes.

        `direct_url` needs no token. `download_url` does, and redirects to storage, which must
        not see the token: the redirect is followed by hand, without the header."""
        url, headers = file.get("direct_url"), {}
        if not isinstance(url, str) or not url:
            url = file.get("download_url")
            if not isinstance(url, str):
                raise ThingiverseError(0, "the file has no download address")
            self._check_api_url(url)
            headers = {"Authorization": f"Bearer {token}"}
        else:
            await self._check_file_host(url)
        try:
            for _ in range(5):
                async with self.http.stream("GET", url, headers=headers) as response:
                    if response.is_redirect and "location" in response.headers:
                        url, headers = urljoin(url, response.headers["location"]), {}
                        await self._check_file_host(url)  # every hop, before it is taken
                        continue
                    if response.status_code != 200:
                        raise StorageRefused(response.status_code, "download")
                    await _save(response, dest, limit, progress)
                    return
        except httpx2.HTTPError as exc:  # refused, timed out, broke off, or a bad address
            raise ThingiverseError(0, f"the download failed ({type(exc).__name__})") from exc
        raise ThingiverseError(0, "the download redirected too many times")

@dataclass(frozen=True)
class UploadTicket:
    action: str  # the storage form's address
    fields: dict[str, str]  # to send in this order, before the file

class FileTooLarge(ThingiverseError):
    def __init__(self, limit: int) -> None:
        super().__init__(0, f"the file is larger than {limit // (1024 * 1024)} MB")
        self.limit = limit

async def _save(response: httpx2.Response, dest: Path, limit: int,
                progress: Callable[[int, int], None] | None) -> None:
    total = int(response.headers.get("content-length") or 0)
    if total > limit:
        raise FileTooLarge(limit)
    done = 0
    try:
        # Opened here, not in a thread: a job cancelled while a thread opened it would drop the
        # open file. Creating a file is a metadata operation; the writes go to a thread.
        with open(dest, "wb") as out:  # noqa: ASYNC230
            async for chunk in response.aiter_bytes(256 * 1024):
                done += len(chunk)
                if done > limit:
                    raise FileTooLarge(limit)
                await anyio.to_thread.run_sync(out.write, chunk)
                if progress:
                    progress(done, total)
    except httpx2.HTTPError as exc:
        raise ThingiverseError(0, f"the download broke off ({type(exc).__name__})") from exc

class _CountingReader:
    """A file object for httpx's multipart encoder that reports how much has been read."""

    def __init__(self, raw: IO[bytes], size: int,
                 progress: Callable[[int, int], None] | None) -> None:
        self.raw, self.size, self.progress, self.done = raw, size, progress, 0

    def read(self, n: int = -1) -> bytes:
        chunk = self.raw.read(n)
        self.done += len(chunk)
        if self.progress:
            self.progress(self.done, self.size)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()

    def fileno(self) -> int:
        return self.raw.fileno()

def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()

def _form_or_json_field(response: httpx2.Response, name: str) -> str | None:
    """The code exchange is documented as form-encoded; accept JSON too."""
    try:
        body = orjson.loads(response.content)
        value = body.get(name) if isinstance(body, dict) else None
        return value if isinstance(value, str) else None
    except ValueError:
        values = parse_qs(response.text).get(name)
        return values[0] if values else None

def _form_or_json_error(response: httpx2.Response) -> str:
    return _form_or_json_field(response, "error") or _error_message(response)
