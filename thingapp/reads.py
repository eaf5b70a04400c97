"""Thingiverse reads through a short-lived cache in the store, shared by all instances.

Keyed by user as well as Thing: what one user may see (a private or unpublished Thing) is never
served to another. Writes that change what a read returns forget it (see `forget_files`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from thingapp.store import SessionRecord, Store
from thingapp.thingiverse import ThingiverseClient

READ_TTL = 60.0  # seconds: long enough for repeat launches, short enough to follow changes


class CachedReads:
    def __init__(self, thingiverse: ThingiverseClient, store: Store,
                 ttl: float = READ_TTL) -> None:
        self.thingiverse, self.store, self.ttl = thingiverse, store, ttl

    async def _read(self, key: str, fetch: Callable[[], Awaitable[Any]]) -> Any:
        cached = await self.store.cache_get(key)
        if cached is not None:
            return json.loads(cached)
        value = await fetch()
        await self.store.cache_set(key, json.dumps(value), self.ttl)
        return value

    async def thing(self, session: SessionRecord, thing_id: int) -> dict[str, Any]:
        return dict(await self._read(f"thing:{session.user_id}:{thing_id}",
                                     lambda: self.thingiverse.get_thing(session.token, thing_id)))

    async def files(self, session: SessionRecord, thing_id: int) -> list[dict[str, Any]]:
        return list(await self._read(
            f"files:{session.user_id}:{thing_id}",
            lambda: self.thingiverse.get_thing_files(session.token, thing_id)))

    async def me(self, session: SessionRecord) -> dict[str, Any]:
        return dict(await self._read(f"me:{session.user_id}",
                                     lambda: self.thingiverse.get_me(session.token)))

    async def forget_files(self, user_id: str, thing_id: int) -> None:
        await self.store.cache_delete(f"files:{user_id}:{thing_id}")
