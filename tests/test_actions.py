"""The action policy: every row of the guidelines and the licence table."""

import pytest

from thingapp.actions import (
    REASON_DERIVATIVES,
    REASON_NO_DERIVATIVES,
    REASON_OWNER,
    Action,
    choose_actions,
)
from thingapp.licenses import LICENSES, allows_derivatives, find_license

OWNER, OTHER = "1001", "1002"


def thing(license: str, allows: bool | None = None, creator_id: object = 1001) -> dict:
    t = {"id": 1, "name": "T", "creator": {"id": creator_id, "name": "mara"}, "license": license}
    if allows is not None:
        t["allows_derivatives"] = allows
    return t


# Every display string of the table, with whether a non-owner may remix.
LICENCE_ROWS = [
    ("Creative Commons - Attribution", True),
    ("Creative Commons - Attribution - Share Alike", True),
    ("Creative Commons - Attribution - No Derivatives", False),
    ("Creative Commons - Attribution - Non-Commercial", True),
    ("Creative Commons - Attribution - Non-Commercial - Share Alike", True),
    ("Creative Commons - Attribution - Non-Commercial - No Derivatives", False),
    ("Creative Commons - Public Domain Dedication", True),
    ("GNU - GPL", True),
    ("GNU - LGPL", True),
    ("BSD License", True),
    ("Public Domain", True),
    ("All Rights Reserved", False),
    ("Nokia", False),
    ("Some licence Thingiverse adds tomorrow", False),
    ("Creative Commons - Share Alike", True),  # an older display variant
]


@pytest.mark.parametrize(("license", "remixable"), LICENCE_ROWS)
def test_non_owner_gets_remix_only_when_the_licence_allows_derivatives(license, remixable):
    choice = choose_actions(thing(license), OTHER)
    if remixable:
        assert choice.actions == (Action.REMIX, Action.DOWNLOAD)
        assert choice.reason == REASON_DERIVATIVES
    else:
        assert choice.actions == (Action.DOWNLOAD,)
        assert choice.reason == REASON_NO_DERIVATIVES


@pytest.mark.parametrize(("license", "_"), LICENCE_ROWS)
def test_owner_posts_back_whatever_the_licence(license, _):
    choice = choose_actions(thing(license), OWNER)
    assert choice.default is Action.POST_TO_THING
    assert choice.actions == (Action.POST_TO_THING, Action.DOWNLOAD)
    assert choice.reason == REASON_OWNER


def test_allows_derivatives_flag_wins_over_the_licence_string():
    assert choose_actions(thing("Creative Commons - Attribution", allows=False), OTHER
                          ).actions == (Action.DOWNLOAD,)
    assert choose_actions(thing("All Rights Reserved", allows=True), OTHER
                          ).default is Action.REMIX


def test_a_non_boolean_allows_derivatives_falls_back_to_the_licence():
    t = thing("Creative Commons - Attribution - No Derivatives")
    t["allows_derivatives"] = "true"  # not what Thingiverse documents: don't trust it
    assert choose_actions(t, OTHER).actions == (Action.DOWNLOAD,)


def test_missing_licence_and_flag_means_download_only():
    t = {"id": 1, "name": "T", "creator": {"id": 1003}}
    assert choose_actions(t, OTHER).actions == (Action.DOWNLOAD,)


@pytest.mark.parametrize("creator", [None, {}, {"id": None}, {"id": True}, "1001"])
def test_a_thing_without_a_usable_creator_is_nobodys(creator):
    t = thing("Creative Commons - Attribution - No Derivatives")
    t["creator"] = creator
    assert choose_actions(t, OWNER).actions == (Action.DOWNLOAD,)


def test_ownership_compares_string_user_id_with_integer_creator_id():
    def default(creator_id: object) -> Action:
        return choose_actions(thing("GNU - GPL", creator_id=creator_id), "1001").default
    assert default(1001) is Action.POST_TO_THING
    assert default("1001") is Action.POST_TO_THING
    assert default(10010) is Action.REMIX


def test_every_licence_is_found_by_code_and_by_display_string():
    for licence in LICENSES:
        assert find_license(licence.display) is licence
        assert find_license(f"  {licence.display.upper()} ") is licence
        if licence.code:
            assert find_license(licence.code) is licence


def test_share_alike_and_non_commercial_are_marked():
    assert find_license("cc-sa").share_alike and not find_license("cc-sa").non_commercial
    assert find_license("cc-nc-sa").share_alike and find_license("cc-nc-sa").non_commercial
    assert find_license("cc-nc").non_commercial and not find_license("cc").non_commercial
    assert find_license("gpl").share_alike
    assert not allows_derivatives(None)


# Remix licences ---------------------------------------------------------------------------

from thingapp.licenses import remix_license_note, remix_licenses  # noqa: E402

ANY = ("cc", "cc-sa", "cc-nd", "cc-nc", "cc-nc-sa", "cc-nc-nd", "pd0", "gpl", "lgpl", "bsd")
ATTRIBUTED = tuple(code for code in ANY if code != "pd0")


# The whole table: every parent licence, the licences its remix may take (its own first), and
# the sentence the form shows.
@pytest.mark.parametrize(("parent", "allowed", "note"), [
    ("Creative Commons - Attribution", ATTRIBUTED,
     "A remix must keep the original's attribution, so it can't be public domain."),
    ("Creative Commons - Attribution - Share Alike", ("cc-sa",),
     "A remix of a share-alike Thing must keep its licence, Creative Commons - Attribution - "
     "Share Alike."),
    ("Creative Commons - Attribution - Non-Commercial", ("cc-nc", "cc-nc-sa", "cc-nc-nd"),
     "A remix of a non-commercial Thing must stay non-commercial and keep the original's "
     "attribution."),
    ("Creative Commons - Attribution - Non-Commercial - Share Alike", ("cc-nc-sa",),
     "A remix of a share-alike Thing must keep its licence, Creative Commons - Attribution - "
     "Non-Commercial - Share Alike."),
    ("GNU - GPL", ("gpl",), "A remix of a GPL Thing must stay under the GPL."),
    ("GNU - LGPL", ("lgpl", "gpl"),
     "A remix of an LGPL Thing must stay under the LGPL or the GPL."),
    ("BSD License", ("bsd", *[c for c in ATTRIBUTED if c != "bsd"]),
     "A remix must keep the original's attribution, so it can't be public domain."),
    ("Creative Commons - Public Domain Dedication", ANY[6:7] + ANY[:6] + ANY[7:],
     "The original is in the public domain: a remix may take any licence."),
    ("Public Domain", ANY[6:7] + ANY[:6] + ANY[7:],
     "The original is in the public domain: a remix may take any licence."),
    ("Creative Commons - Share Alike", ("cc-sa",),
     "A remix of a share-alike Thing must keep its licence, Creative Commons - Attribution - "
     "Share Alike."),
    ("Creative Commons - Attribution - No Derivatives", (),
     "The original's licence does not allow remixes."),
    ("Creative Commons - Attribution - Non-Commercial - No Derivatives", (),
     "The original's licence does not allow remixes."),
    ("All Rights Reserved", (), "The original's licence does not allow remixes."),
])
def test_the_remix_licence_table_row_by_row(parent, allowed, note):
    assert remix_licenses(parent) == allowed
    assert remix_license_note(parent) == note


def test_no_remix_drops_the_attribution_of_its_parent():
    assert "pd0" not in remix_licenses("Creative Commons - Attribution")
    for parent in LICENSES:
        for code in remix_licenses(parent.display):
            assert find_license(code).attribution or not parent.attribution, (parent, code)


@pytest.mark.parametrize("license", ["Creative Commons - Attribution - No Derivatives",
                                     "Creative Commons - Attribution - Non-Commercial - No "
                                     "Derivatives", "Creative Commons - No Derivatives",
                                     "cc-nd", "CC-NC-ND"])
def test_words_that_say_no_derivatives_win_over_the_flag(license):
    assert choose_actions(thing(license, allows=True), OTHER).actions == (Action.DOWNLOAD,)


@pytest.mark.parametrize("parent", [
    "Creative Commons - Attribution - No Derivatives",
    "Creative Commons - Attribution - Non-Commercial - No Derivatives",
    "All Rights Reserved", "Nokia", None])
def test_no_remix_licence_exists_for_parents_without_derivatives(parent):
    assert remix_licenses(parent) == ()


def test_no_remix_ever_drops_share_alike_or_non_commercial():
    for parent in LICENSES:
        for code in remix_licenses(parent.display):
            child = find_license(code)
            assert not parent.non_commercial or child.non_commercial, (parent, code)
            if parent.share_alike and parent.code != "lgpl":
                assert child is parent, (parent, code)
