"""The catalogue's events are raised by the existing writes and tell the right organisations: a challenge on a
KPI that vendor a's published listing claims tells vendor a (not vendor b); its proposal tells the city; the
city's shortlist tells the vendor; a comment on the proposal tells both."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session, select

from app.core.db import unit_of_work
from app.identity.models import OrganisationKind, Role
from app.kpis.models import Kpi
from app.notifications.catalogue import CATALOGUE
from app.notifications.models import NotifyEvent
from app.solutions.models import EvidenceLevel, ListingStatus, Maturity, PriceModel, Solution, SolutionKpiImpact
from tests.notifications.conftest import Env


def test_co_creation_events_reach_the_organisations_concerned(env: Env) -> None:
    org = env.world.organisation
    with unit_of_work(env.engine) as session:
        kpi = session.exec(select(Kpi).where(Kpi.slug == "EC-I-WS-3C")).one()
        listing = Solution(
            vendor_id=env.world.vendor["a"],
            slug="notify-leaks",
            title="Leak finder",
            maturity=Maturity.pilot,
            price_model=PriceModel.licence,
            status=ListingStatus.published,
        )
        session.add(listing)
        session.flush()
        session.add(
            SolutionKpiImpact(
                solution_id=listing.id or 0,
                kpi_id=kpi.id or 0,
                expected_effect=0.2,
                evidence_level=EvidenceLevel.claimed,
            )
        )
        listing_id = listing.id
    city = env.auth(Role.city_official)
    vendor = env.auth(Role.vendor_member)
    deadline = (date.today() + timedelta(days=30)).isoformat()
    body = {
        "city_id": env.world.city["a"],
        "title": "Lose less water",
        "target_kpis": ["EC-I-WS-3C"],
        "deadline": deadline,
    }
    challenge = env.api.post("/api/v1/challenges", json=body, headers=city)
    assert challenge.status_code == 201, challenge.text
    proposal = env.api.post(
        f"/api/v1/challenges/{challenge.json()['id']}/proposals",
        json={"solution_id": listing_id, "text": "We find leaks."},
        headers=vendor,
    )
    assert proposal.status_code == 201, proposal.text
    proposal_id = proposal.json()["id"]
    etag = env.api.get(f"/api/v1/proposals/{proposal_id}", headers=city).headers["etag"]
    shortlisted = env.api.post(f"/api/v1/proposals/{proposal_id}/shortlist", headers={**city, "If-Match": etag})
    assert shortlisted.status_code == 200, shortlisted.text
    comment = env.api.post(f"/api/v1/proposals/{proposal_id}/comments", json={"body": "When?"}, headers=city)
    assert comment.status_code == 201, comment.text

    with Session(env.engine) as session:
        events = [(e.type, e.organisation_ids, e.payload, e.version) for e in session.exec(select(NotifyEvent))]
    city_org, vendor_org = org[(OrganisationKind.city, "a")], org[(OrganisationKind.vendor, "a")]
    assert [(t, o) for t, o, _, _ in events] == [
        ("challenge.posted", [vendor_org]),
        ("proposal.submitted", [city_org]),
        ("proposal.shortlisted", [vendor_org]),
        ("comment.created", sorted([city_org, vendor_org])),
    ]
    for type_, _, payload, version in events:  # each payload is its type's model, at its version
        kind = CATALOGUE[type_]
        assert kind.payload.model_validate(payload).model_dump(mode="json") == payload
        assert version == kind.version
    assert events[0][2]["target_kpi_ids"] == [kpi.id]
    assert events[2][2]["status"] == "shortlisted"
