"""A local stand-in for www.thingiverse.com and api.thingiverse.com (see `app` for the routes)."""

from thingapp.sandbox.app import SandboxClient, SandboxConfig, create_sandbox_app, default_config

__all__ = ["SandboxClient", "SandboxConfig", "create_sandbox_app", "default_config"]
