"""Limits per client address and per user: the next request past a limit gets 429, a sentence
and Retry-After; instances on one Redis share the counts; X-Forwarded-For counts only from a
trusted proxy."""

from __future__ import annotations

from pathlib import Path

import httpx2
from live import GOOD, cli_env, free_port, start_server
from world import CC_ND, OWNED_CC, REMIXER, World

CUBE_STL, ORGANIZER_STL = 3001, 3005


def assert_limited(r: httpx2.Response, sentence_start: str, window: int) -> None:
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["retry-after"]) <= window + 1
    message = r.json()["error"] if "json" in r.headers["content-type"] else r.text
    assert sentence_start in message, message


def test_sign_ins_started_from_one_address_are_limited_per_minute(tmp_path):
    w = World(tmp_path, logins_per_minute=3)
    with w.client, w.sandbox:
        for _ in range(3):
            w.start_login()
        r = w.client.post("/api/logins", json={"thing_id": OWNED_CC})
        assert_limited(r, "Too many sign-ins were started from your network; try again in", 60)


def test_code_launches_are_limited_before_any_code_exchange(tmp_path):
    w = World(tmp_path, code_launches_per_minute=2)
    with w.client, w.sandbox:
        for _ in range(2):
            assert w.client.get("/?thing_id=2001&code=not-a-code").status_code == 200
        r = w.client.get("/?thing_id=2001&code=not-a-code")
        assert_limited(r, "Too many automatic sign-ins came from your network", 60)
        exchanges = [e for e in w.sandbox.get("/sandbox/requests").json()
                     if e["path"] == "/login/oauth/access_token"]
        assert len(exchanges) == 2  # the third launch cost Thingiverse nothing


def test_jobs_per_user_are_limited_per_hour(tmp_path):
    w = World(tmp_path, jobs_per_hour=2)
    with w.client, w.sandbox:
        token = w.sign_in(REMIXER, CC_ND)
        body = dict(thing_id=CC_ND, file_id=ORGANIZER_STL, action="download", tool="scale",
                    options={"mode": "percent", "value": "150", "output": "stl"})
        for _ in range(2):
            r = w.start_job(token, **body)
            assert r.status_code == 202, r.text
            w.wait_job(token, r.json()["job_id"])
        assert_limited(w.start_job(token, **body), "You have made 2 files in the last hour", 3600)


def test_running_jobs_per_user_are_limited(tmp_path):
    w = World(tmp_path, running_jobs=1, job_stale_after=30)
    with w.client, w.sandbox:
        token = w.sign_in(REMIXER, CC_ND)
        body = dict(thing_id=CC_ND, file_id=ORGANIZER_STL, action="download", tool="scale",
                    options={"mode": "percent", "value": "150", "output": "stl"})
        w.sandbox.post("/sandbox/faults", json={"route": "GET /storage/{id}/{name}",
                                                "latency_ms": 1500})  # a slow download
        first = w.start_job(token, **body)
        assert first.status_code == 202
        r = w.start_job(token, **body)
        assert_limited(r, "You can have 1 file being made at once", 10)
        assert w.wait_job(token, first.json()["job_id"])["status"] == "done"
        w.sandbox.delete("/sandbox/faults")
        assert w.start_job(token, **body).status_code == 202  # one is done: room again


def test_two_instances_on_one_redis_share_the_count(tmp_path, redis_url):
    first = World(tmp_path / "a", store_url=redis_url, logins_per_minute=3)
    second = World(tmp_path / "b", store_url=redis_url, logins_per_minute=3)
    with first.client, second.client, first.sandbox, second.sandbox:
        first.start_login()
        first.start_login()
        second.start_login()
        for w in (first, second):
            r = w.client.post("/api/logins", json={"thing_id": OWNED_CC})
            assert_limited(r, "Too many sign-ins were started", 60)


def serve(tmp_path: Path, **settings: str):
    tmp_path.mkdir()
    port = free_port()
    env = cli_env(tmp_path, **GOOD, THINGAPP_LOGINS_PER_MINUTE="1", **settings)
    return start_server(["serve", "--port", str(port)], port, tmp_path / "serve.log", env)


def logins_from(url: str, forwarded_for: str) -> int:
    return httpx2.post(f"{url}/api/logins", json={"thing_id": 2001},
                      headers={"X-Forwarded-For": forwarded_for}).status_code


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(tmp_path):
    trusted = serve(tmp_path / "trusted", THINGAPP_TRUSTED_PROXIES="127.0.0.1")
    try:
        assert logins_from(trusted.url, "203.0.113.5") == 201
        assert logins_from(trusted.url, "203.0.113.5") == 429
        assert logins_from(trusted.url, "203.0.113.6") == 201  # another client behind the proxy
    finally:
        trusted.stop()
    untrusted = serve(tmp_path / "untrusted")
    try:
        assert logins_from(untrusted.url, "203.0.113.5") == 201
        assert logins_from(untrusted.url, "198.51.100.7") == 429  # a forged header changes nothing
    finally:
        untrusted.stop()


def test_kept_downloads_live_within_the_work_dir_quota_oldest_out_first(tmp_path):
    import struct

    import numpy as np
    records = np.zeros(12_000, dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    records["v"] = np.random.default_rng(1).random((12_000, 3, 3), dtype=np.float32) * 50
    stl = b"\0" * 80 + struct.pack("<I", 12_000) + records.tobytes()  # 600 KB
    w = World(tmp_path, work_dir_mb=1)
    with w.client, w.sandbox:
        first_file = w.put_file(1003, CC_ND, "first.stl", stl)
        second_file = w.put_file(1003, CC_ND, "second.stl", stl)
        token = w.sign_in(REMIXER, CC_ND)
        jobs = []
        for file_id in (first_file, second_file):
            r = w.start_job(token, thing_id=CC_ND, file_id=file_id, action="download",
                            tool="scale", options={"mode": "percent", "value": "150",
                                                   "output": "stl"})
            jobs.append(w.wait_job(token, r.json()["job_id"]))
        auth = {"Authorization": f"Bearer {token}"}
        gone = w.client.get(f"/api/jobs/{jobs[0]['id']}/file", headers=auth)
        assert (gone.status_code, gone.json()["error"]) == (
            404, "This file is no longer here. Make it again.")
        assert w.client.get(f"/api/jobs/{jobs[1]['id']}/file", headers=auth).status_code == 200


def test_the_sqlite_counters_reset_with_their_window_and_survive_a_sweep(tmp_path):
    import asyncio

    from thingapp.rate_limits import SQLiteLimitStorage

    async def body() -> list[int]:
        storage = SQLiteLimitStorage(f"thingapp+sqlite:///{tmp_path / 'limits.sqlite3'}")
        try:
            counts = [await storage.incr("a", 1), await storage.incr("a", 1)]
            await storage.incr("gone", 0)  # a window already over
            await asyncio.sleep(1.1)
            counts.append(await storage.incr("a", 1))  # a new window
            await storage.sweep()  # drops the finished windows only
            counts += [await storage.get("a"), await storage.get("gone")]
            return counts
        finally:
            await storage.close()
    assert asyncio.run(body()) == [1, 2, 1, 1, 0]
