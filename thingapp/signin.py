"""The sign-in flow: a frame starts a login, Thingiverse's callback completes it, the frame claims
it.

1. `start`: a one-time login with a signed `state` naming it and a random `claim` that only the
   starting frame holds (stored hashed).
2. `complete` (from the callback page): the state is checked and spent once, the token is checked
   with tokeninfo (exact audience), and a server-side session is created holding the token.
3. `claim` (from the frame): trading the claim for a signed app session token, once. The frame
   also gets a signed *remember* value for its partitioned cookie, which `resume` trades for a
   fresh session token after a reload (while the session lives: idle and absolute limits).
A token injected from another flow, or a replayed callback, gives nobody a session (RFC 9700 4.6,
4.7): the state is single-use and the session goes only to the holder of the claim. An in-frame
sign-in, which leaves the app's page, keeps its claim in a partitioned cookie (`pending`), never
in `window.name` or a URL, where a page of another origin in the same frame could read it.

Each step returns what it learned (the user, their `/users/me` read started beside tokeninfo);
the web layer decides what to cache and what to tell the browser.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, Serializer, SignatureExpired, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode

from thingapp.settings import Settings
from thingapp.store import LoginRecord, LoginStatus, LoginStore, SessionRecord
from thingapp.thingiverse import (
    InvalidToken,
    ThingiverseClient,
    ThingiverseError,
    TokenInfo,
    audience_matches,
)

log = logging.getLogger("thingapp.signin")

MODES = ("popup", "frame")


class Reason(StrEnum):
    """Why a sign-in step failed: a word for the page's script (the web layer picks the HTTP
    status for each)."""
    SIGNED_OUT = "signed_out"  # no session, or it ended
    EXPIRED = "expired"  # the login took too long
    BAD_STATE = "bad_state"  # the state was not signed by this app
    USED = "used"  # the login was already consumed or claimed
    UNKNOWN = "unknown"  # no such login, or the wrong claim
    DENIED = "denied"  # the user declined at Thingiverse
    FAILED = "failed"  # the token was refused; the login says why
    WRONG_AUDIENCE = "wrong_audience"  # the token was issued to another app
    INVALID_TOKEN = "invalid_token"  # tokeninfo refused the token
    UPSTREAM = "upstream"  # Thingiverse could not confirm the token just now
    NO_SECRET = "no_secret"  # a ?code= launch, but no client secret to exchange it
    BAD_CODE = "bad_code"  # Thingiverse refused the ?code=


class SignInError(Exception):
    """A sign-in step failed in a way the user should be told about, in `message`."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class StartedLogin:
    login_id: str
    claim: str
    authorize_url: str


@dataclass(frozen=True)
class Claimed:
    session_token: str  # the Bearer token for the app's API
    expires_in: int
    remember: str  # what the frame's cookie holds, for `resume` after a reload


@dataclass(frozen=True)
class Verified:
    """A token tokeninfo vouched for: whose it is, their `/users/me` read and, when the login
    named a Thing, the reads the page will need of it (each started beside tokeninfo, not after
    it, so showing them adds no round trip; handed on only once tokeninfo vouched, cancelled
    otherwise), and how long tokeninfo took in milliseconds."""
    user_id: str
    me: asyncio.Task[dict[str, Any]]
    tokeninfo_ms: float
    thing_reads: Mapping[str, asyncio.Task[Any]] = field(default_factory=dict)


def _ended() -> SignInError:
    return SignInError(Reason.SIGNED_OUT, "Your session has ended. Please connect again.")


def _duration(seconds: int) -> str:
    """7200 -> "2 hours", 1800 -> "30 minutes", 5 -> "5 seconds"."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class _Signed(URLSafeTimedSerializer):
    """Signed, timed and URL-safe as itsdangerous makes them, but never zlib-compressed: these
    hold an id or two, which zlib never shortens, and each try set up zlib's state, more CPU
    than the rest of the signing (3.5 % of a sign-in's instructions). Compressed ones load."""

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))


class SignIn:
    def __init__(self, settings: Settings, store: LoginStore, thingiverse: ThingiverseClient,
                 beside: Callable[[str, int], Mapping[str, asyncio.Task[Any]]] | None = None,
                 ) -> None:
        """`beside(token, thing_id)` starts the reads a signed-in page of that Thing needs, to
        run beside tokeninfo (the app passes `CachedReads.start_thing_reads`)."""
        self.settings = settings
        self.store = store
        self.thingiverse = thingiverse
        self.beside = beside
        self._states = _Signed(settings.secret_key, salt="thingapp.login-state")
        self._sessions = _Signed(settings.secret_key, salt="thingapp.session")
        self._remembered = _Signed(settings.secret_key, salt="thingapp.remember")
        self._pending = _Signed(settings.secret_key, salt="thingapp.pending")

    async def start(self, thing_id: int | None, mode: str) -> StartedLogin:
        """Create a login for the frame asking; it gets the claim, Thingiverse gets the state."""
        login_id, claim = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
        await self.store.create_login(login_id, _hash(claim), thing_id, mode,
                                      self.settings.login_ttl)
        state = self._states.dumps(login_id)
        query = urlencode({"client_id": self.settings.client_id,
                           "redirect_uri": self.settings.callback_url,
                           "response_type": "token", "state": state})
        return StartedLogin(login_id, claim,
                            f"{self.settings.thingiverse_url}/login/oauth/authorize?{query}")

    def _login_id_from_state(self, state: str) -> str:
        try:
            login_id = self._states.loads(state, max_age=self.settings.login_ttl)
        except SignatureExpired as exc:
            raise SignInError(Reason.EXPIRED, "This sign-in took too long. Please connect "
                              "again.") from exc
        except BadSignature as exc:
            raise SignInError(Reason.BAD_STATE, "This sign-in did not come from this app. "
                              "Please connect again.") from exc
        if not isinstance(login_id, str):
            raise SignInError(Reason.BAD_STATE, "This sign-in did not come from this app.")
        return login_id

    async def _consume(self, state: str) -> LoginRecord:
        login_id = self._login_id_from_state(state)
        login = await self.store.transition_login(login_id, LoginStatus.PENDING,
                                                  LoginStatus.CONSUMED)
        if login is not None:
            return login
        if await self.store.get_login(login_id) is None:
            raise SignInError(Reason.EXPIRED, "This sign-in has expired. Please connect again.")
        raise SignInError(Reason.USED, "This sign-in was already used. Please connect again.")

    async def complete(self, state: str, access_token: str) -> tuple[LoginRecord, Verified]:
        """The callback delivered a token for `state`: check it and make a session."""
        login = await self._consume(state)
        try:
            verified = await self._verify(access_token, login.thing_id)
        except SignInError as exc:
            await self.store.transition_login(login.id, LoginStatus.CONSUMED,
                                              LoginStatus.FAILED, error=exc.message)
            raise
        if not await self.store.complete_login(login.id, LoginStatus.CONSUMED,
                                               secrets.token_urlsafe(24), verified.user_id,
                                               access_token, self.settings.session_ttl):
            for read in (verified.me, *verified.thing_reads.values()):
                read.cancel()
            raise SignInError(Reason.EXPIRED, "This sign-in took too long. Please connect "
                              "again.")
        return login, verified

    async def decline(self, state: str) -> LoginRecord:
        """The callback reported that the user declined (or Thingiverse sent another error)."""
        login = await self._consume(state)
        await self.store.transition_login(login.id, LoginStatus.CONSUMED, LoginStatus.DENIED,
                                          error="You declined access.")
        return login

    async def _verify(self, access_token: str, thing_id: int | None = None) -> Verified:
        """Check a token with tokeninfo, requiring the exact audience. The user's /users/me,
        and the Thing, its files and categories when the login names one, are asked beside it;
        they are handed on only once tokeninfo vouched for the token (else cancelled: nothing
        read with a token another app was given is kept)."""
        me = asyncio.create_task(self.thingiverse.get_me(access_token))
        thing_reads: Mapping[str, asyncio.Task[Any]] = {}
        if thing_id is not None and self.beside is not None:
            thing_reads = self.beside(access_token, thing_id)
        started = time.perf_counter()
        try:
            info = await self._tokeninfo(access_token)
            tokeninfo_ms = (time.perf_counter() - started) * 1000
            if not audience_matches(info, self.settings.client_id):
                log.warning("refused a token issued to another app (audience %r)",
                            info.audience)
                raise SignInError(Reason.WRONG_AUDIENCE, "This sign-in was issued to a "
                                  "different app, so it was refused. Please connect again.")
        except SignInError:
            for read in (me, *thing_reads.values()):
                read.cancel()
            raise
        return Verified(info.user_id, me, tokeninfo_ms, thing_reads)

    async def _tokeninfo(self, access_token: str) -> TokenInfo:
        try:
            return await self.thingiverse.tokeninfo(access_token)
        except InvalidToken as exc:
            log.info("tokeninfo refused a token: %s", exc.message)
            raise SignInError(Reason.INVALID_TOKEN, "Thingiverse did not accept this sign-in. "
                              "Please connect again.") from exc
        except ThingiverseError as exc:
            log.warning("tokeninfo failed: %s", exc)
            raise SignInError(Reason.UPSTREAM, "Thingiverse could not confirm the sign-in just "
                              "now. Please try again in a minute.") from exc

    async def sign_in_with_code(self, code: str,
                                thing_id: int | None) -> tuple[StartedLogin, Verified]:
        """The legacy launch: Thingiverse put `?code=` on the app URL. Exchange it server-side
        and hand the frame a login that is already complete, for it to claim."""
        if not self.settings.client_secret:
            log.warning("a launch carried ?code= but THINGAPP_CLIENT_SECRET is not set")
            raise SignInError(Reason.NO_SECRET, "Automatic sign-in is not set up for this app. "
                              "Use Connect Thingiverse instead.")
        try:
            token = await self.thingiverse.exchange_code(code)
        except ThingiverseError as exc:
            log.info("code exchange refused: %s", exc.message)
            raise SignInError(Reason.BAD_CODE, "Thingiverse did not accept the sign-in code. "
                              "Use Connect Thingiverse instead.") from exc
        verified = await self._verify(token)
        session_id = secrets.token_urlsafe(24)
        await self.store.create_session(session_id, verified.user_id, token,
                                        self.settings.session_ttl)
        login_id, claim = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
        await self.store.create_login(login_id, _hash(claim), thing_id, "frame",
                                      self.settings.login_ttl, status=LoginStatus.COMPLETE,
                                      session_id=session_id)
        return StartedLogin(login_id, claim, authorize_url=""), verified

    async def claim(self, login_id: str, claim: str) -> Claimed | None:
        """Trade the frame's claim for its session token; None while the login is pending."""
        login = await self.store.get_login(login_id)
        if login is None or not hmac.compare_digest(login.claim_hash, _hash(claim)):
            raise SignInError(Reason.UNKNOWN, "This sign-in is unknown or has expired. Please "
                              "connect again.")
        if login.status in (LoginStatus.PENDING, LoginStatus.CONSUMED):
            return None
        if login.status is LoginStatus.DENIED:
            raise SignInError(Reason.DENIED, "You declined access.")
        if login.status is LoginStatus.FAILED:
            raise SignInError(Reason.FAILED, login.error or "The sign-in failed.")
        if login.status is not LoginStatus.COMPLETE or login.session_id is None or not (
                await self.store.transition_login(login_id, LoginStatus.COMPLETE,
                                                  LoginStatus.CLAIMED)):
            raise SignInError(Reason.USED, "This sign-in was already used. Please connect "
                              "again.")
        return self._issue(login.session_id)

    def _issue(self, session_id: str) -> Claimed:
        return Claimed(self._sessions.dumps(session_id), self.settings.session_ttl,
                       self._remembered.dumps(session_id))

    def remember(self, session: SessionRecord) -> str:
        """What a frame's cookie holds to find `session` again (see `resume`)."""
        return self._remembered.dumps(session.id)

    def pending(self, started: StartedLogin) -> str:
        """The in-frame sign-in's claim, signed, for the frame's cookie while it is away."""
        return self._pending.dumps([started.login_id, started.claim])

    async def claim_pending(self, pending: str) -> Claimed | None:
        """`claim`, with the login and claim a `pending` value holds."""
        try:
            login_id, claim = self._pending.loads(pending, max_age=self.settings.login_ttl)
        except (BadSignature, ValueError, TypeError) as exc:
            raise SignInError(Reason.UNKNOWN, "This sign-in is unknown or has expired. Please "
                              "connect again.") from exc
        return await self.claim(str(login_id), str(claim))

    async def resume(self, remembered: str) -> Claimed:
        """A fresh session token for the session a frame's cookie remembers, while it lives."""
        ttl = self.settings.session_ttl
        too_old = SignInError(Reason.SIGNED_OUT, f"You signed in more than {_duration(ttl)} ago, "
                              "so you were signed out. Please connect again.")
        try:
            session_id, signed_at = self._remembered.loads(remembered, max_age=ttl,
                                                           return_timestamp=True)
        except SignatureExpired as exc:
            raise too_old from exc
        except BadSignature as exc:
            raise _ended() from exc
        try:
            session = await self._live_session(session_id, touch=True)
        except SignInError as exc:
            # The signature's clock counts whole seconds: the store may end it a little sooner.
            if exc.message == _ended().message and time.time() - signed_at.timestamp() + 1 >= ttl:
                raise too_old from exc
            raise
        return self._issue(session.id)

    async def authenticate(self, session_token: str) -> SessionRecord:
        """The session an app session token names. Costs no call to Thingiverse."""
        try:
            session_id = self._sessions.loads(session_token, max_age=self.settings.session_ttl)
        except BadSignature as exc:  # includes SignatureExpired
            raise _ended() from exc
        return await self._live_session(session_id, touch=False)

    async def _live_session(self, session_id: object, *, touch: bool) -> SessionRecord:
        """The session, if it is within its absolute limit (the store drops it then) and its
        idle limit; its use is recorded (at most once a minute, unless `touch`)."""
        session = await self.store.get_session(session_id) if isinstance(session_id, str) else None
        if session is None:
            raise _ended()
        now = time.time()
        idle = self.settings.session_idle
        if now - session.last_seen > idle:
            await self.store.delete_session(session.id)
            raise SignInError(Reason.SIGNED_OUT, f"You were signed out after {_duration(idle)} "
                              "without using the app. Please connect again.")
        if touch or now - session.last_seen > min(60.0, idle / 10):
            await self.store.touch_session(session.id, now)
        return session

    async def sign_out(self, session: SessionRecord) -> None:
        await self.store.delete_session(session.id)
