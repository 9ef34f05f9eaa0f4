"""The resource-server side: from a bearer token to the one `Principal` that REST and GraphQL use.

- Our user token: the user's memberships as they are in the database now, with the token's scopes (held by
  the client too); a disabled user, a disabled client or a revoked token is refused.
- Our client-credentials token: the client's organisation, with the role its kind carries.
- A trusted external issuer's token: the memberships its roles claim names (organisations that exist).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from app.auth.oidc import OidcIssuer, role_claims, token_scopes
from app.auth.principal import ALL_SCOPES, KIND_ROLE, Membership, Principal
from app.auth.tokens import InvalidToken, LocalTokenVerifier, VerifiedToken, peek
from app.core.config import Settings
from app.identity.models import Membership as MembershipRow
from app.identity.models import OAuthClient, OAuthToken, Organisation, OrganisationKind, Role, User
from app.identity.service import organisation_target_id


def _membership(organisation: Organisation, role: Role | None = None) -> Membership:
    """A role in an organisation; without a role, the one its kind carries (a machine client's)."""
    assert organisation.id is not None
    return Membership(
        organisation_id=organisation.id,
        kind=organisation.kind,
        target_id=organisation_target_id(organisation),
        role=KIND_ROLE[organisation.kind] if role is None else role,
    )


def user_memberships(session: Session, user_id: int) -> tuple[Membership, ...]:
    rows = session.execute(
        sa.select(col(MembershipRow.role), Organisation)
        .join(Organisation, col(Organisation.id) == MembershipRow.organisation_id)
        .where(col(MembershipRow.user_id) == user_id)
        .order_by(col(MembershipRow.id))
    ).all()
    return tuple(_membership(organisation, role) for role, organisation in rows)


def _local_principal(session: Session, verified: VerifiedToken) -> Principal:
    claims = verified.claims
    row = session.execute(
        sa.select(OAuthToken, OAuthClient)
        .join(OAuthClient, col(OAuthClient.id) == OAuthToken.client_pk)
        .where(col(OAuthToken.access_token_jti) == claims["jti"])
    ).first()
    if row is None:
        raise InvalidToken("The token is unknown to this server.")
    token, client = row
    if token.access_token_revoked_at is not None:
        raise InvalidToken("The token has been revoked.")
    if not client.is_active or client.client_id != claims["client_id"]:
        raise InvalidToken("The token's client is disabled.")
    scopes = frozenset(str(claims.get("scope", "")).split()) & frozenset(client.scope.split()) & ALL_SCOPES
    subject = str(claims["sub"])
    if subject.startswith("user:"):
        user = session.get(User, token.user_id) if token.user_id is not None else None
        if user is None or subject != f"user:{user.id}" or not user.is_active:
            raise InvalidToken("The token's user is disabled.")
        assert user.id is not None
        return Principal(
            subject=subject,
            user_id=user.id,
            client_id=client.client_id,
            memberships=user_memberships(session, user.id),
            scopes=scopes,
        )
    if subject == f"client:{client.client_id}" and token.user_id is None:
        organisation = session.get(Organisation, client.organisation_id) if client.organisation_id else None
        memberships = (_membership(organisation),) if organisation is not None else ()
        return Principal(subject=subject, client_id=client.client_id, memberships=memberships, scopes=scopes)
    raise InvalidToken("The token's subject does not match its record.")


_TARGET_COLUMNS = {
    OrganisationKind.city: "city_id",
    OrganisationKind.vendor: "vendor_id",
    OrganisationKind.hub: "hub_id",
}


def _oidc_principal(session: Session, verified: VerifiedToken, settings: Settings) -> Principal:
    claims = verified.claims
    roles = role_claims(claims, settings)
    memberships: list[Membership] = []
    for claim in roles:
        column = _TARGET_COLUMNS.get(claim.kind)
        statement = select(Organisation).where(col(Organisation.kind) == claim.kind)
        if column is not None:
            statement = statement.where(col(getattr(Organisation, column)) == claim.target_id)
        organisation = session.exec(statement.order_by(col(Organisation.id)).limit(1)).first()
        if organisation is not None:
            memberships.append(_membership(organisation, claim.role))
    client_id = claims.get("azp") or claims.get("client_id") or claims.get("appid")
    return Principal(
        subject=f"oidc:{settings.oidc_issuer.rstrip('/')}#{claims['sub']}",
        client_id=str(client_id) if client_id else None,
        memberships=tuple(memberships),
        scopes=token_scopes(claims, roles, settings),
    )


class Authenticator:
    """Verifies bearer tokens (ours, and the trusted external issuer's) and builds the Principal."""

    def __init__(self, settings: Settings, local: LocalTokenVerifier, oidc: OidcIssuer | None) -> None:
        self.settings = settings
        self.local = local
        self.oidc = oidc

    def verify(self, token: str) -> VerifiedToken:
        _, unverified = peek(token)
        issuer = unverified.get("iss")
        if issuer == self.settings.issuer:
            return self.local.verify(token)
        if self.oidc is not None and isinstance(issuer, str) and issuer.rstrip("/") == self.oidc.issuer:
            return self.oidc.verify(token)
        raise InvalidToken("The token's issuer is not trusted here.")

    def principal(self, session: Session, token: str) -> Principal:
        verified = self.verify(token)
        if verified.origin == "local":
            return _local_principal(session, verified)
        return _oidc_principal(session, verified, self.settings)
