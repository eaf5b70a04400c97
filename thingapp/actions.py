"""Which actions the app offers for a Thing and a user: Thingiverse's app guidelines as a function.

- the user owns the Thing -> post the file back to it (default);
- not the owner, derivatives allowed -> post a Remix (default);
- not the owner, no derivatives -> download is the only action.
Download stays available as a secondary choice in the first two cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from thingapp.licenses import allows_derivatives, says_no_derivatives


class Action(StrEnum):
    POST_TO_THING = "post"
    REMIX = "remix"
    DOWNLOAD = "download"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Action.POST_TO_THING: "Post to this Thing",
    Action.REMIX: "Post a Remix",
    Action.DOWNLOAD: "Download",
}

REASON_OWNER = "You own this Thing."
REASON_DERIVATIVES = "The licence allows derivatives."
REASON_NO_DERIVATIVES = "The licence does not allow derivatives."


@dataclass(frozen=True)
class ActionChoice:
    actions: tuple[Action, ...]  # default first
    reason: str

    @property
    def default(self) -> Action:
        return self.actions[0]


def is_owner(thing: Mapping[str, Any], user_id: str) -> bool:
    """Ownership is `creator.id == user id`; tokeninfo gives the id as a string, the API as int."""
    creator = thing.get("creator")
    if not isinstance(creator, Mapping):
        return False
    creator_id = creator.get("id")
    if isinstance(creator_id, bool) or not isinstance(creator_id, (int, str)):
        return False
    return str(creator_id) == str(user_id)


def thing_allows_derivatives(thing: Mapping[str, Any]) -> bool:
    """`allows_derivatives` when Thingiverse sends it, else the licence table; a licence whose
    words forbid derivatives forbids them whatever the flag says (the stricter reading wins)."""
    if says_no_derivatives(thing.get("license")):
        return False
    flag = thing.get("allows_derivatives")
    if isinstance(flag, bool):
        return flag
    return allows_derivatives(thing.get("license"))


def choose_actions(thing: Mapping[str, Any], user_id: str) -> ActionChoice:
    """The actions to offer `user_id` on `thing`, default first, with the reason in a sentence."""
    if is_owner(thing, user_id):
        return ActionChoice((Action.POST_TO_THING, Action.DOWNLOAD), REASON_OWNER)
    if thing_allows_derivatives(thing):
        return ActionChoice((Action.REMIX, Action.DOWNLOAD), REASON_DERIVATIVES)
    return ActionChoice((Action.DOWNLOAD,), REASON_NO_DERIVATIVES)
