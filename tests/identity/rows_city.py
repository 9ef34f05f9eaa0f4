"""Permission-matrix rows for the city-side write endpoints (cities, KPI values, twinnings, challenges).

Builders create what a call needs directly in the cell's database (a twinning of city a or b in the status
the action applies to, a challenge, a proposal, a comment) and pass the If-Match an update needs, so that a
refusal can only come from the permission check. "own" is city a (Karmoy), vendor a, hub a; "other" their
b counterparts; a third city (Bizerte) is the partner in twinnings.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from app.challenges.models import (
    Challenge,
    ChallengeCriterion,
    ChallengeKpi,
    ChallengeStatus,
    Clarification,
    Comment,
    Proposal,
)
from app.cities.models import City, DataQuality, KpiObservation
from app.core.concurrency import etag
from app.hubs.models import HubCountry
from app.identity.models import Role
from app.kpis.models import Kpi, KpiDataPoint
from app.solutions.models import ListingStatus, Maturity, PriceModel, Solution
from app.twinnings.models import Twinning, TwinningStatus
from tests.identity.matrix import Builder, Call, Row, Scenario, Which, ab

ADMIN = frozenset({Role.admin})
OFFICIAL_OR_ADMIN = frozenset({Role.city_official, Role.admin})
VENDOR_OR_ADMIN = frozenset({Role.vendor_member, Role.admin})
PROGRAMME = frozenset({Role.programme_coordinator, Role.admin})
OFFICIAL_OR_PROGRAMME = frozenset({Role.city_official, Role.programme_coordinator, Role.admin})
DEADLINE = date.today() + timedelta(days=60)


def _city(scenario: Scenario, which: Which) -> int:
    return scenario.world.city[ab(which)]


def _partner(scenario: Scenario) -> int:
    with scenario.session() as session:
        return session.exec(select(City).where(City.slug == "bizerte")).one().id or 0


# --------------------------------------------------------------------------------------------------- cities


def _new_city(scenario: Scenario, which: Which) -> Call:
    # Hub a serves Sweden, hub b Denmark: the curator onboards cities of its own hub's countries only.
    country = "SE" if which == "own" else "DK"
    with scenario.session() as session:
        session.add(HubCountry(hub_id=scenario.world.hub[ab(which)], country_code=country))
    return Call("/api/v1/cities", {"name": f"Matrix Town {which}", "country": country})


def _city_patch(scenario: Scenario, which: Which) -> Call:
    city_id = _city(scenario, which)
    with scenario.session() as session:
        version = session.exec(select(City.version).where(City.id == city_id)).one()
    return Call(f"/api/v1/cities/{city_id}", {"region": "Matrix"}, {"If-Match": etag("city", city_id, version)})


VALUE = {"kpi": "SC-EH-H-1C", "year": 2019, "value": 81.0, "data_quality": "measured", "source": "matrix"}


def _values_put(scenario: Scenario, which: Which) -> Call:
    return Call(f"/api/v1/cities/{_city(scenario, which)}/kpi-values", {"values": [VALUE]})


def _values_import(scenario: Scenario, which: Which) -> Call:
    content = b"kpi,data_point,year,value,data_quality,source\nSC-EH-H-1C,,2019,81,measured,matrix\n"
    return Call(
        f"/api/v1/cities/{_city(scenario, which)}/kpi-values/import",
        headers={"Content-Type": "text/csv"},
        content=content,
    )


def _values_verify(scenario: Scenario, which: Which) -> Call:
    city_id = _city(scenario, which)
    with scenario.session() as session:
        kpi = session.exec(select(Kpi).where(Kpi.slug == "SC-EH-H-1C")).one()
        point = session.exec(select(KpiDataPoint).where(KpiDataPoint.kpi_id == kpi.id)).one()
        session.add(
            KpiObservation(
                city_id=city_id,
                data_point_id=point.id or 0,
                year=2019,
                value=81.0,
                data_quality=DataQuality.measured,
                source="matrix",
            )
        )
    body = {"values": [{"kpi": "SC-EH-H-1C", "year": 2019}]}
    return Call(f"/api/v1/cities/{city_id}/kpi-values/verify", body)


# ------------------------------------------------------------------------------------------------ twinnings


def _new_twinning(scenario: Scenario, which: Which) -> Call:
    body = {"city_a_id": _city(scenario, which), "city_b_id": _partner(scenario), "rationale": "matrix"}
    return Call("/api/v1/twinnings", body)


def _twinning_action(status: TwinningStatus, action: str) -> Builder:
    def build(scenario: Scenario, which: Which) -> Call:
        partner = _partner(scenario)
        with scenario.session() as session:
            twinning = Twinning(
                city_a_id=_city(scenario, which),
                city_b_id=partner,
                status=status,
                proposed_by_city_id=partner,  # the partner proposed: city a's official is the one to answer
                proposed_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
            session.add(twinning)
            session.flush()
            twinning_id = twinning.id or 0
        return Call(f"/api/v1/twinnings/{twinning_id}/{action}", None, {"If-Match": etag("twinning", twinning_id, 1)})

    return build


# ----------------------------------------------------------------------------------------------- challenges


def _challenge(scenario: Scenario, city_id: int, status: ChallengeStatus = ChallengeStatus.open) -> int:
    with scenario.session() as session:
        kpi = session.exec(select(Kpi).where(Kpi.slug == "EN-EN-AQ-1C")).one()
        challenge = Challenge(city_id=city_id, title="Matrix challenge", deadline=DEADLINE, status=status)
        session.add(challenge)
        session.flush()
        session.add(ChallengeKpi(challenge_id=challenge.id or 0, kpi_id=kpi.id or 0))
        return challenge.id or 0


def _listing(scenario: Scenario, vendor: str) -> int:
    with scenario.session() as session:
        slug = f"matrix-city-listing-{vendor}"
        existing = session.exec(select(Solution).where(Solution.slug == slug)).first()
        if existing is not None:
            return existing.id or 0
        listing = Solution(
            vendor_id=scenario.world.vendor[vendor],
            slug=slug,
            title=f"Matrix listing of vendor {vendor}",
            maturity=Maturity.pilot,
            price_model=PriceModel.licence,
            status=ListingStatus.published,
        )
        session.add(listing)
        session.flush()
        return listing.id or 0


def _proposal(scenario: Scenario, challenge_id: int, vendor: str) -> int:
    solution_id = _listing(scenario, vendor)
    with scenario.session() as session:
        proposal = Proposal(
            challenge_id=challenge_id, vendor_id=scenario.world.vendor[vendor], solution_id=solution_id, text="x"
        )
        session.add(proposal)
        session.flush()
        return proposal.id or 0


def _new_challenge(scenario: Scenario, which: Which) -> Call:
    body = {
        "city_id": _city(scenario, which),
        "title": "Matrix challenge",
        "target_kpis": ["EN-EN-AQ-1C"],
        "deadline": DEADLINE.isoformat(),
    }
    return Call("/api/v1/challenges", body)


def _challenge_call(suffix: str, body: object = None, with_proposal: bool = False) -> Builder:
    def build(scenario: Scenario, which: Which) -> Call:
        challenge_id = _challenge(scenario, _city(scenario, which))
        payload = body
        if with_proposal:
            payload = {"proposal_id": _proposal(scenario, challenge_id, "a")}
        return Call(
            f"/api/v1/challenges/{challenge_id}{suffix}", payload, {"If-Match": etag("challenge", challenge_id, 1)}
        )

    return build


def _new_proposal(scenario: Scenario, which: Which) -> Call:
    # Any city's open challenge; "own" is a listing of the caller's vendor.
    challenge_id = _challenge(scenario, scenario.world.city["b"])
    body = {"solution_id": _listing(scenario, ab(which)), "text": "matrix"}
    return Call(f"/api/v1/challenges/{challenge_id}/proposals", body)


def _proposal_of_vendor(suffix: str, body: object = None) -> Builder:
    """A proposal of vendor a (own) or b (other), to a challenge of city b."""

    def build(scenario: Scenario, which: Which) -> Call:
        proposal_id = _proposal(scenario, _challenge(scenario, scenario.world.city["b"]), ab(which))
        return Call(f"/api/v1/proposals/{proposal_id}{suffix}", body, {"If-Match": etag("proposal", proposal_id, 1)})

    return build


def _proposal_to_city(suffix: str, body: object = None) -> Builder:
    """A proposal of vendor a, to a challenge of city a (own) or b (other)."""

    def build(scenario: Scenario, which: Which) -> Call:
        proposal_id = _proposal(scenario, _challenge(scenario, _city(scenario, which)), "a")
        return Call(f"/api/v1/proposals/{proposal_id}{suffix}", body, {"If-Match": etag("proposal", proposal_id, 1)})

    return build


def _challenge_comment(scenario: Scenario, which: Which) -> Call:
    return Call(f"/api/v1/challenges/{_challenge(scenario, _city(scenario, which))}/comments", {"body": "matrix"})


def _proposal_comment(scenario: Scenario, which: Which) -> Call:
    # Own: vendor a's proposal to city a's challenge; other: vendor b's to city b's.
    proposal_id = _proposal(scenario, _challenge(scenario, _city(scenario, which)), ab(which))
    return Call(f"/api/v1/proposals/{proposal_id}/comments", {"body": "matrix"})


def _comment_delete(scenario: Scenario, which: Which) -> Call:
    # Own: a comment by the city official user of the world; other: someone else's.
    challenge_id = _challenge(scenario, _city(scenario, which))
    author = scenario.world.actors[Role.city_official].user_id if which == "own" else None
    with scenario.session() as session:
        comment = Comment(challenge_id=challenge_id, author_user_id=author, author_label="matrix", body="matrix")
        session.add(comment)
        session.flush()
        comment_id = comment.id or 0
    return Call(f"/api/v1/comments/{comment_id}")


def _clarification_ask(scenario: Scenario, which: Which) -> Call:
    return Call(f"/api/v1/challenges/{_challenge(scenario, _city(scenario, which))}/clarifications", {"question": "?"})


def _clarification_answer(scenario: Scenario, which: Which) -> Call:
    challenge_id = _challenge(scenario, _city(scenario, which))
    with scenario.session() as session:
        clarification = Clarification(challenge_id=challenge_id, question="Which schools?")
        session.add(clarification)
        session.flush()
        clarification_id = clarification.id or 0
    return Call(f"/api/v1/clarifications/{clarification_id}/answer", {"answer": "All of them."})


def _scores(scenario: Scenario, which: Which) -> Call:
    # Vendor a's proposal to city a's (own) or city b's (other) challenge, which has one criterion.
    challenge_id = _challenge(scenario, _city(scenario, which))
    proposal_id = _proposal(scenario, challenge_id, "a")
    with scenario.session() as session:
        criterion = ChallengeCriterion(challenge_id=challenge_id, name="Impact", weight=100)
        session.add(criterion)
        session.flush()
        criterion_id = criterion.id or 0
    return Call(f"/api/v1/proposals/{proposal_id}/scores", {"scores": [{"criterion_id": criterion_id, "score": 7}]})


T = TwinningStatus

CITY_ROWS: list[Row] = [
    # cities and their KPI values
    Row("POST", "/api/v1/cities", _new_city, own=frozenset({Role.hub_curator, Role.admin})),
    Row("PATCH", "/api/v1/cities/{city_id}", _city_patch, own=OFFICIAL_OR_ADMIN),
    Row("PUT", "/api/v1/cities/{city_id}/kpi-values", _values_put, own=OFFICIAL_OR_ADMIN),
    Row("POST", "/api/v1/cities/{city_id}/kpi-values/import", _values_import, own=OFFICIAL_OR_ADMIN),
    Row("POST", "/api/v1/cities/{city_id}/kpi-values/verify", _values_verify, own=ADMIN, other=ADMIN),
    # twinnings: "own" pairs city a with a partner; the partner proposed the existing ones
    Row("POST", "/api/v1/twinnings", _new_twinning, own=OFFICIAL_OR_PROGRAMME, other=PROGRAMME),
    *[
        Row(
            "POST",
            f"/api/v1/twinnings/{{twinning_id}}/{action}",
            _twinning_action(status, action),
            own=OFFICIAL_OR_PROGRAMME,
            other=PROGRAMME,
        )
        for action, status in (
            ("accept", T.proposed),
            ("decline", T.proposed),
            ("activate", T.accepted),
            ("complete", T.active),
        )
    ],
    Row(
        "POST",
        "/api/v1/twinnings/{twinning_id}/lapse",
        _twinning_action(T.accepted, "lapse"),
        own=PROGRAMME,
        other=PROGRAMME,
    ),
    # challenges: "own" is city a's
    Row("POST", "/api/v1/challenges", _new_challenge, own=OFFICIAL_OR_ADMIN),
    Row(
        "PATCH",
        "/api/v1/challenges/{challenge_id}",
        _challenge_call("", {"title": "Edited by the matrix"}),
        own=OFFICIAL_OR_ADMIN,
    ),
    Row(
        "POST",
        "/api/v1/challenges/{challenge_id}/close",
        _challenge_call("/close"),
        own=OFFICIAL_OR_ADMIN,
    ),
    Row(
        "POST",
        "/api/v1/challenges/{challenge_id}/award",
        _challenge_call("/award", with_proposal=True),
        own=OFFICIAL_OR_ADMIN,
    ),
    # proposals: "own" is vendor a's listing (proposing, editing) or city a's challenge (deciding)
    Row("POST", "/api/v1/challenges/{challenge_id}/proposals", _new_proposal, own=VENDOR_OR_ADMIN),
    Row(
        "PATCH",
        "/api/v1/proposals/{proposal_id}",
        _proposal_of_vendor("", {"text": "Edited by the matrix"}),
        own=VENDOR_OR_ADMIN,
    ),
    *[
        Row(
            "POST",
            f"/api/v1/proposals/{{proposal_id}}/{action}",
            _proposal_to_city(f"/{action}"),
            own=OFFICIAL_OR_ADMIN,
        )
        for action in ("shortlist", "accept", "decline")
    ],
    # comments: vendor members may ask on any open challenge; a proposal's thread is its city's and vendor's
    Row(
        "POST",
        "/api/v1/challenges/{challenge_id}/comments",
        _challenge_comment,
        own=frozenset({Role.city_official, Role.vendor_member, Role.admin}),
        other=VENDOR_OR_ADMIN,
    ),
    Row(
        "POST",
        "/api/v1/proposals/{proposal_id}/comments",
        _proposal_comment,
        own=frozenset({Role.city_official, Role.vendor_member, Role.admin}),
    ),
    Row("DELETE", "/api/v1/comments/{comment_id}", _comment_delete, own=OFFICIAL_OR_ADMIN),
    # clarifications: any vendor member asks on any open challenge; the city answers; officials score
    Row(
        "POST",
        "/api/v1/challenges/{challenge_id}/clarifications",
        _clarification_ask,
        own=VENDOR_OR_ADMIN,
        other=VENDOR_OR_ADMIN,
    ),
    Row("PUT", "/api/v1/clarifications/{clarification_id}/answer", _clarification_answer, own=OFFICIAL_OR_ADMIN),
    Row("PUT", "/api/v1/proposals/{proposal_id}/scores", _scores, own=OFFICIAL_OR_ADMIN),
]

__all__ = ["CITY_ROWS", "Call", "Role", "Row", "Scenario", "Which", "ab"]


def _match_run(scenario: Scenario, which: Which) -> Call:
    return Call(f"/api/v1/cities/{scenario.world.city[ab(which)]}/match-runs", {"kind": "twins", "limit": 5})


# Saved match runs keep a city's values: its officials, programme coordinators (every city) and admins.
CITY_ROWS.append(
    Row(
        "POST",
        "/api/v1/cities/{city_id}/match-runs",
        _match_run,
        own=frozenset({Role.city_official, Role.programme_coordinator, Role.admin}),
        other=frozenset({Role.programme_coordinator, Role.admin}),
    )
)
