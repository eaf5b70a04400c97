"""How often one client may make the app spend: the `limits` library, counting where the store is.

Starting a sign-in costs a row; a `?code=` launch costs a code exchange with our secret; a job
costs a download, minutes of a worker and Thingiverse's rate limit. Each is counted in fixed
windows per client address or per user, in the same place as the store: Redis for several
instances (they share the counts), else the SQLite file (shared by the worker processes of one
machine), through a small `limits` storage written for it. Over a limit the answer is 429 with a
sentence and `Retry-After`.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

import redis.asyncio as redis
from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from thingapp.store.sqlite import SQLiteFile


class SQLiteLimitStorage(Storage):
    """Fixed-window counters in a table of the store's SQLite file, each change one statement."""

    STORAGE_SCHEME = ["thingapp+sqlite"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False,
                 **options: float | str | bool) -> None:
        super().__init__(uri, wrap_exceptions, **options)
        self._db = SQLiteFile((uri or "").removeprefix("thingapp+sqlite:///"), lambda conn: (
            conn.execute("CREATE TABLE IF NOT EXISTS rate_limits (key TEXT PRIMARY KEY,"
                         " count INTEGER NOT NULL, expires_at REAL NOT NULL)")))

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        row = await self._db.one(
            "INSERT INTO rate_limits (key, count, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET"
            " count = CASE WHEN expires_at <= ? THEN excluded.count ELSE count + excluded.count"
            " END, expires_at = CASE WHEN expires_at <= ? THEN excluded.expires_at"
            " ELSE expires_at END RETURNING count",
            (key, amount, now + expiry, now, now))
        assert row is not None
        return int(str(row[0]))

    async def get(self, key: str) -> int:
        row = await self._db.read("SELECT count FROM rate_limits WHERE key = ? AND expires_at > ?",
                                  (key, time.time()))
        return int(str(row[0])) if row else 0

    async def get_expiry(self, key: str) -> float:
        row = await self._db.read("SELECT expires_at FROM rate_limits WHERE key = ?", (key,))
        return float(str(row[0])) if row else time.time()

    async def check(self) -> bool:
        return await self._db.read("SELECT 1", ()) is not None

    async def reset(self) -> int | None:
        await self._db.run("DELETE FROM rate_limits")
        return None

    async def clear(self, key: str) -> None:
        await self._db.run("DELETE FROM rate_limits WHERE key = ?", (key,))

    async def sweep(self) -> None:
        """Drop finished windows: one row per address or user would pile up otherwise."""
        now = time.time()  # in the file's thread: it may be long
        await self._db.in_thread(lambda conn: conn.execute(
            "DELETE FROM rate_limits WHERE expires_at <= ?", (now,)))

    async def close(self) -> None:
        """Close the file after the statements already asked for."""
        await self._db.close()


@dataclass(frozen=True)
class Limit:
    item: RateLimitItem
    sentence: str  # {n} the limit, {wait} the seconds to wait


@dataclass(frozen=True)
class RateLimits:
    """The operator's limits (settings), each a count per window."""
    logins_per_minute: int = 20  # per client address
    code_launches_per_minute: int = 5  # per client address; each costs a code exchange
    jobs_per_hour: int = 30  # per user
    running_jobs: int = 2  # per user, at once


class LimitExceeded(Exception):
    """`str(exc)` is the sentence; `retry_after` the seconds until the window ends."""

    def __init__(self, sentence: str, retry_after: int) -> None:
        super().__init__(sentence)
        self.retry_after = retry_after


class Limiter:
    def __init__(self, store_url: str, limits: RateLimits) -> None:
        self.limits = limits
        self._pool: redis.ConnectionPool | None = None
        if store_url.startswith("sqlite:///"):
            self.storage: Storage = SQLiteLimitStorage("thingapp+sqlite:///"
                                                       + store_url[len("sqlite:///"):])
        else:
            # Our own pool, so closing the limiter closes its connections.
            self._pool = redis.ConnectionPool.from_url(store_url)
            url = (f"async+{store_url}" if not store_url.startswith("unix://")
                   else store_url.replace("unix://", "async+redis+unix://", 1))
            # limits types its options as scalars; the pool is handed on to redis-py as is.
            storage = storage_from_string(url, implementation="redispy",
                                          key_prefix="thingapp:limits",
                                          connection_pool=self._pool)  # type: ignore[arg-type]
            assert isinstance(storage, Storage)  # an async+ scheme gives the async storage
            self.storage = storage
        self._strategy = FixedWindowRateLimiter(self.storage)
        self.logins = Limit(RateLimitItemPerMinute(limits.logins_per_minute),
                            "Too many sign-ins were started from your network; try again in "
                            "{wait} seconds.")
        self.code_launches = Limit(RateLimitItemPerMinute(limits.code_launches_per_minute),
                                   "Too many automatic sign-ins came from your network; try "
                                   "again in {wait} seconds.")
        self.jobs = Limit(RateLimitItemPerHour(limits.jobs_per_hour),
                          "You have made {n} files in the last hour, the most this app makes "
                          "for one person; try again in {wait} seconds.")
        # Measuring a model for its preview costs a download and a worker, as a job does.
        self.previews = Limit(RateLimitItemPerHour(limits.jobs_per_hour),
                              "You have previewed {n} new models in the last hour, the most "
                              "this app measures for one person; try again in {wait} seconds.")

    async def hit(self, limit: Limit, *key: str) -> None:
        """Count one use; raise LimitExceeded (counting nothing) past the limit."""
        if await self._strategy.hit(limit.item, *key):
            return
        stats = await self._strategy.get_window_stats(limit.item, *key)
        wait = max(1, int(stats.reset_time - time.time()) + 1)
        raise LimitExceeded(limit.sentence.format(n=limit.item.amount, wait=wait), wait)

    async def sweep(self) -> None:
        """Drop expired counters (Redis expires its keys by itself)."""
        if isinstance(self.storage, SQLiteLimitStorage):
            await self.storage.sweep()

    async def close(self) -> None:
        if isinstance(self.storage, SQLiteLimitStorage):
            await self.storage.close()
        if self._pool is not None:
            await self._pool.aclose()
