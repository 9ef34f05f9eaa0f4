"""The GraphQL schema: one root Query assembled from each domain's query type."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, QueryDepthLimiter, SchemaExtension

from app.auth.graphql import MeQueries
from app.case_studies.graphql import CaseStudyQueries
from app.challenges.graphql import ChallengeQueries
from app.cities.graphql import CityQueries
from app.core.errors import Problem
from app.guidelines.graphql import GuidelineQueries
from app.hubs.graphql import HubQueries
from app.kpis.graphql import KpiQueries
from app.solutions.graphql import SolutionQueries
from app.twinnings.graphql import TwinningQueries
from app.vendors.graphql import VendorQueries

MAX_DEPTH = 10


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


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, Problem)


def build_schema(*, production: bool) -> strawberry.Schema:
    extensions: list[Any] = [ProblemCodes, lambda: QueryDepthLimiter(max_depth=MAX_DEPTH)]
    if production:
        extensions.append(lambda: MaskErrors(should_mask_error=_is_unexpected))
    return strawberry.Schema(query=Query, extensions=extensions)
