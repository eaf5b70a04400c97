"""How failures become answers: a sentence as JSON for the API, or a page; each sign-in failure
reason with its HTTP status."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from thingapp.rate_limits import LimitExceeded
from thingapp.signin import Reason, SignInError
from thingapp.web.context import context_of
from thingapp.web.jsonresponse import JSONResponse

SIGN_IN_STATUS = {
    Reason.SIGNED_OUT: 401,
    Reason.EXPIRED: 400,
    Reason.BAD_STATE: 400,
    Reason.USED: 409,
    Reason.UNKNOWN: 403,
    Reason.DENIED: 403,
    Reason.FAILED: 400,
    Reason.WRONG_AUDIENCE: 400,
    Reason.INVALID_TOKEN: 400,
    Reason.UPSTREAM: 502,
    Reason.NO_SECRET: 400,
    Reason.BAD_CODE: 400,
}


class UpstreamFailed(Exception):
    """Thingiverse failed while serving a request; carries what to tell the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/webhooks/"))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if wants_json(request):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code,
                            headers=exc.headers)
    return context_of(request).templates.TemplateResponse(
        request, "error.html", {"message": exc.detail}, status_code=exc.status_code)


async def signin_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInError)
    return JSONResponse({"error": exc.message, "reason": exc.reason},
                        status_code=SIGN_IN_STATUS[exc.reason])


async def upstream_failed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UpstreamFailed)
    return JSONResponse({"error": exc.message}, status_code=exc.status)


async def limit_exceeded(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LimitExceeded)
    headers = {"Retry-After": str(exc.retry_after)}
    if wants_json(request):
        return JSONResponse({"error": str(exc)}, status_code=429, headers=headers)
    return context_of(request).templates.TemplateResponse(
        request, "error.html", {"message": str(exc)}, status_code=429, headers=headers)


HANDLERS = {HTTPException: http_error, SignInError: signin_error,
            UpstreamFailed: upstream_failed, LimitExceeded: limit_exceeded}
