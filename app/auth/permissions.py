"""The one authorization module: every write, and every read of private data, asks here.

Rules (DESIGN.md section 1): a vendor member edits only its vendor's listings, a city official only its
city, a hub curator only its hub's catalogue, a programme coordinator twinnings, an admin everything.
Each check needs both the role on *that* object and the OAuth scope for the kind of write.
An object the caller may not see answers 404 (`NotFound`), never 403, so its existence does not leak;
an object the caller may see but not change answers 403.
"""

from __future__ import annotations

from app.auth.principal import Principal, Scope
from app.core.errors import Forbidden, NotFound
from app.identity.models import OrganisationKind, Role


def _allowed(principal: Principal, scope: Scope, role: Role, kind: OrganisationKind, target_id: int | None) -> bool:
    if principal.is_admin:
        return True
    return principal.has_scope(scope) and target_id is not None and principal.has_role(role, kind, target_id)


def can_edit_city(principal: Principal, city_id: int) -> bool:
    return _allowed(principal, Scope.cities_write, Role.city_official, OrganisationKind.city, city_id)


def can_read_city_private(principal: Principal, city_id: int) -> bool:
    """Non-public KPI values and a city's matches: its officials, coordinators and admins."""
    if principal.is_admin:
        return True
    if principal.has_scope(Scope.private_read) and principal.has_role(Role.programme_coordinator):
        return True
    return (
        principal.has_scope(Scope.private_read)
        and principal.has_role(Role.city_official, OrganisationKind.city, city_id)
    ) or can_edit_city(principal, city_id)


def can_edit_vendor(principal: Principal, vendor_id: int) -> bool:
    return _allowed(principal, Scope.vendors_write, Role.vendor_member, OrganisationKind.vendor, vendor_id) or (
        _allowed(principal, Scope.solutions_write, Role.vendor_member, OrganisationKind.vendor, vendor_id)
    )


def can_edit_listing(principal: Principal, vendor_id: int) -> bool:
    """Create, edit, submit or archive a solution of this vendor."""
    return _allowed(principal, Scope.solutions_write, Role.vendor_member, OrganisationKind.vendor, vendor_id)


def can_read_listing_drafts(principal: Principal, vendor_id: int) -> bool:
    """Unpublished listings are visible to their vendor and to admins (who review them)."""
    if principal.is_admin:
        return True
    return principal.has_role(Role.vendor_member, OrganisationKind.vendor, vendor_id) and (
        principal.has_scope(Scope.solutions_write) or principal.has_scope(Scope.private_read)
    )


def can_review_listings(principal: Principal) -> bool:
    """Publish, reject or request changes: global review is the platform's."""
    return principal.is_admin


def can_curate_hub(principal: Principal, hub_id: int) -> bool:
    return _allowed(principal, Scope.catalogue_write, Role.hub_curator, OrganisationKind.hub, hub_id)


def can_coordinate_twinnings(principal: Principal) -> bool:
    if principal.is_admin:
        return True
    return principal.has_scope(Scope.twinnings_write) and principal.has_role(Role.programme_coordinator)


def can_act_for_city_in_twinning(principal: Principal, city_id: int) -> bool:
    return can_coordinate_twinnings(principal) or _allowed(
        principal, Scope.twinnings_write, Role.city_official, OrganisationKind.city, city_id
    )


def can_post_challenge(principal: Principal, city_id: int) -> bool:
    return _allowed(principal, Scope.challenges_write, Role.city_official, OrganisationKind.city, city_id)


def can_propose_for_vendor(principal: Principal, vendor_id: int) -> bool:
    return _allowed(principal, Scope.challenges_write, Role.vendor_member, OrganisationKind.vendor, vendor_id)


def require(allowed: bool, detail: str) -> None:
    """Refuse with 403 when the caller may see the object but not do this to it."""
    if not allowed:
        raise Forbidden(detail)


def can_manage_identity(principal: Principal) -> bool:
    """Users, memberships and OAuth clients."""
    return principal.is_admin


def can_edit_kpi_framework(principal: Principal) -> bool:
    """KPIs and their benchmarks (the platform's defaults)."""
    return principal.is_admin


def require_visible(visible: bool, detail: str) -> None:
    """Refuse with 404 when the caller may not even see the object (its existence must not leak)."""
    if not visible:
        raise NotFound(detail)
