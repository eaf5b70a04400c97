"""Jobs: make a file from a Thing's model with a tool, then post it back, remix, or offer it.

A job runs as a task in the app process and writes its progress to the store, so the page can
poll it (EventSource can't send the Authorization header) and a reloaded frame finds it again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import orjson

from thingapp.actions import Action
from thingapp.failures import job_failure_sentence
from thingapp.licenses import find_license
from thingapp.pictures import PictureMaker
from thingapp.reads import CachedReads
from thingapp.remix import RemixRequest
from thingapp.store import JobRecord, JobStatus, JobStore
from thingapp.thingiverse import FileTooLarge, PublishRefused, ThingiverseClient, ThingiverseError
from thingapp.tools import Limits, ProducedFile, SourceFile, Tool, ToolInputError
from thingapp.uploads import Uploader, UploadFlow, UploadMismatch
from thingapp.workers import WorkerLimitHit, Workers

log = logging.getLogger("thingapp.jobs")

JOB_TTL = 24 * 3600
JOB_TIME_LIMIT = 30 * 60  # a job still busy after this (a trickling transfer) is stopped
STALE_AFTER = 30.0  # a running job silent this long lost its process (it writes 6x as often)
PROGRESS_EVERY = 0.25
UPLOAD_ATTEMPTS = 3
UPLOAD_RETRY_PAUSES = (0.5, 2.0)  # between whole three-step attempts
INTERRUPTED = ("The job stopped when the app restarted. Nothing more will happen to it; "
               "please start again.")


class JobFailed(Exception):
    """The job can't go on; `str(exc)` is the sentence the user sees."""


@dataclass(frozen=True)
class JobRequest:
    thing: Mapping[str, Any]
    file: Mapping[str, Any]  # the chosen model file, as Thingiverse lists it
    tool: Tool
    options: Any  # what tool.parse_options returned
    action: Action
    remix: RemixRequest | None = None


def job_view(job: JobRecord, stale_after: float = STALE_AFTER) -> dict[str, Any]:
    """A job as the page sees it; a running job whose heartbeat stopped reads as failed, and
    says where a half-made remix it leaves behind is."""
    status, message, percent = job.status, job.message, job.percent
    result = orjson.loads(job.result) if job.result else None
    if status is JobStatus.RUNNING and time.time() - job.updated_at > stale_after:
        status, message, percent = JobStatus.FAILED, INTERRUPTED, None
        if result and result.get("thing_id"):
            message += (f" A half-made remix may be left at {result['url']}: finish or delete "
                        "it on Thingiverse.")
    return {"id": job.id, "thing_id": job.thing_id, "status": str(status), "step": job.step,
            "percent": percent, "message": message, "result": result}


def _retryable(exc: ThingiverseError) -> bool:
    return exc.status == 0 or exc.status >= 500 or exc.status in (420, 429)


class _Progress:
    """Holds a job's current step and writes it to the store: at once on a new step, at most
    every PROGRESS_EVERY seconds for percentages, and a heartbeat when nothing changes."""

    def __init__(self, store: JobStore, job_id: str, heartbeat: float) -> None:
        self.store, self.job_id, self.heartbeat = store, job_id, heartbeat
        self.step, self.message = "start", ""
        self.percent: int | None = None
        self._written: tuple[str, str, int | None] | None = None
        self._last_write = 0.0

    async def set(self, step: str, message: str, percent: int | None = None) -> None:
        self.step, self.message, self.percent = step, message, percent
        await self._write()

    async def keep(self, result: dict[str, Any]) -> None:
        """Record what exists already (a created remix), so even a lost job can say so."""
        await self.store.update_job(self.job_id, step=self.step, message=self.message,
                                    percent=self.percent, result=orjson.dumps(result).decode())

    def report(self, done: int, total: int, message: str | None = None) -> None:
        """Called from byte-counting code; the ticker writes it."""
        self.percent = min(100, int(done * 100 / total)) if total else None
        if message is not None:
            self.message = message

    async def _write(self) -> None:
        current = (self.step, self.message, self.percent)
        if current != self._written:
            await self.store.update_job(self.job_id, step=self.step, message=self.message,
                                        percent=self.percent)
            self._written = current
        else:
            await self.store.touch_job(self.job_id)
        self._last_write = time.monotonic()

    async def tick(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            changed = (self.step, self.message, self.percent) != self._written
            if changed or time.monotonic() - self._last_write > self.heartbeat:
                await self._write()


class Jobs:
    def __init__(self, store: JobStore, thingiverse: ThingiverseClient, reads: CachedReads,
                 workers: Workers, workdir: Path, *, thingiverse_url: str, max_file_bytes: int,
                 limits: Limits, stale_after: float = STALE_AFTER,
                 work_dir_bytes: int = 2048 * 1024 * 1024,
                 upload_flow: UploadFlow = UploadFlow.AUTO) -> None:
        self.store = store
        self.thingiverse = thingiverse
        self.uploader = Uploader(thingiverse, upload_flow)
        self.reads = reads
        self.workers = workers
        self.limits = limits
        self.workdir = workdir
        self.thingiverse_url = thingiverse_url
        self.max_file_bytes = max_file_bytes
        self.stale_after = stale_after
        self.work_dir_bytes = work_dir_bytes
        self._tasks: set[asyncio.Task[None]] = set()  # references only, so tasks aren't GC'd
        self._busy: set[str] = set()  # jobs of this process whose folder is in use

    # Reading jobs: a user sees only their own.

    async def get(self, user_id: str, job_id: str) -> JobRecord | None:
        job = await self.store.get_job(job_id)
        return job if job is not None and job.user_id == user_id else None

    async def running(self, user_id: str) -> int:
        """How many of the user's jobs are running now (on any instance)."""
        return await self.store.running_jobs(user_id, time.time() - self.stale_after)

    async def is_running(self, user_id: str, job_id: str) -> bool:
        """The user's job is still being made (and its process is still heard from)."""
        job = await self.get(user_id, job_id)
        return job is not None and self.view(job)["status"] == JobStatus.RUNNING

    async def latest(self, user_id: str, thing_id: int) -> JobRecord | None:
        """The user's latest job on a Thing, so a reloaded frame finds what it was doing."""
        return await self.store.latest_job(user_id, thing_id)

    def view(self, job: JobRecord) -> dict[str, Any]:
        return job_view(job, self.stale_after)

    async def publish(self, job: JobRecord, token: str) -> dict[str, Any]:
        """Publish the work-in-progress remix `job` created; the job as it reads now."""
        result = orjson.loads(job.result) if job.result else {}
        if job.status is not JobStatus.DONE or not result.get("thing_id"):
            raise JobFailed("This job made no remix to publish.")
        if not result.get("published"):
            await self.thingiverse.publish_thing(token, int(result["thing_id"]))
            result.update(published=True, publish_errors=[],
                          summary=f"Published the remix {result.get('name', '')}.")
            await self.store.update_job(job.id, step="done", message=result["summary"],
                                        percent=100, status=JobStatus.DONE,
                                        result=orjson.dumps(result).decode())
        updated = await self.store.get_job(job.id)
        assert updated is not None
        return self.view(updated)

    async def file(self, job: JobRecord) -> Path | None:
        """The produced file of a finished download job, if it is still here."""
        if job.status is not JobStatus.DONE:
            return None
        folder = anyio.Path(self.workdir / job.id / "out")
        files = sorted([path async for path in folder.iterdir()]) if await folder.is_dir() else []
        return Path(files[0]) if files else None

    async def start(self, user_id: str, token: str, request: JobRequest) -> str:
        job_id = secrets.token_urlsafe(12)
        await self.store.create_job(job_id, user_id, int(request.thing["id"]),
                                    "Starting…", JOB_TTL)
        task = asyncio.create_task(self._run(job_id, user_id, token, request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job_id

    async def stop(self) -> None:
        """At shutdown: stop this process's jobs. Their heartbeat stops, so they read as
        interrupted (see job_view) instead of running forever."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, job_id: str, user_id: str, token: str, request: JobRequest) -> None:
        progress = _Progress(self.store, job_id, heartbeat=self.stale_after / 6)
        ticker = asyncio.create_task(progress.tick())
        folder = self.workdir / job_id
        keep_folder = False
        final: dict[str, Any]
        self._busy.add(job_id)
        try:
            async with asyncio.timeout(JOB_TIME_LIMIT):
                produced = await self._produce(folder, token, request, progress)
                if request.action is Action.POST_TO_THING:
                    result = await self._post_to_thing(user_id, token, request, produced,
                                                       progress)
                elif request.action is Action.REMIX:
                    result = await self._post_remix(token, request, produced, progress)
                else:
                    result = {"download": produced.name,
                              "summary": f"{produced.name} is ready. {produced.summary}"}
                    keep_folder = True
            final = {"step": "done", "status": JobStatus.DONE, "percent": 100,
                     "message": result["summary"], "result": orjson.dumps(result).decode()}
        except (JobFailed, ToolInputError) as exc:
            final = _failed(str(exc))
        except TimeoutError:
            final = _failed(f"The job took longer than {JOB_TIME_LIMIT // 60} minutes and was "
                            "stopped. Please try again.")
        except ThingiverseError as exc:
            log.info("job %s: Thingiverse failed: %s", job_id, exc)
            final = _failed(job_failure_sentence(exc))
        except Exception:
            log.exception("job %s failed", job_id)
            final = _failed("Something went wrong on our side. Please try again.")
        finally:
            # The ticker must be gone before the last word, or a late progress write of its
            # could land after it and make a finished job read as running.
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
            self._busy.discard(job_id)
            if not keep_folder:
                await anyio.to_thread.run_sync(_remove, folder)
        await self.store.update_job(job_id, **final)
        if keep_folder:
            await anyio.to_thread.run_sync(self.keep_within_quota)

    def keep_within_quota(self) -> None:
        """Remove the oldest kept download results until the job folders fit the quota
        (THINGAPP_WORK_DIR_MB); folders of jobs under way are never touched."""
        folders = []
        for folder in self.workdir.iterdir() if self.workdir.is_dir() else ():
            size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            folders.append((folder.stat().st_mtime, folder, size))
        total = sum(size for _, _, size in folders)
        for _, folder, size in sorted(folders):
            if total <= self.work_dir_bytes:
                return
            if folder.name not in self._busy:
                shutil.rmtree(folder, ignore_errors=True)
                total -= size

    def sweep_files(self) -> None:
        """Remove job folders older than a job's life (download results nobody fetched)."""
        cutoff = time.time() - JOB_TTL
        for folder in self.workdir.iterdir() if self.workdir.is_dir() else ():
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)

    async def _produce(self, folder: Path, token: str, request: JobRequest,
                       progress: _Progress) -> ProducedFile:
        source_name = str(request.file.get("name"))
        await anyio.Path(folder / "out").mkdir(parents=True)
        source_path = folder / ("source" + Path(source_name).suffix.lower())
        await progress.set("download", f"Downloading {source_name}…", 0)
        try:
            await self.thingiverse.download_file(token, dict(request.file), source_path,
                                                 self.max_file_bytes, progress.report)
        except FileTooLarge as exc:
            raise JobFailed(f"{source_name} is larger than the "
                            f"{exc.limit // (1024 * 1024)} MB this app accepts.") from exc
        if self.workers.busy:
            await progress.set("wait", "Waiting for a free worker…")
        source = SourceFile(source_path, source_name, request.thing, self.limits)
        try:
            async with self.workers.slot():
                await progress.set("make", f"Making the file with {request.tool.label}…")
                produced = await self.workers.run(request.tool, source, request.options,
                                                  folder / "out")
        except WorkerLimitHit as exc:
            raise JobFailed(str(exc)) from exc
        finally:
            await anyio.Path(source_path).unlink(missing_ok=True)  # only what the job made is kept
        if not produced:
            raise JobFailed("The tool made no file.")
        return produced[0]

    async def _upload(self, token: str, thing_id: int, produced: ProducedFile,
                      progress: _Progress, picture: Path | None = None) -> dict[str, Any]:
        """The upload (see uploads.py), tried again when Thingiverse or storage fails
        transiently; a copy that does not match what was sent is not tried again (it would
        post the file twice)."""
        for attempt in range(UPLOAD_ATTEMPTS):
            try:
                return await self.uploader.post(token, thing_id, produced.path, produced.name,
                                                progress, picture)
            except UploadMismatch:
                raise
            except ThingiverseError as exc:
                if not _retryable(exc) or attempt == UPLOAD_ATTEMPTS - 1:
                    raise
                log.info("upload attempt %d failed (%s); trying again", attempt + 1, exc)
                await progress.set("upload", "The upload was interrupted; trying again…")
                await _pause_before_retry(attempt)
        raise AssertionError("unreachable")

    async def _post_to_thing(self, user_id: str, token: str, request: JobRequest,
                             produced: ProducedFile, progress: _Progress) -> dict[str, Any]:
        thing_id = int(request.thing["id"])
        try:
            await self._upload(token, thing_id, produced, progress)
        finally:  # even a failed finalize may have added the file: read the list afresh
            await self.reads.forget_files(user_id, thing_id)
        name = str(request.thing.get("name") or f"Thing {thing_id}")
        return {"url": f"{self.thingiverse_url}/thing:{thing_id}", "file": produced.name,
                "name": name,
                "summary": f"Posted {produced.name} to {name}. {produced.summary}"}

    async def _post_remix(self, token: str, request: JobRequest, produced: ProducedFile,
                          progress: _Progress) -> dict[str, Any]:
        assert request.remix is not None
        remix, parent = request.remix, request.thing
        picture = await self._picture(request, produced, progress)
        await progress.set("create", "Creating the remix on Thingiverse…")
        created = await self.thingiverse.create_thing(token, {
            "name": remix.name, "license": remix.license, "category": remix.category,
            "description": remix_description(parent, produced, self.thingiverse_url),
            "ancestors": [int(parent["id"])], "is_remix": True, "is_wip": True,
            "tags": parent_tags(parent),
        })
        remix_id = int(created["id"])
        url = f"{self.thingiverse_url}/thing:{remix_id}"
        await progress.keep({"url": url, "thing_id": remix_id})
        try:
            await self._upload(token, remix_id, produced, progress, picture)
        except ThingiverseError as exc:
            await progress.set("cleanup", "The upload failed; removing the half-made remix…")
            await self._remove_remix(token, remix_id, url, exc, progress)
        result = {"url": url, "thing_id": remix_id, "name": remix.name, "file": produced.name,
                  "published": False,
                  "summary": f"Created the remix {remix.name} with {produced.name}, "
                             "saved as a work in progress."}
        if remix.publish:
            await progress.set("publish", "Publishing the remix…")
            try:
                await self.thingiverse.publish_thing(token, remix_id)
            except ThingiverseError as exc:
                # The remix and its file are there: keep them, say why it is not published.
                errors = exc.errors if isinstance(exc, PublishRefused) else [
                    job_failure_sentence(exc)]
                result["publish_errors"] = errors
                result["summary"] = (f"Created the remix {remix.name} with {produced.name}, "
                                     "saved as a work in progress; Thingiverse would not "
                                     "publish it yet:")
                return result
            result["published"] = True
            result["summary"] = f"Published the remix {remix.name} with {produced.name}."
        return result

    async def _picture(self, request: JobRequest, produced: ProducedFile,
                       progress: _Progress) -> Path | None:
        """A PNG of the produced model for the remix's page, drawn in a worker; None (and a log
        line) if it can't be drawn: the remix itself matters more than its picture."""
        await progress.set("picture", "Drawing a picture of the remix…")
        folder = produced.path.parent.parent / "picture"
        await anyio.Path(folder).mkdir(exist_ok=True)
        source = SourceFile(produced.path, produced.name, request.thing, self.limits)
        try:
            async with self.workers.slot():
                drawn = await self.workers.run(PictureMaker(), source, None, folder)
        except (WorkerLimitHit, ToolInputError, RuntimeError) as exc:
            log.warning("no picture for the remix: %s", exc)
            return None
        picture = folder / f"{Path(produced.name).stem}.png"
        await anyio.Path(drawn[0].path).rename(picture)
        return picture

    async def _remove_remix(self, token: str, remix_id: int, url: str,
                            cause: ThingiverseError, progress: _Progress) -> None:
        """No orphan Things: a remix whose file could not be posted is deleted, or reported."""
        reason = job_failure_sentence(cause)
        for attempt in range(UPLOAD_ATTEMPTS):
            try:
                await self.thingiverse.delete_thing(token, remix_id)
            except ThingiverseError as exc:
                log.warning("could not delete half-made remix %s: %s", remix_id, exc)
                if not _retryable(exc):
                    break
                await _pause_before_retry(attempt)
                continue
            await progress.keep({})  # it is gone: nothing to link to
            raise JobFailed(f"{reason} The half-made remix was removed, so nothing was "
                            "posted.") from cause
        raise JobFailed(f"{reason} The half-made remix could not be removed: please delete it "
                        f"on Thingiverse: {url}") from cause


async def _pause_before_retry(attempt: int) -> None:
    await asyncio.sleep(UPLOAD_RETRY_PAUSES[min(attempt, len(UPLOAD_RETRY_PAUSES) - 1)])


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def _failed(message: str) -> dict[str, Any]:
    return {"step": "failed", "status": JobStatus.FAILED, "message": message}


MAX_TAGS = 20  # Thingiverse's limit is not documented; its pages show about this many


def parent_tags(parent: Mapping[str, Any]) -> list[str]:
    """The parent's tag names, for its remix (Thingiverse lists tags as objects)."""
    names = [t.get("name") if isinstance(t, dict) else t for t in parent.get("tags") or []]
    kept = [n.strip() for n in names if isinstance(n, str) and n.strip()]
    return list(dict.fromkeys(kept))[:MAX_TAGS]


def remix_description(parent: Mapping[str, Any], produced: ProducedFile,
                      thingiverse_url: str) -> str:
    """Attribution in words: title, designer, licence and link of the original."""
    creator: Mapping[str, Any] = parent["creator"] if isinstance(parent.get("creator"),
                                                                  Mapping) else {}
    licence = find_license(parent.get("license"))
    licence_name = licence.display if licence else str(parent.get("license") or "its licence")
    return (f'Remix of "{parent.get("name")}" by {creator.get("name") or "its designer"} '
            f"({thingiverse_url}/thing:{parent['id']}), used under {licence_name}.\n\n"
            f"{produced.summary}")
