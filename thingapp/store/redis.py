"""The store on Redis: for several app instances behind a load balancer.

Every record is a hash under `thingapp:` with a TTL, so Redis expires it by itself. Changes that
must happen once (a login moving on from a status, a webhook stored once) are Lua scripts, which
Redis runs atomically: of two instances racing, exactly one wins.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import redis.asyncio as redis
from redis.typing import EncodableT, FieldT

from thingapp.store.records import (
    Census,
    JobRecord,
    JobStatus,
    LoginRecord,
    LoginStatus,
    SessionRecord,
    WebhookRecord,
)

PREFIX = "thingapp:"
MAX_WEBHOOKS = 10_000  # the event list keeps this many, newest first

# KEYS[1] the login; ARGV: from, to, session_id or "", error or "". The login's fields after
# the move, or nil when it was not in `from`.
TRANSITION = """
if redis.call('HGET', KEYS[1], 'status') ~= ARGV[1] then return nil end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'session_id', ARGV[3]) end
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[4]) end
return redis.call('HGETALL', KEYS[1])
"""

# KEYS[1] the login, KEYS[2] the session; ARGV: from, to (complete), session_id, user_id, token,
# expires_at, ttl in ms, now. 1 when the login moved on and the session exists; 0 and nothing
# otherwise.
COMPLETE = """
if redis.call('HGET', KEYS[1], 'status') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'session_id', ARGV[3])
redis.call('HSET', KEYS[2], 'user_id', ARGV[4], 'token', ARGV[5], 'expires_at', ARGV[6],
           'last_seen', ARGV[8])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
return 1
"""

# KEYS[1] the seen-marker, KEYS[2] the event list; ARGV[1] the stored JSON. 1 when new.
ADD_WEBHOOK = """
if redis.call('SET', KEYS[1], '1', 'NX') == false then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
return 1
"""

# KEYS[1] a job or session; ARGV[1] the field, ARGV[2] now. Touch only a record that still
# exists (never resurrect one), and never move its time back.
TOUCH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(ARGV[2]) <= tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


def _opt(value: str | None) -> str | None:
    return value if value else None


def _text(h: Any) -> dict[str, str]:
    """A hash as Redis returned it (decoded to str: the client is made with decode_responses)."""
    return {str(k): str(v) for k, v in h.items()}


def _login(login_id: str, h: dict[str, str]) -> LoginRecord | None:
    if not h:
        return None
    return LoginRecord(login_id, h["claim_hash"], int(h["thing_id"]) if h["thing_id"] else None,
                       h["mode"], LoginStatus(h["status"]), _opt(h.get("session_id")),
                       _opt(h.get("error")), float(h["expires_at"]))


class RedisStore:
    def __init__(self, url: str) -> None:
        self.redis = redis.Redis.from_url(url, decode_responses=True)
        self._transition = self.redis.register_script(TRANSITION)
        self._complete = self.redis.register_script(COMPLETE)
        self._add_webhook = self.redis.register_script(ADD_WEBHOOK)
        self._touch = self.redis.register_script(TOUCH)

    async def close(self) -> None:
        await self.redis.aclose()

    async def _put(self, key: str, fields: dict[str, Any], ttl: float) -> None:
        values: dict[FieldT, EncodableT] = {k: "" if v is None else str(v)
                                            for k, v in fields.items()}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=values)
            pipe.pexpire(key, max(1, int(ttl * 1000)))
            await pipe.execute()

    # Sign-ins -----------------------------------------------------------------------------

    async def create_login(self, login_id: str, claim_hash: str, thing_id: int | None,
                           mode: str, ttl: float, status: LoginStatus = LoginStatus.PENDING,
                           session_id: str | None = None) -> None:
        await self._put(f"{PREFIX}login:{login_id}", {
            "claim_hash": claim_hash, "thing_id": thing_id, "mode": mode, "status": status,
            "session_id": session_id, "error": None, "expires_at": time.time() + ttl}, ttl)

    async def get_login(self, login_id: str) -> LoginRecord | None:
        return _login(login_id, _text(await self.redis.hgetall(f"{PREFIX}login:{login_id}")))

    async def transition_login(self, login_id: str, from_status: LoginStatus,
                               to_status: LoginStatus, *, session_id: str | None = None,
                               error: str | None = None) -> LoginRecord | None:
        fields = await self._transition(keys=[f"{PREFIX}login:{login_id}"],
                                        args=[from_status, to_status, session_id or "",
                                              error or ""])
        if not fields:
            return None
        return _login(login_id, dict(zip(fields[::2], fields[1::2], strict=True)))

    async def complete_login(self, login_id: str, from_status: LoginStatus, session_id: str,
                             user_id: str, token: str, ttl: float) -> bool:
        now = time.time()
        done = await self._complete(
            keys=[f"{PREFIX}login:{login_id}", f"{PREFIX}session:{session_id}"],
            args=[from_status, LoginStatus.COMPLETE, session_id, user_id, token, now + ttl,
                  max(1, int(ttl * 1000)), now])
        return bool(done)

    # Sessions -----------------------------------------------------------------------------

    async def create_session(self, session_id: str, user_id: str, token: str,
                             ttl: float) -> None:
        now = time.time()
        await self._put(f"{PREFIX}session:{session_id}", {
            "user_id": user_id, "token": token, "expires_at": now + ttl, "last_seen": now}, ttl)

    async def get_session(self, session_id: str) -> SessionRecord | None:
        h = _text(await self.redis.hgetall(f"{PREFIX}session:{session_id}"))
        if not h:
            return None
        return SessionRecord(session_id, h["user_id"], h["token"], float(h["expires_at"]),
                             float(h.get("last_seen") or h["expires_at"]))

    async def touch_session(self, session_id: str, seen_at: float) -> None:
        await self._touch(keys=[f"{PREFIX}session:{session_id}"], args=["last_seen", seen_at])

    async def delete_session(self, session_id: str) -> None:
        await self.redis.delete(f"{PREFIX}session:{session_id}")

    # Jobs ---------------------------------------------------------------------------------

    async def create_job(self, job_id: str, user_id: str, thing_id: int, message: str,
                         ttl: float) -> None:
        now = time.time()
        await self._put(f"{PREFIX}job:{job_id}", {
            "user_id": user_id, "thing_id": thing_id, "status": JobStatus.RUNNING, "step": "start",
            "percent": None, "message": message, "result": None, "created_at": now,
            "updated_at": now, "expires_at": now + ttl}, ttl)
        await self.redis.set(f"{PREFIX}latest-job:{user_id}:{thing_id}", job_id,
                             px=int(ttl * 1000))
        running = f"{PREFIX}running:{user_id}"
        await self.redis.sadd(running, job_id)
        await self.redis.pexpire(running, int(ttl * 1000))

    async def update_job(self, job_id: str, *, step: str, message: str,
                         percent: int | None = None, status: JobStatus = JobStatus.RUNNING,
                         result: str | None = None) -> None:
        fields: dict[FieldT, EncodableT] = {
            "status": status, "step": step, "percent": "" if percent is None else percent,
            "message": message, "updated_at": time.time()}
        if result is not None:
            fields["result"] = result
        await self.redis.hset(f"{PREFIX}job:{job_id}", mapping=fields)

    async def touch_job(self, job_id: str) -> None:
        await self._touch(keys=[f"{PREFIX}job:{job_id}"], args=["updated_at", time.time()])

    async def get_job(self, job_id: str) -> JobRecord | None:
        h = _text(await self.redis.hgetall(f"{PREFIX}job:{job_id}"))
        if not h or "user_id" not in h:
            return None
        return JobRecord(job_id, h["user_id"], int(h["thing_id"]), JobStatus(h["status"]),
                         h["step"], int(h["percent"]) if h["percent"] else None, h["message"],
                         _opt(h.get("result")), float(h["created_at"]), float(h["updated_at"]),
                         float(h["expires_at"]))

    async def running_jobs(self, user_id: str, heard_since: float) -> int:
        """The user's running-job set, each checked (and dropped once over or silent)."""
        running = f"{PREFIX}running:{user_id}"
        count = 0
        for member in await self.redis.smembers(running):
            job_id = str(member)
            status, updated = await self.redis.hmget(f"{PREFIX}job:{job_id}",
                                                     ["status", "updated_at"])
            if status == JobStatus.RUNNING and updated and float(updated) > heard_since:
                count += 1
            else:
                await self.redis.srem(running, job_id)
        return count

    async def latest_job(self, user_id: str, thing_id: int) -> JobRecord | None:
        job_id = await self.redis.get(f"{PREFIX}latest-job:{user_id}:{thing_id}")
        return await self.get_job(str(job_id)) if job_id else None

    # Webhooks -----------------------------------------------------------------------------

    async def add_webhook(self, key: str, event: str, body: str) -> bool:
        record = json.dumps({"key": key, "event": event, "body": body,
                             "received_at": time.time()})
        added = await self._add_webhook(keys=[f"{PREFIX}webhook-seen:{key}", f"{PREFIX}webhooks"],
                                        args=[record, MAX_WEBHOOKS])
        return bool(added)

    async def list_webhooks(self, limit: int = 100) -> list[WebhookRecord]:
        rows = await self.redis.lrange(f"{PREFIX}webhooks", 0, limit - 1)
        return [WebhookRecord(**json.loads(row)) for row in rows]

    # Cache --------------------------------------------------------------------------------

    async def cache_get(self, key: str) -> str | None:
        value = await self.redis.get(f"{PREFIX}cache:{key}")
        return str(value) if value is not None else None

    async def cache_set(self, key: str, value: str, ttl: float) -> None:
        await self.redis.set(f"{PREFIX}cache:{key}", value, px=max(1, int(ttl * 1000)))

    async def cache_set_many(self, values: Mapping[str, str], ttl: float) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, value in values.items():
                pipe.set(f"{PREFIX}cache:{key}", value, px=max(1, int(ttl * 1000)))
            await pipe.execute()

    async def cache_delete(self, key: str) -> None:
        await self.redis.delete(f"{PREFIX}cache:{key}")

    async def ping(self) -> None:
        await self.redis.ping()

    async def census(self) -> Census:
        async def statuses(kind: str) -> list[str]:
            keys = [key async for key in self.redis.scan_iter(f"{PREFIX}{kind}:*", count=1000)]
            found = [await self.redis.hget(key, "status") for key in keys]
            return [str(status) for status in found if status]
        logins, jobs = await statuses("login"), await statuses("job")
        sessions = [key async for key in self.redis.scan_iter(f"{PREFIX}session:*", count=1000)]
        return Census({s: logins.count(s) for s in map(LoginStatus, set(logins))}, len(sessions),
                      {s: jobs.count(s) for s in map(JobStatus, set(jobs))},
                      int(await self.redis.llen(f"{PREFIX}webhooks")))

    async def sweep(self) -> None:
        """Nothing to do: Redis expires keys by their TTL."""
