"""Thingiverse's webhook events: checked, stored once, handed to the app developer's hook.

Thingiverse POSTs `{"event": "ping"}` from its Test button, and order events with the order's
values as strings ("14.53", "true"). No signature is documented, so the only authentication is the
secret in the URL (`/webhooks/{THINGAPP_WEBHOOK_SECRET}`), compared in constant time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

ORDER_EVENTS = ("order_created", "refund_requested", "order_refunded")
MAX_WEBHOOK_BODY = 64 * 1024
_DIGITS = re.compile(r"^\d{1,19}$")
_AMOUNT = re.compile(r"^-?\d{1,12}(\.\d{1,4})?$")


class BadWebhook(ValueError):
    """The body is not an event the app understands; the message says why, in a sentence."""


@dataclass(frozen=True)
class OrderEvent:
    """An order event with its string fields read into their types."""
    event: str
    order_id: int
    thing_id: int
    amount: Decimal
    is_shipped: bool | None
    status: str
    order: Mapping[str, Any]  # everything Thingiverse sent, as sent

    @property
    def key(self) -> str:
        """What makes two deliveries the same event: a repeat is acknowledged, not stored."""
        modified = self.order.get("modified_date") or self.order.get("add_date") or ""
        return f"{self.event}:{self.order_id}:{modified}"


WebhookHook = Callable[[OrderEvent], Awaitable[None]]


def _integer(order: Mapping[str, Any], name: str) -> int:
    value = order.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        return int(value)
    raise BadWebhook(f"order.{name} must be a whole number (as a string or a number).")


def _amount(order: Mapping[str, Any]) -> Decimal:
    value = order.get("amount")
    text = str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(
        value, bool) else ""
    if not _AMOUNT.match(text):
        raise BadWebhook('order.amount must be an amount such as "14.53".')
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise BadWebhook('order.amount must be an amount such as "14.53".') from exc


def _flag(order: Mapping[str, Any], name: str) -> bool | None:
    value = order.get(name)
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0", ""):
        return False
    raise BadWebhook(f'order.{name} must be "true" or "false".')


def parse_event(raw: bytes) -> OrderEvent | None:
    """The event in a webhook body; None for a ping. Raises BadWebhook with a sentence."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadWebhook("The body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise BadWebhook("The body must be a JSON object with an event.")
    event = body.get("event")
    if event == "ping":
        return None
    if event not in ORDER_EVENTS:
        raise BadWebhook(f"Unknown event {event!r}: expected ping or one of "
                         f"{', '.join(ORDER_EVENTS)}.")
    order = body.get("order")
    if not isinstance(order, dict):
        raise BadWebhook(f"A {event} event must carry an order object.")
    for name in ("add_date", "modified_date", "status", "note"):
        if order.get(name) is not None and not isinstance(order[name], str):
            raise BadWebhook(f"order.{name} must be a string.")
    return OrderEvent(event, _integer(order, "id"), _integer(order, "thing_id"), _amount(order),
                      _flag(order, "is_shipped"), str(order.get("status") or ""), order)
