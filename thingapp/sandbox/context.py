"""The per-instance context every sandbox route reads: configuration, world, templates, faults,
the rate limiter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from thingapp.sandbox.api.ratelimit import RateLimiter
from thingapp.sandbox.config import SandboxConfig
from thingapp.sandbox.harness.faults import FaultTable
from thingapp.sandbox.world.state import World


@dataclass(frozen=True)
class SandboxContext:
    """What one sandbox app instance holds; built by `create_sandbox_app`."""

    config: SandboxConfig
    world: World
    templates: Jinja2Templates
    faults: FaultTable
    rate: RateLimiter


def context_of(request: Request) -> SandboxContext:
    """The context of the sandbox app serving this request."""
    return cast(SandboxContext, request.app.state.sandbox)
