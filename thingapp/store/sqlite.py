"""The store on a SQLite file: the embedded default.

WAL and a busy timeout make it safe for several worker processes on one machine. Writes run in a
thread of their own, so waiting for another process's write lock never stalls the event loop; point
reads run on the event loop through a connection of their own (in WAL mode a reader never waits
for a writer, and an indexed lookup takes microseconds where a trip to a thread takes a tenth of
a millisecond). Expired rows are swept at start-up.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

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

T = TypeVar("T")

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
CREATE INDEX IF NOT EXISTS jobs_by_user_status ON jobs (user_id, status);
CREATE TABLE IF NOT EXISTS webhooks (
    key TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cache (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    token TEXT NOT NULL,
    expires_at REAL NOT NULL,
    last_seen REAL NOT NULL DEFAULT 0
);
"""

JOB_COLUMNS = ("id, user_id, thing_id, status, step, percent, message, result, created_at,"
               " updated_at, expires_at")
LOGIN_COLUMNS = "id, claim_hash, thing_id, mode, status, session_id, error, expires_at"


def _login(row: tuple[Any, ...] | None) -> LoginRecord | None:
    if row is None:
        return None
    login_id, claim_hash, thing_id, mode, status, session_id, error, expires_at = row
    return LoginRecord(login_id, claim_hash, thing_id, mode, LoginStatus(status), session_id,
                       error, expires_at)


def _job(row: tuple[Any, ...] | None) -> JobRecord | None:
    if row is None:
        return None
    job_id, user_id, thing_id, status, *rest = row
    return JobRecord(job_id, user_id, thing_id, JobStatus(status), *rest)


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring a file made by an older version up to date (its sessions count as seen now)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(sessions)")}
    if "last_seen" not in columns:
        conn.execute("ALTER TABLE sessions ADD COLUMN last_seen REAL NOT NULL DEFAULT 0")
        conn.execute("UPDATE sessions SET last_seen = ?", (time.time(),))


class SQLiteStore:
    """The store on a SQLite file: writes in the store's own thread, point reads on the loop."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                     timeout=10.0)
        self._lock = threading.Lock()  # one statement at a time, and none after close()
        self._closed = False
        # One thread for every write, in order: a pool of threads would take turns on the one
        # connection anyway, and fight the event loop for the GIL while they wait.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thingapp-sqlite")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        _add_missing_columns(self._conn)
        # A second connection would see another database in memory or in a nameless temporary
        # file. It never waits for a lock on the event loop: when busy (WAL recovery, another
        # process's exclusive lock) the read goes to the writer's thread, which may wait.
        self._reader = self._conn if self.path in ("", ":memory:") else sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=0)

    async def close(self) -> None:
        """Close the file once the statement under way (in the writer thread, perhaps for a task
        already cancelled) is done; later calls raise StoreClosed instead of touching a closed
        connection, which would crash the process."""
        def close() -> None:
            with self._lock:
                self._closed = True
                self._conn.close()
        if self._closed:
            return
        await self._in_writer(close)
        self._writer.shutdown(wait=False)
        self._reader.close()

    async def _in_writer(self, call: Callable[[], T]) -> T:
        if self._closed:  # the thread is gone too
            raise StoreClosed("The store is closed.")
        return await asyncio.get_running_loop().run_in_executor(self._writer, call)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """The connection, held for one statement or transaction (call from the writer thread)."""
        with self._lock:
            if self._closed:
                raise StoreClosed("The store is closed.")
            yield self._conn

    async def _run(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        def run() -> sqlite3.Cursor:
            with self._connection() as conn:
                return conn.execute(sql, params)
        return await self._in_writer(run)

    async def _one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        def run() -> tuple[Any, ...] | None:
            with self._connection() as conn:
                row: tuple[Any, ...] | None = conn.execute(sql, params).fetchone()
                return row
        return await self._in_writer(run)

    async def _read(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """One row of a SELECT, read on the event loop (in the writer's thread when the file
        is busy, or has only the one connection)."""
        if self._closed:
            raise StoreClosed("The store is closed.")
        if self._reader is not self._conn:
            try:
                return self._reader.execute(sql, params).fetchone()  # type: ignore[no-any-return]
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
        return await self._one(sql, params)

    # Sign-ins -----------------------------------------------------------------------------

    async def create_login(self, login_id: str, claim_hash: str, thing_id: int | None,
                           mode: str, ttl: float, status: LoginStatus = LoginStatus.PENDING,
                           session_id: str | None = None) -> None:
        await self._run(
            "INSERT INTO logins (id, claim_hash, thing_id, mode, status, session_id, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (login_id, claim_hash, thing_id, mode, status, session_id, time.time() + ttl))

    async def get_login(self, login_id: str) -> LoginRecord | None:
        return _login(await self._read(f"SELECT {LOGIN_COLUMNS} FROM logins"
                                       " WHERE id = ? AND expires_at > ?",
                                       (login_id, time.time())))

    async def transition_login(self, login_id: str, from_status: LoginStatus,
                               to_status: LoginStatus, *, session_id: str | None = None,
                               error: str | None = None) -> LoginRecord | None:
        return _login(await self._one(
            "UPDATE logins SET status = ?, session_id = COALESCE(?, session_id),"
            " error = COALESCE(?, error) WHERE id = ? AND status = ? AND expires_at > ?"
            f" RETURNING {LOGIN_COLUMNS}",
            (to_status, session_id, error, login_id, from_status, time.time())))

    async def complete_login(self, login_id: str, from_status: LoginStatus, session_id: str,
                             user_id: str, token: str, ttl: float) -> bool:
        def run() -> bool:
            now = time.time()
            with self._connection() as conn:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    moved = conn.execute(
                        "UPDATE logins SET status = ?, session_id = ? WHERE id = ?"
                        " AND status = ? AND expires_at > ?",
                        (LoginStatus.COMPLETE, session_id, login_id, from_status,
                         now)).rowcount == 1
                    if moved:
                        conn.execute("INSERT INTO sessions (id, user_id, token, expires_at,"
                                     " last_seen) VALUES (?, ?, ?, ?, ?)",
                                     (session_id, user_id, token, now + ttl, now))
                    conn.execute("COMMIT")
                    return moved
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        return await self._in_writer(run)

    # Sessions -----------------------------------------------------------------------------

    async def create_session(self, session_id: str, user_id: str, token: str,
                             ttl: float) -> None:
        now = time.time()
        await self._run("INSERT INTO sessions (id, user_id, token, expires_at, last_seen)"
                        " VALUES (?,?,?,?,?)", (session_id, user_id, token, now + ttl, now))

    async def get_session(self, session_id: str) -> SessionRecord | None:
        row = await self._read("SELECT id, user_id, token, expires_at, last_seen FROM sessions"
                               " WHERE id = ? AND expires_at > ?", (session_id, time.time()))
        return SessionRecord(*row) if row else None

    async def touch_session(self, session_id: str, seen_at: float) -> None:
        await self._run("UPDATE sessions SET last_seen = MAX(last_seen, ?) WHERE id = ?",
                        (seen_at, session_id))

    async def delete_session(self, session_id: str) -> None:
        await self._run("DELETE FROM sessions WHERE id = ?", (session_id,))

    # Jobs ---------------------------------------------------------------------------------

    async def create_job(self, job_id: str, user_id: str, thing_id: int, message: str,
                         ttl: float) -> None:
        now = time.time()
        await self._run(f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                        (job_id, user_id, thing_id, JobStatus.RUNNING, "start", None, message, None,
                         now, now, now + ttl))

    async def update_job(self, job_id: str, *, step: str, message: str,
                         percent: int | None = None, status: JobStatus = JobStatus.RUNNING,
                         result: str | None = None) -> None:
        await self._run("UPDATE jobs SET status = ?, step = ?, percent = ?, message = ?,"
                        " result = COALESCE(?, result), updated_at = ? WHERE id = ?",
                        (status, step, percent, message, result, time.time(), job_id))

    async def touch_job(self, job_id: str) -> None:
        await self._run("UPDATE jobs SET updated_at = ? WHERE id = ?", (time.time(), job_id))

    async def get_job(self, job_id: str) -> JobRecord | None:
        return _job(await self._read(f"SELECT {JOB_COLUMNS} FROM jobs"
                                     " WHERE id = ? AND expires_at > ?", (job_id, time.time())))

    async def running_jobs(self, user_id: str, heard_since: float) -> int:
        row = await self._read("SELECT COUNT(*) FROM jobs WHERE user_id = ? AND status = ?"
                               " AND updated_at > ? AND expires_at > ?",
                               (user_id, JobStatus.RUNNING, heard_since, time.time()))
        return int(row[0]) if row else 0

    async def latest_job(self, user_id: str, thing_id: int) -> JobRecord | None:
        return _job(await self._read(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE user_id = ? AND thing_id = ?"
            " AND expires_at > ? ORDER BY created_at DESC LIMIT 1",
            (user_id, thing_id, time.time())))

    # Webhooks -----------------------------------------------------------------------------

    async def add_webhook(self, key: str, event: str, body: str) -> bool:
        cursor = await self._run("INSERT OR IGNORE INTO webhooks (key, event, body, received_at)"
                                 " VALUES (?, ?, ?, ?)", (key, event, body, time.time()))
        return cursor.rowcount == 1

    async def list_webhooks(self, limit: int = 100) -> list[WebhookRecord]:
        def run() -> list[WebhookRecord]:
            with self._connection() as conn:
                rows = conn.execute("SELECT key, event, body, received_at FROM webhooks"
                                          " ORDER BY received_at DESC, rowid DESC LIMIT ?",
                                          (limit,)).fetchall()
            return [WebhookRecord(*row) for row in rows]
        return await self._in_writer(run)

    # Cache --------------------------------------------------------------------------------

    async def cache_get(self, key: str) -> str | None:
        row = await self._read("SELECT value FROM cache WHERE key = ? AND expires_at > ?",
                               (key, time.time()))
        return str(row[0]) if row else None

    async def cache_set(self, key: str, value: str, ttl: float) -> None:
        await self._run("INSERT OR REPLACE INTO cache (key, value, expires_at) VALUES (?, ?, ?)",
                        (key, value, time.time() + ttl))

    async def cache_delete(self, key: str) -> None:
        await self._run("DELETE FROM cache WHERE key = ?", (key,))

    async def ping(self) -> None:
        await self._one("SELECT 1", ())  # through the writer's thread: is the file answering?

    async def census(self) -> Census:
        def run() -> Census:
            now = time.time()
            with self._connection() as conn:
                logins = conn.execute("SELECT status, COUNT(*) FROM logins WHERE expires_at > ?"
                                      " GROUP BY status", (now,)).fetchall()
                sessions = conn.execute("SELECT COUNT(*) FROM sessions WHERE expires_at > ?",
                                        (now,)).fetchone()[0]
                jobs = conn.execute("SELECT status, COUNT(*) FROM jobs WHERE expires_at > ?"
                                    " GROUP BY status", (now,)).fetchall()
                webhooks = conn.execute("SELECT COUNT(*) FROM webhooks").fetchone()[0]
            return Census({LoginStatus(s): n for s, n in logins}, sessions,
                          {JobStatus(s): n for s, n in jobs}, webhooks)
        return await self._in_writer(run)

    async def sweep(self) -> None:
        """Drop expired rows."""
        now = time.time()
        for table in ("logins", "sessions", "jobs", "cache"):
            await self._run(f"DELETE FROM {table} WHERE expires_at <= ?", (now,))


