"""The parent-frame bridge on the sandbox's Thing page: its markup and routes over HTTP, and in a
real Chromium, an app page in the iframe sending commands and a person answering the dialogs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from live import free_port, launch_chromium
from playwright.sync_api import Browser, Frame, Page, expect, sync_playwright
from sandbox_helpers import APP_URL, running
from sandbox_helpers import Page as Html
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from thingapp.sandbox import create_sandbox_app, default_config

# --- over HTTP ----------------------------------------------------------------------------------


def test_thing_page_names_the_app_origin_and_loads_the_bridge(sandbox: TestClient) -> None:
    html = Html(sandbox.get("/thing:2002?launch_as=1001").text)
    frame = html.one("iframe")
    assert frame["data-app-origin"] == APP_URL
    assert frame["data-thing-id"] == "2002"
    scripts = [s for s in html.all("script") if s.get("src")]
    assert scripts == [{"type": "module", "src": "/static/bridge-host.js"}]
    dialogs = {d["id"]: d for d in html.all("dialog")}
    assert set(dialogs) == {"bridge-file-select", "bridge-address", "bridge-payment"}
    assert all(d["aria-labelledby"] for d in dialogs.values())
    assert json.loads(dialogs["bridge-address"]["data-address"] or "")["id"] == 6001
    assert html.texts["button"] == ["Select", "Cancel", "Use this address", "Cancel", "Pay",
                                    "Cancel"]


def test_the_app_origin_is_the_origin_of_app_url_even_with_a_path() -> None:
    config = default_config("http://localhost:8800", "https://App.example:8443/embedded")
    with TestClient(create_sandbox_app(config), base_url="http://localhost:8800") as client:
        frame = Html(client.get("/thing:2001").text).one("iframe")
    assert frame["data-app-origin"] == "https://app.example:8443"


def test_the_bridge_script_is_served_and_checks_origin_and_source(sandbox: TestClient) -> None:
    script = sandbox.get("/static/bridge-host.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "event.origin !== appOrigin" in script.text
    assert "event.source !== frame.contentWindow" in script.text


def test_the_file_list_route_serves_a_things_files(sandbox: TestClient) -> None:
    assert sandbox.get("/sandbox/things/2002/files").json() == [
        {"id": 3002, "name": "cable_clip.stl"}, {"id": 3003, "name": "cable_clip.obj"},
        {"id": 3004, "name": "assembly_notes.pdf"}]
    missing = sandbox.get("/sandbox/things/9999/files")
    assert missing.status_code == 404 and missing.json()["error"].endswith(".")


def test_orders_are_recorded_and_listed(sandbox: TestClient) -> None:
    body = {"thing_id": 2002, "amount": 14.5, "charges": {"Shipping": "5.00"},
            "address_id": 6001, "app_transaction_code": "tx-1"}
    made = sandbox.post("/sandbox/orders", json=body)
    assert made.status_code == 201 and made.json() == {"order_id": 7001}
    assert sandbox.post("/sandbox/orders", json={**body, "amount": "3"}).json() == {
        "order_id": 7002}
    orders = sandbox.get("/sandbox/orders").json()
    assert [(o["id"], o["amount"], o["status"]) for o in orders] == [
        (7001, "14.50", "paid"), (7002, "3.00", "paid")]
    assert orders[0]["app_transaction_code"] == "tx-1"


@pytest.mark.parametrize("body", [
    {"thing_id": 2002, "amount": 0}, {"thing_id": 2002, "amount": "-1"},
    {"thing_id": 2002, "amount": "1.234"}, {"thing_id": 2002, "amount": True},
    {"thing_id": 9999, "amount": 1}, {"thing_id": [2002], "amount": 1}, [1],
])
def test_bad_orders_are_refused_with_a_sentence(sandbox: TestClient, body: Any) -> None:
    response = sandbox.post("/sandbox/orders", json=body)
    assert response.status_code == 400 and response.json()["error"].endswith(".")
    assert sandbox.get("/sandbox/orders").json() == []


# --- in a browser -------------------------------------------------------------------------------

# The embedded app's side of the old SDK: post a command to the parent, await its answer.
APP_PAGE = """<!doctype html><title>Bridge test app</title><script>
window.bridge = (cmd, params) => new Promise((resolve) => {
  const callback = "cb-" + Math.random().toString(36).slice(2);
  addEventListener("message", function answer(event) {
    const data = JSON.parse(event.data);
    if (data.callback !== callback) return;
    removeEventListener("message", answer);
    resolve({origin: event.origin, ...data});
  });
  parent.postMessage(JSON.stringify({cmd, params: {...params, callback,
                                                   access_token: "not-a-secret"}}), "*");
});
window.send = (cmd, params) => { window.answer = undefined;
  window.bridge(cmd, params).then((reply) => { window.answer = reply; }); };
</script><p>app</p>"""


async def app_page(request: Request) -> HTMLResponse:
    return HTMLResponse(APP_PAGE)


class Sites:
    """The sandbox on localhost and a stand-in app on 127.0.0.1, both on uvicorn."""

    def __init__(self, sandbox_url: str, app_url: str) -> None:
        self.sandbox_url, self.app_url = sandbox_url, app_url


@pytest.fixture(scope="module")
def sites() -> Iterator[Sites]:
    sandbox_port, app_port = free_port(), free_port()
    sandbox_url, app_url = f"http://localhost:{sandbox_port}", f"http://127.0.0.1:{app_port}"
    sandbox_app = create_sandbox_app(default_config(sandbox_url, app_url))
    app = Starlette(routes=[Route("/", app_page)])
    with running(sandbox_app, sandbox_port), running(app, app_port):
        yield Sites(sandbox_url, app_url)


@pytest.fixture(scope="module")  # sync Playwright runs an event loop: end it with the module
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Browser) -> Iterator[Page]:
    """A fresh page (this module's own: no app, so nothing for the demo's leak watch to see)."""
    context = chromium.new_context(viewport={"width": 1000, "height": 900})
    yield context.new_page()
    context.close()


def open_thing(page: Page, sites: Sites, thing_id: int = 2002) -> Frame:
    page.goto(f"{sites.sandbox_url}/thing:{thing_id}")
    handle = page.locator("iframe[title='Thing app']").element_handle()
    frame = handle.content_frame() if handle else None
    assert frame is not None
    frame.wait_for_function("typeof window.send === 'function'")
    return frame


def navigate_app_frame(page: Page, url: str) -> Frame:
    """Point the app's iframe at `url` (the same window, a new document); its new frame."""
    iframe = page.locator("iframe[title='Thing app']")
    iframe.evaluate("(element, url) => { element.src = url; }", url)
    page.wait_for_function(
        "(url) => document.querySelector(\"iframe[title='Thing app']\").src === url", arg=url)
    for _ in range(100):
        handle = iframe.element_handle()
        frame = handle.content_frame() if handle else None
        if frame is not None and frame.url == url:
            frame.wait_for_function("typeof window.send === 'function'")
            return frame
        page.wait_for_timeout(50)
    raise AssertionError(f"the app frame did not load {url}")


def answer_of(frame: Frame) -> Any:
    frame.wait_for_function("window.answer !== undefined")
    return frame.evaluate("window.answer")


@pytest.mark.e2e
def test_echo_answers_the_params_less_the_token_to_the_app(page: Page, sites: Sites) -> None:
    frame = open_thing(page, sites)
    reply = frame.evaluate("bridge('echo', {hello: 'world', n: 3})")
    assert reply["origin"] == sites.sandbox_url
    assert reply["result"] == {"hello": "world", "n": 3, "callback": reply["callback"]}


@pytest.mark.e2e
def test_file_select_lists_the_things_files_of_that_extension(page: Page, sites: Sites) -> None:
    frame = open_thing(page, sites)
    frame.evaluate("send('file_select', {thing_id: 2002, extension: 'obj'})")
    dialog = page.get_by_role("dialog", name="Choose a file for the app")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("radio")).to_have_count(1)
    expect(dialog.get_by_label("cable_clip.obj")).to_be_checked()
    dialog.get_by_role("button", name="Select").click()
    assert answer_of(frame)["result"] == {"thing_id": 2002, "file_id": 3003}
    expect(dialog).to_be_hidden()

    frame.evaluate("send('file_select', {thing_id: 2002})")
    expect(dialog.get_by_role("radio")).to_have_count(3)
    dialog.get_by_label("assembly_notes.pdf").check()
    dialog.get_by_role("button", name="Select").click()
    assert answer_of(frame)["result"] == {"thing_id": 2002, "file_id": 3004}


@pytest.mark.e2e
def test_dialogs_closed_with_cancel_or_escape_answer_cancelled(page: Page, sites: Sites) -> None:
    frame = open_thing(page, sites)
    frame.evaluate("send('file_select', {thing_id: 2002, extension: 'stl'})")
    page.get_by_role("dialog", name="Choose a file for the app").get_by_role(
        "button", name="Cancel").click()
    assert answer_of(frame)["result"] == {"status": "cancelled"}
    frame.evaluate("send('address', {})")
    expect(page.get_by_role("dialog", name="Ship to this address?")).to_be_visible()
    page.keyboard.press("Escape")
    assert answer_of(frame)["result"] == {"status": "cancelled"}


@pytest.mark.e2e
def test_address_answers_the_seeded_address(page: Page, sites: Sites) -> None:
    frame = open_thing(page, sites)
    frame.evaluate("send('address', {})")
    dialog = page.get_by_role("dialog", name="Ship to this address?")
    expect(dialog).to_contain_text("12 Rue Merciere")
    dialog.get_by_role("button", name="Use this address").click()
    result = answer_of(frame)["result"]
    assert result["id"] == 6001 and result["shipping_address"]["city"] == "Lyon"


@pytest.mark.e2e
def test_payment_shows_the_amount_and_records_an_order(page: Page, sites: Sites) -> None:
    frame = open_thing(page, sites)
    frame.evaluate("""send('payment', {thing_id: 2002, amount: '14.53',
                       charges: {Shipping: '5.00', Print: '9.53'}, address_id: 6001,
                       app_transaction_code: 'tx-42'})""")
    dialog = page.get_by_role("dialog", name="Pay for this order")
    expect(dialog).to_contain_text("14.53")
    expect(dialog.get_by_role("listitem")).to_have_text(["Shipping: 5.00", "Print: 9.53"])
    dialog.get_by_role("button", name="Pay").click()
    result = answer_of(frame)["result"]
    assert result["ok"] is True and isinstance(result["order_id"], int)
    orders = page.request.get(f"{sites.sandbox_url}/sandbox/orders").json()
    order = next(o for o in orders if o["id"] == result["order_id"])
    assert (order["amount"], order["app_transaction_code"]) == ("14.53", "tx-42")

    frame.evaluate("send('payment', {thing_id: 2002, amount: '10'})")
    dialog.get_by_role("button", name="Cancel").click()
    assert answer_of(frame)["result"] == {"status": "cancelled"}
    bad = frame.evaluate("bridge('payment', {thing_id: 2002, amount: 'free'})")
    assert "amount must be a positive number" in bad["result"]["error"]
    expect(dialog).to_be_hidden()


@pytest.mark.e2e
def test_unknown_commands_get_an_error(page: Page, sites: Sites) -> None:
    frame = open_thing(page, sites)
    reply = frame.evaluate("bridge('thing_save', {})")
    assert reply["result"] == {"error": "Unknown command thing_save."}


@pytest.mark.e2e
def test_messages_from_other_origins_or_windows_are_ignored(page: Page, sites: Sites) -> None:
    frame = open_thing(page, sites)
    address = page.get_by_role("dialog", name="Ship to this address?")
    # The Thing page itself (the sandbox's origin) posting a well-formed command.
    page.evaluate("""postMessage(JSON.stringify({cmd: 'address', params: {callback: 'x'}}),
                                 '*')""")
    # A second frame at the app's own origin, but not the app's iframe.
    # A third frame at another origin (localhost, not 127.0.0.1) on the same port.
    other_host = sites.app_url.replace("127.0.0.1", "localhost")
    for src in (f"{sites.app_url}/?second=1", f"{other_host}/?third=1"):
        page.evaluate("""(src) => { const f = document.createElement('iframe');
                           f.src = src; f.className = 'intruder'; document.body.append(f); }""",
                      src)
    for intruder in page.frames:
        if "second=1" in intruder.url or "third=1" in intruder.url:
            intruder.wait_for_function("typeof window.send === 'function'")
            intruder.evaluate("send('address', {})")
    page.wait_for_timeout(500)
    expect(address).to_be_hidden()
    assert all(f.evaluate("window.answer === undefined")
               for f in page.frames if "=1" in f.url)
    # The app's own iframe, navigated to another origin: the right window, the wrong origin.
    frame = navigate_app_frame(page, f"{other_host}/?navigated=1")
    frame.evaluate("send('address', {})")
    page.wait_for_timeout(500)
    expect(address).to_be_hidden()
    assert frame.evaluate("window.answer === undefined")
    # Back at the app's origin: malformed messages are ignored, well-formed ones answered.
    frame = navigate_app_frame(page, f"{sites.app_url}/?thing_id=2002")
    frame.evaluate("parent.postMessage('not json', '*'); parent.postMessage({cmd: 'echo'}, '*')")
    assert frame.evaluate("bridge('echo', {ok: 1})")["result"]["ok"] == 1
