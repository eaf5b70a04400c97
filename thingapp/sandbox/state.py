"""The sandbox's in-memory world: users, Things, files, tokens, codes, rate counters, request log.

One `World` per sandbox app instance (built in the factory). The sandbox simulates a single
Thingiverse in a single process, so plain dicts are the right store here; nothing outlives it.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

JsonObject = dict[str, Any]

# Enough history for any test run or demo session, bounded so a long-running demo can't grow.
REQUEST_LOG_LIMIT = 10_000


@dataclass(frozen=True)
class Grant:
    """What an access token stands for: a user who authorized a client."""

    client_id: str
    user_id: int


@dataclass(frozen=True)
class CodeGrant:
    """What an authorization code stands for, until it is exchanged once."""

    client_id: str
    user_id: int
    redirect_uri: str


@dataclass(frozen=True)
class StoredFile:
    """A file of a Thing: its API object and the bytes storage serves."""

    thing_id: int
    content: bytes
    data: JsonObject


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the log keeps it: never a query string, never a token."""

    method: str
    path: str
    status: int


@dataclass
class World:
    """Everything the sandbox knows. Users, Things and files are held as the API's JSON objects."""

    users: dict[int, JsonObject]
    things: dict[int, JsonObject]
    files: dict[int, StoredFile]
    tokens: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, CodeGrant] = field(default_factory=dict)
    rate_spent: dict[str, int] = field(default_factory=dict)
    requests: deque[LoggedRequest] = field(
        default_factory=lambda: deque(maxlen=REQUEST_LOG_LIMIT)
    )

    def issue_token(self, client_id: str, user_id: int) -> str:
        """A new access token for this user and client."""
        token = secrets.token_hex(16)
        self.tokens[token] = Grant(client_id, user_id)
        return token

    def grant_for(self, token: str) -> Grant | None:
        """The grant behind a live token, or None for an unknown or revoked one."""
        return self.tokens.get(token)

    def revoke(self, token: str) -> bool:
        """Revoke a token; True if it was live."""
        return self.tokens.pop(token, None) is not None

    def issue_code(self, client_id: str, user_id: int, redirect_uri: str) -> str:
        """A new single-use authorization code."""
        code = secrets.token_hex(16)
        self.codes[code] = CodeGrant(client_id, user_id, redirect_uri)
        return code

    def redeem_code(self, code: str) -> CodeGrant | None:
        """Take a code out of circulation; what it stood for, or None if unknown or used."""
        return self.codes.pop(code, None)

    def files_of(self, thing_id: int) -> list[StoredFile]:
        """The Thing's files, in id order."""
        return [f for _, f in sorted(self.files.items()) if f.thing_id == thing_id]

    def spend_request(self, key: str, limit: int) -> int:
        """Count one API request against `key`; return how many remain (negative once over)."""
        spent = self.rate_spent.get(key, 0) + 1
        self.rate_spent[key] = spent
        return limit - spent

    def log_request(self, method: str, path: str, status: int) -> None:
        """Record one request (the caller strips the query string and any token)."""
        self.requests.append(LoggedRequest(method, path, status))
