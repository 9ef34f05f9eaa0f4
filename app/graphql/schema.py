"""The GraphQL schema: one root Query and one root Mutation, assembled from each domain's query and mutation types."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any

import strawberry
from graphql import GraphQLObjectType, MiddlewareManager, OperationType
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.utils.str_converters import to_camel_case

from app.accounts.graphql import AccountMutations, AccountQueries
from app.audit.graphql import AuditQueries
from app.case_studies.graphql import CaseStudyMutations, CaseStudyQueries
from app.challenges.graphql import ChallengeMutations, ChallengeQueries
from app.cities.graphql import CityMutations, CityQueries
from app.core.config import Environment, Settings
from app.core.errors import InvalidInput, Problem
from app.core.text import control_character_problem
from app.graphql.context import UnexpectedDatabaseError
from app.graphql.convert import compile_conversions
from app.graphql.limits import INTERNAL, GuardedSchema, limit_extensions, limit_settings_key
from app.graphql.me import MeQueries
from app.guidelines.graphql import GuidelineMutations, GuidelineQueries
from app.hubs.graphql import HubDecisionQueries, HubMutations, HubQueries
from app.kpis.graphql import KpiMutations, KpiQueries
from app.matches.graphql import MatchMutations, MatchQueries
from app.moderation.graphql import ModerationMutations, ModerationQueries
from app.notifications.graphql import (
    AlertMutations,
    AlertQueries,
    InvitationMutations,
    NotificationMutations,
    NotificationQueries,
    PreferenceMutations,
    PreferenceQueries,
)
from app.scorecards.graphql import ScorecardQueries
from app.search_index.graphql import SearchQueries, ThesaurusMutations, ThesaurusQueries
from app.solutions.graphql import SolutionMutations, SolutionQueries
from app.translations.graphql import TranslationMutations
from app.twinnings.graphql import TwinningMutations, TwinningPlanMutations, TwinningQueries
from app.vendors.graphql import VendorMutations, VendorQueries


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
    HubDecisionQueries,
    TwinningQueries,
    ChallengeQueries,
    SearchQueries,
    ThesaurusQueries,
    ScorecardQueries,
    MatchQueries,
    NotificationQueries,
    PreferenceQueries,
    AlertQueries,
    AuditQueries,
    ModerationQueries,
    AccountQueries,
):
    pass


@strawberry.type
class Mutation(
    SolutionMutations,
    HubMutations,
    CityMutations,
    TwinningMutations,
    TwinningPlanMutations,
    ChallengeMutations,
    VendorMutations,
    CaseStudyMutations,
    GuidelineMutations,
    MatchMutations,
    KpiMutations,
    NotificationMutations,
    PreferenceMutations,
    InvitationMutations,
    AlertMutations,
    ModerationMutations,
    AccountMutations,
    TranslationMutations,
    ThesaurusMutations,
):
    """Every REST write, through the same services (app/graphql/mutations.py: results, errors, inputs)."""


class ProblemCodes(SchemaExtension):
    """Give every domain error a machine-readable code, as REST gives it a problem type."""

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        for error in result.errors:
            original = error.original_error
            extensions: dict[str, Any] = dict(error.extensions or {})
            if isinstance(original, Problem):
                extensions.update(code=original.type_.upper().replace("-", "_"), status=original.status)
                error.extensions = extensions
            elif isinstance(original, UnexpectedDatabaseError):
                extensions.update(code=INTERNAL, status=500)
                error.extensions = extensions


def _argument_problem(name: str, value: Any) -> InvalidInput | None:
    """REST's rule for query and path parameters (app.core.deps.plain_parameters), for a string argument."""
    values = value if isinstance(value, list) else [value]
    for item in values:
        if isinstance(item, str) and (reason := control_character_problem(item, multiline=False)):
            field = to_camel_case(name)
            return InvalidInput(
                f"Invalid argument: {field}. {field}: {reason}",
                errors=[{"field": field, "message": reason, "type": "control_character"}],
                type_="validation-error",
                title="Validation error",
            )
    return None


class PlainArguments(SchemaExtension):
    """The string arguments of queries (a literal or a variable) are refused with control characters, as REST's
    query and path parameters are: VALIDATION_ERROR naming the argument. A mutation's arguments are what REST
    takes in bodies and headers, checked by their own rules: input objects are REST's input schemas
    (app.core.text.InputModel), a CSV may span lines, idempotencyKey is REST's header.

    It looks at arguments only, so `ArgumentMiddleware` leaves the fields that take none unwrapped."""

    def resolve(self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs and info.operation.operation is OperationType.MUTATION:
            return _next(root, info, *args, **kwargs)
        for name, value in kwargs.items():
            if isinstance(value, str | list) and (problem := _argument_problem(name, value)):
                raise problem
        return _next(root, info, *args, **kwargs)


# Set on the resolver of every field of the schema that declares no argument (`mark_argumentless_fields`).
_NO_ARGUMENTS = "_citymarket_takes_no_arguments"


class ArgumentMiddleware(MiddlewareManager):
    """graphql-core's middleware chain for `PlainArguments` alone: it runs only around the resolvers of fields
    that take arguments. Wrapping every field cost a call per field and object (a 50-solution page with
    vendors and KPIs resolves some 500 fields, few of them with arguments)."""

    def get_field_resolver(self, field_resolver: Callable[..., Any]) -> Callable[..., Any]:
        if getattr(field_resolver, _NO_ARGUMENTS, False):
            return field_resolver
        return super().get_field_resolver(field_resolver)


class Schema(GuardedSchema):
    """Each request's resolver middleware is `ArgumentMiddleware` while `PlainArguments` is the only extension
    that resolves (graphql-core's own chain otherwise)."""

    def _get_middleware_manager(self, extensions: list[SchemaExtension]) -> MiddlewareManager:
        resolving = [e for e in extensions if e._implements_resolve()]
        if all(type(e) is PlainArguments for e in resolving):
            return ArgumentMiddleware(*resolving)
        return MiddlewareManager(*resolving)


def mark_argumentless_fields(schema: strawberry.Schema) -> None:
    """Mark the resolver of each field that declares no argument (Strawberry makes one resolver per field;
    introspection's meta-fields, `__type(name:)`, are not in the type map and stay wrapped)."""
    for graphql_type in schema._schema.type_map.values():
        if isinstance(graphql_type, GraphQLObjectType) and not graphql_type.name.startswith("__"):
            for field in graphql_type.fields.values():
                if not field.args and field.resolve is not None:
                    setattr(field.resolve, _NO_ARGUMENTS, True)


_SCHEMAS: dict[Hashable, strawberry.Schema] = {}


def build_schema(settings: Settings) -> strawberry.Schema:
    """The schema with the limits of app/graphql/limits.py (the settings only change those, never the SDL).

    Strawberry takes 0.1-0.4 s to convert every type, so a process keeps one schema per distinct value of
    the settings it reads (`limit_settings_key`): the schema holds no per-app state, and apps made with
    equal limits (each test, each app in a worker) share it."""
    key = limit_settings_key(settings)
    schema = _SCHEMAS.get(key)
    if schema is None:
        schema = _SCHEMAS[key] = _new_schema(settings)
    return schema


def _new_schema(settings: Settings) -> strawberry.Schema:
    production = settings.env is Environment.production
    extensions: list[Any] = [ProblemCodes, PlainArguments, *limit_extensions(settings)]
    config = StrawberryConfig(
        # One operation per request: a JSON array of operations is refused (400, BATCHING_NOT_ALLOWED).
        batching_config=None,
        # "Did you mean ...?" would reveal the schema that production hides from introspection.
        disable_field_suggestions=production,
    )
    schema = Schema(query=Query, mutation=Mutation, extensions=extensions, config=config)
    compile_conversions(schema)  # output schemas -> GraphQL objects, planned once per type (app/graphql/convert.py)
    mark_argumentless_fields(schema)  # PlainArguments skips them (ArgumentMiddleware)
    return schema
