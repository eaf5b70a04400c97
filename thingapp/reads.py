"""Thingiverse reads through a short-lived cache in the store, shared by all instances.

Keyed by user as well as Thing: what one user may see (a private or unpublished Thing) is never
served to another. Writes that change what a read returns forget it (see `forget_files`).

With an operator's read-only app token, a launch prefetches the Thing and its files while the
user is still deciding at Thingiverse's authorize page; those public reads serve any user (a
Thing the app token can't see is simply not prefetched, and is read with the user's token).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from thingapp.store import SessionRecord, Store
from thingapp.thingiverse import ThingiverseClient, ThingiverseError

log = logging.getLogger("thingapp.reads")

READ_TTL = 60.0  # seconds: long enough for repeat launches, short enough to follow changes
PREFETCH_BUDGET = 60  # app-token prefetches per minute and process: anyone can open a launch
# page, and the app token's 300 requests per 5 minutes are the operator's


def _dumps(value: Any) -> str:
    """A read as the cache keeps it: JSON text. (orjson reads JSON nested 1,024 deep but writes
    only 254: what an answer nests deeper, the standard library writes.)"""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


class CachedReads:
    def __init__(self, thingiverse: ThingiverseClient, store: Store, ttl: float = READ_TTL,
                 app_token: str = "") -> None:
        self.thingiverse, self.store, self.ttl = thingiverse, store, ttl
        self.app_token = app_token
        self._prefetching: set[asyncio.Task[None]] = set()  # references only
        # Reads already under way in this process, by cache key: an optimisation only (another
        # instance reads again), so nothing another instance needs lives here.
        self._in_flight: dict[str, asyncio.Task[Any]] = {}
        self._prefetch_window = (0.0, 0)  # (minute started, prefetches in it)

    async def _read(self, keys: tuple[str, ...], fetch: Callable[[], Awaitable[Any]]) -> Any:
        """A read of `keys[0]` under way in this process, else the first cached value under
        `keys`, else fetch and cache under the first key."""
        in_flight = self._in_flight.get(keys[0])
        if in_flight is not None:
            try:
                return await asyncio.shield(in_flight)
            except ThingiverseError:
                pass  # it failed: read again below
        for key in keys:
            cached = await self.store.cache_get(key)
            if cached is not None:
                return orjson.loads(cached)
        value = await fetch()
        await self.store.cache_set(keys[0], _dumps(value), self.ttl)
        return value

    async def thing(self, session: SessionRecord, thing_id: int) -> dict[str, Any]:
        return dict(await self._read(
            (f"thing:{session.user_id}:{thing_id}", f"thing:public:{thing_id}"),
            lambda: self.thingiverse.get_thing(session.token, thing_id)))

    async def fresh_thing(self, session: SessionRecord, thing_id: int) -> dict[str, Any]:
        """The Thing as Thingiverse has it now, for deciding a write (a licence switched to No
        Derivatives a moment ago counts); the cache is refreshed with it."""
        thing = await self.thingiverse.get_thing(session.token, thing_id)
        key = f"thing:{session.user_id}:{thing_id}"
        self._in_flight.pop(key, None)  # (an older sign-in read: `remember` won't keep it)
        await self.store.cache_set(key, _dumps(thing), self.ttl)
        return thing

    async def files(self, session: SessionRecord, thing_id: int) -> list[dict[str, Any]]:
        return list(await self._read(
            (f"files:{session.user_id}:{thing_id}", f"files:public:{thing_id}"),
            lambda: self.thingiverse.get_thing_files(session.token, thing_id)))

    async def categories(self, session: SessionRecord, thing_id: int) -> list[str]:
        """The Thing's category names (a remix takes its parent's as the default)."""
        return list(await self._read(
            (f"categories:{thing_id}",),
            lambda: self.thingiverse.get_thing_categories(session.token, thing_id)))

    async def me(self, session: SessionRecord) -> dict[str, Any]:
        return dict(await self._read((f"me:{session.user_id}",),
                                     lambda: self.thingiverse.get_me(session.token)))

    def start_thing_reads(self, token: str, thing_id: int) -> dict[str, asyncio.Task[Any]]:
        """Start reading what a signed-in page of the Thing needs, with a token tokeninfo is
        still checking: the Thing, its files and categories, each from what a prefetch or
        another user already cached publicly when it is there. Nothing is cached here:
        `remember` does that once the token is vouched for."""
        api = self.thingiverse
        public = bool(self.app_token)  # only the app token's prefetch keeps public reads
        fetches: dict[str, tuple[str | None, Callable[[], Awaitable[Any]]]] = {
            "thing": (f"thing:public:{thing_id}" if public else None,
                      lambda: api.get_thing(token, thing_id)),
            "files": (f"files:public:{thing_id}" if public else None,
                      lambda: api.get_thing_files(token, thing_id)),
            "categories": (f"categories:{thing_id}",
                           lambda: api.get_thing_categories(token, thing_id))}

        async def cached_or(key: str | None, fetch: Callable[[], Awaitable[Any]]) -> Any:
            cached = await self.store.cache_get(key) if key else None
            return orjson.loads(cached) if cached is not None else await fetch()
        return {name: asyncio.create_task(cached_or(key, fetch))
                for name, (key, fetch) in fetches.items()}

    def remember(self, user_id: str, me: asyncio.Task[dict[str, Any]], thing_id: int | None = None,
                 thing_reads: Mapping[str, asyncio.Task[Any]] | None = None) -> None:
        """Keep the reads a sign-in started (the user's `/users/me`, and the Thing's from
        `start_thing_reads`), once tokeninfo vouched for the token, without waiting for them:
        the page's next request takes them from here while they are under way (showing them
        then costs no call), and they are cached together, in one write, when all are done."""
        reads = {f"me:{user_id}": me}
        if thing_id is not None and thing_reads:
            keys = {"thing": f"thing:{user_id}:{thing_id}", "files": f"files:{user_id}:{thing_id}",
                    "categories": f"categories:{thing_id}"}
            reads.update({keys[name]: read for name, read in thing_reads.items()})
        self._in_flight.update(reads)

        async def keep() -> None:
            try:
                results = await asyncio.gather(*reads.values(), return_exceptions=True)
                values = {}
                for key, result in zip(reads, results, strict=True):
                    if isinstance(result, ThingiverseError):  # it is read again when needed
                        log.info("%s during sign-in failed: %s", key.split(":")[0], result)
                    elif isinstance(result, Exception):
                        log.error("%s during sign-in failed", key.split(":")[0],
                                  exc_info=result)
                    elif not isinstance(result, BaseException) and (
                            self._in_flight.get(key) is reads[key]):  # (not forgotten since)
                        values[key] = _dumps(result)
                if values:
                    await self.store.cache_set_many(values, self.ttl)
            finally:
                for key, read in reads.items():
                    if self._in_flight.get(key) is read:
                        del self._in_flight[key]
        task = asyncio.create_task(keep())
        self._prefetching.add(task)
        task.add_done_callback(self._prefetching.discard)

    async def forget_files(self, user_id: str, thing_id: int) -> None:
        for key in (f"files:{user_id}:{thing_id}", f"files:public:{thing_id}"):
            self._in_flight.pop(key, None)  # (a sign-in's read: `remember` won't keep it)
            await self.store.cache_delete(key)

    def prefetch(self, thing_id: int) -> None:
        """Start reading a Thing with the app token, without waiting (no-op without one, and
        past PREFETCH_BUDGET a minute)."""
        if not self.app_token:
            return
        started, count = self._prefetch_window
        now = time.monotonic()
        if now - started > 60:
            started, count = now, 0
        if count >= PREFETCH_BUDGET:
            return
        self._prefetch_window = (started, count + 1)
        task = asyncio.create_task(self._prefetch(thing_id))
        self._prefetching.add(task)
        task.add_done_callback(self._prefetching.discard)

    async def stop(self) -> None:
        """At shutdown: stop the reads still under way in the background."""
        for task in list(self._prefetching):
            task.cancel()
        await asyncio.gather(*self._prefetching, return_exceptions=True)

    async def _prefetch(self, thing_id: int) -> None:
        marker = f"prefetched:{thing_id}"  # tried lately, found or not: don't ask again
        if await self.store.cache_get(marker) is not None:
            return
        await self.store.cache_set(marker, "1", self.ttl)
        try:
            thing, files = await asyncio.gather(
                self.thingiverse.get_thing(self.app_token, thing_id),
                self.thingiverse.get_thing_files(self.app_token, thing_id))
        except ThingiverseError as exc:  # private, deleted, or the app token refused
            log.info("prefetch of thing %s skipped: %s", thing_id, exc)
            return
        await self.store.cache_set_many({f"thing:public:{thing_id}": _dumps(thing),
                                         f"files:public:{thing_id}": _dumps(files)}, self.ttl)
