"""The vendor's whole story, with real tokens: a draft with impact claims, submitted, sent back for changes,
edited, resubmitted, published by an admin, public, featured by the hub's curator, first in the hub's catalogue."""

from __future__ import annotations

from app.identity.models import Role
from tests.api.writes_catalogue.conftest import ADMIN, CURATOR, VENDOR, Api, assert_problem


def test_a_listing_from_draft_to_the_top_of_a_hub_catalogue(api: Api) -> None:
    hub = api.world.hub["a"]

    # A draft with impact claims, by a member of the vendor.
    draft = api.create()
    sid = draft["id"]
    assert draft["status"] == "draft"
    assert draft["version"] == 1
    assert draft["vendor_id"] == api.world.vendor["a"]
    assert {(i["kpi"]["slug"], i["data_point"]) for i in draft["kpi_impacts"]} == {
        ("EC-I-WS-3C", ""),
        ("EN-EN-AQ-1C", "PM10"),
    }
    assert draft["categories"] == ["Water and Sanitation"]
    assert draft["countries"] == ["NO", "SE"]
    assert draft["submitted_at"] is None
    assert draft["published_at"] is None
    # Not public yet.
    assert api.get(f"/api/v1/solutions/{sid}").status_code == 404
    assert sid not in [s["id"] for s in api.get("/api/v1/solutions", limit=100).json()["items"]]

    submitted = api.moved(draft, "submit")
    assert submitted["status"] == "submitted"
    assert submitted["submitted_at"] is not None
    assert submitted["version"] == 2

    # The reviewer asks for changes, with a note the vendor can read in the listing's history.
    back = api.moved(sid, "request-changes", ADMIN, note="Say which meters it needs.")
    assert back["status"] == "changes_requested"
    history = api.get(f"/api/v1/solutions/{sid}/history", VENDOR).json()["items"]
    assert history[0]["action"] == "solution.request_changes"
    assert history[0]["changes"]["note"] == "Say which meters it needs."

    # The vendor edits (If-Match from its own read) and resubmits.
    tag = api.etag(f"/api/v1/solutions/{sid}", VENDOR)
    edited = api.call(
        "PATCH",
        f"/api/v1/solutions/{sid}",
        VENDOR,
        json={"description": "Needs district meters with hourly reads (any brand with a Modbus or CSV export)."},
        if_match=tag,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["status"] == "changes_requested"
    assert edited.headers["ETag"] == f'"solution-{sid}-v{edited.json()["version"]}"'
    api.moved(sid, "submit")

    published = api.moved(sid, "publish", ADMIN)
    assert published["status"] == "published"
    assert published["published_at"] is not None

    # Public now: in the list and readable without a token.
    assert api.get(f"/api/v1/solutions/{sid}").status_code == 200
    public_ids = [
        s["id"] for s in api.get("/api/v1/solutions", limit=100, vendor=api.world.vendor["a"]).json()["items"]
    ]
    assert sid in public_ids

    # The hub's curator features it: it comes first in the hub's public catalogue.
    other = api.published(title="Another listing, approved only")
    approve = api.call(
        "PUT", f"/api/v1/hubs/{hub}/catalogue/{other['id']}", CURATOR, json={"status": "approved", "note": "ok"}
    )
    assert approve.status_code == 201, approve.text
    feature = api.call(
        "PUT",
        f"/api/v1/hubs/{hub}/catalogue/{sid}",
        CURATOR,
        json={"status": "featured", "note": "Verified results in a coastal municipality."},
    )
    assert feature.status_code == 201, feature.text
    decision = feature.json()
    assert decision["status"] == "featured"
    assert decision["decided_by_user_id"] == api.world.actors[Role.hub_curator].user_id
    catalogue = api.get(f"/api/v1/hubs/{hub}/catalogue").json()
    assert [e["solution_id"] for e in catalogue["items"]] == [sid, other["id"]]
    assert catalogue["items"][0]["note"] == "Verified results in a coastal municipality."

    # Every step is in the audit trail, newest first.
    trail = api.get("/api/v1/audit-events", ADMIN, object_type="solution", object_id=str(sid)).json()["items"]
    assert [e["action"] for e in trail] == [
        "solution.publish",
        "solution.submit",
        "solution.update",
        "solution.request_changes",
        "solution.submit",
        "solution.create",
    ]
    assert all(e["actor_user_id"] is not None and e["request_id"] for e in trail)


def test_the_listing_history_is_for_its_vendor_and_the_reviewers(api: Api) -> None:
    listing = api.published()
    path = f"/api/v1/solutions/{listing['id']}/history"
    assert api.get(path, VENDOR).status_code == 200
    assert api.get(path, ADMIN).status_code == 200
    assert_problem(api.get(path, CURATOR), 403)
    assert_problem(api.get(path), 403)
    draft = api.create(title="Still a draft")
    assert_problem(api.get(f"/api/v1/solutions/{draft['id']}/history", CURATOR), 404)
