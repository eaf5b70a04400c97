"""Seeding the sandbox from a directory: the example seed (a real Thing), the rules, and the
sentences for a directory that can't be used."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trimesh
from sandbox_helpers import APP_URL, EXAMPLE, SANDBOX_URL, Page, bearer, mint_token, seeded
from starlette.testclient import TestClient

from thingapp.sandbox import SandboxConfig, create_sandbox_app, default_config
from thingapp.sandbox.world.seed_dir import SeedError, load_seed_dir

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "thingiverse-samples"
THING_ID, CREATOR_ID, JOHN_ID = 922740, 139295, 12345
EXAMPLE_FILES = ["pi_case_bottom.stl", "pi_case_top.stl", "vesa_75mm_mount.stl"]


@pytest.fixture
def example() -> Iterator[TestClient]:
    with seeded(EXAMPLE) as client:
        yield client


def get(client: TestClient, path: str, user_id: int = JOHN_ID) -> Any:
    return client.get(path, headers=bearer(mint_token(client, user_id)))


def on_sandbox(value: Any) -> Any:
    """A real answer with Thingiverse's own hosts moved onto the sandbox, as the seed serves it."""
    text = json.dumps(value)
    for host in ("https://api.thingiverse.com", "https://www.thingiverse.com"):
        text = text.replace(host, SANDBOX_URL)
    return json.loads(text)


# --- the example seed ---------------------------------------------------------------------------


def test_the_example_thing_is_the_real_sample(example: TestClient) -> None:
    sample = json.loads((EXAMPLE / "things" / f"{THING_ID}.json").read_text())
    if SAMPLES.is_dir():  # the example is a copy of the shared sample, unedited
        assert sample == json.loads((SAMPLES / "thing_922740.json").read_text())
    thing = get(example, f"/things/{THING_ID}").json()
    assert list(thing) == list(sample)  # no field added or dropped, in the same order
    expected = on_sandbox(sample)
    expected["file_count"] = len(EXAMPLE_FILES)  # derived from the files beside it
    assert thing == expected
    assert thing["files_url"] == f"{SANDBOX_URL}/things/{THING_ID}/files"
    assert thing["public_url"] == f"{SANDBOX_URL}/thing:{THING_ID}"
    assert thing["thumbnail"].startswith("https://cdn.thingiverse.com/")  # other hosts as given


def test_the_example_things_files_are_served(example: TestClient) -> None:
    files = get(example, f"/things/{THING_ID}/files").json()
    assert [f["name"] for f in files] == EXAMPLE_FILES
    assert [f["id"] for f in files] == [3001, 3002, 3003]
    for entry, name in zip(files, EXAMPLE_FILES, strict=True):
        served = example.get(entry["direct_url"].removeprefix(SANDBOX_URL))
        assert served.content == (EXAMPLE / "things" / str(THING_ID) / "files" / name).read_bytes()
        assert entry["size"] == len(served.content)
        mesh = trimesh.load(io.BytesIO(served.content), file_type="stl")
        assert isinstance(mesh, trimesh.Trimesh) and mesh.is_watertight


def test_the_creator_without_a_user_file_is_made_from_the_summary(example: TestClient) -> None:
    creator = get(example, "/users/0110-M-P").json()
    assert creator["id"] == CREATOR_ID
    assert creator["location"] == "Atlanta, GA"
    assert creator["cover_image"].endswith("16013743986_c54ee8b62b_h_preview_large.jpg")
    assert creator["things_url"] == f"{SANDBOX_URL}/users/0110-M-P/things"
    assert [t["id"] for t in get(example, "/users/0110-M-P/things").json()] == [THING_ID]
    # The creator can sign in and owns the Thing.
    token = mint_token(example, CREATOR_ID)
    renamed = example.patch(f"/things/{THING_ID}", headers=bearer(token), json={"name": "Case"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Case"


def test_a_user_file_is_served_as_given_less_current_app(example: TestClient) -> None:
    me = get(example, "/users/me").json()
    sample = on_sandbox(json.loads((EXAMPLE / "users" / "john.doe.json").read_text()))
    assert me["current_app"]["name"] == "thingapp (demo)"  # the token's app, not the file's
    given = {k: v for k, v in sample.items() if k != "current_app"}
    assert {k: me[k] for k in given} == given
    assert get(example, "/users/john.doe").json()["id"] == JOHN_ID


def test_an_ancestor_outside_the_seed_is_served_as_given(example: TestClient) -> None:
    ancestors = get(example, f"/things/{THING_ID}/ancestors").json()
    sample = json.loads((EXAMPLE / "things" / f"{THING_ID}.json").read_text())
    assert ancestors == on_sandbox(sample["ancestors"])
    assert get(example, "/things/608169").status_code == 404


def test_the_example_world_replaces_the_built_in_one(example: TestClient) -> None:
    assert get(example, "/things/2001").status_code == 404
    assert example.post("/sandbox/tokens", json={"user_id": 1001,
                                                 "client_id": "thingapp-demo"}).status_code == 400
    page = example.get(f"/thing:{THING_ID}")
    assert page.status_code == 200
    assert Page(page.text).texts["h1"] == [
        "Raspberry Pi 3 (B/B+), Pi 2 B, and Pi 1 B+ case with VESA mounts and more"]
    index = example.get("/").text
    assert f"/thing:{THING_ID}" in index and "0110-M-P" in index and "john.doe" in index
    made = example.post("/things/", headers=bearer(mint_token(example, JOHN_ID)), json={
        "name": "Stand", "license": "cc", "category": "Other"})
    assert made.json()["id"] == 9001 and made.json()["creator"]["name"] == "john.doe"


# --- the rules, on small directories --------------------------------------------------------


def write(root: Path, relative: str, content: Any) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content))


CREATOR = {"id": 77, "name": "tiny_maker"}


def test_a_minimal_thing_gets_what_the_sandbox_needs(tmp_path: Path) -> None:
    write(tmp_path, "things/5.json", {"id": 5, "name": "Tiny", "creator": CREATOR})
    write(tmp_path, "things/5/files/tiny.stl", b"solid t\nendsolid t\n")
    with seeded(tmp_path) as client:
        thing = get(client, "/things/5", 77).json()
        assert (thing["name"], thing["file_count"], thing["creator"]["name"]) == (
            "Tiny", 1, "tiny_maker")
        assert thing["files_url"] == f"{SANDBOX_URL}/things/5/files"
        assert client.get("/thing:5").status_code == 200
        assert [t["id"] for t in get(client, "/users/tiny_maker/things", 77).json()] == [5]
        me = get(client, "/users/me", 77).json()
        assert (me["name"], me["url"]) == ("tiny_maker", f"{SANDBOX_URL}/users/tiny_maker")


def test_ancestors_within_the_seed_are_linked_to_the_live_thing(tmp_path: Path) -> None:
    write(tmp_path, "users/maker.json", {**CREATOR, "first_name": "Tia"})
    write(tmp_path, "things/5.json", {"id": 5, "name": "Parent", "creator": CREATOR})
    write(tmp_path, "things/6.json", {
        "id": 6, "name": "Child", "creator": CREATOR,
        "ancestors": [{"id": 5, "name": "Parent (old name)"}], "is_derivative": True})
    with seeded(tmp_path) as client:
        token = mint_token(client, 77)
        client.patch("/things/5", headers=bearer(token), json={"name": "Parent, renamed"})
        child = client.get("/things/6", headers=bearer(token)).json()
        assert [a["name"] for a in child["ancestors"]] == ["Parent, renamed"]
        assert child["creator"]["first_name"] == "Tia"


def test_thingiverse_urls_are_moved_onto_the_sandbox_and_others_left(tmp_path: Path) -> None:
    write(tmp_path, "things/5.json", {
        "id": 5, "name": "Links", "creator": CREATOR,
        "url": "https://api.thingiverse.com/things/999",
        "description": "See https://www.thingiverse.com/thing:5 for more.",
        "tags": [{"name": "a", "url": "https://api.thingiverse.com/tags/a",
                  "absolute_url": "https://www.thingiverse.com/tag:a"}],
        "thumbnail": "https://cdn.thingiverse.com/x.jpg"})
    with seeded(tmp_path) as client:
        thing = get(client, "/things/5", 77).json()
    assert thing["url"] == f"{SANDBOX_URL}/things/5"  # derived from the id
    assert thing["tags"][0]["url"] == f"{SANDBOX_URL}/tags/a"
    assert thing["tags"][0]["absolute_url"] == f"{SANDBOX_URL}/tag:a"
    assert thing["description"] == "See https://www.thingiverse.com/thing:5 for more."
    assert thing["thumbnail"] == "https://cdn.thingiverse.com/x.jpg"


def broken(root: Path, case: str) -> Path:
    thing = {"id": 5, "name": "Tiny", "creator": CREATOR}
    match case:
        case "missing":
            return root / "nowhere"
        case "empty":
            return root
        case "bad-json":
            write(root, "users/a.json", '{"id": 1,')
        case "not-an-object":
            write(root, "users/a.json", [1, 2])
        case "user-without-name":
            write(root, "users/a.json", {"id": 1})
        case "duplicate-user":
            write(root, "users/a.json", {"id": 1, "name": "same"})
            write(root, "users/b.json", {"id": 2, "name": "Same"})
        case "id-mismatch":
            write(root, "things/5.json", {**thing, "id": 6})
        case "blank-name":
            write(root, "things/5.json", {**thing, "name": " "})
        case "no-creator":
            write(root, "things/5.json", {"id": 5, "name": "Tiny"})
        case "creator-renamed":
            write(root, "users/a.json", {"id": 77, "name": "someone_else"})
            write(root, "things/5.json", thing)
        case "bad-thing-name":
            write(root, "things/thing5.json", thing)
        case "files-without-thing":
            write(root, "things/5/files/a.stl", b"x")
        case "stray-folder":
            write(root, "things/5.json", thing)
            write(root, "things/5/images/a.png", b"x")
        case "folder-in-files":
            write(root, "things/5.json", thing)
            write(root, "things/5/files/sub/a.stl", b"x")
        case "bad-ancestors":
            write(root, "things/5.json", {**thing, "ancestors": [608169]})
        case "description-not-text":
            write(root, "things/5.json", {**thing, "description": ["x"]})
    return root


CASES = {
    "missing": "does not exist",
    "empty": "has neither users/ nor things/",
    "bad-json": "users/a.json is not valid JSON",
    "not-an-object": "users/a.json must hold one JSON object",
    "user-without-name": "users/a.json needs an integer id and a username",
    "duplicate-user": "users/b.json has the name Same, which another user already has",
    "id-mismatch": "things/5.json must have the id 5",
    "blank-name": "things/5.json needs a non-blank name",
    "no-creator": "things/5.json needs a creator",
    "creator-renamed": "names its creator tiny_maker, but user 77 is someone_else",
    "bad-thing-name": "things/thing5.json is neither",
    "files-without-thing": "things/5/ has no things/5.json beside it",
    "stray-folder": "things/5/ holds images",
    "folder-in-files": "things/5/files/sub is not a file",
    "bad-ancestors": "ancestors that are not a list of Thing summaries",
    "description-not-text": "things/5.json has a description that is not a string",
}


@pytest.mark.parametrize(("case", "phrase"), CASES.items())
def test_a_malformed_directory_is_refused_with_one_sentence(
    tmp_path: Path, case: str, phrase: str
) -> None:
    seed_dir = broken(tmp_path, case)
    with pytest.raises(SeedError) as raised:
        load_seed_dir(seed_dir, SANDBOX_URL)
    sentence = str(raised.value)
    assert phrase in sentence
    assert sentence.endswith(".") and "\n" not in sentence
    with pytest.raises(SeedError, match="."):  # the app factory refuses it the same way
        create_sandbox_app(SandboxConfig(SANDBOX_URL, APP_URL,
                                         default_config(SANDBOX_URL, APP_URL).clients,
                                         seed_dir=str(seed_dir)))


def test_a_copy_of_the_example_with_dotfiles_still_loads(tmp_path: Path) -> None:
    copy = tmp_path / "seed"
    shutil.copytree(EXAMPLE, copy)
    write(copy, "things/.DS_Store", b"junk")
    write(copy, "users/.gitkeep", b"")
    world = load_seed_dir(copy, SANDBOX_URL)
    assert sorted(world.things) == [THING_ID] and sorted(world.users) == [JOHN_ID, CREATOR_ID]
