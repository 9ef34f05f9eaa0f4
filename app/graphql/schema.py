"""The GraphQL schema: one root Query assembled from each domain's query type."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig

from app.auth.graphql import MeQueries
from app.case_studies.graphql import CaseStudyQueries
from app.challenges.graphql import ChallengeQueries
from app.cities.graphql import CityQueries
from app.core.config import Environment, Settings
from app.core.errors import Problem
from app.graphql.limits import limit_extensions
from app.guidelines.graphql import GuidelineQueries
from app.hubs.graphql import HubQueries
from app.kpis.graphql import KpiQueries
from app.search_index.graphql import SearchQueries
from app.solutions.graphql import SolutionQueries
from app.twinnings.graphql import TwinningQueries
from app.vendors.graphql import VendorQueries


@strawberry.type
class Query(
    KpiQueries,
    CityQueries,
    MeQueries,
    VendorQueries,
    SolutionQueries,
    CaseStudyQueries,
    GuidelineQueries,
    HubQueries,
    TwinningQueries,
    ChallengeQueries,
    SearchQueries,
):
    pass


class ProblemCodes(SchemaExtension):
    """Give every domain error a machine-readable code, as REST gives it a problem type."""

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        for error in result.errors:
            original = error.original_error
            if isinstance(original, Problem):
                extensions: dict[str, Any] = dict(error.extensions or {})
                extensions.update(code=original.type_.upper().replace("-", "_"), status=original.status)
                error.extensions = extensions


def build_schema(settings: Settings) -> strawberry.Schema:
    """The schema with the limits of app/graphql/limits.py (the settings only change those, never the SDL)."""
    production = settings.env is Environment.production
    extensions: list[Any] = [ProblemCodes, *limit_extensions(settings)]
    config = StrawberryConfig(
        # One operation per request: a JSON array of operations is refused (400, BATCHING_NOT_ALLOWED).
        batching_config=None,
        # "Did you mean ...?" would reveal the schema that production hides from introspection.
        disable_field_suggestions=production,
    )
    return strawberry.Schema(query=Query, extensions=extensions, config=config)
