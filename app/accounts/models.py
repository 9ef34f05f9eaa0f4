"""Self-service onboarding: the single-use, expiring links that confirm a signed-up person's email address."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.models import UTCDateTime, created_at_field


class EmailVerification(SQLModel, table=True):
    """A token mailed to a new account's address; only its SHA-256 is kept (it is 256 random bits)."""

    __tablename__ = "email_verification"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = created_at_field()
