"""Fixtures shared by the tests; the helpers they use live in world.py and live.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from world import World


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    with w.client, w.sandbox:
        yield w
