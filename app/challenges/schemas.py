"""What the API says about challenges, proposals and comments, and what it takes to write them."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from app.challenges.models import Challenge, ChallengeStatus, Comment, Proposal, ProposalStatus
from app.cities.schemas import CityRefOut
from app.core.ids import Id
from app.core.text import InputModel
from app.kpis.schemas import KpiRefOut
from app.solutions.schemas import SolutionRefOut
from app.vendors.schemas import VendorRefOut


class ChallengeBaseOut(BaseModel):
    """The challenge's own fields (the GraphQL type, whose city, KPIs and proposals come from DataLoaders)."""

    id: int
    city_id: int
    title: str
    statement: str
    deadline: date
    status: ChallengeStatus
    is_demo: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, challenge: Challenge) -> ChallengeBaseOut:
        return cls.model_validate(challenge, from_attributes=True)


class ChallengeOut(ChallengeBaseOut):
    city: CityRefOut
    target_kpis: list[KpiRefOut] = Field(description="In KPI code order")


class ProposalBaseOut(BaseModel):
    id: int
    challenge_id: int
    vendor_id: int
    solution_id: int
    text: str
    status: ProposalStatus
    is_demo: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, proposal: Proposal) -> ProposalBaseOut:
        return cls.model_validate(proposal, from_attributes=True)


class ProposalOut(ProposalBaseOut):
    vendor: VendorRefOut
    solution: SolutionRefOut


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


class ChallengeCreateIn(InputModel):
    multiline_fields = frozenset({"statement"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    city_id: Id
    title: str = Field(min_length=1, max_length=300)
    statement: str = Field(default="", max_length=20_000, description="The problem, in the city's words")
    target_kpis: list[str] = Field(
        min_length=1, max_length=20, description="The KPIs to improve: slugs or official codes"
    )
    deadline: date = Field(description="Last day for proposals; a future date")


class ChallengeUpdateIn(InputModel):
    """Only the fields sent change (while the challenge is open)."""

    multiline_fields = frozenset({"statement"})

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(default="", min_length=1, max_length=300)
    statement: str = Field(default="", max_length=20_000)
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
    multiline_fields = frozenset({"text"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    solution_id: Id = Field(description="One of your vendor's published solutions")
    text: str = Field(min_length=1, max_length=20_000, description="How the solution answers the challenge")


class ProposalUpdateIn(InputModel):
    multiline_fields = frozenset({"text"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=20_000)


class CommentCreateIn(InputModel):
    multiline_fields = frozenset({"body"})
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    body: str = Field(min_length=1, max_length=5000)
