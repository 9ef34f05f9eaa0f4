"""Moderation: reports, the hidden-pending-review threshold, the moderators' queue and decisions, blocks.

- Anyone signed in as a person reports an item they can see, once (409 the second time), with a reason of
  `ReportReason` and a note; reports count against `CITYMARKET_MODERATION_REPORT_LIMIT` per account.
- At `CITYMARKET_MODERATION_HIDE_THRESHOLD` distinct reporters (default 3) the item is hidden pending review.
  After a moderator restores it, the count starts again: only the distinct reporters whose report came after
  the restore count (the earlier ones cannot report it again), so the restore is not undone by the reports
  it answered.
- Moderators read the queue and hide or restore items: admins everything (`permissions.can_moderate`), a hub
  curator the items about a country of their hub (`permissions.can_moderate_item`; which countries an item is
  about: `app.moderation.visibility.item_countries`), among those they may see: a curator reads no
  confidential proposal (nor a comment on one), so those stay out of their queue and answer 404. Admins block
  or unblock an account; a blocked account's posts (comments, proposals, clarifications, reports) answer 403.
- A hidden item leaves every public read (`app.moderation.visibility`); its owner (a comment's or a
  clarification's author, a proposal's vendor) and its moderators still see it.
Every step writes an audit event. Nothing here commits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from app.audit import service as audit
from app.auth import permissions
from app.auth.principal import Principal
from app.auth.ratelimit import ActionLimiter
from app.case_studies import service as case_studies
from app.challenges import service as challenges
from app.challenges.models import Clarification, Comment
from app.core.config import Settings
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.identity.models import User
from app.moderation.models import AccountBlock, ContentKind, ModeratedItem, ModerationReport
from app.moderation.schemas import AccountBlockOut, BlockIn, ModeratedItemOut, ModerationNoteIn, ReportIn, ReportOut
from app.moderation.visibility import hidden_from, item_hubs, moderated_ids, require_may_post
from app.solutions import service as solutions

MODERATORS_ONLY = "Only moderators (platform admins; hub curators for content about their hub's countries) may do this."
ADMINS_ONLY = "Only platform admins may block or unblock an account."


def _require_moderator(session: Session, principal: Principal, kind: ContentKind, object_id: int) -> int | None:
    """403 unless the caller moderates this item; returns its author. A caller who moderates nothing is
    refused before any lookup; a curator first gets the 404 of an item they may not see, then the 403 of one
    about another hub's countries."""
    if not (permissions.can_moderate(principal) or permissions.moderated_hubs(principal)):
        raise Forbidden(MODERATORS_ONLY)
    author, _ = _author_of(session, principal, kind, object_id)
    if not permissions.can_moderate(principal) and not permissions.can_moderate_item(
        principal, item_hubs(session, kind, object_id)
    ):
        raise Forbidden(MODERATORS_ONLY)
    return author


def _no_item(kind: ContentKind, object_id: int) -> NotFound:
    return NotFound(f"No {kind.value.replace('_', ' ')} with id {object_id}.")


def _author_of(session: Session, principal: Principal, kind: ContentKind, object_id: int) -> tuple[int | None, bool]:
    """The item's author (None where content is an organisation's, not a person's) and whether the caller
    owns it, after checking that the caller may see it: 404 otherwise, with the domain's own rules (a proposal
    stays confidential; a hidden item is its owner's and its moderators')."""
    author: int | None = None
    owner = False
    if kind is ContentKind.comment:
        comment = session.get(Comment, object_id)
        if comment is None:
            raise _no_item(kind, object_id)
        if comment.proposal_id is not None:
            try:
                challenges.get_proposal_in_full(session, principal, comment.proposal_id)
            except NotFound:
                raise _no_item(kind, object_id) from None
        author = comment.author_user_id
        owner = author is not None and author == principal.user_id
    elif kind is ContentKind.proposal:
        proposal = challenges.get_proposal(session, principal, object_id)  # hidden: its vendor's and moderators'
        return proposal.submitted_by_user_id, challenges.is_proposal_owner(principal, proposal)
    elif kind is ContentKind.clarification:
        clarification = session.get(Clarification, object_id)
        if clarification is None:
            raise _no_item(kind, object_id)
        author = clarification.asked_by_user_id
        owner = author is not None and author == principal.user_id
    elif kind is ContentKind.listing:
        solutions.get_solution(session, principal, object_id)  # hidden: its vendor's and moderators'
        return None, False
    else:
        case_studies.get_case_study(session, principal, object_id)  # hidden: its moderators'
        return None, False
    if hidden_from(session, principal, kind, object_id, owner):
        raise _no_item(kind, object_id)
    return author, owner


def _item(session: Session, kind: ContentKind, object_id: int, author: int | None) -> ModeratedItem:
    """The item's state row, made when missing, locked for this change. Two reports may cross the threshold
    at once: the second one's insert then does nothing (it waits for the first to commit on PostgreSQL) instead
    of failing on the primary key, and both go on with the one row."""
    dialect_insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        dialect_insert(ModeratedItem)
        .values(kind=kind, object_id=object_id, author_user_id=author, hidden=False, updated_at=datetime.now(UTC))
        .on_conflict_do_nothing()
    )
    locked = (
        select(ModeratedItem)
        .where(col(ModeratedItem.kind) == kind, col(ModeratedItem.object_id) == object_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.exec(locked).one()


def _reporters(session: Session, kind: ContentKind, object_id: int, since: datetime | None = None) -> int:
    """Distinct reporters of the item (since a moderator's restore, when given)."""
    statement = select(func.count(func.distinct(ModerationReport.reporter_user_id))).where(
        col(ModerationReport.kind) == kind, col(ModerationReport.object_id) == object_id
    )
    if since is not None:
        statement = statement.where(col(ModerationReport.created_at) > since)
    return int(session.exec(statement).one())


def _restored_at(item: ModeratedItem | None) -> datetime | None:
    """When a moderator last restored the item (a reviewed item that is not hidden), else None."""
    if item is None or item.hidden or item.reviewed_by_user_id is None:
        return None
    return item.reviewed_at


def report(
    session: Session, principal: Principal, settings: Settings, limiter: ActionLimiter, data: ReportIn
) -> ReportOut:
    permissions.require(
        permissions.can_report_content(principal), "Reports are made by people: sign in with a user's token."
    )
    assert principal.user_id is not None
    require_may_post(session, principal)
    limiter.hit("report", str(principal.user_id))
    author, _ = _author_of(session, principal, data.kind, data.object_id)  # 404 for what the caller may not see
    existing = session.get(ModeratedItem, (data.kind, data.object_id))
    duplicate = session.exec(
        select(ModerationReport).where(
            col(ModerationReport.kind) == data.kind,
            col(ModerationReport.object_id) == data.object_id,
            col(ModerationReport.reporter_user_id) == principal.user_id,
        )
    ).first()
    if duplicate is not None:
        raise Conflict(
            f"You already reported this {data.kind.value.replace('_', ' ')} (report {duplicate.id}); "
            "an account reports an item once.",
            extra={"existing_id": duplicate.id},
        )
    row = ModerationReport(
        kind=data.kind,
        object_id=data.object_id,
        reporter_user_id=principal.user_id,
        reason=data.reason,
        note=data.note,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # the same account's report, committed by a concurrent request
        raise Conflict(f"You already reported this {data.kind.value.replace('_', ' ')}.") from None
    audit.record(
        session,
        principal,
        "moderation.report",
        data.kind.value,
        data.object_id,
        {"report_id": row.id, "reason": data.reason.value, "note": data.note},
    )
    restored_at = _restored_at(existing)
    reporters = _reporters(session, data.kind, data.object_id, since=restored_at)
    hidden = existing is not None and existing.hidden
    if not hidden and reporters >= settings.moderation_hide_threshold:
        item = _item(session, data.kind, data.object_id, author)
        item.hidden = True
        item.reviewed_by_user_id, item.reviewed_at = None, None  # pending review again
        session.add(item)
        session.flush()
        audit.record(
            session,
            principal,
            "moderation.hide",
            data.kind.value,
            data.object_id,
            {
                "hidden": {"from": False, "to": True},
                "by": "threshold",
                "reporters": reporters,
                "since_restore": restored_at.isoformat() if restored_at else None,
            },
        )
        hidden = True
    session.flush()
    return ReportOut.from_model(row, hidden)


def list_reports(
    session: Session, principal: Principal, page: PageRequest, kind: ContentKind | None = None
) -> PageResult[ReportOut]:
    """The moderation queue: reports, newest first (by id), each with its item's state now."""
    statement = select(ModerationReport)
    if not permissions.can_moderate(principal):
        hubs = permissions.moderated_hubs(principal)
        permissions.require(bool(hubs), MODERATORS_ONLY)
        statement = statement.where(_curated_reports(principal, hubs))
    if kind is not None:
        statement = statement.where(col(ModerationReport.kind) == kind)
    result = paginate(session, statement, [SortKey(ModerationReport.id, descending=True)], page)  # type: ignore[arg-type]
    keys = {(r.kind, r.object_id) for r in result.items}
    hidden: set[tuple[ContentKind, int]] = set()
    if keys:
        rows = session.exec(
            select(ModeratedItem.kind, ModeratedItem.object_id).where(
                col(ModeratedItem.hidden), col(ModeratedItem.object_id).in_({k[1] for k in keys})
            )
        ).all()
        hidden = {(ContentKind(k), i) for k, i in rows}
    reports: list[ModerationReport] = list(result.items)
    outs = [ReportOut.from_model(r, (r.kind, r.object_id) in hidden) for r in reports]
    return PageResult(
        items=outs,
        total=result.total,
        next_cursor=result.next_cursor,
        cursors=result.cursors,
        has_previous=result.has_previous,
    )


def _curated_reports(principal: Principal, hubs: frozenset[int]) -> sa.ColumnElement[bool]:
    """A curator's queue: the reports of items about their hubs' countries that they may see (no
    confidential proposal, nor a comment on one: the report's note could quote it)."""
    seen: dict[ContentKind, Any] = {
        ContentKind.proposal: challenges.visible_proposal_ids(principal),
        ContentKind.comment: challenges.readable_comment_ids(principal),
    }
    cases = []
    for kind in ContentKind:
        condition = sa.and_(
            col(ModerationReport.kind) == kind, col(ModerationReport.object_id).in_(moderated_ids(kind, hubs))
        )
        if kind in seen:
            condition = sa.and_(condition, col(ModerationReport.object_id).in_(seen[kind]))
        cases.append(condition)
    return sa.or_(*cases)


def decide(
    session: Session, principal: Principal, kind: ContentKind, object_id: int, hide: bool, data: ModerationNoteIn
) -> ModeratedItemOut:
    """Hide or restore an item (a moderator's decision; after a restore only new reporters count)."""
    author = _require_moderator(session, principal, kind, object_id)
    item = _item(session, kind, object_id, author)
    before = item.hidden
    item.hidden = hide
    item.reviewed_by_user_id = principal.user_id
    item.reviewed_at = datetime.now(UTC)
    session.add(item)
    session.flush()
    audit.record(
        session,
        principal,
        "moderation.hide" if hide else "moderation.restore",
        kind.value,
        object_id,
        {"hidden": {"from": before, "to": hide}, "by": "moderator", "note": data.note},
    )
    return ModeratedItemOut.from_model(item, _reporters(session, kind, object_id))


def block(session: Session, principal: Principal, user_id: int, data: BlockIn) -> AccountBlockOut:
    """Block an account from posting (idempotent: blocking a blocked account changes its reason)."""
    permissions.require(permissions.can_moderate(principal), ADMINS_ONLY)
    if session.get(User, user_id) is None:
        raise NotFound(f"No account with id {user_id}.")
    row = session.get(AccountBlock, user_id)
    before = row.reason if row is not None else None
    if row is None:
        row = AccountBlock(user_id=user_id, blocked_by_user_id=principal.user_id)
    row.reason = data.reason
    session.add(row)
    session.flush()
    audit.record(session, principal, "account.block", "user", user_id, {"reason": {"from": before, "to": data.reason}})
    return AccountBlockOut.from_model(row)


def unblock(session: Session, principal: Principal, user_id: int) -> None:
    permissions.require(permissions.can_moderate(principal), ADMINS_ONLY)
    row = session.get(AccountBlock, user_id)
    if row is None:
        raise NotFound(f"Account {user_id} is not blocked.")
    reason = row.reason
    session.delete(row)
    session.flush()
    audit.record(session, principal, "account.unblock", "user", user_id, {"reason": reason})
