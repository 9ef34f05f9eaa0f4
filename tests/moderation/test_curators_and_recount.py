"""Hub curators moderate the content about their hub's countries (listings, case studies, and a challenge's
comments, clarifications and proposals by the challenge's city), and nothing elsewhere; and after a restore,
only the reporters who come after it count toward the threshold. Distinct real tokens throughout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.audit.models import AuditEvent
from app.case_studies.models import CaseStudy, ContentStatus
from app.challenges.models import (
    Challenge,
    ChallengeStatus,
    Clarification,
    Comment,
    Disclosure,
    Proposal,
    ProposalStatus,
)
from app.cities.models import City
from app.hubs.models import HubCountry
from app.identity.models import Role
from app.moderation.models import ContentKind, ModerationReport, ReportReason
from app.solutions.models import ListingStatus, Maturity, PriceModel, Solution
from tests.identity.conftest import BASE_URL, World, bearer, mint_user_token
from tests.identity.matrix import Scenario

HIDE = """mutation($kind: ModeratedContentKind!, $id: Int!) { hideContent(kind: $kind, objectId: $id, note: "curated") {
  __typename ... on ModeratedItem { hidden } ... on MutationError { code } } }"""


@dataclass
class Place:
    """One city's moderated content: a challenge's comment and clarification, a confidential proposal (open
    challenge), a disclosed one (awarded, all summaries public), a case study."""

    comment: int
    clarification: int
    confidential_proposal: int
    disclosed_proposal: int
    case_study: int

    def items(self) -> dict[str, tuple[ContentKind, int]]:
        return {
            "comment": (ContentKind.comment, self.comment),
            "clarification": (ContentKind.clarification, self.clarification),
            "confidential proposal": (ContentKind.proposal, self.confidential_proposal),
            "disclosed proposal": (ContentKind.proposal, self.disclosed_proposal),
            "case study": (ContentKind.case_study, self.case_study),
        }


def _place(session: Session, world: World, city_id: int, tag: str) -> Place:
    author = world.actors[Role.city_official].user_id
    listing = Solution(
        vendor_id=world.vendor["b"],
        slug=f"curated-{tag}",
        title=f"Curated {tag}",
        summary="A listing proposed twice.",
        maturity=Maturity.pilot,
        price_model=PriceModel.licence,
        status=ListingStatus.published,
    )
    open_challenge = Challenge(city_id=city_id, title=f"Open {tag}", deadline=date(2099, 1, 1))
    awarded = Challenge(
        city_id=city_id,
        title=f"Awarded {tag}",
        deadline=date(2099, 1, 1),
        status=ChallengeStatus.awarded,
        disclosure=Disclosure.all_summaries,
    )
    case = CaseStudy(slug=f"curated-{tag}", title=f"Case {tag}", status=ContentStatus.published, city_id=city_id)
    session.add_all([listing, open_challenge, awarded, case])
    session.flush()
    comment = Comment(challenge_id=open_challenge.id, author_user_id=author, author_label="City", body="Hello")
    clarification = Clarification(challenge_id=open_challenge.id or 0, question="When?")
    confidential = Proposal(
        challenge_id=open_challenge.id or 0, vendor_id=world.vendor["b"], solution_id=listing.id or 0
    )
    disclosed = Proposal(
        challenge_id=awarded.id or 0,
        vendor_id=world.vendor["b"],
        solution_id=listing.id or 0,
        summary=f"Public summary {tag}",
        status=ProposalStatus.accepted,
    )
    session.add_all([comment, clarification, confidential, disclosed])
    session.flush()
    awarded.awarded_proposal_id = disclosed.id
    session.add(awarded)
    place = Place(
        comment=comment.id or 0,
        clarification=clarification.id or 0,
        confidential_proposal=confidential.id or 0,
        disclosed_proposal=disclosed.id or 0,
        case_study=case.id or 0,
    )
    reporter = world.actors[Role.programme_coordinator].user_id
    for kind, object_id in place.items().values():  # a report of each, for the queue
        report = ModerationReport(kind=kind, object_id=object_id, reporter_user_id=reporter, reason=ReportReason.spam)
        session.add(report)
    return place


def test_a_hub_curator_moderates_the_content_about_their_hubs_countries_only(
    app: FastAPI, api: TestClient, iengine: Engine, world: World
) -> None:
    scenario = Scenario(world, iengine)
    with scenario.session() as session:
        abroad = session.exec(select(City).where(col(City.country_code) != "NO").order_by(col(City.id))).first()
        assert abroad is not None
        session.add(HubCountry(hub_id=world.hub["a"], country_code="NO"))  # the curator's hub serves Norway
        home = _place(session, world, world.city["a"], "home")  # Karmøy, NO
        away = _place(session, world, abroad.id or 0, "away")
    curator = mint_user_token(app, iengine, world, Role.hub_curator)
    vendor = mint_user_token(app, iengine, world, Role.vendor_member)  # a signed-in non-moderator

    def act(token: str, kind: ContentKind, object_id: int, action: str) -> int:
        path = f"/api/v1/moderation/items/{kind.value}/{object_id}/{action}"
        status: int = api.post(path, json={"note": "curated"}, headers=bearer(token)).status_code
        return status

    def award_descriptions() -> set[str]:
        releases = api.get("/api/v1/open-data/ocds/releases").json()["releases"]
        return {a["description"] for r in releases for a in r.get("awards", []) if "description" in a}

    # The disclosed winner's summary is open data (OCDS) until a moderator hides the proposal.
    assert award_descriptions() == {"Public summary home", "Public summary away"}
    assert act(curator, ContentKind.proposal, home.disclosed_proposal, "hide") == 200
    assert award_descriptions() == {"Public summary away"}
    assert act(curator, ContentKind.proposal, home.disclosed_proposal, "restore") == 200
    assert award_descriptions() == {"Public summary home", "Public summary away"}

    # Each cell: the curator's hide, then restore (REST), on home and away content.
    expected = {
        "comment": (200, 403),
        "clarification": (200, 403),
        "confidential proposal": (404, 404),  # a curator reads no confidential proposal, at home or away
        "disclosed proposal": (200, 403),
        "case study": (200, 403),
    }
    for name, (at_home, away_status) in expected.items():
        kind, object_id = home.items()[name]
        assert act(curator, kind, object_id, "hide") == at_home, f"home {name}"
        assert act(vendor, kind, object_id, "restore") == 403, f"home {name}, a non-moderator"
        assert act(curator, kind, object_id, "restore") == at_home, f"home {name}"
        kind, object_id = away.items()[name]
        assert act(curator, kind, object_id, "hide") == away_status, f"away {name}"

    # The GraphQL face, the same rule.
    def hide(place: Place) -> Any:
        response = api.post(
            "/graphql",
            json={"query": HIDE, "variables": {"kind": "clarification", "id": place.clarification}},
            headers=bearer(curator),
        )
        return response.json()["data"]["hideContent"]

    assert hide(away) == {"__typename": "MutationError", "code": "FORBIDDEN"}
    assert hide(home) == {"__typename": "ModeratedItem", "hidden": True}
    # Hidden, the clarification is the curator's (a moderator of it) and not the public's.
    challenge_id = _challenge_of_clarification(iengine, home.clarification)
    path = f"/api/v1/challenges/{challenge_id}/clarifications"
    assert home.clarification not in [c["id"] for c in api.get(path).json()]
    assert home.clarification in [c["id"] for c in api.get(path, headers=bearer(curator)).json()]

    # The queue: the reports of the home content the curator may see; nothing away, no confidential proposal.
    queue = api.get("/api/v1/moderation/reports?limit=100", headers=bearer(curator))
    assert queue.status_code == 200, queue.text
    listed = {(r["kind"], r["object_id"]) for r in queue.json()["items"]}
    assert listed == {
        (kind.value, object_id) for name, (kind, object_id) in home.items().items() if name != "confidential proposal"
    }
    graphql = api.post(
        "/graphql", json={"query": "{ moderationReports(first: 50) { totalCount } }"}, headers=bearer(curator)
    ).json()
    assert graphql["data"]["moderationReports"]["totalCount"] == len(listed)
    assert api.get("/api/v1/moderation/reports", headers=bearer(vendor)).status_code == 403


def _challenge_of_clarification(engine: Engine, clarification_id: int) -> int:
    with Session(engine) as session:
        clarification = session.get(Clarification, clarification_id)
        assert clarification is not None
        return clarification.challenge_id


def test_after_a_restore_only_new_distinct_reporters_count(make_app: Any, iengine: Engine, world: World) -> None:
    from tests.identity.rows_moderation import public_comment

    app = make_app(moderation_hide_threshold=2)
    comment_id = public_comment(Scenario(world, iengine), "own")
    with TestClient(app, base_url=BASE_URL) as api:
        tokens = {role: mint_user_token(app, iengine, world, role) for role in Role}

        def report(role: Role) -> Any:
            body = {"kind": "comment", "object_id": comment_id, "reason": "spam", "note": ""}
            return api.post("/api/v1/moderation/reports", json=body, headers=bearer(tokens[role]))

        def public() -> bool:
            challenge = _challenge_of_comment(iengine, comment_id)
            items = api.get(f"/api/v1/comments?challenge={challenge}").json()["items"]
            return comment_id in [c["id"] for c in items]

        assert report(Role.vendor_member).json()["item_hidden"] is False
        assert report(Role.programme_coordinator).json()["item_hidden"] is True  # two distinct reporters
        assert not public()
        restored = api.post(
            f"/api/v1/moderation/items/comment/{comment_id}/restore", json={}, headers=bearer(tokens[Role.admin])
        )
        assert restored.status_code == 200, restored.text
        assert public()

        # Three reporters in all now, but only one since the restore: it stays public.
        third = report(Role.hub_curator)
        assert third.status_code == 201, third.text
        assert third.json()["item_hidden"] is False
        assert public()
        assert report(Role.vendor_member).status_code == 409  # an earlier reporter cannot count twice
        assert public()
        # A second new reporter since the restore: hidden pending review again.
        fourth = report(Role.city_official)
        assert fourth.status_code == 201, fourth.text
        assert fourth.json()["item_hidden"] is True
        assert not public()

    with Session(iengine) as session:
        hides = session.exec(
            select(AuditEvent.changes).where(
                col(AuditEvent.action) == "moderation.hide",
                col(AuditEvent.object_type) == "comment",
                col(AuditEvent.object_id) == str(comment_id),
            )
        ).all()
    assert [(h["by"], h["reporters"], h["since_restore"] is not None) for h in hides] == [
        ("threshold", 2, False),
        ("threshold", 2, True),
    ]


def _challenge_of_comment(engine: Engine, comment_id: int) -> int:
    with Session(engine) as session:
        comment = session.get(Comment, comment_id)
        assert comment is not None
        assert comment.challenge_id is not None
        return comment.challenge_id
