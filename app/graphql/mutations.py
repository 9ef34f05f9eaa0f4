"""What every GraphQL mutation shares: typed errors, inputs built from REST's input schemas, and the unit of work.

**Results.** A mutation answers a union of the changed object and `MutationError` (`SolutionResult = Solution |
MutationError`, ...); a delete answers `Deleted | MutationError`. A refusal is data, not a GraphQL error: the
client selects `... on MutationError { code message fieldErrors { field message } currentStatus
allowedActions }`. The code is REST's status, named (the `Problem` the service raised, so both faces agree):

| REST | code | with |
| --- | --- | --- |
| 401 | UNAUTHENTICATED | |
| 403 | FORBIDDEN | (the caller may see the object but not do this; or the token lacks the scope) |
| 404 | NOT_FOUND | (no such object, or one the caller may not see) |
| 409 | CONFLICT | `currentStatus` and `allowedActions` for a move the object's status does not allow |
| 412 | PRECONDITION_FAILED | `currentVersion`: the object changed since the client read `expectedVersion` |
| 428 | PRECONDITION_REQUIRED | (replacing a hub decision without `expectedVersion`) |
| 429 | TOO_MANY_REQUESTS | (password reset requests over their limit) |
| 422, 400 | VALIDATION_ERROR | `fieldErrors`, each naming the argument path (`input.kpiImpacts.0.expectedEffect`) |
| 503 | SERVICE_UNAVAILABLE | the database is down or busy: nothing was written; HTTP says 503 with Retry-After |

`type` is REST's problem type (`illegal-transition`, `listing-incomplete`, `invalid-rows`, ...).

**Inputs.** `pydantic_input` makes a GraphQL input type from a REST input schema (`SolutionCreateIn` ->
`SolutionCreateInput`), and `validated` builds that schema from the fields the client gave, so both faces apply
the same validation, and an update (`partial=True`) changes only the fields given, as a PATCH does. GraphQL itself
refuses a field the type lacks (status, version, verified...) before anything runs (GRAPHQL_VALIDATION_FAILED in
the document, BAD_USER_INPUT in a variable).

**Idempotent creates.** Every create whose REST twin takes an Idempotency-Key takes `idempotencyKey`, with the
same meaning (`create_once`, below): the same key and input again answer the object the first call created (read
again by its id), creating nothing; the same key with another input is refused (VALIDATION_ERROR, type
`idempotency-key-reused`). The record is REST's (its request line, body and answer), so a key spans both faces.

**Unit of work.** `run_mutation` runs the service call, the commit and the reading of the answer in ONE
`Context.run_db` call (a session of its own): a refusal rolls everything back, as a REST request does.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Annotated, Any, Optional, TypeVar, cast, overload

import strawberry
from pydantic import BaseModel, ValidationError
from sqlmodel import Session
from strawberry.annotation import StrawberryAnnotation
from strawberry.types.arguments import InputContext
from strawberry.types.base import StrawberryOptional, has_object_definition
from strawberry.types.unset import UNSET
from strawberry.utils.str_converters import to_camel_case

from app.auth.deps import require_token
from app.auth.principal import Scope
from app.core.errors import InvalidInput, PreconditionRequired, Problem, invalid_request
from app.core.idempotency import Once, record_ttl, run_once
from app.graphql.context import Context

T = TypeVar("T")
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)
Out = TypeVar("Out")

INPUT = "input"  # the argument that carries a REST body, where a mutation takes one as a whole


@strawberry.enum(description="What went wrong, as REST's status says it (app/graphql/mutations.py has the table).")
class MutationErrorCode(Enum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    PRECONDITION_FAILED = "PRECONDITION_FAILED"
    PRECONDITION_REQUIRED = "PRECONDITION_REQUIRED"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"


CODES: dict[int, MutationErrorCode] = {
    400: MutationErrorCode.VALIDATION_ERROR,
    401: MutationErrorCode.UNAUTHENTICATED,
    403: MutationErrorCode.FORBIDDEN,
    404: MutationErrorCode.NOT_FOUND,
    409: MutationErrorCode.CONFLICT,
    412: MutationErrorCode.PRECONDITION_FAILED,
    413: MutationErrorCode.PAYLOAD_TOO_LARGE,
    422: MutationErrorCode.VALIDATION_ERROR,
    428: MutationErrorCode.PRECONDITION_REQUIRED,
    429: MutationErrorCode.TOO_MANY_REQUESTS,
    503: MutationErrorCode.SERVICE_UNAVAILABLE,
}


@strawberry.type(description="One bad value: where it is (argument, then fields and list indexes) and why.")
class FieldError:
    field: str = strawberry.field(
        description='e.g. "input.kpiImpacts.0.expectedEffect", "note", "values.3.year" (the row of index 3), '
        '"csv.2.year" (line 2 of a CSV import)'
    )
    message: str
    type: str | None = strawberry.field(default=None, description="The validation rule, e.g. string_too_short")


@strawberry.type(description="Why a mutation was refused; nothing was written.")
class MutationError:
    code: MutationErrorCode
    message: str = strawberry.field(description="What went wrong and what to do about it (REST's `detail`).")
    type: str = strawberry.field(description="REST's problem type, e.g. illegal-transition, listing-incomplete.")
    field_errors: list[FieldError] = strawberry.field(description="VALIDATION_ERROR: every bad value.")
    current_status: str | None = strawberry.field(
        default=None, description="CONFLICT on a lifecycle move: the object's status now."
    )
    allowed_actions: list[str] | None = strawberry.field(
        default=None, description="CONFLICT on a lifecycle move: the moves you may make from currentStatus."
    )
    current_version: int | None = strawberry.field(
        default=None, description="PRECONDITION_FAILED: the object's version now (read it again first)."
    )


@strawberry.type(description="What a delete removed.")
class Deleted:
    id: int


DeleteResult = Annotated[Deleted | MutationError, strawberry.union("DeleteResult")]


# ------------------------------------------------------------------------------------------------ errors

_VERSION_IN_ETAG = re.compile(r'-v(\d+)"?$')


def graphql_path(field: str, root: str | None) -> str:
    """A REST field path (`body.kpi_impacts.0.expected_effect`) in the names of the GraphQL arguments
    (`input.kpiImpacts.0.expectedEffect`); `root` is the argument that holds the body (None: its fields are
    arguments of their own)."""
    parts = [p for p in field.split(".") if p]
    if parts and parts[0] == "body":
        parts = parts[1:]
    named = [p if p.isdigit() else to_camel_case(p) for p in parts]
    if root:
        named.insert(0, root)
    return ".".join(named) or root or "arguments"


def _field_errors(problem: Problem, root: str | None, rows: str) -> list[FieldError]:
    found = []
    for error in problem.extra.get("errors", ()) or ():
        field = str(error.get("field", ""))
        if "index" in error:  # a row of a bulk write: values.<index>.<field>
            inner = "" if field == "row" else f".{to_camel_case(field)}"
            path = f"{rows}.{error['index']}{inner}"
        elif "line" in error:  # a line of a CSV import: csv.<line number>.<column>
            path = f"csv.{error['line']}.{field}"
        else:
            path = graphql_path(field, root)
        found.append(FieldError(field=path, message=str(error.get("message", "invalid")), type=error.get("type")))
    for missing in problem.extra.get("missing", ()) or ():  # an incomplete listing: what it still needs
        found.append(FieldError(field=graphql_path(str(missing), root), message="required", type="missing"))
    return found


def mutation_error(problem: Problem, root: str | None = INPUT, rows: str = "values") -> MutationError:
    """The typed error of a `Problem` the service (or `validated`) raised."""
    code = CODES.get(problem.status, MutationErrorCode.VALIDATION_ERROR)
    version = None
    tag = problem.extra.get("current_etag")
    if isinstance(tag, str) and (match := _VERSION_IN_ETAG.search(tag)):
        version = int(match.group(1))
    allowed = problem.extra.get("allowed_actions")
    status = problem.extra.get("current_status")
    return MutationError(
        code=code,
        message=problem.detail,
        type=problem.type_,
        field_errors=_field_errors(problem, root, rows),
        current_status=str(status) if status is not None else None,
        allowed_actions=[str(a) for a in allowed] if allowed is not None else None,
        current_version=version,
    )


MUTATION_NEEDS_AUTH = "This mutation needs an access token (Authorization: Bearer ...)."
KEY_ARGUMENT = "idempotencyKey"
IdempotencyKeyArg = Annotated[
    str | None,
    strawberry.argument(
        description="As REST's Idempotency-Key header (1 to 200 printable characters; yours alone, and shared with "
        "REST's create of the same thing): the same key and input again answer what the first call created, "
        "creating nothing; the same key with another input is refused (VALIDATION_ERROR, idempotency-key-reused)."
    ),
]


def create_once(
    session: Session,
    context: Context,
    key: str | None,
    path: str,
    payload: BaseModel,
    create: Callable[[], tuple[Out, str]],
) -> Once[Out]:
    """A create at most once per key (app.core.idempotency.run_once), recorded as REST's `POST path` with the same
    validated body, so a key used on either face replays on the other: `create` returns what REST answers (its
    body and Location). On a replay `created` is None: read the object again by `Once.id`."""
    ttl = record_ttl(context.settings)
    return run_once(session, context.principal, key, "POST", path, payload, create, ttl=ttl, name=KEY_ARGUMENT)


def expected_or_required(expected_version: int | None, what: str) -> int:
    """An optional `expectedVersion` where REST's If-Match is needed only to replace something that exists."""
    if expected_version is None:
        raise PreconditionRequired(
            f"Replacing {what} needs expectedVersion, the version of your last read, so that you cannot "
            "overwrite someone else's change unknowingly."
        )
    return expected_version


@overload
async def run_mutation(
    info: strawberry.Info[Context, None],
    work: Callable[[Session], T],
    *,
    root: str | None = INPUT,
    scopes: Sequence[Scope] | None = (),
) -> T | MutationError: ...


@overload
async def run_mutation(
    info: strawberry.Info[Context, None],
    work: Callable[[Session], R],
    *,
    then: Callable[[Session, R], T],
    root: str | None = INPUT,
    scopes: Sequence[Scope] | None = (),
) -> T | MutationError: ...


async def run_mutation(
    info: strawberry.Info[Context, None],
    work: Callable[[Session], Any],
    *,
    then: Callable[[Session, Any], Any] | None = None,
    root: str | None = INPUT,
    scopes: Sequence[Scope] | None = (),
) -> Any:
    """`work` (validating the input, then the service call) and the commit, in one session of its own, as a
    REST route's unit of work: any refusal rolls it all back and answers a `MutationError` (`root` names the
    argument that holds the body, for the field errors). `then` reads the answer after the commit, as the REST
    route does where it reads the object again. `scopes`: what the REST route requires of the token (an empty
    tuple: a token; None: no token)."""

    def unit_of_work(session: Session) -> Any:
        result = work(session)
        session.commit()
        if then is None:
            return result
        session.expire_all()
        return then(session, result)

    try:
        if scopes is not None:
            require_token(info.context.principal, *scopes, detail=MUTATION_NEEDS_AUTH)
        return await info.context.run_db(unit_of_work, writes=True)
    except Problem as problem:
        return mutation_error(problem, root)


def generated_mutations(fields: Mapping[str, Any]) -> Callable[[type[T]], type[T]]:
    """Decorate an empty class into a mutation type holding `fields` (python name -> `strawberry.mutation(
    resolver, ...)`), for writes made from a table, such as a lifecycle's actions (docs/architecture.md, "Each
    write declared once"). A domain's mutation type inherits it; the python names are camelCased as for any
    field."""

    def decorate(shell: type[T]) -> type[T]:
        for name, field in fields.items():
            setattr(shell, name, field)
        return strawberry.type(shell)

    return decorate


# ------------------------------------------------------------------------------------------------ inputs


def validated_arguments(model: type[M], **arguments: Any) -> M:
    """A query's arguments through the model REST validates the same query parameters with (a list's filters),
    so GraphQL refuses what REST refuses: the same 422 (`app.core.errors.invalid_request`), naming the
    arguments as GraphQL spells them. None is an argument not given."""
    try:
        return model.model_validate({k: v for k, v in arguments.items() if v is not None})
    except ValidationError as exc:
        errors = [
            {
                "field": graphql_path(".".join(str(p) for p in error.get("loc", ())), None),
                "message": error.get("msg", "invalid"),
                "type": error.get("type", "invalid"),
            }
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise invalid_request(errors) from None


def pydantic_input(
    model: type[BaseModel], *, partial: bool = False, description: str | None = None
) -> Callable[[type[T]], type[T]]:
    """Decorate an empty class into a GraphQL input type with the fields of a REST input schema (nested
    schemas need their input type made first). An omitted field stays UNSET (so `validated` leaves it out, as
    a JSON body would): optional fields have no GraphQL default, and with `partial` (an update) every field
    is optional."""

    def decorate(shell: type[T]) -> type[T]:
        made = strawberry.experimental.pydantic.input(
            model=model, all_fields=True, description=description or (model.__doc__ or "").strip() or None
        )(shell)
        _only_given(made, model, partial)
        return cast(type[T], made)

    return decorate


def _only_given(cls: type[Any], model: type[BaseModel], partial: bool) -> None:
    definition = cls.__strawberry_definition__
    for field in definition.fields:
        info = model.model_fields[field.python_name]
        if partial or (info.default is None and info.default_factory is None and not info.is_required()):
            field.default = dataclasses.MISSING
            field.default_factory = dataclasses.MISSING
            field.default_value = dataclasses.MISSING
        if partial and not isinstance(field.type, StrawberryOptional):
            annotation = field.type_annotation
            assert annotation is not None
            field.type_annotation = StrawberryAnnotation(
                Optional[annotation.raw_annotation],  # noqa: UP045 (a runtime type, not an annotation)
                namespace=annotation.namespace,
            )

    def from_input(type_: type[Any], value: Mapping[str, Any], context: InputContext) -> Any:
        """The fields the client gave, converted; the others UNSET (no dataclass defaults filled in)."""
        instance = object.__new__(type_)
        for field in definition.fields:
            graphql_name = context.config.name_converter.from_field(field)
            converted: Any = UNSET
            if graphql_name in value:
                converted = context.convert(
                    value[graphql_name], field.resolve_type(type_definition=definition), graphql_name
                )
            object.__setattr__(instance, field.python_name, converted)
        return instance

    definition.from_input = from_input


def given(value: Any) -> Any:
    """An input as the JSON a REST client would send: the fields it gave, nested inputs as dicts."""
    if has_object_definition(value):
        fields = value.__strawberry_definition__.fields
        return {
            f.python_name: given(getattr(value, f.python_name))
            for f in fields
            if getattr(value, f.python_name, UNSET) is not UNSET
        }
    if isinstance(value, list):
        return [given(item) for item in value]
    return value


def validated(model: type[M], value: Any, root: str | None = INPUT) -> M:
    """REST's input schema built from what the client gave (an input object, or a dict of arguments); a
    VALIDATION_ERROR (as `InvalidInput`) naming every bad field otherwise."""
    data = given(value) if not isinstance(value, dict) else {k: given(v) for k, v in value.items() if v is not UNSET}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = []
        for error in exc.errors(include_url=False, include_input=False):
            location = [str(part) for part in error.get("loc", ())]
            message = error.get("msg", "invalid")
            if error.get("type") == "value_error":
                message = message.removeprefix("Value error, ")
            errors.append({"field": ".".join(["body", *location]), "message": message, "type": error.get("type")})
        names = ", ".join(sorted({graphql_path(e["field"], root) for e in errors}))
        details = "; ".join(f"{graphql_path(e['field'], root)}: {e['message']}" for e in errors[:5])
        raise InvalidInput(
            f"Invalid input: {names}. {details}", errors=errors, type_="validation-error", title="Validation error"
        ) from None
