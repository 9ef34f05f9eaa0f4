"""GraphQL face of onboarding and accounts: the same services and output schemas as app/accounts/router.py."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlmodel import Session

from app.accounts import service
from app.accounts.router import router as rest
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
from app.core.idempotency import record_ttl, run_once
from app.core.paths import path_of
from app.graphql.context import Context
from app.graphql.mutations import (
    KEY_ARGUMENT,
    Deleted,
    DeleteResult,
    IdempotencyKeyArg,
    MutationError,
    create_once,
    pydantic_input,
    run_mutation,
    validated,
)
from app.graphql.relay import Connection, page_request


@strawberry.experimental.pydantic.type(model=MembershipOut, all_fields=True)
class Membership:
    pass


@strawberry.experimental.pydantic.type(model=UserOut, all_fields=True)
class Account:
    pass


@strawberry.experimental.pydantic.type(model=SignupAcceptedOut, all_fields=True)
class SignupAccepted:
    pass


@strawberry.experimental.pydantic.type(model=EmailVerifiedOut, all_fields=True)
class EmailVerified:
    pass


@strawberry.type
class AccountQueries:
    @strawberry.field(description="Users with their memberships (admins); filters as in GET /api/v1/users.")
    async def users(
        self,
        info: strawberry.Info[Context, None],
        q: str | None = None,
        active: bool | None = None,
        organisation_id: int | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Account]:
        principal = info.context.principal
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_users(s, principal, page, q, active, organisation_id))
        return Connection[Account].from_page(result, Account.from_pydantic)

    @strawberry.field(description="One user with their memberships (admins, or yourself).")
    async def user(self, info: strawberry.Info[Context, None], id: int) -> Account:
        principal = info.context.principal
        return Account.from_pydantic(await info.context.run_db(lambda s: service.get_user(s, principal, id)))


@pydantic_input(SignupIn)
class SignupInput:
    pass


@pydantic_input(EmailVerifyIn)
class EmailVerifyInput:
    pass


@pydantic_input(MembershipCreateIn)
class MembershipInput:
    pass


SignupResult = Annotated[SignupAccepted | MutationError, strawberry.union("SignupResult")]
EmailVerifiedResult = Annotated[EmailVerified | MutationError, strawberry.union("EmailVerifiedResult")]
AccountResult = Annotated[Account | MutationError, strawberry.union("AccountResult")]
MembershipResult = Annotated[Membership | MutationError, strawberry.union("MembershipResult")]


def _address(info: strawberry.Info[Context, None]) -> str | None:
    request = getattr(info.context, "request", None)
    return request.client.host if request is not None and getattr(request, "client", None) else None


@strawberry.type
class AccountMutations:
    @strawberry.mutation(
        description="Sign up a vendor and its first person (POST /api/v1/signup): the same answer for any email."
    )
    async def sign_up(
        self, info: strawberry.Info[Context, None], input: SignupInput, idempotency_key: IdempotencyKeyArg = None
    ) -> SignupResult:
        context, address = info.context, _address(info)

        def work(session: Session) -> SignupAccepted:
            body = validated(SignupIn, input)
            service.limiter(context.settings).signup(body.email, address)

            def create() -> tuple[SignupAcceptedOut, str]:
                return service.sign_up(session, context.settings, body), ""

            once = run_once(
                session,
                context.principal,
                idempotency_key,
                "POST",
                path_of(rest, "sign_up"),
                service.signup_payload(body),
                create,
                ttl=record_ttl(context.settings),
                status_code=202,
                name=KEY_ARGUMENT,
            )
            return SignupAccepted.from_pydantic(SignupAcceptedOut.model_validate(once.body))

        return await run_mutation(info, work, scopes=None)

    @strawberry.mutation(description="Confirm a sign-up's email address (POST /api/v1/signup/verify).")
    async def verify_email(self, info: strawberry.Info[Context, None], input: EmailVerifyInput) -> EmailVerifiedResult:
        settings, address = info.context.settings, _address(info)

        def work(session: Session) -> EmailVerified:
            body = validated(EmailVerifyIn, input)
            service.limiter(settings).verification(address)
            return EmailVerified.from_pydantic(service.verify_email(session, body))

        return await run_mutation(info, work, scopes=None)

    @strawberry.mutation(
        description="Deactivate (isActive: false) or reactivate an account (PUT /api/v1/users/{id}/active; admins)."
    )
    async def set_user_active(
        self,
        info: strawberry.Info[Context, None],
        id: int,
        is_active: bool,
        note: Annotated[str, strawberry.argument(description="Why (kept in the audit trail).")] = "",
    ) -> AccountResult:
        principal = info.context.principal

        def work(session: Session) -> Account:
            body = validated(UserActiveIn, {"is_active": is_active, "note": note}, root=None)
            return Account.from_pydantic(service.set_active(session, principal, id, body.is_active, body.note))

        return await run_mutation(info, work, root=None)

    @strawberry.mutation(description="Give a user a role in an organisation (POST /api/v1/users/{id}/memberships).")
    async def add_membership(
        self,
        info: strawberry.Info[Context, None],
        user_id: int,
        input: MembershipInput,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> MembershipResult:
        context, principal = info.context, info.context.principal

        def work(session: Session) -> Membership:
            body = validated(MembershipCreateIn, input)

            def create() -> tuple[MembershipOut, str]:
                out = service.add_user_membership(session, principal, user_id, body)
                return out, path_of(rest, "remove_membership", membership_id=out.id)  # the membership's URL

            path = path_of(rest, "add_membership", user_id=user_id)
            made = create_once(session, context, idempotency_key, path, body, create)
            if made.created is None:  # a replay: the membership as it was answered the first time
                return Membership.from_pydantic(MembershipOut.model_validate(made.body))
            return Membership.from_pydantic(made.created)

        return await run_mutation(info, work)

    @strawberry.mutation(description="Take a role away from a user (DELETE /api/v1/memberships/{id}; admins).")
    async def remove_membership(self, info: strawberry.Info[Context, None], id: int) -> DeleteResult:
        principal = info.context.principal

        def work(session: Session) -> Deleted:
            service.remove_membership(session, principal, id)
            return Deleted(id=id)

        return await run_mutation(info, work, root=None)
