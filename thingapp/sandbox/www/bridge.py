"""The server side of the parent-frame bridge (the old iframe SDK), hosted by the Thing page.

The Thing page's script (`static/bridge-host.js`) answers the embedded app's `postMessage`
commands; it learns the app's origin from the iframe's `data-app-origin` attribute and accepts
messages only from that origin and that iframe's window. Messages are JSON strings
`{"cmd": NAME, "params": {..., "callback": ID}}`; answers are JSON strings
`{"callback": ID, "result": {...}}` posted to the iframe at the app's origin:

    echo         params                       -> the params (less access_token)
    file_select  {thing_id, extension}        -> {thing_id, file_id} | {status: "cancelled"}
    address      {}                           -> {id, shipping_address} | {status: "cancelled"}
    payment      {thing_id, amount, charges,  -> {ok: true, order_id} | {status: "cancelled"}
                  address_id, app_transaction_code}
    (any other)                               -> {error: "Unknown command NAME."}

A malformed `payment` (amount not a positive number) or a second dialog while one is open answers
`{error: sentence}`. The dialogs read and write through the scripting routes here (not
Thingiverse's): `GET /sandbox/things/{id}/files` lists a Thing's files, `POST /sandbox/orders`
records a payment, `GET /sandbox/orders` lists the recorded ones.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from thingapp.sandbox.context import context_of
from thingapp.sandbox.world.objects import now_iso

# The viewer's one shipping address, offered by the `address` dialog.
SHIPPING_ADDRESS: dict[str, Any] = {
    "id": 6001,
    "shipping_address": {
        "name": "Mara Maker",
        "address1": "12 Rue Merciere",
        "address2": "",
        "city": "Lyon",
        "state": "",
        "zip": "69002",
        "country": "FR",
    },
}
_AMOUNT = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")


def _error(sentence: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": sentence}, status_code=status)


async def thing_files(request: Request) -> Response:
    """GET /sandbox/things/{id}/files: `[{"id", "name"}, ...]` for the file_select dialog."""
    world = context_of(request).world
    raw = str(request.path_params["id"])
    thing_id = int(raw) if raw.isdigit() else None
    if thing_id is None or thing_id not in world.things:
        return _error(f"There is no Thing {raw} in the sandbox.", 404)
    return JSONResponse(
        [{"id": f.data["id"], "name": f.data["name"]} for f in world.files_of(thing_id)]
    )


async def record_order(request: Request) -> Response:
    """POST /sandbox/orders `{"thing_id", "amount", "charges", "address_id",
    "app_transaction_code"}` -> 201 `{"order_id"}`; the amount a positive number (or its text)."""
    world = context_of(request).world
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return _error("The body must be a JSON object.")
    thing_id, amount = body.get("thing_id"), body.get("amount")
    if isinstance(thing_id, str) and thing_id.isdigit():
        thing_id = int(thing_id)
    if not isinstance(thing_id, int) or isinstance(thing_id, bool) or thing_id not in world.things:
        return _error("thing_id must be the id of a Thing in the sandbox.")
    if not isinstance(amount, int | float | str) or isinstance(amount, bool) \
            or not _AMOUNT.fullmatch(str(amount)) or not float(amount) > 0:
        return _error("amount must be a positive number of at most two decimals, e.g. 14.53.")
    order_id = world.add_order(
        {
            "thing_id": thing_id,
            "amount": f"{float(amount):.2f}",  # webhooks carry amounts as strings
            "charges": body.get("charges"),
            "address_id": body.get("address_id"),
            "app_transaction_code": body.get("app_transaction_code"),
            "status": "paid",
            "add_date": now_iso(),
        }
    )
    return JSONResponse({"order_id": order_id}, status_code=201)


async def list_orders(request: Request) -> Response:
    """GET /sandbox/orders: the orders paid through the bridge, oldest first."""
    return JSONResponse(context_of(request).world.orders)
