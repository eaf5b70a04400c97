"""Fixtures shared by the tests; the helpers they use live in world.py and live.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from live import Demo, LeakWatch, launch_chromium, start_demo, start_redis, start_x_display
from playwright.sync_api import Browser, Page, sync_playwright
from sandbox_helpers import make_client
from starlette.testclient import TestClient
from world import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    with w.client, w.sandbox:
        yield w


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`thingapp demo` running for the browser tests (sandbox on localhost, app on 127.0.0.1)."""
    running = start_demo(tmp_path_factory.mktemp("demo"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def https_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`thingapp demo --https`: the app over https with a certificate made for this run."""
    running = start_demo(tmp_path_factory.mktemp("https-demo"), "--https")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def x_display() -> Iterator[str]:
    """An X display for WebKit's MiniBrowser: the one given, or an Xvfb of our own."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    process, display = start_x_display()
    os.environ["DISPLAY"] = display
    try:
        yield display
    finally:
        del os.environ["DISPLAY"]
        process.terminate()
        process.wait()


@pytest.fixture(scope="module")  # sync Playwright runs an event loop: end it with the module
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, leak_watch: LeakWatch) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1000, "height": 1000}, accept_downloads=True)
    leak_watch.observe(context)
    page = context.new_page()
    yield page
    leak_watch.dump_storage(context)
    context.close()


@pytest.fixture(scope="session")
def leak_watch(demo: Demo) -> Iterator[LeakWatch]:
    """Across every browser test: no token or claim the browser saw may appear in a log line,
    a URL, a Referer header, storage, or HTML the app served. Checked when the run ends."""
    watch = LeakWatch()
    yield watch
    leaks = watch.leaks(extra_text={"the demo's log": demo.log()})
    signed_in = any(url.endswith("/api/callback") for url in watch.urls)
    assert watch.secrets or not signed_in, "sign-ins happened but the watch saw no token"
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server for the whole run; its URL."""
    process, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The Redis server, emptied for this test."""
    import redis
    with redis.Redis.from_url(redis_server) as client:
        client.flushdb()
    return redis_server


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return str(request.getfixturevalue("redis_url"))


@pytest.fixture
def sandbox() -> Iterator[TestClient]:
    """The sandbox alone, in process, on its seeded world."""
    with make_client() as client:
        yield client
