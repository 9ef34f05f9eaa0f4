"""Challenges, proposals and comments through REST and GraphQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.auth.principal import Membership, Principal, Scope
from app.identity.models import OrganisationKind, Role
from tests.api.conftest import (
    Data,
    acting_as,
    admin,
    all_pages,
    assert_problem,
    city_official,
    gql,
    gql_all,
    gql_errors,
    ids,
)


def _visible_proposals(data: Data) -> dict[int, dict[str, Any]]:
    """Proposals of published listings: what the challenge's city officials see (proposals are confidential:
    tests/cocreate has the matrix of who sees what)."""
    return {p["id"]: p for p in data("proposal") if p["solution_id"] in data.published_solutions}


def _official_of(data: Data, proposal: dict[str, Any]) -> Principal:
    return city_official(data.by_id("challenge")[proposal["challenge_id"]]["city_id"], Scope.challenges_write)


def _proposer(vendor_id: int) -> Principal:
    return Principal(
        subject="user:9003",
        user_id=9003,
        memberships=(Membership(1, OrganisationKind.vendor, vendor_id, Role.vendor_member),),
        scopes=frozenset({Scope.challenges_write.value, Scope.private_read.value}),
    )


def _hidden_proposal(data: Data) -> dict[str, Any]:
    return next(p for p in data("proposal") if p["solution_id"] not in data.published_solutions)


def test_list_newest_first_and_filters(api: TestClient, data: Data) -> None:
    challenges = data("challenge")
    assert ids(api, "/api/v1/challenges", limit=1) == sorted(data.by_id("challenge"), reverse=True)
    targets = data.grouped("challenge_kpi", "challenge_id", "kpi_id")
    kpi_id = sorted(targets[challenges[0]["id"]])[0]
    kpi = data.by_id("kpi")[kpi_id]
    deadlines = sorted(c["deadline"] for c in challenges)
    middle = deadlines[len(deadlines) // 2]
    cases = [
        ({"city": challenges[0]["city_id"]}, {c["id"] for c in challenges if c["city_id"] == challenges[0]["city_id"]}),
        ({"status": "open"}, {c["id"] for c in challenges if c["status"] == "open"}),
        ({"kpi": kpi["slug"]}, {c for c, kpis in targets.items() if kpi_id in kpis}),
        ({"kpi": kpi["code"]}, {c for c, kpis in targets.items() if kpi_id in kpis}),
        ({"deadline_before": middle.isoformat()}, {c["id"] for c in challenges if c["deadline"] <= middle}),
        ({"deadline_after": middle.isoformat()}, {c["id"] for c in challenges if c["deadline"] >= middle}),
        (
            {"status": "open", "deadline_after": middle.isoformat()},
            {c["id"] for c in challenges if c["status"] == "open" and c["deadline"] >= middle},
        ),
    ]
    for params, expected in cases:
        assert expected, params
        assert expected != set(data.by_id("challenge")), params
        assert set(ids(api, "/api/v1/challenges", limit=2, **params)) == expected, params


def test_get_with_target_kpis_and_etag(api: TestClient, data: Data) -> None:
    row = data("challenge")[0]
    response = api.get(f"/api/v1/challenges/{row['id']}")
    body = response.json()
    assert (body["title"], body["deadline"], body["status"]) == (
        row["title"],
        row["deadline"].isoformat(),
        row["status"],
    )
    assert body["city"]["name"] == data.by_id("city")[row["city_id"]]["name"]
    kpis = data.by_id("kpi")
    assert [k["code"] for k in body["target_kpis"]] == sorted(
        kpis[k["kpi_id"]]["code"] for k in data("challenge_kpi") if k["challenge_id"] == row["id"]
    )
    tag = response.headers["etag"]
    assert tag == f'"challenge-{row["id"]}-v{row["version"]}"'
    assert api.get(f"/api/v1/challenges/{row['id']}", headers={"If-None-Match": tag}).status_code == 304


def test_proposals_of_a_challenge(api: TestClient, data: Data) -> None:
    visible = _visible_proposals(data)
    for challenge in data("challenge"):
        expected = sorted(p for p, row in visible.items() if row["challenge_id"] == challenge["id"])
        with acting_as(api, city_official(challenge["city_id"], Scope.challenges_write)):
            items = all_pages(api, f"/api/v1/challenges/{challenge['id']}/proposals", limit=1)
        assert [p["id"] for p in items] == expected
        solutions, vendors = data.by_id("solution"), data.by_id("vendor")
        assert all(p["solution"]["title"] == solutions[p["solution_id"]]["title"] for p in items)
        assert all(p["vendor"]["name"] == vendors[p["vendor_id"]]["name"] for p in items)
        assert all(p["text"] == visible[p["id"]]["text"] for p in items)
    busiest = max(data.by_id("challenge"), key=lambda c: sum(p["challenge_id"] == c for p in visible.values()))
    mine = [p for p in visible.values() if p["challenge_id"] == busiest]
    path = f"/api/v1/challenges/{busiest}/proposals"
    with acting_as(api, _official_of(data, mine[0])):
        for field, column in (("vendor", "vendor_id"), ("status", "status")):
            value = mine[0][column]
            expected = {p["id"] for p in mine if p[column] == value}
            assert expected != {p["id"] for p in mine}, f"the seed's busiest challenge has proposals of two {field}s"
            assert set(ids(api, path, **{field: value})) == expected
    assert_problem(api.get(path, params={"status": "won"}), 422, "query.status")
    assert_problem(api.get("/api/v1/challenges/999999/proposals"), 404)


def test_proposal_by_id_hides_proposals_of_hidden_listings(api: TestClient, data: Data) -> None:
    proposal = next(iter(_visible_proposals(data).values()))
    with acting_as(api, _official_of(data, proposal)):
        response = api.get(f"/api/v1/proposals/{proposal['id']}")
        assert response.json()["text"] == proposal["text"]
        tag = response.headers["etag"]
        assert tag == f'"proposal-{proposal["id"]}-v{proposal["version"]}"'
        assert api.get(f"/api/v1/proposals/{proposal['id']}", headers={"If-None-Match": tag}).status_code == 304
    hidden = _hidden_proposal(data)
    with acting_as(api, _official_of(data, hidden)):
        assert_problem(api.get(f"/api/v1/proposals/{hidden['id']}"), 404)
        assert hidden["id"] not in ids(api, f"/api/v1/challenges/{hidden['challenge_id']}/proposals")
        assert_problem(api.get("/api/v1/comments", params={"proposal": hidden["id"]}), 404)
    with acting_as(api, _proposer(hidden["vendor_id"])):
        assert api.get(f"/api/v1/proposals/{hidden['id']}").status_code == 200
        assert hidden["id"] in ids(api, f"/api/v1/challenges/{hidden['challenge_id']}/proposals")
        assert ids(api, "/api/v1/comments", proposal=hidden["id"])


def test_comments_oldest_first(api: TestClient, data: Data) -> None:
    comments = data("comment")
    on_challenges = data.grouped("comment", "challenge_id", "id")
    on_proposals = data.grouped("comment", "proposal_id", "id")
    challenge = max((c for c in on_challenges if c), key=lambda c: len(on_challenges[c]))
    assert ids(api, "/api/v1/comments", limit=1, challenge=challenge) == sorted(on_challenges[challenge])
    visible = _visible_proposals(data)
    proposal = next(p for p in on_proposals if p in visible)
    with acting_as(api, _official_of(data, visible[proposal])):
        items = all_pages(api, "/api/v1/comments", proposal=proposal)
    assert [c["id"] for c in items] == sorted(on_proposals[proposal])
    bodies = {c["id"]: c["body"] for c in comments}
    assert all(c["body"] == bodies[c["id"]] for c in items)


@pytest.mark.parametrize(
    "params",
    [{}, {"challenge": 1, "proposal": 1}],
)
def test_comments_need_exactly_one_target(api: TestClient, params: dict[str, Any]) -> None:
    body = assert_problem(api.get("/api/v1/comments", params=params), 422, "challenge", "proposal")
    assert {e["field"] for e in body["errors"]} == {"query.challenge", "query.proposal"}


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/challenges", {"status": "pending"}, "query.status"),
        ("/api/v1/challenges", {"deadline_before": "soon"}, "query.deadline_before"),
        ("/api/v1/challenges", {"limit": 101}, "query.limit"),
        ("/api/v1/comments", {"challenge": "x"}, "query.challenge"),
        ("/api/v1/proposals/x", {}, "path.proposal_id"),
    ],
)
def test_bad_parameters(api: TestClient, path: str, params: dict[str, Any], field: str) -> None:
    assert_problem(api.get(path, params=params), 422, field)


def test_unknown_ids(api: TestClient) -> None:
    assert_problem(api.get("/api/v1/challenges/999999"), 404)
    assert_problem(api.get("/api/v1/proposals/999999"), 404)
    assert_problem(api.get("/api/v1/comments", params={"challenge": 999999}), 404)


def test_graphql_matches_rest(api: TestClient, data: Data) -> None:
    with acting_as(api, admin()):
        _graphql_matches_rest(api)
    open_challenge = next(c["id"] for c in data("challenge") if c["status"] == "open")
    unseen = next(p for p in data("proposal") if p["challenge_id"] == open_challenge)
    assert (
        gql_errors(api, "query ($id: Int!) { proposal(id: $id) { id } }", id=unseen["id"])[0]["extensions"]["code"]
        == "NOT_FOUND"
    )
    hidden = _hidden_proposal(data)
    with acting_as(api, _official_of(data, hidden)):
        assert (
            gql_errors(api, "query ($id: Int!) { proposal(id: $id) { id } }", id=hidden["id"])[0]["extensions"]["code"]
            == "NOT_FOUND"
        )
        visible = next(p for p in _visible_proposals(data).values() if p["challenge_id"] == hidden["challenge_id"])
        query = "query ($id: Int!) { proposal(id: $id) { id } }"
        assert gql(api, query, id=visible["id"])["proposal"] == {"id": visible["id"]}
    challenge = next(c["challenge_id"] for c in data("comment") if c["challenge_id"])
    comments = gql_all(api, "comments", "id body authorLabel", first=1, challenge=challenge)
    assert [c["id"] for c in comments] == ids(api, "/api/v1/comments", challenge=challenge)
    assert gql_errors(api, "{ comments { totalCount } }")[0]["extensions"]["code"] == "INVALID_INPUT"


def _graphql_matches_rest(api: TestClient) -> None:
    rest = all_pages(api, "/api/v1/challenges", limit=100)
    nodes = gql_all(
        api,
        "challenges",
        """id title deadline status proposalCount city { id name } targetKpis { slug code name }
           proposals { id status text vendor { id name } solution { id title } }""",
    )
    assert [n["id"] for n in nodes] == [c["id"] for c in rest]
    for node, item in zip(nodes, rest, strict=True):
        assert (node["title"], node["deadline"], node["status"]) == (item["title"], item["deadline"], item["status"])
        assert node["proposalCount"] == item["proposal_count"]
        assert node["city"] == {"id": item["city"]["id"], "name": item["city"]["name"]}
        assert node["targetKpis"] == item["target_kpis"]
        proposals = all_pages(api, f"/api/v1/challenges/{item['id']}/proposals", limit=100)
        assert [(p["id"], p["status"], p["text"], p["vendor"], p["solution"]) for p in node["proposals"]] == [
            (
                p["id"],
                p["status"],
                p["text"],
                {"id": p["vendor"]["id"], "name": p["vendor"]["name"]},
                {"id": p["solution"]["id"], "title": p["solution"]["title"]},
            )
            for p in proposals
        ]
