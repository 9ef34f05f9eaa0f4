"""The event catalogue: every event type citymarket raises, its versioned payload, and whom it tells.

An event type is named `<resource>.<happening>` (`solution.published`). Each has a payload model (pydantic),
a version (bumped when a field is removed or changes meaning; adding a field does not), and a builder that
turns the audit event of the write that caused it into the payload and the organisations told. Events are
raised from audit events (app/notifications/outbox.py), so every write that is audited raises its event in
the same transaction, whichever face or command made it. The OpenAPI document lists each type under
`webhooks` (app/notifications/openapi.py) with the envelope a receiver gets:

    {"type": "solution.published", "version": 1, "id": "evt_...", "timestamp": "...", "data": {...}}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from app.audit.models import AuditEvent
from app.case_studies.models import CaseStudy
from app.challenges.models import Challenge, ChallengeKpi, Clarification, Comment, Proposal
from app.hubs.models import HubCountry
from app.identity.models import Membership, Organisation, OrganisationKind
from app.moderation.models import ContentKind, ModeratedItem
from app.solutions.models import ListingStatus, Solution, SolutionCountry, SolutionKpiImpact
from app.twinnings.models import Twinning

# ------------------------------------------------------------------------------------------- payloads


class SolutionEventV1(BaseModel):
    solution_id: int
    title: str
    vendor_id: int
    status: str = Field(description="The listing's status after the change")
    note: str = Field(default="", description="The reviewer's note (changes requested, rejected)")


class TwinningEventV1(BaseModel):
    twinning_id: int
    city_a_id: int
    city_b_id: int
    status: str
    proposed_by_city_id: int | None = None
    note: str = ""


class ChallengeEventV1(BaseModel):
    challenge_id: int
    city_id: int
    title: str
    deadline: str = Field(description="ISO date")
    target_kpi_ids: list[int]


class ProposalEventV1(BaseModel):
    proposal_id: int
    challenge_id: int
    vendor_id: int
    solution_id: int
    status: str
    note: str = ""


class CommentEventV1(BaseModel):
    comment_id: int
    challenge_id: int | None = Field(description="Set for a comment on a challenge")
    proposal_id: int | None = Field(description="Set for a comment on a proposal")
    author_label: str
    body: str


class VendorEventV1(BaseModel):
    vendor_id: int
    verified: bool
    note: str = ""


class ClarificationEventV1(BaseModel):
    """A city answered a vendor's clarification question. Told to the asker alone (their feed and email) and
    to the webhooks of the asker's vendor organisations; the asker is never named (clarifications are public,
    their askers are not)."""

    clarification_id: int
    challenge_id: int
    challenge_title: str
    question: str
    answer: str


class ModerationEventV1(BaseModel):
    """A moderation decision on an item: hidden (by the reporters' threshold or a moderator) or restored. Told
    to its author (a person's content: them alone, and their organisations' webhooks) or, for a listing, to its
    vendor; the reporters are never named."""

    kind: str = Field(description="comment, proposal, clarification, listing or case_study")
    object_id: int
    hidden: bool
    by: str = Field(description="threshold (enough reports) or moderator")
    note: str = ""


class CaseStudyEventV1(BaseModel):
    case_study_id: int
    title: str
    city_id: int | None
    status: str


class LeadEventV1(BaseModel):
    """A vendor's listing newly ranks for a city (whose data are public) with a score at or above the
    threshold (CITYMARKET_NOTIFY_LEAD_MIN_SCORE), after the city's KPI values changed."""

    solution_id: int
    solution_title: str
    vendor_id: int
    city_id: int
    city_name: str
    country_code: str
    score: float = Field(description="The match score (0-1), as GET /api/v1/solutions/{id}/leads ranks it")
    threshold: float = Field(description="The score a lead must reach to be told")
    kpis: list[str] = Field(description="The city's weak KPIs (slugs) the listing's claims address")


class AlertMatchedV1(BaseModel):
    """A new item matches one of a person's saved alerts (told to the alert's owner, and to the webhooks of
    their organisations); only an item the owner may see is ever told."""

    alert_id: int
    alert_name: str
    target: str = Field(description="solutions or case_studies")
    item_type: str = Field(description="solution or case_study")
    item_id: int
    title: str
    url: str = Field(description="The item's path in the REST API")


class WebhookDisabledV1(BaseModel):
    webhook_id: int
    url: str
    reason: str


class EventEnvelope(BaseModel):
    """What a webhook receives (and what a feed entry holds), whatever the type."""

    id: str = Field(description="The event's id; also the webhook-id header of each delivery of it")
    type: str = Field(description="<resource>.<happening>")
    version: int = Field(description="The payload's version for this type")
    timestamp: str = Field(description="When it happened (ISO 8601, UTC)")
    data: dict[str, Any]


# --------------------------------------------------------------------------------------------- builders


@dataclass(frozen=True)
class Raised:
    payload: BaseModel
    organisation_ids: list[int]
    # One person concerned (the feed entry and email go to them only; the organisations' webhooks still hear).
    recipient_user_id: int | None = None


Builder = Callable[[Session, AuditEvent], "Raised | None"]


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    payload: type[BaseModel]
    description: str
    audit_action: str | None  # the audited write that raises it (None: raised by notifications itself)
    build: Builder | None = None


def _orgs(session: Session, kind: OrganisationKind, ids: Iterable[int | None]) -> list[int]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted and kind not in (OrganisationKind.platform, OrganisationKind.programme):
        return []
    column = {
        OrganisationKind.city: Organisation.city_id,
        OrganisationKind.vendor: Organisation.vendor_id,
        OrganisationKind.hub: Organisation.hub_id,
    }.get(kind)
    statement = select(Organisation.id).where(Organisation.kind == kind)
    if column is not None:
        statement = statement.where(col(column).in_(wanted))
    return [i for i in session.exec(statement).all() if i is not None]


def _note(audit: AuditEvent) -> str:
    return str(audit.changes.get("note") or "")


def _solution(session: Session, audit: AuditEvent, *, reviewers: bool = False) -> Raised | None:
    solution = session.get(Solution, int(audit.object_id))
    if solution is None:
        return None
    payload = SolutionEventV1(
        solution_id=solution.id or 0,
        title=solution.title,
        vendor_id=solution.vendor_id,
        status=solution.status.value,
        note=_note(audit),
    )
    if reviewers:
        # Awaiting review: the platform's reviewers and the curators of hubs for the listing's countries.
        countries = select(SolutionCountry.country_code).where(SolutionCountry.solution_id == solution.id)
        hubs = session.exec(select(HubCountry.hub_id).where(col(HubCountry.country_code).in_(countries))).all()
        orgs = _orgs(session, OrganisationKind.platform, []) + _orgs(session, OrganisationKind.hub, hubs)
    else:
        orgs = _orgs(session, OrganisationKind.vendor, [solution.vendor_id])
    return Raised(payload, orgs)


def _twinning(session: Session, audit: AuditEvent) -> Raised | None:
    twinning = session.get(Twinning, int(audit.object_id))
    if twinning is None:
        return None
    payload = TwinningEventV1(
        twinning_id=twinning.id or 0,
        city_a_id=twinning.city_a_id,
        city_b_id=twinning.city_b_id,
        status=twinning.status.value,
        proposed_by_city_id=twinning.proposed_by_city_id,
        note=_note(audit),
    )
    orgs = _orgs(session, OrganisationKind.city, [twinning.city_a_id, twinning.city_b_id])
    return Raised(payload, orgs + _orgs(session, OrganisationKind.programme, []))


def _proposal(session: Session, audit: AuditEvent, *, to_city: bool = False) -> Raised | None:
    proposal = session.get(Proposal, int(audit.object_id))
    if proposal is None:
        return None
    payload = ProposalEventV1(
        proposal_id=proposal.id or 0,
        challenge_id=proposal.challenge_id,
        vendor_id=proposal.vendor_id,
        solution_id=proposal.solution_id,
        status=proposal.status.value,
        note=_note(audit),
    )
    if to_city:
        city = session.exec(select(Challenge.city_id).where(Challenge.id == proposal.challenge_id)).first()
        return Raised(payload, _orgs(session, OrganisationKind.city, [city]))
    return Raised(payload, _orgs(session, OrganisationKind.vendor, [proposal.vendor_id]))


def _challenge(session: Session, audit: AuditEvent) -> Raised | None:
    challenge = session.get(Challenge, int(audit.object_id))
    if challenge is None:
        return None
    kpis = sorted(session.exec(select(ChallengeKpi.kpi_id).where(ChallengeKpi.challenge_id == challenge.id)).all())
    payload = ChallengeEventV1(
        challenge_id=challenge.id or 0,
        city_id=challenge.city_id,
        title=challenge.title,
        deadline=challenge.deadline.isoformat(),
        target_kpi_ids=kpis,
    )
    # The vendors whose published listings claim an impact on one of the challenge's KPIs.
    vendors = session.exec(
        select(Solution.vendor_id)
        .distinct()
        .join(SolutionKpiImpact, col(SolutionKpiImpact.solution_id) == col(Solution.id))
        .where(col(SolutionKpiImpact.kpi_id).in_(kpis), Solution.status == ListingStatus.published)
    ).all()
    return Raised(payload, _orgs(session, OrganisationKind.vendor, vendors))


def _comment(session: Session, audit: AuditEvent) -> Raised | None:
    comment = session.get(Comment, int(audit.object_id))
    if comment is None:
        return None
    payload = CommentEventV1(
        comment_id=comment.id or 0,
        challenge_id=comment.challenge_id,
        proposal_id=comment.proposal_id,
        author_label=comment.author_label,
        body=comment.body,
    )
    if comment.challenge_id is not None:
        city = session.exec(select(Challenge.city_id).where(Challenge.id == comment.challenge_id)).first()
        return Raised(payload, _orgs(session, OrganisationKind.city, [city]))
    row = session.exec(
        select(Challenge.city_id, Proposal.vendor_id)
        .join(Proposal, col(Proposal.challenge_id) == col(Challenge.id))
        .where(Proposal.id == comment.proposal_id)
    ).first()
    if row is None:
        return None
    city_id, vendor_id = row
    orgs = _orgs(session, OrganisationKind.city, [city_id]) + _orgs(session, OrganisationKind.vendor, [vendor_id])
    return Raised(payload, orgs)


def _vendor(session: Session, audit: AuditEvent) -> Raised | None:
    vendor_id = int(audit.object_id)
    payload = VendorEventV1(vendor_id=vendor_id, verified=audit.action == "vendor.verify", note=_note(audit))
    return Raised(payload, _orgs(session, OrganisationKind.vendor, [vendor_id]))


def _clarification(session: Session, audit: AuditEvent) -> Raised | None:
    clarification = session.get(Clarification, int(audit.object_id))
    if clarification is None or clarification.asked_by_user_id is None or not clarification.answer:
        return None
    challenge = session.get(Challenge, clarification.challenge_id)
    payload = ClarificationEventV1(
        clarification_id=clarification.id or 0,
        challenge_id=clarification.challenge_id,
        challenge_title=challenge.title if challenge is not None else "",
        question=clarification.question,
        answer=clarification.answer,
    )
    # The asker's vendor organisations (for their webhooks); the feed entry is the asker's alone.
    orgs = session.exec(
        select(Organisation.id)
        .join(Membership, col(Membership.organisation_id) == col(Organisation.id))
        .where(Membership.user_id == clarification.asked_by_user_id, Organisation.kind == OrganisationKind.vendor)
        .distinct()
    ).all()
    return Raised(payload, sorted(i for i in orgs if i is not None), clarification.asked_by_user_id)


def _moderation(session: Session, audit: AuditEvent) -> Raised | None:
    kind = ContentKind(audit.object_type)
    object_id = int(audit.object_id)
    hidden = audit.changes.get("hidden", {})
    payload = ModerationEventV1(
        kind=kind.value,
        object_id=object_id,
        hidden=bool(hidden.get("to")) if isinstance(hidden, dict) else audit.action == "moderation.hide",
        by=str(audit.changes.get("by") or "moderator"),
        note=_note(audit),
    )
    if kind is ContentKind.listing:
        vendor = session.exec(select(Solution.vendor_id).where(Solution.id == object_id)).first()
        return Raised(payload, _orgs(session, OrganisationKind.vendor, [vendor]))
    item = session.get(ModeratedItem, (kind, object_id))
    author = item.author_user_id if item is not None else None
    if author is None:
        return None
    orgs = session.exec(select(Membership.organisation_id).where(Membership.user_id == author).distinct()).all()
    return Raised(payload, sorted(orgs), author)


def _case_study(session: Session, audit: AuditEvent) -> Raised | None:
    case = session.get(CaseStudy, int(audit.object_id))
    if case is None:
        return None
    payload = CaseStudyEventV1(
        case_study_id=case.id or 0, title=case.title, city_id=case.city_id, status=case.status.value
    )
    return Raised(payload, _orgs(session, OrganisationKind.city, [case.city_id]) if case.city_id else [])


def _reviewers(session: Session, audit: AuditEvent) -> Raised | None:
    return _solution(session, audit, reviewers=True)


def _to_city(session: Session, audit: AuditEvent) -> Raised | None:
    return _proposal(session, audit, to_city=True)


def _types() -> list[EventType]:
    sol, tw, pr = SolutionEventV1, TwinningEventV1, ProposalEventV1
    return [
        EventType(
            "solution.submitted",
            1,
            sol,
            "A listing was submitted for review (to reviewers and the curators of hubs for its countries).",
            "solution.submit",
            _reviewers,
        ),
        EventType(
            "solution.published", 1, sol, "A listing was published (to its vendor).", "solution.publish", _solution
        ),
        EventType(
            "solution.changes_requested",
            1,
            sol,
            "A reviewer asked for changes to a listing (to its vendor, with the note).",
            "solution.request_changes",
            _solution,
        ),
        EventType(
            "solution.rejected",
            1,
            sol,
            "A listing was rejected (to its vendor, with the note).",
            "solution.reject",
            _solution,
        ),
        EventType(
            "vendor.verified",
            1,
            VendorEventV1,
            "A moderation decision: the platform verified a vendor (to the vendor).",
            "vendor.verify",
            _vendor,
        ),
        EventType(
            "vendor.unverified",
            1,
            VendorEventV1,
            "A moderation decision: the platform withdrew a vendor's verification (to the vendor).",
            "vendor.unverify",
            _vendor,
        ),
        EventType(
            "challenge.posted",
            1,
            ChallengeEventV1,
            "A city posted a challenge on KPIs that the vendor's "
            "published listings claim to improve (to those vendors).",
            "challenge.create",
            _challenge,
        ),
        EventType(
            "proposal.submitted",
            1,
            pr,
            "A vendor answered a challenge (to the challenge's city).",
            "proposal.create",
            _to_city,
        ),
        EventType(
            "proposal.shortlisted",
            1,
            pr,
            "A city shortlisted a proposal (to its vendor).",
            "proposal.shortlist",
            _proposal,
        ),
        EventType(
            "proposal.accepted",
            1,
            pr,
            "A city accepted a proposal, awarding its challenge (to its vendor).",
            "proposal.accept",
            _proposal,
        ),
        EventType(
            "proposal.declined", 1, pr, "A city declined a proposal (to its vendor).", "proposal.decline", _proposal
        ),
        EventType(
            "comment.created",
            1,
            CommentEventV1,
            "A comment on a challenge (to its city) or on a proposal (to the city and the vendor).",
            "comment.create",
            _comment,
        ),
        EventType(
            "twinning.proposed",
            1,
            tw,
            "A twinning was proposed (to both cities and the programme).",
            "twinning.propose",
            _twinning,
        ),
        EventType("twinning.accepted", 1, tw, "A twinning was accepted.", "twinning.accept", _twinning),
        EventType("twinning.declined", 1, tw, "A twinning was declined.", "twinning.decline", _twinning),
        EventType("twinning.completed", 1, tw, "A twinning was completed.", "twinning.complete", _twinning),
        EventType(
            "twinning.outcome_recorded",
            1,
            tw,
            "A completed twinning's outcome was recorded.",
            "twinning.outcome",
            _twinning,
        ),
        EventType(
            "clarification.answered",
            1,
            ClarificationEventV1,
            "A city answered your clarification question on its challenge (to the asker alone, and to the "
            "webhooks of the asker's vendor organisations; the asker is never named).",
            "clarification.answer",
            _clarification,
        ),
        EventType(
            "content.hidden",
            1,
            ModerationEventV1,
            "A moderation decision: an item was hidden, by enough reports or a moderator (to its author, or a "
            "listing's vendor; the reporters are never named).",
            "moderation.hide",
            _moderation,
        ),
        EventType(
            "content.restored",
            1,
            ModerationEventV1,
            "A moderation decision: a moderator restored a hidden item (to its author, or a listing's vendor).",
            "moderation.restore",
            _moderation,
        ),
        EventType(
            "case_study.published",
            1,
            CaseStudyEventV1,
            "A case study was published (to its city's organisation; alerts on case studies are matched on it).",
            "case_study.publish",
            _case_study,
        ),
        EventType(
            "lead.new",
            1,
            LeadEventV1,
            "A listing of the vendor newly ranks for a city's weak KPIs with a score above the threshold, after "
            "the city's KPI values changed (to the vendor).",
            None,
        ),
        EventType(
            "alert.matched",
            1,
            AlertMatchedV1,
            "A newly published listing or case study matches one of your saved alerts (to the alert's owner, "
            "and the webhooks of their organisations).",
            None,
        ),
        EventType(
            "webhook.disabled",
            1,
            WebhookDisabledV1,
            "One of the organisation's webhook endpoints was disabled after failing for the whole retry window.",
            None,
        ),
    ]


CATALOGUE: dict[str, EventType] = {t.name: t for t in _types()}
BY_AUDIT_ACTION: dict[str, EventType] = {t.audit_action: t for t in CATALOGUE.values() if t.audit_action}
WILDCARD = "*"
# The events that new items ride: the notifier matches saved alerts on them (app/notifications/alerts.py),
# so they are kept even when no organisation is told.
ALERT_SOURCES = {"solution.published": "solutions", "case_study.published": "case_studies"}
# Audited writes of a city's KPI values: the outbox queues a lead check for the city (app/notifications/leads.py).
LEAD_SOURCES = frozenset({"kpi_values.upsert", "kpi_values.import", "kpi_values.verify", "kpi_values.unverify"})


def unknown_types(names: Iterable[str]) -> list[str]:
    return sorted({n for n in names if n != WILDCARD and n not in CATALOGUE})


def subscribed(events: list[str], event_type: str) -> bool:
    return WILDCARD in events or event_type in events
