"""Webhooks over HTTP, on both store backends: each event kind, repeats, and bad deliveries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from world import World

SECRET = "whsec-" + "q" * 26


def order(**changes: object) -> dict:
    base = {"id": "5501", "thing_id": "2001", "amount": "14.53",
            "add_date": "2026-11-01 10:00:00", "modified_date": "2026-11-01 10:00:00",
            "charges": [{"type": "Shipping", "amount": "3.00"}],
            "fees": "0.50", "validated_shipping_address": {"city": "Lyon"}, "is_shipped": "false",
            "status": "paid", "note": ""}
    return {**base, **changes}


@pytest.fixture
def hooked(tmp_path: Path, store_url: str):
    received = []

    async def on_webhook(event):
        received.append(event)
    w = World(tmp_path, store_url=store_url, webhook_secret=SECRET, on_webhook=on_webhook)
    with w.client:
        yield w, received


def post(w: World, body: object, secret: str = SECRET, raw: bytes | None = None):
    content = raw if raw is not None else json.dumps(body).encode()
    return w.client.post(f"/webhooks/{secret}", content=content,
                         headers={"content-type": "application/json"})


def stored(w: World) -> list:
    import asyncio
    return asyncio.run(_list(w.settings.store_url))


async def _list(url: str) -> list:
    from thingapp.store import open_store
    store = open_store(url)
    try:
        return await store.list_webhooks()
    finally:
        await store.close()


def test_ping_answers_ok_and_stores_nothing(hooked):
    w, received = hooked
    r = post(w, {"event": "ping"})
    assert r.status_code == 200 and r.json() == {"ok": True, "event": "ping"}
    assert stored(w) == [] and received == []


@pytest.mark.parametrize("event", ["order_created", "refund_requested", "order_refunded"])
def test_each_order_event_is_stored_and_handed_to_the_hook(hooked, event):
    w, received = hooked
    r = post(w, {"event": event, "order": order(is_shipped="true")})
    assert r.status_code == 200 and r.json() == {"ok": True, "event": event, "duplicate": False}
    [record] = stored(w)
    assert record.event == event and json.loads(record.body)["order"]["id"] == "5501"
    [hooked_event] = received
    assert (hooked_event.order_id, hooked_event.thing_id, str(hooked_event.amount),
            hooked_event.is_shipped) == (5501, 2001, "14.53", True)


def test_a_repeat_delivery_is_acknowledged_and_not_stored_twice(hooked):
    w, received = hooked
    body = {"event": "order_created", "order": order()}
    assert post(w, body).json()["duplicate"] is False
    again = post(w, body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert len(stored(w)) == 1 and len(received) == 1
    later = post(w, {"event": "order_refunded",
                     "order": order(modified_date="2026-11-03 09:00:00")})
    assert later.json()["duplicate"] is False
    assert [r.event for r in stored(w)] == ["order_refunded", "order_created"]


@pytest.mark.parametrize("secret", ["wrong-secret-" + "q" * 20, SECRET[:-1], SECRET + "x"])
def test_a_wrong_secret_is_a_404(hooked, secret):
    w, received = hooked
    r = post(w, {"event": "order_created", "order": order()}, secret=secret)
    assert r.status_code == 404
    assert stored(w) == [] and received == []


@pytest.mark.parametrize(("raw", "message"), [
    (b"{not json", "The body is not valid JSON."),
    (b"[]", "The body must be a JSON object with an event."),
    (b'{"event": "order_shipped", "order": {}}', "Unknown event 'order_shipped'"),
    (b'{"event": "order_created"}', "A order_created event must carry an order object."),
    (json.dumps({"event": "order_created", "order": order(amount="lots")}).encode(),
     'order.amount must be an amount such as "14.53".'),
    (json.dumps({"event": "order_created", "order": order(id="12a")}).encode(),
     "order.id must be a whole number"),
    (json.dumps({"event": "order_created", "order": order(is_shipped="maybe")}).encode(),
     'order.is_shipped must be "true" or "false".'),
])
def test_bad_bodies_are_a_400_with_a_sentence_and_store_nothing(hooked, raw, message):
    w, received = hooked
    r = post(w, None, raw=raw)
    assert r.status_code == 400
    assert r.json()["error"].startswith(message)
    assert stored(w) == [] and received == []


def test_an_oversized_body_is_a_413(hooked):
    w, received = hooked
    big = {"event": "order_created", "order": order(note="x" * 70_000)}
    r = post(w, big)
    assert r.status_code == 413
    assert stored(w) == []


def test_without_a_configured_secret_there_are_no_webhooks(tmp_path):
    w = World(tmp_path)
    with w.client:
        assert post(w, {"event": "ping"}, secret="").status_code in (404, 405)
        assert post(w, {"event": "ping"}, secret="anything-at-all-here").status_code == 404


def test_the_operator_lists_events_newest_first(tmp_path):
    w = World(tmp_path, webhook_secret=SECRET)
    with w.client:
        post(w, {"event": "order_created", "order": order()})
        post(w, {"event": "refund_requested", "order": order(modified_date="2026-11-02 08:00:00",
                                                             status="refund_requested")})
    thingapp = str(Path(sys.executable).with_name("thingapp"))
    result = subprocess.run([thingapp, "webhooks"], capture_output=True, text=True, timeout=30,
                            env={"PATH": "/usr/bin:/bin", "THINGAPP_STORE": w.settings.store_url})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert "refund_requested" in lines[0] and "status refund_requested" in lines[0]
    assert "order_created" in lines[1] and "order 5501" in lines[1] and "amount 14.53" in lines[1]


def test_the_webhook_secret_never_reaches_the_logs(hooked, caplog):
    import logging
    caplog.set_level(logging.INFO)
    w, _ = hooked
    post(w, {"event": "order_created", "order": order()})
    post(w, None, raw=b"{broken")
    assert "POST /webhooks/… 200" in caplog.text and "POST /webhooks/… 400" in caplog.text
    assert SECRET not in "\n".join(r.getMessage() for r in caplog.records
                                   if not r.name.startswith("httpx2"))


def test_a_utf16_or_deeply_nested_webhook_body_is_a_400(hooked):
    w, _ = hooked
    for raw in ('{"event": "ping"}'.encode("utf-16"), b"[" * 5000 + b"]" * 5000):
        r = post(w, None, raw=raw)
        assert r.status_code == 400 and r.json()["error"] == "The body is not valid JSON."
