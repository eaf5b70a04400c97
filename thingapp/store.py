"""What must outlive a request, behind one interface with two real backends.

Started sign-ins (consumed once), sessions (holding the Thingiverse token, with expiry), job
progress, received webhook events, and a short-lived cache of Thingiverse reads. SQLite (a file:
survives restarts, safe for several worker processes on one machine) is the default; Redis serves
several instances behind a load balancer. Every change that must happen once (a state consumed, a
login claimed, a webhook stored) is a single atomic operation in both, so two requests racing for
it, on one instance or two, cannot both win.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Login statuses, in the order a sign-in passes through them.
PENDING = "pending"  # started by a frame; waiting for the callback
CONSUMED = "consumed"  # the callback arrived (its state is spent); checking the token
COMPLETE = "complete"  # a session exists; waiting for the frame to claim it
DENIED = "denied"  # the user declined at Thingiverse
FAILED = "failed"  # the token was refused; `error` says why
CLAIMED = "claimed"  # the frame took its session: nothing more can come of this login


class StoreClosed(RuntimeError):
    """A call came after `close()` (the app is shutting down); it did nothing."""


@dataclass(frozen=True)
class LoginRecord:
    id: str
    claim_hash: str
    thing_id: int | None
    mode: str  # "popup" or "frame": how the callback page should hand control back
    status: str
    session_id: str | None
    error: str | None
    expires_at: float


@dataclass(frozen=True)
class SessionRecord:
    id: str
    user_id: str
    token: str  # the Thingiverse access token: it never leaves the server
    expires_at: float


@dataclass(frozen=True)
class JobRecord:
    id: str
    user_id: str
    thing_id: int
    status: str  # "running", "done" or "failed"
    step: str  # a short word for the step, e.g. "upload"
    percent: int | None  # progress of the step, when it can be measured
    message: str  # what is happening, or what happened, in a sentence
    result: str | None  # JSON: links and names once done
    created_at: float
    updated_at: float  # the runner touches it at least every few seconds while it runs
    expires_at: float


@dataclass(frozen=True)
class WebhookRecord:
    key: str  # what makes a delivery the same event: a repeat is not stored again
    event: str
    body: str  # the JSON Thingiverse sent
    received_at: float


class Store(Protocol):
    """The operations the app needs; see SQLiteStore and RedisStore."""

    async def create_login(self, login_id: str, claim_hash: str, thing_id: int | None,
                           mode: str, ttl: float, status: str = PENDING,
                           session_id: str | None = None) -> None: ...

    async def get_login(self, login_id: str) -> LoginRecord | None: ...

    async def transition_login(self, login_id: str, from_status: str, to_status: str, *,
                               session_id: str | None = None,
                               error: str | None = None) -> LoginRecord | None:
        """Move a live login from one status to the next, atomically: the login as it now is,
        or None if it was not in `from_status` (someone else got there first, or it expired)."""

    async def complete_login(self, login_id: str, from_status: str, session_id: str,
                             user_id: str, token: str, ttl: float) -> bool:
        """Create the session and mark the login complete, both or neither, atomically."""

    async def create_session(self, session_id: str, user_id: str, token: str,
                             ttl: float) -> None: ...

    async def get_session(self, session_id: str) -> SessionRecord | None: ...

    async def delete_session(self, session_id: str) -> None: ...

    async def create_job(self, job_id: str, user_id: str, thing_id: int, message: str,
                         ttl: float) -> None: ...

    async def update_job(self, job_id: str, *, step: str, message: str,
                         percent: int | None = None, status: str = "running",
                         result: str | None = None) -> None: ...

    async def touch_job(self, job_id: str) -> None: ...

    async def get_job(self, job_id: str) -> JobRecord | None: ...

    async def latest_job(self, user_id: str, thing_id: int) -> JobRecord | None: ...

    async def add_webhook(self, key: str, event: str, body: str) -> bool:
        """Store an event once; False (and nothing stored) when its key was seen before."""

    async def list_webhooks(self, limit: int = 100) -> list[WebhookRecord]:
        """The stored events, newest first."""

    async def cache_get(self, key: str) -> str | None: ...

    async def cache_set(self, key: str, value: str, ttl: float) -> None: ...

    async def cache_delete(self, key: str) -> None: ...

    async def sweep(self) -> None:
        """Drop what has expired (Redis does it by itself)."""

    async def close(self) -> None: ...


def open_store(url: str) -> Store:
    """`sqlite:///path.sqlite3` or `redis://host:port/db` -> a store."""
    if url.startswith("sqlite:///"):
        from thingapp.sqlite_store import SQLiteStore
        return SQLiteStore(url[len("sqlite:///"):])
    if url.startswith(("redis://", "rediss://", "unix://")):
        from thingapp.redis_store import RedisStore
        return RedisStore(url)
    raise ValueError(f"unsupported store URL {url!r}")
