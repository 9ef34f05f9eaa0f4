"""The listing lifecycle: every legal move, every illegal one (409 naming the current status and the moves the
caller has), who may make each move, notes, completeness, edits per status, and deleting drafts."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from tests.api.writes_catalogue.conftest import ADMIN, CITY, CURATOR, VENDOR, Api, assert_problem

ACTIONS = ("submit", "withdraw", "request-changes", "publish", "reject", "archive", "restore")
# Written out here, independently of app.solutions.lifecycle: (from, action) -> to.
LEGAL = {
    ("draft", "submit"): "submitted",
    ("changes_requested", "submit"): "submitted",
    ("submitted", "withdraw"): "draft",
    ("submitted", "request-changes"): "changes_requested",
    ("submitted", "publish"): "published",
    ("submitted", "reject"): "rejected",
    ("draft", "archive"): "archived",
    ("changes_requested", "archive"): "archived",
    ("rejected", "archive"): "archived",
    ("published", "archive"): "archived",
    ("archived", "restore"): "draft",
}
REVIEWER_ACTIONS = {"request-changes", "publish", "reject"}
NEEDS_NOTE = {"request-changes", "reject"}
STATUSES = ("draft", "submitted", "changes_requested", "published", "rejected", "archived")
# How to reach each status from a new draft.
PATHS: dict[str, list[tuple[str, Any]]] = {
    "draft": [],
    "submitted": [("submit", VENDOR)],
    "changes_requested": [("submit", VENDOR), ("request-changes", ADMIN)],
    "published": [("submit", VENDOR), ("publish", ADMIN)],
    "rejected": [("submit", VENDOR), ("reject", ADMIN)],
    "archived": [("archive", VENDOR)],
}


def listing_in(api: Api, status: str, **overrides: Any) -> dict[str, Any]:
    listing = api.create(**overrides)
    for action, role in PATHS[status]:
        listing = api.moved(listing, action, role, note="a note" if action in NEEDS_NOTE else None)
    assert listing["status"] == status
    return listing


def moves_from(status: str, reviewer: bool) -> list[str]:
    return [a for a in ACTIONS if (status, a) in LEGAL and (reviewer or a not in REVIEWER_ACTIONS)]


@pytest.mark.parametrize(("status", "action"), sorted(LEGAL))
def test_each_legal_move(api: Api, status: str, action: str) -> None:
    listing = listing_in(api, status)
    role = ADMIN if action in REVIEWER_ACTIONS else VENDOR
    note = "Please add the meter brands." if action in NEEDS_NOTE else None
    events_before = len(api.audit("solution", listing["id"]))
    moved = api.moved(listing, action, role, note)
    assert moved["status"] == LEGAL[(status, action)]
    assert moved["version"] == listing["version"] + 1
    events = api.audit("solution", listing["id"])
    assert len(events) == events_before + 1
    assert events[-1]["action"] == f"solution.{action.replace('-', '_')}"
    changes = events[-1]["changes"]
    assert changes["status"] == {"from": status, "to": LEGAL[(status, action)]}
    assert events[-1]["actor_user_id"] == api.world.actors[role].user_id
    if note:
        assert changes["note"] == note
    if action == "submit":
        assert moved["submitted_at"] is not None
    if action == "publish":
        assert moved["published_at"] is not None
        assert api.get(f"/api/v1/solutions/{listing['id']}").status_code == 200


@pytest.mark.parametrize("status", STATUSES)
def test_every_illegal_move_is_a_409_naming_the_status_and_the_moves(api: Api, status: str) -> None:
    listing = listing_in(api, status)
    illegal = [a for a in ACTIONS if (status, a) not in LEGAL]
    assert illegal
    for action in illegal:
        before = api.get(f"/api/v1/solutions/{listing['id']}", ADMIN).json()
        body = assert_problem(api.act(listing, action, ADMIN, note="a note"), 409, status)
        assert body["current_status"] == status
        assert body["allowed_actions"] == moves_from(status, reviewer=True), action
        assert body["type"].endswith("/illegal-transition")
        assert api.get(f"/api/v1/solutions/{listing['id']}", ADMIN).json() == before
    # The vendor is told only the moves that are its own.
    vendor_illegal = next(a for a in illegal if a not in REVIEWER_ACTIONS)
    body = assert_problem(api.act(listing, vendor_illegal, VENDOR), 409)
    assert body["allowed_actions"] == moves_from(status, reviewer=False)


def test_review_moves_are_the_reviewers_and_the_vendors_moves_the_vendors(api: Api) -> None:
    submitted = listing_in(api, "submitted")
    for action in sorted(REVIEWER_ACTIONS):
        assert_problem(api.act(submitted, action, VENDOR, note="mine"), 403, "reviewers")
    published = listing_in(api, "published", title="A published one")
    # Visible to a city official and a curator, but not theirs to move.
    for role in (CITY, CURATOR):
        assert api.act(published, "archive", role).status_code == 403
    # A draft is not even visible to them.
    draft = listing_in(api, "draft", title="A draft")
    assert api.act(draft, "submit", CITY).status_code in (403, 404)
    assert api.get(f"/api/v1/solutions/{submitted['id']}", ADMIN).json()["status"] == "submitted"


@pytest.mark.parametrize("action", sorted(NEEDS_NOTE))
def test_request_changes_and_reject_need_a_note(api: Api, action: str) -> None:
    listing = listing_in(api, "submitted")
    for body in (None, {"note": "   "}):
        tag = api.etag(f"/api/v1/solutions/{listing['id']}")
        response = api.call("POST", f"/api/v1/solutions/{listing['id']}/{action}", ADMIN, json=body, if_match=tag)
        assert assert_problem(response, 422, "note")["errors"][0]["field"] == "body.note"
    assert api.get(f"/api/v1/solutions/{listing['id']}", ADMIN).json()["status"] == "submitted"


def test_an_incomplete_listing_cannot_be_submitted_nor_published(api: Api) -> None:
    bare = api.create(summary="", categories=[], countries=[], kpi_impacts=[])
    body = assert_problem(api.act(bare, "submit"), 422, "summary", "categories", "countries", "kpi_impacts")
    assert body["missing"] == ["summary", "categories", "countries", "kpi_impacts"]
    assert api.get(f"/api/v1/solutions/{bare['id']}", VENDOR).json()["status"] == "draft"

    # A submitted listing that lost its claims (as old data could have): publishing names what is missing.
    submitted = listing_in(api, "submitted", title="Lost its claims")
    with api.engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM solution_kpi_impact WHERE solution_id = :s"), {"s": submitted["id"]})
    body = assert_problem(api.act(submitted, "publish", ADMIN), 422, "kpi_impacts")
    assert body["missing"] == ["kpi_impacts"]
    after = api.get(f"/api/v1/solutions/{submitted['id']}", ADMIN).json()
    assert after["status"] == "submitted"
    assert after["published_at"] is None


def test_edits_by_status(api: Api) -> None:
    def patch(listing: dict[str, Any], body: dict[str, Any], role: Any = VENDOR) -> Any:
        tag = api.etag(f"/api/v1/solutions/{listing['id']}")
        return api.call("PATCH", f"/api/v1/solutions/{listing['id']}", role, json=body, if_match=tag)

    # Under review: frozen until withdrawn; archived and rejected: restore first.
    for status, moves in (("submitted", ["withdraw"]), ("archived", ["restore"]), ("rejected", ["archive"])):
        listing = listing_in(api, status, title=f"Frozen {status}")
        body = assert_problem(patch(listing, {"summary": "new"}), 409, status)
        assert body["current_status"] == status
        assert body["allowed_actions"] == moves
    # Published: the edit is allowed, the listing stays published, and the audit event holds the diff.
    published = listing_in(api, "published", title="Live")
    response = patch(published, {"summary": "Now with fewer false alarms.", "sdgs": [6]})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "published"
    event = api.get("/api/v1/audit-events", ADMIN, object_id=str(published["id"]), action="solution.update").json()
    changes = event["items"][0]["changes"]
    assert changes["status"] == "published"
    assert changes["summary"] == {"from": COMPLETE_SUMMARY, "to": "Now with fewer false alarms."}
    assert changes["sdgs"] == {"from": [6, 11], "to": [6]}
    assert set(changes) == {"status", "summary", "sdgs"}
    # ... but it must stay complete.
    body = assert_problem(patch(published, {"kpi_impacts": [], "countries": []}), 422, "kpi_impacts")
    assert body["missing"] == ["countries", "kpi_impacts"]
    assert len(api.get(f"/api/v1/solutions/{published['id']}").json()["kpi_impacts"]) == 2


COMPLETE_SUMMARY = "Finds leaks in district metered areas from night-flow data."


def test_only_a_draft_never_submitted_can_be_deleted(api: Api) -> None:
    draft = api.create(title="Throwaway")
    sid = draft["id"]
    assert api.call("DELETE", f"/api/v1/solutions/{sid}", VENDOR).status_code == 428
    tag = api.etag(f"/api/v1/solutions/{sid}")
    response = api.call("DELETE", f"/api/v1/solutions/{sid}", VENDOR, if_match=tag)
    assert response.status_code == 204, response.text
    assert api.scalar("SELECT count(*) FROM solution WHERE id = :s", s=sid) == 0
    assert api.scalar("SELECT count(*) FROM solution_kpi_impact WHERE solution_id = :s", s=sid) == 0
    assert [e["action"] for e in api.audit("solution", sid)] == ["solution.create", "solution.delete"]
    assert api.get(f"/api/v1/solutions/{sid}", ADMIN).status_code == 404

    # Once submitted, even when withdrawn to draft, it is archived instead.
    withdrawn = listing_in(api, "submitted", title="Withdrawn")
    api.moved(withdrawn, "withdraw")
    tag = api.etag(f"/api/v1/solutions/{withdrawn['id']}")
    body = assert_problem(api.call("DELETE", f"/api/v1/solutions/{withdrawn['id']}", VENDOR, if_match=tag), 409)
    assert body["allowed_actions"] == ["submit", "archive"]
    published = listing_in(api, "published", title="Kept")
    tag = api.etag(f"/api/v1/solutions/{published['id']}")
    assert_problem(api.call("DELETE", f"/api/v1/solutions/{published['id']}", VENDOR, if_match=tag), 409, "archive")
    assert api.scalar("SELECT count(*) FROM solution WHERE id IN (:a, :b)", a=withdrawn["id"], b=published["id"]) == 2
