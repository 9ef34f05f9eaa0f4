"""What the API says about challenges, proposals and comments, and what it takes to write them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from app.auth.permissions import is_proposal_disclosed
from app.challenges.currencies import ISO_4217
from app.challenges.models import (
    Challenge,
    ChallengeCriterion,
    ChallengeStatus,
    Clarification,
    Comment,
    Disclosure,
    Proposal,
    ProposalStatus,
)
from app.cities.schemas import CityRefOut
from app.core.ids import Id
from app.core.languages import LanguageTag, LocalizedOut
from app.core.text import InputModel
from app.kpis.schemas import KpiRefOut
from app.solutions.schemas import SolutionRefOut
from app.vendors.schemas import VendorRefOut


class CriterionOut(BaseModel):
    id: int
    name: str
    description: str
    weight: int = Field(description="Percent; a challenge's weights sum to 100")

    @classmethod
    def from_model(cls, criterion: ChallengeCriterion) -> CriterionOut:
        return cls.model_validate(criterion, from_attributes=True)


class ChallengeBaseOut(LocalizedOut):
    """The challenge's own fields (the GraphQL type, whose city, KPIs and proposals come from DataLoaders)."""

    translated_fields = ("title", "statement")

    id: int
    city_id: int
    title: str
    statement: str
    deadline: date
    status: ChallengeStatus
    disclosure: Disclosure = Field(
        description="What of the proposals becomes public once awarded; until then they are confidential"
    )
    budget_min: int | None = Field(description="Whole units of `currency`")
    budget_max: int | None = Field(description="Whole units of `currency`")
    currency: str | None = Field(description="ISO 4217 code")
    criteria: list[CriterionOut] = Field(description="Evaluation criteria, weights summing to 100")
    awarded_at: datetime | None
    awarded_proposal_id: int | None = Field(
        description="The winner, once awarded, unless the disclosure is `nothing` (then null)"
    )
    is_demo: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, challenge: Challenge) -> ChallengeBaseOut:
        awarded = challenge.status is ChallengeStatus.awarded
        winner = (
            challenge.awarded_proposal_id
            if is_proposal_disclosed(awarded, challenge.disclosure.value, proposal_won=True)
            else None
        )
        return cls(
            id=challenge.id or 0,
            city_id=challenge.city_id,
            title=challenge.title,
            statement=challenge.statement,
            language=challenge.original_language,
            deadline=challenge.deadline,
            status=challenge.status,
            disclosure=challenge.disclosure,
            budget_min=challenge.budget_min,
            budget_max=challenge.budget_max,
            currency=challenge.currency,
            criteria=[CriterionOut.from_model(c) for c in challenge.criteria],
            awarded_at=challenge.awarded_at,
            awarded_proposal_id=winner,
            is_demo=challenge.is_demo,
            version=challenge.version,
            created_at=challenge.created_at,
            updated_at=challenge.updated_at,
        )


class ChallengeOut(ChallengeBaseOut):
    city: CityRefOut
    target_kpis: list[KpiRefOut] = Field(description="In KPI code order")
    proposal_count: int = Field(description="How many proposals it received (their content is confidential)")


class ProposalBaseOut(BaseModel):
    id: int
    challenge_id: int
    vendor_id: int
    solution_id: int
    text: str | None = Field(
        description="The proposal in full: for its vendor, the challenge's city officials and admins; null for "
        "everyone else, who see a proposal only once the challenge is awarded and its disclosure shows the summary"
    )
    summary: str = Field(description="What may become public after the award")
    status: ProposalStatus
    is_demo: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, proposal: Proposal, full: bool = True) -> ProposalBaseOut:
        out = cls.model_validate(proposal, from_attributes=True)
        return out if full else out.model_copy(update={"text": None})


class ProposalOut(ProposalBaseOut):
    vendor: VendorRefOut
    solution: SolutionRefOut


class ClarificationOut(BaseModel):
    """A question and its answer, for every vendor to read; who asked is never shown."""

    id: int
    challenge_id: int
    question: str
    answer: str = Field(description="Empty until the city answers")
    answered_at: datetime | None
    created_at: datetime

    @classmethod
    def from_model(cls, clarification: Clarification) -> ClarificationOut:
        return cls.model_validate(clarification, from_attributes=True)


class CriterionScoreOut(BaseModel):
    criterion_id: int
    name: str
    weight: int
    mean_score: float | None = Field(description="The mean of the officials' scores (0-10); null if unscored")
    scores: int = Field(description="How many officials scored it")


class RankedProposalOut(BaseModel):
    rank: int
    proposal_id: int
    vendor_id: int
    status: ProposalStatus
    weighted_score: float = Field(description="0-100: the weighted mean scores (unscored criteria count 0)")
    criteria: list[CriterionScoreOut]


class RankingOut(BaseModel):
    """The weighted ranking of a challenge's proposals: its city officials and admins only."""

    challenge_id: int
    award_reason: str
    items: list[RankedProposalOut]


class ScoreOut(BaseModel):
    proposal_id: int
    criterion_id: int
    score: int
    note: str


class CommentOut(BaseModel):
    id: int
    challenge_id: int | None = Field(description="Set when the comment is on the challenge itself")
    proposal_id: int | None = Field(description="Set when the comment is on a proposal")
    author_label: str = Field(description="Who the author spoke for")
    body: str
    is_demo: bool
    created_at: datetime

    @classmethod
    def from_model(cls, comment: Comment) -> CommentOut:
        return cls.model_validate(comment, from_attributes=True)


# ------------------------------------------------------------------------------------------------- input


# The codes in the OpenAPI document too, so that a client (or a generator of test data) knows them.
_CURRENCY_CODES: list[JsonValue] = [code for code in sorted(ISO_4217)]


class CriterionIn(InputModel):
    multiline_fields = frozenset({"description"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, examples=["Measured leakage reduction"])
    description: str = Field(default="", max_length=2000)
    weight: int = Field(ge=1, le=100, description="Percent; the weights of a challenge sum to 100")


class ChallengeCreateIn(InputModel):
    multiline_fields = frozenset({"statement"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    city_id: Id
    title: str = Field(min_length=1, max_length=300)
    statement: str = Field(default="", max_length=20_000, description="The problem, in the city's words")
    original_language: LanguageTag = Field(
        default="en", description="The language title and statement are written in (BCP 47)"
    )
    target_kpis: list[str] = Field(
        min_length=1, max_length=20, description="The KPIs to improve: slugs or official codes"
    )
    deadline: date = Field(description="Last day for proposals; a future date")
    disclosure: Disclosure = Field(
        default=Disclosure.winner_summary,
        description="What of the proposals becomes public after the award (fixed once posted)",
    )
    budget_min: int | None = Field(default=None, ge=0, le=10**12, description="Whole units of `currency`")
    budget_max: int | None = Field(default=None, ge=0, le=10**12, description="Whole units of `currency`")
    currency: str | None = Field(
        default=None,
        description="ISO 4217 code, e.g. EUR (required with a budget)",
        json_schema_extra={"enum": _CURRENCY_CODES},
    )
    criteria: list[CriterionIn] = Field(
        default_factory=list, max_length=20, description="Evaluation criteria; their weights sum to 100"
    )

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str | None) -> str | None:
        if value is not None and value not in ISO_4217:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. EUR, USD, NOK)")
        return value

    @model_validator(mode="after")
    def _budget_and_criteria(self) -> ChallengeCreateIn:
        # Rules across fields and list items (reported at `body`): OpenAPI cannot carry them.
        total = sum(c.weight for c in self.criteria)
        if self.criteria and total != 100:
            raise ValueError(f"the criteria's weights must sum to 100, not {total}")
        if len({c.name.casefold() for c in self.criteria}) != len(self.criteria):
            raise ValueError("two criteria have the same name")
        given = (self.budget_min, self.budget_max)
        if any(v is not None for v in given) and self.currency is None:
            raise ValueError("a budget needs its currency (ISO 4217)")
        if self.budget_min is not None and self.budget_max is not None and self.budget_min > self.budget_max:
            raise ValueError("budget_min is larger than budget_max")
        return self


class ChallengeUpdateIn(InputModel):
    """Only the fields sent change (while the challenge is open)."""

    multiline_fields = frozenset({"statement"})

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(default="", min_length=1, max_length=300)
    statement: str = Field(default="", max_length=20_000)
    original_language: LanguageTag = Field(
        default="en", description="The language title and statement are written in (BCP 47)"
    )
    target_kpis: list[str] = Field(default_factory=list, min_length=1, max_length=20)
    deadline: date = Field(default_factory=date.today, description="A future date")


class NoteIn(InputModel):
    """An optional note for the audit trail (why a challenge closed, a proposal was declined, ...)."""

    multiline_fields = frozenset({"note"})

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    note: str = Field(default="", max_length=2000)


class ChallengeAwardIn(NoteIn):
    proposal_id: Id = Field(description="The winning proposal (submitted or shortlisted)")


class ProposalCreateIn(InputModel):
    multiline_fields = frozenset({"text", "summary"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    solution_id: Id = Field(description="One of your vendor's published solutions")
    text: str = Field(min_length=1, max_length=20_000, description="How the solution answers the challenge")
    summary: str = Field(
        default="", max_length=1000, description="What may become public after the award (see disclosure)"
    )


class ProposalUpdateIn(InputModel):
    multiline_fields = frozenset({"text"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=20_000)


class CommentCreateIn(InputModel):
    multiline_fields = frozenset({"body"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    body: str = Field(min_length=1, max_length=5000)


class ClarificationIn(InputModel):
    multiline_fields = frozenset({"question"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    question: str = Field(min_length=1, max_length=5000)


class ClarificationAnswerIn(InputModel):
    multiline_fields = frozenset({"answer"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    answer: str = Field(min_length=1, max_length=10_000)


class ScoreIn(InputModel):
    multiline_fields = frozenset({"note"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    criterion_id: Id
    score: int = Field(ge=0, le=10)
    note: str = Field(default="", max_length=2000)


class ScoresIn(InputModel):
    """Your scores of one proposal, per criterion (each replaces your earlier score on that criterion)."""

    model_config = ConfigDict(extra="forbid")

    scores: list[ScoreIn] = Field(min_length=1, max_length=20)


class ChallengeFilters(BaseModel):
    """The list filters of GET /api/v1/challenges (its query model) and of GraphQL's `challenges` (its arguments are
    validated by it): each constraint once, so both faces refuse the same values alike (docs/architecture.md)."""

    model_config = ConfigDict(frozen=True)

    city: Annotated[Id | None, Field(description="City id")] = None
    status: ChallengeStatus | None = None
    kpi: Annotated[str | None, Field(max_length=64, description="Target KPI (slug or official code)")] = None
    deadline_before: Annotated[date | None, Field(description="Deadline on or before this date")] = None
    deadline_after: Annotated[date | None, Field(description="Deadline on or after this date")] = None
