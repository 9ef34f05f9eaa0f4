"""Case studies and procurement guidelines: written by the platform's editors (admins), drafts invisible to
everyone else, published and archived through one small state machine."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.writes_catalogue.conftest import ADMIN, CITY, VENDOR, Api, assert_problem

KINDS = {
    "case study": ("/api/v1/case-studies", {"title": "Smart meters in Rana"}, "case_study"),
    "guideline": (
        "/api/v1/procurement-guidelines",
        {"title": "Buy outcomes", "stage": "tender_design"},
        "procurement_guideline",
    ),
}


def create(api: Api, kind: str, **extra: Any) -> dict[str, Any]:
    path, body, _ = KINDS[kind]
    response = api.call("POST", path, ADMIN, json={**body, **extra})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def act(api: Api, kind: str, item: dict[str, Any], action: str, role: Any = ADMIN) -> Any:
    path = f"{KINDS[kind][0]}/{item['id']}"
    return api.call("POST", f"{path}/{action}", role, if_match=api.etag(path))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_draft_publish_archive_republish(api: Api, kind: str) -> None:
    path, _, table = KINDS[kind]
    item = create(api, kind)
    one = f"{path}/{item['id']}"
    assert item["status"] == "draft"
    # A draft is the editors' only.
    assert api.get(one).status_code == 404
    assert api.get(one, VENDOR).status_code == 404
    assert item["id"] not in [i["id"] for i in api.get(path, limit=100).json()["items"]]

    published = act(api, kind, item, "publish")
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert api.get(one).status_code == 200
    assert item["id"] in [i["id"] for i in api.get(path, limit=100).json()["items"]]

    # publish again: 409 naming the status and the moves.
    body = assert_problem(act(api, kind, item, "publish"), 409, "published")
    assert body["current_status"] == "published"
    assert body["allowed_actions"] == ["archive"]

    assert act(api, kind, item, "archive").json()["status"] == "archived"
    assert api.get(one).status_code == 404
    body = assert_problem(act(api, kind, item, "archive"), 409, "archived")
    assert body["allowed_actions"] == ["publish"]
    assert act(api, kind, item, "publish").json()["status"] == "published"
    assert [e["action"] for e in api.audit(table, item["id"])] == [
        f"{table}.create",
        f"{table}.publish",
        f"{table}.archive",
        f"{table}.publish",
    ]
    # Only editors act.
    assert_problem(act(api, kind, item, "archive", CITY), 403)
    assert_problem(act(api, kind, item, "archive", None), 401)


def test_a_case_study_with_outcomes_and_solutions(api: Api) -> None:
    listing = api.published()
    case = create(
        api,
        "case study",
        city_id=api.world.city["a"],
        summary="Losses down by a third.",
        year=2022,
        language="NB",
        source_url="https://example.org/report.pdf",
        outcomes=[
            {"kpi": "EC-I-WS-3C", "value_before": 31.0, "value_after": 21.5, "year_before": 2019, "year_after": 2022},
            {"kpi": "EN: EN: AQ: 1C", "data_point": "pm10", "value_before": 24, "value_after": 20},
        ],
        solution_ids=[listing["id"]],
    )
    assert case["language"] == "nb"
    assert case["city"]["id"] == api.world.city["a"]
    assert {(o["kpi"]["slug"], o["data_point"]) for o in case["outcomes"]} == {
        ("EC-I-WS-3C", ""),
        ("EN-EN-AQ-1C", "PM10"),
    }
    assert [s["id"] for s in case["solutions"]] == [listing["id"]]
    path = f"/api/v1/case-studies/{case['id']}"
    # Replacing the outcomes keeps the one that stays.
    before = {
        r["kpi_id"]: r["id"]
        for r in api.rows("SELECT * FROM case_study_outcome WHERE case_study_id = :c", c=case["id"])
    }
    edit = {"outcomes": [{"kpi": "EC-I-WS-3C", "value_before": 31.0, "value_after": 20.0}], "year": None}
    response = api.call("PATCH", path, ADMIN, json=edit, if_match=api.etag(path))
    assert response.status_code == 200, response.text
    assert response.json()["year"] is None
    after = api.rows("SELECT * FROM case_study_outcome WHERE case_study_id = :c", c=case["id"])
    assert len(after) == 1
    assert after[0]["id"] in before.values()
    assert after[0]["value_after"] == 20.0
    changes = api.audit("case_study", case["id"])[-1]["changes"]
    assert set(changes) == {"outcomes", "year"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"city_id": 999999}, "body.city_id"),
        ({"outcomes": [{"kpi": "NOPE", "value_before": 1, "value_after": 2}]}, "body.outcomes.0.kpi"),
        ({"outcomes": [{"kpi": "EC-I-WS-3C", "value_before": 1}]}, "body.outcomes.0.value_after"),
        (
            {
                "outcomes": [
                    {"kpi": "EC-I-WS-3C", "value_before": 1, "value_after": 2, "year_before": 2022, "year_after": 2020}
                ]
            },
            "year_after",
        ),
        ({"solution_ids": [999999]}, "body.solution_ids.0"),
        ({"status": "published"}, "body.status"),
        ({"source_url": "javascript:alert(1)"}, "body.source_url"),
        ({"title": ""}, "body.title"),
    ],
)
def test_case_study_input_is_checked(api: Api, body: dict[str, Any], field: str) -> None:
    case = create(api, "case study")
    path = f"/api/v1/case-studies/{case['id']}"
    tag = api.etag(path)
    assert_problem(api.call("PATCH", path, ADMIN, json=body, if_match=tag), 422, field)
    assert api.etag(path) == tag


def test_a_guideline_with_categories_and_kpis(api: Api) -> None:
    guideline = create(
        api, "guideline", categories=["air quality", "Transport"], kpis=["EN-EN-AQ-1C", "EN: EN: AQ: 2C"]
    )
    assert guideline["categories"] == ["Air Quality", "Transport"]
    assert [k["slug"] for k in guideline["kpis"]] == ["EN-EN-AQ-1C", "EN-EN-AQ-2C"]
    path = f"/api/v1/procurement-guidelines/{guideline['id']}"
    bad = api.call("PATCH", path, ADMIN, json={"categories": ["Magic"], "kpis": ["XX"]}, if_match=api.etag(path))
    problem = assert_problem(bad, 422, "body.categories.0", "body.kpis.0")
    assert {e["field"] for e in problem["errors"]} == {"body.categories.0", "body.kpis.0"}
    edit = {"kpis": ["EN-EN-AQ-2C"], "stage": "evaluation"}
    response = api.call("PATCH", path, ADMIN, json=edit, if_match=api.etag(path))
    assert response.status_code == 200, response.text
    assert [k["slug"] for k in response.json()["kpis"]] == ["EN-EN-AQ-2C"]
    assert response.json()["stage"] == "evaluation"
    changes = api.audit("procurement_guideline", guideline["id"])[-1]["changes"]
    assert changes == {
        "stage": {"from": "tender_design", "to": "evaluation"},
        "kpis": {"from": ["EN-EN-AQ-1C", "EN-EN-AQ-2C"], "to": ["EN-EN-AQ-2C"]},
    }


def test_published_editorial_content_is_visible_but_not_editable_by_others(api: Api) -> None:
    case = create(api, "case study")
    act(api, "case study", case, "publish")
    path = f"/api/v1/case-studies/{case['id']}"
    tag = api.etag(path, None)
    for role in (VENDOR, CITY):
        assert_problem(api.call("PATCH", path, role, json={"summary": "mine"}, if_match=tag), 403)
    assert api.etag(path, None) == tag
