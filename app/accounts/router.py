"""REST face of onboarding and accounts: vendor sign-up and email verification (no token), and the admins'
management of users and memberships."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Query, Request, Response
from fastapi.responses import JSONResponse

from app.accounts import service
from app.accounts.schemas import (
    EmailVerifiedOut,
    EmailVerifyIn,
    MembershipCreateIn,
    MembershipOut,
    SignupAcceptedOut,
    SignupIn,
    UserActiveIn,
    UserOut,
)
from app.auth.deps import AuthenticatedDep, PrincipalDep
from app.core.deps import PageDep, SessionDep, SettingsDep
from app.core.idempotency import HEADER, create_once, record_ttl, run_once
from app.core.ids import MAX_ID, Id
from app.core.pagination import Page
from app.core.paths import path_of
from app.core.routing import api_router

# One router (the GraphQL face names it `rest` to take its create paths from it: app.core.paths.path_of).
router = api_router(prefix="/api/v1", tags=["identity"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No (valid) token"},
    403: {"description": "Not a platform admin"},
    404: {"description": "No such user, organisation or membership"},
    409: {"description": "The membership exists already, or an admin acting on their own account"},
    422: {"description": "Invalid input: a role that is not the organisation kind's"},
}


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post(
    "/signup",
    status_code=202,
    response_model=SignupAcceptedOut,
    summary="Sign up a vendor and its first person (202 whatever the email; a verification token is mailed)",
    responses={
        409: {"description": "Another vendor has this name"},
        422: {"description": "Invalid email, a password too short, an unknown country"},
        429: {"description": "Too many sign-ups for this email or from this address (Retry-After)"},
    },
)
def sign_up(
    session: SessionDep, settings: SettingsDep, principal: PrincipalDep, request: Request, body: SignupIn
) -> JSONResponse:
    service.limiter(settings).signup(body.email, _address(request))

    def create() -> tuple[SignupAcceptedOut, str]:
        return service.sign_up(session, settings, body), ""

    once = run_once(
        session,
        principal,
        request.headers.get(HEADER),
        "POST",
        request.url.path,
        service.signup_payload(body),
        create,
        ttl=record_ttl(settings),
        status_code=202,
    )
    return JSONResponse(once.body, status_code=202, headers={"Idempotent-Replayed": "true"} if once.replayed else None)


@router.post(
    "/signup/verify",
    response_model=EmailVerifiedOut,
    summary="Confirm a sign-up's email address with the mailed token (single use); the account may then sign in",
    responses={
        422: {"description": "Unknown, used or expired token"},
        429: {"description": "Too many attempts from this address (Retry-After)"},
    },
)
def verify_email(session: SessionDep, settings: SettingsDep, request: Request, body: EmailVerifyIn) -> EmailVerifiedOut:
    service.limiter(settings).verification(_address(request))
    out = service.verify_email(session, body)
    session.commit()
    return out


# ------------------------------------------------------------------------------------------------ users


@router.get(
    "/users", response_model=Page[UserOut], summary="Users with their memberships (admins)", responses=RESPONSES
)
def list_users(
    session: SessionDep,
    principal: AuthenticatedDep,
    page: PageDep,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="A part of the email or name")] = None,
    active: Annotated[bool | None, Query(description="Only active (or deactivated) accounts")] = None,
    organisation_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only its members")] = None,
) -> Page[UserOut]:
    result = service.list_users(session, principal, page, q, active, organisation_id)
    return Page(items=result.items, total=result.total, next_cursor=result.next_cursor)


@router.get("/users/{user_id}", response_model=UserOut, summary="One user (admins, or yourself)", responses=RESPONSES)
def get_user(session: SessionDep, principal: AuthenticatedDep, user_id: Id) -> UserOut:
    return service.get_user(session, principal, user_id)


@router.put(
    "/users/{user_id}/active",
    response_model=UserOut,
    summary='Deactivate ({"is_active": false}: its tokens are refused) or reactivate an account (admins)',
    responses=RESPONSES,
)
def set_active(session: SessionDep, principal: AuthenticatedDep, user_id: Id, body: UserActiveIn) -> UserOut:
    out = service.set_active(session, principal, user_id, body.is_active, body.note)
    session.commit()
    return out


@router.post(
    "/users/{user_id}/memberships",
    status_code=201,
    response_model=MembershipOut,
    summary="Give a user a role in an organisation (admins; Idempotency-Key supported)",
    responses={**RESPONSES, 201: {"description": "Created; Location names it"}},
)
def add_membership(
    session: SessionDep,
    principal: AuthenticatedDep,
    request: Request,
    user_id: Id,
    body: Annotated[MembershipCreateIn, Body()],
) -> JSONResponse:
    def create() -> tuple[MembershipOut, str]:
        out = service.add_user_membership(session, principal, user_id, body)
        return out, path_of(router, "remove_membership", membership_id=out.id)  # the membership's own URL

    return create_once(session, principal, request, body, create)


@router.delete(
    "/memberships/{membership_id}",
    status_code=204,
    summary="Take a role away from a user (admins)",
    responses=RESPONSES,
)
def remove_membership(session: SessionDep, principal: AuthenticatedDep, membership_id: Id) -> Response:
    service.remove_membership(session, principal, membership_id)
    session.commit()
    return Response(status_code=204)
