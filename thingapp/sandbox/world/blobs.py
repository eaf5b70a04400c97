"""Uploaded bytes on disk, in a temporary directory owned by one sandbox instance.

The directory is made on the first upload and removed when the app shuts down (lifespan), when
the store is garbage-collected, or at interpreter exit, whichever comes first.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path


class BlobStore:
    """Where storage keeps the bytes of uploads; one per world."""

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._cleanup: weakref.finalize[..., BlobStore] | None = None

    def path_for(self, name: str) -> Path:
        """A path in the store's directory (made if needed) for a blob called `name`."""
        if self._dir is None or not self._dir.is_dir():
            self._dir = Path(tempfile.mkdtemp(prefix="thingiverse-sandbox-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._dir, True)
        return self._dir / name

    @property
    def directory(self) -> Path | None:
        """The directory holding the blobs, or None before the first upload."""
        return self._dir

    def close(self) -> None:
        """Remove the directory and everything in it."""
        if self._cleanup is not None:
            self._cleanup()
        self._dir = self._cleanup = None
