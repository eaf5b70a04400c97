"""The frame's cookies: what lets a reloaded frame find its session again.

Thingiverse shows the app in a third-party frame, where browsers block ordinary cookies. A
partitioned cookie (CHIPS: `Partitioned`, keyed to the top-level site) is kept there, and only
there: the same cookie is never sent when the app is framed by another site or opened at top
level. Every cookie is `__Host-` (Secure, Path=/, no Domain), HttpOnly and SameSite=None, and is
set only for a request that says it comes from the app's page inside a frame (`X-Thingapp-Framed`).

A cookie never authorizes anything by itself: `POST /api/session` trades it for a Bearer token,
and only for the app's own page (see `from_own_page`).
"""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

SESSION = "__Host-thingapp-session"  # the session to resume after a reload
SIGNING_IN = "__Host-thingapp-signin"  # an in-frame sign-in's claim while the frame is away
JOBS = "__Host-thingapp-jobs"  # the jobs this browser started, to say so when signed out
FRAMED_HEADER = "x-thingapp-framed"
MAX_JOB_MARKS = 5
# The session cookie outlives its session by this many seconds, so that a frame coming back
# after the absolute limit hears why it was signed out rather than silently seeing Connect.
OUTLIVE_SESSION = 24 * 3600


def framed(request: Request) -> bool:
    """The app's page says it runs inside a frame (the only place its cookies are set)."""
    return request.headers.get(FRAMED_HEADER) == "1"


def from_own_page(request: Request, own_origin: str) -> bool:
    """A request the app's own page made, in a frame: no other site can send one. Its
    `Origin` is the app's, the browser's `Sec-Fetch-Site` (where it sends one) says
    same-origin, and it carries the custom header a cross-origin page can't add without a CORS
    preflight, which the app never answers."""
    return (request.headers.get("origin") == own_origin
            and request.headers.get("sec-fetch-site", "same-origin") == "same-origin"
            and framed(request))


def set_cookie(response: Response, name: str, value: str, max_age: int,
               *, partitioned: bool = True) -> None:
    """Set one of the app's cookies (written out here: Python < 3.14 can't say Partitioned)."""
    attributes = "; Partitioned" if partitioned else ""
    response.raw_headers.append((b"set-cookie", (
        f"{name}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite=None"
        f"{attributes}").encode("latin-1")))


def clear_cookie(response: Response, name: str) -> None:
    """Remove a cookie from both jars: the partitioned one and, where the Storage Access API let
    the app set one, the unpartitioned one."""
    set_cookie(response, name, "", 0)
    set_cookie(response, name, "", 0, partitioned=False)


@dataclass(frozen=True)
class JobMark:
    thing_id: int
    job_id: str
    user_id: str


class JobMarks:
    """The jobs this browser started, newest first, signed into the JOBS cookie: a signed-out
    frame can say a file is still being made for its Thing, to this browser only."""

    def __init__(self, secret_key: str, max_age: int) -> None:
        self._signer = URLSafeTimedSerializer(secret_key, salt="thingapp.job-marks")
        self.max_age = max_age

    def read(self, request: Request) -> list[JobMark]:
        try:
            marks = self._signer.loads(request.cookies.get(JOBS, ""), max_age=self.max_age)
            return [JobMark(int(t), str(j), str(u)) for t, j, u in marks]
        except (BadSignature, ValueError, TypeError):
            return []

    def add(self, request: Request, response: Response, mark: JobMark) -> None:
        marks = [mark, *self.read(request)][:MAX_JOB_MARKS]
        value = self._signer.dumps([[m.thing_id, m.job_id, m.user_id] for m in marks])
        set_cookie(response, JOBS, value, self.max_age)
