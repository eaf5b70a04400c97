"""The store's guarantees, on both backends: SQLite (a file) and Redis (a real server)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

from thingapp.store import Census, JobStatus, LoginStatus, Store, WebhookRecord, open_store


def with_store(url: str, body: Callable[[Store], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        store = open_store(url)
        try:
            return await body(store)
        finally:
            await store.close()
    return asyncio.run(main())


def test_a_login_moves_on_from_a_status_exactly_once_under_concurrency(store_url):
    async def body(store: Store) -> list[Any]:
        await store.create_login("L1", "hash", 2001, "popup", 60)
        return await asyncio.gather(*[
            store.transition_login("L1", LoginStatus.PENDING, LoginStatus.CONSUMED)
            for _ in range(20)])
    results = with_store(store_url, body)
    assert sum(1 for moved in results if moved) == 1
    assert next(moved for moved in results if moved).status == LoginStatus.CONSUMED


def test_two_store_clients_race_for_one_login_and_one_wins(store_url):
    async def body(store: Store) -> list[Any]:
        await store.create_login("L2", "hash", None, "frame", 60)
        other = open_store(store_url)  # a second instance on the same store
        try:
            return await asyncio.gather(
                store.transition_login("L2", LoginStatus.PENDING, LoginStatus.CONSUMED),
                other.transition_login("L2", LoginStatus.PENDING, LoginStatus.CONSUMED))
        finally:
            await other.close()
    assert sorted(bool(moved) for moved in with_store(store_url, body)) == [False, True]


def test_a_login_carries_its_session_and_error(store_url):
    async def body(store: Store) -> tuple[Any, Any]:
        await store.create_login("L3", "h", 7, "popup", 60)
        await store.transition_login("L3", LoginStatus.PENDING, LoginStatus.CONSUMED)
        await store.transition_login("L3", LoginStatus.CONSUMED, LoginStatus.COMPLETE,
                                     session_id="S1")
        wrong = await store.transition_login("L3", LoginStatus.PENDING, LoginStatus.CONSUMED)
        return await store.get_login("L3"), wrong
    login, wrong = with_store(store_url, body)
    assert (login.status, login.session_id, login.thing_id, login.mode) == (
        LoginStatus.COMPLETE, "S1", 7, "popup")
    assert wrong is None


def test_completing_a_login_creates_its_session_once_and_atomically(store_url):
    async def body(store: Store) -> tuple[Any, ...]:
        await store.create_login("L9", "h", 1, "popup", 60, status=LoginStatus.CONSUMED)
        results = await asyncio.gather(*[
            store.complete_login("L9", LoginStatus.CONSUMED, f"S9-{n}", "1001", "tok", 60)
            for n in range(5)])
        sessions = [await store.get_session(f"S9-{n}") for n in range(5)]
        refused = await store.complete_login("nope", LoginStatus.CONSUMED, "S-none", "1", "t", 60)
        return results, sessions, await store.get_login("L9"), refused, \
            await store.get_session("S-none")
    results, sessions, login, refused, orphan = with_store(store_url, body)
    assert results.count(True) == 1
    winner = results.index(True)
    assert [s is not None for s in sessions] == [n == winner for n in range(5)]
    assert (login.status, login.session_id) == (LoginStatus.COMPLETE, f"S9-{winner}")
    assert refused is False and orphan is None


def test_expired_logins_and_sessions_are_gone(store_url):
    async def body(store: Store) -> tuple[Any, ...]:
        await store.create_login("L4", "h", None, "popup", 0.3)
        await store.create_session("S4", "1001", "tok", 0.3)
        await store.create_session("S5", "1001", "tok", 60)
        await asyncio.sleep(0.5)
        await store.sweep()
        return (await store.get_login("L4"), await store.get_session("S4"),
                await store.transition_login("L4", LoginStatus.PENDING, LoginStatus.CONSUMED),
                await store.get_session("S5"))
    login, session, moved, alive = with_store(store_url, body)
    assert login is None and session is None and moved is None
    assert alive.token == "tok" and alive.user_id == "1001"


def test_sessions_can_be_deleted(store_url):
    async def body(store: Store) -> Any:
        await store.create_session("S6", "1002", "tok", 60)
        await store.delete_session("S6")
        return await store.get_session("S6")
    assert with_store(store_url, body) is None


def test_a_session_records_when_it_was_last_used_and_touching_never_revives_one(store_url):
    async def body(store: Store) -> tuple[Any, ...]:
        await store.create_session("S8", "1001", "tok", 60)
        made = await store.get_session("S8")
        await store.touch_session("S8", made.last_seen + 30)
        await store.touch_session("S8", made.last_seen + 10)  # an older use changes nothing
        touched = await store.get_session("S8")
        await store.delete_session("S8")
        await store.touch_session("S8", made.last_seen + 40)
        return made, touched, await store.get_session("S8"), await store.census()
    made, touched, revived, census = with_store(store_url, body)
    assert touched.last_seen == made.last_seen + 30
    assert touched.expires_at == made.expires_at  # the absolute end does not move
    assert revived is None and census.sessions == 0


def test_a_sqlite_file_from_before_the_idle_limit_opens_with_its_sessions(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
                    " token TEXT NOT NULL, expires_at REAL NOT NULL)")
        old.execute("INSERT INTO sessions VALUES ('S9', '1001', 'tok', ?)", (time.time() + 60,))
    session = with_store(f"sqlite:///{path}", lambda s: s.get_session("S9"))
    assert session.token == "tok" and time.time() - session.last_seen < 5


def test_job_progress_and_the_latest_job_of_a_user_on_a_thing(store_url):
    async def body(store: Store) -> tuple[Any, ...]:
        await store.create_job("J1", "1001", 2001, "Starting…", 60)
        await asyncio.sleep(0.01)
        await store.create_job("J2", "1001", 2001, "Starting…", 60)
        await store.update_job("J2", step="upload", message="Uploading…", percent=40)
        await store.update_job("J1", step="done", message="Done.", status="done",
                               result='{"url": "x"}')
        return (await store.get_job("J1"), await store.latest_job("1001", 2001),
                await store.latest_job("1002", 2001), await store.get_job("nope"))
    first, latest, other_user, missing = with_store(store_url, body)
    assert (first.status, first.result) == ("done", '{"url": "x"}')
    assert (latest.id, latest.step, latest.percent) == ("J2", "upload", 40)
    assert other_user is None and missing is None


def test_touching_a_job_moves_its_heartbeat_only(store_url):
    async def body(store: Store) -> tuple[Any, Any]:
        await store.create_job("J3", "1001", 2001, "Starting…", 60)
        before = await store.get_job("J3")
        await asyncio.sleep(0.02)
        await store.touch_job("J3")
        await store.touch_job("never-created")
        return before, await store.get_job("J3")
    before, after = with_store(store_url, body)
    assert after.updated_at > before.updated_at
    assert (after.step, after.message) == (before.step, before.message)


def test_a_webhook_event_is_stored_once_even_when_delivered_concurrently(store_url):
    async def body(store: Store) -> tuple[list[bool], list[WebhookRecord]]:
        added = await asyncio.gather(*[store.add_webhook("order_created:9", "order_created",
                                                         '{"n": 1}') for _ in range(10)])
        await store.add_webhook("order_refunded:9", "order_refunded", '{"n": 2}')
        return added, await store.list_webhooks()
    added, events = with_store(store_url, body)
    assert added.count(True) == 1
    assert [e.event for e in events] == ["order_refunded", "order_created"]  # newest first
    assert events[1].body == '{"n": 1}'


def test_the_cache_forgets_after_its_ttl(store_url):
    async def body(store: Store) -> tuple[Any, ...]:
        await store.cache_set("thing:1", '{"id": 1}', 0.3)
        await store.cache_set("thing:2", '{"id": 2}', 60)
        hit = await store.cache_get("thing:1")
        await asyncio.sleep(0.5)
        await store.cache_delete("thing:2")
        return hit, await store.cache_get("thing:1"), await store.cache_get("thing:2")
    assert with_store(store_url, body) == ('{"id": 1}', None, None)


def test_several_cache_entries_are_set_in_one_write_with_one_ttl(store_url):
    async def body(store: Store) -> tuple[Any, ...]:
        await store.cache_set_many({"me:7": '{"name": "x"}', "files:7:1": "[]"}, 0.3)
        hits = await store.cache_get("me:7"), await store.cache_get("files:7:1")
        await asyncio.sleep(0.5)
        return hits, await store.cache_get("me:7")
    assert with_store(store_url, body) == (('{"name": "x"}', "[]"), None)


def test_sqlite_writes_wait_for_another_writer_and_land_in_the_order_asked(tmp_path):
    """A write made while another connection (a job worker's process) holds SQLite's write lock
    waits for it in the store's thread without stalling the loop; a write asked for after it
    lands after it, even though the lock is free by then."""
    path = tmp_path / "busy.sqlite3"

    async def body(store: Store) -> tuple[Any, ...]:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        first = asyncio.create_task(store.cache_set("k", "first", 60))
        ticks = 0
        while ticks < 10:  # the loop goes on meanwhile
            await asyncio.sleep(0.01)
            ticks += 1
        waiting = not first.done()
        other.execute("COMMIT")
        await store.cache_set("k", "second", 60)  # the lock is free: must not overtake
        await first
        other.close()
        return waiting, ticks, await store.cache_get("k")
    assert with_store(f"sqlite:///{path}", body) == (True, 10, "second")


def test_a_sqlite_write_whose_caller_gave_up_is_still_not_overtaken(tmp_path):
    """A cancelled caller does not cancel its write waiting in the store's thread (a job's
    progress ticker is cancelled so): a later write, asked for after it, lands after it."""
    path = tmp_path / "busy.sqlite3"

    async def body(store: Store) -> str | None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        first = asyncio.create_task(store.cache_set("k", "running", 60))
        await asyncio.sleep(0.05)  # it waits in the thread for the lock
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        other.execute("COMMIT")
        await store.cache_set("k", "done", 60)
        await asyncio.sleep(0.3)  # the given-up write has landed by now
        other.close()
        return await store.cache_get("k")
    assert with_store(f"sqlite:///{path}", body) == "done"


def test_sqlite_state_survives_reopening_the_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'kept.sqlite3'}"
    with_store(url, lambda s: s.create_session("S7", "1001", "tok", 60))
    assert with_store(url, lambda s: s.get_session("S7")).token == "tok"


def test_the_census_counts_live_records_of_each_kind(store_url):
    async def body(store: Store) -> Census:
        for n, status in enumerate([LoginStatus.PENDING, LoginStatus.PENDING,
                                    LoginStatus.COMPLETE]):
            await store.create_login(f"C{n}", "h", None, "popup", 60, status=status)
        await store.create_login("gone", "h", None, "popup", 0.001)  # expires at once
        await store.create_session("S1", "1001", "tok", 60)
        await store.create_job("J1", "1001", 2001, "Starting", 60)
        await store.create_job("J2", "1001", 2001, "Starting", 60)
        await store.update_job("J2", step="done", message="Done.", status=JobStatus.DONE)
        await store.add_webhook("k1", "order_created", "{}")
        await asyncio.sleep(0.01)
        return await store.census()
    census = with_store(store_url, body)
    assert census == Census({LoginStatus.PENDING: 2, LoginStatus.COMPLETE: 1}, 1,
                            {JobStatus.RUNNING: 1, JobStatus.DONE: 1}, 1)


def test_one_time_transitions_hold_across_many_clients_interleaving(store_url):
    """40 logins, each raced for by 8 calls spread over 4 store clients (4 connections to the
    backend), all in flight at once: every login moves exactly once. A read-then-write
    transition lets several win."""
    async def body(store: Store) -> list[int]:
        others = [open_store(store_url) for _ in range(3)]
        clients = [store, *others]
        try:
            logins = [f"R{n}" for n in range(40)]
            for login in logins:
                await store.create_login(login, "h", None, "popup", 60)
            calls = [clients[(n + k) % 4].transition_login(login, LoginStatus.PENDING,
                                                           LoginStatus.CONSUMED)
                     for k in range(8) for n, login in enumerate(logins)]
            results = await asyncio.gather(*calls)
            return [sum(1 for r in results if r is not None and r.id == login)
                    for login in logins]
        finally:
            for other in others:
                await other.close()
    assert with_store(store_url, body) == [1] * 40
