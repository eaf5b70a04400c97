"""The store on a SQLite file: the embedded default.

WAL and a busy timeout make it safe for several worker processes on one machine. Point reads and
short writes run on the event loop through a connection of their own that never waits for a lock
(in WAL mode a reader never waits for a writer, and an indexed lookup or a small commit takes
microseconds where a trip to a thread takes a tenth of a millisecond); when the write lock is
taken, the write goes to the store's own thread, which waits for it without stalling the loop.
Expired rows are swept at start-up.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
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

CHECKPOINT_EVERY = 100  # writes on the loop between checkpoints: a short WAL file is quicker


def _busy(exc: sqlite3.OperationalError) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Statements that land together or not at all. The write lock is taken first: when busy,
    nothing was begun (and `_write` hands the whole transaction to the writer's thread)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # (a failed COMMIT may leave it open, holding the lock)
            conn.execute("ROLLBACK")
        raise


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


class SQLiteFile:
    """A SQLite file as the event loop uses it. Point reads and short writes run on the loop,
    through a connection that never waits for a lock: in WAL mode a reader never waits for a
    writer, and an indexed lookup or a small commit takes tens of microseconds, where a trip to a
    thread and back costs about 70 us of CPU more. What may wait (the write lock is taken by
    another connection or process, a sweep, a checkpoint) runs in one thread of the file's own,
    in order: a pool of threads would take turns on the one connection anyway, and fight the
    event loop for the GIL while they wait."""

    def __init__(self, path: str | Path, setup: Callable[[sqlite3.Connection], object]) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                     timeout=10.0)
        self._lock = threading.Lock()  # one statement at a time, and none after close()
        self._closed = False
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thingapp-sqlite")
        self._conn.execute("PRAGMA journal_mode=WAL")
        # A commit waits for no disk flush (a power cut may lose the last few; a crash of the
        # app loses none).
        self._conn.execute("PRAGMA synchronous=NORMAL")
        setup(self._conn)
        # The loop's connection. A second connection would see another database in memory or in
        # a nameless temporary file: there every statement goes through the thread. What
        # flushes the disk is left to the thread: checkpoints, the first write after one (it
        # starts the WAL file over and flushes its header), and the last close.
        self._loop_conn: sqlite3.Connection | None = None
        if self.path not in ("", ":memory:"):
            self._loop_conn = sqlite3.connect(self.path, check_same_thread=False,
                                              isolation_level=None, timeout=0)
            self._loop_conn.execute("PRAGMA synchronous=NORMAL")  # (FULL: a flush a commit)
            self._loop_conn.execute("PRAGMA wal_autocheckpoint=0")
        self._waiting_writes = 0  # handed to the thread and not done there yet
        self._loop_commits = 0
        self._checkpointed = False  # since the last write: the next one goes to the thread

    async def close(self) -> None:
        """Close the file once the statement under way (in the thread, perhaps for a task
        already cancelled) is done; later calls raise StoreClosed instead of touching a closed
        connection, which would crash the process."""
        def close() -> None:
            with self._lock:
                self._closed = True
                self._conn.close()
        if self._closed:
            return
        if self._loop_conn is not None:  # first: the last connection closed checkpoints
            self._loop_conn.close()
            self._loop_conn = None
        await self._to_thread(close)
        self._thread.shutdown(wait=False)

    async def _to_thread(self, call: Callable[[], T]) -> T:
        if self._closed:  # the thread is gone too
            raise StoreClosed("The store is closed.")
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """The thread's connection, held for one statement or transaction."""
        with self._lock:
            if self._closed:
                raise StoreClosed("The store is closed.")
            yield self._conn

    async def in_thread(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """`work(connection)` in the file's thread, after what was asked of it before."""
        def run() -> T:
            with self._connection() as conn:
                return work(conn)
        return await self._to_thread(run)

    async def write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """A write (one statement, or a `_transaction`), on the loop when the write lock is
        free at once and no earlier write waits in the thread (so writes land in the order
        they were asked for); else in the thread, which waits for the lock."""
        if self._closed:
            raise StoreClosed("The store is closed.")
        if self._loop_conn is not None and not self._waiting_writes and not self._checkpointed:
            try:
                result = work(self._loop_conn)
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
            else:
                self._loop_commits += 1
                if self._loop_commits % CHECKPOINT_EVERY == 0:  # the WAL file stays short
                    self._checkpointed = True
                    self._thread.submit(self._checkpoint)
                return result
        loop = asyncio.get_running_loop()

        def run() -> T:
            try:
                with self._connection() as conn:
                    return work(conn)
            finally:  # done here, even if its caller was cancelled meanwhile: later writes
                with suppress(RuntimeError):  # may go to the loop again (not a closed one)
                    loop.call_soon_threadsafe(self._written_in_thread)
        self._waiting_writes += 1
        self._checkpointed = False
        return await self._to_thread(run)

    def _written_in_thread(self) -> None:
        self._waiting_writes -= 1

    def _checkpoint(self) -> None:
        with suppress(StoreClosed, sqlite3.Error), self._connection() as conn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def read(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """One row of a SELECT, on the loop (in the thread when the file is busy, or has only
        the one connection)."""
        if self._closed:
            raise StoreClosed("The store is closed.")
        if self._loop_conn is not None:
            try:
                return self._loop_conn.execute(sql, params).fetchone()  # type: ignore[no-any-return]
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
        return await self.in_thread(lambda conn: conn.execute(sql, params).fetchone())

    async def run(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        """One write statement (its cursor: the rows it changed)."""
        return await self.write(lambda conn: conn.execute(sql, params))

    async def one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """One write statement's RETURNING row (the statement is run to its end: done)."""
        def run(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            rows = conn.execute(sql, params).fetchall()
            return tuple(rows[0]) if rows else None
        return await self.write(run)


def _setup(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
    _add_missing_columns(conn)


class SQLiteStore:
    """The store on a SQLite file (see SQLiteFile for where each statement runs)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = SQLiteFile(path, _setup)

    async def close(self) -> None:
        await self._db.close()

    # Sign-ins -----------------------------------------------------------------------------

    async def create_login(self, login_id: str, claim_hash: str, thing_id: int | None,
                           mode: str, ttl: float, status: LoginStatus = LoginStatus.PENDING,
                           session_id: str | None = None) -> None:
        await self._db.run(
            "INSERT INTO logins (id, claim_hash, thing_id, mode, status, session_id, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (login_id, claim_hash, thing_id, mode, status, session_id, time.time() + ttl))

    async def get_login(self, login_id: str) -> LoginRecord | None:
        return _login(await self._db.read(f"SELECT {LOGIN_COLUMNS} FROM logins"
                                          " WHERE id = ? AND expires_at > ?",
                                          (login_id, time.time())))

    async def transition_login(self, login_id: str, from_status: LoginStatus,
                               to_status: LoginStatus, *, session_id: str | None = None,
                               error: str | None = None) -> LoginRecord | None:
        return _login(await self._db.one(
            "UPDATE logins SET status = ?, session_id = COALESCE(?, session_id),"
            " error = COALESCE(?, error) WHERE id = ? AND status = ? AND expires_at > ?"
            f" RETURNING {LOGIN_COLUMNS}",
            (to_status, session_id, error, login_id, from_status, time.time())))

    async def complete_login(self, login_id: str, from_status: LoginStatus, session_id: str,
                             user_id: str, token: str, ttl: float) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            now = time.time()
            with _transaction(conn):
                moved = conn.execute(
                    "UPDATE logins SET status = ?, session_id = ? WHERE id = ?"
                    " AND status = ? AND expires_at > ?",
                    (LoginStatus.COMPLETE, session_id, login_id, from_status, now)).rowcount == 1
                if moved:
                    conn.execute("INSERT INTO sessions (id, user_id, token, expires_at,"
                                 " last_seen) VALUES (?, ?, ?, ?, ?)",
                                 (session_id, user_id, token, now + ttl, now))
            return moved
        return await self._db.write(run)

    # Sessions -----------------------------------------------------------------------------

    async def create_session(self, session_id: str, user_id: str, token: str,
                             ttl: float) -> None:
        now = time.time()
        await self._db.run("INSERT INTO sessions (id, user_id, token, expires_at, last_seen)"
                           " VALUES (?,?,?,?,?)", (session_id, user_id, token, now + ttl, now))

    async def get_session(self, session_id: str) -> SessionRecord | None:
        row = await self._db.read("SELECT id, user_id, token, expires_at, last_seen FROM sessions"
                                  " WHERE id = ? AND expires_at > ?", (session_id, time.time()))
        return SessionRecord(*row) if row else None

    async def touch_session(self, session_id: str, seen_at: float) -> None:
        await self._db.run("UPDATE sessions SET last_seen = MAX(last_seen, ?) WHERE id = ?",
                           (seen_at, session_id))

    async def delete_session(self, session_id: str) -> None:
        await self._db.run("DELETE FROM sessions WHERE id = ?", (session_id,))

    # Jobs ---------------------------------------------------------------------------------

    async def create_job(self, job_id: str, user_id: str, thing_id: int, message: str,
                         ttl: float) -> None:
        now = time.time()
        await self._db.run(f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                           (job_id, user_id, thing_id, JobStatus.RUNNING, "start", None, message,
                            None, now, now, now + ttl))

    async def update_job(self, job_id: str, *, step: str, message: str,
                         percent: int | None = None, status: JobStatus = JobStatus.RUNNING,
                         result: str | None = None) -> None:
        await self._db.run("UPDATE jobs SET status = ?, step = ?, percent = ?, message = ?,"
                           " result = COALESCE(?, result), updated_at = ? WHERE id = ?",
                           (status, step, percent, message, result, time.time(), job_id))

    async def touch_job(self, job_id: str) -> None:
        await self._db.run("UPDATE jobs SET updated_at = ? WHERE id = ?", (time.time(), job_id))

    async def get_job(self, job_id: str) -> JobRecord | None:
        return _job(await self._db.read(f"SELECT {JOB_COLUMNS} FROM jobs"
                                        " WHERE id = ? AND expires_at > ?", (job_id, time.time())))

    async def running_jobs(self, user_id: str, heard_since: float) -> int:
        row = await self._db.read("SELECT COUNT(*) FROM jobs WHERE user_id = ? AND status = ?"
                                  " AND updated_at > ? AND expires_at > ?",
                                  (user_id, JobStatus.RUNNING, heard_since, time.time()))
        return int(row[0]) if row else 0

    async def latest_job(self, user_id: str, thing_id: int) -> JobRecord | None:
        return _job(await self._db.read(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE user_id = ? AND thing_id = ?"
            " AND expires_at > ? ORDER BY created_at DESC LIMIT 1",
            (user_id, thing_id, time.time())))

    # Webhooks -----------------------------------------------------------------------------

    async def add_webhook(self, key: str, event: str, body: str) -> bool:
        cursor = await self._db.run("INSERT OR IGNORE INTO webhooks (key, event, body, received_at)"
                                    " VALUES (?, ?, ?, ?)", (key, event, body, time.time()))
        return cursor.rowcount == 1

    async def list_webhooks(self, limit: int = 100) -> list[WebhookRecord]:
        def run(conn: sqlite3.Connection) -> list[WebhookRecord]:
            rows = conn.execute("SELECT key, event, body, received_at FROM webhooks"
                                " ORDER BY received_at DESC, rowid DESC LIMIT ?",
                                (limit,)).fetchall()
            return [WebhookRecord(*row) for row in rows]
        return await self._db.in_thread(run)

    # Cache --------------------------------------------------------------------------------

    async def cache_get(self, key: str) -> str | None:
        row = await self._db.read("SELECT value FROM cache WHERE key = ? AND expires_at > ?",
                                       (key, time.time()))
        return str(row[0]) if row else None

    async def cache_set(self, key: str, value: str, ttl: float) -> None:
        await self._db.run("INSERT OR REPLACE INTO cache (key, value, expires_at) VALUES (?, ?, ?)",
                           (key, value, time.time() + ttl))

    async def cache_set_many(self, values: Mapping[str, str], ttl: float) -> None:
        def run(conn: sqlite3.Connection) -> None:
            expires_at = time.time() + ttl
            with _transaction(conn):
                conn.executemany("INSERT OR REPLACE INTO cache (key, value, expires_at)"
                                 " VALUES (?, ?, ?)",
                                 [(key, value, expires_at) for key, value in values.items()])
        await self._db.write(run)

    async def cache_delete(self, key: str) -> None:
        await self._db.run("DELETE FROM cache WHERE key = ?", (key,))

    async def ping(self) -> None:  # through the file's thread: is it answering?
        await self._db.in_thread(lambda conn: conn.execute("SELECT 1").fetchone())

    async def census(self) -> Census:
        def run(conn: sqlite3.Connection) -> Census:
            now = time.time()
            logins = conn.execute("SELECT status, COUNT(*) FROM logins WHERE expires_at > ?"
                                  " GROUP BY status", (now,)).fetchall()
            sessions = conn.execute("SELECT COUNT(*) FROM sessions WHERE expires_at > ?",
                                    (now,)).fetchone()[0]
            jobs = conn.execute("SELECT status, COUNT(*) FROM jobs WHERE expires_at > ?"
                                " GROUP BY status", (now,)).fetchall()
            webhooks = conn.execute("SELECT COUNT(*) FROM webhooks").fetchone()[0]
            return Census({LoginStatus(s): n for s, n in logins}, sessions,
                          {JobStatus(s): n for s, n in jobs}, webhooks)
        return await self._db.in_thread(run)

    async def sweep(self) -> None:
        """Drop expired rows."""
        now = time.time()
        def run(conn: sqlite3.Connection) -> None:
            for table in ("logins", "sessions", "jobs", "cache"):
                conn.execute(f"DELETE FROM {table} WHERE expires_at <= ?", (now,))
        await self._db.in_thread(run)  # may be long: never on the loop


