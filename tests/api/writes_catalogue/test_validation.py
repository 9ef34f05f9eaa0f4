"""What a listing may say: unknown and server-owned fields refused, every reference checked against the data,
verified claims only with their evidence, and a failed write leaving nothing half-written."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.writes_catalogue.conftest import ADMIN, COMPLETE, VENDOR, Api, assert_problem
from tests.identity.conftest import BASE_URL


def state(api: Api, sid: int) -> dict[str, Any]:
    """The listing as its vendor reads it, and its rows, read from the tables."""
    return {
        "read": api.get(f"/api/v1/solutions/{sid}", VENDOR).json(),
        "impacts": api.rows("SELECT * FROM solution_kpi_impact WHERE solution_id = :s ORDER BY id", s=sid),
        "categories": api.rows("SELECT * FROM solution_category WHERE solution_id = :s", s=sid),
        "deployments": api.rows("SELECT * FROM solution_deployment WHERE solution_id = :s", s=sid),
        "events": len(api.audit("solution", sid)),
    }


def patch(api: Api, sid: int, body: dict[str, Any], role: Any = VENDOR) -> Any:
    tag = api.etag(f"/api/v1/solutions/{sid}")
    return api.call("PATCH", f"/api/v1/solutions/{sid}", role, json=body, if_match=tag)


@pytest.mark.parametrize(
    "field",
    [
        {"status": "published"},
        {"vendor_id": 1},
        {"version": 7},
        {"published_at": "2026-01-01T00:00:00Z"},
        {"slug": "mine"},
        {"verified": True},
        {"is_demo": True},
        {"title": None},
    ],
    ids=lambda f: next(iter(f)),
)
def test_server_owned_and_unknown_fields_are_refused_on_update(api: Api, field: dict[str, Any]) -> None:
    listing = api.create()
    before = state(api, listing["id"])
    name = next(iter(field))
    body = assert_problem(patch(api, listing["id"], {"summary": "changed", **field}), 422, name)
    assert body["type"].endswith("/validation-error")
    assert state(api, listing["id"]) == before


@pytest.mark.parametrize("field", ["status", "version", "published_at", "submitted_at", "verified", "id"])
def test_server_owned_fields_are_refused_on_create(api: Api, field: str) -> None:
    count = api.scalar("SELECT count(*) FROM solution")
    body = {**COMPLETE, "vendor_id": api.world.vendor["a"], field: "published" if field == "status" else 1}
    assert_problem(api.call("POST", "/api/v1/solutions", VENDOR, json=body), 422, f"body.{field}")
    assert api.scalar("SELECT count(*) FROM solution") == count


def test_vendors_cannot_set_verified_nor_create_for_someone_else(api: Api) -> None:
    vendor = api.world.vendor["a"]
    tag = api.etag(f"/api/v1/vendors/{vendor}")
    response = api.call("PATCH", f"/api/v1/vendors/{vendor}", VENDOR, json={"verified": True}, if_match=tag)
    assert_problem(response, 422, "body.verified")
    assert_problem(api.call("POST", f"/api/v1/vendors/{vendor}/verify", VENDOR, if_match=tag), 403)
    assert api.get(f"/api/v1/vendors/{vendor}").json()["verified"] is False
    other = {**COMPLETE, "vendor_id": api.world.vendor["b"]}
    assert_problem(api.call("POST", "/api/v1/solutions", VENDOR, json=other), 403, "member")
    unknown = {**COMPLETE, "vendor_id": 999999}
    assert_problem(api.call("POST", "/api/v1/solutions", VENDOR, json=unknown), 422, "body.vendor_id")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"categories": ["Water and Sanitation", "Teleportation"]}, "body.categories.1"),
        ({"countries": ["NO", "XX"]}, "body.countries.1"),
        ({"countries": ["Norway"]}, "body.countries.0"),
        ({"sdgs": [6, 18]}, "body.sdgs.1"),
        ({"languages": ["english"]}, "body.languages.0"),
        ({"kpi_impacts": [{"kpi": "EC-I-WS-3C", "expected_effect": 0}]}, "body.kpi_impacts.0.expected_effect"),
        ({"kpi_impacts": [{"kpi": "EC-I-WS-3C", "expected_effect": 1.5}]}, "body.kpi_impacts.0.expected_effect"),
        (
            {"kpi_impacts": [{"kpi": "EN-EN-AQ-1C", "data_point": "PM1", "expected_effect": 0.1}]},
            "body.kpi_impacts.0.data_point",
        ),
        (
            {
                "kpi_impacts": [
                    {"kpi": "EC-I-WS-3C", "expected_effect": 0.1},
                    {"kpi": "EC: I: WS: 3C", "expected_effect": 0.2},
                ]
            },
            "body.kpi_impacts.1.kpi",
        ),
        ({"kpi_impacts": [{"kpi": "EC-I-WS-3C", "expected_effect": 0.1, "kpi_id": 3}]}, "body.kpi_impacts.0.kpi_id"),
        ({"deployments": [{"city_id": 999999, "year": 2024}]}, "body.deployments.0.city_id"),
        ({"deployments": [{"city_id": 1, "year": 1800}]}, "body.deployments.0.year"),
        ({"maturity": "vapourware"}, "body.maturity"),
    ],
)
def test_bad_content_is_a_422_naming_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    listing = api.create()
    before = state(api, listing["id"])
    problem = assert_problem(patch(api, listing["id"], body), 422, field)
    assert field in {e["field"] for e in problem["errors"]}
    assert state(api, listing["id"]) == before


def test_references_are_normalised(api: Api) -> None:
    listing = api.create(
        categories=["water and sanitation", "AIR QUALITY", "Water and Sanitation"],
        countries=["no", "NO"],
        languages=["EN"],
        kpi_impacts=[{"kpi": "EN: EN: AQ: 1C", "data_point": "pm2.5", "expected_effect": 0.2}],
        deployments=[{"city_id": api.world.city["a"], "year": 2023}],
    )
    assert listing["categories"] == ["Air Quality", "Water and Sanitation"]
    assert listing["countries"] == ["NO"]
    assert listing["languages"] == ["en"]
    assert [(i["kpi"]["slug"], i["data_point"]) for i in listing["kpi_impacts"]] == [("EN-EN-AQ-1C", "PM2.5")]
    assert [(d["city_id"], d["year"]) for d in listing["deployments"]] == [(api.world.city["a"], 2023)]


def test_a_patch_with_a_bad_third_claim_changes_nothing(api: Api) -> None:
    listing = api.create()
    before = state(api, listing["id"])
    body = {
        "title": "A new title",
        "kpi_impacts": [
            {"kpi": "EC-I-WS-3C", "expected_effect": 0.9},
            {"kpi": "EN-EN-AQ-2C", "expected_effect": 0.2},
            {"kpi": "XX-NOPE-1C", "expected_effect": 0.2},
        ],
        "deployments": [{"city_id": api.world.city["a"], "year": 2024}],
    }
    problem = assert_problem(patch(api, listing["id"], body), 422, "body.kpi_impacts.2.kpi")
    assert [e["field"] for e in problem["errors"]] == ["body.kpi_impacts.2.kpi"]
    assert state(api, listing["id"]) == before


def test_kpi_impacts_replace_the_set(api: Api) -> None:
    listing = api.create()
    old = {i["kpi_id"]: i["id"] for i in state(api, listing["id"])["impacts"]}
    body = {
        "kpi_impacts": [
            {"kpi": "EC-I-WS-3C", "expected_effect": 0.9, "evidence_level": "piloted", "note": "two pilots"},
            {"kpi": "EN-EN-AQ-2C", "expected_effect": 0.2},
        ]
    }
    response = patch(api, listing["id"], body)
    assert response.status_code == 200, response.text
    impacts = {i["kpi"]["slug"]: i for i in response.json()["kpi_impacts"]}
    assert set(impacts) == {"EC-I-WS-3C", "EN-EN-AQ-2C"}
    assert impacts["EC-I-WS-3C"]["expected_effect"] == 0.9
    assert impacts["EC-I-WS-3C"]["note"] == "two pilots"
    rows = {i["kpi_id"]: i["id"] for i in state(api, listing["id"])["impacts"]}
    kept = set(rows) & set(old)
    assert len(kept) == 1
    assert all(rows[k] == old[k] for k in kept)  # the claim that stayed was updated in place
    changes = api.audit("solution", listing["id"])[-1]["changes"]
    assert set(changes) == {"status", "kpi_impacts"}


def test_a_verified_claim_needs_a_case_study_that_measured_it_and_used_the_listing(api: Api) -> None:
    listing = api.create()
    sid = listing["id"]
    # No case study: refused. A new listing cannot be verified yet either.
    verified = {"kpi": "EC-I-WS-3C", "expected_effect": 0.3, "evidence_level": "verified"}
    assert_problem(patch(api, sid, {"kpi_impacts": [verified]}), 422, "body.kpi_impacts.0.evidence_level")
    case_body = {
        "title": "Leak finding in Karmoy",
        "city_id": api.world.city["a"],
        "outcomes": [{"kpi": "EC-I-WS-3C", "value_before": 31, "value_after": 22, "year_before": 2019}],
        "solution_ids": [],
    }
    case = api.call("POST", "/api/v1/case-studies", ADMIN, json=case_body).json()
    cid = case["id"]
    with_case = {**verified, "case_study_id": cid}
    # A draft case study is not evidence anyone but its editors can see.
    assert_problem(patch(api, sid, {"kpi_impacts": [with_case]}), 422, f"no case study with id {cid}")
    api.call("POST", f"/api/v1/case-studies/{cid}/publish", ADMIN, if_match=api.etag(f"/api/v1/case-studies/{cid}"))
    # Published, but it did not use this listing.
    assert_problem(patch(api, sid, {"kpi_impacts": [with_case]}), 422, "does not list this solution")
    tag = api.etag(f"/api/v1/case-studies/{cid}")
    linked = api.call("PATCH", f"/api/v1/case-studies/{cid}", ADMIN, json={"solution_ids": [sid]}, if_match=tag)
    assert linked.status_code == 200, linked.text
    # It used the listing, but measured nothing on this other KPI.
    other_kpi = {**with_case, "kpi": "EN-EN-AQ-2C"}
    assert_problem(patch(api, sid, {"kpi_impacts": [other_kpi]}), 422, "measured no outcome on KPI EN-EN-AQ-2C")
    response = patch(api, sid, {"kpi_impacts": [with_case]})
    assert response.status_code == 200, response.text
    claim = response.json()["kpi_impacts"][0]
    assert (claim["evidence_level"], claim["case_study_id"]) == ("verified", cid)
    # The case study cannot then drop what backs the claim.
    tag = api.etag(f"/api/v1/case-studies/{cid}")
    response = api.call("PATCH", f"/api/v1/case-studies/{cid}", ADMIN, json={"outcomes": []}, if_match=tag)
    assert_problem(response, 409, f"solution {sid}")
    assert len(api.get(f"/api/v1/case-studies/{cid}").json()["outcomes"]) == 1


def test_a_database_failure_in_the_middle_of_a_write_rolls_it_all_back(api: Api, wapp: FastAPI) -> None:
    listing = api.create(deployments=[{"city_id": api.world.city["a"], "year": 2022}])
    sid = listing["id"]
    before = state(api, sid)
    tag = api.etag(f"/api/v1/solutions/{sid}")
    body = {
        "title": "Half-written?",
        "categories": ["Water and Sanitation", "Air Quality"],
        "kpi_impacts": [{"kpi": "EN-EN-AQ-2C", "expected_effect": 0.4}],
        "deployments": [{"city_id": api.world.city["b"], "year": 2024}],
    }
    written: list[str] = []

    def fail_on_deployments(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.split()
        if words[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            written.append(" ".join(words[:3]).lower().replace('"', ""))
        if statement.upper().startswith("INSERT INTO SOLUTION_DEPLOYMENT"):
            raise sa.exc.OperationalError(statement, {}, Exception("disk I/O error (simulated)"))

    sa.event.listen(api.engine, "before_cursor_execute", fail_on_deployments)
    try:
        client = TestClient(wapp, base_url=BASE_URL, raise_server_exceptions=False)
        response = client.patch(f"/api/v1/solutions/{sid}", json=body, headers=api.headers(VENDOR, if_match=tag))
    finally:
        sa.event.remove(api.engine, "before_cursor_execute", fail_on_deployments)
    # A failing database is a 503 the client may retry (nothing was written), never a bare 500.
    assert_problem(response, 503, "nothing was changed")
    # The failure came after other rows of the same write had gone to the database ...
    assert "insert into solution_category" in written, written
    assert "update solution set" in written, written  # the version claimed, the title changed
    # ... and none of it stayed.
    assert state(api, sid) == before
    assert api.etag(f"/api/v1/solutions/{sid}") == tag


def test_an_edit_that_changes_nothing_leaves_no_audit_event(api: Api) -> None:
    listing = api.create()
    events = len(api.audit("solution", listing["id"]))
    same = {"title": listing["title"], "categories": listing["categories"], "kpi_impacts": COMPLETE["kpi_impacts"]}
    response = patch(api, listing["id"], same)
    assert response.status_code == 200, response.text
    assert len(api.audit("solution", listing["id"])) == events
    assert response.json()["kpi_impacts"] == listing["kpi_impacts"]
