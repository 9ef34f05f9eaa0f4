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
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.audit.service import record
from app.auth.principal import Principal, scopes_for_roles
from app.auth.resource import user_memberships
from app.case_studies import service as case_studies
from app.case_studies.models import CaseStudy, ContentStatus
from app.case_studies.schemas import CaseStudyFilters
from app.cities.models import City
from app.core.concurrency import ExpectedVersion, claim_version
from app.core.db import reader_session, writer_session
from app.core.errors import Conflict, Forbidden, NotFound, ServiceUnavailable
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.identity.models import User
from app.kpis.service import kpi_ids_for
from app.notifications.models import Alert, AlertTarget, NotifyEvent
from app.notifications.outbox import raise_event
from app.notifications.schemas import SEARCH_TYPES, AlertIn, AlertOut, AlertUpdateIn
from app.search_index.models import SearchOutbox
from app.search_index.service import MAX_PER_PAGE, SearchParams, search_catalogue
from app.solutions import service as solutions
from app.solutions.models import ListingStatus, Solution
from app.solutions.schemas import SolutionFilters
from app.vendors.models import Vendor
from search import SearchEngine

log = structlog.get_logger(__name__)

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
    if target is AlertTarget.search:
        if filters.get("kpi"):
            kpi_ids_for(session, [str(k) for k in filters["kpi"]], "search.kpi")
    elif filters.get("kpi"):
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


def _solution_filters(filters: dict[str, Any]) -> SolutionFilters:
    # Stored as the alert's schema validated them: the list's own model accepts them (enums from their values).
    return SolutionFilters.model_validate({**filters, "status": ListingStatus.published})


def _matching(
    session: Session, principal: Principal, alert: Alert, ids: tuple[int, ...], target: AlertTarget | None = None
) -> list[tuple[int, str]]:
    """(id, title) of the items among `ids` that the alert's filters pass, as the listing API answers its owner
    (a saved search's items, already found by the search, pass no filter here: only the visibility)."""
    target = target or alert.target
    filters = {} if alert.target is AlertTarget.search else alert.filters
    page = PageRequest(limit=len(ids))
    if target is AlertTarget.solutions:
        found = solutions.list_solutions(session, principal, _solution_filters(filters), page, ids=ids)
        return [(s.id, s.title) for s in found.items]
    result = case_studies.list_case_studies(session, principal, CaseStudyFilters.model_validate(filters), page, ids=ids)
    return [(c.id or 0, c.title) for c in result.items if c.status is ContentStatus.published]


def _raise_match(
    session: Session, principal: Principal, alert: Alert, target: AlertTarget, item: tuple[int, str], actor: int | None
) -> None:
    item_id, title = item
    item_type, path = ITEM[target]
    payload = {
        "alert_id": alert.id,
        "alert_name": alert.name,
        "target": alert.target.value,
        "item_type": item_type,
        "item_id": item_id,
        "title": title,
        "url": path.format(id=item_id),
    }
    organisations = sorted({m.organisation_id for m in principal.memberships})
    # The actor of the publication: a person is not told of what they published themselves.
    raise_event(session, "alert.matched", payload, organisations, actor, alert.user_id)
    alert.matched_count += 1
    alert.last_matched_at = utcnow()
    session.add(alert)


class Owners:
    """The owners' principals, built once per round (None: no longer an active account)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._seen: dict[int, Principal | None] = {}

    def get(self, user_id: int) -> Principal | None:
        if user_id not in self._seen:
            user = self.session.get(User, user_id)
            self._seen[user_id] = owner_principal(self.session, user) if user is not None and user.is_active else None
        return self._seen[user_id]


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
    owners = Owners(session)
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
            principal = owners.get(alert.user_id)
            if principal is None:
                continue
            for item in _matching(session, principal, alert, ids):
                _raise_match(session, principal, alert, target, item, items[item[0]].actor_user_id)
                raised += 1
    session.flush()
    return raised


# ------------------------------------------------------------------------------------------ saved searches

SEARCH_SOURCES = {
    "solution.published": ("solution", "solutions"),
    "case_study.published": ("case_study", "case_studies"),
}
SEARCH_BATCH = 100
# A publication whose document the index has not taken after this long is searched anyway (nothing is found).
SEARCH_WAIT = timedelta(hours=1)


def _narrowing(session: Session, doc_type: str, item_id: int) -> dict[str, tuple[str, ...]]:
    """A filter of the search API that the item passes and few others do (its vendor; a case study's city), so
    that one page of hits holds it if the query finds it."""
    if doc_type == "solution":
        vendor = session.exec(
            select(Vendor.slug).join(Solution, col(Solution.vendor_id) == col(Vendor.id)).where(Solution.id == item_id)
        ).first()
        return {"vendor": (vendor,)} if vendor else {}
    city = session.exec(
        select(City.slug).join(CaseStudy, col(CaseStudy.city_id) == col(City.id)).where(CaseStudy.id == item_id)
    ).first()
    return {"city": (city,)} if city else {}


def _search_finds(
    engine: SearchEngine, alert: Alert, doc_type: str, item_id: int, narrowing: dict[str, tuple[str, ...]]
) -> bool:
    saved = {k: tuple(str(v) for v in values) for k, values in alert.filters.items() if k not in ("q", "type")}
    for name, values in narrowing.items():
        if name in saved:  # the alert filters on it already: the item must pass that filter
            if not set(values) & set(saved[name]):
                return False
            continue
        saved[name] = values
    params = SearchParams(q=str(alert.filters["q"]), types=(doc_type,), filters=saved, facets=(), per_page=MAX_PER_PAGE)
    return any(hit.id == item_id for hit in search_catalogue(engine, params).hits)


def search_round(db: Engine, engine: SearchEngine) -> int:
    """Run the saved searches for publications the search index has taken (their search outbox rows are
    processed); returns how many publications were searched. A search outage leaves them for the next round."""
    sources = sorted(SEARCH_SOURCES)
    waiting = (
        col(NotifyEvent.type).in_(sources),
        col(NotifyEvent.dispatched_at).is_not(None),
        col(NotifyEvent.searched_at).is_(None),
    )
    with reader_session(db) as peek:
        if peek.exec(select(NotifyEvent.id).where(*waiting).limit(1)).first() is None:
            return 0
    with writer_session(db) as session:
        events = list(
            session.exec(select(NotifyEvent).where(*waiting).order_by(col(NotifyEvent.id)).limit(SEARCH_BATCH))
        )
        now = utcnow()
        ready: list[tuple[NotifyEvent, str, int]] = []
        for event in events:
            doc_type, index = SEARCH_SOURCES[event.type]
            item_id = int(event.payload[f"{doc_type}_id"])
            pending = session.exec(
                select(SearchOutbox.id).where(
                    SearchOutbox.index_name == index,
                    SearchOutbox.object_id == item_id,
                    col(SearchOutbox.processed_at).is_(None),
                )
            ).first()
            if pending is None or now - event.occurred_at > SEARCH_WAIT:
                ready.append((event, doc_type, item_id))
        if not ready:
            return 0
        alerts = session.exec(select(Alert).where(Alert.target == AlertTarget.search).order_by(col(Alert.id))).all()
        owners = Owners(session)
        try:
            for event, doc_type, item_id in ready:
                narrowing = _narrowing(session, doc_type, item_id)
                target = SEARCH_TYPES[doc_type]
                for alert in alerts:
                    if alert.filters.get("type") != doc_type or not _search_finds(
                        engine, alert, doc_type, item_id, narrowing
                    ):
                        continue
                    principal = owners.get(alert.user_id)
                    if principal is None:
                        continue
                    for item in _matching(session, principal, alert, (item_id,), target):
                        _raise_match(session, principal, alert, target, item, event.actor_user_id)
        except ServiceUnavailable:
            log.warning("saved searches wait: the search engine is unavailable")
            session.rollback()
            return 0
        session.execute(
            sa.update(NotifyEvent).where(col(NotifyEvent.id).in_([e.id for e, _, _ in ready])).values(searched_at=now)
        )
        session.commit()
    return len(ready)
