"""The operations the app needs from a store, in narrow parts: each consumer asks for the part it
uses (the read cache needs no sign-ins). Only the sign-in part has a change that must be atomic
across two kinds of record (a login completed together with its session)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from thingapp.store.records import (
    Census,
    JobRecord,
    JobStatus,
    LoginRecord,
    LoginStatus,
    SessionRecord,
    WebhookRecord,
)


class SessionStore(Protocol):
    async def create_session(self, session_id: str, user_id: str, token: str,
                             ttl: float) -> None: ...

    async def get_session(self, session_id: str) -> SessionRecord | None: ...

    async def touch_session(self, session_id: str, seen_at: float) -> None:
        """Record that a session was used at `seen_at` (never resurrects an ended one)."""

    async def delete_session(self, session_id: str) -> None: ...


class LoginStore(SessionStore, Protocol):
    async def create_login(self, login_id: str, claim_hash: str, thing_id: int | None,
                           mode: str, ttl: float, status: LoginStatus = LoginStatus.PENDING,
                           session_id: str | None = None) -> None: ...

    async def get_login(self, login_id: str) -> LoginRecord | None: ...

    async def transition_login(self, login_id: str, from_status: LoginStatus,
                               to_status: LoginStatus, *, session_id: str | None = None,
                               error: str | None = None) -> LoginRecord | None:
        """Move a live login from one status to the next, atomically: the login as it now is,
        or None if it was not in `from_status` (someone else got there first, or it expired)."""

    async def complete_login(self, login_id: str, from_status: LoginStatus, session_id: str,
                             user_id: str, token: str, ttl: float) -> bool:
        """Create the session and mark the login complete, both or neither, atomically."""


class JobStore(Protocol):
    async def create_job(self, job_id: str, user_id: str, thing_id: int, message: str,
                         ttl: float) -> None: ...

    async def update_job(self, job_id: str, *, step: str, message: str,
                         percent: int | None = None, status: JobStatus = JobStatus.RUNNING,
                         result: str | None = None) -> None: ...

    async def touch_job(self, job_id: str) -> None: ...

    async def get_job(self, job_id: str) -> JobRecord | None: ...

    async def latest_job(self, user_id: str, thing_id: int) -> JobRecord | None: ...

    async def running_jobs(self, user_id: str, heard_since: float) -> int:
        """How many of the user's jobs are running and were heard from after `heard_since`
        (a silent one lost its process)."""


class WebhookStore(Protocol):
    async def add_webhook(self, key: str, event: str, body: str) -> bool:
        """Store an event once; False (and nothing stored) when its key was seen before."""

    async def list_webhooks(self, limit: int = 100) -> list[WebhookRecord]:
        """The stored events, newest first."""


class ReadCache(Protocol):
    async def cache_get(self, key: str) -> str | None: ...

    async def cache_set(self, key: str, value: str, ttl: float) -> None: ...

    async def cache_set_many(self, values: Mapping[str, str], ttl: float) -> None:
        """`cache_set` for each, in one write."""

    async def cache_delete(self, key: str) -> None: ...


class Store(LoginStore, JobStore, WebhookStore, ReadCache, Protocol):
    """All of it, and the store's own upkeep; see SQLiteStore and RedisStore."""

    async def ping(self) -> None:
        """Return when the store answers; raise (any exception) when it does not."""

    async def census(self) -> Census:
        """Count the live records (a scan: for operators and tests, not for requests)."""

    async def sweep(self) -> None:
        """Drop what has expired (Redis does it by itself)."""

    async def close(self) -> None:
        """Stop, once calls under way are done; later calls raise StoreClosed."""
