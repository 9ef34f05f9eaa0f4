"""Creates: Idempotency-Key replays (same key and body: the same answer, one row) and refusals (same key,
another body: 422), Location and ETag; vendors registered by admins with their organisation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.writes_catalogue.conftest import ADMIN, COMPLETE, VENDOR, Api, assert_problem

CREATES: dict[str, tuple[str, Any, Any, str]] = {
    # name: (path, role, body builder, table)
    "solution": ("/api/v1/solutions", VENDOR, lambda api: {**COMPLETE, "vendor_id": api.world.vendor["a"]}, "solution"),
    "vendor": (
        "/api/v1/vendors",
        ADMIN,
        lambda api: {"name": "Fjellvann Analyse AS", "country_code": "no", "size": "micro"},
        "vendor",
    ),
    "case study": ("/api/v1/case-studies", ADMIN, lambda api: {"title": "Night-flow analysis"}, "case_study"),
    "guideline": (
        "/api/v1/procurement-guidelines",
        ADMIN,
        lambda api: {"title": "Ask for open data", "stage": "tender_design", "categories": ["ICT Infrastructure"]},
        "procurement_guideline",
    ),
}


@pytest.mark.parametrize("kind", sorted(CREATES))
def test_the_same_key_and_body_replay_the_first_answer(api: Api, kind: str) -> None:
    path, role, build, table = CREATES[kind]
    body = build(api)
    count = api.scalar(f"SELECT count(*) FROM {table}")
    first = api.call("POST", path, role, json=body, key="create-1")
    assert first.status_code == 201, first.text
    assert first.headers["Location"] == f"{path}/{first.json()['id']}"
    assert first.headers["ETag"] == f'"{table}-{first.json()["id"]}-v1"'
    again = api.call("POST", path, role, json=body, key="create-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert api.scalar(f"SELECT count(*) FROM {table}") == count + 1
    assert len(api.audit(table, first.json()["id"])) == 1

    other = {**body, "title" if "title" in body else "name": "Something else entirely"}
    refused = api.call("POST", path, role, json=other, key="create-1")
    assert_problem(refused, 422, "create-1")
    assert refused.json()["type"].endswith("/idempotency-key-reused")
    assert api.scalar(f"SELECT count(*) FROM {table}") == count + 1

    # Without a key, the same body is a second object.
    second = api.call("POST", path, role, json=body if kind != "vendor" else {**body, "name": "Another AS"})
    assert second.status_code == 201, second.text
    assert second.json()["id"] != first.json()["id"]


def test_a_refused_create_stores_no_answer_and_may_be_retried_with_the_same_key(api: Api) -> None:
    body = {**COMPLETE, "vendor_id": api.world.vendor["a"], "countries": ["XX"]}
    assert_problem(api.call("POST", "/api/v1/solutions", VENDOR, json=body, key="retry"), 422, "body.countries.0")
    fixed = api.call("POST", "/api/v1/solutions", VENDOR, json={**body, "countries": ["NO"]}, key="retry")
    assert fixed.status_code == 201, fixed.text


def test_slugs_are_unique_and_readable(api: Api) -> None:
    one = api.create(title="Smart Bin Sensors")
    two = api.create(title="Smart bin sensors!")
    assert one["slug"] == "smart-bin-sensors"
    assert two["slug"] == "smart-bin-sensors-2"


def test_an_admin_registers_a_vendor_with_its_organisation(api: Api) -> None:
    body = {"name": "Ødegård Vannteknikk AS", "country_code": "NO", "size": "small", "website": "https://ovt.example"}
    created = api.call("POST", "/api/v1/vendors", ADMIN, json=body)
    assert created.status_code == 201, created.text
    vendor = created.json()
    assert vendor["slug"] == "odegard-vannteknikk-as"
    assert vendor["verified"] is False
    assert vendor["published_solutions"] == 0
    organisation = api.rows("SELECT * FROM organisation WHERE vendor_id = :v", v=vendor["id"])
    assert len(organisation) == 1
    assert organisation[0]["kind"] == "vendor"
    assert organisation[0]["name"] == body["name"]

    # The same name again (any case) is a conflict; nobody but an admin registers vendors.
    assert_problem(api.call("POST", "/api/v1/vendors", ADMIN, json={**body, "name": body["name"].upper()}), 409)
    assert_problem(api.call("POST", "/api/v1/vendors", VENDOR, json={**body, "name": "Mine AS"}), 403)
    assert_problem(api.call("POST", "/api/v1/vendors", None, json={**body, "name": "Mine AS"}), 401)
    for bad, field in (({"country_code": "XX"}, "body.country_code"), ({"website": "ftp://x"}, "body.website")):
        assert_problem(api.call("POST", "/api/v1/vendors", ADMIN, json={**body, "name": "New", **bad}), 422, field)
    assert_problem(api.call("POST", "/api/v1/vendors", ADMIN, json={**body, "verified": True}), 422, "body.verified")


def test_a_member_edits_its_vendor_and_an_admin_verifies_it(api: Api) -> None:
    vid = api.world.vendor["a"]
    tag = api.etag(f"/api/v1/vendors/{vid}")
    edit = {"name": "Identity Vendor A Renamed", "description": "We find leaks.", "size": "medium"}
    response = api.call("PATCH", f"/api/v1/vendors/{vid}", VENDOR, json=edit, if_match=tag)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Identity Vendor A Renamed"
    assert response.headers["ETag"] == f'"vendor-{vid}-v2"'
    assert api.scalar("SELECT name FROM organisation WHERE vendor_id = :v", v=vid) == "Identity Vendor A Renamed"
    changes = api.audit("vendor", vid)[-1]["changes"]
    assert set(changes) == {"name", "description", "size"}
    assert changes["size"] == {"from": "small", "to": "medium"}
    # Taking another vendor's name is a conflict.
    taken = api.call(
        "PATCH", f"/api/v1/vendors/{vid}", VENDOR, json={"name": "identity vendor b"}, if_match=response.headers["ETag"]
    )
    assert_problem(taken, 409, "Identity Vendor B")

    verified = api.call(
        "POST",
        f"/api/v1/vendors/{vid}/verify",
        ADMIN,
        json={"note": "Checked the company register."},
        if_match=response.headers["ETag"],
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified"] is True
    event = api.audit("vendor", vid)[-1]
    assert event["action"] == "vendor.verify"
    assert event["changes"] == {"verified": {"from": False, "to": True}, "note": "Checked the company register."}
    withdrawn = api.call(
        "POST", f"/api/v1/vendors/{vid}/verify", ADMIN, json={"verified": False}, if_match=verified.headers["ETag"]
    )
    assert withdrawn.json()["verified"] is False
    assert api.audit("vendor", vid)[-1]["action"] == "vendor.unverify"
