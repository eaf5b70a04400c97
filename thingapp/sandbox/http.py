"""The sandbox's URL and error helpers: low level, so data and middleware modules can use them
without importing a route module."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from starlette.responses import JSONResponse, Response

XML = "application/xml"


def storage_url(public_url: str, file_id: int, name: str) -> str:
    """Where storage serves a file's bytes."""
    return f"{public_url}/storage/{file_id}/{quote(name)}"


def error_response(status: int, message: str) -> JSONResponse:
    """The API's error: `{"error": message}` with the same text in `X-Error`."""
    return JSONResponse({"error": message}, status_code=status, headers={"X-Error": message})


def s3_error(status: int, code: str, message: str, **details: str) -> Response:
    """Storage's error: an S3 error document; `details` become extra elements (e.g.
    MaxSizeAllowed)."""
    extra = "".join(f"<{name}>{escape(text)}</{name}>" for name, text in details.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>{extra}</Error>"
    )
    return Response(body, status_code=status, media_type=XML)
