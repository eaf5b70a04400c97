"""Pagination of the API's list endpoints, as Thingiverse documents it.

`?page=N` (1-based, default 1) and `?per_page=M` (default 30, at most 100); anything else is a
400 with a sentence. The answer is the page's slice of the list (`[]` past the end, still 200),
with a `Link` header naming the first, previous, next and last pages by absolute URL (on the
sandbox's `public_url`, keeping `per_page`); `prev` is left out on the first page and `next` on
the last. There is no total-count header: Thingiverse documents none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse

from thingapp.sandbox.api.endpoints import ApiError
from thingapp.sandbox.context import context_of

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class PageRequest:
    """Which page of a list a request asks for."""

    page: int
    per_page: int

    def slice(self, items: list[Any]) -> list[Any]:
        """This page's items."""
        start = (self.page - 1) * self.per_page
        return items[start : start + self.per_page]


def page_request(request: Request) -> PageRequest:
    """The request's `page` and `per_page`; a 400 `ApiError` for bad values."""
    page = _whole_number(request, "page", 1)
    per_page = _whole_number(request, "per_page", DEFAULT_PER_PAGE)
    if page is None or page < 1:
        raise ApiError(400, "The page must be a whole number, 1 or more.")
    if per_page is None or not 1 <= per_page <= MAX_PER_PAGE:
        raise ApiError(400, f"The per_page must be a whole number from 1 to {MAX_PER_PAGE}.")
    return PageRequest(page, per_page)


def _whole_number(request: Request, name: str, default: int) -> int | None:
    values = request.query_params.getlist(name)
    if not values:
        return default
    if len(values) > 1 or not _WHOLE_NUMBER.fullmatch(values[0]):
        return None
    return int(values[0])


def paged_response(request: Request, items: list[Any]) -> JSONResponse:
    """The requested page of `items` as JSON, with its `Link` header."""
    wanted = page_request(request)
    last = max(1, -(-len(items) // wanted.per_page))
    base = context_of(request).config.public_url + quote(request.url.path)

    def link(page: int, rel: str) -> str:
        query = urlencode({"page": page, "per_page": wanted.per_page})
        return f'<{base}?{query}>; rel="{rel}"'

    links = [link(1, "first")]
    if wanted.page > 1:
        links.append(link(min(wanted.page - 1, last), "prev"))
    if wanted.page < last:
        links.append(link(wanted.page + 1, "next"))
    links.append(link(last, "last"))
    return JSONResponse(wanted.slice(items), headers={"Link": ", ".join(links)})
