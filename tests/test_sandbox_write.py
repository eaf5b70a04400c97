"""The sandbox's write side, driven through HTTP: Things made, changed, deleted and published,
files uploaded in three steps (API, storage form, finalize), and injected faults."""

from __future__ import annotations

import base64
import json
import os
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from sandbox_helpers import (
    SANDBOX_URL,
    Page,
    assert_conforms,
    bearer,
    load_schema,
    make_client,
    mint_token,
)
from starlette.testclient import TestClient

from thingapp.sandbox import SandboxConfig, default_config

MARA, REMY, OLAF = 1001, 1002, 1003
FIELD_ORDER = [
    "AWSAccessKeyId",
    "bucket",
    "key",
    "acl",
    "success_action_redirect",
    "policy",
    "signature",
    "Content-Type",
    "Content-Disposition",
]
REMIX = {
    "name": "Cable Clip, 7 mm",
    "license": "cc-sa",
    "category": "Other",
    "description": "The clip, widened for a 7 mm cable.",
    "tags": ["cable", "remix"],
    "ancestors": [2002],
    "is_remix": True,
}
AUTH_AT_STORAGE = "Only one auth mechanism allowed"


# --- helpers --------------------------------------------------------------------------------


def config(**changes: Any) -> SandboxConfig:
    base = default_config(SANDBOX_URL, "http://127.0.0.1:8000")
    return SandboxConfig(base.public_url, base.app_url, base.clients, **changes)


@pytest.fixture
def small_uploads() -> Iterator[TestClient]:
    with make_client(config(max_upload_bytes=1000)) as client:
        yield client


def api(sandbox: TestClient, method: str, path: str, user_id: int, **kwargs: Any) -> Any:
    headers = bearer(mint_token(sandbox, user_id))
    return sandbox.request(method, path, headers=headers, **kwargs)


def create(sandbox: TestClient, user_id: int = REMY, **fields: Any) -> dict[str, Any]:
    response = api(sandbox, "POST", "/things/", user_id, json={**REMIX, **fields})
    assert response.status_code == 200, response.text
    thing: dict[str, Any] = response.json()
    return thing


def start_upload(
    sandbox: TestClient, thing_id: int, filename: str = "clip.stl", user_id: int = REMY
) -> dict[str, Any]:
    response = api(sandbox, "POST", f"/things/{thing_id}/files", user_id,
                   json={"filename": filename})
    assert response.status_code == 200, response.text
    form: dict[str, Any] = response.json()
    return form


def post_form(sandbox: TestClient, form: dict[str, Any], content: bytes, **kwargs: Any) -> Any:
    """The storage form as httpx sends it: every field in order, then the file."""
    name = form["fields"]["key"].rsplit("/", 1)[-1]
    path = urlsplit(form["action"]).path
    return sandbox.post(path, data=form["fields"], files={"file": (name, content)}, **kwargs)


def multipart(parts: list[tuple[str, str | bytes]]) -> dict[str, Any]:
    """A hand-made multipart body, parts exactly in the given order (`file` gets a filename)."""
    boundary = "sandbox-test-7e3f0a"
    body = bytearray()
    for name, value in parts:
        filename = '; filename="x.stl"' if name == "file" else ""
        disposition = f'form-data; name="{name}"{filename}'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        body += b"\r\n" + (value.encode() if isinstance(value, str) else value) + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return {"content": bytes(body),
            "headers": {"Content-Type": f"multipart/form-data; boundary={boundary}"}}


def s3_error(response: Any) -> tuple[str, str]:
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "Error"
    return root.findtext("Code") or "", root.findtext("Message") or ""


def finalize(sandbox: TestClient, form: dict[str, Any], user_id: int = REMY) -> Any:
    url = form["fields"]["success_action_redirect"]
    return api(sandbox, "POST", urlsplit(url).path, user_id)


def upload(sandbox: TestClient, thing_id: int, content: bytes, name: str = "clip.stl") -> Any:
    """All three steps; the finalize answer."""
    form = start_upload(sandbox, thing_id, name)
    assert post_form(sandbox, form, content).status_code == 303
    return finalize(sandbox, form)


def files_of(sandbox: TestClient, thing_id: int) -> list[dict[str, Any]]:
    response = api(sandbox, "GET", f"/things/{thing_id}/files", MARA)
    assert response.status_code == 200
    files: list[dict[str, Any]] = response.json()
    return files


def set_fault(sandbox: TestClient, **fault: Any) -> Any:
    return sandbox.post("/sandbox/faults", json=fault)


# --- creating Things ----------------------------------------------------------------------


def test_create_answers_a_draft_remix_of_the_token_user(sandbox: TestClient) -> None:
    thing = create(sandbox)
    assert thing["id"] == 9001
    assert (thing["creator"]["id"], thing["creator"]["name"]) == (REMY, "remy_remix")
    assert thing["license"] == "Creative Commons - Attribution - Share Alike"
    assert thing["allows_derivatives"] is True
    assert (thing["is_published"], thing["is_wip"]) == (0, 1)
    assert (thing["is_derivative"], thing["is_remix"]) == (True, True)
    assert [a["id"] for a in thing["ancestors"]] == [2002]
    assert thing["ancestors"][0]["name"] == "Cable Clip"
    assert thing["ancestors"][0]["creator"]["name"] == "olaf_original"
    assert [t["name"] for t in thing["tags"]] == ["cable", "remix"]
    assert thing["description"] == REMIX["description"]
    assert thing["public_url"] == f"{SANDBOX_URL}/thing:9001"
    assert thing["file_count"] == 0
    # Every key a seeded Thing has, plus is_remix.
    seeded = api(sandbox, "GET", "/things/2001", MARA).json()
    assert set(thing) == set(seeded) | {"is_remix"}
    assert create(sandbox, name="Second")["id"] == 9002


def test_created_thing_reads_back_with_its_ancestors(sandbox: TestClient) -> None:
    created = create(sandbox)
    again = api(sandbox, "GET", "/things/9001", OLAF)
    assert again.status_code == 200
    assert again.json() == created
    ancestors = api(sandbox, "GET", "/things/9001/ancestors", OLAF)
    assert ancestors.status_code == 200
    assert ancestors.json() == created["ancestors"]
    assert api(sandbox, "GET", "/things/2002/ancestors", OLAF).json() == []
    assert api(sandbox, "GET", "/things/9999/ancestors", OLAF).status_code == 404


def test_created_thing_shows_as_a_remix_on_its_page_and_the_index(sandbox: TestClient) -> None:
    create(sandbox)
    page = sandbox.get("/thing:9001")
    assert page.status_code == 200
    assert Page(page.text).texts["h1"] == ["Cable Clip, 7 mm"]
    assert '<a href="/thing:2002">Cable Clip</a>' in page.text
    assert "/thing:9001" in {a["href"] for a in Page(sandbox.get("/").text).all("a")}


@pytest.mark.parametrize(
    ("code", "display", "allows"),
    [
        ("cc", "Creative Commons - Attribution", True),
        ("cc-nd", "Creative Commons - Attribution - No Derivatives", False),
        ("cc-nc", "Creative Commons - Attribution - Non-Commercial", True),
        ("cc-nc-nd", "Creative Commons - Attribution - Non-Commercial - No Derivatives", False),
        ("pd0", "Creative Commons - Public Domain Dedication", True),
        ("bsd", "BSD License", True),
    ],
)
def test_create_turns_the_licence_code_into_its_display_string(
    sandbox: TestClient, code: str, display: str, allows: bool
) -> None:
    thing = create(sandbox, license=code, ancestors=[], is_remix=False)
    assert (thing["license"], thing["allows_derivatives"]) == (display, allows)
    assert (thing["is_derivative"], thing["ancestors"], thing["is_remix"]) == (False, [], False)


def test_create_ignores_unknown_fields(sandbox: TestClient) -> None:
    thing = create(sandbox, is_customizer=False, colour="red")
    assert "colour" not in thing and "is_customizer" not in thing


@pytest.mark.parametrize(
    "body",
    [
        {"license": "cc", "category": "Other"},
        {"name": "   ", "license": "cc", "category": "Other"},
        {"name": "X", "category": "Other"},
        {"name": "X", "license": "cc-by", "category": "Other"},
        {"name": "X", "license": ["cc"], "category": "Other"},
        {"name": "X", "license": "cc"},
        {"name": "X", "license": "cc", "category": "Gizmos"},
        {"name": "X", "license": "cc", "category": "Other", "ancestors": [9999]},
        {"name": "X", "license": "cc", "category": "Other", "ancestors": ["2002"]},
        {"name": "X", "license": "cc", "category": "Other", "ancestors": 2002},
        {"name": "X", "license": "cc", "category": "Other", "tags": "a,b"},
        {"name": "X", "license": "cc", "category": "Other", "is_wip": "yes"},
        {"name": "X", "license": "cc", "category": "Other", "description": None},
        ["not", "an", "object"],
    ],
    ids=["no-name", "blank-name", "no-license", "unknown-license", "license-not-text",
         "no-category", "unknown-category", "unknown-ancestor", "ancestor-as-text",
         "ancestors-not-list", "tags-not-list", "is_wip-not-bool", "description-null",
         "not-an-object"],
)
def test_create_refuses_bad_bodies_with_a_sentence(sandbox: TestClient, body: Any) -> None:
    response = api(sandbox, "POST", "/things/", REMY, json=body)
    assert response.status_code == 400
    message = response.json()["error"]
    assert re.fullmatch(r"[A-Z].*\.", message)
    assert response.headers["x-error"] == message
    assert api(sandbox, "GET", "/things/9001", REMY).status_code == 404


def test_create_refuses_a_body_that_is_not_json(sandbox: TestClient) -> None:
    response = api(sandbox, "POST", "/things/", REMY, content=b"name=X&license=cc")
    assert (response.status_code, response.json()) == (
        400, {"error": "The body must be a JSON object."})


WRITES = [
    ("POST", "/things/"),
    ("PATCH", "/things/2001"),
    ("DELETE", "/things/2001"),
    ("POST", "/things/2001/publish"),
    ("POST", "/things/2001/files"),
    ("GET", "/things/2001/ancestors"),
    ("POST", "/files/3001/finalize"),
]


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_write_routes_want_a_live_bearer_token(
    sandbox: TestClient, method: str, path: str
) -> None:
    response = sandbox.request(method, path, json={"name": "X"},
                               headers={"Authorization": "Bearer " + "0" * 32})
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized"}
    assert api(sandbox, "GET", "/things/2001", MARA).json()["name"] == "Calibration Cube"


# --- updating, deleting, publishing ------------------------------------------------------------


def test_patch_changes_only_the_given_fields(sandbox: TestClient) -> None:
    created = create(sandbox)
    response = api(sandbox, "PATCH", "/things/9001", REMY,
                   json={"name": "Wider clip", "license": "cc-nc-sa", "tags": ["x"]})
    assert response.status_code == 200
    thing = response.json()
    assert thing["name"] == "Wider clip"
    assert thing["license"] == "Creative Commons - Attribution - Non-Commercial - Share Alike"
    assert [t["name"] for t in thing["tags"]] == ["x"]
    assert thing["description"] == created["description"]
    assert thing["ancestors"] == created["ancestors"]
    assert api(sandbox, "GET", "/things/9001", MARA).json() == thing


def test_patch_can_set_ancestors_but_not_the_thing_itself(sandbox: TestClient) -> None:
    create(sandbox, ancestors=[], is_remix=False)
    set_them = api(sandbox, "PATCH", "/things/9001", REMY,
                   json={"ancestors": [2002, 2005], "is_remix": True})
    assert set_them.json()["is_derivative"] is True
    listed = api(sandbox, "GET", "/things/9001/ancestors", REMY).json()
    assert [a["id"] for a in listed] == [2002, 2005]
    itself = api(sandbox, "PATCH", "/things/9001", REMY, json={"ancestors": [9001]})
    assert itself.status_code == 400


def test_only_the_owner_may_patch_delete_publish_or_upload(sandbox: TestClient) -> None:
    for method, path, body in [
        ("PATCH", "/things/2002", {"name": "Mine now"}),
        ("DELETE", "/things/2002", None),
        ("POST", "/things/2002/publish", None),
        ("POST", "/things/2002/files", {"filename": "x.stl"}),
    ]:
        response = api(sandbox, method, path, REMY, json=body)
        assert response.status_code == 403, (method, path)
        assert response.json() == {"error": "Forbidden"}
        assert response.headers["x-error"] == "Forbidden"
    thing = api(sandbox, "GET", "/things/2002", REMY).json()
    assert thing["name"] == "Cable Clip"
    assert len(files_of(sandbox, 2002)) == 3


def test_delete_removes_the_thing_its_files_and_its_index_entry(sandbox: TestClient) -> None:
    created = create(sandbox)
    upload(sandbox, 9001, b"solid clip\nendsolid clip\n")
    assert "/thing:9001" in sandbox.get("/").text

    response = api(sandbox, "DELETE", "/things/9001", REMY)
    assert response.status_code == 200
    assert response.json()["id"] == 9001
    assert response.json()["name"] == created["name"]
    for path in ("/things/9001", "/things/9001/files", "/things/9001/ancestors", "/files/8001"):
        assert api(sandbox, "GET", path, REMY).status_code == 404, path
    assert sandbox.get("/storage/8001/clip.stl").status_code == 404
    assert sandbox.get("/thing:9001").status_code == 404
    assert "/thing:9001" not in sandbox.get("/").text
    assert api(sandbox, "DELETE", "/things/9001", REMY).status_code == 404


def test_deleting_an_ancestor_drops_it_from_the_remix(sandbox: TestClient) -> None:
    original = create(sandbox, user_id=MARA, ancestors=[], is_remix=False)
    create(sandbox, ancestors=[original["id"]])
    assert api(sandbox, "DELETE", f"/things/{original['id']}", MARA).status_code == 200
    assert api(sandbox, "GET", "/things/9002/ancestors", REMY).json() == []


def test_publish_refuses_a_blank_description_until_one_is_set(sandbox: TestClient) -> None:
    create(sandbox, description="")
    refused = api(sandbox, "POST", "/things/9001/publish", REMY)
    assert refused.status_code == 400
    assert refused.json() == {"errors": ["Description is required."]}
    assert api(sandbox, "GET", "/things/9001", REMY).json()["is_published"] == 0

    patched = api(sandbox, "PATCH", "/things/9001", REMY, json={"description": "Now described."})
    assert patched.json()["description_html"] == "<div><p>Now described.</p></div>\n"
    published = api(sandbox, "POST", "/things/9001/publish", REMY)
    assert published.status_code == 200
    assert (published.json()["is_published"], published.json()["is_wip"]) == (1, 0)
    assert api(sandbox, "GET", "/things/9001", MARA).json()["is_published"] == 1


# --- uploading files ----------------------------------------------------------------------


def test_upload_form_has_the_issued_fields_in_order(sandbox: TestClient) -> None:
    create(sandbox)
    form = start_upload(sandbox, 9001, "clip.stl")
    assert form["action"] == f"{SANDBOX_URL}/storage-upload"
    fields = form["fields"]
    assert list(fields) == FIELD_ORDER
    assert re.fullmatch(r"uploads/[^/]+/clip\.stl", fields["key"])
    assert fields["acl"] == "public-read"
    assert fields["success_action_redirect"] == f"{SANDBOX_URL}/files/8001/finalize"
    assert fields["Content-Type"] == "application/octet-stream"
    assert fields["Content-Disposition"] == 'attachment; filename="clip.stl"'
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert {"key": fields["key"]} in policy["conditions"]
    assert ["content-length-range", 0, 512 * 1024 * 1024] in policy["conditions"]
    assert len(base64.b64decode(fields["signature"])) == 20  # an HMAC-SHA1
    # Each upload gets its own key, id and signature.
    other = start_upload(sandbox, 9001, "clip.stl")["fields"]
    assert other["key"] != fields["key"] and other["signature"] != fields["signature"]
    assert other["success_action_redirect"].endswith("/files/8002/finalize")


def test_three_step_upload_lists_the_file_and_serves_its_bytes(sandbox: TestClient) -> None:
    create(sandbox)
    content = os.urandom(5000)
    form = start_upload(sandbox, 9001, "clip.stl")
    stored = post_form(sandbox, form, content)
    assert stored.status_code == 303
    assert stored.headers["location"] == form["fields"]["success_action_redirect"]
    assert files_of(sandbox, 9001) == []  # not before it is finalized

    finalized = finalize(sandbox, form)
    assert finalized.status_code == 200
    entry = finalized.json()
    assert (entry["id"], entry["name"], entry["size"]) == (8001, "clip.stl", 5000)
    assert entry["formatted_size"] == "4 kb"
    assert files_of(sandbox, 9001) == [entry]
    assert api(sandbox, "GET", "/files/8001", MARA).json() == entry
    assert api(sandbox, "GET", "/things/9001", MARA).json()["file_count"] == 1
    assert "clip.stl" in sandbox.get("/thing:9001").text

    direct = sandbox.get(entry["direct_url"])
    assert direct.status_code == 200 and direct.content == content
    hop = api(sandbox, "GET", urlsplit(entry["download_url"]).path, MARA)
    assert hop.status_code == 302 and hop.headers["location"] == entry["direct_url"]
    assert sandbox.get(entry["public_url"]).headers["location"] == entry["direct_url"]


def test_uploaded_bytes_live_on_disk_until_shutdown() -> None:
    with make_client() as client:
        create(client)
        upload(client, 9001, b"x" * 3000)
        world = client.app.state.sandbox.world  # type: ignore[attr-defined]
        path = world.files[8001].content
        assert path.read_bytes() == b"x" * 3000
        assert path.parent == world.blobs.directory
        assert [p.name for p in path.parent.iterdir()] == ["8001"]  # no .part left over
    assert not path.parent.exists()


def test_storage_can_answer_200_with_an_empty_body() -> None:
    with make_client(config(storage_success_status=200)) as client:
        create(client)
        form = start_upload(client, 9001)
        stored = post_form(client, form, b"abc")
        assert (stored.status_code, stored.content) == (200, b"")
        assert "location" not in stored.headers
        assert finalize(client, form).json()["size"] == 3


def test_config_refuses_other_storage_success_statuses() -> None:
    with pytest.raises(ValueError, match="303 or 200"):
        config(storage_success_status=201)


@pytest.mark.parametrize("filename", ["", "   ", "a/b.stl", "..\\b.stl", "..", "a\nb.stl", 42])
def test_upload_refuses_blank_and_path_like_filenames(sandbox: TestClient, filename: Any) -> None:
    create(sandbox)
    response = api(sandbox, "POST", "/things/9001/files", REMY, json={"filename": filename})
    assert response.status_code == 400
    assert response.json()["error"].endswith(".")


def tampered_policy(fields: dict[str, str]) -> str:
    policy = json.loads(base64.b64decode(fields["policy"]))
    policy["conditions"][-1] = ["content-length-range", 0, 10**12]
    return base64.b64encode(json.dumps(policy).encode()).decode()


def _swap(fields: dict[str, str], a: str, b: str) -> list[tuple[str, str | bytes]]:
    items: list[tuple[str, str | bytes]] = list(fields.items())
    i, j = FIELD_ORDER.index(a), FIELD_ORDER.index(b)
    items[i], items[j] = items[j], items[i]
    return items


FILE = ("file", b"solid x\nendsolid x\n")
BAD_FORMS = {
    "wrong-order": lambda f: [*_swap(f, "key", "acl"), FILE],
    "file-not-last": lambda f: [*f.items(), FILE, ("note", "after")],
    "file-first": lambda f: [FILE, *f.items()],
    "missing-field": lambda f: [*((k, v) for k, v in f.items() if k != "signature"), FILE],
    "extra-field": lambda f: [*f.items(), ("x-amz-meta-note", "hi"), FILE],
    "no-file": lambda f: [*f.items()],
    "two-files": lambda f: [*f.items(), FILE, FILE],
    "tampered-policy": lambda f: [*{**f, "policy": tampered_policy(f)}.items(), FILE],
    "other-acl": lambda f: [*{**f, "acl": "private"}.items(), FILE],
    "unknown-key": lambda f: [*{**f, "key": "uploads/nope/x.stl"}.items(), FILE],
}


@pytest.mark.parametrize("case", list(BAD_FORMS))
def test_storage_refuses_a_form_that_is_not_the_issued_one(sandbox: TestClient, case: str) -> None:
    create(sandbox)
    form = start_upload(sandbox, 9001)
    response = sandbox.post("/storage-upload", **multipart(BAD_FORMS[case](form["fields"])))
    assert response.status_code == 400
    code, message = s3_error(response)
    assert code == "InvalidArgument"
    assert re.fullmatch(r"[A-Z].*\.", message)
    assert "location" not in response.headers
    # Nothing arrived: finalizing still finds no bytes.
    assert finalize(sandbox, form).status_code == 400


def test_storage_accepts_the_same_form_built_by_hand(sandbox: TestClient) -> None:
    # The control for the refusals above: the hand-made body in the issued order is accepted.
    create(sandbox)
    form = start_upload(sandbox, 9001)
    response = sandbox.post("/storage-upload", **multipart([*form["fields"].items(), FILE]))
    assert response.status_code == 303
    assert finalize(sandbox, form).json()["size"] == len(FILE[1])


def test_storage_refuses_a_body_that_is_not_multipart(sandbox: TestClient) -> None:
    create(sandbox)
    form = start_upload(sandbox, 9001)
    response = sandbox.post("/storage-upload", data=form["fields"])
    assert response.status_code == 400
    assert s3_error(response)[0] == "InvalidArgument"


def test_storage_refuses_an_upload_carrying_authorization(sandbox: TestClient) -> None:
    create(sandbox)
    form = start_upload(sandbox, 9001)
    token = mint_token(sandbox, REMY)
    response = post_form(sandbox, form, b"abc", headers=bearer(token))
    assert response.status_code == 400
    code, message = s3_error(response)
    assert code == "InvalidArgument" and AUTH_AT_STORAGE in message
    assert finalize(sandbox, form).status_code == 400
    assert post_form(sandbox, form, b"abc").status_code == 303


def test_storage_enforces_the_size_limit(small_uploads: TestClient) -> None:
    create(small_uploads)
    form = start_upload(small_uploads, 9001)
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    assert ["content-length-range", 0, 1000] in policy["conditions"]
    for size in (1001, 100_000):  # read until past the limit; refused from Content-Length
        response = post_form(small_uploads, form, b"x" * size)
        assert response.status_code == 400
        code, message = s3_error(response)
        assert code == "EntityTooLarge"
        assert ET.fromstring(response.content).findtext("MaxSizeAllowed") == "1000"
    assert finalize(small_uploads, form).status_code == 400
    assert post_form(small_uploads, form, b"x" * 1000).status_code == 303
    assert finalize(small_uploads, form).json()["size"] == 1000


def test_finalize_needs_the_bytes_the_owner_and_happens_once(sandbox: TestClient) -> None:
    create(sandbox)
    form = start_upload(sandbox, 9001)
    early = finalize(sandbox, form)
    assert early.status_code == 400 and early.json()["error"].endswith(".")
    post_form(sandbox, form, b"abc")
    assert finalize(sandbox, form, user_id=MARA).status_code == 403
    assert finalize(sandbox, form).status_code == 200
    twice = finalize(sandbox, form)
    assert twice.status_code == 400
    assert twice.json() == {"error": "This file has already been finalized."}
    assert len(files_of(sandbox, 9001)) == 1
    assert api(sandbox, "GET", "/things/9001", REMY).json()["file_count"] == 1
    assert api(sandbox, "POST", "/files/9999/finalize", REMY).status_code == 404
    # The finalized upload's form can't be replayed to overwrite its bytes.
    assert post_form(sandbox, form, b"other").status_code == 400


def test_a_pending_upload_goes_with_its_deleted_thing(sandbox: TestClient) -> None:
    create(sandbox)
    form = start_upload(sandbox, 9001)
    assert post_form(sandbox, form, b"abc").status_code == 303
    assert api(sandbox, "DELETE", "/things/9001", REMY).status_code == 200
    assert finalize(sandbox, form).status_code == 404


# --- conformance with the published schemas -----------------------------------------------------


def test_created_thing_and_its_ancestors_conform_to_the_published_schemas(
    sandbox: TestClient,
) -> None:
    thing = create(sandbox)
    assert_conforms(thing, load_schema("thing_schema.yaml"), {"zip_data"})
    ancestors = api(sandbox, "GET", "/things/9001/ancestors", REMY).json()
    assert ancestors
    for summary in ancestors + thing["ancestors"]:
        assert_conforms(summary, load_schema("short_thing_schema.yaml"), set())


def test_finalized_file_conforms_to_the_published_schema(sandbox: TestClient) -> None:
    create(sandbox)
    entry = upload(sandbox, 9001, b"solid x\nendsolid x\n").json()
    assert_conforms(entry, load_schema("file_schema.yaml"), set())
    pdf = upload(sandbox, 9001, b"%PDF-1.4\n", name="notes.pdf").json()
    assert_conforms(pdf, load_schema("file_schema.yaml"), set())
    assert pdf["direct_url"] is None  # not a printable type, like the seeded PDF


# --- fault injection ----------------------------------------------------------------------------


def test_a_status_fault_answers_instead_of_the_route(sandbox: TestClient) -> None:
    set_fault(sandbox, route="GET /things/{id}", status=503)
    response = api(sandbox, "GET", "/things/2001", MARA)
    assert response.status_code == 503
    assert response.json() == {"error": "Injected fault"}
    assert response.headers["x-error"] == "Injected fault"
    assert api(sandbox, "GET", "/things/2001/files", MARA).status_code == 200  # other routes
    log = sandbox.get("/sandbox/requests").json()
    assert {"method": "GET", "path": "/things/2001", "status": 503} in log


def test_a_storage_fault_answers_s3_xml_and_stores_nothing(sandbox: TestClient) -> None:
    create(sandbox)
    form = start_upload(sandbox, 9001)
    set_fault(sandbox, route="POST /storage-upload", status=500)
    response = post_form(sandbox, form, b"abc")
    assert response.status_code == 500
    assert s3_error(response) == ("InternalError", "Injected fault.")
    assert finalize(sandbox, form).status_code == 400


def test_a_fault_with_times_expires(sandbox: TestClient) -> None:
    created = set_fault(sandbox, route="POST /login/oauth/tokeninfo", status=500, times=2)
    assert created.status_code == 201
    assert created.json() == {"route": "POST /login/oauth/tokeninfo", "kind": "status",
                              "latency_ms": 0, "status": 500, "bytes_per_second": None,
                              "times": 2, "body": None}
    token = mint_token(sandbox)
    ask = lambda: sandbox.post("/login/oauth/tokeninfo", data={"access_token": token})  # noqa: E731
    assert ask().status_code == 500
    assert [f["times"] for f in sandbox.get("/sandbox/faults").json()] == [1]
    assert ask().status_code == 500
    assert sandbox.get("/sandbox/faults").json() == []
    assert ask().status_code == 200


def test_faults_are_listed_and_cleared(sandbox: TestClient) -> None:
    set_fault(sandbox, route="POST /things/", status=500)
    set_fault(sandbox, route="POST /things/{id}/publish", latency_ms=5)
    set_fault(sandbox, route="POST /things/", status=502)  # replaces the first
    listed = sandbox.get("/sandbox/faults").json()
    assert [(f["route"], f["status"]) for f in listed] == [
        ("POST /things/", 502), ("POST /things/{id}/publish", None)]
    assert api(sandbox, "POST", "/things/", REMY, json=REMIX).status_code == 502
    assert sandbox.delete("/sandbox/faults").json() == {"cleared": 2}
    assert sandbox.get("/sandbox/faults").json() == []
    assert api(sandbox, "POST", "/things/", REMY, json=REMIX).status_code == 200


def timed(call: Any) -> tuple[float, Any]:
    started = time.monotonic()
    result = call()
    return time.monotonic() - started, result


def test_a_latency_fault_delays_the_route(sandbox: TestClient) -> None:
    token = mint_token(sandbox)
    get = lambda: sandbox.get("/things/2001", headers=bearer(token))  # noqa: E731
    quick, _ = timed(get)
    set_fault(sandbox, route="GET /things/{id}", latency_ms=300)
    slow, response = timed(get)
    assert response.status_code == 200
    assert slow >= 0.3 > quick


def test_a_bytes_per_second_fault_slows_an_upload(sandbox: TestClient) -> None:
    create(sandbox)
    content = os.urandom(30_000)
    quick, response = timed(lambda: post_form(sandbox, start_upload(sandbox, 9001), content))
    assert response.status_code == 303
    set_fault(sandbox, route="POST /storage-upload", bytes_per_second=100_000)
    form = start_upload(sandbox, 9001)
    slow, response = timed(lambda: post_form(sandbox, form, content))
    assert response.status_code == 303
    assert slow >= 0.3 > quick  # 30 kB at 100 kB/s, plus the form fields
    assert finalize(sandbox, form).json()["size"] == 30_000


@pytest.mark.parametrize(
    ("body", "phrase"),
    [
        ({"route": "POST /nowhere"}, "POST /storage-upload"),
        ({"route": "GET /things/2001"}, "GET /things/{id}"),
        ({"route": "POST /sandbox/faults", "status": 500}, "POST /things/{id}/files"),
        ({"route": "POST /things/", "status": 200}, "400 to 599"),
        ({"route": "POST /things/", "latency_ms": -1}, "latency_ms"),
        ({"route": "POST /things/", "times": 0}, "times"),
        ({"route": "POST /things/", "bytes_per_second": 1.5}, "bytes_per_second"),
        ({"route": "POST /things/", "latency": 100}, "Unknown fault fields latency"),
    ],
)
def test_bad_faults_are_refused_with_a_sentence(
    sandbox: TestClient, body: dict[str, Any], phrase: str
) -> None:
    response = set_fault(sandbox, **body)
    assert response.status_code == 400
    assert phrase in response.json()["error"]
    assert sandbox.get("/sandbox/faults").json() == []


def test_a_fault_can_answer_with_a_given_json_body(sandbox):  # noqa: F811 (the fixture)
    r = sandbox.post("/sandbox/faults", json={"route": "POST /things/{id}/publish", "status": 400,
                                              "body": {"errors": ["Add an image."]}})
    assert r.status_code == 201
    token = mint_token(sandbox)
    refused = sandbox.post("/things/2001/publish", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 400 and refused.json() == {"errors": ["Add an image."]}
    assert sandbox.post("/sandbox/faults", json={"route": "POST /things/{id}/publish",
                                                 "body": {"x": 1}}).status_code == 400
