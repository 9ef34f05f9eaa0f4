"""A hub's review queue (app.hubs.service.review_queue): its curators' and admins' only, and exactly the
published listings offered in the hub's countries on which the hub has no decision."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from app.auth.principal import ANONYMOUS, Membership, Principal
from app.core.errors import Forbidden, Unauthorized
from app.hubs import service as hubs
from app.identity.models import OrganisationKind, Role
from tests.conftest import TestDatabase


def test_the_review_queue_is_the_undecided_listings_of_the_hubs_countries_for_its_curators(
    read_db: TestDatabase,
) -> None:
    engine = read_db.engine()
    with Session(engine) as session:
        hub_id = session.execute(sa.text("SELECT min(id) FROM hub")).scalar_one()
        curator = Principal(
            subject="user:1",
            user_id=1,
            scopes=frozenset({"catalogue:write"}),
            memberships=(Membership(0, OrganisationKind.hub, hub_id, Role.hub_curator),),
        )
        queue = hubs.review_queue(session, curator, hub_id)
        expected = session.execute(
            sa.text(
                "SELECT DISTINCT s.id FROM solution s JOIN solution_country sc ON sc.solution_id = s.id "
                "JOIN hub_country hc ON hc.country_code = sc.country_code AND hc.hub_id = :h "
                "WHERE s.status = 'published' AND s.id NOT IN "
                "(SELECT solution_id FROM hub_catalogue_entry WHERE hub_id = :h)"
            ),
            {"h": hub_id},
        ).scalars()
        assert queue
        assert sorted(queue) == sorted(expected)
        other_hub = Principal(
            subject="user:2",
            user_id=2,
            scopes=frozenset({"catalogue:write"}),
            memberships=(Membership(0, OrganisationKind.hub, hub_id + 1, Role.hub_curator),),
        )
        for outsider in (ANONYMOUS, other_hub):
            with pytest.raises((Forbidden, Unauthorized)):
                hubs.review_queue(session, outsider, hub_id)
    engine.dispose()
