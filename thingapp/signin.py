"""The sign-in flow: a frame starts a login, Thingiverse's callback completes it, the frame claims it.

1. `start`: a one-time login with a signed `state` naming it and a random `claim` that only the
   starting frame holds (stored hashed).
2. `complete` (from the callback page): the state is checked and spent once, the token is checked
   with tokeninfo (exact audience), and a server-side session is created holding the token.
3. `claim` (from the frame): trading the claim for a signed app session token, once.
A token injected from another flow, or a replayed callback, gives nobody a session (RFC 9700 4.6,
4.7): the state is single-use and the session goes only to the holder of the claim.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from thingapp import store as st
from thingapp.settings import Settings
from thingapp.reads import CachedReads
from thingapp.thingiverse import (InvalidToken, ThingiverseClient, ThingiverseError, TokenInfo,
                                  audience_matches)

log = logging.getLogger("thingapp.signin")

MODES = ("popup", "frame")


class SignInError(Exception):
    """A sign-in step failed in a way the user should be told about, in `message`."""

    def __init__(self, status: int, message: str, reason: str = "error") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason  # a short machine-readable word for the page's script


@dataclass(frozen=True)
class StartedLogin:
    login_id: str
    claim: str
    authorize_url: str


@dataclass(frozen=True)
class Claimed:
    session_token: str
    expires_in: int


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class SignIn:
    def __init__(self, settings: Settings, store: st.Store, thingiverse: ThingiverseClient,
                 reads: CachedReads) -> None:
        self.settings = settings
        self.store = store
        self.thingiverse = thingiverse
        self.reads = reads
        self._states = URLSafeTimedSerializer(settings.secret_key, salt="thingapp.login-state")
        self._sessions = URLSafeTimedSerializer(settings.secret_key, salt="thingapp.session")

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
            raise SignInError(400, "This sign-in took too long. Please connect again.",
                              "expired") from exc
        except BadSignature as exc:
            raise SignInError(400, "This sign-in did not come from this app. Please connect "
                              "again.", "bad_state") from exc
        if not isinstance(login_id, str):
            raise SignInError(400, "This sign-in did not come from this app.", "bad_state")
        return login_id

    async def _consume(self, state: str) -> st.LoginRecord:
        login_id = self._login_id_from_state(state)
        login = await self.store.transition_login(login_id, st.PENDING, st.CONSUMED)
        if login is not None:
            return login
        if await self.store.get_login(login_id) is None:
            raise SignInError(400, "This sign-in has expired. Please connect again.", "expired")
        raise SignInError(409, "This sign-in was already used. Please connect again.", "used")

    async def complete(self, state: str, access_token: str,
                       timing: dict[str, float] | None = None) -> st.LoginRecord:
        """The callback delivered a token for `state`: check it and make a session.
        `timing` receives how long Thingiverse took (ms, under "tokeninfo")."""
        login = await self._consume(state)
        try:
            info, me = await self._verify(access_token, timing)
        except SignInError as exc:
            await self.store.transition_login(login.id, st.CONSUMED, st.FAILED,
                                              error=exc.message)
            raise
        self.reads.remember_me(info.user_id, me)
        if not await self.store.complete_login(login.id, st.CONSUMED, secrets.token_urlsafe(24),
                                               info.user_id, access_token,
                                               self.settings.session_ttl):
            raise SignInError(400, "This sign-in took too long. Please connect again.",
                              "expired")
        return login

    async def decline(self, state: str) -> st.LoginRecord:
        """The callback reported that the user declined (or Thingiverse sent another error)."""
        login = await self._consume(state)
        await self.store.transition_login(login.id, st.CONSUMED, st.DENIED,
                                          error="You declined access.")
        return login

    async def _verify(self, access_token: str, timing: dict[str, float] | None = None
                      ) -> tuple[TokenInfo, asyncio.Task[Any]]:
        """Check a token with tokeninfo, requiring the exact audience. The user's /users/me is
        asked beside it (not after it), so showing who is signed in adds no round trip; it is
        handed on only once tokeninfo vouched for the token."""
        me = asyncio.create_task(self.thingiverse.get_me(access_token))
        started = time.perf_counter()
        try:
            info = await self._tokeninfo(access_token)
            if timing is not None:
                timing["tokeninfo"] = (time.perf_counter() - started) * 1000
            if not audience_matches(info, self.settings.client_id):
                log.warning("refused a token issued to another app (audience %r)",
                            info.audience)
                raise SignInError(400, "This sign-in was issued to a different app, so it was "
                                  "refused. Please connect again.", "wrong_audience")
        except SignInError:
            me.cancel()
            raise
        return info, me

    async def _session_for_token(self, access_token: str) -> str:
        """A session for a verified token, outside any started login (the code launch)."""
        info, me = await self._verify(access_token)
        self.reads.remember_me(info.user_id, me)
        session_id = secrets.token_urlsafe(24)
        await self.store.create_session(session_id, info.user_id, access_token,
                                        self.settings.session_ttl)
        return session_id

    async def _tokeninfo(self, access_token: str) -> TokenInfo:
        try:
            return await self.thingiverse.tokeninfo(access_token)
        except InvalidToken as exc:
            log.info("tokeninfo refused a token: %s", exc.message)
            raise SignInError(400, "Thingiverse did not accept this sign-in. Please connect "
                              "again.", "invalid_token") from exc
        except ThingiverseError as exc:
            log.warning("tokeninfo failed: %s", exc)
            raise SignInError(502, "Thingiverse could not confirm the sign-in just now. "
                              "Please try again in a minute.", "upstream") from exc

    async def sign_in_with_code(self, code: str, thing_id: int | None) -> StartedLogin:
        """The legacy launch: Thingiverse put `?code=` on the app URL. Exchange it server-side
        and hand the frame a login that is already complete, for it to claim."""
        if not self.settings.client_secret:
            log.warning("a launch carried ?code= but THINGAPP_CLIENT_SECRET is not set")
            raise SignInError(400, "Automatic sign-in is not set up for this app. Use "
                              "Connect Thingiverse instead.", "no_secret")
        try:
            token = await self.thingiverse.exchange_code(code)
        except ThingiverseError as exc:
            log.info("code exchange refused: %s", exc.message)
            raise SignInError(400, "Thingiverse did not accept the sign-in code. Use Connect "
                              "Thingiverse instead.", "bad_code") from exc
        session_id = await self._session_for_token(token)
        login_id, claim = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
        await self.store.create_login(login_id, _hash(claim), thing_id, "frame",
                                      self.settings.login_ttl, status=st.COMPLETE,
                                      session_id=session_id)
        return StartedLogin(login_id, claim, authorize_url="")

    async def claim(self, login_id: str, claim: str) -> Claimed | None:
        """Trade the frame's claim for its session token; None while the login is pending."""
        login = await self.store.get_login(login_id)
        if login is None or not hmac.compare_digest(login.claim_hash, _hash(claim)):
            raise SignInError(403, "This sign-in is unknown or has expired. Please connect "
                              "again.", "unknown")
        if login.status in (st.PENDING, st.CONSUMED):
            return None
        if login.status == st.DENIED:
            raise SignInError(403, "You declined access.", "denied")
        if login.status == st.FAILED:
            raise SignInError(400, login.error or "The sign-in failed.", "failed")
        if login.status != st.COMPLETE or login.session_id is None or not (
                await self.store.transition_login(login_id, st.COMPLETE, st.CLAIMED)):
            raise SignInError(409, "This sign-in was already used. Please connect again.",
                              "used")
        return Claimed(self._sessions.dumps(login.session_id), self.settings.session_ttl)

    async def authenticate(self, session_token: str) -> st.SessionRecord:
        """The session an app session token names. Costs no call to Thingiverse."""
        try:
            session_id = self._sessions.loads(session_token, max_age=self.settings.session_ttl)
        except BadSignature as exc:  # includes SignatureExpired
            raise SignInError(401, "Your session has ended. Please connect again.",
                              "signed_out") from exc
        session = await self.store.get_session(session_id) if isinstance(session_id, str) else None
        if session is None:
            raise SignInError(401, "Your session has ended. Please connect again.", "signed_out")
        return session

    async def sign_out(self, session: st.SessionRecord) -> None:
        await self.store.delete_session(session.id)
