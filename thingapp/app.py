"""The application factory and its route table."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from thingapp import api, pages
from thingapp.jobs import Jobs
from thingapp.reads import CachedReads
from thingapp.scale_tool import ScaleTool
from thingapp.security import AccessLog, ErrorsAsSentences, SecurityHeaders
from thingapp.settings import Settings
from thingapp.signin import SignIn, SignInError
from thingapp.store import Store, open_store
from thingapp.thingiverse import ThingiverseClient
from thingapp.tools import Tool
from thingapp.webhooks import WebhookHook

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("thingapp")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/webhooks/"))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if _wants_json(request):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code,
                            headers=exc.headers)
    return request.app.state.templates.TemplateResponse(
        request, "error.html", {"message": exc.detail}, status_code=exc.status_code)


async def _signin_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInError)
    return JSONResponse({"error": exc.message, "reason": exc.reason}, status_code=exc.status)


async def _upstream_failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, api.UpstreamFailed)
    return JSONResponse({"error": exc.message}, status_code=exc.status)


SWEEP_EVERY = 600.0  # seconds between sweeps of expired rows (Redis expires keys by itself)


async def _sweep_every(store: Store, jobs: Jobs, seconds: float) -> None:
    while True:
        try:
            await store.sweep()
            jobs.sweep_files()
        except Exception:  # a locked or unreachable store: try again next time
            log.exception("sweeping expired rows failed")
        await asyncio.sleep(seconds)


def create_app(settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None,
               tools: Sequence[Tool] = (ScaleTool(),),
               on_webhook: WebhookHook | None = None) -> Starlette:
    """Build the app. `tools` make the files (the first is offered); `on_webhook` is called once
    per new order event; `transport` lets tests route Thingiverse calls to an in-process
    sandbox."""
    if not settings.demo:
        settings.validate()
    if not tools:
        raise ValueError("create_app needs at least one tool")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_store(settings.store_url)
        timeout = httpx.Timeout(settings.http_timeout, connect=min(5.0, settings.http_timeout))
        async with httpx.AsyncClient(transport=transport, timeout=timeout,
                                     follow_redirects=False) as http:
            thingiverse = ThingiverseClient(http, site_url=settings.thingiverse_url,
                                            api_url=settings.api_url,
                                            client_id=settings.client_id,
                                            client_secret=settings.client_secret)
            app.state.thingiverse = thingiverse
            app.state.store = store
            app.state.reads = reads = CachedReads(thingiverse, store,
                                                  app_token=settings.app_token)
            app.state.signin = SignIn(settings, store, thingiverse, reads)
            own_workdir = not settings.work_dir
            workdir = Path(settings.work_dir or tempfile.mkdtemp(prefix="thingapp-jobs-"))
            app.state.jobs = Jobs(store, thingiverse, reads, workdir,
                                  thingiverse_url=settings.thingiverse_url,
                                  max_file_bytes=settings.max_file_mb * 1024 * 1024,
                                  stale_after=settings.job_stale_after)
            sweeper = asyncio.create_task(_sweep_every(store, app.state.jobs, SWEEP_EVERY))
            try:
                yield
            finally:
                # Everything that may still call the store stops first, then the store closes
                # (and waits for any statement still running in a worker thread).
                sweeper.cancel()
                await asyncio.gather(sweeper, return_exceptions=True)
                await app.state.jobs.stop()
                await reads.stop()
                await store.close()
                if own_workdir:
                    shutil.rmtree(workdir, ignore_errors=True)

    routes = [
        Route("/", pages.launch),
        Route("/callback", pages.callback),
        Route("/api/logins", api.start_login, methods=["POST"]),
        Route("/api/logins/{login_id}/claim", api.claim_login, methods=["POST"]),
        Route("/api/callback", api.complete_login, methods=["POST"]),
        Route("/api/context", api.context),
        Route("/api/logout", api.logout, methods=["POST"]),
        Route("/api/jobs", api.start_job, methods=["POST"]),
        Route("/api/jobs", api.latest_job, methods=["GET"]),
        Route("/api/jobs/{job_id}", api.job_status),
        Route("/api/jobs/{job_id}/file", api.job_file),
        Route("/webhooks/{secret}", api.webhook, methods=["POST"]),
        Mount("/static", StaticFiles(directory=ROOT / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        # Outermost first: every answer, errors included, gets the security headers.
        middleware=[Middleware(SecurityHeaders, frame_ancestors=settings.frame_ancestors),
                    Middleware(AccessLog), Middleware(ErrorsAsSentences)],
        exception_handlers={HTTPException: _http_error, SignInError: _signin_error,
                            api.UpstreamFailed: _upstream_failed},
        lifespan=lifespan,
    )
    env = Environment(loader=FileSystemLoader(ROOT / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True),
                      auto_reload=settings.demo)  # elsewhere templates don't change under us
    app.state.templates = Jinja2Templates(env=env)
    app.state.settings = settings
    app.state.tools = {tool.id: tool for tool in tools}
    app.state.on_webhook = on_webhook
    app.state.launch_page = pages.launch_page_cache(app)
    return app
