"""Posting a file to a Thing, the way Thingiverse takes files today, or the older way.

Today's pair is `uploadFile` (the file to the API, pending) then `FinalizeFiles` (pending
uploads onto a Thing); the older flow asks for a storage form, posts the file to storage, then
finalizes it (an endpoint Thingiverse marks deprecated). `THINGAPP_UPLOAD_FLOW` picks: `new`,
`legacy`, or `auto` (default): today's pair first, and when `uploadFile` is gone (404, 405, 410)
the older flow, remembered for this process for `REMEMBER_LEGACY` seconds before today's is
tried again.

After finalizing, the Thing's files are read back: the new file must be there with the size sent,
and with its MD5 where the API gives a `hash` (hex on older files, base64 on newer ones). A
mismatch is an `UploadMismatch`, never a silent success.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread

from thingapp.thingiverse import ThingiverseClient, ThingiverseError, UploadFlowMissing

log = logging.getLogger("thingapp.uploads")

REMEMBER_LEGACY = 3600.0  # seconds


class UploadFlow(StrEnum):
    AUTO = "auto"
    NEW = "new"
    LEGACY = "legacy"


class UploadMismatch(ThingiverseError):
    """Thingiverse's copy of the file is not what was sent (missing, another size or hash)."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(0, f"Thingiverse's copy of {name} {why}")
        self.name = name


class Steps(Protocol):
    """Where an upload tells the job's page what it is doing."""

    async def set(self, step: str, message: str, percent: int | None = None) -> None: ...

    def report(self, done: int, total: int, message: str | None = None) -> None: ...


def human_size(size: int) -> str:
    """684 -> "684 B", 9_500 -> "9.5 KB", 4_100_000 -> "4.1 MB"."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.1f} KB"
    return f"{size / 1_000_000:.1f} MB"


class Uploader:
    def __init__(self, thingiverse: ThingiverseClient, flow: UploadFlow,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.thingiverse = thingiverse
        self.flow = flow
        self.clock = clock
        self._legacy_until = float("-inf")

    def _try_new(self) -> bool:
        if self.flow is UploadFlow.AUTO:
            return self.clock() >= self._legacy_until
        return self.flow is UploadFlow.NEW

    async def post(self, token: str, thing_id: int, path: Path, name: str, steps: Steps,
                   picture: Path | None = None) -> dict[str, Any]:
        """Post the file to the Thing, and `picture` (a PNG) with it, which Thingiverse makes
        one of the Thing's images; the file as the Thing lists it now."""
        size = (await anyio.Path(path).stat()).st_size
        total = human_size(size)

        def report(done: int, of: int) -> None:
            steps.report(done, of, f"Uploading {name} ({human_size(done)} of {total})…")

        pieces: list[tuple[Path, str, Callable[[int, int], None] | None]] = [
            (path, name, report)]
        if picture is not None:
            pieces.append((picture, picture.name, None))
        await steps.set("upload", f"Uploading {name} (0 B of {total})…", 0)
        if self._try_new():
            try:
                pending = [await self.thingiverse.upload_file(token, piece, piece_name, counter)
                           for piece, piece_name, counter in pieces]
            except UploadFlowMissing as exc:
                if self.flow is UploadFlow.NEW:
                    raise
                log.warning("uploadFile answered %s: using the older upload flow for %.0f s",
                            exc.status, REMEMBER_LEGACY)
                self._legacy_until = self.clock() + REMEMBER_LEGACY
            else:
                await steps.set("finalize", "Finishing on Thingiverse…")
                await self.thingiverse.finalize_files(token, thing_id, pending)
                return await self._read_back(token, thing_id, path, name, size, picture)
        for piece, piece_name, counter in pieces:
            ticket = await self.thingiverse.request_upload(token, thing_id, piece_name)
            finalize_url = await self.thingiverse.send_to_storage(ticket, piece, piece_name,
                                                                  counter)
            await steps.set("finalize", "Finishing on Thingiverse…")
            await self.thingiverse.finalize_upload(token, finalize_url)
        return await self._read_back(token, thing_id, path, name, size, picture)

    async def _read_back(self, token: str, thing_id: int, path: Path, name: str,
                         size: int, picture: Path | None) -> dict[str, Any]:
        """The newest file of the Thing by this name; it must be the bytes sent, and the
        picture must be among the Thing's images."""
        if picture is not None:
            images = await self.thingiverse.get_thing_images(token, thing_id)
            if not any(_same_name(image.get("name"), picture.name) for image in images):
                raise UploadMismatch(picture.name, "is not among the Thing's images.")
        files = await self.thingiverse.get_thing_files(token, thing_id)
        named = [f for f in files if _same_name(f.get("name"), name)
                 and isinstance(f.get("id"), int)]
        if not named:
            raise UploadMismatch(name, "is not on the Thing after the upload.")
        file = max(named, key=lambda f: int(f["id"]))
        if file.get("size") != size:
            raise UploadMismatch(name, f"has {file.get('size')} bytes, not the {size} sent.")
        expected = file.get("hash")
        if isinstance(expected, str) and expected:
            digest = await anyio.to_thread.run_sync(_md5, path)
            if not _hash_matches(expected, digest):
                raise UploadMismatch(name, "differs from the file sent (its MD5 does not match).")
        return file


def _same_name(listed: object, sent: str) -> bool:
    """Thingiverse takes `#` and `,` out of uploaded names."""
    if not isinstance(listed, str):
        return False
    return listed in (sent, sent.replace("#", "").replace(",", ""))


def _md5(path: Path) -> bytes:
    digest = hashlib.md5()
    with open(path, "rb") as data:
        for chunk in iter(lambda: data.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.digest()


def _hash_matches(given: str, digest: bytes) -> bool:
    """A `hash` in hex (older files) or base64 (newer ones)."""
    if given.lower() == digest.hex():
        return True
    try:
        return base64.b64decode(given, validate=True) == digest
    except (binascii.Error, ValueError):
        return False
