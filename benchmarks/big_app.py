"""The app with a tool that makes a big file without trimesh, to measure what posting it costs.

    python -m benchmarks.big_app --port 9001 --megabytes 200   (settings from the environment)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import uvicorn

from thingapp.app import create_app
from thingapp.settings import Settings
from thingapp.tools import ProducedFile, SourceFile
from thingapp.tools.scale import ScaleTool


class BigFileTool:
    """Writes a file of N MB in 1 MB blocks: the posting is what's measured, not the making."""
    id, label, extensions = "scale", "Big file", (".stl",)
    folder = ScaleTool.folder  # its form: the options are ignored

    def __init__(self, megabytes: int) -> None:
        self.megabytes = megabytes

    def parse_options(self, raw: Any) -> None:
        return None

    def run(self, source: SourceFile, options: None, workdir: Path) -> list[ProducedFile]:
        out = workdir / "big.stl"
        block = b"\0" * (1024 * 1024)
        with open(out, "wb") as f:
            for _ in range(self.megabytes):
                f.write(block)
        return [ProducedFile(out, out.name, f"{self.megabytes} MB.")]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()
    app = create_app(Settings.from_env(os.environ), tools=[BigFileTool(args.megabytes)])
    uvicorn.run(app, host="127.0.0.1", port=args.port, access_log=False, log_config=None)
