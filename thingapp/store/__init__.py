"""What must outlive a request, behind one interface with two real backends.

Started sign-ins (consumed once), sessions (holding the Thingiverse token, with expiry), job
progress, received webhook events, and a short-lived cache of Thingiverse reads. SQLite (a file:
survives restarts, safe for several worker processes on one machine) is the default; Redis serves
several instances behind a load balancer. Every change that must happen once (a state consumed, a
login claimed, a webhook stored) is a single atomic operation in both, so two requests racing for
it, on one instance or two, cannot both win.
"""

from __future__ import annotations

from thingapp.store.interface import (
    JobStore,
    LoginStore,
    ReadCache,
    SessionStore,
    Store,
    WebhookStore,
)
from thingapp.store.records import (
    Census,
    JobRecord,
    JobStatus,
    LoginRecord,
    LoginStatus,
    SessionRecord,
    StoreClosed,
    WebhookRecord,
)

URL_SCHEMES = ("sqlite:///", "redis://", "rediss://", "unix://")

__all__ = ["Census", "JobRecord", "JobStatus", "JobStore", "LoginRecord", "LoginStatus",
           "LoginStore", "ReadCache", "SessionRecord", "SessionStore", "Store", "StoreClosed",
           "URL_SCHEMES", "WebhookRecord", "WebhookStore", "open_store"]


def open_store(url: str) -> Store:
    """`sqlite:///path.sqlite3` or `redis://host:port/db` -> a store."""
    if url.startswith("sqlite:///"):
        from thingapp.store.sqlite import SQLiteStore
        return SQLiteStore(url[len("sqlite:///"):])
    if url.startswith(URL_SCHEMES):
        from thingapp.store.redis import RedisStore
        return RedisStore(url)
    raise ValueError(f"unsupported store URL {url!r}")
