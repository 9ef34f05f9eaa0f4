"""GraphQL face of vendors: the same service functions and output schemas as REST."""

from __future__ import annotations

import strawberry

from app.graphql.context import Context
from app.graphql.loaders import get_loaders
from app.graphql.relay import Connection, page_request
from app.vendors import service
from app.vendors.models import Vendor as VendorRow
from app.vendors.models import VendorSize
from app.vendors.schemas import VendorOut

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
        filters = service.VendorFilters(country=country, size=size, verified=verified, q=q)
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_vendors(s, filters, page, sort))
        return Connection[Vendor].from_page(result, to_vendor)

    @strawberry.field(description="One vendor (the same id as in REST).")
    async def vendor(self, info: strawberry.Info[Context, None], id: int) -> Vendor:
        return to_vendor(await info.context.run_db(lambda s: service.get_vendor(s, id)))
