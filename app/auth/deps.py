"""FastAPI dependencies for the caller's identity, used by REST routes and by the GraphQL context alike.

`get_principal` is the single entry point: no Authorization header means ANONYMOUS (public reads stay
open); a bad token is a 401 with `WWW-Authenticate: Bearer error="invalid_token"`. `require_scopes(...)`
guards a route by scope: 401 without a token, 403 `error="insufficient_scope"` without the scope. The
check on *the object* is app.auth.permissions' job, in the service.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app.auth.principal import ANONYMOUS, Principal, Scope
from app.auth.state import AuthState
from app.auth.tokens import InvalidToken
from app.core.deps import SessionDep
from app.core.errors import Forbidden, Unauthorized

REALM = "citymarket"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def invalid_token(detail: str) -> Unauthorized:
    return Unauthorized(
        detail,
        type_="invalid-token",
        title="Invalid token",
        headers={
            "WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token", error_description="{_quote(detail)}"'
        },
    )


def authentication_required(detail: str = "This needs an access token (Authorization: Bearer ...).") -> Unauthorized:
    return Unauthorized(detail, headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})


def insufficient_scope(scopes: tuple[Scope, ...]) -> Forbidden:
    needed = " ".join(s.value for s in scopes)
    return Forbidden(
        f"The token lacks the scope this needs: {needed}.",
        type_="insufficient-scope",
        title="Insufficient scope",
        extra={"required_scopes": [s.value for s in scopes]},
        headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope", scope="{needed}"'},
    )


async def get_auth_state(request: Request) -> AuthState:
    state: AuthState = request.app.state.auth
    return state


async def get_principal(request: Request, session: SessionDep) -> Principal:
    """Anonymous callers cost no thread-pool hop; a token is verified (and its grants read) in the pool."""
    header = request.headers.get("authorization")
    if header is None:
        return ANONYMOUS
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials or " " in credentials:
        raise invalid_token("The Authorization header must be `Bearer <access token>`.")
    state: AuthState = request.app.state.auth
    try:
        return await run_in_threadpool(state.principal, session, credentials)
    except InvalidToken as exc:
        raise invalid_token(exc.detail) from exc


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_token(principal: Principal, *scopes: Scope, detail: str | None = None) -> Principal:
    """What every face checks before the service, in one place: a token (401, `detail` saying what needs it),
    with each of these scopes (403, insufficient_scope). REST's route dependencies below, GraphQL's mutations
    (app.graphql.mutations.run_mutation) and its queries that REST guards the same way call it."""
    if principal.is_anonymous:
        raise authentication_required(detail) if detail else authentication_required()
    if not all(principal.has_scope(scope) for scope in scopes):
        raise insufficient_scope(scopes)
    return principal


def require_scopes(*scopes: Scope) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """A dependency that answers 401 without a token and 403 (insufficient_scope) without every scope."""

    async def dependency(principal: PrincipalDep) -> Principal:
        return require_token(principal, *scopes)

    return dependency


async def require_authenticated(principal: PrincipalDep) -> Principal:
    return require_token(principal)


AuthenticatedDep = Annotated[Principal, Depends(require_authenticated)]
