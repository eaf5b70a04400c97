"""What must outlive a request: started sign-ins and sessions (which hold the Thingiverse token).

One interface, so several app instances can share state; the SQLite backend is the embedded
default (a file, survives restarts, safe for several worker processes thanks to WAL and a busy
timeout). Every state change that must happen once (a state consumed, a login claimed) is a single
conditional UPDATE, so two requests racing for it cannot both win.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread

SCHEMA = """
CREATE TABLE IF NOT EXISTS logins (
    id TEXT PRIMARY KEY,
    claim_hash TEXT NOT NULL,
    thing_id INTEGER,
    mode TEXT NOT NULL,
    status TEXT NOT NULL,
    session_id TEXT,
    error TEXT,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    thing_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    step TEXT NOT NULL,
    percent INTEGER,
    message TEXT NOT NULL,
    result TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_by_user_thing ON jobs (user_id, thing_id, created_at);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    token TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""

# Login statuses, in the order a sign-in passes through them.
PENDING = "pending"  # started by a frame; waiting for the callback
CONSUMED = "consumed"  # the callback arrived (its state is spent); checking the token
COMPLETE = "complete"  # a session exists; waiting for the frame to claim it
DENIED = "denied"  # the user declined at Thingiverse
FAILED = "failed"  # the token was refused; `error` says why
CLAIMED = "claimed"  # the frame took its session: nothing more can come of this login


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
    updated_at: float  # the runner touches it at least every JOB_HEARTBEAT seconds
    expires_at: float


JOB_COLUMNS = ("id, user_id, thing_id, status, step, percent, message, result, created_at,"
               " updated_at, expires_at")


class SQLiteStore:
    """The store on a SQLite file. Calls run in a worker thread to keep the event loop free."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                     timeout=10.0)
        self._lock = threading.Lock()
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        self._conn.close()

    async def _run(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        def run() -> sqlite3.Cursor:
            with self._lock:
                return self._conn.execute(sql, params)
        return await anyio.to_thread.run_sync(run)

    async def _one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        def run() -> tuple[Any, ...] | None:
            with self._lock:
                row: tuple[Any, ...] | None = self._conn.execute(sql, params).fetchone()
                return row
        return await anyio.to_thread.run_sync(run)

    # Sign-ins -----------------------------------------------------------------------------

    async def create_login(self, login_id: str, claim_hash: str, thing_id: int | None,
                           mode: str, ttl: float, status: str = PENDING,
                           session_id: str | None = None) -> None:
        await self._run(
            "INSERT INTO logins (id, claim_hash, thing_id, mode, status, session_id, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (login_id, claim_hash, thing_id, mode, status, session_id, time.time() + ttl))

    async def get_login(self, login_id: str) -> LoginRecord | None:
        row = await self._one("SELECT id, claim_hash, thing_id, mode, status, session_id, error,"
                              " expires_at FROM logins WHERE id = ? AND expires_at > ?",
                              (login_id, time.time()))
        return LoginRecord(*row) if row else None

    async def transition_login(self, login_id: str, from_status: str, to_status: str, *,
                               session_id: str | None = None, error: str | None = None) -> bool:
        """Move a live login from one status to the next; False if it was not in `from_status`."""
        cursor = await self._run(
            "UPDATE logins SET status = ?, session_id = COALESCE(?, session_id),"
            " error = COALESCE(?, error) WHERE id = ? AND status = ? AND expires_at > ?",
            (to_status, session_id, error, login_id, from_status, time.time()))
        return cursor.rowcount == 1

    # Sessions -----------------------------------------------------------------------------

    async def create_session(self, session_id: str, user_id: str, token: str,
                             ttl: float) -> None:
        await self._run("INSERT INTO sessions (id, user_id, token, expires_at) VALUES (?,?,?,?)",
                        (session_id, user_id, token, time.time() + ttl))

    async def get_session(self, session_id: str) -> SessionRecord | None:
        row = await self._one("SELECT id, user_id, token, expires_at FROM sessions"
                              " WHERE id = ? AND expires_at > ?", (session_id, time.time()))
        return SessionRecord(*row) if row else None

    async def delete_session(self, session_id: str) -> None:
        await self._run("DELETE FROM sessions WHERE id = ?", (session_id,))

    # Jobs ---------------------------------------------------------------------------------

    async def create_job(self, job_id: str, user_id: str, thing_id: int, message: str,
                         ttl: float) -> None:
        now = time.time()
        await self._run(f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (job_id, user_id, thing_id, "running", "start", None, message, None,
                         now, now, now + ttl))

    async def update_job(self, job_id: str, *, step: str, message: str,
                         percent: int | None = None, status: str = "running",
                         result: str | None = None) -> None:
        await self._run("UPDATE jobs SET status = ?, step = ?, percent = ?, message = ?,"
                        " result = COALESCE(?, result), updated_at = ? WHERE id = ?",
                        (status, step, percent, message, result, time.time(), job_id))

    async def touch_job(self, job_id: str) -> None:
        await self._run("UPDATE jobs SET updated_at = ? WHERE id = ?", (time.time(), job_id))

    async def get_job(self, job_id: str) -> JobRecord | None:
        row = await self._one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ? AND expires_at > ?",
                              (job_id, time.time()))
        return JobRecord(*row) if row else None

    async def latest_job(self, user_id: str, thing_id: int) -> JobRecord | None:
        row = await self._one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE user_id = ? AND thing_id = ?"
                              " AND expires_at > ? ORDER BY created_at DESC LIMIT 1",
                              (user_id, thing_id, time.time()))
        return JobRecord(*row) if row else None

    async def sweep(self) -> None:
        """Drop expired rows."""
        now = time.time()
        for table in ("logins", "sessions", "jobs"):
            await self._run(f"DELETE FROM {table} WHERE expires_at <= ?", (now,))


def open_store(url: str) -> SQLiteStore:
    """`sqlite:///relative/or/absolute/path.sqlite3` -> a store on that file."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ValueError(f"unsupported store URL {url!r}")
    return SQLiteStore(url[len(prefix):])
