"""The dashboard's sign-in sessions: the browser holds a random key (an HttpOnly cookie), the tokens stay here."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.models import UTCDateTime, created_at_field


class DashboardSession(SQLModel, table=True):
    """One browser's sign-in: pending (state and PKCE verifier, before the callback) or signed in (tokens).

    The cookie carries a random key; only its SHA-256 is stored, and a new key is issued once the sign-in
    completes (a key seen before the sign-in is worthless after it)."""

    __tablename__ = "dashboard_session"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(max_length=64, unique=True)
    # Pending sign-in: the OAuth state, the PKCE verifier and where to go back to.
    state: str = Field(default="", max_length=64)
    code_verifier: str = Field(default="", max_length=128)
    return_to: str = Field(default="/", max_length=500)
    # Signed in: the tokens the dashboard acts with, encrypted (signin._seal); never sent to the browser.
    user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="CASCADE", index=True)
    access_token: str = Field(default="")
    refresh_token: str = Field(default="")
    access_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    created_at: datetime = created_at_field()
