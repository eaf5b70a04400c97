"""`POST /webhooks/{secret}`: Thingiverse's events, stored once, then handed to the app's hook."""

from __future__ import annotations

import hmac
import logging

from starlette.requests import Request
from starlette.responses import Response

from thingapp.web.context import context_of
from thingapp.web.jsonbody import BadRequest, read_limited
from thingapp.web.jsonresponse import JSONResponse
from thingapp.webhooks import MAX_WEBHOOK_BODY, BadWebhook, parse_event

log = logging.getLogger("thingapp.webhooks")


async def webhook(request: Request) -> Response:
    """A wrong secret is a 404, as if the path did not exist; an event is stored once and then
    handed to the app's hook."""
    context = context_of(request)
    expected = context.settings.webhook_secret
    secret = request.path_params["secret"]
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        return JSONResponse({"error": "Not Found"}, status_code=404)
    raw = await read_limited(request, MAX_WEBHOOK_BODY)
    try:
        event = parse_event(raw)
    except BadWebhook as exc:
        raise BadRequest(str(exc)) from exc
    if event is None:
        return JSONResponse({"ok": True, "event": "ping"})
    stored = await context.store.add_webhook(event.key, event.event, raw.decode())
    if stored and context.on_webhook is not None:
        try:
            await context.on_webhook(event)
        except Exception:  # the event is stored; the operator can replay it from the list
            log.exception("the webhook hook failed on %s", event.key)
    return JSONResponse({"ok": True, "event": event.event, "duplicate": not stored})
