"""Load: N simulated users go through launch, sign-in and the action choice, again and again,
against `thingapp serve` and `thingapp sandbox` on loopback, for a fixed time.

    python -m benchmarks.load --users 100 --seconds 60

Prints requests, errors, p50/p99 latency, and the app's memory after warm-up and after the run.
Target (README): 100 users for 60 s, 0 errors, memory after the run within 10 % of after warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from urllib.parse import parse_qs, urlsplit

import httpx

from benchmarks.servers import rss_mb, start_pair

USERS = ((1001, 2001, "You own this Thing."), (1002, 2002, "The licence allows derivatives."),
         (1002, 2003, "The licence does not allow derivatives."))


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: list[str] = []

    async def timed(self, call, expect: int) -> httpx.Response:  # noqa: ANN001
        started = time.perf_counter()
        try:
            response = await call
        except httpx.HTTPError as exc:
            self.errors.append(f"{type(exc).__name__}")
            raise
        self.latencies.append(time.perf_counter() - started)
        if response.status_code != expect:
            self.errors.append(f"{response.request.method} {response.request.url.path} "
                               f"{response.status_code}")
            raise httpx.HTTPError("unexpected status")
        return response


async def one_visit(app: httpx.AsyncClient, sandbox: httpx.AsyncClient, tally: Tally,
                    user: tuple[int, int, str]) -> None:
    """What one person does: open the Thing's app, connect, agree, see the action."""
    user_id, thing_id, reason = user
    await tally.timed(app.get(f"/?thing_id={thing_id}"), 200)
    login = (await tally.timed(app.post("/api/logins", json={"thing_id": thing_id}), 201)).json()
    query = {k: v[0] for k, v in parse_qs(urlsplit(login["authorize_url"]).query).items()}
    agreed = await tally.timed(sandbox.post("/login/oauth/authorize", data={
        **query, "user_id": str(user_id), "decision": "agree"}), 303)
    fragment = {k: v[0] for k, v in parse_qs(urlsplit(agreed.headers["location"]).fragment).items()}
    await tally.timed(app.post("/api/callback", json=fragment), 200)
    claimed = await tally.timed(app.post(f"/api/logins/{login['login_id']}/claim",
                                         json={"claim": login["claim"]}), 200)
    token = claimed.json()["session_token"]
    context = await tally.timed(app.get(f"/api/context?thing_id={thing_id}",
                                        headers={"Authorization": f"Bearer {token}"}), 200)
    if context.json()["reason"] != reason:
        tally.errors.append(f"wrong reason for user {user_id} on {thing_id}")


async def drive(app_url: str, sandbox_url: str, users: int, seconds: float) -> Tally:
    tally = Tally()
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(base_url=app_url, limits=limits, timeout=30) as app, \
            httpx.AsyncClient(base_url=sandbox_url, limits=limits, timeout=30) as sandbox:
        deadline = time.monotonic() + seconds

        async def person(n: int) -> None:
            visit = 0
            while time.monotonic() < deadline:
                try:
                    await one_visit(app, sandbox, tally, USERS[(n + visit) % len(USERS)])
                except httpx.HTTPError:
                    pass  # counted in tally.errors
                visit += 1
        await asyncio.gather(*(person(n) for n in range(users)))
    return tally


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    args = parser.parse_args()
    # Each simulated sign-in gets a fresh token, so the sandbox's per-token limit never trips.
    pair = start_pair()
    try:
        asyncio.run(drive(pair.app_url, pair.sandbox_url, args.users, args.warmup))
        warm = rss_mb(pair.app.pid)
        started = time.monotonic()
        tally = asyncio.run(drive(pair.app_url, pair.sandbox_url, args.users, args.seconds))
        elapsed = time.monotonic() - started
        after = rss_mb(pair.app.pid)
    finally:
        pair.stop()
    ms = [x * 1000 for x in tally.latencies]
    print(f"users {args.users}, {elapsed:.0f} s (after {args.warmup:.0f} s of warm-up)")
    print(f"requests {len(ms)} ({len(ms) / elapsed:.0f}/s), errors {len(tally.errors)}"
          + (f" (first: {tally.errors[0]})" if tally.errors else ""))
    print(f"latency p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms")
    growth = (after - warm) / warm * 100
    print(f"app memory after warm-up {warm:.1f} MB, after the run {after:.1f} MB "
          f"({growth:+.1f} %, target within 10 %)")
    verdict = not tally.errors and abs(growth) <= 10
    print("PASS" if verdict else "FAIL")


if __name__ == "__main__":
    main()
