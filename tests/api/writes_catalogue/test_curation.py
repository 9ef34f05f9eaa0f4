"""Hub curation: the hub's curators (and admins) approve, feature or hide published listings; the public sees
approved and featured ones, featured first; hidden ones are the curators' business."""

from __future__ import annotations

from tests.api.writes_catalogue.conftest import ADMIN, CITY, CURATOR, VENDOR, Api, assert_problem


def test_curators_decide_and_the_public_catalogue_follows(api: Api) -> None:
    hub = api.world.hub["a"]
    a = api.published(title="Alpha water")
    b = api.published(title="Beta water")
    c = api.published(title="Gamma water")
    catalogue = f"/api/v1/hubs/{hub}/catalogue"

    def decide(listing: dict, status: str, if_match: str | None = None, note: str = "") -> dict:
        response = api.call(
            "PUT", f"{catalogue}/{listing['id']}", CURATOR, json={"status": status, "note": note}, if_match=if_match
        )
        assert response.status_code in (200, 201), response.text
        return {**response.json(), "etag": response.headers["ETag"]}

    decide(a, "approved")
    decide(b, "approved")
    hidden = decide(c, "hidden", note="Not offered in our countries.")
    assert [e["solution_id"] for e in api.get(catalogue).json()["items"]] == [a["id"], b["id"]]

    # Featuring b moves it first: replacing a decision needs its ETag.
    entry = f"{catalogue}/{b['id']}"
    assert_problem(api.call("PUT", entry, CURATOR, json={"status": "featured"}), 428)
    featured = decide(b, "featured", if_match=api.etag(entry, None), note="Strong pilot results.")
    assert featured["version"] == 2
    assert featured["decided_by_user_id"] == api.world.actors[CURATOR].user_id
    items = api.get(catalogue).json()["items"]
    assert [e["solution_id"] for e in items] == [b["id"], a["id"]]
    assert items[0]["status"] == "featured"
    assert api.get(catalogue, status="featured").json()["total"] == 1

    # Hidden entries: the curators (and admins) see them, nobody else.
    assert [e["solution_id"] for e in api.get(catalogue, CURATOR, status="hidden").json()["items"]] == [c["id"]]
    assert api.get(catalogue, ADMIN, status="hidden").json()["total"] == 1
    assert_problem(api.get(catalogue, None, status="hidden"), 401)
    assert_problem(api.get(catalogue, VENDOR, status="hidden"), 403)
    assert api.get(f"{catalogue}/{c['id']}", CURATOR).json()["note"] == "Not offered in our countries."
    assert api.get(f"{catalogue}/{c['id']}").status_code == 404
    assert api.get(f"{catalogue}/{c['id']}", CITY).status_code == 404

    # Removing a decision.
    response = api.call("DELETE", f"{catalogue}/{a['id']}", CURATOR, if_match=hidden["etag"])
    assert_problem(response, 412)
    response = api.call("DELETE", f"{catalogue}/{a['id']}", CURATOR, if_match=api.etag(f"{catalogue}/{a['id']}", None))
    assert response.status_code == 204, response.text
    assert [e["solution_id"] for e in api.get(catalogue).json()["items"]] == [b["id"]]
    assert api.call("DELETE", f"{catalogue}/{a['id']}", CURATOR, if_match=hidden["etag"]).status_code == 404

    actions = [
        e["action"] for e in api.get("/api/v1/audit-events", ADMIN, object_type="hub_catalogue_entry").json()["items"]
    ]
    assert actions == [
        "hub_catalogue_entry.delete",
        "hub_catalogue_entry.update",
        "hub_catalogue_entry.create",
        "hub_catalogue_entry.create",
        "hub_catalogue_entry.create",
    ]


def test_only_published_listings_are_curated(api: Api) -> None:
    hub = api.world.hub["a"]
    draft = api.create(title="Draft")
    # The curator cannot see the draft: 404. The admin can: 409, naming its status.
    assert_problem(
        api.call("PUT", f"/api/v1/hubs/{hub}/catalogue/{draft['id']}", CURATOR, json={"status": "approved"}), 404
    )
    body = assert_problem(
        api.call("PUT", f"/api/v1/hubs/{hub}/catalogue/{draft['id']}", ADMIN, json={"status": "approved"}), 409, "draft"
    )
    assert body["current_status"] == "draft"
    assert_problem(api.call("PUT", f"/api/v1/hubs/{hub}/catalogue/999999", CURATOR, json={"status": "approved"}), 404)
    assert_problem(
        api.call("PUT", f"/api/v1/hubs/999999/catalogue/{draft['id']}", ADMIN, json={"status": "approved"}), 404
    )
    assert api.scalar("SELECT count(*) FROM hub_catalogue_entry") == 0


def test_curation_input_is_checked(api: Api) -> None:
    hub = api.world.hub["a"]
    listing = api.published()
    path = f"/api/v1/hubs/{hub}/catalogue/{listing['id']}"
    for body, field in (
        ({"status": "promoted"}, "body.status"),
        ({"status": "approved", "decided_by_user_id": 1}, "body.decided_by_user_id"),
        ({"status": "approved", "decided_at": "2026-01-01T00:00:00Z"}, "body.decided_at"),
        ({"note": "no status"}, "body.status"),
    ):
        assert_problem(api.call("PUT", path, CURATOR, json=body), 422, field)
    assert api.scalar("SELECT count(*) FROM hub_catalogue_entry") == 0
    # Another hub's curator may look, not decide.
    other = f"/api/v1/hubs/{api.world.hub['b']}/catalogue/{listing['id']}"
    assert_problem(api.call("PUT", other, CURATOR, json={"status": "featured"}), 403, "curators")


def test_an_archived_listing_leaves_the_catalogue(api: Api) -> None:
    hub = api.world.hub["a"]
    listing = api.published()
    api.call("PUT", f"/api/v1/hubs/{hub}/catalogue/{listing['id']}", CURATOR, json={"status": "featured"})
    assert api.get(f"/api/v1/hubs/{hub}/catalogue").json()["total"] == 1
    api.moved(listing, "archive")
    assert api.get(f"/api/v1/hubs/{hub}/catalogue").json()["total"] == 0
    # Its decision stays (restored and republished, it is back where it was) but cannot be changed meanwhile.
    assert_problem(
        api.call("PUT", f"/api/v1/hubs/{hub}/catalogue/{listing['id']}", ADMIN, json={"status": "hidden"}), 409
    )
