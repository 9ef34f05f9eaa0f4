"""GraphQL face of vendors: the same service functions and output schemas as REST."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlmodel import Session

from app.auth.principal import Scope
from app.core.paths import path_of
from app.graphql.context import Context
from app.graphql.loaders import get_loaders
from app.graphql.mutations import (
    IdempotencyKeyArg,
    MutationError,
    create_once,
    pydantic_input,
    run_mutation,
    validated,
    validated_arguments,
)
from app.graphql.relay import Connection, page_request
from app.vendors import service
from app.vendors.models import Vendor as VendorRow
from app.vendors.models import VendorSize
from app.vendors.router import router as rest
from app.vendors.schemas import (
    VendorCreateIn,
    VendorDetailOut,
    VendorFilters,
    VendorOut,
    VendorUpdateIn,
    VendorVerifyIn,
)

VendorSizeEnum = strawberry.enum(VendorSize)
VendorSortEnum = strawberry.enum(service.VendorSort, name="VendorSort")


@strawberry.experimental.pydantic.type(model=VendorOut, all_fields=True)
class Vendor:
    id: int

    @strawberry.field(description="How many of its listings are published.")
    async def published_solutions(self, info: strawberry.Info[Context, None]) -> int:
        return await get_loaders(info.context).published_solution_count.load(self.id)


def to_vendor(vendor: VendorRow) -> Vendor:
    return Vendor.from_pydantic(VendorOut.from_model(vendor))


@strawberry.type
class VendorQueries:
    @strawberry.field(description="Vendors; filters as in GET /api/v1/vendors.")
    async def vendors(
        self,
        info: strawberry.Info[Context, None],
        country: str | None = None,
        size: VendorSize | None = None,
        verified: bool | None = None,
        q: str | None = None,
        sort: service.VendorSort = service.VendorSort.name,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Vendor]:
        filters = validated_arguments(VendorFilters, country=country, size=size, verified=verified, q=q)
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_vendors(s, filters, page, sort))
        return Connection[Vendor].from_page(result, to_vendor)

    @strawberry.field(description="One vendor (the same id as in REST).")
    async def vendor(self, info: strawberry.Info[Context, None], id: int) -> Vendor:
        return to_vendor(await info.context.run_db(lambda s: service.get_vendor(s, id)))


# ================================================================================================ mutations
# The REST writes of app/vendors/router.py, through the same services.


@pydantic_input(VendorCreateIn)
class VendorCreateInput:
    pass


@pydantic_input(VendorUpdateIn, partial=True)
class VendorUpdateInput:
    pass


VendorResult = Annotated[Vendor | MutationError, strawberry.union("VendorResult")]
VersionArg = Annotated[int, strawberry.argument(description="The version you last read (REST's If-Match).")]


@strawberry.type
class VendorMutations:
    @strawberry.mutation(description="Register a vendor (admins).")
    async def create_vendor(
        self,
        info: strawberry.Info[Context, None],
        input: VendorCreateInput,
        idempotency_key: IdempotencyKeyArg = None,
    ) -> VendorResult:
        principal = info.context.principal

        def work(session: Session) -> Vendor:
            body = validated(VendorCreateIn, input)

            def create() -> tuple[VendorDetailOut, str]:
                out = service.create_vendor(session, principal, body)
                return out, path_of(rest, "get_vendor", vendor_id=out.id)

            made = create_once(session, info.context, idempotency_key, path_of(rest, "create_vendor"), body, create)
            if made.created is None:  # a replay: the vendor the first call registered, as it is now
                return to_vendor(service.get_vendor(session, made.id))
            return Vendor.from_pydantic(made.created)

        return await run_mutation(info, work, scopes=(Scope.admin,))

    @strawberry.mutation(description="Edit a vendor's profile: only the fields given change (its members, admins).")
    async def update_vendor(
        self, info: strawberry.Info[Context, None], id: int, expected_version: VersionArg, input: VendorUpdateInput
    ) -> VendorResult:
        principal = info.context.principal

        def work(session: Session) -> Vendor:
            body = validated(VendorUpdateIn, input)
            return Vendor.from_pydantic(service.update_vendor(session, principal, id, body, lambda: expected_version))

        return await run_mutation(info, work)

    @strawberry.mutation(description="Mark a vendor verified, or not with verified: false (admins).")
    async def verify_vendor(
        self,
        info: strawberry.Info[Context, None],
        id: int,
        expected_version: VersionArg,
        verified: bool = True,
        note: Annotated[str, strawberry.argument(description="How it was checked (kept in the audit trail).")] = "",
    ) -> VendorResult:
        principal = info.context.principal

        def work(session: Session) -> Vendor:
            body = validated(VendorVerifyIn, {"verified": verified, "note": note}, root=None)
            return Vendor.from_pydantic(service.verify_vendor(session, principal, id, body, lambda: expected_version))

        return await run_mutation(info, work, root=None, scopes=(Scope.admin,))
