"""What the API says about challenges, proposals and comments (output only)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from app.challenges.models import Challenge, ChallengeStatus, Comment, Proposal, ProposalStatus
from app.solutions.schemas import CityRefOut, KpiRefOut, SolutionRefOut
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
