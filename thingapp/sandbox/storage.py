"""The storage host (an S3 stand-in): serves file bytes to anyone holding the URL, like a CDN.

Like S3, it refuses a request that also carries an `Authorization` header: a client that follows
the API's download redirect while still sending its Bearer token fails here, as it would for real.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from thingapp.sandbox.context import context_of

_XML = "application/xml"


def storage_url(public_url: str, file_id: int, name: str) -> str:
    """Where storage serves a file's bytes."""
    return f"{public_url}/storage/{file_id}/{quote(name)}"


def _s3_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(body, status_code=status, media_type=_XML)


async def serve_file(request: Request) -> Response:
    """GET /storage/{file_id}/{name}: the file's bytes, only without an Authorization header."""
    if "authorization" in request.headers:
        return _s3_error(
            400,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
            "Signature query string parameter or the Authorization header should be specified",
        )
    world = context_of(request).world
    file_id = request.path_params["file_id"]
    stored = world.files.get(int(file_id)) if file_id.isdigit() else None
    if stored is None or stored.data["name"] != request.path_params["name"]:
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
    return Response(stored.content, media_type="application/octet-stream")


async def public_download(request: Request) -> Response:
    """GET /download:{id}: the site's public download link (a file's `public_url`) -> storage."""
    context = context_of(request)
    file_id: int = request.path_params["file_id"]
    stored = context.world.files.get(file_id)
    if stored is None:
        return Response("There is no such file in the sandbox.", 404, media_type="text/plain")
    url = storage_url(context.config.public_url, file_id, stored.data["name"])
    return RedirectResponse(url, status_code=302)
