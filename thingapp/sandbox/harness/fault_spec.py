"""Faults written on one line, as `thingapp sandbox --fault ROUTE=SPEC` takes them.

`ROUTE` is a route key as `/sandbox/faults` names it (`"POST /storage-upload"`,
`"GET /things/{id}"`); `SPEC` is comma-separated items, each a word or `name:value`:

    status:503          answer 503 (kind "status")
    latency:500         wait 500 ms first (also `latency_ms:500`); for `timeout`, how long to hold
    drop                close the connection without answering
    timeout             hold the request, never answering (60 s, or `latency`), then close it
    timeout:5000        the same, holding 5000 ms
    malformed           answer 200 with a body that is not JSON
    times:2             only the next 2 matching requests
    bytes_per_second:N  read the request body at N bytes/s (also `bps:N`)

e.g. `--fault "POST /storage-upload=status:503,times:1"`,
`--fault "GET /things/{id}=latency:500"`, `--fault "POST /login/oauth/tokeninfo=drop"`.
The items become a `/sandbox/faults` body, checked by `faults.parse_fault`.
"""

from __future__ import annotations

from typing import Any

from thingapp.sandbox.harness.faults import KINDS, BadFault, Fault, parse_fault

_NUMBERS = {
    "status": "status",
    "latency": "latency_ms",
    "latency_ms": "latency_ms",
    "times": "times",
    "bytes_per_second": "bytes_per_second",
    "bps": "bytes_per_second",
}
EXAMPLE = '"GET /things/{id}=status:503,times:2"'


def parse_fault_spec(text: str) -> Fault:
    """The fault a `ROUTE=SPEC` line describes (its route is not checked against an app's
    routes); raises `BadFault` with a sentence."""
    route, equals, spec = text.partition("=")
    route = " ".join(route.split())
    if not equals or not route or not spec.strip():
        raise BadFault(f"A fault is written ROUTE=SPEC, e.g. {EXAMPLE}; got {text!r}.")
    body: dict[str, Any] = {"route": route}
    for item in (part.strip() for part in spec.split(",")):
        name, colon, value = item.partition(":")
        if name in KINDS and name != "status" and (not colon or name == "timeout"):
            _set(body, "kind", name, text)
            if colon:
                _set(body, "latency_ms", _whole_number(name, value, text), text)
        elif name in _NUMBERS and colon:
            _set(body, _NUMBERS[name], _whole_number(name, value, text), text)
        else:
            raise BadFault(
                f"Unknown fault item {item!r} in {text!r}; use status:N, latency:MS, drop, "
                "timeout, timeout:MS, malformed, times:N or bytes_per_second:N."
            )
    return parse_fault(body, None)


def _whole_number(name: str, value: str, text: str) -> int:
    value = value.strip()
    if not (value.isascii() and value.isdigit()):
        raise BadFault(f"{name} takes a whole number in {text!r}; got {value!r}.")
    return int(value)


def _set(body: dict[str, Any], key: str, value: Any, text: str) -> None:
    if key in body:
        raise BadFault(f"{key} is given twice in {text!r}.")
    body[key] = value
