"""The sandbox: one Starlette app standing in for www.thingiverse.com and api.thingiverse.com.

Routes, at a glance:

    www (site and OAuth)
      GET  /                              index of seeded Things and users
      GET  /thing:{id}                    Thing page embedding the app
                                          (?popups=0, ?launch_as=USER_ID)
      GET  /login/oauth/authorize         "Authorize {app}" page: pick a seeded user, Agree or Deny
      POST /login/oauth/authorize         303 back to the app (#access_token=... or ?code=...)
      POST /login/oauth/tokeninfo         form access_token -> {"audience", "user_id"}
      POST /login/oauth/access_token      form client_id, client_secret, code -> form-encoded token
      GET  /download:{id}                 public download link -> storage
    api (Authorization: Bearer TOKEN)
      GET  /things/{id}, /things/{id}/files, /files/{id}, /files/{id}/download, /users/me
    storage (no Authorization header allowed, like S3)
      GET  /storage/{file_id}/{name}
    scripting (not Thingiverse; for tests and scripts)
      POST /sandbox/tokens         {"user_id": 1001, "client_id": "thingapp-demo"}
                                   -> 201 {"access_token"}
      POST /sandbox/codes          same body -> 201 {"code"}
      POST /sandbox/tokens/revoke  {"access_token": "..."} -> 200 {"revoked": true|false}
      GET  /sandbox/requests       [{"method", "path", "status"}, ...] of every other request

Example, minting a token for Mara and reading a Thing with it:

    token = client.post("/sandbox/tokens", json={"user_id": 1001, "client_id": "thingapp-demo"})
    client.get("/things/2001", headers={"Authorization": f"Bearer {token.json()['access_token']}"})

The request log never holds a token: query strings are dropped and token-shaped path segments
are replaced by "[redacted]".
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from thingapp.sandbox import api, oauth, pages, scripting, storage
from thingapp.sandbox.config import SandboxClient, SandboxConfig, default_config
from thingapp.sandbox.context import SandboxContext
from thingapp.sandbox.request_log import RequestLogMiddleware
from thingapp.sandbox.seed import build_world

__all__ = ["SandboxClient", "SandboxConfig", "create_sandbox_app", "default_config"]

_HERE = Path(__file__).resolve().parent
# The sandbox takes small forms and JSON only; anything bigger is a client bug.
MAX_BODY_BYTES = 64 * 1024


def create_sandbox_app(config: SandboxConfig) -> Starlette:
    """Build a sandbox with a freshly seeded world of its own."""
    world = build_world(config.public_url)
    templates = Jinja2Templates(
        env=jinja2.Environment(
            loader=jinja2.FileSystemLoader(_HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    )
    routes = [
        Route("/", pages.index),
        Route("/thing:{id:int}", pages.thing_page),
        Route("/login/oauth/authorize", oauth.authorize_page, methods=["GET"]),
        Route("/login/oauth/authorize", oauth.authorize_decision, methods=["POST"]),
        Route("/login/oauth/tokeninfo", oauth.tokeninfo, methods=["POST"]),
        Route("/login/oauth/access_token", oauth.access_token, methods=["POST"]),
        Route("/download:{file_id:int}", storage.public_download),
        Route("/things/{id}", api.api_endpoint(api.get_thing)),
        Route("/things/{id}/files", api.api_endpoint(api.get_thing_files)),
        Route("/files/{id}", api.api_endpoint(api.get_file)),
        Route("/files/{id}/download", api.api_endpoint(api.download_file)),
        Route("/users/me", api.api_endpoint(api.get_me)),
        Route("/storage/{file_id}/{name}", storage.serve_file),
        Route("/sandbox/tokens", scripting.mint_token, methods=["POST"]),
        Route("/sandbox/codes", scripting.mint_code, methods=["POST"]),
        Route("/sandbox/tokens/revoke", scripting.revoke_token, methods=["POST"]),
        Route("/sandbox/requests", scripting.request_log),
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestLogMiddleware, world=world)],
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.sandbox = SandboxContext(config=config, world=world, templates=templates)
    return app
