"""Fixtures shared by the tests; the helpers they use live in world.py and live.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from live import Demo, launch_chromium, start_demo
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


@pytest.fixture(scope="module")  # sync Playwright runs an event loop: end it with the module
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1000, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()
