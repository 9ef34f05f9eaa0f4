"""Co-creation: a city's challenge tied to weak KPIs, vendors' proposals, and comments on both."""

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, Relationship, SQLModel

from app.core.models import children, created_at_field, enum_column, updated_at_field


class ChallengeStatus(StrEnum):
    open = "open"
    closed = "closed"
    awarded = "awarded"


class ProposalStatus(StrEnum):
    submitted = "submitted"
    shortlisted = "shortlisted"
    accepted = "accepted"
    declined = "declined"


class Challenge(SQLModel, table=True):
    __tablename__ = "challenge"

    id: int | None = Field(default=None, primary_key=True)
    city_id: int = Field(foreign_key="city.id", index=True)
    title: str = Field(max_length=300)
    statement: str = Field(default="")
    deadline: date
    status: ChallengeStatus = Field(
        default=ChallengeStatus.open, sa_type=enum_column(ChallengeStatus, "challenge_status"), index=True
    )
    created_by_user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    is_demo: bool = Field(default=False)
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    target_kpis: list["ChallengeKpi"] = Relationship(sa_relationship_kwargs=children())


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
