"""People, the organisations they act for, and their roles there; the OAuth clients, codes and tokens."""

import hashlib
import hmac
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.core.models import UTCDateTime, created_at_field, enum_column, updated_at_field


class OrganisationKind(StrEnum):
    city = "city"
    vendor = "vendor"
    hub = "hub"
    programme = "programme"
    platform = "platform"


class Role(StrEnum):
    city_official = "city_official"
    vendor_member = "vendor_member"
    hub_curator = "hub_curator"
    programme_coordinator = "programme_coordinator"
    admin = "admin"


class User(SQLModel, table=True):
    # "user" is a reserved word in PostgreSQL.
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)
    name: str = Field(default="", max_length=200)
    # None for accounts that only sign in through an external identity provider.
    password_hash: str | None = Field(default=None, max_length=200)
    is_active: bool = Field(default=True)
    # False only for a self sign-up whose email address has not been confirmed yet (app/accounts): such an
    # account cannot sign in. Accounts made by an operator or through an invitation are verified.
    email_verified: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    is_demo: bool = Field(default=False)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Organisation(SQLModel, table=True):
    """A city, a vendor, a hub, the twin-city programme or the platform itself; the kind says which
    of the references is set."""

    __tablename__ = "organisation"
    __table_args__ = (
        sa.CheckConstraint("(kind = 'city') = (city_id IS NOT NULL)", name="city_ref"),
        sa.CheckConstraint("(kind = 'vendor') = (vendor_id IS NOT NULL)", name="vendor_ref"),
        sa.CheckConstraint("(kind = 'hub') = (hub_id IS NOT NULL)", name="hub_ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: OrganisationKind = Field(sa_type=enum_column(OrganisationKind, "organisation_kind"), index=True)
    name: str = Field(max_length=200)
    city_id: int | None = Field(default=None, foreign_key="city.id", unique=True, ondelete="CASCADE")
    vendor_id: int | None = Field(default=None, foreign_key="vendor.id", unique=True, ondelete="CASCADE")
    hub_id: int | None = Field(default=None, foreign_key="hub.id", unique=True, ondelete="CASCADE")
    created_at: datetime = created_at_field()


class Membership(SQLModel, table=True):
    __tablename__ = "membership"
    __table_args__ = (sa.UniqueConstraint("user_id", "organisation_id", "role"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    organisation_id: int = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    role: Role = Field(sa_type=enum_column(Role, "membership_role"))
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


# ------------------------------------------------------------------------------------------ OAuth 2 server
# Only hashes of secrets, codes and refresh tokens are stored (SHA-256 of high-entropy random values):
# a copy of the database gives no working credential. Access tokens are JWTs; their `jti` is recorded so
# that a revoked token, or one of a disabled client, stops working before it expires.


class OAuthClient(SQLModel, table=True):
    """An OAuth client: a machine client bound to an organisation (client credentials), or an app acting
    for people (authorization code with PKCE), confidential (with a secret) or public (without)."""

    __tablename__ = "oauth_client"

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=64, unique=True)
    # SHA-256 hex of the secret; None for public clients.
    client_secret_hash: str | None = Field(default=None, max_length=64)
    name: str = Field(max_length=200)
    # The organisation a machine client acts for (its client-credentials tokens carry its role there).
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True, ondelete="CASCADE")
    # Space-separated: the scopes this client may ever be granted, and the grant types it may use.
    scope: str = Field(default="", max_length=500)
    grant_types: str = Field(default="", max_length=200)
    redirect_uris: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    is_active: bool = Field(default=True)
    is_demo: bool = Field(default=False)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    # -- what Authlib asks of a client (authlib.oauth2.rfc6749.ClientMixin)

    @property
    def is_public(self) -> bool:
        return self.client_secret_hash is None

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # Only an unambiguous default: a client with several redirect URIs must name one.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.scope.split()
        if not scope:
            return self.scope
        return " ".join(s for s in dict.fromkeys(scope.split()) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret_hash is None:
            return False
        candidate = hashlib.sha256(client_secret.encode()).hexdigest()
        return hmac.compare_digest(self.client_secret_hash, candidate)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and self.check_grant_type("authorization_code")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types.split()


class OAuthAuthorizationCode(SQLModel, table=True):
    __tablename__ = "oauth_authorization_code"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    client_pk: int = Field(foreign_key="oauth_client.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    redirect_uri: str = Field(max_length=500)
    scope: str = Field(default="", max_length=500)
    code_challenge: str = Field(max_length=128)
    code_challenge_method: str = Field(max_length=8)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    # A code is used once; the family of the tokens it gave is revoked if it is presented again.
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    family_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = created_at_field()

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri or None

    def get_scope(self) -> str:
        return self.scope


class OAuthToken(SQLModel, table=True):
    """One issued access token (by its `jti`) and, for people, its refresh token. Tokens descending from
    one authorization share a `family_id`: reusing a rotated refresh token revokes the whole family."""

    __tablename__ = "oauth_token"

    id: int | None = Field(default=None, primary_key=True)
    client_pk: int = Field(foreign_key="oauth_client.id", index=True, ondelete="CASCADE")
    user_id: int | None = Field(default=None, foreign_key="user_account.id", index=True, ondelete="CASCADE")
    scope: str = Field(default="", max_length=500)
    family_id: str = Field(max_length=64, index=True)
    access_token_jti: str = Field(max_length=64, unique=True)
    access_token_expires_at: datetime = Field(sa_type=UTCDateTime)
    refresh_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    refresh_token_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    access_token_revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    refresh_token_revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    issued_at: datetime = created_at_field()

    def check_client(self, client: OAuthClient) -> bool:
        return self.client_pk == client.id

    def get_scope(self) -> str:
        return self.scope
