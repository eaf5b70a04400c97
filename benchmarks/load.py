"""Load: N simulated users go through launch, sign-in and the action choice, again and again,
against `thingapp serve` and `thingapp sandbox` on loopback, for a fixed time.

    python -m benchmarks.load --users 300 --seconds 60

The users are shared among several generator processes, so that the figures measure the app and
not the generator's own queueing: each process's CPU is read and printed beside the app's and
the sandbox's, and a generator process busier than GENERATOR_BUSY of a core fails the run.
Prints requests/s, errors, p50/p99 latency, and the app's memory after warm-up and after the run.
Target: 0 errors, memory after the run within 10 % of after warm-up, no busy generator.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx2

from benchmarks.servers import cpu_seconds, rss_mb, start_pair

USERS = ((1001, 2001, "You own this Thing."), (1002, 2002, "The licence allows derivatives."),
         (1002, 2003, "The licence does not allow derivatives."))
GENERATOR_BUSY = 0.75  # of one core: past it, a generator's own queueing shows in the latencies


@dataclass
class Tally:
    """What one generator process saw: each request's seconds, the errors, its own CPU."""
    latencies: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)  # the same, by step
    errors: list[str] = field(default_factory=list)
    cpu: float = 0.0

    async def timed(self, step: str, call, expect: int) -> httpx2.Response:  # noqa: ANN001
        started = time.perf_counter()
        try:
            response = await call
        except httpx2.HTTPError as exc:
            self.errors.append(f"{step}: {type(exc).__name__}")
            raise
        seconds = time.perf_counter() - started
        self.latencies.append(seconds)
        self.steps.setdefault(step, []).append(seconds)
        if response.status_code != expect:
            self.errors.append(f"{response.request.method} {response.request.url.path} "
                               f"{response.status_code}")
            raise httpx2.HTTPError("unexpected status")
        return response


async def one_visit(app: httpx2.AsyncClient, sandbox: httpx2.AsyncClient, tally: Tally,
                    user: tuple[int, int, str]) -> None:
    """What one person does: open the Thing's app, connect, agree, see the action."""
    user_id, thing_id, reason = user
    await tally.timed("launch page", app.get(f"/?thing_id={thing_id}"), 200)
    login = (await tally.timed("start", app.post("/api/logins", json={"thing_id": thing_id}),
                               201)).json()
    query = {k: v[0] for k, v in parse_qs(urlsplit(login["authorize_url"]).query).items()}
    agreed = await tally.timed("authorize (sandbox)", sandbox.post("/login/oauth/authorize", data={
        **query, "user_id": str(user_id), "decision": "agree"}), 303)
    fragment = {k: v[0] for k, v in parse_qs(urlsplit(agreed.headers["location"]).fragment).items()}
    await tally.timed("callback", app.post("/api/callback", json=fragment), 200)
    claimed = await tally.timed("claim", app.post(f"/api/logins/{login['login_id']}/claim",
                                         json={"claim": login["claim"]}), 200)
    token = claimed.json()["session_token"]
    context = await tally.timed("context", app.get(f"/api/context?thing_id={thing_id}",
                                        headers={"Authorization": f"Bearer {token}"}), 200)
    if context.json()["reason"] != reason:
        tally.errors.append(f"wrong reason for user {user_id} on {thing_id}")


async def drive(app_url: str, sandbox_url: str, users: range, seconds: float) -> Tally:
    tally = Tally()
    # A connection idle for 4 s is not reused: uvicorn closes idle ones after 5 s, and a request
    # sent on a connection as it closes fails (a ReadError that is the generator's, not the app's).
    limits = httpx2.Limits(max_connections=len(users), max_keepalive_connections=len(users),
                          keepalive_expiry=4)
    async with httpx2.AsyncClient(base_url=app_url, limits=limits, timeout=30) as app, \
            httpx2.AsyncClient(base_url=sandbox_url, limits=limits, timeout=30) as sandbox:
        deadline = time.monotonic() + seconds

        async def person(n: int) -> None:
            visit = 0
            while time.monotonic() < deadline:
                try:
                    await one_visit(app, sandbox, tally, USERS[(n + visit) % len(USERS)])
                except httpx2.HTTPError:
                    pass  # counted in tally.errors
                visit += 1
        await asyncio.gather(*(person(n) for n in users))
    return tally


def generator(app_url: str, sandbox_url: str, users: range, seconds: float) -> Tally:
    """One generator process's share of the users (run in a child process)."""
    started = time.process_time()
    tally = asyncio.run(drive(app_url, sandbox_url, users, seconds))
    tally.cpu = time.process_time() - started
    return tally


def run(app_url: str, sandbox_url: str, users: int, seconds: float,
        processes: int) -> list[Tally]:
    """All users for `seconds`, split among `processes` generator processes."""
    shares = [range(n, users, processes) for n in range(processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return pool.starmap(generator, [(app_url, sandbox_url, share, seconds)
                                        for share in shares])


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    ticks = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else 0.0


@dataclass
class LoadRun:
    """One measured run's figures."""
    users: int
    processes: int
    seconds: float
    latencies_ms: list[float]
    steps_ms: dict[str, list[float]]
    errors: list[str]
    cpu: dict[str, float]  # share of one core: app, sandbox
    generators: list[float]  # share of one core, each generator process
    machine: float  # share of all cores
    warm_mb: float
    after_mb: float

    @property
    def growth(self) -> float:
        return (self.after_mb - self.warm_mb) / self.warm_mb * 100

    @property
    def generators_idle_enough(self) -> bool:
        return max(self.generators) < GENERATOR_BUSY

    def lines(self) -> list[str]:
        ms = self.latencies_ms
        by_step = ", ".join(f"{step} {percentile(v, 99):.0f}" for step, v in self.steps_ms.items())
        return [
            f"{self.users} users in {self.processes} generator processes for "
            f"{self.seconds:.0f} s: {len(ms)} requests ({len(ms) / self.seconds:.0f}/s), "
            f"{len(self.errors)} errors" + (f" (first: {self.errors[0]})" if self.errors else ""),
            f"latency p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms (p99 by "
            f"step, ms: {by_step})",
            f"CPU, share of one core: app {self.cpu['app']:.0%}, sandbox "
            f"{self.cpu['sandbox']:.0%}, generators "
            f"{', '.join(f'{g:.0%}' for g in self.generators)} (each below "
            f"{GENERATOR_BUSY:.0%}: {'yes' if self.generators_idle_enough else 'NO'}); the "
            f"machine {self.machine:.0%} busy ({os.cpu_count()} cores)",
            f"app memory after warm-up {self.warm_mb:.1f} MB, after the run "
            f"{self.after_mb:.1f} MB ({self.growth:+.1f} %)",
        ]


def measure(users: int = 300, seconds: float = 60, warmup: float = 10,
            processes: int = 4) -> LoadRun:
    """Start a pair, warm it up, then run the users for `seconds` and read what it cost."""
    # Each simulated sign-in gets a fresh token, so the sandbox's per-token limit never trips.
    pair = start_pair()
    try:
        run(pair.app_url, pair.sandbox_url, users, warmup, processes)
        warm = rss_mb(pair.app.pid)
        before = cpu_seconds(pair.app.pid), cpu_seconds(pair.sandbox.pid), *machine_busy()
        started = time.monotonic()
        tallies = run(pair.app_url, pair.sandbox_url, users, seconds, processes)
        elapsed = time.monotonic() - started
        app, sandbox, busy, total = (now - then for now, then in zip(
            (cpu_seconds(pair.app.pid), cpu_seconds(pair.sandbox.pid), *machine_busy()),
            before, strict=True))
        after = rss_mb(pair.app.pid)
    finally:
        pair.stop()
    steps: dict[str, list[float]] = {}
    for tally in tallies:
        for step, seconds in tally.steps.items():
            steps.setdefault(step, []).extend(x * 1000 for x in seconds)
    return LoadRun(users, processes, elapsed, [x * 1000 for t in tallies for x in t.latencies],
                   steps,
                   [e for t in tallies for e in t.errors],
                   {"app": app / elapsed, "sandbox": sandbox / elapsed},
                   [t.cpu / elapsed for t in tallies], busy / total, warm, after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--processes", type=int, default=4, help="generator processes")
    args = parser.parse_args()
    result = measure(args.users, args.seconds, args.warmup, args.processes)
    print(*result.lines(), sep="\n")
    ok = not result.errors and abs(result.growth) <= 10 and result.generators_idle_enough
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
