"""What to tell the user when Thingiverse refuses, fails or limits us: one sentence each."""

from __future__ import annotations

import math

from thingapp.thingiverse import StorageRefused, ThingiverseError, UnsafeFileHost
from thingapp.uploads import UploadMismatch


def rate_limited_sentence(exc: ThingiverseError) -> str:
    """Thingiverse allows 300 requests per 5 minutes; say when to try again."""
    if exc.retry_after:
        return (f"Thingiverse is limiting requests right now. Try again in "
                f"{max(1, math.ceil(exc.retry_after))} seconds.")
    return "Thingiverse is limiting requests right now. Try again in a few minutes."


def upstream_failure(exc: ThingiverseError, thing_id: int) -> tuple[int, str]:
    """What to tell the user when Thingiverse refuses or fails."""
    if exc.status == 401:
        return 401, "Thingiverse no longer accepts your sign-in. Please connect again."
    if exc.status == 404:
        return 404, f"Thingiverse has no Thing {thing_id} (it may have been deleted)."
    if exc.status == 403:
        return 403, f"Thingiverse does not let this account see Thing {thing_id}."
    if exc.status in (420, 429):
        return 503, rate_limited_sentence(exc)
    return 502, "Thingiverse did not answer properly. Try again in a minute."


def job_failure_sentence(exc: ThingiverseError) -> str:
    """Why a job stopped, when Thingiverse is the reason: a sentence a user can act on (the
    status and Thingiverse's own words go to the log, not to the page)."""
    if isinstance(exc, UnsafeFileHost):
        return exc.message
    if isinstance(exc, UploadMismatch):
        return f"{exc.message} Please try again."
    if isinstance(exc, StorageRefused):
        if exc.doing == "download":
            return ("Thingiverse's file storage did not hand over the model file. Please try "
                    "again in a minute.")
        return "Thingiverse's file storage is busy, so the file was not posted. Please try again."
    if exc.status in (420, 429):
        return rate_limited_sentence(exc)
    if exc.status == 401:
        return "Thingiverse no longer accepts your sign-in. Please connect again."
    if exc.status == 0:
        return "Thingiverse could not be reached. Please try again in a minute."
    if exc.status >= 500:
        return "Thingiverse is having trouble right now. Please try again in a few minutes."
    return ("Thingiverse did not accept the request. Please try again, or check the Thing on "
            "Thingiverse.")
