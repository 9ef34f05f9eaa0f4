"""Co-creation: a city's challenge tied to weak KPIs, vendors' proposals, and comments on both."""

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, Relationship, SQLModel

from app.core.models import UTCDateTime, children, created_at_field, enum_column, updated_at_field


class ChallengeStatus(StrEnum):
    open = "open"
    closed = "closed"
    awarded = "awarded"


class ProposalStatus(StrEnum):
    submitted = "submitted"
    shortlisted = "shortlisted"
    accepted = "accepted"
    declined = "declined"


class Disclosure(StrEnum):
    """What of the proposals becomes public once the challenge is awarded (chosen when it is posted).

    Until then a proposal is confidential: its vendor, the challenge's city officials and admins see it.
    """

    nothing = "nothing"
    winner_summary = "winner_summary"
    all_summaries = "all_summaries"


class Challenge(SQLModel, table=True):
    __tablename__ = "challenge"

    id: int | None = Field(default=None, primary_key=True)
    city_id: int = Field(foreign_key="city.id", index=True)
    title: str = Field(max_length=300)
    statement: str = Field(default="")
    # The language title and statement are written in (BCP 47); translations are in content_translation.
    original_language: str = Field(default="en", max_length=35, sa_column_kwargs={"server_default": "en"})
    deadline: date
    status: ChallengeStatus = Field(
        default=ChallengeStatus.open, sa_type=enum_column(ChallengeStatus, "challenge_status"), index=True
    )
    disclosure: Disclosure = Field(
        default=Disclosure.winner_summary, sa_type=enum_column(Disclosure, "proposal_disclosure")
    )
    # Procurement: a budget range in whole units of an ISO 4217 currency (all three or none).
    budget_min: int | None = Field(default=None)
    budget_max: int | None = Field(default=None)
    currency: str | None = Field(default=None, max_length=3)
    # The award: which proposal won, why, and when (set by the award, audited there).
    awarded_proposal_id: int | None = Field(default=None)
    award_reason: str = Field(default="")
    awarded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    is_demo: bool = Field(default=False)
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    target_kpis: list["ChallengeKpi"] = Relationship(sa_relationship_kwargs=children())
    criteria: list["ChallengeCriterion"] = Relationship(
        sa_relationship_kwargs={**children(), "order_by": "ChallengeCriterion.position"}
    )


class ChallengeCriterion(SQLModel, table=True):
    """An evaluation criterion of a challenge; a challenge's weights sum to 100."""

    __tablename__ = "challenge_criterion"

    id: int | None = Field(default=None, primary_key=True)
    challenge_id: int = Field(foreign_key="challenge.id", index=True, ondelete="CASCADE")
    position: int = Field(default=0)
    name: str = Field(max_length=200)
    description: str = Field(default="")
    weight: int


class ChallengeKpi(SQLModel, table=True):
    __tablename__ = "challenge_kpi"

    challenge_id: int = Field(foreign_key="challenge.id", primary_key=True, ondelete="CASCADE")
    kpi_id: int = Field(foreign_key="kpi.id", primary_key=True, index=True)


class Proposal(SQLModel, table=True):
    __tablename__ = "proposal"
    __table_args__ = (sa.UniqueConstraint("challenge_id", "solution_id"),)

    id: int | None = Field(default=None, primary_key=True)
    challenge_id: int = Field(foreign_key="challenge.id", index=True, ondelete="CASCADE")
    vendor_id: int = Field(foreign_key="vendor.id", index=True)
    solution_id: int = Field(foreign_key="solution.id", index=True)
    text: str = Field(default="")
    # What may become public after the award (the challenge's disclosure setting says whether).
    summary: str = Field(default="", max_length=1000)
    status: ProposalStatus = Field(
        default=ProposalStatus.submitted, sa_type=enum_column(ProposalStatus, "proposal_status"), index=True
    )
    submitted_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    is_demo: bool = Field(default=False)
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Comment(SQLModel, table=True):
    """A comment on a challenge or on a proposal (exactly one of the two)."""

    __tablename__ = "comment"
    __table_args__ = (sa.CheckConstraint("(challenge_id IS NULL) <> (proposal_id IS NULL)", name="one_target"),)

    id: int | None = Field(default=None, primary_key=True)
    challenge_id: int | None = Field(default=None, foreign_key="challenge.id", index=True, ondelete="CASCADE")
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id", index=True, ondelete="CASCADE")
    author_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    # Which organisation the author spoke for ("City of Karmoy", a vendor...), kept if the user goes.
    author_label: str = Field(default="", max_length=200)
    body: str
    is_demo: bool = Field(default=False)
    created_at: datetime = created_at_field()


class Clarification(SQLModel, table=True):
    """A vendor's question on a challenge and the city's answer: public, the asker never shown."""

    __tablename__ = "clarification"

    id: int | None = Field(default=None, primary_key=True)
    challenge_id: int = Field(foreign_key="challenge.id", index=True, ondelete="CASCADE")
    question: str
    asked_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    answer: str = Field(default="")
    answered_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()


class ProposalScore(SQLModel, table=True):
    """One official's score (0-10, with a note) of one proposal on one criterion."""

    __tablename__ = "proposal_score"
    __table_args__ = (
        sa.UniqueConstraint("proposal_id", "criterion_id", "scorer_user_id"),
        sa.CheckConstraint("score >= 0 AND score <= 10", name="score_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True, ondelete="CASCADE")
    criterion_id: int = Field(foreign_key="challenge_criterion.id", index=True, ondelete="CASCADE")
    scorer_user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    score: int
    note: str = Field(default="")
    updated_at: datetime = updated_at_field()
