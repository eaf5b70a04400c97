"""The app's configuration: one object, read from the environment only when asked.

Nothing here runs at import time; `Settings.from_env(os.environ)` is called by the CLI, and tests
build `Settings(...)` directly.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from thingapp.file_hosts import DEFAULT_FILE_HOSTS, valid_pattern
from thingapp.tools import DEFAULT_MAX_TRIANGLES

DEFAULT_THINGIVERSE_URL = "https://www.thingiverse.com"
# Measured (README, "Limits"): a binary STL at the 200 MB file limit peaks at about 1.6 GB of
# address space in a worker, scaled and written as 3MF.
DEFAULT_JOB_MEMORY_MB = 3072
MIN_JOB_MEMORY_MB = 512
DEFAULT_API_URL = "https://api.thingiverse.com"

# Keys people paste from examples; a signing key anyone can guess signs anyone's session.
PLACEHOLDER_KEYS = {"", "changeme", "change-me", "change_me", "secret", "dev", "development",
                    "test", "insecure", "your-secret-key", "replace-me", "xxx"}
MIN_KEY_LENGTH = 32


class SettingsError(Exception):
    """The settings cannot run the app; `problems` holds one sentence per fault."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def origin_of(url: str) -> str:
    """`https://www.thingiverse.com/x` -> `https://www.thingiverse.com`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Settings:
    client_id: str
    secret_key: str
    public_url: str
    thingiverse_url: str = DEFAULT_THINGIVERSE_URL
    api_url: str = DEFAULT_API_URL
    client_secret: str = ""
    frame_ancestors: tuple[str, ...] = ()
    store_url: str = "sqlite:///thingapp.sqlite3"
    demo: bool = False
    login_ttl: int = 600  # seconds a started sign-in may take
    session_ttl: int = 8 * 3600  # seconds a session lasts at most, however busy
    session_idle: int = 2 * 3600  # seconds a session lasts without being used
    upload_flow: str = "auto"  # "new" (uploadFile + FinalizeFiles), "legacy", or "auto"
    app_token: str = ""  # optional read-only token of the operator's: prefetches Things
    http_timeout: float = 10.0  # seconds for each call to Thingiverse
    job_stale_after: float = 30.0  # a running job silent this long lost its process
    webhook_secret: str = ""  # the secret path part of /webhooks/{secret}; empty: no webhooks
    max_file_mb: int = 200  # the largest model file the tool will download
    work_dir: str = ""  # where jobs keep their files; empty: a temporary folder
    job_workers: int = max(1, os.cpu_count() or 1)  # jobs processed at once, each in a process
    job_memory_mb: int = DEFAULT_JOB_MEMORY_MB  # each job's address space (RLIMIT_AS)
    job_seconds: float = 300.0  # each job's processing time (downloading and posting aside)
    max_triangles: int = DEFAULT_MAX_TRIANGLES  # the largest model a job will open
    file_hosts: tuple[str, ...] = DEFAULT_FILE_HOSTS  # besides the site and API origins
    logins_per_minute: int = 20  # sign-ins started per client address
    code_launches_per_minute: int = 5  # ?code= launches per client address
    jobs_per_hour: int = 30  # per user
    running_jobs: int = 2  # per user, at once
    trusted_proxies: tuple[str, ...] = ()  # whose X-Forwarded-For names the client
    work_dir_mb: int = 2048  # files kept for download, all told; the oldest go first

    def __post_init__(self) -> None:
        # Normalise once so every consumer sees the same shapes.
        object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        object.__setattr__(self, "thingiverse_url", self.thingiverse_url.rstrip("/"))
        object.__setattr__(self, "api_url", self.api_url.rstrip("/"))
        if not self.frame_ancestors:
            object.__setattr__(self, "frame_ancestors", (origin_of(self.thingiverse_url),))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read the documented `THINGAPP_*` / `THINGIVERSE_*` variables."""
        ancestors = tuple(env.get("THINGAPP_FRAME_ANCESTORS", "").split())
        return cls(
            client_id=env.get("THINGAPP_CLIENT_ID", "").strip(),
            client_secret=env.get("THINGAPP_CLIENT_SECRET", "").strip(),
            secret_key=env.get("THINGAPP_SECRET_KEY", ""),
            public_url=env.get("THINGAPP_PUBLIC_URL", "").strip(),
            thingiverse_url=env.get("THINGIVERSE_URL", DEFAULT_THINGIVERSE_URL).strip(),
            api_url=env.get("THINGIVERSE_API_URL", DEFAULT_API_URL).strip(),
            frame_ancestors=ancestors,
            store_url=env.get("THINGAPP_STORE", "sqlite:///thingapp.sqlite3").strip(),
            webhook_secret=env.get("THINGAPP_WEBHOOK_SECRET", "").strip(),
            app_token=env.get("THINGAPP_APP_TOKEN", "").strip(),
            max_file_mb=_int(env.get("THINGAPP_MAX_FILE_MB", "200")),
            work_dir=env.get("THINGAPP_WORK_DIR", "").strip(),
            job_workers=_int(env.get("THINGAPP_JOB_WORKERS", str(max(1, os.cpu_count() or 1)))),
            job_memory_mb=_int(env.get("THINGAPP_JOB_MEMORY_MB", str(DEFAULT_JOB_MEMORY_MB))),
            job_seconds=_float(env.get("THINGAPP_JOB_SECONDS", "300")),
            max_triangles=_int(env.get("THINGAPP_MAX_TRIANGLES", str(DEFAULT_MAX_TRIANGLES))),
            file_hosts=tuple(env.get("THINGAPP_FILE_HOSTS", "").split()) or DEFAULT_FILE_HOSTS,
            logins_per_minute=_int(env.get("THINGAPP_LOGINS_PER_MINUTE", "20")),
            code_launches_per_minute=_int(env.get("THINGAPP_CODE_LAUNCHES_PER_MINUTE", "5")),
            jobs_per_hour=_int(env.get("THINGAPP_JOBS_PER_HOUR", "30")),
            running_jobs=_int(env.get("THINGAPP_RUNNING_JOBS", "2")),
            trusted_proxies=tuple(env.get("THINGAPP_TRUSTED_PROXIES", "").replace(",", " ")
                                  .split()),
            work_dir_mb=_int(env.get("THINGAPP_WORK_DIR_MB", "2048")),
            http_timeout=_float(env.get("THINGAPP_HTTP_TIMEOUT", "10")),
            job_stale_after=_float(env.get("THINGAPP_JOB_STALE_AFTER", "30")),
            session_ttl=_int(env.get("THINGAPP_SESSION_MAX_SECONDS", str(8 * 3600))),
            session_idle=_int(env.get("THINGAPP_SESSION_IDLE_SECONDS", str(2 * 3600))),
            upload_flow=env.get("THINGAPP_UPLOAD_FLOW", "auto").strip().lower(),
        )

    @classmethod
    def for_demo(cls, *, public_url: str, thingiverse_url: str, client_id: str,
                 client_secret: str, store_url: str,
                 session_limits: Mapping[str, int] | None = None) -> Settings:
        """Settings for `thingapp demo`: a fresh random key each run, sandbox as Thingiverse,
        and limits loose enough for one developer (and a browser test suite) on loopback;
        `session_limits` may set `session_ttl` and `session_idle`, to try them out."""
        limits = dict(session_limits or {})
        return cls(client_id=client_id, client_secret=client_secret,
                   secret_key=secrets.token_urlsafe(32), public_url=public_url,
                   thingiverse_url=thingiverse_url, api_url=thingiverse_url,
                   store_url=store_url, demo=True, logins_per_minute=600,
                   code_launches_per_minute=120, jobs_per_hour=600, running_jobs=4,
                   session_ttl=limits.get("session_ttl", cls.session_ttl),
                   session_idle=limits.get("session_idle", cls.session_idle))

    @property
    def callback_url(self) -> str:
        return f"{self.public_url}/callback"

    def problems(self) -> list[str]:
        """Every reason these settings can't serve the app, one sentence each."""
        found = []
        if not self.client_id:
            found.append("THINGAPP_CLIENT_ID is missing: set it to your app's client ID from "
                         "Thingiverse's app page.")
        key = self.secret_key
        if key.strip().lower() in PLACEHOLDER_KEYS:
            found.append("THINGAPP_SECRET_KEY is missing or a placeholder: set it to a random "
                         "value, e.g. the output of `python -c 'import secrets; "
                         "print(secrets.token_urlsafe(32))'`.")
        elif len(key) < MIN_KEY_LENGTH:
            found.append(f"THINGAPP_SECRET_KEY is {len(key)} characters long: use at least "
                         f"{MIN_KEY_LENGTH} random characters.")
        for name, value, origin_only in (("THINGAPP_PUBLIC_URL", self.public_url, True),
                                         ("THINGIVERSE_URL", self.thingiverse_url, True),
                                         ("THINGIVERSE_API_URL", self.api_url, False)):
            problem = _url_problem(name, value, origin_only)
            if problem:
                found.append(problem)
        derived = self.frame_ancestors == (origin_of(self.thingiverse_url),)
        for ancestor in () if derived else self.frame_ancestors:  # else said above already
            problem = _url_problem("THINGAPP_FRAME_ANCESTORS", ancestor)
            if problem:
                found.append(problem)
        if not self.http_timeout > 0:
            found.append("THINGAPP_HTTP_TIMEOUT must be a number of seconds above 0.")
        if not self.job_stale_after > 0:
            found.append("THINGAPP_JOB_STALE_AFTER must be a number of seconds above 0.")
        if self.job_workers <= 0:
            found.append("THINGAPP_JOB_WORKERS must be a whole number of processes above 0.")
        if self.job_memory_mb < MIN_JOB_MEMORY_MB:
            found.append(f"THINGAPP_JOB_MEMORY_MB must be a whole number of megabytes, at least "
                         f"{MIN_JOB_MEMORY_MB} (a worker needs that much to start).")
        if not self.job_seconds > 0:
            found.append("THINGAPP_JOB_SECONDS must be a number of seconds above 0.")
        for pattern in self.file_hosts:
            if not valid_pattern(pattern):
                found.append(f"THINGAPP_FILE_HOSTS has {pattern!r}: write host names such as "
                             "cdn.thingiverse.com or *.thingiverse.com, without scheme or path.")
        for name, count in (("THINGAPP_LOGINS_PER_MINUTE", self.logins_per_minute),
                            ("THINGAPP_CODE_LAUNCHES_PER_MINUTE", self.code_launches_per_minute),
                            ("THINGAPP_JOBS_PER_HOUR", self.jobs_per_hour),
                            ("THINGAPP_RUNNING_JOBS", self.running_jobs),
                            ("THINGAPP_WORK_DIR_MB", self.work_dir_mb)):
            if count <= 0:
                found.append(f"{name} must be a whole number above 0.")
        if self.session_ttl <= 0:
            found.append("THINGAPP_SESSION_MAX_SECONDS must be a whole number of seconds above 0.")
        if self.upload_flow not in ("auto", "new", "legacy"):
            found.append(f"THINGAPP_UPLOAD_FLOW {self.upload_flow!r} is not one of auto, new, "
                         "legacy.")
        if self.session_idle <= 0:
            found.append("THINGAPP_SESSION_IDLE_SECONDS must be a whole number of seconds above 0.")
        if self.max_triangles <= 0:
            found.append("THINGAPP_MAX_TRIANGLES must be a whole number above 0.")
        if self.max_file_mb <= 0:
            found.append("THINGAPP_MAX_FILE_MB must be a whole number of megabytes above 0.")
        if not self.store_url.startswith(("sqlite:///", "redis://", "rediss://", "unix://")):
            found.append(f"THINGAPP_STORE {self.store_url!r} is not supported: use "
                         "sqlite:///path/to/file.sqlite3 or redis://host:port/0.")
        if self.webhook_secret and len(self.webhook_secret) < 16:
            found.append("THINGAPP_WEBHOOK_SECRET is too short to be unguessable: use at least "
                         "16 random characters, or leave it empty to turn webhooks off.")
        return found

    def validate(self) -> None:
        """Raise `SettingsError` unless the settings can serve the app."""
        found = self.problems()
        if found:
            raise SettingsError(found)


def _int(text: str) -> int:
    """A whole number, or -1 (which `problems` reports) when the text is not one."""
    try:
        return int(text.strip())
    except ValueError:
        return -1


def _float(text: str) -> float:
    """A number, or -1 (which `problems` reports) when the text is not one."""
    try:
        return float(text.strip())
    except ValueError:
        return -1.0


def _url_problem(name: str, value: str, origin_only: bool = True) -> str | None:
    if not value:
        return f"{name} is missing: set it to an origin such as https://example.com."
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"{name} {value!r} is not an http(s) URL: write it as https://host[:port]."
    if origin_only and (parts.path not in ("", "/") or parts.query or parts.fragment):
        return f"{name} {value!r} must be an origin with no path, query or fragment."
    return None
