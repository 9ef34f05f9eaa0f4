"""Moderation through both faces with distinct real tokens (one per role's user of the identity world):
the threshold of distinct reporters, a second report refused, hidden from the public but not from its author
or a moderator, the queue's permissions, restoring, blocking, and the audit trail of every step."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.audit.models import AuditEvent
from app.case_studies.models import CaseStudy, ContentStatus
from app.hubs.models import HubCountry
from app.identity.models import Role
from app.solutions.models import ListingStatus
from tests.identity.conftest import BASE_URL, World, bearer, mint_user_token
from tests.identity.matrix import Scenario
from tests.identity.rows_catalogue import _listing
from tests.identity.rows_moderation import public_comment

REPORT = """mutation($id: Int!) {
  reportContent(input: {kind: comment, objectId: $id, reason: offensive, note: "rude"}) {
  __typename ... on ModerationReport { itemHidden } ... on MutationError { code message } } }"""
COMMENT = """mutation($c: Int!) { commentOnChallenge(challengeId: $c, body: "again") {
  __typename ... on MutationError { code message } } }"""


def _tokens(app: FastAPI, engine: Engine, world: World) -> dict[Role, str]:
    return {role: mint_user_token(app, engine, world, role) for role in Role}


def _report(api: TestClient, token: str, comment_id: int) -> Any:
    body = {"kind": "comment", "object_id": comment_id, "reason": "spam", "note": "an advert"}
    return api.post("/api/v1/moderation/reports", json=body, headers=bearer(token))


def _comment_ids(api: TestClient, challenge_id: int, token: str | None) -> list[int]:
    response = api.get(f"/api/v1/comments?challenge={challenge_id}", headers=bearer(token) if token else {})
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["items"]]


def _challenge_of(engine: Engine, comment_id: int) -> int:
    from app.challenges.models import Comment

    with Session(engine) as session:
        comment = session.get(Comment, comment_id)
        assert comment is not None
        assert comment.challenge_id is not None
        return comment.challenge_id


def test_three_distinct_reporters_hide_a_comment_until_a_moderator_restores_it(
    app: FastAPI, api: TestClient, iengine: Engine, world: World
) -> None:
    tokens = _tokens(app, iengine, world)
    comment_id = public_comment(Scenario(world, iengine), "own")  # by the city official
    challenge_id = _challenge_of(iengine, comment_id)
    author = tokens[Role.city_official]

    first = _report(api, tokens[Role.vendor_member], comment_id)
    assert first.status_code == 201, first.text
    assert first.json()["item_hidden"] is False
    again = _report(api, tokens[Role.vendor_member], comment_id)
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    # The second face, the same checks: a second reporter through GraphQL, then its own duplicate.
    graphql = api.post(
        "/graphql", json={"query": REPORT, "variables": {"id": comment_id}}, headers=bearer(tokens[Role.hub_curator])
    ).json()["data"]["reportContent"]
    assert graphql == {"__typename": "ModerationReport", "itemHidden": False}
    duplicate = api.post(
        "/graphql", json={"query": REPORT, "variables": {"id": comment_id}}, headers=bearer(tokens[Role.hub_curator])
    ).json()["data"]["reportContent"]
    assert duplicate["code"] == "CONFLICT"
    assert comment_id in _comment_ids(api, challenge_id, None)  # two reporters: still public

    third = _report(api, tokens[Role.programme_coordinator], comment_id)
    assert third.status_code == 201
    assert third.json()["item_hidden"] is True

    assert comment_id not in _comment_ids(api, challenge_id, None)
    assert comment_id not in _comment_ids(api, challenge_id, tokens[Role.vendor_member])
    assert comment_id in _comment_ids(api, challenge_id, author)
    assert comment_id in _comment_ids(api, challenge_id, tokens[Role.admin])

    # The queue: moderators only.
    assert api.get("/api/v1/moderation/reports").status_code == 401
    assert api.get("/api/v1/moderation/reports", headers=bearer(tokens[Role.vendor_member])).status_code == 403
    # A hub curator's queue is the content about their hub's countries: hub a has none yet.
    assert api.get("/api/v1/moderation/reports", headers=bearer(tokens[Role.hub_curator])).json()["total"] == 0
    queue = api.get("/api/v1/moderation/reports?limit=2", headers=bearer(tokens[Role.admin]))
    assert queue.status_code == 200, queue.text
    page = queue.json()
    assert page["total"] == 3
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    assert all(item["item_hidden"] and item["object_id"] == comment_id for item in page["items"])

    queue_query = {"query": "{ moderationReports(first: 2) { totalCount edges { node { objectId itemHidden } } } }"}
    on_graphql = api.post("/graphql", json=queue_query, headers=bearer(tokens[Role.admin])).json()
    assert on_graphql["data"]["moderationReports"]["totalCount"] == 3
    assert on_graphql["data"]["moderationReports"]["edges"][0]["node"] == {"objectId": comment_id, "itemHidden": True}
    not_a_moderator = api.post("/graphql", json=queue_query, headers=bearer(tokens[Role.vendor_member])).json()
    assert not_a_moderator["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    refused = api.post(f"/api/v1/moderation/items/comment/{comment_id}/restore", json={}, headers=bearer(author))
    assert refused.status_code == 403
    restored = api.post(
        f"/api/v1/moderation/items/comment/{comment_id}/restore",
        json={"note": "not spam"},
        headers=bearer(tokens[Role.admin]),
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["hidden"] is False
    assert restored.json()["reports"] == 3
    assert comment_id in _comment_ids(api, challenge_id, None)

    with Session(iengine) as session:
        actions = session.exec(
            select(AuditEvent.action, AuditEvent.changes)
            .where(col(AuditEvent.object_type) == "comment", col(AuditEvent.object_id) == str(comment_id))
            .order_by(col(AuditEvent.id))
        ).all()
    assert [a for a, _ in actions] == [
        "moderation.report",
        "moderation.report",
        "moderation.report",
        "moderation.hide",
        "moderation.restore",
    ]
    assert actions[3][1]["by"] == "threshold"
    assert actions[4][1]["by"] == "moderator"


def test_a_blocked_account_may_not_post_until_unblocked(
    app: FastAPI, api: TestClient, iengine: Engine, world: World
) -> None:
    tokens = _tokens(app, iengine, world)
    comment_id = public_comment(Scenario(world, iengine), "own")
    challenge_id = _challenge_of(iengine, comment_id)
    vendor = world.actors[Role.vendor_member].user_id
    post = {"body": "We can help."}

    assert (
        api.put(f"/api/v1/moderation/blocks/{vendor}", json={}, headers=bearer(tokens[Role.hub_curator])).status_code
        == 403
    )
    blocked = api.put(
        f"/api/v1/moderation/blocks/{vendor}", json={"reason": "spam"}, headers=bearer(tokens[Role.admin])
    )
    assert blocked.status_code == 200, blocked.text

    refused = api.post(
        f"/api/v1/challenges/{challenge_id}/comments", json=post, headers=bearer(tokens[Role.vendor_member])
    )
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/account-blocked")
    assert "blocked from posting" in refused.json()["detail"]
    assert _report(api, tokens[Role.vendor_member], comment_id).status_code == 403
    graphql = api.post(
        "/graphql",
        json={"query": COMMENT, "variables": {"c": challenge_id}},
        headers=bearer(tokens[Role.vendor_member]),
    ).json()["data"]["commentOnChallenge"]
    assert graphql["code"] == "FORBIDDEN"
    assert "blocked from posting" in graphql["message"]

    assert api.delete(f"/api/v1/moderation/blocks/{vendor}", headers=bearer(tokens[Role.admin])).status_code == 204
    again = api.post(
        f"/api/v1/challenges/{challenge_id}/comments", json=post, headers=bearer(tokens[Role.vendor_member])
    )
    assert again.status_code == 201, again.text
    with Session(iengine) as session:
        actions = session.exec(
            select(AuditEvent.action).where(
                col(AuditEvent.object_type) == "user", col(AuditEvent.object_id) == str(vendor)
            )
        ).all()
    assert list(actions) == ["account.block", "account.unblock"]


HIDE = """mutation($id: Int!) { hideContent(kind: listing, objectId: $id, note: "misleading claims") {
  __typename ... on ModeratedItem { hidden } ... on MutationError { code } } }"""


def test_a_hidden_listing_leaves_public_reads_but_not_its_vendors_or_its_moderators(
    app: FastAPI, api: TestClient, iengine: Engine, world: World
) -> None:
    """Listings are also moderated by the curators of the hubs with a country they are offered in."""
    tokens = _tokens(app, iengine, world)
    scenario = Scenario(world, iengine)
    listing = _listing(scenario, "own", ListingStatus.published).id  # vendor a's, offered in NO
    official = tokens[Role.city_official]
    body = {"kind": "listing", "object_id": listing, "reason": "misleading", "note": ""}
    assert api.post("/api/v1/moderation/reports", json=body, headers=bearer(official)).status_code == 201
    comment = public_comment(scenario, "own")  # on a challenge of city a (Karmøy, NO)
    assert _report(api, official, comment).status_code == 201

    def hide(role: Role) -> Any:
        response = api.post(
            "/graphql", json={"query": HIDE, "variables": {"id": listing}}, headers=bearer(tokens[role])
        )
        return response.json()["data"]["hideContent"]

    def queue(role: Role) -> Any:
        return api.get("/api/v1/moderation/reports", headers=bearer(tokens[role]))

    assert api.get(f"/api/v1/solutions/{listing}").status_code == 200
    # Hub a has no country yet: its curator moderates nothing.
    assert hide(Role.hub_curator) == {"__typename": "MutationError", "code": "FORBIDDEN"}
    assert queue(Role.hub_curator).json()["total"] == 0
    with scenario.session() as session:
        session.add(HubCountry(hub_id=world.hub["a"], country_code="NO"))
    curated = queue(Role.hub_curator).json()  # content about NO: the listing, and the comment on Karmøy's challenge
    assert [(r["kind"], r["object_id"]) for r in curated["items"]] == [("comment", comment), ("listing", listing)]
    assert queue(Role.admin).json()["total"] == 2
    assert hide(Role.hub_curator) == {"__typename": "ModeratedItem", "hidden": True}

    assert api.get(f"/api/v1/solutions/{listing}").status_code == 404
    assert api.get(f"/api/v1/solutions/{listing}", headers=bearer(official)).status_code == 404
    public = api.get(f"/api/v1/solutions?vendor={world.vendor['a']}").json()
    assert listing not in [s["id"] for s in public["items"]]
    for role in (Role.vendor_member, Role.hub_curator, Role.admin):
        assert api.get(f"/api/v1/solutions/{listing}", headers=bearer(tokens[role])).status_code == 200
        own = api.get(f"/api/v1/solutions?vendor={world.vendor['a']}", headers=bearer(tokens[role])).json()
        assert listing in [s["id"] for s in own["items"]]


def test_reports_are_rate_limited_per_account(make_app: Any, iengine: Engine, world: World) -> None:
    app = make_app(moderation_report_limit="2 per hour")
    comment_id = public_comment(Scenario(world, iengine), "own")
    with TestClient(app, base_url=BASE_URL) as api:
        token = mint_user_token(app, iengine, world, Role.vendor_member)
        assert _report(api, token, comment_id).status_code == 201
        assert _report(api, token, comment_id).status_code == 409  # an attempt counts, refused or not
        limited = _report(api, token, comment_id)
        assert limited.status_code == 429, limited.text
        assert int(limited.headers["Retry-After"]) >= 1
        other = mint_user_token(app, iengine, world, Role.hub_curator)  # another account's budget is its own
        assert _report(api, other, comment_id).status_code == 201


def test_a_case_study_hidden_by_a_moderator_leaves_the_public_reads(
    app: FastAPI, api: TestClient, iengine: Engine, world: World
) -> None:
    admin = mint_user_token(app, iengine, world, Role.admin)
    with Scenario(world, iengine).session() as session:
        case = CaseStudy(slug="moderated-case", title="Moderated case", status=ContentStatus.published)
        session.add(case)
        session.flush()
        case_id = case.id or 0

    def listed(headers: dict[str, str]) -> bool:
        items = api.get("/api/v1/case-studies?limit=100", headers=headers).json()["items"]
        return case_id in [c["id"] for c in items]

    assert listed({})
    hidden = api.post(f"/api/v1/moderation/items/case_study/{case_id}/hide", json={}, headers=bearer(admin))
    assert hidden.status_code == 200, hidden.text
    assert hidden.json()["hidden"] is True
    assert api.get(f"/api/v1/case-studies/{case_id}").status_code == 404
    assert not listed({})
    assert api.get(f"/api/v1/case-studies/{case_id}", headers=bearer(admin)).status_code == 200
    assert listed(bearer(admin))
