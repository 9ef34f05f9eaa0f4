"""GraphQL face of co-creation: challenges, proposals and comments, through the same services as REST."""

# No `from __future__ import annotations` here: Strawberry's pydantic types recognise `strawberry.Private`
# fields only in evaluated annotations.

import datetime
from typing import Annotated, Any

import strawberry
from sqlmodel import Session

from app.auth.actions import ActionFace
from app.auth.principal import Principal, Scope
from app.challenges import service
from app.challenges.lifecycle import CHALLENGE_FACES, PROPOSAL_FACES, ChallengeAction, ProposalAction
from app.challenges.models import Challenge as ChallengeRow
from app.challenges.models import ChallengeStatus, Disclosure, ProposalStatus
from app.challenges.models import Clarification as ClarificationRow
from app.challenges.models import Comment as CommentRow
from app.challenges.models import Proposal as ProposalRow
from app.challenges.router import router as rest
from app.challenges.schemas import (
    ChallengeAwardIn,
    ChallengeBaseOut,
    ChallengeCreateIn,
    ChallengeFilters,
    ChallengeOut,
    ChallengeUpdateIn,
    ClarificationAnswerIn,
    ClarificationIn,
    ClarificationOut,
    CommentCreateIn,
    CommentOut,
    CriterionIn,
    CriterionOut,
    CriterionScoreOut,
    NoteIn,
    ProposalBaseOut,
    ProposalCreateIn,
    ProposalOut,
    ProposalUpdateIn,
    RankedProposalOut,
    RankingOut,
    ScoreIn,
    ScoreOut,
    ScoresIn,
)
from app.cities.graphql import City
from app.core.errors import NotFound
from app.core.idempotency import Once
from app.core.pagination import PageResult
from app.core.paths import path_of
from app.graphql.context import Context
from app.graphql.languages import FieldLanguage, LangArg, wanted
from app.graphql.loaders import get_loaders
from app.graphql.mutations import (
    Deleted,
    DeleteResult,
    IdempotencyKeyArg,
    MutationError,
    create_once,
    generated_mutations,
    pydantic_input,
    run_mutation,
    validated,
    validated_arguments,
)
from app.graphql.relay import Connection, page_request
from app.kpis.graphql import Kpi
from app.solutions.graphql import Solution, resolve_city, resolve_kpis, to_solution
from app.translations.models import TranslatableKind
from app.translations.service import localize_rows
from app.vendors.graphql import Vendor, to_vendor

ChallengeStatusEnum = strawberry.enum(ChallengeStatus)
ProposalStatusEnum = strawberry.enum(ProposalStatus)
DisclosureEnum = strawberry.enum(Disclosure)


@strawberry.experimental.pydantic.type(model=CriterionOut, all_fields=True)
class Criterion:
    pass


@strawberry.experimental.pydantic.type(model=ClarificationOut, all_fields=True)
class Clarification:
    pass


@strawberry.experimental.pydantic.type(model=CriterionScoreOut, all_fields=True)
class CriterionScore:
    pass


@strawberry.experimental.pydantic.type(model=RankedProposalOut, all_fields=True)
class RankedProposal:
    pass


@strawberry.experimental.pydantic.type(model=RankingOut, all_fields=True)
class Ranking:
    pass


@strawberry.experimental.pydantic.type(model=ScoreOut, all_fields=True)
class Score:
    pass


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
        return info.context.converted("Vendor", vendor.id, lambda: to_vendor(vendor))

    @strawberry.field(description="The proposed listing (null if it was unpublished since the proposal was read).")
    async def solution(self, info: strawberry.Info[Context, None]) -> Solution | None:
        solution = await get_loaders(info.context).solution.load(self.solution_id)
        return to_solution(solution) if solution is not None else None


def to_proposal(view: ProposalBaseOut) -> Proposal:
    """A proposal as the caller reads it (`service.proposal_views`: the text only for who may read it)."""
    return Proposal.from_pydantic(view)


def _view(session: Session, principal: Principal, proposal: ProposalRow) -> Proposal:
    return to_proposal(service.proposal_views(session, principal, [proposal])[0])


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

    @strawberry.field(description="How many proposals it received (their content is confidential).")
    async def proposal_count(self, info: strawberry.Info[Context, None]) -> int:
        return await get_loaders(info.context).challenge_proposal_count.load(self.id)

    @strawberry.field(description="Clarification questions and the city's answers, oldest first (askers hidden).")
    async def clarifications(self, info: strawberry.Info[Context, None]) -> list[Clarification]:
        found = await get_loaders(info.context).challenge_clarifications.load(self.id)
        return [Clarification.from_pydantic(ClarificationOut.from_model(c)) for c in found]

    @strawberry.field(description="The proposals you may see, oldest first.")
    async def proposals(
        self, info: strawberry.Info[Context, None], status: ProposalStatus | None = None
    ) -> list[Proposal]:
        return [to_proposal(p) for p in await get_loaders(info.context).challenge_proposals.load((self.id, status))]


def to_challenge(challenge: ChallengeRow, out: ChallengeBaseOut | None = None) -> Challenge:
    return Challenge.from_pydantic(
        out or ChallengeBaseOut.from_model(challenge),
        extra={"target_kpi_ids": [k.kpi_id for k in challenge.target_kpis]},
    )


_REGISTERED = (FieldLanguage,)  # the type fieldLanguages lists
KIND = TranslatableKind.challenge


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
        lang: LangArg = None,
    ) -> Connection[Challenge]:
        filters = validated_arguments(
            ChallengeFilters,
            city=city,
            status=status,
            kpi=kpi,
            deadline_before=deadline_before,
            deadline_after=deadline_after,
        )
        page = page_request(first, after)
        languages = wanted(lang)

        def read(session: Session) -> PageResult[tuple[ChallengeRow, ChallengeBaseOut]]:
            result = service.list_challenges(session, filters, page)
            items = localize_rows(session, KIND, result.items, ChallengeBaseOut.from_model, languages)
            return PageResult(items, result.total, result.next_cursor, result.cursors, result.has_previous)

        return Connection[Challenge].from_page(await info.context.run_db(read), lambda pair: to_challenge(*pair))

    @strawberry.field(description="One challenge (the same id as in REST).")
    async def challenge(self, info: strawberry.Info[Context, None], id: int, lang: LangArg = None) -> Challenge:
        languages = wanted(lang)

        def read(session: Session) -> tuple[ChallengeRow, ChallengeBaseOut]:
            challenge = service.get_challenge(session, id)
            return localize_rows(session, KIND, [challenge], ChallengeBaseOut.from_model, languages)[0]

        return to_challenge(*await info.context.run_db(read))

    @strawberry.field(description="One proposal (the same id as in REST).")
    async def proposal(self, info: strawberry.Info[Context, None], id: int) -> Proposal:
        principal = info.context.principal
        return await info.context.run_db(lambda s: _view(s, principal, service.get_proposal(s, principal, id)))

    @strawberry.field(description="A challenge's proposals by weighted score (its city officials and admins only).")
    async def challenge_ranking(self, info: strawberry.Info[Context, None], id: int) -> Ranking:
        principal = info.context.principal
        return Ranking.from_pydantic(await info.context.run_db(lambda s: service.ranking(s, principal, id)))

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


# ================================================================================================ mutations
# The REST writes of app/challenges/router.py (challenges, proposals, comments), through the same services.


@pydantic_input(CriterionIn)
class CriterionInput:
    pass


@pydantic_input(ScoreIn)
class ScoreInput:
    pass


@pydantic_input(ChallengeCreateIn)
class ChallengeCreateInput:
    pass


@pydantic_input(ChallengeUpdateIn, partial=True)
class ChallengeUpdateInput:
    pass


@pydantic_input(ProposalCreateIn)
class ProposalCreateInput:
    pass


ChallengeResult = Annotated[Challenge | MutationError, strawberry.union("ChallengeResult")]
ProposalResult = Annotated[Proposal | MutationError, strawberry.union("ProposalResult")]
CommentResult = Annotated[Comment | MutationError, strawberry.union("CommentResult")]
ClarificationResult = Annotated[Clarification | MutationError, strawberry.union("ClarificationResult")]


@strawberry.type
class Scores:
    scores: list[Score]


ScoresResult = Annotated[Scores | MutationError, strawberry.union("ScoresResult")]
VersionArg = Annotated[int, strawberry.argument(description="The version you last read (REST's If-Match).")]
NoteArg = Annotated[str, strawberry.argument(description="Kept in the audit trail (why it closed, was declined...).")]
WRITE = (Scope.challenges_write,)


def _challenge_now(session: Session, challenge_id: int) -> Challenge:
    """The challenge as REST answers it: read again after the commit."""
    return to_challenge(service.get_challenge(session, challenge_id))


def _note(note: str) -> str:
    return validated(NoteIn, {"note": note}, root=None).note


def _comment(session: Session, made: Once[CommentOut]) -> Comment:
    """The comment made now, or on a replay the one the first call made, read again (gone if since deleted)."""
    if made.created is not None:
        return Comment.from_pydantic(made.created)
    comment = session.get(CommentRow, made.id)
    if comment is None:
        raise NotFound(f"No comment with id {made.id}: it was deleted.")
    return Comment.from_pydantic(CommentOut.from_model(comment))


def _decision_mutation(action: ProposalAction, face: ActionFace) -> Any:
    """The mutation of one proposal decision, named, described and scoped as the table says (as its REST route)."""

    async def resolve(
        self: Any, info: strawberry.Info[Context, None], id: int, expected_version: VersionArg, note: NoteArg = ""
    ) -> ProposalResult:
        principal = info.context.principal

        def work(session: Session) -> Proposal:
            proposal = service.decide_proposal(session, principal, id, action, lambda: expected_version, _note(note))
            return _view(session, principal, proposal)

        return await run_mutation(info, work, root=None, scopes=face.scopes)

    return strawberry.mutation(resolve, description=face.graphql_description)


# One mutation per proposal decision of the lifecycle table (app/challenges/router.py makes the REST routes).
@generated_mutations({f.name: _decision_mutation(a, f) for a, f in PROPOSAL_FACES.items()})
class ProposalDecisionMutations:
    """The proposal decisions: one mutation per row of app.challenges.lifecycle.PROPOSAL_FACES."""


CLOSE, AWARD = CHALLENGE_FACES[ChallengeAction.close], CHALLENGE_FACES[ChallengeAction.award]


@strawberry.type
class ChallengeWriteMutations:
    @strawberry.mutation(description="Post a challenge (the city's officials).")
    async def create_challenge(
        self,
        info: strawberry.Info[Context, None],
        input: ChallengeCreateInput,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> ChallengeResult:
        principal = info.context.principal

        def work(session: Session) -> int:
            body = validated(ChallengeCreateIn, input)

            def create() -> tuple[ChallengeOut, str]:
                challenge = service.create_challenge(session, principal, body)
                return service.to_out(session, [challenge])[0], path_of(
                    rest, "get_challenge", challenge_id=challenge.id
                )

            # The id of the challenge posted now, or by the first call of a replay: read after the commit.
            return create_once(
                session, info.context, idempotency_key, path_of(rest, "create_challenge"), body, create
            ).id

        return await run_mutation(info, work, then=_challenge_now, scopes=WRITE)

    @strawberry.mutation(description="Edit an open challenge: only the fields given change (the city's officials).")
    async def update_challenge(
        self, info: strawberry.Info[Context, None], id: int, expected_version: VersionArg, input: ChallengeUpdateInput
    ) -> ChallengeResult:
        principal = info.context.principal

        def work(session: Session) -> int:
            body = validated(ChallengeUpdateIn, input)
            service.update_challenge(session, principal, id, lambda: expected_version, body)
            return id

        return await run_mutation(info, work, then=_challenge_now, scopes=WRITE)

    @strawberry.mutation(description=CLOSE.graphql_description)
    async def close_challenge(
        self, info: strawberry.Info[Context, None], id: int, expected_version: VersionArg, note: NoteArg = ""
    ) -> ChallengeResult:
        principal = info.context.principal

        def work(session: Session) -> int:
            service.close_challenge(session, principal, id, lambda: expected_version, note=_note(note))
            return id

        return await run_mutation(info, work, then=_challenge_now, root=None, scopes=CLOSE.scopes)

    @strawberry.mutation(description=AWARD.graphql_description)
    async def award_challenge(
        self,
        info: strawberry.Info[Context, None],
        id: int,
        expected_version: VersionArg,
        proposal_id: int,
        note: NoteArg = "",
    ) -> ChallengeResult:
        principal = info.context.principal

        def work(session: Session) -> int:
            body = validated(ChallengeAwardIn, {"proposal_id": proposal_id, "note": note}, root=None)
            service.award_challenge(session, principal, id, lambda: expected_version, body)
            return id

        return await run_mutation(info, work, then=_challenge_now, root=None, scopes=AWARD.scopes)

    @strawberry.mutation(description="Propose one of your vendor's published solutions (while the challenge is open).")
    async def submit_proposal(
        self,
        info: strawberry.Info[Context, None],
        challenge_id: int,
        input: ProposalCreateInput,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> ProposalResult:
        principal = info.context.principal

        def work(session: Session) -> Proposal:
            body = validated(ProposalCreateIn, input)

            def create() -> tuple[ProposalOut, str]:
                proposal = service.create_proposal(session, principal, challenge_id, body)
                return service.proposals_to_out(session, principal, [proposal])[0], path_of(
                    rest, "get_proposal", proposal_id=proposal.id
                )

            # The proposal made now, or by the first call of a replay (the session has the new one already).
            path = path_of(rest, "create_proposal", challenge_id=challenge_id)
            made = create_once(session, info.context, idempotency_key, path, body, create)
            return _view(session, principal, service.get_proposal(session, principal, made.id))

        return await run_mutation(info, work, scopes=WRITE)

    @strawberry.mutation(description="Edit a submitted proposal's text (the vendor).")
    async def update_proposal(
        self, info: strawberry.Info[Context, None], id: int, expected_version: VersionArg, text: str
    ) -> ProposalResult:
        principal = info.context.principal

        def work(session: Session) -> Proposal:
            body = validated(ProposalUpdateIn, {"text": text}, root=None)
            return _view(
                session, principal, service.update_proposal(session, principal, id, lambda: expected_version, body)
            )

        return await run_mutation(info, work, root=None, scopes=WRITE)

    @strawberry.mutation(description="Comment on a challenge (its city's officials; vendor members while it is open).")
    async def comment_on_challenge(
        self,
        info: strawberry.Info[Context, None],
        challenge_id: int,
        body: str,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> CommentResult:
        principal = info.context.principal

        def work(session: Session) -> Comment:
            data = validated(CommentCreateIn, {"body": body}, root=None)

            def create() -> tuple[CommentOut, str]:
                comment = service.comment_on_challenge(session, principal, challenge_id, data)
                return CommentOut.from_model(comment), f"{path_of(rest, 'list_comments')}?challenge={challenge_id}"

            path = path_of(rest, "comment_on_challenge", challenge_id=challenge_id)
            return _comment(session, create_once(session, info.context, idempotency_key, path, data, create))

        return await run_mutation(info, work, root=None, scopes=WRITE)

    @strawberry.mutation(
        description="Comment on a proposal (the challenge's city officials, the proposing vendor's members)."
    )
    async def comment_on_proposal(
        self,
        info: strawberry.Info[Context, None],
        proposal_id: int,
        body: str,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> CommentResult:
        principal = info.context.principal

        def work(session: Session) -> Comment:
            data = validated(CommentCreateIn, {"body": body}, root=None)

            def create() -> tuple[CommentOut, str]:
                comment = service.comment_on_proposal(session, principal, proposal_id, data)
                return CommentOut.from_model(comment), f"{path_of(rest, 'list_comments')}?proposal={proposal_id}"

            path = path_of(rest, "comment_on_proposal", proposal_id=proposal_id)
            return _comment(session, create_once(session, info.context, idempotency_key, path, data, create))

        return await run_mutation(info, work, root=None, scopes=WRITE)

    @strawberry.mutation(description="Delete a comment (its author, or an admin).")
    async def delete_comment(self, info: strawberry.Info[Context, None], id: int) -> DeleteResult:
        principal = info.context.principal

        def work(session: Session) -> Deleted:
            service.delete_comment(session, principal, id)
            return Deleted(id=id)

        return await run_mutation(info, work, root=None, scopes=WRITE)

    @strawberry.mutation(
        description="Ask a clarification question (vendor members, while the challenge is open; you are not named)."
    )
    async def ask_clarification(
        self,
        info: strawberry.Info[Context, None],
        challenge_id: int,
        question: str,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> ClarificationResult:
        principal = info.context.principal

        def work(session: Session) -> Clarification:
            data = validated(ClarificationIn, {"question": question}, root=None)

            def create() -> tuple[ClarificationOut, str]:
                made = service.ask_clarification(session, principal, challenge_id, data)
                return ClarificationOut.from_model(made), path_of(
                    rest, "list_clarifications", challenge_id=challenge_id
                )

            path = path_of(rest, "ask_clarification", challenge_id=challenge_id)
            made = create_once(session, info.context, idempotency_key, path, data, create)
            row = session.get(ClarificationRow, made.id)
            if row is None:
                raise NotFound(f"No clarification with id {made.id}.")
            return Clarification.from_pydantic(ClarificationOut.from_model(row))

        return await run_mutation(info, work, root=None, scopes=WRITE)

    @strawberry.mutation(description="Answer a clarification question (the challenge's city officials).")
    async def answer_clarification(
        self, info: strawberry.Info[Context, None], id: int, answer: str
    ) -> ClarificationResult:
        principal = info.context.principal

        def work(session: Session) -> Clarification:
            data = validated(ClarificationAnswerIn, {"answer": answer}, root=None)
            made = service.answer_clarification(session, principal, id, data)
            return Clarification.from_pydantic(ClarificationOut.from_model(made))

        return await run_mutation(info, work, root=None, scopes=WRITE)

    @strawberry.mutation(
        description="Score a proposal per criterion, 0-10 with a note (the city's officials, before the award)."
    )
    async def score_proposal(
        self, info: strawberry.Info[Context, None], id: int, scores: list[ScoreInput]
    ) -> ScoresResult:
        principal = info.context.principal

        def work(session: Session) -> Scores:
            data = validated(ScoresIn, {"scores": scores}, root=None)
            made = service.score_proposal(session, principal, id, data)
            return Scores(scores=[Score.from_pydantic(s) for s in made])

        return await run_mutation(info, work, root=None, scopes=WRITE)


@strawberry.type
class ChallengeMutations(ChallengeWriteMutations, ProposalDecisionMutations):
    """Every REST write of co-creation."""
