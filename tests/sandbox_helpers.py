"""What the sandbox's tests share: its addresses and seeded ids, clients, tokens, an HTML reader,
the published-schema checks, and running an app on a real port."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jsonschema
import pytest
import uvicorn
import yaml
from starlette.testclient import TestClient

from thingapp.sandbox import SandboxConfig, create_sandbox_app, default_config

SANDBOX_URL = "http://localhost:8800"
APP_URL = "http://127.0.0.1:8000"
CALLBACK = APP_URL + "/callback"
APP_ID = "thingapp-demo"
APP_SECRET = "thingapp-demo-secret"
THING_IDS = (2001, 2002, 2003, 2004, 2005)
USER_IDS = (1001, 1002, 1003)
POPUP_FLAGS = {"allow-popups", "allow-popups-to-escape-sandbox"}
BASE_FLAGS = {"allow-scripts", "allow-same-origin", "allow-forms", "allow-downloads"}
USER_LABELS = {
    "mara_makes (Mara Maker)": "1001",
    "remy_remix (Remy Remixer)": "1002",
    "olaf_original (Olaf Original)": "1003",
}
SPEC_DIR = Path(__file__).resolve().parents[2] / "shared" / "thingiverse-openapi"
EXAMPLE = Path(__file__).resolve().parents[1] / "thingapp" / "sandbox" / "world" / "example_seed"


def make_client(config: SandboxConfig | None = None) -> TestClient:
    config = config or default_config(SANDBOX_URL, APP_URL)
    return TestClient(create_sandbox_app(config), base_url=SANDBOX_URL, follow_redirects=False)


def mint_token(sandbox: TestClient, user_id: int = 1001, client_id: str = APP_ID) -> str:
    response = sandbox.post("/sandbox/tokens", json={"user_id": user_id, "client_id": client_id})
    assert response.status_code == 201
    token: str = response.json()["access_token"]
    return token


def mint_code(sandbox: TestClient, user_id: int = 1001, client_id: str = APP_ID) -> str:
    response = sandbox.post("/sandbox/codes", json={"user_id": user_id, "client_id": client_id})
    assert response.status_code == 201
    code: str = response.json()["code"]
    return code


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tokeninfo(sandbox: TestClient, token: str) -> Any:
    return sandbox.post("/login/oauth/tokeninfo", data={"access_token": token})


def authorize(sandbox: TestClient, **fields: str) -> Any:
    form = {
        "client_id": APP_ID,
        "redirect_uri": CALLBACK,
        "response_type": "token",
        "user_id": "1001",
        "decision": "agree",
        **fields,
    }
    return sandbox.post("/login/oauth/authorize", data=form)


def fragment_of(location: str) -> dict[str, list[str]]:
    before, _, fragment = location.partition("#")
    assert before == CALLBACK
    return parse_qs(fragment)


class Page(HTMLParser):
    """An HTML page: its tags, the text of its h1s, labels and buttons, and each label's input."""

    TEXT_TAGS = ("h1", "label", "button")

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.texts: dict[str, list[str]] = {tag: [] for tag in self.TEXT_TAGS}
        self.labels: dict[str, dict[str, str | None]] = {}
        self._open: str | None = None
        self._text: list[str] = []
        self._label_input: dict[str, str | None] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in self.TEXT_TAGS:
            self._open, self._text, self._label_input = tag, [], {}
        elif tag == "input" and self._open == "label":
            self._label_input = dict(attrs)

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != self._open:
            return
        text = " ".join("".join(self._text).split())
        self.texts[tag].append(text)
        if tag == "label":
            self.labels[text] = self._label_input
        self._open = None

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def one(self, tag: str) -> dict[str, str | None]:
        found = self.all(tag)
        assert len(found) == 1, f"expected one <{tag}>, found {len(found)}"
        return found[0]



def seeded(seed_dir: Path | str) -> TestClient:
    base = default_config(SANDBOX_URL, APP_URL)
    return make_client(SandboxConfig(base.public_url, base.app_url, base.clients,
                                     seed_dir=str(seed_dir)))


@contextmanager
def running(app: Any, port: int) -> Iterator[str]:
    """An ASGI app on uvicorn, on a loopback port, in a thread; its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema file with relative $refs inlined and OpenAPI 3.0 `nullable` made JSON Schema."""
    if not SPEC_DIR.is_dir():
        pytest.skip(f"Thingiverse's OpenAPI files are not at {SPEC_DIR}")
    path = SPEC_DIR / "schemas" / name
    schema = to_json_schema(yaml.safe_load(path.read_text()), path.parent)
    assert isinstance(schema, dict)
    return schema


def to_json_schema(node: Any, base: Path) -> Any:
    if isinstance(node, list):
        return [to_json_schema(item, base) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = (base / node["$ref"]).resolve()
        resolved = to_json_schema(yaml.safe_load(target.read_text()), target.parent)
        # OpenAPI 3.0 ignores $ref siblings, but the spec means `nullable` next to a $ref.
        return allow_null(resolved) if node.get("nullable") else resolved
    converted = {k: to_json_schema(v, base) for k, v in node.items() if k != "nullable"}
    return allow_null(converted) if node.get("nullable") else converted


def allow_null(schema: dict[str, Any]) -> dict[str, Any]:
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    if isinstance(schema.get("type"), list):
        return {**schema, "type": sorted(set(schema["type"]) | {"null"})}
    return {"anyOf": [schema, {"type": "null"}]}


def assert_conforms(instance: Any, schema: dict[str, Any], may_lack: set[str]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft202012Validator(schema).iter_errors(instance)
    ]
    assert errors == []
    # The schemas require almost nothing; insist the sandbox fills in what they describe.
    assert set(schema["properties"]) - set(instance) <= may_lack
