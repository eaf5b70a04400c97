"""The application factory and its route table."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from http.cookiejar import Cookie, CookieJar
from pathlib import Path
from typing import Any

import httpx2
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    PrefixLoader,
    select_autoescape,
)
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from thingapp.aionet import AsyncioTransport
from thingapp.file_hosts import FileHosts
from thingapp.jobs import Jobs
from thingapp.previews import Previews
from thingapp.rate_limits import Limiter, RateLimits
from thingapp.reads import CachedReads
from thingapp.settings import Settings
from thingapp.signin import SignIn
from thingapp.store import Store, open_store
from thingapp.thingiverse import UPSTREAM_AT_ONCE, ThingiverseClient
from thingapp.tools import Limits, Tool
from thingapp.tools.scale import ScaleTool
from thingapp.uploads import UploadFlow
from thingapp.web import pages, signin_api, things_api, webhooks_api
from thingapp.web.context import AppContext
from thingapp.web.cookies import JobMarks
from thingapp.web.errors import HANDLERS
from thingapp.web.launch import LaunchPages
from thingapp.web.security import EveryResponse
from thingapp.webhooks import WebhookHook
from thingapp.workers import Workers

log = logging.getLogger("thingapp")

SWEEP_EVERY = 600.0  # seconds between sweeps of expired rows (Redis expires keys by itself)
ARCHIVE_BUDGET = 10  # a 3MF may unpack to this many times the file-size limit
TOOL_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


async def _sweep_every(store: Store, jobs: Jobs, limiter: Limiter, seconds: float) -> None:
    while True:
        try:
            await store.sweep()
            await limiter.sweep()
            await asyncio.to_thread(jobs.sweep_files)
        except Exception:  # a locked or unreachable store: try again next time
            log.exception("sweeping expired rows failed")
        await asyncio.sleep(seconds)


class NoCookies(CookieJar):
    """The jar of the one HTTP client every user's calls share: it keeps nothing, so a cookie
    Thingiverse (or its CDN) sets in one user's answer never rides along with another's call.
    (The httpx maintainers' recipe: encode/httpx#1359.)"""

    def extract_cookies(self, response: Any, request: Any) -> None:
        pass

    def set_cookie(self, cookie: Cookie) -> None:
        pass


def templates_for(tools: Sequence[Tool], *, auto_reload: bool) -> Jinja2Templates:
    """The app's templates (shipped inside the package), and each tool's form as `ID/form.html`."""
    loader = ChoiceLoader([
        PackageLoader("thingapp", "templates"),
        PrefixLoader({tool.id: FileSystemLoader(tool.folder) for tool in tools}),
    ])
    env = Environment(loader=loader, autoescape=select_autoescape(default=True,
                                                                  default_for_string=True),
                      auto_reload=auto_reload)
    env.globals["app_title"] = " · ".join(tool.label for tool in tools)
    return Jinja2Templates(env=env)


def create_app(settings: Settings, *, transport: httpx2.AsyncBaseTransport | None = None,
               tools: Sequence[Tool] = (ScaleTool(),),
               on_webhook: WebhookHook | None = None) -> Starlette:
    """Build the app. `tools` make the files (the first is the default); `on_webhook` is called
    once per new order event; `transport` lets tests route Thingiverse calls to an in-process
    sandbox."""
    if not settings.demo:
        settings.validate()
    if not tools:
        raise ValueError("create_app needs at least one tool")
    for tool in tools:
        if not TOOL_ID.match(tool.id):
            raise ValueError(f"tool id {tool.id!r} must be 1 to 40 letters, digits, - or _")
    templates = templates_for(tools, auto_reload=settings.demo)  # elsewhere they don't change
    launch_pages = LaunchPages(templates.env, settings, tools)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await asyncio.to_thread(open_store, settings.store_url)  # may create a file
        timeout = httpx2.Timeout(settings.http_timeout, connect=min(5.0, settings.http_timeout))
        # A connection for each of the API calls' turns, kept between calls (each new one to
        # Thingiverse costs a TLS handshake), and as many again for files streamed beside them.
        connections = httpx2.Limits(max_connections=2 * UPSTREAM_AT_ONCE,
                                   max_keepalive_connections=UPSTREAM_AT_ONCE)
        async with httpx2.AsyncClient(transport=transport or AsyncioTransport(connections),
                                     timeout=timeout, limits=connections,
                                     cookies=NoCookies(), follow_redirects=False) as http:
            file_hosts = FileHosts([settings.thingiverse_url, settings.api_url],
                                   settings.file_hosts)
            thingiverse = ThingiverseClient(http, site_url=settings.thingiverse_url,
                                            api_url=settings.api_url,
                                            client_id=settings.client_id,
                                            client_secret=settings.client_secret,
                                            file_hosts=file_hosts)
            reads = CachedReads(thingiverse, store, app_token=settings.app_token)
            own_workdir = not settings.work_dir
            workdir = Path(settings.work_dir or tempfile.mkdtemp(prefix="thingapp-jobs-"))
            workers = Workers(settings.job_workers, settings.job_memory_mb, settings.job_seconds)
            max_file_bytes = settings.max_file_mb * 1024 * 1024
            limits = Limits(max_triangles=settings.max_triangles,
                            max_unpacked_bytes=ARCHIVE_BUDGET * max_file_bytes)
            jobs = Jobs(store, thingiverse, reads, workers, workdir,
                        thingiverse_url=settings.thingiverse_url, max_file_bytes=max_file_bytes,
                        limits=limits, stale_after=settings.job_stale_after,
                        work_dir_bytes=settings.work_dir_mb * 1024 * 1024,
                        upload_flow=UploadFlow(settings.upload_flow))
            limiter = await asyncio.to_thread(Limiter, settings.store_url, RateLimits(
                logins_per_minute=settings.logins_per_minute,
                code_launches_per_minute=settings.code_launches_per_minute,
                jobs_per_hour=settings.jobs_per_hour, running_jobs=settings.running_jobs))
            app.state.context = AppContext(
                settings=settings, templates=templates, tools={t.id: t for t in tools},
                on_webhook=on_webhook, store=store, reads=reads,
                signin=SignIn(settings, store, thingiverse, beside=reads.start_thing_reads),
                jobs=jobs,
                launch_pages=launch_pages, limiter=limiter,
                job_marks=JobMarks(settings.secret_key, settings.session_ttl),
                previews=Previews(thingiverse, workers, workdir / "previews", limits,
                                  max_file_bytes))
            sweeper = asyncio.create_task(_sweep_every(store, jobs, limiter, SWEEP_EVERY))
            # What exists now (modules, numpy, trimesh, templates, the store...) lives as long as
            # the process: out of the garbage collector's full passes, which walked all of it
            # every so many requests (9 % of a sign-in's CPU, counted with valgrind).
            gc.freeze()
            try:
                yield
            finally:
                # Everything that may still call the store stops first, then the store closes
                # (and waits for any statement still running in a worker thread).
                sweeper.cancel()
                await asyncio.gather(sweeper, return_exceptions=True)
                await jobs.stop()
                await reads.stop()
                await store.close()
                await limiter.close()
                if own_workdir:
                    await asyncio.to_thread(shutil.rmtree, workdir, ignore_errors=True)

    routes = [
        Route("/", pages.launch),
        Route("/callback", pages.callback),
        Route("/healthz", pages.healthz),
        Route("/tools/{tool_id}/form.js", pages.tool_script),
        # Sign-in.
        Route("/api/logins", signin_api.start_login, methods=["POST"]),
        Route("/api/logins/{login_id}/claim", signin_api.claim_login, methods=["POST"]),
        Route("/api/callback", signin_api.complete_login, methods=["POST"]),
        Route("/api/session", signin_api.resume, methods=["POST"]),
        Route("/api/session/remember", signin_api.remember, methods=["POST"]),
        Route("/api/logout", signin_api.logout, methods=["POST"]),
        # The Thing and its jobs.
        Route("/api/context", things_api.context),
        Route("/api/jobs", things_api.start_job, methods=["POST"]),
        Route("/api/jobs", things_api.latest_job, methods=["GET"]),
        Route("/api/jobs/{job_id}", things_api.job_status),
        Route("/api/jobs/{job_id}/file", things_api.job_file),
        Route("/api/jobs/{job_id}/publish", things_api.publish_remix, methods=["POST"]),
        Route("/api/things/{thing_id}/files/{file_id}/preview", things_api.model_preview),
        Route("/api/things/{thing_id}/files/{file_id}/preview.glb",
              things_api.model_preview_glb),
        # Thingiverse's events.
        Route("/webhooks/{secret}", webhooks_api.webhook, methods=["POST"]),
        # Compressed for browsers that take gzip: the 3D viewer is 2.3 MB of JavaScript, 0.46 MB
        # gzipped (static files only: job downloads are not recompressed on the fly).
        Mount("/static", app=GZipMiddleware(StaticFiles(packages=[("thingapp", "static")]),
                                            minimum_size=1024), name="static"),
    ]
    return Starlette(
        routes=routes,
        # Every answer, errors included, gets the security headers and a line in the log.
        middleware=[Middleware(EveryResponse, frame_ancestors=settings.frame_ancestors)],
        exception_handlers=HANDLERS,
        lifespan=lifespan,
    )
