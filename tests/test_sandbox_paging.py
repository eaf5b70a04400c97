"""The sandbox's list endpoints, paginated as Thingiverse documents (`page`, `per_page`, `Link`),
and the user endpoints `/users/{username}` and `/users/{username}/things`."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sandbox_helpers import SANDBOX_URL, bearer, mint_token
from starlette.testclient import TestClient

MARA, REMY, OLAF = 1001, 1002, 1003
DRAFT = {"name": "Draft", "license": "cc", "category": "Other", "description": "A draft."}


def get(sandbox: TestClient, path: str, user_id: int = MARA) -> Any:
    return sandbox.get(path, headers=bearer(mint_token(sandbox, user_id)))


def links(response: Any) -> dict[str, str]:
    """The Link header as {rel: url}."""
    found = re.findall(r'<([^>]+)>;\s*rel="(\w+)"', response.headers["link"])
    return {rel: url for url, rel in found}


def create_things(sandbox: TestClient, count: int, user_id: int = REMY, **fields: Any) -> None:
    token = mint_token(sandbox, user_id)
    for number in range(count):
        body = {**DRAFT, "name": f"Draft {number + 1}", **fields}
        assert sandbox.post("/things/", headers=bearer(token), json=body).status_code == 200


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


# --- pages and Link headers -------------------------------------------------------------------


def test_pages_walk_a_users_things_newest_first_with_links(sandbox: TestClient) -> None:
    create_things(sandbox, 5)
    path = "/users/remy_remix/things"
    first = get(sandbox, f"{path}?per_page=2", REMY)
    assert ids(first) == [9005, 9004]
    base = f"{SANDBOX_URL}{path}"
    assert links(first) == {"first": f"{base}?page=1&per_page=2",
                            "next": f"{base}?page=2&per_page=2",
                            "last": f"{base}?page=3&per_page=2"}
    second = get(sandbox, f"{path}?page=2&per_page=2", REMY)
    assert ids(second) == [9003, 9002]
    assert set(links(second)) == {"first", "prev", "next", "last"}
    assert links(second)["prev"] == f"{base}?page=1&per_page=2"
    last = get(sandbox, links(second)["next"].removeprefix(SANDBOX_URL), REMY)
    assert ids(last) == [9001]
    assert set(links(last)) == {"first", "prev", "last"}


def test_a_page_past_the_end_is_empty_not_an_error(sandbox: TestClient) -> None:
    past = get(sandbox, "/things/2002/files?page=9&per_page=2")
    assert (past.status_code, past.json()) == (200, [])
    assert "next" not in links(past)
    assert links(past)["last"] == f"{SANDBOX_URL}/things/2002/files?page=2&per_page=2"


def test_files_and_ancestors_are_paginated(sandbox: TestClient) -> None:
    files = get(sandbox, "/things/2002/files?per_page=2")
    assert [f["name"] for f in files.json()] == ["cable_clip.stl", "cable_clip.obj"]
    rest = get(sandbox, "/things/2002/files?page=2&per_page=2")
    assert [f["name"] for f in rest.json()] == ["assembly_notes.pdf"]

    create_things(sandbox, 1, ancestors=[2001, 2002, 2003], is_remix=True)
    ancestors = get(sandbox, "/things/9001/ancestors?page=2&per_page=1")
    assert ids(ancestors) == [2002]
    assert set(links(ancestors)) == {"first", "prev", "next", "last"}
    assert ids(get(sandbox, "/things/9001/ancestors")) == [2001, 2002, 2003]


def test_a_list_on_one_page_links_first_and_last_only(sandbox: TestClient) -> None:
    response = get(sandbox, "/things/2002/files")
    assert len(response.json()) == 3
    one = f"{SANDBOX_URL}/things/2002/files?page=1&per_page=30"
    assert links(response) == {"first": one, "last": one}
    empty = get(sandbox, "/things/2001/ancestors")
    assert (empty.json(), links(empty)["last"]) == (
        [], f"{SANDBOX_URL}/things/2001/ancestors?page=1&per_page=30")


def test_per_page_defaults_to_30_and_goes_up_to_100(sandbox: TestClient) -> None:
    create_things(sandbox, 31)
    path = "/users/remy_remix/things"
    default = get(sandbox, path, REMY)
    assert len(default.json()) == 30
    assert links(default)["next"] == f"{SANDBOX_URL}{path}?page=2&per_page=30"
    assert ids(get(sandbox, f"{path}?page=2", REMY)) == [9001]
    everything = get(sandbox, f"{path}?per_page=100", REMY)
    assert len(everything.json()) == 31 and "next" not in links(everything)


@pytest.mark.parametrize(
    ("query", "word"),
    [("page=0", "page"), ("page=-1", "page"), ("page=abc", "page"), ("page=1.5", "page"),
     ("page=", "page"), ("page=1&page=2", "page"), ("per_page=0", "per_page"),
     ("per_page=101", "per_page"), ("per_page=ten", "per_page")],
)
def test_bad_page_values_are_refused_with_a_sentence(
    sandbox: TestClient, query: str, word: str
) -> None:
    for path in ("/things/2002/files", "/things/2002/ancestors", "/users/mara_makes/things"):
        response = get(sandbox, f"{path}?{query}")
        assert response.status_code == 400
        error = response.json()["error"]
        assert error.startswith(f"The {word} must be") and error.endswith(".")
        assert response.headers["x-error"] == error
        assert "x-ratelimit-remaining" in response.headers


# --- users ----------------------------------------------------------------------------------


def test_a_user_by_name_is_the_user_object_without_current_app(sandbox: TestClient) -> None:
    olaf = get(sandbox, "/users/olaf_original")
    assert olaf.status_code == 200
    me = get(sandbox, "/users/me", OLAF).json()
    assert olaf.json() == {k: v for k, v in me.items() if k != "current_app"}
    assert "current_app" not in olaf.json()
    assert get(sandbox, "/users/OLAF_Original").json()["id"] == OLAF


def test_unknown_users_are_404(sandbox: TestClient) -> None:
    for path in ("/users/nobody", "/users/nobody/things"):
        response = get(sandbox, path)
        assert (response.status_code, response.json()) == (404, {"error": "Not Found"})


def test_a_users_things_are_summaries_of_theirs_only(sandbox: TestClient) -> None:
    olaf = get(sandbox, "/users/olaf_original/things")
    assert ids(olaf) == [2005, 2004, 2003, 2002]
    assert all(item["creator"]["id"] == OLAF for item in olaf.json())
    assert "preview_image" in olaf.json()[0] and "description" not in olaf.json()[0]
    assert ids(get(sandbox, "/users/mara_makes/things")) == [2001]


def test_unpublished_things_are_listed_to_their_creator_only(sandbox: TestClient) -> None:
    create_things(sandbox, 2)
    assert ids(get(sandbox, "/users/remy_remix/things", REMY)) == [9002, 9001]
    assert ids(get(sandbox, "/users/remy_remix/things", MARA)) == []
    token = mint_token(sandbox, REMY)
    assert sandbox.post("/things/9001/publish", headers=bearer(token)).status_code == 200
    assert ids(get(sandbox, "/users/remy_remix/things", MARA)) == [9001]
