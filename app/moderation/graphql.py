"""GraphQL face of moderation: the same services and checks as REST (app/moderation/router.py)."""

# No `from __future__ import annotations` here: Strawberry's pydantic types read evaluated annotations.

from typing import Annotated

import strawberry
from sqlmodel import Session

from app.auth.deps import require_token
from app.auth.ratelimit import action_limiter
from app.graphql.context import Context
from app.graphql.mutations import Deleted, DeleteResult, MutationError, pydantic_input, run_mutation, validated
from app.graphql.relay import Connection, page_request
from app.moderation import service
from app.moderation.models import ContentKind, ReportReason
from app.moderation.schemas import AccountBlockOut, BlockIn, ModeratedItemOut, ModerationNoteIn, ReportIn, ReportOut

ContentKindEnum = strawberry.enum(ContentKind, name="ModeratedContentKind")
ReportReasonEnum = strawberry.enum(ReportReason)


@strawberry.experimental.pydantic.type(model=ReportOut, all_fields=True)
class ModerationReport:
    pass


@strawberry.experimental.pydantic.type(model=ModeratedItemOut, all_fields=True)
class ModeratedItem:
    pass


@strawberry.experimental.pydantic.type(model=AccountBlockOut, all_fields=True)
class AccountBlock:
    pass


@pydantic_input(ReportIn)
class ReportInput:
    pass


ReportResult = Annotated[ModerationReport | MutationError, strawberry.union("ReportResult")]
ModeratedItemResult = Annotated[ModeratedItem | MutationError, strawberry.union("ModeratedItemResult")]
AccountBlockResult = Annotated[AccountBlock | MutationError, strawberry.union("AccountBlockResult")]


async def _decide(
    info: strawberry.Info[Context, None], kind: ContentKind, object_id: int, hide: bool, note: str
) -> ModeratedItem | MutationError:
    principal = info.context.principal

    def work(session: Session) -> ModeratedItem:
        data = validated(ModerationNoteIn, {"note": note}, root=None)
        return ModeratedItem.from_pydantic(service.decide(session, principal, kind, object_id, hide, data))

    return await run_mutation(info, work, root=None)


@strawberry.type
class ModerationQueries:
    @strawberry.field(
        description="The moderation queue: reports, newest first (GET /api/v1/moderation/reports; admins, and hub "
        "curators for the listings offered in their hub's countries)."
    )
    async def moderation_reports(
        self,
        info: strawberry.Info[Context, None],
        kind: ContentKind | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[ModerationReport]:
        principal = info.context.principal
        require_token(principal)  # REST's require_authenticated
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_reports(s, principal, page, kind))
        return Connection[ModerationReport].from_page(result, ModerationReport.from_pydantic)


@strawberry.type
class ModerationMutations:
    @strawberry.mutation(
        description="Report a comment, proposal, clarification, listing or case study (anyone signed in, once)."
    )
    async def report_content(self, info: strawberry.Info[Context, None], input: ReportInput) -> ReportResult:
        principal, settings = info.context.principal, info.context.settings

        def work(session: Session) -> ModerationReport:
            data = validated(ReportIn, input)
            out = service.report(session, principal, settings, action_limiter(settings), data)
            return ModerationReport.from_pydantic(out)

        return await run_mutation(info, work)

    @strawberry.mutation(description="Hide an item (moderators).")
    async def hide_content(
        self,
        info: strawberry.Info[Context, None],
        kind: ContentKind,
        object_id: int,
        note: str = "",
    ) -> ModeratedItemResult:
        return await _decide(info, kind, object_id, True, note)

    @strawberry.mutation(description="Restore a hidden item (moderators); later reports do not hide it again.")
    async def restore_content(
        self,
        info: strawberry.Info[Context, None],
        kind: ContentKind,
        object_id: int,
        note: str = "",
    ) -> ModeratedItemResult:
        return await _decide(info, kind, object_id, False, note)

    @strawberry.mutation(description="Block an account from posting (moderators).")
    async def block_account(
        self, info: strawberry.Info[Context, None], user_id: int, reason: str = ""
    ) -> AccountBlockResult:
        principal = info.context.principal

        def work(session: Session) -> AccountBlock:
            data = validated(BlockIn, {"reason": reason}, root=None)
            return AccountBlock.from_pydantic(service.block(session, principal, user_id, data))

        return await run_mutation(info, work, root=None)

    @strawberry.mutation(description="Unblock an account (moderators).")
    async def unblock_account(self, info: strawberry.Info[Context, None], user_id: int) -> DeleteResult:
        principal = info.context.principal

        def work(session: Session) -> Deleted:
            service.unblock(session, principal, user_id)
            return Deleted(id=user_id)

        return await run_mutation(info, work, root=None)
