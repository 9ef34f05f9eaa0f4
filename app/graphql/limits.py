"""What keeps /graphql safe: limits checked before a query runs, and errors a client can act on.

Every limit is a setting (app/core/config.py, `CITYMARKET_GRAPHQL_*`). A query over one is refused before
any resolver runs, with `data: null` and an error whose `extensions.code` names the limit:

| limit | setting (default) | code |
| --- | --- | --- |
| depth | `graphql_max_depth` (10) | QUERY_TOO_DEEP, with `depth` and `limit` |
| aliases | `graphql_max_aliases` (15) | TOO_MANY_ALIASES, with `aliases` and `limit` |
| tokens | `graphql_max_tokens` (2000) | TOO_MANY_TOKENS, with `limit` |
| cost | `graphql_max_cost` (10,000) | QUERY_TOO_COSTLY, with `cost` and `limit` |
| introspection | off in production | INTROSPECTION_DISABLED |
| "Did you mean ...?" suggestions | off in production (fields, arguments, enum values, types) | |
| batching (a JSON array of operations) | off | BATCHING_NOT_ALLOWED (HTTP 400, app/graphql/router.py) |

Depth, aliases and cost are measured in one linear walk (app/graphql/analysis.py says how each is counted).

Other syntax and validation errors get GRAPHQL_PARSE_FAILED and GRAPHQL_VALIDATION_FAILED, variables of
the wrong type BAD_USER_INPUT; domain errors get their problem type (NOT_FOUND, INVALID_INPUT, ...) from
`ProblemCodes`; in production any other exception reaches the client as "Unexpected error." with
INTERNAL_SERVER_ERROR (it is logged in full). Database errors never show the driver's message, in any mode
(app/graphql/context.py): the database being down is SERVICE_UNAVAILABLE and HTTP 503 with Retry-After, any
other database error REST's generic message with INTERNAL_SERVER_ERROR. String arguments of queries with
control characters are VALIDATION_ERROR (app/graphql/schema.py, as REST's query parameters).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    ValidationContext,
    ValidationRule,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaskErrors, MaxTokensLimiter, SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.utils.logging import StrawberryLogger

from app.core.config import Environment, Settings
from app.core.errors import Problem
from app.graphql.analysis import OperationAnalysis

QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL = "INTERNAL_SERVER_ERROR"


def _with_code(error: GraphQLError, code: str, extra: dict[str, Any]) -> GraphQLError:
    extensions = dict(error.extensions or {})
    extensions.setdefault("code", code)
    for key, value in extra.items():
        extensions.setdefault(key, value)
    error.extensions = extensions
    return error


def coded(rule: type[ASTValidationRule], code: str, **extra: Any) -> type[ASTValidationRule]:
    """`rule`, its errors carrying `extensions.code` (and `extra`), whether it reports them while it visits
    (`self.report_error`) or straight to the context from its constructor."""

    class Coded(rule):  # type: ignore[valid-type,misc]
        def __init__(self, context: ValidationContext) -> None:
            report: Callable[[GraphQLError], None] = context.on_error
            context.on_error = lambda error: report(_with_code(error, code, extra))  # type: ignore[method-assign]
            try:
                super().__init__(context)
            finally:
                context.on_error = report  # type: ignore[method-assign,assignment]

        def report_error(self, error: GraphQLError) -> None:
            super().report_error(_with_code(error, code, extra))

    Coded.__name__ = Coded.__qualname__ = f"Coded{rule.__name__}"
    return Coded


def limit_errors(
    settings: Settings,
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
) -> list[GraphQLError]:
    """The depth, aliases and cost of `operation` over their limits (app/graphql/analysis.py), each error
    with its code; the cost with this request's variables."""
    max_depth, max_aliases, max_cost = (
        settings.graphql_max_depth,
        settings.graphql_max_aliases,
        settings.graphql_max_cost,
    )
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    measure = OperationAnalysis(schema, fragments, variables).measure(operation)
    name = f"Operation '{operation.name.value}'" if operation.name else "This query"
    errors = []
    if measure.depth > max_depth:
        errors.append(
            GraphQLError(
                f"{name} is nested {measure.depth} levels deep, over the limit of {max_depth}: "
                "ask for fewer levels of related objects in one query.",
                operation,
                extensions={"code": QUERY_TOO_DEEP, "depth": measure.depth, "limit": max_depth},
            )
        )
    if measure.aliases > max_aliases:
        errors.append(
            GraphQLError(
                f"{name} uses {measure.aliases} aliases, over the limit of {max_aliases} "
                "(a fragment's aliases count at each spread).",
                operation,
                extensions={"code": TOO_MANY_ALIASES, "aliases": measure.aliases, "limit": max_aliases},
            )
        )
    if measure.cost > max_cost:
        errors.append(
            GraphQLError(
                f"{name} would cost {measure.cost}, over the limit of {max_cost}. Each field counts once "
                "per object it is resolved for, and a connection's `first` (its default page size when "
                "omitted) multiplies everything under its edges: ask for smaller pages, fewer nested "
                "connections or fewer fields.",
                operation,
                extensions={"code": QUERY_TOO_COSTLY, "cost": measure.cost, "limit": max_cost},
            )
        )
    return errors


def limits_rule(settings: Settings, variables: Mapping[str, Any] | None) -> type[ASTValidationRule]:
    """`limit_errors` of every operation of the document, as a validation rule."""

    class QueryLimitsRule(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_args: Any) -> None:
            context = self.context
            assert isinstance(context, ValidationContext)
            for error in limit_errors(settings, context.schema, context.document, node, variables):
                self.report_error(error)

    return QueryLimitsRule


class ValidDocuments:
    """The documents of one schema that passed every validation rule, by query text (the most recent
    `size`): parsing and the document-only rules (graphql-core's and Strawberry's, two thirds of a small
    query's time) are then skipped; what depends on the request (depth, aliases and cost with its
    variables, introspection) is checked on every request. Only valid documents are kept, so a refused
    query is parsed and validated again each time, with the same errors."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()
        self._lock = threading.Lock()  # schemas are shared by apps (tests run several, in threads)

    def get(self, query: str) -> DocumentNode | None:
        with self._lock:
            document = self._documents.get(query)
            if document is not None:
                self._documents.move_to_end(query)
            return document

    def add(self, query: str, document: DocumentNode) -> None:
        with self._lock:
            self._documents[query] = document
            while len(self._documents) > self.size:
                self._documents.popitem(last=False)


class ValidationLimits(SchemaExtension):
    """Depth, aliases and cost (with this request's variables), and introspection when it is off; a document
    that was valid before (`ValidDocuments`, the same text) is neither parsed nor validated again, only
    measured against the limits: it passed the introspection rule (and every other one, which depend on the
    document alone) when it was kept, so `limit_errors` runs on its operations without graphql-core's
    validation walk (a tenth of a small query's time)."""

    def __init__(self, settings: Settings, introspection: bool, documents: ValidDocuments) -> None:
        self.settings = settings
        self.introspection = introspection
        self.documents = documents
        self.known: DocumentNode | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            self.known = context.graphql_document = self.documents.get(context.query)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        known = self.known is not None and self.known is context.graphql_document
        if known and context.pre_execution_errors is None:
            document = context.graphql_document
            assert document is not None
            context.pre_execution_errors = [
                error
                for operation in document.definitions
                if isinstance(operation, OperationDefinitionNode)
                for error in limit_errors(self.settings, context.schema._schema, document, operation, context.variables)
            ]
        else:
            rules: list[type[ASTValidationRule]] = [limits_rule(self.settings, context.variables)]
            if not self.introspection:
                rules.append(coded(NoSchemaIntrospectionCustomRule, INTROSPECTION_DISABLED))
            context.validation_rules = (*context.validation_rules, *rules)
        yield
        document = context.graphql_document
        if not known and context.query and document is not None and context.pre_execution_errors == []:
            self.documents.add(context.query, document)


class TokenLimit(MaxTokensLimiter):
    """Strawberry's token limit; the parser's refusal gets TOO_MANY_TOKENS, other syntax errors
    GRAPHQL_PARSE_FAILED."""

    def on_parse(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            if not isinstance(error, GraphQLSyntaxError):
                continue
            if f"more than {self.max_token_count} tokens" in error.message:
                _with_code(error, TOO_MANY_TOKENS, {"limit": self.max_token_count})
            else:
                _with_code(error, PARSE_FAILED, {})


class ValidationCodes(SchemaExtension):
    """Every validation error without a code of its own (unknown field, wrong argument type, ...), and
    variables that cannot be coerced to their types (refused before any resolver runs)."""

    def on_validate(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            _with_code(error, VALIDATION_FAILED, {})

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in getattr(result, "errors", None) or ():
            # graphql-core wraps a variable's coercion error (a GraphQLError) in the error it reports.
            if error.path is None and (error.original_error is None or isinstance(error.original_error, GraphQLError)):
                _with_code(error, BAD_USER_INPUT, {})


_SUGGESTION = " Did you mean "


def _without_suggestion(error: GraphQLError) -> None:
    # graphql-core ends a message with its suggestions ("... Did you mean 'dimension'?"), whatever the rule.
    head, found, _ = error.message.partition(_SUGGESTION)
    if found:
        error.message = head


class NoSuggestions(SchemaExtension):
    """Production: no "Did you mean ...?" for arguments, enum values, types and input fields, in validation
    and in variables alike: it would reveal the schema that production hides from introspection (Strawberry's
    `disable_field_suggestions` only covers fields)."""

    def on_validate(self) -> Iterator[None]:
        yield
        for error in self.execution_context.pre_execution_errors or ():
            _without_suggestion(error)

    def on_execute(self) -> Iterator[None]:
        yield
        for error in getattr(self.execution_context.result, "errors", None) or ():
            _without_suggestion(error)


def _is_unexpected(error: GraphQLError) -> bool:
    """Neither a domain error nor a GraphQL one (a variable of the wrong type wraps a GraphQLError)."""
    original = error.original_error
    return original is not None and not isinstance(original, Problem | GraphQLError)


class MaskUnexpected(MaskErrors):
    """Production: an exception that is not a domain `Problem` reaches the client as "Unexpected error."
    with INTERNAL_SERVER_ERROR (Strawberry has logged it in full before this runs)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return _with_code(super().anonymise_error(error), INTERNAL, {})


class GuardedSchema(strawberry.Schema):
    """Logs what needs a look (unexpected exceptions, in full) at ERROR, and what is the client's business
    (refused queries, domain errors) at INFO, so that a flood of bad queries does not read as an outage."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            if _is_unexpected(error):
                StrawberryLogger.error(error, execution_context)
            else:
                code = (error.extensions or {}).get("code") or type(error.original_error).__name__
                StrawberryLogger.logger.info("GraphQL error %s: %s", code, error.message)


def limit_settings_key(settings: Settings) -> Hashable:
    """Every setting that `limit_extensions` reads: schemas built with equal keys behave alike, so
    app/graphql/schema.py caches one per key. A new setting read by a limit must be added here."""
    return (
        settings.env is Environment.production,
        settings.graphql_max_tokens,
        settings.graphql_max_depth,
        settings.graphql_max_aliases,
        settings.graphql_max_cost,
    )


def limit_extensions(settings: Settings) -> list[Callable[[], SchemaExtension]]:
    """The extensions of `build_schema`, one fresh instance per request."""
    production = settings.env is Environment.production
    documents = ValidDocuments()  # one per schema: the documents valid under its limits
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: TokenLimit(max_token_count=settings.graphql_max_tokens),
        lambda: ValidationLimits(settings, introspection=not production, documents=documents),
        ValidationCodes,
    ]
    if production:
        extensions += [MaskUnexpected, NoSuggestions]
    return extensions
