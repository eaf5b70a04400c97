"""What every request handler may use, typed, in one object: `context_of(request)`.

The app's lifespan builds it once (the store, the Thingiverse client and what sits on them) and
keeps it on `app.state`; handlers never reach into `app.state` themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from thingapp.jobs import Jobs
from thingapp.previews import Previews
from thingapp.rate_limits import Limiter
from thingapp.reads import CachedReads
from thingapp.settings import Settings
from thingapp.signin import Reason, SignIn, SignInError
from thingapp.store import SessionRecord, Store
from thingapp.tools import Tool
from thingapp.web.cookies import JobMarks
from thingapp.web.launch import LaunchPages
from thingapp.webhooks import WebhookHook


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    templates: Jinja2Templates
    tools: Mapping[str, Tool]  # by id, the default first
    on_webhook: WebhookHook | None
    store: Store
    reads: CachedReads
    signin: SignIn
    jobs: Jobs
    launch_pages: LaunchPages
    limiter: Limiter
    job_marks: JobMarks
    previews: Previews

    def tool(self, tool_id: str | None = None) -> Tool | None:
        """The tool named `tool_id`, the default one for None, or None if there is no such."""
        if tool_id is None:
            return next(iter(self.tools.values()))
        return self.tools.get(tool_id)


def context_of(request: Request) -> AppContext:
    return cast(AppContext, request.app.state.context)


def client_address(request: Request) -> str:
    """Who is asking: the peer, or the client a trusted proxy names (uvicorn sorts that out,
    from THINGAPP_TRUSTED_PROXIES)."""
    return request.client.host if request.client else "unknown"


async def current_session(request: Request) -> SessionRecord:
    """The session named by the request's `Authorization: Bearer` header, or a 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise SignInError(Reason.SIGNED_OUT, "Please connect your Thingiverse account first.")
    return await context_of(request).signin.authenticate(token.strip())
