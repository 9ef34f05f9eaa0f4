"""Saved alerts on both faces (CRUD, validation, ownership), matched by the notifier on publications with the
listing API's own filters and visibility; clarification.answered to the asker alone; lead.new after a city's KPI
values change, computed by the notifier and told once; content.hidden and content.restored to the author alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from app.case_studies.models import CaseStudy
from app.core.concurrency import etag
from app.core.db import unit_of_work
from app.identity.models import Membership, Role, User
from app.kpis.models import Kpi
from app.notifications.catalogue import CATALOGUE
from app.notifications.delivery import Notifier
from app.notifications.models import Alert, LeadCheck, LeadNotice, Notification, NotifyEvent
from app.search_index.indexer import drain, ensure_indexes
from app.solutions.models import (
    EvidenceLevel,
    ListingStatus,
    Maturity,
    PriceModel,
    Solution,
    SolutionCategory,
    SolutionCountry,
    SolutionKpiImpact,
)
from tests.notifications.conftest import Env, make_env, pump

ALERTS = "/api/v1/me/alerts"
WATER_IN_NORWAY = {"name": "Water loss in Norway", "solution_filters": {"kpi": "EC-I-WS-3C", "country": "no"}}


def _listing(env: Env, slug: str, country: str, status: ListingStatus = ListingStatus.submitted) -> int:
    """A complete listing of vendor a claiming Water Supply Loss, offered in `country`."""
    with unit_of_work(env.engine) as session:
        kpi = session.exec(select(Kpi).where(Kpi.slug == "EC-I-WS-3C")).one()
        solution = Solution(
            vendor_id=env.world.vendor["a"],
            slug=slug,
            title=f"Leak finder {slug}",
            summary="Finds leaks in water mains.",
            maturity=Maturity.pilot,
            price_model=PriceModel.licence,
            status=status,
            submitted_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        session.add(solution)
        session.flush()
        sid = solution.id or 0
        session.add_all(
            [
                SolutionCategory(solution_id=sid, category="Water and Sanitation"),
                SolutionCountry(solution_id=sid, country_code=country),
                SolutionKpiImpact(
                    solution_id=sid, kpi_id=kpi.id or 0, expected_effect=0.3, evidence_level=EvidenceLevel.claimed
                ),
            ]
        )
    return sid


def _publish(env: Env, solution_id: int) -> None:
    answer = env.api.post(
        f"/api/v1/solutions/{solution_id}/publish",
        headers={**env.auth(Role.admin), "If-Match": etag("solution", solution_id, 1)},
    )
    assert answer.status_code == 200, answer.text


def _feed(env: Env, role: Role) -> list[dict[str, Any]]:
    answer = env.api.get("/api/v1/me/notifications", headers=env.auth(role))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _drain(env: Env) -> None:
    pump(env.engine, env.settings, lambda: _pending(env) == 0)


def _pending(env: Env) -> int:
    with Session(env.engine) as session:
        events = session.exec(select(NotifyEvent.id).where(col(NotifyEvent.dispatched_at).is_(None))).all()
        checks = session.exec(select(LeadCheck.id).where(col(LeadCheck.done_at).is_(None))).all()
    return len(events) + len(checks)


def test_alert_crud_on_rest_is_the_owners_alone(env: Env) -> None:
    official, vendor = env.auth(Role.city_official), env.auth(Role.vendor_member)
    made = env.api.post(ALERTS, json=WATER_IN_NORWAY, headers={**official, "Idempotency-Key": "alert-1"})
    assert made.status_code == 201, made.text
    alert = made.json()
    assert made.headers["location"] == f"{ALERTS}/{alert['id']}"
    assert (alert["target"], alert["filters"]) == ("solutions", {"kpi": "EC-I-WS-3C", "country": "no"})
    assert alert["list_path"] == "/api/v1/solutions?country=no&kpi=EC-I-WS-3C"
    again = env.api.post(ALERTS, json=WATER_IN_NORWAY, headers={**official, "Idempotency-Key": "alert-1"})
    assert (again.status_code, again.headers.get("idempotent-replayed"), again.json()["id"]) == (
        201,
        "true",
        alert["id"],
    )
    assert env.api.post(ALERTS, json=WATER_IN_NORWAY, headers=official).status_code == 409  # the same name

    one = f"{ALERTS}/{alert['id']}"
    read = env.api.get(one, headers=official)
    assert (read.status_code, read.headers["etag"]) == (200, etag("alert", alert["id"], 1))
    listed = env.api.get(ALERTS, params={"limit": 1}, headers=official).json()
    assert (listed["total"], [a["id"] for a in listed["items"]]) == (1, [alert["id"]])
    # Someone else's alert does not exist for them, not even for an admin.
    for role in (Role.vendor_member, Role.admin):
        headers = env.auth(role)
        assert env.api.get(one, headers=headers).status_code == 404
        assert (
            env.api.patch(one, json={"name": "x"}, headers={**headers, "If-Match": read.headers["etag"]}).status_code
            == 404
        )
        assert env.api.delete(one, headers=headers).status_code == 404
    assert env.api.get(ALERTS, headers=vendor).json()["total"] == 0

    assert env.api.patch(one, json={"name": "Renamed"}, headers=official).status_code == 428
    patched = env.api.patch(
        one,
        json={"name": "Case studies in Norway", "case_study_filters": {"country": "NO"}},
        headers={**official, "If-Match": read.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["target"], patched.json()["filters"], patched.json()["version"]) == (
        "case_studies",
        {"country": "NO"},
        2,
    )
    stale = env.api.patch(one, json={"name": "Again"}, headers={**official, "If-Match": read.headers["etag"]})
    assert stale.status_code == 412
    assert env.api.delete(one, headers=official).status_code == 204
    assert env.api.get(one, headers=official).status_code == 404


def test_alert_validation_names_the_field(env: Env) -> None:
    official = env.auth(Role.city_official)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"name": "nothing watched"}, "solution_filters, case_study_filters or search"),
        ({"name": "both", "solution_filters": {}, "case_study_filters": {}}, "not several"),
        ({"name": "bad country", "solution_filters": {"country": "Norway"}}, "body.solution_filters.country"),
        ({"name": "bad field", "solution_filters": {"colour": "red"}}, "body.solution_filters.colour"),
        ({"name": "bad maturity", "solution_filters": {"maturity": "ripe"}}, "unknown maturity"),
        ({"name": "unknown KPI", "solution_filters": {"kpi": "NO-SUCH-KPI"}}, "body.solution_filters.kpi"),
        ({"name": "", "solution_filters": {}}, "body.name"),
        ({"name": "no words", "search": {"q": "", "type": "solution"}}, "body.search.q"),
        ({"name": "bad type", "search": {"q": "leak", "type": "vendor"}}, "unknown type"),
        ({"name": "bad search KPI", "search": {"q": "leak", "type": "solution", "kpi": ["NOPE"]}}, "body.search.kpi"),
        ({"name": "two", "search": {"q": "leak", "type": "solution"}, "solution_filters": {}}, "not several"),
    ]
    for body, said in cases:
        answer = env.api.post(ALERTS, json=body, headers=official)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert said in answer.text, (said, answer.text)


GQL_CREATE = """mutation($input: AlertInput!, $key: String) {
  createAlert(input: $input, idempotencyKey: $key) {
    __typename ... on Alert { id name target filters version } ... on MutationError { code message }
  }
}"""
GQL_UPDATE = """mutation($id: Int!, $v: Int!, $input: AlertUpdateInput!) {
  updateAlert(id: $id, expectedVersion: $v, input: $input) {
    __typename ... on Alert { id name version } ... on MutationError { code }
  }
}"""
GQL_DELETE = "mutation($id: Int!) { deleteAlert(id: $id) { __typename ... on MutationError { code } } }"
GQL_LIST = "{ alerts(first: 5) { totalCount edges { node { id name listPath } } } }"


def test_alerts_on_graphql_answer_as_rest_does(env: Env) -> None:
    official, vendor = env.auth(Role.city_official), env.auth(Role.vendor_member)

    def gql(query: str, headers: dict[str, str], **variables: Any) -> dict[str, Any]:
        answer = env.api.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()["data"]
        return data

    made = gql(
        GQL_CREATE,
        official,
        input={"name": "Water loss in Norway", "solutionFilters": {"kpi": "EC-I-WS-3C", "country": "NO"}},
        key="gql-1",
    )["createAlert"]
    assert (made["__typename"], made["target"], made["filters"]) == (
        "Alert",
        "solutions",
        {"kpi": "EC-I-WS-3C", "country": "NO"},
    )
    # The key spans both faces: REST's create with the same key and body replays the GraphQL one.
    replay = env.api.post(
        ALERTS,
        json={"name": "Water loss in Norway", "solution_filters": {"kpi": "EC-I-WS-3C", "country": "NO"}},
        headers={**official, "Idempotency-Key": "gql-1"},
    )
    assert (replay.status_code, replay.json()["id"]) == (201, made["id"])
    bad = gql(GQL_CREATE, official, input={"name": "x", "solutionFilters": {"kpi": "NO-SUCH-KPI"}})["createAlert"]
    assert (bad["__typename"], bad["code"]) == ("MutationError", "VALIDATION_ERROR")
    listed = gql(GQL_LIST, official)["alerts"]
    assert (listed["totalCount"], listed["edges"][0]["node"]["listPath"]) == (
        1,
        "/api/v1/solutions?country=NO&kpi=EC-I-WS-3C",
    )
    assert gql(GQL_LIST, vendor)["alerts"]["totalCount"] == 0
    theirs = gql(GQL_UPDATE, vendor, id=made["id"], v=1, input={"name": "mine"})["updateAlert"]
    assert theirs == {"__typename": "MutationError", "code": "NOT_FOUND"}
    renamed = gql(GQL_UPDATE, official, id=made["id"], v=1, input={"name": "Renamed"})["updateAlert"]
    assert (renamed["name"], renamed["version"]) == ("Renamed", 2)
    assert gql(GQL_DELETE, vendor, id=made["id"])["deleteAlert"]["code"] == "NOT_FOUND"
    assert gql(GQL_DELETE, official, id=made["id"])["deleteAlert"]["__typename"] == "Deleted"
    assert gql(GQL_LIST, official)["alerts"]["totalCount"] == 0


def test_a_publication_matching_an_alert_tells_its_owner_only(env: Env) -> None:
    official = env.auth(Role.city_official)
    assert env.api.post(ALERTS, json=WATER_IN_NORWAY, headers=official).status_code == 201
    other = {"name": "Water loss in Sweden", "solution_filters": {"kpi": "EC-I-WS-3C", "country": "SE"}}
    assert env.api.post(ALERTS, json=other, headers=official).status_code == 201
    norway, sweden = _listing(env, "alert-no", "NO"), _listing(env, "alert-se", "SE")
    withdrawn = _listing(env, "alert-withdrawn", "NO")
    for solution_id in (norway, sweden, withdrawn):
        _publish(env, solution_id)
    # Withdrawn before the notifier looks: the listing API no longer shows it to the owner, so no alert tells of it.
    with unit_of_work(env.engine) as session:
        row = session.get(Solution, withdrawn)
        assert row is not None
        row.status = ListingStatus.archived
        session.add(row)
    _drain(env)

    matched = [n for n in _feed(env, Role.city_official) if n["type"] == "alert.matched"]
    assert sorted((n["data"]["alert_name"], n["data"]["item_id"]) for n in matched) == sorted(
        [("Water loss in Norway", norway), ("Water loss in Sweden", sweden)]
    )
    for entry in matched:
        assert CATALOGUE["alert.matched"].payload.model_validate(entry["data"]).item_type == "solution"
        assert entry["data"]["url"] == f"/api/v1/solutions/{entry['data']['item_id']}"
    # The vendor hears of its publications, never of someone's alert.
    assert not [n for n in _feed(env, Role.vendor_member) if n["type"] == "alert.matched"]
    with Session(env.engine) as session:
        counts = {a.name: a.matched_count for a in session.exec(select(Alert))}
    assert counts == {"Water loss in Norway": 1, "Water loss in Sweden": 1}


def test_a_clarification_answer_tells_the_asker_alone(env: Env) -> None:
    city, vendor = env.auth(Role.city_official), env.auth(Role.vendor_member)
    asker = env.world.actors[Role.vendor_member]
    with unit_of_work(env.engine) as session:  # a colleague in the asker's organisation
        colleague = User(email="colleague@identity.test", name="Colleague")
        session.add(colleague)
        session.flush()
        session.add(
            Membership(user_id=colleague.id or 0, organisation_id=asker.organisation_id, role=Role.vendor_member)
        )
        colleague_id = colleague.id
    challenge = env.api.post(
        "/api/v1/challenges",
        json={
            "city_id": env.world.city["a"],
            "title": "Lose less water",
            "target_kpis": ["EC-I-WS-3C"],
            "deadline": "2099-01-01",
        },
        headers=city,
    )
    assert challenge.status_code == 201, challenge.text
    asked = env.api.post(
        f"/api/v1/challenges/{challenge.json()['id']}/clarifications",
        json={"question": "Which districts?"},
        headers=vendor,
    )
    assert asked.status_code == 201, asked.text
    answered = env.api.put(
        f"/api/v1/clarifications/{asked.json()['id']}/answer", json={"answer": "The north."}, headers=city
    )
    assert answered.status_code == 200, answered.text
    _drain(env)

    with Session(env.engine) as session:
        event = session.exec(select(NotifyEvent).where(NotifyEvent.type == "clarification.answered")).one()
        told = set(session.exec(select(Notification.user_id).where(Notification.event_id == event.id)).all())
    assert told == {asker.user_id}
    assert colleague_id not in told
    assert event.organisation_ids == [asker.organisation_id]  # the organisation's webhooks hear of it
    assert event.payload == {
        "clarification_id": asked.json()["id"],
        "challenge_id": challenge.json()["id"],
        "challenge_title": "Lose less water",
        "question": "Which districts?",
        "answer": "The north.",
    }  # nobody is named


def test_kpi_values_raise_a_new_lead_once_from_the_notifier(ndb: Any, world_template: Any) -> None:
    for env in make_env(ndb, world_template[1], notify_lead_min_score=0.01):
        listing = _listing(env, "lead-no", "NO", ListingStatus.published)
        city = env.auth(Role.city_official)
        values = {
            "values": [
                {"kpi": "EC-I-WS-3C", "year": 2025, "value": 45.0, "data_quality": "measured", "source": "meter"}
            ]
        }
        put = env.api.put(f"/api/v1/cities/{env.world.city['a']}/kpi-values", json=values, headers=city)
        assert put.status_code == 200, put.text
        with Session(env.engine) as session:  # the request only queued a check
            assert [c.city_id for c in session.exec(select(LeadCheck))] == [env.world.city["a"]]
            assert session.exec(select(NotifyEvent).where(NotifyEvent.type == "lead.new")).first() is None
        _drain(env)
        leads = [n for n in _feed(env, Role.vendor_member) if n["type"] == "lead.new"]
        assert [(n["data"]["solution_id"], n["data"]["city_id"]) for n in leads] == [(listing, env.world.city["a"])]
        lead = CATALOGUE["lead.new"].payload.model_validate(leads[0]["data"])
        assert lead.score >= lead.threshold == 0.01
        assert "EC-I-WS-3C" in lead.kpis
        # New values again: the same lead is not told twice.
        values["values"][0]["value"] = 50.0
        assert (
            env.api.put(f"/api/v1/cities/{env.world.city['a']}/kpi-values", json=values, headers=city).status_code
            == 200
        )
        _drain(env)
        assert len([n for n in _feed(env, Role.vendor_member) if n["type"] == "lead.new"]) == 1
        with Session(env.engine) as session:
            assert len(session.exec(select(LeadNotice)).all()) == 1


def test_a_published_case_study_matches_case_study_alerts(env: Env) -> None:
    official = env.auth(Role.city_official)
    norway = {"name": "Cases in Norway", "case_study_filters": {"country": "NO"}}
    sweden = {"name": "Cases in Sweden", "case_study_filters": {"country": "SE"}}
    for body in (norway, sweden):
        assert env.api.post(ALERTS, json=body, headers=official).status_code == 201
    with unit_of_work(env.engine) as session:
        case = CaseStudy(slug="alert-case", title="Leaks halved in Karmoy", city_id=env.world.city["a"])
        session.add(case)
        session.flush()
        case_id = case.id or 0
    published = env.api.post(
        f"/api/v1/case-studies/{case_id}/publish",
        headers={**env.auth(Role.admin), "If-Match": etag("case_study", case_id, 1)},
    )
    assert published.status_code == 200, published.text
    _drain(env)
    matched = [n["data"] for n in _feed(env, Role.city_official) if n["type"] == "alert.matched"]
    assert [(d["alert_name"], d["item_type"], d["item_id"], d["url"]) for d in matched] == [
        ("Cases in Norway", "case_study", case_id, f"/api/v1/case-studies/{case_id}")
    ]
    with Session(env.engine) as session:
        event = session.exec(select(NotifyEvent).where(NotifyEvent.type == "alert.matched")).one()
    owner = env.world.actors[Role.city_official]
    # The owner's organisations' webhooks hear of it; the feed entry is the owner's alone.
    assert (event.organisation_ids, event.recipient_user_id) == ([owner.organisation_id], owner.user_id)


def test_a_saved_search_matches_once_the_index_has_the_new_listing(env: Env) -> None:
    search = env.app.state.search
    ensure_indexes(search)
    official = env.auth(Role.city_official)
    leaks = {"name": "Leak search", "search": {"q": "leak", "type": "solution", "country": ["NO"]}}
    solar = {"name": "Solar search", "search": {"q": "photovoltaic", "type": "solution"}}
    cases = {"name": "Leak cases", "search": {"q": "leak", "type": "case_study"}}
    for body in (leaks, solar, cases):
        made = env.api.post(ALERTS, json=body, headers=official)
        assert made.status_code == 201, made.text
    assert made.json()["list_path"] == "/api/v1/search?q=leak&type=case_study"
    listing = _listing(env, "search-no", "NO")
    _publish(env, listing)

    def rounds() -> None:
        worker = Notifier(env.engine, env.settings, search=search)
        try:
            while worker.run_once():
                pass
        finally:
            worker.close()

    rounds()  # dispatched, but the index has not taken the listing yet: the saved searches wait
    with Session(env.engine) as session:
        event = session.exec(select(NotifyEvent).where(NotifyEvent.type == "solution.published")).one()
    assert (event.dispatched_at is not None, event.searched_at) == (True, None)
    assert not [n for n in _feed(env, Role.city_official) if n["type"] == "alert.matched"]

    drain(env.engine, search)
    rounds()
    matched = [n["data"] for n in _feed(env, Role.city_official) if n["type"] == "alert.matched"]
    assert [(d["alert_name"], d["target"], d["item_id"]) for d in matched] == [("Leak search", "search", listing)]
    rounds()  # searched once: nothing more
    assert len([n for n in _feed(env, Role.city_official) if n["type"] == "alert.matched"]) == 1


def test_a_moderation_decision_tells_the_author_alone(env: Env) -> None:
    city, admin = env.auth(Role.city_official), env.auth(Role.admin)
    author = env.world.actors[Role.city_official]
    challenge = env.api.post(
        "/api/v1/challenges",
        json={
            "city_id": env.world.city["a"],
            "title": "Quieter streets",
            "target_kpis": ["EC-I-WS-3C"],
            "deadline": "2099-01-01",
        },
        headers=city,
    )
    assert challenge.status_code == 201, challenge.text
    comment = env.api.post(
        f"/api/v1/challenges/{challenge.json()['id']}/comments", json={"body": "Buy now!!!"}, headers=city
    )
    assert comment.status_code == 201, comment.text
    comment_id = comment.json()["id"]
    for action in ("hide", "restore"):
        decided = env.api.post(
            f"/api/v1/moderation/items/comment/{comment_id}/{action}", json={"note": "looked at it"}, headers=admin
        )
        assert decided.status_code == 200, decided.text
    _drain(env)
    told = [(n["type"], n["data"]) for n in _feed(env, Role.city_official) if n["type"].startswith("content.")]
    assert told == [
        (
            "content.restored",
            {"kind": "comment", "object_id": comment_id, "hidden": False, "by": "moderator", "note": "looked at it"},
        ),
        (
            "content.hidden",
            {"kind": "comment", "object_id": comment_id, "hidden": True, "by": "moderator", "note": "looked at it"},
        ),
    ]
    with Session(env.engine) as session:
        events = session.exec(
            select(NotifyEvent).where(col(NotifyEvent.type).in_(["content.hidden", "content.restored"]))
        ).all()
        others = session.exec(
            select(Notification.user_id).where(col(Notification.event_id).in_([e.id for e in events]))
        ).all()
    assert set(others) == {author.user_id}
    assert {tuple(e.organisation_ids) for e in events} == {(author.organisation_id,)}
