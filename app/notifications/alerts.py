"""Saved alerts: a person's named filter of new listings or new case studies, and matching them (docs/architecture.md,
"The event outbox and webhook deliveries").

An alert stores the filters of `GET /api/v1/solutions` or `GET /api/v1/case-studies` by their query names. The
notifier matches them when it dispatches the event of a publication (`solution.published`,
`case_study.published`): for each alert of that kind, the listing service itself is asked, as the alert's owner,
which of the batch's new items pass the alert's filters (`SolutionFilters` / `CaseStudyFilters` with `ids`): the
same filters and the same visibility rules as the API, so an alert never tells anyone of an item they may not see.
Each match raises `alert.matched` to the owner alone (feed, email per preference) and the webhooks of their
organisations, in the dispatch's transaction. The CRUD below is what both faces call (it never commits).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.audit.service import record
from app.auth.principal import Principal, scopes_for_roles
from app.auth.resource import user_memberships
from app.case_studies import service as case_studies
from app.case_studies.models import CaseStudy, ContentStatus
from app.core.concurrency import ExpectedVersion, claim_version
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.identity.models import User
from app.kpis.service import kpi_ids_for
from app.notifications.models import Alert, AlertTarget, NotifyEvent
from app.notifications.outbox import raise_event
from app.notifications.schemas import AlertIn, AlertOut, AlertUpdateIn
from app.solutions import service as solutions
from app.solutions.models import EvidenceLevel, ListingStatus, Maturity, PriceModel

KIND = "alert"
ITEM = {
    AlertTarget.solutions: ("solution", "/api/v1/solutions/{id}"),
    AlertTarget.case_studies: ("case_study", "/api/v1/case-studies/{id}"),
}


def _person(principal: Principal) -> int:
    if principal.user_id is None:
        raise Forbidden("Alerts are a person's: a machine client has none (subscribe a webhook instead).")
    return principal.user_id


def _check_filters(session: Session, target: AlertTarget, filters: dict[str, Any]) -> None:
    """A KPI named by the filters must exist (422 naming the field), as the listing API's results would say."""
    if filters.get("kpi"):
        field = "solution_filters" if target is AlertTarget.solutions else "case_study_filters"
        kpi_ids_for(session, [str(filters["kpi"])], f"{field}.kpi")


def _load(session: Session, principal: Principal, alert_id: int) -> Alert:
    row = session.get(Alert, alert_id)
    if row is None or row.user_id != principal.user_id:
        raise NotFound(f"No alert with id {alert_id}.")  # someone else's is not yours to see, not even an admin's
    return row


def _name_taken(name: str) -> Conflict:
    return Conflict(f"You already have an alert named {name!r}: choose another name, or change that one.")


def create_alert(session: Session, principal: Principal, data: AlertIn) -> AlertOut:
    user_id = _person(principal)
    target, filters = data.target()
    _check_filters(session, target, filters)
    if session.exec(select(Alert.id).where(Alert.user_id == user_id, Alert.name == data.name)).first() is not None:
        raise _name_taken(data.name)
    row = Alert(user_id=user_id, name=data.name, target=target, filters=filters)
    session.add(row)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the same name by a concurrent request
        raise _name_taken(data.name) from None
    record(session, principal, "alert.create", KIND, row.id or 0, {"name": row.name, "target": target.value})
    return AlertOut.from_model(row)


def list_alerts(session: Session, principal: Principal, page: PageRequest) -> PageResult[Alert]:
    user_id = _person(principal)
    statement = select(Alert).where(Alert.user_id == user_id)
    return paginate(session, statement, [SortKey(Alert.id)], page)  # type: ignore[arg-type]


def get_alert(session: Session, principal: Principal, alert_id: int) -> AlertOut:
    _person(principal)
    return AlertOut.from_model(_load(session, principal, alert_id))


def update_alert(
    session: Session, principal: Principal, alert_id: int, data: AlertUpdateIn, expected: ExpectedVersion
) -> AlertOut:
    _person(principal)
    row = _load(session, principal, alert_id)
    if data.name is not None and data.name != row.name:
        taken = session.exec(
            select(Alert.id).where(Alert.user_id == row.user_id, Alert.name == data.name, Alert.id != alert_id)
        ).first()
        if taken is not None:
            raise _name_taken(data.name)
    made = data.target()
    if made is not None:
        _check_filters(session, *made)
    row.version = claim_version(session, Alert, alert_id, expected())
    changes: dict[str, Any] = {}
    if data.name is not None and data.name != row.name:
        changes["name"] = {"from": row.name, "to": data.name}
        row.name = data.name
    if made is not None and (made[0] is not row.target or made[1] != row.filters):
        changes["filters"] = {"from": {row.target.value: row.filters}, "to": {made[0].value: made[1]}}
        row.target, row.filters = made
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    record(session, principal, "alert.update", KIND, alert_id, changes)
    return AlertOut.from_model(row)


def delete_alert(session: Session, principal: Principal, alert_id: int) -> None:
    _person(principal)
    row = _load(session, principal, alert_id)
    session.delete(row)
    session.flush()
    record(session, principal, "alert.delete", KIND, alert_id, {"name": row.name})


# --------------------------------------------------------------------------------------------- matching


def owner_principal(session: Session, user: User) -> Principal:
    """The alert's owner as the listing services see a request of theirs: their memberships and their roles'
    scopes (what they may see is what their own token would let them see)."""
    assert user.id is not None
    memberships = user_memberships(session, user.id)
    return Principal(
        subject=f"user:{user.id}",
        user_id=user.id,
        memberships=memberships,
        scopes=scopes_for_roles(m.role for m in memberships),
    )


def _solution_filters(filters: dict[str, Any], ids: tuple[int, ...]) -> solutions.SolutionFilters:
    values = dict(filters)
    for name, enum in (("maturity", Maturity), ("price_model", PriceModel), ("evidence", EvidenceLevel)):
        if name in values:
            values[name] = enum(values[name])
    return solutions.SolutionFilters(**values, status=ListingStatus.published, ids=ids)


def _matching(session: Session, principal: Principal, alert: Alert, ids: tuple[int, ...]) -> list[tuple[int, str]]:
    """(id, title) of the items among `ids` that the alert's filters pass, as the listing API answers its owner."""
    page = PageRequest(limit=len(ids))
    if alert.target is AlertTarget.solutions:
        found = solutions.list_solutions(session, principal, _solution_filters(alert.filters, ids), page)
        return [(s.id, s.title) for s in found.items]
    result = case_studies.list_case_studies(
        session, principal, case_studies.CaseStudyFilters(**alert.filters, ids=ids), page
    )
    return [(c.id or 0, c.title) for c in result.items if c.status is ContentStatus.published]


def match_alerts(session: Session, events: Sequence[NotifyEvent]) -> int:
    """Raise alert.matched for every (alert, new item) pair among these publication events; returns how many.
    One listing query per alert of the kind per dispatch batch (not per event)."""
    if not events:
        return 0
    by_target: dict[AlertTarget, dict[int, NotifyEvent]] = {}
    for event in events:
        if event.type == "solution.published":
            by_target.setdefault(AlertTarget.solutions, {})[int(event.payload["solution_id"])] = event
        elif event.type == "case_study.published":
            by_target.setdefault(AlertTarget.case_studies, {})[int(event.payload["case_study_id"])] = event
    raised = 0
    owners: dict[int, Principal | None] = {}
    for target, items in by_target.items():
        ids = tuple(sorted(items))
        if target is AlertTarget.case_studies:  # still published (it may have been archived since)
            published = session.exec(
                select(CaseStudy.id).where(col(CaseStudy.id).in_(ids), col(CaseStudy.status) == ContentStatus.published)
            ).all()
            ids = tuple(sorted(i for i in published if i is not None))
        if not ids:
            continue
        alerts = session.exec(select(Alert).where(Alert.target == target).order_by(col(Alert.id))).all()
        for alert in alerts:
            if alert.user_id not in owners:
                user = session.get(User, alert.user_id)
                owners[alert.user_id] = owner_principal(session, user) if user is not None and user.is_active else None
            principal = owners[alert.user_id]
            if principal is None:
                continue
            matched = _matching(session, principal, alert, ids)
            item_type, path = ITEM[target]
            for item_id, title in matched:
                payload = {
                    "alert_id": alert.id,
                    "alert_name": alert.name,
                    "target": target.value,
                    "item_type": item_type,
                    "item_id": item_id,
                    "title": title,
                    "url": path.format(id=item_id),
                }
                organisations = sorted({m.organisation_id for m in principal.memberships})
                # The actor of the publication: a person is not told of what they published themselves.
                raise_event(
                    session, "alert.matched", payload, organisations, items[item_id].actor_user_id, alert.user_id
                )
                raised += 1
            if matched:
                alert.matched_count += len(matched)
                alert.last_matched_at = utcnow()
                session.add(alert)
    session.flush()
    return raised
