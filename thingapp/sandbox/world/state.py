"""The sandbox's in-memory world: users, Things, files, pending uploads, tokens, codes, orders
paid through the parent-frame bridge, request log.

One `World` per sandbox app instance (built in the factory). The sandbox simulates a single
Thingiverse in a single process, so plain dicts are the right store here; nothing outlives it.
Uploaded bytes are the one thing kept on disk, in the world's `BlobStore`.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thingapp.sandbox.world.blobs import BlobStore

JsonObject = dict[str, Any]

# Enough history for any test run or demo session, bounded so a long-running demo can't grow.
REQUEST_LOG_LIMIT = 10_000

# Things and files made through the API get ids from here up (the seeded ones are below).
FIRST_NEW_THING_ID = 9001
FIRST_NEW_FILE_ID = 8001
FIRST_ORDER_ID = 7001


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
    """A file of a Thing: its API object and the bytes storage serves (in memory for seeded
    files, a path in the blob store for uploaded ones)."""

    thing_id: int
    data: JsonObject
    content: bytes | Path


@dataclass
class PendingUpload:
    """An upload announced by `POST /things/{id}/files`, until it is finalized.

    `fields` are the storage form fields as issued, in order; `received` is where storage put
    the bytes once they arrived (None before).
    """

    file_id: int
    thing_id: int
    filename: str
    fields: dict[str, str]
    received: Path | None = None
    size: int = 0


@dataclass
class PendingFile:
    """A file sent with `POST /files/0/uploadFile`, until `FinalizeFiles` gives it a Thing."""

    pending_id: int
    user_id: int
    filename: str
    path: Path
    size: int


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
    # A Thing's ancestors are kept as ids and served as summaries of the Things as they are now.
    ancestor_ids: dict[int, list[int]] = field(default_factory=dict)
    # Summaries of Things outside the world that a seeded Thing names as ancestors, served as given.
    outside_summaries: dict[int, JsonObject] = field(default_factory=dict)
    pending_uploads: dict[int, PendingUpload] = field(default_factory=dict)
    pending_files: dict[int, PendingFile] = field(default_factory=dict)
    # A Thing's images (image files finalized onto it), by image id: (thing id, summary, bytes).
    images: dict[int, StoredFile] = field(default_factory=dict)
    corrupt_uploads: int = 0  # the next N finalized files get a hash that does not match
    categories: dict[int, str] = field(default_factory=dict)  # a Thing's category ("Other": none)
    blobs: BlobStore = field(default_factory=BlobStore)
    # Signs storage upload policies, as an AWS secret key would.
    upload_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    next_thing_id: int = FIRST_NEW_THING_ID
    next_file_id: int = FIRST_NEW_FILE_ID
    tokens: dict[str, Grant] = field(default_factory=dict)
    codes: dict[str, CodeGrant] = field(default_factory=dict)
    orders: list[JsonObject] = field(default_factory=list)
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

    def images_of(self, thing_id: int) -> list[StoredFile]:
        """The Thing's images, in id order."""
        return [f for _, f in sorted(self.images.items()) if f.thing_id == thing_id]

    def user_named(self, username: str) -> JsonObject | None:
        """The user with this username (any case), or None."""
        wanted = username.casefold()
        return next((u for u in self.users.values() if u["name"].casefold() == wanted), None)

    def new_thing_id(self) -> int:
        """The id for a Thing being created (the next one no Thing, seeded or not, has)."""
        while self.next_thing_id in self.things or self.next_thing_id in self.outside_summaries:
            self.next_thing_id += 1
        self.next_thing_id += 1
        return self.next_thing_id - 1

    def new_file_id(self) -> int:
        """The id for a file being uploaded (it keeps it when finalized)."""
        while self.next_file_id in self.files or self.next_file_id in self.images:
            self.next_file_id += 1
        self.next_file_id += 1
        return self.next_file_id - 1

    def add_order(self, order: JsonObject) -> int:
        """Record an order paid through the bridge; its new id."""
        order_id = FIRST_ORDER_ID + len(self.orders)
        self.orders.append({"id": order_id, **order})
        return order_id

    def pending_upload_with_key(self, key: str) -> PendingUpload | None:
        """The pending upload issued with this storage key, or None."""
        return next((p for p in self.pending_uploads.values() if p.fields["key"] == key), None)

    def delete_thing(self, thing_id: int) -> None:
        """Remove a Thing with its files, pending uploads and their bytes."""
        del self.things[thing_id]
        self.ancestor_ids.pop(thing_id, None)
        self.categories.pop(thing_id, None)
        for kept in (self.files, self.images):
            for file_id in [i for i, f in kept.items() if f.thing_id == thing_id]:
                content = kept.pop(file_id).content
                if isinstance(content, Path):
                    content.unlink(missing_ok=True)
        for file_id in [i for i, p in self.pending_uploads.items() if p.thing_id == thing_id]:
            received = self.pending_uploads.pop(file_id).received
            if received is not None:
                received.unlink(missing_ok=True)

    def log_request(self, method: str, path: str, status: int) -> None:
        """Record one request (the caller strips the query string and any token)."""
        self.requests.append(LoggedRequest(method, path, status))
