"""The remix rules over HTTP: the licences offered, the ones refused, and a licence that changed a
moment ago."""

from __future__ import annotations

from world import CC_SA, OTHER_CREATOR, OWNED_CC, REMIXER

CUBE_STL, CLIP_STL = 3001, 3002
ATTRIBUTED = ["cc", "cc-sa", "cc-nd", "cc-nc", "cc-nc-sa", "cc-nc-nd", "gpl", "lgpl", "bsd"]
REMIX = {"name": "My remix", "category": "Other", "publish": False}


def test_the_form_offers_only_licences_that_keep_the_parents_conditions(world):
    token = world.sign_in(REMIXER, OWNED_CC)
    offer = world.context(token, OWNED_CC).json()["remix"]  # CC BY, someone else's
    assert [licence["code"] for licence in offer["licenses"]] == ATTRIBUTED
    assert offer["license_note"] == ("A remix must keep the original's attribution, so it can't "
                                     "be public domain.")
    offer = world.context(world.sign_in(REMIXER, CC_SA), CC_SA).json()["remix"]
    assert [licence["code"] for licence in offer["licenses"]] == ["cc-sa"]
    assert offer["license_note"].startswith("A remix of a share-alike Thing must keep its licence")


def test_a_cc_by_thing_cannot_be_remixed_into_the_public_domain(world):
    token = world.sign_in(REMIXER, OWNED_CC)
    writes = world.state_snapshot().thingiverse_writes
    r = world.start_job(token, thing_id=OWNED_CC, file_id=CUBE_STL, action="remix", tool="scale",
                        options={"mode": "percent", "value": "150", "output": "stl"},
                        remix={**REMIX, "license": "pd0"})
    assert r.status_code == 400
    assert r.json()["error"] == ("The remix must keep a licence the original allows: "
                                 + ", ".join(ATTRIBUTED) + ".")
    assert world.state_snapshot().thingiverse_writes == writes


def test_a_thing_switched_to_no_derivatives_a_moment_ago_cannot_be_remixed(world):
    token = world.sign_in(REMIXER, CC_SA)
    assert world.context(token, CC_SA).json()["actions"][0]["id"] == "remix"  # now cached
    switched = world.api("PATCH", f"/things/{CC_SA}", OTHER_CREATOR, json={"license": "cc-nd"})
    assert switched.status_code == 200, switched.text
    writes = world.state_snapshot().thingiverse_writes
    r = world.start_job(token, thing_id=CC_SA, file_id=CLIP_STL, action="remix", tool="scale",
                        options={"mode": "percent", "value": "150", "output": "stl"},
                        remix={**REMIX, "license": "cc-sa"})
    assert r.status_code == 403
    assert r.json()["error"] == ("Post a Remix is not open to you on this Thing: The licence "
                                 "does not allow derivatives.")
    assert world.state_snapshot().thingiverse_writes == writes  # no remix was created
    # The page now shows it as it is.
    assert [a["id"] for a in world.context(token, CC_SA).json()["actions"]] == ["download"]
