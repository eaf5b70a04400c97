"""The www side of OAuth: the authorize page and decision, tokeninfo, and the code exchange.

The authorize page sets no X-Frame-Options or frame-ancestors (it must be framable, so an app
whose iframe cannot open popups can sign in in-frame) and no Cross-Origin-Opener-Policy (which
would sever the popup's `window.opener`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from thingapp.sandbox.config import SandboxClient, SandboxConfig
from thingapp.sandbox.context import context_of
from thingapp.sandbox.www.pages import message_page

RESPONSE_TYPES = ("token", "code")


@dataclass(frozen=True)
class AuthorizeRequest:
    """A checked authorization request: a registered client and its exact redirect_uri."""

    client: SandboxClient
    redirect_uri: str
    response_type: str
    state: str


def check_authorize_request(
    config: SandboxConfig, params: QueryParams | FormData
) -> AuthorizeRequest | str:
    """The checked request, or a sentence saying why it can't be served.

    A missing redirect_uri means the registered one; any other must match it exactly.
    A missing response_type means `code`, as on Thingiverse.
    """
    client = config.client(_text(params, "client_id"))
    if client is None:
        return "This app is not registered with the sandbox: check the client_id in the link."
    redirect_uri = _text(params, "redirect_uri") or client.redirect_uri
    if redirect_uri != client.redirect_uri:
        return (
            f"The redirect_uri does not match the callback URL registered for {client.name} "
            f"({client.redirect_uri})."
        )
    response_type = _text(params, "response_type") or "code"
    if response_type not in RESPONSE_TYPES:
        return "The response_type must be token or code."
    return AuthorizeRequest(client, redirect_uri, response_type, _text(params, "state"))


async def authorize_page(request: Request) -> Response:
    """GET /login/oauth/authorize: ask which seeded user agrees to connect the app."""
    context = context_of(request)
    checked = check_authorize_request(context.config, request.query_params)
    if isinstance(checked, str):
        return message_page(request, "Can't authorize this app", checked, 400)
    return context.templates.TemplateResponse(
        request,
        "authorize.html",
        {"auth": checked, "users": list(context.world.users.values())},
    )


async def authorize_decision(request: Request) -> Response:
    """POST /login/oauth/authorize: redirect back to the app with a token, a code or an error."""
    context = context_of(request)
    form = await request.form()
    checked = check_authorize_request(context.config, form)
    if isinstance(checked, str):
        return message_page(request, "Can't authorize this app", checked, 400)
    decision = _text(form, "decision")
    user_id = _text(form, "user_id")
    if decision not in ("agree", "deny"):
        return message_page(request, "No decision", "Press Agree or Deny.", 400)
    if decision == "deny":
        return _redirect_to_app(checked, {"error": "access_denied"})
    if not user_id.isdigit() or int(user_id) not in context.world.users:
        return message_page(request, "No user", "Choose one of the listed users.", 400)
    world = context.world
    if checked.response_type == "token":
        token = world.issue_token(checked.client.client_id, int(user_id))
        return _redirect_to_app(checked, {"access_token": token, "token_type": "bearer"})
    code = world.issue_code(checked.client.client_id, int(user_id), checked.redirect_uri)
    return _redirect_to_app(checked, {"code": code})


def _redirect_to_app(auth: AuthorizeRequest, params: dict[str, str]) -> Response:
    # Token answers travel in the fragment (never sent to a server); code answers in the query.
    encoded = urlencode({**params, "state": auth.state} if auth.state else params)
    if auth.response_type == "token":
        target = f"{auth.redirect_uri}#{encoded}"
    else:
        target = auth.redirect_uri + ("&" if "?" in auth.redirect_uri else "?") + encoded
    return RedirectResponse(target, status_code=303)


async def tokeninfo(request: Request) -> Response:
    """POST /login/oauth/tokeninfo: `{"audience": CLIENT_ID, "user_id": "1001"}` for a live token.

    The token must come as the form field `access_token`. Any `access_token` in the query string
    is refused (400) even when the body also has one: a token in a URL has leaked into logs.
    Unknown and revoked tokens get 400 `{"error": "invalid token"}`.
    """
    world = context_of(request).world
    form = await request.form()
    token = _text(form, "access_token")
    grant = world.grant_for(token) if token else None
    if grant is None or "access_token" in request.query_params:
        return JSONResponse({"error": "invalid token"}, status_code=400)
    return JSONResponse({"audience": grant.client_id, "user_id": str(grant.user_id)})


async def access_token(request: Request) -> Response:
    """POST /login/oauth/access_token: trade a code for a token; answers are form-encoded.

    Success: 200 `access_token=...&token_type=bearer`. Failure: 400, also form-encoded,
    `error=invalid_client` (unknown client or wrong secret; the code is left untouched) or
    `error=invalid_grant` (code unknown, already used, issued to another client, or a
    redirect_uri differing from the authorization's), each with an `error_description`.
    A code is used up by the first exchange attempt that authenticates as a client.
    """
    context = context_of(request)
    form = await request.form()
    client = context.config.client(_text(form, "client_id"))
    if client is None or not hmac.compare_digest(
        client.client_secret.encode(), _text(form, "client_secret").encode()
    ):
        return _form_error("invalid_client", "Unknown client_id or wrong client_secret.")
    code = _text(form, "code")
    grant = context.world.redeem_code(code) if code else None
    redirect_uri = _text(form, "redirect_uri")
    if (
        grant is None
        or grant.client_id != client.client_id
        or (redirect_uri and redirect_uri != grant.redirect_uri)
    ):
        return _form_error(
            "invalid_grant", "The code is unknown, already used, or was issued to another app."
        )
    token = context.world.issue_token(client.client_id, grant.user_id)
    return _form_response({"access_token": token, "token_type": "bearer"}, 200)


def _form_error(error: str, description: str) -> Response:
    return _form_response({"error": error, "error_description": description}, 400)


def _form_response(fields: dict[str, str], status: int) -> Response:
    return Response(
        urlencode(fields), status_code=status, media_type="application/x-www-form-urlencoded"
    )


def _text(values: QueryParams | FormData, name: str) -> str:
    # Multipart forms may carry files under any name; only plain text counts here.
    value = values.get(name)
    return value if isinstance(value, str) else ""
