"""GraphQL face of co-creation: challenges, proposals and comments, through the same services as REST."""

# No `from __future__ import annotations` here: Strawberry's pydantic types recognise `strawberry.Private`
# fields only in evaluated annotations.

import datetime

import strawberry

from app.challenges import service
from app.challenges.models import Challenge as ChallengeRow
from app.challenges.models import ChallengeStatus, ProposalStatus
from app.challenges.models import Proposal as ProposalRow
from app.challenges.schemas import ChallengeBaseOut, CommentOut, ProposalBaseOut
from app.cities.graphql import City
from app.core.errors import NotFound
from app.graphql.context import Context
from app.graphql.loaders import get_loaders
from app.graphql.relay import Connection, page_request
from app.kpis.graphql import Kpi
from app.solutions.graphql import Solution, resolve_city, resolve_kpis, to_solution
from app.vendors.graphql import Vendor, to_vendor

ChallengeStatusEnum = strawberry.enum(ChallengeStatus)
ProposalStatusEnum = strawberry.enum(ProposalStatus)


@strawberry.experimental.pydantic.type(model=CommentOut, all_fields=True)
class Comment:
    pass


@strawberry.experimental.pydantic.type(model=ProposalBaseOut, all_fields=True)
class Proposal:
    vendor_id: int
    solution_id: int

    @strawberry.field
    async def vendor(self, info: strawberry.Info[Context, None]) -> Vendor:
        vendor = await get_loaders(info.context).vendor.load(self.vendor_id)
        if vendor is None:
            raise NotFound(f"No vendor with id {self.vendor_id}.")
        return to_vendor(vendor)

    @strawberry.field(description="The proposed listing (null if it was unpublished since the proposal was read).")
    async def solution(self, info: strawberry.Info[Context, None]) -> Solution | None:
        solution = await get_loaders(info.context).solution.load(self.solution_id)
        return to_solution(solution) if solution is not None else None


def to_proposal(proposal: ProposalRow) -> Proposal:
    return Proposal.from_pydantic(ProposalBaseOut.from_model(proposal))


@strawberry.experimental.pydantic.type(model=ChallengeBaseOut, all_fields=True)
class Challenge:
    id: int
    city_id: int
    target_kpi_ids: strawberry.Private[list[int]]

    @strawberry.field
    async def city(self, info: strawberry.Info[Context, None]) -> City:
        return await resolve_city(info, self.city_id)

    @strawberry.field(description="In KPI code order.")
    async def target_kpis(self, info: strawberry.Info[Context, None]) -> list[Kpi]:
        return await resolve_kpis(info, self.target_kpi_ids)

    @strawberry.field(description="The proposals you may see, oldest first.")
    async def proposals(
        self, info: strawberry.Info[Context, None], status: ProposalStatus | None = None
    ) -> list[Proposal]:
        return [to_proposal(p) for p in await get_loaders(info.context).challenge_proposals.load((self.id, status))]


def to_challenge(challenge: ChallengeRow) -> Challenge:
    return Challenge.from_pydantic(
        ChallengeBaseOut.from_model(challenge), extra={"target_kpi_ids": [k.kpi_id for k in challenge.target_kpis]}
    )


@strawberry.type
class ChallengeQueries:
    @strawberry.field(description="Challenges, newest first; filters as in GET /api/v1/challenges.")
    async def challenges(
        self,
        info: strawberry.Info[Context, None],
        city: int | None = None,
        status: ChallengeStatus | None = None,
        kpi: str | None = None,
        deadline_before: datetime.date | None = None,
        deadline_after: datetime.date | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Challenge]:
        filters = service.ChallengeFilters(
            city=city, status=status, kpi=kpi, deadline_before=deadline_before, deadline_after=deadline_after
        )
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_challenges(s, filters, page))
        return Connection[Challenge].from_page(result, to_challenge)

    @strawberry.field(description="One challenge (the same id as in REST).")
    async def challenge(self, info: strawberry.Info[Context, None], id: int) -> Challenge:
        return to_challenge(await info.context.run_db(lambda s: service.get_challenge(s, id)))

    @strawberry.field(description="One proposal (the same id as in REST).")
    async def proposal(self, info: strawberry.Info[Context, None], id: int) -> Proposal:
        principal = info.context.principal
        return to_proposal(await info.context.run_db(lambda s: service.get_proposal(s, principal, id)))

    @strawberry.field(description="The comments on one challenge or one proposal (give exactly one), oldest first.")
    async def comments(
        self,
        info: strawberry.Info[Context, None],
        challenge: int | None = None,
        proposal: int | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Comment]:
        filters = service.CommentFilters(challenge=challenge, proposal=proposal)
        page = page_request(first, after)
        principal = info.context.principal
        result = await info.context.run_db(lambda s: service.list_comments(s, principal, filters, page))
        return Connection[Comment].from_page(result, lambda c: Comment.from_pydantic(CommentOut.from_model(c)))
