"""Tools run in worker processes, never in the web process, each under a memory and a time limit.

A mesh job is CPU-bound and its input is anyone's file: in the web process it would slow every
other request, and a hostile file could take the process's memory. So each job's tool runs in a
process of its own, forked from a server that has imported the tools already (fast to start):
the OS bounds its address space (RLIMIT_AS), the app kills it at the time limit, and at most
`size` run at once (one per core by default); the others wait their turn. A process that hits a
limit is simply gone: the next job gets a new one, and the web process never noticed.

As with any multiprocessing start method but fork, a script that builds the app at import time
must do so under `if __name__ == "__main__":` (the fork server imports the main module).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import resource
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread

from thingapp.tools import ProducedFile, SourceFile, ToolInputError

WORKER_NICENESS = 19  # the most a process can give way; the web process wins any contended core
# (and on Linux SCHED_IDLE: niceness 19 still takes a share of a core the web process wants; a
# 1.3M-triangle job doubled the p99 of other requests, measured while it was being made)
# Imported once, in the fork server.
PRELOAD = ["thingapp.tools.meshes", "thingapp.tools.scale", "thingapp.drawing"]


class Work(Protocol):
    """What a worker runs: a tool, or the remix's picture maker."""

    @property
    def id(self) -> str: ...

    def run(self, source: SourceFile, options: Any, workdir: Path) -> list[ProducedFile]: ...


class WorkerLimitHit(Exception):
    """The tool passed the job's memory or time limit; `str(exc)` is the user's sentence."""


@dataclass(frozen=True)
class _Outcome:
    files: list[ProducedFile] | None = None
    refusal: str | None = None  # a ToolInputError's sentence
    out_of_memory: bool = False
    error: str | None = None  # anything else, for the log


def _work(conn: Connection, tool: Work, source: SourceFile, options: Any, workdir: Path,
          memory_bytes: int) -> None:
    """In the worker process: limit ourselves, run the tool, send back what came of it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C stops the app, which stops us
    os.nice(WORKER_NICENESS)  # requests first
    if hasattr(os, "SCHED_IDLE"):  # Linux: run only on a core nothing else wants, and give it
        with contextlib.suppress(OSError):  # up the moment one does (a sandbox may refuse)
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    try:
        outcome = _Outcome(files=tool.run(source, options, workdir))
    except ToolInputError as exc:
        outcome = _Outcome(refusal=str(exc))
    except MemoryError:
        outcome = _Outcome(out_of_memory=True)
    except Exception as exc:
        outcome = _Outcome(error=f"{type(exc).__name__}: {exc}")
    try:
        conn.send(outcome)
    except MemoryError:  # not even room to answer
        os._exit(3)
    finally:
        conn.close()


class Workers:
    def __init__(self, size: int, memory_mb: int, seconds: float) -> None:
        self.size, self.memory_mb, self.seconds = max(1, size), memory_mb, seconds
        self._slots = asyncio.Semaphore(self.size)
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)

    @property
    def busy(self) -> bool:
        """Whether a new job would wait for a worker."""
        return self._slots.locked()

    def slot(self) -> asyncio.Semaphore:
        """Hold one of the `size` places while running (`async with workers.slot():`)."""
        return self._slots

    async def run(self, tool: Work, source: SourceFile, options: Any,
                  workdir: Path) -> list[ProducedFile]:
        """In a worker process, inside `slot()`: the tool's files, or ToolInputError (its
        sentence), WorkerLimitHit (ours), or RuntimeError (the tool failed some other way)."""
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_work, daemon=True, name=f"thingapp-{tool.id}",
            args=(sender, tool, source, options, workdir, self.memory_mb * 1024 * 1024))
        try:
            await anyio.to_thread.run_sync(process.start)
            sender.close()  # ours; the worker has its own
            ready = await anyio.to_thread.run_sync(receiver.poll, self.seconds,
                                                   abandon_on_cancel=True)
            if not ready:
                raise WorkerLimitHit(
                    f"This model took longer than {self.seconds:g} seconds to process, so "
                    "it was stopped. Try a smaller model.")
            try:
                outcome: _Outcome = receiver.recv()
            except EOFError:  # the worker died without a word: the OS stopped it
                raise WorkerLimitHit(self._too_large()) from None
        finally:
            if process.is_alive():
                process.kill()
            if process.pid is not None:  # it started
                await anyio.to_thread.run_sync(process.join)
            receiver.close()
        if outcome.files is not None:
            return outcome.files
        if outcome.refusal is not None:
            raise ToolInputError(outcome.refusal)
        if outcome.out_of_memory:
            raise WorkerLimitHit(self._too_large())
        raise RuntimeError(f"the {tool.id} tool failed: {outcome.error}")

    def _too_large(self) -> str:
        return (f"This model is too large to process here: it needs more than "
                f"{self.memory_mb:,} MB.")
