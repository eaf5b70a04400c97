"""The Thingiverse sandbox, driven through HTTP as the app, the CLI and the e2e tests use it."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import numpy as np
import pytest
import trimesh
from sandbox_helpers import (
    APP_ID,
    APP_SECRET,
    APP_URL,
    BASE_FLAGS,
    CALLBACK,
    POPUP_FLAGS,
    SANDBOX_URL,
    THING_IDS,
    USER_IDS,
    USER_LABELS,
    Page,
    assert_conforms,
    authorize,
    bearer,
    fragment_of,
    load_schema,
    make_client,
    mint_code,
    mint_token,
    tokeninfo,
)
from starlette.testclient import TestClient

from thingapp.sandbox import SandboxConfig, default_config

# --- the authorize page -----------------------------------------------------------------


def test_authorize_page_lists_seeded_users_first_checked(sandbox: TestClient) -> None:
    response = sandbox.get(
        "/login/oauth/authorize",
        params={"client_id": APP_ID, "redirect_uri": CALLBACK, "response_type": "token"},
    )
    assert response.status_code == 200
    page = Page(response.text)
    assert page.texts["h1"] == ["Authorize thingapp (demo)"]
    radios = {label: attrs["value"] for label, attrs in page.labels.items()}
    assert radios == USER_LABELS
    assert all(attrs["type"] == "radio" for attrs in page.labels.values())
    assert [a["value"] for a in page.all("input") if "checked" in a] == ["1001"]
    assert page.texts["button"] == ["Agree", "Deny"]


def test_authorize_page_is_framable_and_sets_no_opener_policy(sandbox: TestClient) -> None:
    response = sandbox.get("/login/oauth/authorize", params={"client_id": APP_ID})
    assert response.status_code == 200
    assert "x-frame-options" not in response.headers
    assert "frame-ancestors" not in response.headers.get("content-security-policy", "")
    assert "cross-origin-opener-policy" not in response.headers


def test_authorize_defaults_to_registered_redirect_and_code_flow(sandbox: TestClient) -> None:
    response = sandbox.get("/login/oauth/authorize", params={"client_id": APP_ID, "state": "s1"})
    inputs = Page(response.text).all("input")
    hidden = {a["name"]: a["value"] for a in inputs if a["type"] == "hidden"}
    assert hidden == {
        "client_id": APP_ID,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "state": "s1",
    }


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": APP_ID, "redirect_uri": "https://evil.example/callback"},
        {"client_id": APP_ID, "redirect_uri": CALLBACK + "/"},
        {"client_id": "no-such-app", "redirect_uri": CALLBACK},
        {"client_id": APP_ID, "response_type": "id_token"},
    ],
    ids=["foreign-redirect", "redirect-not-exact", "unknown-client", "bad-response-type"],
)
def test_authorize_page_refuses_bad_requests_with_a_sentence(
    sandbox: TestClient, params: dict[str, str]
) -> None:
    response = sandbox.get("/login/oauth/authorize", params=params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert Page(response.text).all("form") == []
    assert re.search(r"<p>[A-Z][^<]+\.</p>", response.text)


def test_authorize_post_refuses_a_redirect_uri_it_would_not_show(sandbox: TestClient) -> None:
    response = authorize(sandbox, redirect_uri="https://evil.example/callback")
    assert response.status_code == 400
    assert "location" not in response.headers


def test_agree_redirects_with_token_in_fragment(sandbox: TestClient) -> None:
    response = authorize(sandbox, user_id="1002", state="st-42")
    assert response.status_code == 303
    fragment = fragment_of(response.headers["location"])
    assert set(fragment) == {"access_token", "token_type", "state"}
    assert fragment["token_type"] == ["bearer"]
    assert fragment["state"] == ["st-42"]
    token = fragment["access_token"][0]
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert tokeninfo(sandbox, token).json() == {"audience": APP_ID, "user_id": "1002"}


def test_deny_redirects_with_access_denied_and_no_token(sandbox: TestClient) -> None:
    response = authorize(sandbox, decision="deny", state="st-7")
    assert response.status_code == 303
    assert fragment_of(response.headers["location"]) == {
        "error": ["access_denied"],
        "state": ["st-7"],
    }


def test_state_is_omitted_when_none_given_and_encoded_when_given(sandbox: TestClient) -> None:
    without = authorize(sandbox).headers["location"]
    assert "state=" not in without
    tricky = "a b&c=d#e/é"
    with_state = authorize(sandbox, state=tricky).headers["location"]
    assert with_state.count("#") == 1
    assert fragment_of(with_state)["state"] == [tricky]


def test_code_flow_puts_code_or_error_in_query(sandbox: TestClient) -> None:
    agreed = authorize(sandbox, response_type="code", state="xyz").headers["location"]
    parts = urlsplit(agreed)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK and parts.fragment == ""
    query = parse_qs(parts.query)
    assert set(query) == {"code", "state"} and query["state"] == ["xyz"]

    denied = authorize(sandbox, response_type="code", decision="deny").headers["location"]
    assert denied == CALLBACK + "?error=access_denied"


# --- tokeninfo ------------------------------------------------------------------------------


def test_tokeninfo_names_audience_and_user_id_as_strings(sandbox: TestClient) -> None:
    response = tokeninfo(sandbox, mint_token(sandbox, user_id=1003))
    assert response.status_code == 200
    assert response.json() == {"audience": APP_ID, "user_id": "1003"}


def test_tokeninfo_of_another_apps_token_reports_that_audience(sandbox: TestClient) -> None:
    token = mint_token(sandbox, client_id="other-app")
    assert tokeninfo(sandbox, token).json() == {"audience": "other-app", "user_id": "1001"}


def test_tokeninfo_refuses_unknown_and_revoked_tokens(sandbox: TestClient) -> None:
    unknown = tokeninfo(sandbox, "0" * 32)
    assert (unknown.status_code, unknown.json()) == (400, {"error": "invalid token"})

    token = mint_token(sandbox)
    assert tokeninfo(sandbox, token).status_code == 200
    revoked = sandbox.post("/sandbox/tokens/revoke", json={"access_token": token})
    assert revoked.json() == {"revoked": True}
    after = tokeninfo(sandbox, token)
    assert (after.status_code, after.json()) == (400, {"error": "invalid token"})


def test_tokeninfo_refuses_a_token_in_the_query_string(sandbox: TestClient) -> None:
    token = mint_token(sandbox)
    only_query = sandbox.post("/login/oauth/tokeninfo", params={"access_token": token})
    assert only_query.status_code == 400
    both = sandbox.post(
        "/login/oauth/tokeninfo", params={"access_token": token}, data={"access_token": token}
    )
    assert both.status_code == 400
    assert tokeninfo(sandbox, token).status_code == 200


# --- code exchange --------------------------------------------------------------------------


def exchange(sandbox: TestClient, code: str, **fields: str) -> Any:
    form = {"client_id": APP_ID, "client_secret": APP_SECRET, "code": code, **fields}
    return sandbox.post("/login/oauth/access_token", data=form)


def test_code_exchanges_once_for_a_form_encoded_token(sandbox: TestClient) -> None:
    code = mint_code(sandbox, user_id=1002)
    first = exchange(sandbox, code, redirect_uri=CALLBACK)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("application/x-www-form-urlencoded")
    body = parse_qs(first.text)
    assert body["token_type"] == ["bearer"]
    assert tokeninfo(sandbox, body["access_token"][0]).json() == {
        "audience": APP_ID,
        "user_id": "1002",
    }
    second = exchange(sandbox, code)
    assert second.status_code == 400
    assert parse_qs(second.text)["error"] == ["invalid_grant"]


def test_code_exchange_with_wrong_secret_is_refused_and_leaves_the_code(
    sandbox: TestClient,
) -> None:
    code = mint_code(sandbox)
    wrong = exchange(sandbox, code, client_secret="guess")
    assert wrong.status_code == 400
    assert parse_qs(wrong.text)["error"] == ["invalid_client"]
    assert "access_token" not in wrong.text
    assert exchange(sandbox, code).status_code == 200


def test_code_issued_to_another_app_is_refused(sandbox: TestClient) -> None:
    code = mint_code(sandbox, client_id="other-app")
    response = exchange(sandbox, code)
    assert response.status_code == 400
    assert parse_qs(response.text)["error"] == ["invalid_grant"]


def test_code_exchange_refuses_a_different_redirect_uri(sandbox: TestClient) -> None:
    code = mint_code(sandbox)
    response = exchange(sandbox, code, redirect_uri="https://evil.example/callback")
    assert response.status_code == 400
    assert parse_qs(response.text)["error"] == ["invalid_grant"]


def test_code_from_authorize_page_exchanges_for_that_user(sandbox: TestClient) -> None:
    location = authorize(sandbox, response_type="code", user_id="1003").headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    token = parse_qs(exchange(sandbox, code).text)["access_token"][0]
    assert tokeninfo(sandbox, token).json()["user_id"] == "1003"


# --- the API --------------------------------------------------------------------------------

API_PATHS = (
    "/things/2001",
    "/things/2001/files",
    "/users/me",
    "/files/3001",
    "/files/3001/download",
)


@pytest.mark.parametrize("path", API_PATHS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer " + "0" * 32}, {"Authorization": "Basic dXNlcjpwYXNz"}],
    ids=["none", "unknown-token", "not-bearer"],
)
def test_api_refuses_requests_without_a_live_token(
    sandbox: TestClient, path: str, headers: dict[str, str]
) -> None:
    response = sandbox.get(path, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "Unauthorized"}
    assert response.headers["x-error"] == "Unauthorized"
    assert response.headers["x-ratelimit-remaining"].isdigit()


def test_api_refuses_a_query_string_token(sandbox: TestClient) -> None:
    token = mint_token(sandbox)
    assert sandbox.get("/things/2001", params={"access_token": token}).status_code == 401


def test_api_refuses_a_revoked_token(sandbox: TestClient) -> None:
    token = mint_token(sandbox)
    assert sandbox.get("/users/me", headers=bearer(token)).status_code == 200
    sandbox.post("/sandbox/tokens/revoke", json={"access_token": token})
    assert sandbox.get("/users/me", headers=bearer(token)).status_code == 401


@pytest.mark.parametrize(
    "path",
    ["/things/9999", "/things/abc", "/things/9999/files", "/files/9999", "/files/x1/download"],
)
def test_api_answers_404_for_unknown_ids(sandbox: TestClient, path: str) -> None:
    response = sandbox.get(path, headers=bearer(mint_token(sandbox)))
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}
    assert response.headers["x-error"] == "Not Found"
    assert "x-ratelimit-remaining" in response.headers


def test_rate_limit_counts_down_per_token(sandbox: TestClient) -> None:
    mara, remy = mint_token(sandbox, 1001), mint_token(sandbox, 1002)
    seen = [
        sandbox.get("/things/2001", headers=bearer(token)).headers["x-ratelimit-remaining"]
        for token in (mara, mara, remy, mara)
    ]
    assert seen == ["299", "298", "299", "297"]


def test_rate_limit_exhausted_answers_429() -> None:
    clients = default_config(SANDBOX_URL, APP_URL).clients
    with make_client(SandboxConfig(SANDBOX_URL, APP_URL, clients, rate_limit=2)) as client:
        token = mint_token(client)
        statuses = [client.get("/users/me", headers=bearer(token)) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in statuses] == ["1", "0", "0"]
    assert statuses[2].json() == {"error": "Too Many Requests"}


EXPECTED_THINGS = {
    2001: ("Calibration Cube", 1001, "Creative Commons - Attribution", True),
    2002: ("Cable Clip", 1003, "Creative Commons - Attribution - Share Alike", True),
    2003: ("Desk Organizer", 1003, "Creative Commons - Attribution - No Derivatives", False),
    2004: ("Vintage Bracket", 1003, "All Rights Reserved", None),
    2005: (
        "Hinge Box",
        1003,
        "Creative Commons - Attribution - Non-Commercial - Share Alike",
        True,
    ),
}


@pytest.mark.parametrize("thing_id", THING_IDS)
def test_thing_objects_carry_seeded_owner_and_licence(sandbox: TestClient, thing_id: int) -> None:
    thing = sandbox.get(f"/things/{thing_id}", headers=bearer(mint_token(sandbox))).json()
    name, creator_id, licence, allows = EXPECTED_THINGS[thing_id]
    assert (thing["id"], thing["name"], thing["creator"]["id"], thing["license"]) == (
        thing_id,
        name,
        creator_id,
        licence,
    )
    # The legacy Thing 2004 has no allows_derivatives key at all: apps must cope.
    assert thing.get("allows_derivatives", None) is allows
    assert ("allows_derivatives" in thing) is (allows is not None)
    assert (thing["is_private"], thing["is_derivative"], thing["ancestors"]) == (0, False, [])
    assert thing["public_url"] == f"{SANDBOX_URL}/thing:{thing_id}"
    assert thing["files_url"] == f"{SANDBOX_URL}/things/{thing_id}/files"


@pytest.mark.parametrize("user_id", USER_IDS)
def test_users_me_is_the_tokens_user(sandbox: TestClient, user_id: int) -> None:
    me = sandbox.get("/users/me", headers=bearer(mint_token(sandbox, user_id))).json()
    assert f"{me['name']} ({me['full_name']})" in USER_LABELS
    assert me["id"] == int(USER_LABELS[f"{me['name']} ({me['full_name']})"]) == user_id
    # default_license is a code (the API answers with codes here, display strings on Things).
    assert me["default_license"] == {1001: "cc-sa", 1002: "cc", 1003: "cc-nd"}[user_id]
    assert me["current_app"]["name"] == "thingapp (demo)"


def test_users_me_names_the_client_the_token_was_issued_to(sandbox: TestClient) -> None:
    me = sandbox.get("/users/me", headers=bearer(mint_token(sandbox, 1002, "other-app"))).json()
    assert (me["name"], me["current_app"]["name"]) == ("remy_remix", "Some Other App")


def test_files_list_has_sizes_urls_and_null_direct_url_for_pdf(sandbox: TestClient) -> None:
    files = sandbox.get("/things/2002/files", headers=bearer(mint_token(sandbox))).json()
    assert [f["name"] for f in files] == ["cable_clip.stl", "cable_clip.obj", "assembly_notes.pdf"]
    for entry in files:
        assert entry["download_url"] == f"{SANDBOX_URL}/files/{entry['id']}/download"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", entry["date"])
        served = sandbox.get(urlsplit(storage_url_of(sandbox, entry)).path)
        assert served.status_code == 200
        assert entry["size"] == len(served.content) == int(served.headers["content-length"])
    by_name = {f["name"]: f for f in files}
    assert by_name["assembly_notes.pdf"]["direct_url"] is None
    stl = by_name["cable_clip.stl"]
    assert stl["direct_url"] == f"{SANDBOX_URL}/storage/{stl['id']}/cable_clip.stl"


def storage_url_of(sandbox: TestClient, entry: dict[str, Any]) -> str:
    """Follow a file's download_url one hop, as a careful client does."""
    response = sandbox.get(entry["download_url"], headers=bearer(mint_token(sandbox)))
    assert response.status_code == 302
    location: str = response.headers["location"]
    return location


def test_download_url_redirects_to_storage_which_wants_no_authorization(
    sandbox: TestClient,
) -> None:
    token = mint_token(sandbox)
    entry = sandbox.get("/files/3001", headers=bearer(token)).json()
    location = storage_url_of(sandbox, entry)
    assert location == entry["direct_url"] == f"{SANDBOX_URL}/storage/3001/calibration_cube.stl"

    with_token = sandbox.get(location, headers=bearer(token))
    assert with_token.status_code == 400
    assert "Only one auth mechanism allowed" in with_token.text
    assert sandbox.get(location, headers={"Authorization": "Basic eDp5"}).status_code == 400

    without = sandbox.get(location)
    assert without.status_code == 200
    assert without.headers["content-type"] == "application/octet-stream"
    assert len(without.content) == entry["size"]


def test_following_download_url_while_sending_bearer_fails(sandbox: TestClient) -> None:
    # The mistake the real storage punishes: a client that keeps its header across the redirect.
    token = mint_token(sandbox)
    response = sandbox.get("/files/3001/download", headers=bearer(token), follow_redirects=True)
    assert response.status_code == 400


def test_storage_404s_for_a_wrong_name(sandbox: TestClient) -> None:
    assert sandbox.get("/storage/3001/other.stl").status_code == 404
    assert sandbox.get("/storage/9999/calibration_cube.stl").status_code == 404


def test_public_download_link_redirects_to_storage(sandbox: TestClient) -> None:
    entry = sandbox.get("/files/3004", headers=bearer(mint_token(sandbox))).json()
    response = sandbox.get(entry["public_url"])
    assert response.status_code == 302
    assert sandbox.get(response.headers["location"]).content.startswith(b"%PDF-1.4")


def served_bytes(sandbox: TestClient, file_id: int) -> bytes:
    entry = sandbox.get(f"/files/{file_id}", headers=bearer(mint_token(sandbox))).json()
    content: bytes = sandbox.get(urlsplit(storage_url_of(sandbox, entry)).path).content
    return content


@pytest.mark.parametrize(
    ("file_id", "file_type", "extents"),
    [
        (3001, "stl", (20, 20, 20)),
        (3002, "stl", (12, 12, 10)),
        (3003, "obj", (12, 12, 10)),
        (3005, "stl", (120, 80, 60)),
        (3006, "stl", (40, 15, 30)),
    ],
)
def test_served_meshes_parse_to_their_seeded_size(
    sandbox: TestClient, file_id: int, file_type: str, extents: tuple[int, int, int]
) -> None:
    mesh = trimesh.load(io.BytesIO(served_bytes(sandbox, file_id)), file_type=file_type)
    assert isinstance(mesh, trimesh.Trimesh)
    assert mesh.is_watertight
    np.testing.assert_allclose(mesh.extents, extents, atol=1e-4)
    np.testing.assert_allclose(mesh.bounds[0], (0, 0, 0), atol=1e-4)


def test_served_3mf_is_a_package_with_the_seeded_mesh(sandbox: TestClient) -> None:
    with zipfile.ZipFile(io.BytesIO(served_bytes(sandbox, 3007))) as archive:
        parts = {"[Content_Types].xml", "_rels/.rels", "3D/3dmodel.model"}
        assert parts <= set(archive.namelist())
        model = ET.fromstring(archive.read("3D/3dmodel.model"))
    ns = {"m": "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"}
    assert model.get("unit") == "millimeter"
    vertices = np.array(
        [[float(v.get(axis, "nan")) for axis in "xyz"] for v in model.iterfind(".//m:vertex", ns)]
    )
    triangles = model.findall(".//m:triangle", ns)
    assert len(triangles) == 12
    np.testing.assert_allclose(vertices.max(axis=0) - vertices.min(axis=0), (50, 40, 30))


def test_served_pdf_is_well_formed(sandbox: TestClient) -> None:
    pdf = served_bytes(sandbox, 3004)
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    startxref = int(pdf.rsplit(b"startxref", 1)[1].split()[0])
    assert pdf[startxref:].startswith(b"xref")


# --- Thing pages and the index ----------------------------------------------------------


def iframe_of(sandbox: TestClient, path: str) -> dict[str, str | None]:
    response = sandbox.get(path)
    assert response.status_code == 200
    return Page(response.text).one("iframe")


def test_thing_page_embeds_the_app_with_popups_allowed(sandbox: TestClient) -> None:
    frame = iframe_of(sandbox, "/thing:2001")
    assert frame["title"] == "Thing app"
    assert frame["src"] == f"{APP_URL}/?thing_id=2001"
    assert (frame["width"], frame["height"]) == ("600", "720")
    assert set((frame["sandbox"] or "").split()) == BASE_FLAGS | POPUP_FLAGS


def test_thing_page_with_popups_0_drops_the_popup_flags(sandbox: TestClient) -> None:
    frame = iframe_of(sandbox, "/thing:2003?popups=0")
    assert frame["src"] == f"{APP_URL}/?thing_id=2003"
    assert set((frame["sandbox"] or "").split()) == BASE_FLAGS


def test_thing_page_launch_as_embeds_a_code_for_that_user(sandbox: TestClient) -> None:
    frame = iframe_of(sandbox, "/thing:2002?launch_as=1002")
    src = urlsplit(frame["src"] or "")
    assert f"{src.scheme}://{src.netloc}{src.path}" == APP_URL + "/"
    query = parse_qs(src.query)
    assert query["thing_id"] == ["2002"]
    body = parse_qs(exchange(sandbox, query["code"][0]).text)
    assert tokeninfo(sandbox, body["access_token"][0]).json() == {
        "audience": APP_ID,
        "user_id": "1002",
    }


def test_thing_page_shows_name_creator_and_licence(sandbox: TestClient) -> None:
    text = sandbox.get("/thing:2003").text
    assert Page(text).texts["h1"] == ["Desk Organizer"]
    assert "olaf_original" in text
    assert "Creative Commons - Attribution - No Derivatives" in text


def test_thing_page_escapes_the_description(sandbox: TestClient) -> None:
    text = sandbox.get("/thing:2002").text
    assert "<script>alert(1)</script>" not in text and "<b>bold</b>" not in text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_thing_page_refuses_unknown_things_and_users(sandbox: TestClient) -> None:
    missing = sandbox.get("/thing:9999")
    assert missing.status_code == 404 and "There is no Thing 9999" in missing.text
    assert Page(missing.text).all("iframe") == []
    assert sandbox.get("/thing:2001?launch_as=4242").status_code == 400


def test_index_links_every_thing_and_names_every_user(sandbox: TestClient) -> None:
    response = sandbox.get("/")
    links = {a["href"] for a in Page(response.text).all("a")}
    assert {f"/thing:{thing_id}" for thing_id in THING_IDS} <= links
    for label in USER_LABELS:
        assert label in response.text


def test_no_response_sets_cross_origin_opener_policy(sandbox: TestClient) -> None:
    token = mint_token(sandbox)
    responses = [
        sandbox.get("/"),
        sandbox.get("/thing:2001"),
        sandbox.get("/login/oauth/authorize", params={"client_id": APP_ID}),
        authorize(sandbox),
        tokeninfo(sandbox, token),
        sandbox.get("/things/2001", headers=bearer(token)),
    ]
    assert all("cross-origin-opener-policy" not in r.headers for r in responses)


# --- scripting endpoints and the request log -------------------------------------------


@pytest.mark.parametrize("path", ["/sandbox/tokens", "/sandbox/codes"])
@pytest.mark.parametrize(
    "body",
    [{"user_id": 4242, "client_id": APP_ID}, {"user_id": 1001, "client_id": "nope"}, [1001], {}],
    ids=["unknown-user", "unknown-client", "not-an-object", "empty"],
)
def test_scripting_refuses_unknown_users_and_clients(
    sandbox: TestClient, path: str, body: Any
) -> None:
    response = sandbox.post(path, json=body)
    assert response.status_code == 400
    assert response.json()["error"].endswith(".")


def test_scripting_refuses_a_body_that_is_not_json(sandbox: TestClient) -> None:
    response = sandbox.post("/sandbox/tokens", content=b"user_id=1001")
    assert response.status_code == 400
    assert response.json() == {"error": "The body must be a JSON object."}


def test_request_log_has_paths_and_statuses_but_never_a_token(sandbox: TestClient) -> None:
    location = authorize(sandbox, state="s").headers["location"]
    token = fragment_of(location)["access_token"][0]
    code = mint_code(sandbox)
    sandbox.get("/things/2001", headers=bearer(token))
    sandbox.post("/login/oauth/tokeninfo", params={"access_token": token})
    sandbox.get(f"/things/{token}", headers=bearer(token))
    sandbox.get(f"/thing:2001?launch_as=1001&code={code}")
    exchange(sandbox, code)

    response = sandbox.get("/sandbox/requests")
    log = response.json()
    assert token not in response.text and code not in response.text
    assert {"method": "POST", "path": "/login/oauth/authorize", "status": 303} in log
    assert {"method": "GET", "path": "/things/2001", "status": 200} in log
    assert {"method": "POST", "path": "/login/oauth/tokeninfo", "status": 400} in log
    assert {"method": "GET", "path": "/things/[redacted]", "status": 404} in log
    assert {"method": "GET", "path": "/thing:2001", "status": 200} in log
    assert all("?" not in entry["path"] for entry in log)
    assert all(set(entry) == {"method", "path", "status"} for entry in log)
    log_again = sandbox.get("/sandbox/requests").json()
    assert all(entry["path"] != "/sandbox/requests" for entry in log_again)


def test_each_app_instance_has_its_own_world(sandbox: TestClient) -> None:
    token = mint_token(sandbox)
    with make_client() as other:
        assert tokeninfo(other, token).status_code == 400
        assert other.get("/sandbox/requests").json() == [
            {"method": "POST", "path": "/login/oauth/tokeninfo", "status": 400}
        ]


def test_config_refuses_a_trailing_slash_and_no_clients() -> None:
    with pytest.raises(ValueError, match="trailing slash"):
        default_config(SANDBOX_URL + "/", APP_URL)
    with pytest.raises(ValueError, match="at least one client"):
        SandboxConfig(SANDBOX_URL, APP_URL, ())


# --- conformance with Thingiverse's published schemas -------------------------------------


@pytest.mark.parametrize("thing_id", THING_IDS)
def test_things_conform_to_the_published_schema(sandbox: TestClient, thing_id: int) -> None:
    thing = sandbox.get(f"/things/{thing_id}", headers=bearer(mint_token(sandbox))).json()
    schema = load_schema("thing_schema.yaml")
    may_lack = {"zip_data"} | ({"allows_derivatives"} if thing_id == 2004 else set())
    assert_conforms(thing, schema, may_lack)
    # A negative control: the translated schema still refuses a null where none is allowed.
    assert not jsonschema.Draft202012Validator(schema).is_valid({**thing, "is_featured": None})
    # The creator summary is shaped like the real sample's, which omits the role flags.
    summary_may_lack = {"make_count", "is_admin", "is_moderator", "is_featured", "is_verified"}
    assert_conforms(thing["creator"], load_schema("user_summary_schema.yaml"), summary_may_lack)


@pytest.mark.parametrize("thing_id", THING_IDS)
def test_files_conform_to_the_published_schema(sandbox: TestClient, thing_id: int) -> None:
    files = sandbox.get(f"/things/{thing_id}/files", headers=bearer(mint_token(sandbox))).json()
    assert files
    schema = load_schema("file_schema.yaml")
    for entry in files:
        assert_conforms(entry, schema, set())


@pytest.mark.parametrize("user_id", USER_IDS)
def test_users_conform_to_the_published_schema(sandbox: TestClient, user_id: int) -> None:
    me = sandbox.get("/users/me", headers=bearer(mint_token(sandbox, user_id))).json()
    assert_conforms(me, load_schema("user_schema.yaml"), {"email"})
