"""The one authorization module: every write, and every read of private data, asks here.

Rules (docs/design.md §2, "Who may do what"): a vendor member edits only its vendor's listings, a city official only its
city, a hub curator only its hub's catalogue, a programme coordinator twinnings, an admin everything.
Each check needs both the role on *that* object and the OAuth scope for the kind of write.
An object the caller may not see answers 404 (`NotFound`), never 403, so its existence does not leak;
an object the caller may see but not change answers 403.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.auth.principal import ROLE_SCOPES, Principal, Scope
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


def can_read_every_city_private(principal: Principal) -> bool:
    """Every city's non-public data: coordinators and admins (see `can_read_city_private`)."""
    return principal.is_admin or (
        principal.has_scope(Scope.private_read) and principal.has_role(Role.programme_coordinator)
    )


def can_run_matches(principal: Principal, city_id: int) -> bool:
    """Save a city's match runs and read them back (they hold its values): who may read its private data."""
    return can_read_city_private(principal, city_id)


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
    """Approve, feature or hide listings in this hub's catalogue (and see its hidden entries)."""
    return _allowed(principal, Scope.catalogue_write, Role.hub_curator, OrganisationKind.hub, hub_id)


def can_vet_vendors(principal: Principal) -> bool:
    """Register a vendor, and mark it verified (or not): platform staff, never the vendor itself."""
    return principal.is_admin


def can_edit_editorial_content(principal: Principal) -> bool:
    """Case studies and procurement guidelines are the platform's editorial content: its editors write them."""
    return principal.is_admin


def can_read_unpublished_content(principal: Principal) -> bool:
    """Draft and archived case studies and guidelines: their editors see them, nobody else."""
    return can_edit_editorial_content(principal)


def can_read_audit_trail(principal: Principal) -> bool:
    """Every audit event, whoever's object it is: the platform's operators."""
    return principal.is_admin


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


# --- confidential proposals and their evaluation (app/challenges) ---


def _reads_co_creation(principal: Principal) -> bool:
    return principal.has_scope(Scope.challenges_write) or principal.has_scope(Scope.private_read)


def can_read_proposal(principal: Principal, city_id: int, vendor_id: int) -> bool:
    """A proposal in full (text, comments, whatever the challenge's status): its vendor's members, the
    challenge's city officials (with challenges:write or private:read) and admins. Nobody else, ever."""
    if principal.is_admin:
        return True
    return _reads_co_creation(principal) and (
        principal.has_role(Role.vendor_member, OrganisationKind.vendor, vendor_id)
        or principal.has_role(Role.city_official, OrganisationKind.city, city_id)
    )


def proposal_readers(principal: Principal) -> tuple[frozenset[int], frozenset[int]] | None:
    """`can_read_proposal` as ids for a query: None for every proposal (admins), else the vendors whose
    proposals and the cities whose challenges' proposals the caller reads in full."""
    if principal.is_admin:
        return None
    if not _reads_co_creation(principal):
        return frozenset(), frozenset()
    return (
        principal.target_ids(OrganisationKind.vendor, Role.vendor_member),
        principal.target_ids(OrganisationKind.city, Role.city_official),
    )


def is_proposal_disclosed(challenge_awarded: bool, disclosure: str, proposal_won: bool) -> bool:
    """What everyone else sees of a proposal: its summary, once the challenge is awarded, if the challenge's
    disclosure (chosen when it was posted) says so: `all_summaries`, or `winner_summary` for the winner."""
    if not challenge_awarded:
        return False
    return disclosure == "all_summaries" or (disclosure == "winner_summary" and proposal_won)


def can_evaluate_proposals(principal: Principal, city_id: int) -> bool:
    """Score proposals, and see the weighted ranking: the challenge's city officials and admins."""
    return can_post_challenge(principal, city_id)


def can_see_ranking(principal: Principal, city_id: int) -> bool:
    """The weighted ranking of a challenge's proposals: its city officials (reading) and admins."""
    if principal.is_admin:
        return True
    return _reads_co_creation(principal) and principal.has_role(Role.city_official, OrganisationKind.city, city_id)


def can_ask_clarification(principal: Principal, challenge_open: bool) -> bool:
    """A clarification question: any vendor member (with challenges:write) while the challenge is open."""
    if principal.is_admin:
        return True
    return (
        challenge_open
        and principal.has_scope(Scope.challenges_write)
        and bool(principal.target_ids(OrganisationKind.vendor, Role.vendor_member))
    )


def can_answer_clarification(principal: Principal, city_id: int) -> bool:
    """The answer is the city's: its officials (with challenges:write) and admins."""
    return can_post_challenge(principal, city_id)


# --- city-side writes (cities, KPI values, twinnings, co-creation) ---


def can_onboard_city(principal: Principal, hub_ids: Iterable[int]) -> bool:
    """Add a city: admins, and the curators (catalogue:write) of a hub serving the city's country;
    `hub_ids` are the hubs whose countries include it."""
    return principal.is_admin or any(
        _allowed(principal, Scope.catalogue_write, Role.hub_curator, OrganisationKind.hub, hub_id) for hub_id in hub_ids
    )


def can_verify_kpi_values(principal: Principal) -> bool:
    """Marking KPI values verified (or not) is the platform's, never the city's own."""
    return principal.is_admin


def can_answer_twinning(principal: Principal, city_ids: tuple[int, int], proposed_by_city_id: int | None) -> bool:
    """Accept or decline a proposed twinning: the programme, or an official of a city of the pair other than
    the proposing one (either city when the programme proposed it)."""
    return any(
        can_act_for_city_in_twinning(principal, city_id) for city_id in city_ids if city_id != proposed_by_city_id
    )


def can_run_twinning(principal: Principal, city_ids: tuple[int, int]) -> bool:
    """Activate or complete an accepted twinning: the programme, or an official of either city."""
    return any(can_act_for_city_in_twinning(principal, city_id) for city_id in city_ids)


def can_plan_twinning(principal: Principal, city_ids: tuple[int, int]) -> bool:
    """Create, edit or delete a twinning's activities: those who run it (`can_run_twinning`), the two
    cities' officials and the programme."""
    return can_run_twinning(principal, city_ids)


def can_record_twinning_outcome(principal: Principal) -> bool:
    """Record what a completed twinning achieved: its coordinator, which is the programme (programme
    coordinators with twinnings:write, and admins), not either city marking its own work."""
    return can_coordinate_twinnings(principal)


def can_comment_on_challenge(principal: Principal, city_id: int, challenge_open: bool) -> bool:
    """The challenge's city officials; any vendor member while the challenge is open (clarifying questions)."""
    if can_post_challenge(principal, city_id):
        return True
    return (
        challenge_open
        and principal.has_scope(Scope.challenges_write)
        and bool(principal.target_ids(OrganisationKind.vendor, Role.vendor_member))
    )


def can_comment_on_proposal(principal: Principal, city_id: int, vendor_id: int) -> bool:
    """The challenge's city officials and the proposing vendor's members."""
    return can_post_challenge(principal, city_id) or can_propose_for_vendor(principal, vendor_id)


def can_delete_comment(principal: Principal, author_user_id: int | None) -> bool:
    """Its author (with challenges:write), or an admin (moderation)."""
    if principal.is_admin:
        return True
    return (
        author_user_id is not None
        and principal.user_id == author_user_id
        and principal.has_scope(Scope.challenges_write)
    )


def require(allowed: bool, detail: str) -> None:
    """Refuse with 403 when the caller may see the object but not do this to it."""
    if not allowed:
        raise Forbidden(detail)


def can_manage_identity(principal: Principal) -> bool:
    """Users, memberships and OAuth clients."""
    return principal.is_admin


def can_invite(principal: Principal, hub_ids: Iterable[int]) -> bool:
    """Invite a person to an organisation: admins (any organisation), and the curators (catalogue:write) of a
    hub serving the organisation's country, the rule of `can_onboard_city`: `hub_ids` are the hubs whose
    countries include the city, or the vendor's country (empty for a hub, the programme or the platform)."""
    return can_onboard_city(principal, hub_ids)


def may_submit_for_review(vendor_verified: bool, vendor_self_registered: bool) -> bool:
    """A vendor that signed itself up keeps drafts, but submits a listing for review only once platform staff
    have verified it; a vendor registered by staff is not held back (docs/architecture.md, onboarding)."""
    return vendor_verified or not vendor_self_registered


def can_edit_kpi_framework(principal: Principal) -> bool:
    """KPIs and their benchmarks (the platform's defaults)."""
    return principal.is_admin


def can_edit_thesaurus(principal: Principal) -> bool:
    """The search thesaurus's concepts and terms (what every index's synonyms are made of)."""
    return principal.is_admin


def require_visible(visible: bool, detail: str) -> None:
    """Refuse with 404 when the caller may not even see the object (its existence must not leak)."""
    if not visible:
        raise NotFound(detail)


def can_manage_webhooks(principal: Principal, organisation_id: int) -> bool:
    """An organisation's webhook endpoints (and their deliveries): its members, with a write scope of their role
    there (a read-only token may not register where data goes), and admins."""
    if principal.is_admin:
        return True
    return any(
        m.organisation_id == organisation_id
        and bool((ROLE_SCOPES[m.role] - {Scope.private_read.value}) & principal.scopes)
        for m in principal.memberships
    )


def webhook_organisations(principal: Principal) -> frozenset[int]:
    """The organisations whose webhooks the caller manages (admins: see `can_manage_webhooks`, every one)."""
    return frozenset(
        m.organisation_id for m in principal.memberships if can_manage_webhooks(principal, m.organisation_id)
    )


# --- moderation (app/moderation) ---


def can_report_content(principal: Principal) -> bool:
    """Anyone signed in as a person (a report counts per account; a machine client has none)."""
    return principal.user_id is not None


def can_moderate(principal: Principal) -> bool:
    """Every item of the moderation queue, hiding and restoring any item, blocking accounts: admins."""
    return principal.is_admin


def moderated_hubs(principal: Principal) -> frozenset[int]:
    """The hubs whose content the caller moderates: a hub curator (with catalogue:write) moderates what is
    about a country of their hub (which countries an item is about: `app.moderation.visibility.item_countries`:
    a listing's where it is offered, a case study's its city's, a challenge's proposals, clarifications and
    comments the challenge's city's). Admins: see `can_moderate`."""
    return frozenset(
        hub_id
        for hub_id in principal.target_ids(OrganisationKind.hub, Role.hub_curator)
        if can_curate_hub(principal, hub_id)
    )


def can_moderate_item(principal: Principal, hub_ids: Iterable[int]) -> bool:
    """Hide or restore one item (and see its reports): admins, and the curators of a hub it is about
    (`hub_ids`: the hubs serving a country the item is about). The item must also be one the caller may see
    (404 otherwise: a curator reads no confidential proposal, nor a comment on one)."""
    return can_moderate(principal) or bool(moderated_hubs(principal) & set(hub_ids))


def can_see_hidden_item(principal: Principal, is_owner: bool, hub_ids: Iterable[int] = ()) -> bool:
    """An item hidden pending review: its owner (a comment's or a clarification's author, a proposal's vendor)
    and its moderators (`can_moderate_item`) still see it; nobody else."""
    return is_owner or can_moderate_item(principal, hub_ids)


def may_post(blocked: bool) -> bool:
    """A blocked account posts nothing (comments, proposals, clarifications, reports) until unblocked."""
    return not blocked
