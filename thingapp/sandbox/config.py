"""What a sandbox instance is told: its own origin, the app's origin and the registered apps."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

# Thingiverse's documented limit: 300 requests per 5-minute window.
DEFAULT_RATE_LIMIT = 300
DEFAULT_RATE_WINDOW_S = 300.0
DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024
# How storage has answered a successful upload form: 303 to the finalize URL, or (since 2023) 200.
STORAGE_SUCCESS_STATUSES = (303, 200)


@dataclass(frozen=True)
class SandboxClient:
    """An app registered with the sandbox, as an app is registered with Thingiverse."""

    client_id: str
    client_secret: str
    name: str
    redirect_uri: str


UPLOAD_FLOWS = ("both", "new", "legacy")


@dataclass(frozen=True)
class SandboxConfig:
    """Settings of one sandbox instance.

    `public_url` is the sandbox's own origin (it builds every `url`, `public_url`, `files_url`
    and `download_url` it hands out); `app_url` is the origin of the app embedded on Thing pages;
    the first of `clients` is that app. `rate_limit` is how many API requests one token may make
    in a window of `rate_window_s` seconds (a fixed window opened by the token's first request)
    before the API answers 429. `seed_dir` is a directory to seed the world from (see the module
    `seed_dir`; None: the built-in seed). `max_upload_bytes` is the largest file storage accepts
    in an upload form; `storage_success_status` is how storage answers a successful upload: 303
    with `Location: success_action_redirect`, or 200 with an empty body (Thingiverse has done
    both).
    """

    public_url: str
    app_url: str
    clients: tuple[SandboxClient, ...]
    rate_limit: int = DEFAULT_RATE_LIMIT
    rate_window_s: float = DEFAULT_RATE_WINDOW_S
    seed_dir: str | None = None
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    storage_success_status: int = 303
    upload_flow: str = "both"  # which upload endpoints exist: "new", "legacy" or "both"

    def __post_init__(self) -> None:
        for label, url in (("public_url", self.public_url), ("app_url", self.app_url)):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc or url.endswith("/"):
                raise ValueError(
                    f"{label} must be an http(s) URL without a trailing slash, "
                    f"like http://localhost:8800; got {url!r}."
                )
        if not self.clients:
            raise ValueError("Register at least one client: the first one is the embedded app.")
        ids = [client.client_id for client in self.clients]
        if len(set(ids)) != len(ids):
            raise ValueError(f"Client ids must be unique; got {ids}.")
        if self.upload_flow not in UPLOAD_FLOWS:
            raise ValueError(f"upload_flow must be one of {', '.join(UPLOAD_FLOWS)}; "
                             f"got {self.upload_flow!r}.")
        if self.rate_limit < 1:
            raise ValueError(f"rate_limit must be positive; got {self.rate_limit}.")
        if not self.rate_window_s > 0:
            raise ValueError(f"rate_window_s must be positive; got {self.rate_window_s}.")
        if self.max_upload_bytes < 1:
            raise ValueError(f"max_upload_bytes must be positive; got {self.max_upload_bytes}.")
        if self.storage_success_status not in STORAGE_SUCCESS_STATUSES:
            raise ValueError(
                f"storage_success_status must be 303 or 200; got {self.storage_success_status}."
            )

    def client(self, client_id: str) -> SandboxClient | None:
        """The registered client with this id, or None."""
        return next((c for c in self.clients if c.client_id == client_id), None)

    @property
    def app_origin(self) -> str:
        """The origin of the app embedded on Thing pages (the bridge answers only it)."""
        return origin_of(self.app_url)

    def app_origins(self) -> frozenset[str]:
        """The registered app origins the API answers CORS requests from: `app_url`'s and each
        client's redirect_uri's."""
        return frozenset({self.app_origin} | {origin_of(c.redirect_uri) for c in self.clients})


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, as a browser's `Origin` header spells it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def default_config(
    public_url: str,
    app_url: str,
    client_id: str = "thingapp-demo",
    client_secret: str = "thingapp-demo-secret",
) -> SandboxConfig:
    """The demo setup: the app (embedded on Thing pages) plus a second app to mint tokens for.

    The second client exists so tests can hold a token issued to another app (wrong audience).
    """
    return SandboxConfig(
        public_url=public_url,
        app_url=app_url,
        clients=(
            SandboxClient(client_id, client_secret, "thingapp (demo)", app_url + "/callback"),
            SandboxClient(
                "other-app", "other-app-secret", "Some Other App", "http://127.0.0.1:9/callback"
            ),
        ),
    )
