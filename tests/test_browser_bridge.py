"""The app's bridge client (static/bridge.js) against the sandbox's Thing page, in Chromium."""

from __future__ import annotations

import time

import pytest
from live import app_frame

pytestmark = pytest.mark.e2e

OPEN_BRIDGE = """async ([cmd, params]) => {
  const {createBridge} = await import('/static/bridge.js');
  const origin = document.getElementById('launch').dataset.thingiverseOrigin;
  window.bridge = createBridge(origin, {timeoutMs: 10000});
  window.bridgeAnswer = undefined;
  window.bridge.call(cmd, params).then((result) => { window.bridgeAnswer = result; });
}"""


def answer(frame, timeout: float = 5.0) -> object:
    deadline = time.monotonic() + timeout
    while (value := frame.evaluate("window.bridgeAnswer")) is None:
        assert time.monotonic() < deadline, "the bridge got no answer"
        time.sleep(0.05)
    return value


def test_echo_round_trips_through_the_thing_page(demo, page):
    page.goto(f"{demo.sandbox_url}/thing:2001")
    app_frame(page).get_by_role("button", name="Connect Thingiverse").wait_for()
    frame = page.frames[1]
    frame.evaluate(OPEN_BRIDGE, ["echo", {"hello": "world", "n": 3}])
    result = answer(frame)
    assert result["hello"] == "world" and result["n"] == 3


def test_an_answer_from_a_foreign_origin_is_ignored(demo, page):
    page.goto(f"{demo.sandbox_url}/thing:2002")
    app_frame(page).get_by_role("button", name="Connect Thingiverse").wait_for()
    frame = page.frames[1]
    frame.evaluate(OPEN_BRIDGE, ["file_select", {"thing_id": 2002, "extension": "stl"}])
    dialog = page.locator("#bridge-file-select")
    dialog.wait_for(state="visible")
    # The app's own origin is not the Thing page's: a forged answer must not resolve the call.
    frame.evaluate("window.postMessage(JSON.stringify({callback: 'thingapp-1', "
                   "result: {forged: true}}), '*')")
    time.sleep(0.5)
    assert frame.evaluate("window.bridgeAnswer") is None
    dialog.get_by_role("button", name="Cancel").click()
    assert answer(frame) == {"status": "cancelled"}


OPEN_BRIDGE_TO = """async (origin) => {
  const {createBridge} = await import('/static/bridge.js');
  window.bridge = createBridge(origin, {timeoutMs: 10000});
  window.bridgeAnswer = undefined;
  window.bridge.call('echo', {hello: 'world'}).then((result) => { window.bridgeAnswer = result; },
                                                     () => {});
}"""


def test_the_bridge_talks_only_to_the_origin_it_was_given(demo, page):
    """A frame whose parent is not the Thingiverse it expects (here: a page on another origin)
    sends it nothing, and takes no answer from it, even from window.parent itself."""
    page.goto(f"{demo.sandbox_url}/thing:2001")
    app_frame(page).get_by_role("button", name="Connect Thingiverse").wait_for()
    page.evaluate("window.heard = []; addEventListener('message', (e) => {"
                  " if (e.source !== window) window.heard.push(e.data); })")
    frame = page.frames[1]
    frame.evaluate(OPEN_BRIDGE_TO, "https://www.thingiverse.com")  # not this parent's origin
    time.sleep(0.5)
    assert page.evaluate("window.heard") == []  # the command was not handed to this parent
    page.evaluate("document.querySelector('iframe').contentWindow.postMessage("
                  "JSON.stringify({callback: 'thingapp-1', result: {forged: true}}), '*')")
    time.sleep(0.5)
    assert frame.evaluate("window.bridgeAnswer") is None  # right window, wrong origin: ignored
