"""What the store keeps: one record type per kind of state, and the statuses they pass through."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class LoginStatus(StrEnum):
    """A sign-in's statuses, in the order it passes through them."""
    PENDING = "pending"  # started by a frame; waiting for the callback
    CONSUMED = "consumed"  # the callback arrived (its state is spent); checking the token
    COMPLETE = "complete"  # a session exists; waiting for the frame to claim it
    DENIED = "denied"  # the user declined at Thingiverse
    FAILED = "failed"  # the token was refused; `error` says why
    CLAIMED = "claimed"  # the frame took its session: nothing more can come of this login


class JobStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class StoreClosed(RuntimeError):
    """A call came after `close()` (the app is shutting down); it did nothing."""


@dataclass(frozen=True)
class LoginRecord:
    id: str
    claim_hash: str
    thing_id: int | None
    mode: str  # "popup" or "frame": how the callback page should hand control back
    status: LoginStatus
    session_id: str | None
    error: str | None
    expires_at: float


@dataclass(frozen=True)
class SessionRecord:
    id: str
    user_id: str
    token: str  # the Thingiverse access token: it never leaves the server
    expires_at: float  # the absolute end, however busy the session is
    last_seen: float  # when the session was last used (for the idle limit)


@dataclass(frozen=True)
class JobRecord:
    id: str
    user_id: str
    thing_id: int
    status: JobStatus
    step: str  # a short word for the step, e.g. "upload"
    percent: int | None  # progress of the step, when it can be measured
    message: str  # what is happening, or what happened, in a sentence
    result: str | None  # JSON: links and names once done
    created_at: float
    updated_at: float  # the runner touches it at least every few seconds while it runs
    expires_at: float


@dataclass(frozen=True)
class Census:
    """How many live records of each kind the store holds: for operators and tests, which
    thereby never read a backend's tables or keys themselves."""
    logins: dict[LoginStatus, int]
    sessions: int
    jobs: dict[JobStatus, int]
    webhooks: int


@dataclass(frozen=True)
class WebhookRecord:
    key: str  # what makes a delivery the same event: a repeat is not stored again
    event: str
    body: str  # the JSON Thingiverse sent
    received_at: float
