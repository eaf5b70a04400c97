"""The baseline page: bare Starlette + Jinja2 serving a page of a given size, nothing else.

    python -m benchmarks.bare --port 9000 --size 2200
"""

from __future__ import annotations

import argparse

import jinja2
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

PAGE = "<!doctype html><html><head><title>{{ title }}</title></head><body>{{ body }}</body></html>"


def create_bare_app(size: int) -> Starlette:
    templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.DictLoader({"p.html": PAGE}),
                                                       autoescape=True))
    filler = "x" * max(0, size - len(PAGE))

    async def page(request: Request) -> Response:
        return templates.TemplateResponse(request, "p.html", {"title": "bare", "body": filler})
    return Starlette(routes=[Route("/", page)])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--size", type=int, required=True)
    args = parser.parse_args()
    # As `thingapp serve` runs the app: uvicorn's defaults (uvloop and httptools when
    # installed), no access log of uvicorn's, no proxy headers.
    uvicorn.run(create_bare_app(args.size), host="127.0.0.1", port=args.port, access_log=False,
                log_config=None, proxy_headers=False)
