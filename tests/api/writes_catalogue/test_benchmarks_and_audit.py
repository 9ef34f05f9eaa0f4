"""An admin's benchmarks (If-Match on a version carried by updated_at), and the audit trail's API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.api.writes_catalogue.conftest import ADMIN, CITY, CURATOR, VENDOR, Api, assert_problem

PM10 = "/api/v1/kpis/EN-EN-AQ-1C/data-points/PM10/benchmark"


def test_an_admin_replaces_a_default_benchmark(api: Api) -> None:
    before = api.get(PM10)
    assert before.status_code == 200
    assert before.json()["is_platform_default"] is True
    body = {
        "value": 14,
        "basis_type": "WHO",
        "basis": "Stricter than the WHO 2021 annual PM10 guideline",
        "source": "WHO AQG 2021",
        "confidence": "high",
    }
    assert_problem(api.call("PUT", PM10, ADMIN, json=body), 428)
    response = api.call("PUT", PM10, ADMIN, json=body, if_match=before.headers["ETag"])
    assert response.status_code == 200, response.text
    version = response.json()["version"]
    assert response.json() == {
        **body,
        "value": 14.0,
        "value_label": "",
        "is_platform_default": False,
        "version": version,
    }
    assert response.headers["ETag"].endswith(f'-v{version}"')  # the version is the one the ETag carries
    assert version != before.json()["version"]
    assert response.headers["ETag"] != before.headers["ETag"]
    assert response.headers["ETag"] == api.get(PM10).headers["ETag"]
    # The KPI shows it.
    kpi = api.get("/api/v1/kpis/EN-EN-AQ-1C").json()
    point = next(dp for dp in kpi["data_points"] if dp["key"] == "PM10")
    assert point["benchmark"]["value"] == 14.0
    assert point["benchmark"]["is_platform_default"] is False
    # The old ETag is stale now.
    assert_problem(api.call("PUT", PM10, ADMIN, json={**body, "value": 10}, if_match=before.headers["ETag"]), 412)
    assert api.get(PM10).json()["value"] == 14.0
    event = api.get("/api/v1/audit-events", ADMIN, action="kpi_benchmark.update").json()["items"][0]
    assert event["changes"]["value"]["to"] == 14.0
    assert event["changes"]["is_platform_default"] == {"from": True, "to": False}
    assert event["changes"]["kpi"] == "EN-EN-AQ-1C"


def test_the_kpi_as_a_whole_is_underscore_and_input_is_checked(api: Api) -> None:
    whole = "/api/v1/kpis/EC-I-WS-3C/data-points/_/benchmark"
    tag = api.etag(whole, None)
    body = {"value": None, "basis_type": "other", "basis": "No defensible number for small utilities"}
    response = api.call("PUT", whole, ADMIN, json=body, if_match=tag)
    assert response.status_code == 200, response.text
    assert response.json()["value"] is None
    assert_problem(api.get("/api/v1/kpis/EN-EN-AQ-1C/data-points/PM1/benchmark"), 404, "PM2.5")
    assert_problem(api.get("/api/v1/kpis/EN-EN-AQ-1C/data-points/_/benchmark"), 404)
    tag = api.etag(whole, None)
    for bad, field in (
        ({**body, "basis_type": "vibes"}, "body.basis_type"),
        ({**body, "basis": ""}, "body.basis"),
        ({**body, "is_platform_default": True}, "body.is_platform_default"),
        ({**body, "confidence": "sure"}, "body.confidence"),  # matching weighs gaps by the rating
        ({"basis_type": "WHO", "basis": "x"}, "body.value"),
    ):
        assert_problem(api.call("PUT", whole, ADMIN, json=bad, if_match=tag), 422, field)
    for role in (VENDOR, CITY, CURATOR):
        assert_problem(api.call("PUT", whole, role, json=body, if_match=tag), 403)
    assert api.etag(whole, None) == tag


def test_the_audit_trail_is_for_admins_with_filters_and_pages(api: Api) -> None:
    assert_problem(api.get("/api/v1/audit-events"), 401)
    for role in (VENDOR, CITY, CURATOR):
        assert_problem(api.get("/api/v1/audit-events", role), 403)

    start = datetime.now(UTC) - timedelta(seconds=1)
    first = api.create(title="First")
    second = api.create(title="Second")
    api.moved(second, "submit")
    api.moved(second, "publish", ADMIN)
    everything = api.get("/api/v1/audit-events", ADMIN, limit=100).json()
    ids = [e["id"] for e in everything["items"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert everything["total"] == len(ids) == 4

    def actions(**params: object) -> list[str]:
        return [e["action"] for e in api.get("/api/v1/audit-events", ADMIN, limit=100, **params).json()["items"]]

    assert actions(object_type="solution", object_id=str(second["id"])) == [
        "solution.publish",
        "solution.submit",
        "solution.create",
    ]
    assert actions(object_type="solution", object_id=str(first["id"])) == ["solution.create"]
    assert actions(action="solution.create") == ["solution.create", "solution.create"]
    assert actions(actor=api.world.actors[ADMIN].user_id) == ["solution.publish"]
    assert actions(actor=api.world.actors[VENDOR].user_id) == ["solution.submit", "solution.create", "solution.create"]
    assert len(actions(since=start.isoformat())) == 4
    assert actions(until=start.isoformat()) == []
    assert actions(since=(datetime.now(UTC) + timedelta(hours=1)).isoformat()) == []
    assert_problem(api.get("/api/v1/audit-events", ADMIN, since="2026-01-01T00:00:00"), 422, "query.since")

    # Page by page, with the cursor.
    seen: list[int] = []
    cursor = None
    while True:
        page = api.get("/api/v1/audit-events", ADMIN, limit=3, **({"cursor": cursor} if cursor else {})).json()
        assert page["total"] == 4
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    event = everything["items"][0]
    assert event["object_type"] == "solution"
    assert event["actor_label"] == f"user:{api.world.actors[ADMIN].user_id}"
    assert event["request_id"]
