"""Strict reading of JSON request bodies: an object with exactly the expected, typed fields."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request

MAX_JSON_BODY = 16 * 1024


class BadRequest(HTTPException):
    """400 with a sentence for the user (or the developer calling the endpoint)."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(status_code=status_code, detail=message)


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes."""
    too_large = BadRequest(f"The request body is larger than {limit // 1024} KB.", 413)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    """UTF-8 JSON (as RFC 8259 requires), or a BadRequest; never a 500, however deep it nests."""
    try:
        return orjson.loads(raw)  # bytes that are not UTF-8 are a JSONDecodeError
    except ValueError as exc:  # as is nesting past 1,024 levels
        raise BadRequest("The request body is not valid JSON.") from exc


async def read_json(request: Request, fields: dict[str, type],
                    required: set[str]) -> dict[str, Any]:
    """The body as a dict holding only `fields`, each of its type, `required` ones present."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise BadRequest("Send a JSON body with Content-Type: application/json.", 415)
    body = parse_json(await read_limited(request, MAX_JSON_BODY))
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(unknown)}.")
    missing = sorted(required - set(body))
    if missing:
        raise BadRequest(f"Missing field(s): {', '.join(missing)}.")
    for name, value in body.items():
        expected = fields[name]
        # bool is an int in Python; a JSON true is never a valid number here.
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise BadRequest(f"Field {name!r} must be a {expected.__name__}.")
        if isinstance(value, str) and not value:
            raise BadRequest(f"Field {name!r} must not be empty.")
    return body
