"""A local stand-in for www.thingiverse.com and api.thingiverse.com (see `app` for the routes)."""

from thingapp.sandbox.app import (
    SandboxClient,
    SandboxConfig,
    ThingListing,
    create_sandbox_app,
    default_config,
    list_things,
)
from thingapp.sandbox.harness.connection import ConnectionDropped, ConnectionTimedOut
from thingapp.sandbox.harness.fault_spec import parse_fault_spec
from thingapp.sandbox.harness.faults import BadFault, Fault
from thingapp.sandbox.world.seed_dir import SeedError

__all__ = [
    "BadFault",
    "ConnectionDropped",
    "ConnectionTimedOut",
    "Fault",
    "SandboxClient",
    "SandboxConfig",
    "SeedError",
    "ThingListing",
    "create_sandbox_app",
    "default_config",
    "list_things",
    "parse_fault_spec",
]
