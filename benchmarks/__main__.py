"""The performance benchmark: `python -m benchmarks`.

Runs the app and the sandbox as processes on loopback and prints one line per figure, each set
against a baseline measured in the same run, with its target and PASS/FAIL. Not a test: CI times
nothing. Needs `wrk` for the throughput figure (Debian: apt-get install wrk) and Chromium for the
page figures (as the tests find it).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2

from benchmarks.servers import CLIENT_ID, Pair, cpu_seconds, free_port, rss_mb, start_pair

LATENCY_MS = 100
UPSTREAM_READS = ("POST /login/oauth/tokeninfo", "GET /users/me", "GET /things/{id}",
                  "GET /things/{id}/files")
results: list[bool] = []


def report(name: str, value: str, target: str, ok: bool) -> None:
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  {name}: {value}  (target: {target})", flush=True)


class Visitor:
    """One user's HTTP view of a running pair."""

    def __init__(self, pair: Pair) -> None:
        self.pair = pair
        self.app = httpx2.Client(base_url=pair.app_url, timeout=60)
        self.sandbox = httpx2.Client(base_url=pair.sandbox_url, timeout=60)

    def token(self, user_id: int) -> str:
        answer = self.sandbox.post("/sandbox/tokens",
                                   json={"user_id": user_id, "client_id": CLIENT_ID})
        return str(answer.json()["access_token"])

    def new_thing(self, license: str = "cc-sa") -> int:
        return int(self.sandbox.post("/things/",
                                     headers={"Authorization": f"Bearer {self.token(1003)}"},
                                     json={"name": "Bench", "license": license,
                                           "category": "Other"}).json()["id"])

    def agreed(self, user_id: int, thing_id: int) -> tuple[dict, dict]:
        """A started login and the fragment Thingiverse sends back after Agree."""
        login = self.app.post("/api/logins", json={"thing_id": thing_id}).json()
        query = {k: v[0] for k, v in parse_qs(urlsplit(login["authorize_url"]).query).items()}
        r = self.sandbox.post("/login/oauth/authorize",
                              data={**query, "user_id": str(user_id), "decision": "agree"})
        fragment = parse_qs(urlsplit(r.headers["location"]).fragment)
        return login, {k: v[0] for k, v in fragment.items()}

    def finish(self, login: dict, fragment: dict) -> str:
        assert self.app.post("/api/callback", json=fragment).status_code == 200
        return self.app.post(f"/api/logins/{login['login_id']}/claim",
                             json={"claim": login["claim"]}).json()["session_token"]

    def context(self, session: str, thing_id: int) -> dict:
        r = self.app.get(f"/api/context?thing_id={thing_id}",
                         headers={"Authorization": f"Bearer {session}"})
        assert r.status_code == 200, r.text
        return r.json()

    def upstream(self) -> list[str]:
        return [f"{e['method']} {e['path']}" for e in self.sandbox.get("/sandbox/requests").json()
                if not e["path"].startswith("/sandbox/")]

    def fault_all(self, latency_ms: int) -> None:
        self.sandbox.delete("/sandbox/faults")
        for route in UPSTREAM_READS:
            if latency_ms:
                self.sandbox.post("/sandbox/faults",
                                  json={"route": route, "latency_ms": latency_ms})

    def job(self, session: str, **body: object) -> dict:
        headers = {"Authorization": f"Bearer {session}"}
        job_id = self.app.post("/api/jobs", json={"tool": "scale", **body},
                               headers=headers).json()["job_id"]
        while (view := self.app.get(f"/api/jobs/{job_id}",
                                    headers=headers).json())["status"] == "running":
            time.sleep(0.05)
        return view


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


# 1. Upstream calls on the critical path -----------------------------------------------------

def sign_in_to_actions(v: Visitor, prefetch: bool) -> float:
    thing_id = v.new_thing()
    login, fragment = v.agreed(1002, thing_id)
    if prefetch:  # the launch page prefetched while the user read Thingiverse's page
        v.app.get(f"/?thing_id={thing_id}")
        time.sleep(0.5)
    started = time.perf_counter()
    v.context(v.finish(login, fragment), thing_id)
    return time.perf_counter() - started


def critical_path(plain: Pair, with_app_token: Pair) -> None:
    v, va = Visitor(plain), Visitor(with_app_token)
    for visitor in (v, va):
        visitor.fault_all(LATENCY_MS)
    token = v.token(1002)
    one_call = median_ms([_timed(lambda: v.sandbox.get("/things/2002", headers={
        "Authorization": f"Bearer {token}"})) for _ in range(5)])
    # One round trip: the Thing, its files and categories are read beside tokeninfo.
    for name, visitor, calls, prefetch in (("sign-in to actions", v, 1, False),
                                           ("sign-in to actions, app token", va, 1, True)):
        ms = median_ms([sign_in_to_actions(visitor, prefetch) for _ in range(5)])
        report(name, f"{ms:.0f} ms = {ms / one_call:.2f} x one upstream call ({one_call:.0f} ms)",
               f"<= {calls} calls + 30 ms = {calls * one_call + 30:.0f} ms",
               ms <= calls * one_call + 30)
    thing_id = v.new_thing()
    session = v.finish(*v.agreed(1002, thing_id))
    v.context(session, thing_id)
    before = len(v.upstream())
    ms = _timed(lambda: v.context(session, thing_id)) * 1000
    calls = len(v.upstream()) - before
    report("repeat launch within a minute", f"{calls} upstream calls, {ms:.1f} ms "
           f"= {ms / one_call:.2f} x one call", "0 calls (read from the cache)", calls == 0)
    before = len(v.upstream())
    v.app.get(f"/api/jobs?thing_id={thing_id}", headers={"Authorization": f"Bearer {session}"})
    calls = len(v.upstream()) - before
    report("authenticating with the app session", f"{calls} upstream calls", "0 calls", calls == 0)
    for visitor in (v, va):
        visitor.fault_all(0)


def _timed(call) -> float:  # noqa: ANN001
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


# 2. API call budget per action ------------------------------------------------------------

# The minimum each action needs, per upload flow. Owner post: the Thing read fresh (ownership
# decides the write), the upload (new: uploadFile + FinalizeFiles; legacy: the storage form +
# finalize), the Thing's files read back. Remix: the same, plus creating the remix and its
# picture (uploaded beside the file; legacy: a second form + finalize), and its images read back.
CALL_BUDGETS = {"new": {"owner post": 4, "remix": 7, "download": 0},
                "legacy": {"owner post": 4, "remix": 8, "download": 0}}


def call_budget(pair: Pair, flow: str) -> None:
    v = Visitor(pair)
    budgets = CALL_BUDGETS[flow]
    cases = (("owner post", 1001, 2001, 3001, "post", None),
             ("remix", 1002, 2002, 3002, "remix",
              {"name": "Bench remix", "license": "cc-sa", "category": "Other"}),
             ("download", 1002, 2003, 3005, "download", None))
    for name, user, thing, file_id, action, remix in cases:
        budget = budgets[name]
        session = v.finish(*v.agreed(user, thing))
        v.context(session, thing)  # what the page did before the click
        before = len(v.upstream())
        body = {"thing_id": thing, "file_id": file_id, "action": action,
                "options": {"mode": "percent", "value": "110", "output": "stl"}}
        if remix:
            body["remix"] = remix
        assert v.job(session, **body)["status"] == "done"
        calls = v.upstream()[before:]
        api = [c for c in calls if "/storage" not in c]
        shown = ", ".join(re.sub(r"/\d+", "/N", c) for c in calls)
        reads = [c for c in calls if c.startswith("GET ")]
        report(f"API calls for {name} ({flow} upload flow)",
               f"{len(api)} API + {len(calls) - len(api)} storage [{shown}]",
               f"<= {budget} API calls, no repeated reads, no users/me",
               len(api) <= budget and not any("users/me" in c for c in calls)
               and len(reads) == len(set(reads)))


# 3. Server overhead -----------------------------------------------------------------------

def _wrk(url: str, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(["wrk", "-t1", "-c16", f"-d{seconds}s", url],
                            stdout=subprocess.PIPE, text=True)


def _wrk_result(wrk: subprocess.Popen[str]) -> tuple[float, int]:
    """Requests per second and requests in all, from a finished wrk."""
    out = wrk.communicate()[0]
    if wrk.returncode:
        raise RuntimeError(f"wrk failed: {out}")
    return (float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            int(re.search(r"(\d+) requests in", out).group(1)))


def wrk_run(url: str, seconds: float, pid: int) -> tuple[float, float]:
    """Requests per second wrk reached on `url`, and the serving process's CPU microseconds
    per request over the run."""
    return wrk_side_by_side([(url, pid)], seconds)[0]


def wrk_side_by_side(servers: list[tuple[str, int]],
                     seconds: float) -> list[tuple[float, float]]:
    """`wrk_run` on each (url, pid) at the same time."""
    cpu = [cpu_seconds(pid) for _, pid in servers]
    runs = [_wrk(url, seconds) for url, _ in servers]
    results = [_wrk_result(wrk) for wrk in runs]
    return [(rps, (cpu_seconds(pid) - before) / count * 1e6)
            for (rps, count), (_, pid), before in zip(results, servers, cpu, strict=True)]


def launch_throughput(pair: Pair, rounds: int = 6) -> None:
    """The launch page against a bare Starlette + Jinja page of the same size, served by the
    same uvicorn. Both are loaded at the same time, each by its own wrk: they share the cores
    (the scheduler gives each busy process its share), so their throughputs compare their costs
    under the very same conditions. Taking turns instead, 2 s each, this VM's speed changed
    between the turns: one round's ratio ranged 0.7 to 1.24 and the median of 6 rounds 0.84 to
    1.10 over ~20 runs; side by side, 0.91 to 0.99 over 12 runs."""
    launch = f"{pair.app_url}/?thing_id=2001"
    size = len(httpx2.get(launch).content)
    if shutil.which("wrk") is None:
        report("launch page throughput", "wrk is not installed", ">= 0.9 x bare page", False)
        return
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-m", "benchmarks.bare", "--port", str(port),
                             "--size", str(size)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    bare_url = f"http://127.0.0.1:{port}/"
    try:
        _wait_http(bare_url)
        bare_size = len(httpx2.get(bare_url).content)
        servers = [(launch, pair.app.pid), (bare_url, bare.pid)]
        wrk_side_by_side(servers, 1)  # warm both
        app_runs, bare_runs = zip(*(wrk_side_by_side(servers, 2) for _ in range(rounds)),
                                  strict=True)
    finally:
        bare.terminate()
        bare.wait()
    ratio = statistics.median(a[0] / b[0] for a, b in zip(app_runs, bare_runs, strict=True))
    app_rps, app_cpu = (statistics.median(x) for x in zip(*app_runs, strict=True))
    bare_rps, bare_cpu = (statistics.median(x) for x in zip(*bare_runs, strict=True))
    report("launch page throughput",
           f"{app_rps:.0f} req/s = {ratio:.2f} x bare Starlette + Jinja ({bare_rps:.0f} req/s; "
           f"median of {rounds} 2 s rounds, both loaded at once, 16 connections each; {size} vs "
           f"{bare_size} bytes; server CPU per request {app_cpu:.0f} vs {bare_cpu:.0f} us)",
           ">= 0.90 x", ratio >= 0.9)


def session_endpoint(pair: Pair) -> None:
    """The app's own milliseconds in the callback (tokeninfo and the reads beside it)."""
    v = Visitor(pair)
    latency, own, tokeninfo, alone = [], [], [], []
    for _ in range(100):
        login, fragment = v.agreed(1001, 2001)
        started = time.perf_counter()
        r = v.app.post("/api/callback", json=fragment)
        latency.append((time.perf_counter() - started) * 1000)
        timings = dict(re.findall(r"(\w+);dur=([\d.]+)", r.headers["server-timing"]))
        own.append(float(timings["app"]))
        tokeninfo.append(float(timings["tokeninfo"]))
        token = v.token(1001)
        alone.append(_timed(functools.partial(v.sandbox.post, "/login/oauth/tokeninfo",
                                              data={"access_token": token})) * 1000)
    p50 = statistics.median
    report("the app's own time in the session endpoint",
           f"{p50(own):.2f} ms at p50 = {p50(own) / p50(alone):.2f} x one tokeninfo call "
           f"({p50(alone):.2f} ms alone; as the app waited: {p50(tokeninfo):.2f} ms; "
           f"latency {p50(latency):.2f} ms, by the Server-Timing header)", "< 3 ms",
           p50(own) < 3)


def _bare_page_cpu(size: int = 6400) -> float | None:
    """This machine's speed now: the CPU microseconds a request of the bare Starlette + Jinja
    page costs its server under wrk (None without wrk)."""
    if shutil.which("wrk") is None:
        return None
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-m", "benchmarks.bare", "--port", str(port),
                             "--size", str(size)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_http(url)
        wrk_run(url, 1, bare.pid)  # warm
        return wrk_run(url, 2, bare.pid)[1]
    finally:
        bare.terminate()
        bare.wait()


def sign_in_cost(pair: Pair, count: int = 500) -> None:
    """The app's CPU time per completed sign-in (start, callback with tokeninfo and the reads
    beside it, claim, context), read from /proc for the app's process, with the sandbox
    answering at once. Each sign-in is for a Thing the app has not read yet. Beside it, the
    bare page's CPU per request just before and after: this VM's speed drifts by a third
    between spells of minutes, and the target is in milliseconds."""
    bare_before = _bare_page_cpu()
    v = Visitor(pair)
    v.fault_all(0)
    things = [v.new_thing() for _ in range(count + 1)]
    seen = len(v.upstream())
    v.context(v.finish(*v.agreed(1002, things[0])), things[0])  # warm
    upstream = [re.sub(r"/\d+", "/N", c) for c in v.upstream()[seen:]
                if c != "POST /login/oauth/authorize"]  # the browser's, not the app's
    things = things[1:]
    app_cpu, sandbox_cpu = cpu_seconds(pair.app.pid), cpu_seconds(pair.sandbox.pid)
    started = time.perf_counter()
    for thing_id in things:
        v.context(v.finish(*v.agreed(1002, thing_id)), thing_id)
    elapsed = time.perf_counter() - started
    app_ms = (cpu_seconds(pair.app.pid) - app_cpu) / count * 1000
    sandbox_ms = (cpu_seconds(pair.sandbox.pid) - sandbox_cpu) / count * 1000
    bare_after = _bare_page_cpu()
    speed = "" if bare_before is None or bare_after is None else (
        f"; this machine's speed meanwhile: the bare page's CPU {bare_before:.0f} us a request "
        f"before, {bare_after:.0f} us after, so a sign-in = "
        f"{app_ms * 2000 / (bare_before + bare_after):.0f} bare-page requests")
    report("the app's CPU per sign-in",
           f"{app_ms:.2f} ms over {count} sign-ins (each 4 requests to the app and "
           f"{len(upstream)} calls upstream: {', '.join(upstream)}; the sandbox "
           f"used {sandbox_ms:.2f} ms; {count / elapsed:.0f} sign-ins/s one after "
           f"another{speed})", "<= 5 ms", app_ms <= 5)


def _wait_http(url: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx2.get(url)
            return
        except httpx2.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# 4. Page weight ---------------------------------------------------------------------------

def page_weight(pair: Pair) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from live import launch_chromium  # the tests' way of finding a Chromium
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page()
        loaded: set[str] = set()

        def seen(request) -> None:  # noqa: ANN001
            if request.frame.url.startswith(pair.app_url) or request.url.startswith(pair.app_url):
                loaded.add(request.url)
        page.on("request", seen)
        timings = []
        for _ in range(5):
            page.goto(f"{pair.sandbox_url}/thing:2001")
            frame = page.frame_locator("iframe[title='Thing app']")
            frame.get_by_role("button", name="Connect Thingiverse").wait_for()
            app = page.frames[1]
            timings.append(app.evaluate("""() => {
                const nav = performance.getEntriesByType('navigation')[0];
                const ready = performance.getEntriesByName('thingapp-interactive')[0];
                return [ready.startTime, nav.responseEnd]; }"""))
        browser.close()
    origins = {"{0.scheme}://{0.netloc}".format(urlsplit(url)) for url in loaded}
    sizes = {urlsplit(url).path: len(httpx2.get(url).content) for url in loaded}
    total = sum(sizes.values())
    listed = ", ".join(f"{path} {size / 1024:.1f}" for path, size in sorted(sizes.items()))
    report("launch page weight", f"{total / 1024:.1f} KB uncompressed [{listed}]", "< 40 KB",
           total < 40 * 1024)
    report("origins the launch page talks to", ", ".join(sorted(origins)),
           "only the app's own", origins == {pair.app_url})
    ready = statistics.median(t[0] for t in timings)
    html = statistics.median(t[1] for t in timings)
    report("interactive in the iframe", f"{ready:.0f} ms after navigation start ({html:.0f} ms "
           f"of it until the HTML arrived)", "< 300 ms", ready < 300)


# 5. Large files ---------------------------------------------------------------------------

def large_files() -> None:
    import trimesh

    from thingapp.tools import SourceFile
    from thingapp.tools.scale import ScaleTool
    work = Path(tempfile.mkdtemp(prefix="thingapp-big-"))
    source = work / "sphere.stl"
    sphere = trimesh.creation.icosphere(subdivisions=8, radius=50)
    sphere.export(str(source))
    tool, options = ScaleTool(), ScaleTool().parse_options({"mode": "percent", "value": "150",
                                                             "output": "stl"})

    def bare() -> None:
        mesh = trimesh.load(str(source))
        mesh.apply_scale(1.5)
        mesh.export(str(work / "bare.stl"))

    def ours() -> None:
        tool.run(SourceFile(source, "sphere.stl", {}), options, work)
    bare_s, ours_s = [], []
    for _ in range(3):
        bare_s.append(_timed(bare))
        ours_s.append(_timed(ours))
    b, o = statistics.median(bare_s), statistics.median(ours_s)
    report(f"tool on a {len(sphere.faces):,}-triangle STL", f"{o:.2f} s = {o / b:.2f} x bare "
           f"trimesh load, scale, export ({b:.2f} s)", "<= 1.0 x", o <= b)

    pair = start_pair(app_command=(sys.executable, "-m", "benchmarks.big_app",
                                   "--megabytes", "200"))
    try:
        v = Visitor(pair)
        session = v.finish(*v.agreed(1001, 2001))
        v.context(session, 2001)
        idle_peak = rss_mb(pair.app.pid, "VmHWM")
        view = v.job(session, thing_id=2001, file_id=3001, action="post", options={})
        after_peak = rss_mb(pair.app.pid, "VmHWM")
    finally:
        pair.stop()
    rise = after_peak - idle_peak
    report("posting a 200 MB file", f"peak memory {idle_peak:.0f} -> {after_peak:.0f} MB "
           f"(+{rise:.0f} MB over idle; job {view['status']})", "< +50 MB",
           rise < 50 and view["status"] == "done")


def _upload(v: Visitor, thing_id: int, name: str, data: bytes) -> int:
    """Put a file on a Thing through the sandbox's own three-step upload; its id."""
    auth = {"Authorization": f"Bearer {v.token(1003)}"}
    ticket = v.sandbox.post(f"/things/{thing_id}/files", json={"filename": name},
                            headers=auth).json()
    v.sandbox.post(ticket["action"], data=ticket["fields"], files={"file": (name, data)})
    done = v.sandbox.post(ticket["fields"]["success_action_redirect"], headers=auth)
    return int(done.json()["id"])


# 6. The model preview ------------------------------------------------------------------------

VIEWER = ["preview.js", "vendor/three/three.module.js", "vendor/three/three.core.js",
          "vendor/three/OrbitControls.js", "vendor/three/GLTFLoader.js",
          "vendor/three/BufferGeometryUtils.js", "vendor/three/SkeletonUtils.js"]


def preview_figures(pair: Pair) -> None:
    """The viewer's bytes, sign-in to the first preview frame, and a big model's payload."""
    import gzip

    import trimesh
    static = Path(__file__).resolve().parent.parent / "static"
    raw = sum((static / name).stat().st_size for name in VIEWER)
    packed = sum(len(gzip.compress((static / name).read_bytes(), 6)) for name in VIEWER)
    report("the 3D viewer's bytes (after sign-in only)",
           f"{raw / 1024:.0f} KB, {packed / 1024:.0f} KB gzipped ({len(VIEWER)} files)",
           "loaded after sign-in; reported", True)

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from live import launch_chromium  # the tests' way of finding a Chromium
    from playwright.sync_api import sync_playwright
    times = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for _ in range(3):
            context = browser.new_context()
            page = context.new_page()
            page.goto(f"{pair.sandbox_url}/thing:2001")
            frame = page.frame_locator("iframe[title='Thing app']")
            with page.expect_popup() as popup_info:
                frame.get_by_role("button", name="Connect Thingiverse").click()
            popup = popup_info.value
            popup.get_by_label("mara_makes").check()
            popup.get_by_role("button", name="Agree").click()
            app = page.frames[1]
            deadline = time.monotonic() + 30  # polled: wait_for_function needs eval, which
            while not app.evaluate(  # the page's CSP forbids
                    "performance.getEntriesByName('thingapp-preview-drawn').length"):
                assert time.monotonic() < deadline, "no preview was drawn"
                time.sleep(0.02)
            times.append(app.evaluate("""() => performance.getEntriesByName(
              'thingapp-preview-drawn')[0].startTime - performance.getEntriesByName(
              'thingapp-signed-in')[0].startTime"""))
            context.close()
        browser.close()
    first, kept = times[0], statistics.median(times[1:])
    report("sign-in to the first preview frame (calibration cube)",
           f"{first:.0f} ms the first time (measured and made then), {kept:.0f} ms once kept",
           "< 1500 ms", max(first, kept) < 1500)

    v = Visitor(pair)
    thing_id = v.new_thing("cc-nd")
    sphere = trimesh.creation.icosphere(subdivisions=8, radius=40)  # 1,310,720 triangles
    file_id = _upload(v, thing_id, "sphere.stl", sphere.export(file_type="stl"))
    session = v.finish(*v.agreed(1002, thing_id))
    auth = {"Authorization": f"Bearer {session}"}
    base = f"/api/things/{thing_id}/files/{file_id}/preview"
    started = time.perf_counter()
    info = v.app.get(base, headers=auth, timeout=120).json()
    made = time.perf_counter() - started
    size = len(v.app.get(f"{base}.glb", headers=auth).content)
    report("preview payload for a 1.3M-triangle model",
           f"{size / 1e6:.1f} MB ({info['triangles']:,} -> {info['preview_triangles']:,} "
           f"triangles; measured and made in {made:.1f} s)", "<= 5 MB", size <= 5e6)


def _latencies(v: Visitor, session: str, thing_id: int, count: int,
               until: Callable[[], bool] = lambda: False) -> list[float]:
    """Milliseconds of `count` requests alternating the cached context and the launch page
    (fewer when `until`, asked every 20 requests, says to stop)."""
    auth = {"Authorization": f"Bearer {session}"}
    samples = []
    for n in range(count):
        if n % 20 == 0 and until():
            break
        started = time.perf_counter()
        if n % 2:
            v.app.get(f"/api/context?thing_id={thing_id}", headers=auth).raise_for_status()
        else:
            v.app.get(f"/?thing_id={thing_id}").raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def busy_web_process(pair: Pair) -> None:
    """Other requests while a 1.3M-triangle job runs (in a worker process), and the web
    process's memory through a zip-bomb 3MF."""
    import io
    import struct
    import zipfile

    import numpy as np
    v = Visitor(pair)
    thing_id = v.new_thing("cc-nd")
    triangles = 1_310_720
    records = np.zeros(triangles, dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    records["v"] = np.random.default_rng(1).random((triangles, 3, 3), dtype=np.float32) * 80
    big = _upload(v, thing_id, "big.stl", b"\0" * 80 + struct.pack("<I", triangles)
                  + records.tobytes())
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("3D/3dmodel.model", b" " * (500 * 1024 * 1024))
    bomb_id = _upload(v, thing_id, "bomb.3mf", bomb.getvalue())
    session = v.finish(*v.agreed(1002, thing_id))
    v.context(session, thing_id)
    _latencies(v, session, thing_id, 50)  # warm up

    def during_jobs(count: int) -> tuple[list[float], list[str]]:
        """Latencies while `count` jobs on the big model are being made at once (each in a
        worker: from when all reach the "make" step, after the download, until one is done:
        ~30 s here, ~35,000 requests), and how the jobs ended."""
        auth = {"Authorization": f"Bearer {session}"}
        jobs = [v.app.post("/api/jobs", headers=auth, json={
            "tool": "scale", "thing_id": thing_id, "file_id": big, "action": "download",
            "options": {"mode": "percent", "value": "150", "output": "3mf"}}).json()["job_id"]
            for _ in range(count)]

        def views() -> list[dict]:
            return [v.app.get(f"/api/jobs/{job}", headers=auth).json() for job in jobs]
        while any(view["step"] in ("start", "download", "wait") and view["status"] == "running"
                  for view in views()):
            time.sleep(0.05)
        samples = _latencies(v, session, thing_id, 1_000_000,  # (a bound, never met)
                             until=lambda: any(view["status"] != "running" for view in views()))
        while any(view["status"] == "running" for view in views()):
            time.sleep(0.1)
        return samples, [view["status"] for view in views()]

    # Each busy window is set against the idle windows just before and after it: this VM's speed
    # drifts by a fifth within minutes, which one idle measure at the start would count as the
    # jobs' doing.
    idle_before = _latencies(v, session, thing_id, 1000)
    for count, label, target in ((1, "a 1.3M-triangle job runs", "<= 1.5 x"),
                                 (2, "two 1.3M-triangle jobs run at once", "reported")):
        busy, ended = during_jobs(count)
        idle_after = _latencies(v, session, thing_id, 1000)
        idle, idle_before = idle_before + idle_after, idle_after
        idle99 = statistics.quantiles(idle, n=100)[98]
        busy99 = statistics.quantiles(busy, n=100)[98]
        # The first ~2 s, while the worker reads the model, are the worst: shown beside.
        first99 = statistics.quantiles(busy[:1500], n=100)[98]
        report(f"other requests while {label}",
               f"p99 {busy99:.1f} ms busy vs {idle99:.1f} ms idle = {busy99 / idle99:.2f} x "
               f"(max {max(busy):.1f} ms; {len(busy)} requests meanwhile, the first 1,500 of "
               f"them {first99 / idle99:.2f} x; {len(idle)} idle before and after; "
               f"{os.cpu_count()} cores; jobs {', '.join(ended)})", target,
               ended == ["done"] * count and (count > 1 or busy99 <= 1.5 * idle99))
    before = rss_mb(pair.app.pid, "VmHWM")
    view = v.job(session, thing_id=thing_id, file_id=bomb_id, action="download",
                 options={"mode": "percent", "value": "150", "output": "stl"})
    rise = rss_mb(pair.app.pid, "VmHWM") - before
    report("the web process through a 500 MB zip-bomb 3MF",
           f"peak +{rise:.1f} MB ({before:.0f} MB before); job {view['status']}: "
           f"{view['message']}", "< +50 MB, refused", rise < 50 and view["status"] == "failed")


# 7. Load -------------------------------------------------------------------------------------

def load_run() -> None:
    """300 users for 60 s through launch, sign-in and the action choice (benchmarks/load.py)."""
    from benchmarks.load import measure
    run = measure(users=300, seconds=60, warmup=10, processes=4)
    ms = run.latencies_ms
    report("load: 300 users for 60 s", "; ".join(run.lines()),
           "0 errors, memory within 10 %, each generator process below 75 % of a core",
           not run.errors and abs(run.growth) <= 10 and run.generators_idle_enough and bool(ms))


PAIRS: dict[str, Callable[[], Pair]] = {
    "plain": start_pair,
    "legacy": functools.partial(start_pair, app_env={"THINGAPP_UPLOAD_FLOW": "legacy"}),
    "app token": functools.partial(start_pair, app_token_user=1003),
}
# Each section and the pairs it runs against, in the order of a full run.
SECTIONS: dict[str, tuple[Callable[..., None], tuple[str, ...]]] = {
    "critical": (critical_path, ("plain", "app token")),
    "calls": (lambda plain, legacy: (call_budget(plain, "new"), call_budget(legacy, "legacy")),
              ("plain", "legacy")),
    "launch": (launch_throughput, ("plain",)),
    "session": (session_endpoint, ("plain",)),
    "signin-cost": (sign_in_cost, ("plain",)),
    "weight": (page_weight, ("plain",)),
    "busy": (busy_web_process, ("plain",)),
    "preview": (preview_figures, ("plain",)),
    "large": (large_files, ()),
    "load": (load_run, ()),
}


def main() -> None:
    """`python -m benchmarks` runs every section; `python -m benchmarks launch busy` those."""
    wanted = sys.argv[1:] or list(SECTIONS)
    unknown = [name for name in wanted if name not in SECTIONS]
    if unknown:
        raise SystemExit(f"unknown section {', '.join(unknown)}; sections: "
                         f"{', '.join(SECTIONS)}")
    pairs: dict[str, Pair] = {}
    try:
        for name in wanted:
            section, needs = SECTIONS[name]
            for kind in needs:
                if kind not in pairs:
                    pairs[kind] = PAIRS[kind]()
            section(*(pairs[kind] for kind in needs))
    finally:
        for pair in pairs.values():
            pair.stop()
    print(f"{sum(results)} passed, {len(results) - sum(results)} failed")


if __name__ == "__main__":
    main()
