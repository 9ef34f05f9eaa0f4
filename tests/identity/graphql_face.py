"""The permission matrix's GraphQL face: a row's REST call (tests/identity/matrix.py `Call`) as the call of
its mutation (`MUTATION_OF`), so that every cell of the matrix runs through both faces with the same token on
the same objects and must be allowed or refused alike (docs/architecture.md, "The request's path").

The translation is read off the schema, not written per row: path parameters become the mutation's
arguments of the same name (`solution_id` -> `solutionId`, or `id` for the object the path ends at; a KPI's
`slug` and a data point's `key` are `kpi` and `dataPoint`), the JSON body becomes `input` (camelCase keys)
or, for a mutation without one, the arguments its keys name, If-Match becomes `expectedVersion` and a CSV
upload the `csv` text. A refusal's code is read back as the REST status it stands for (CODE_OF_STATUS), so
that the matrix judges both faces by one rule.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from graphql import GraphQLField, GraphQLNonNull, GraphQLSchema, GraphQLUnionType, Undefined, get_named_type
from strawberry.utils.str_converters import to_camel_case

from app.core.config import Settings
from app.graphql.schema import build_schema
from tests.identity.matrix import MUTATION_OF, Call, Row

# Each REST refusal's status and the code GraphQL answers for it (tests/graphql/test_mutations.py checks the
# codes against REST call by call; here only the meaning matters: who may not, or who is not signed in).
STATUS_OF_CODE = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "PRECONDITION_FAILED": 412,
    "VALIDATION_ERROR": 422,
    "PRECONDITION_REQUIRED": 428,
    "RATE_LIMITED": 429,
}
# Path parameters that GraphQL names after what they are rather than after the URL.
PATH_ARGUMENT = {"slug": "kpi", "key": "dataPoint"}
VERSION_IN_ETAG = re.compile(r'-v(\d+)"$')


@cache
def _schema() -> GraphQLSchema:
    schema: GraphQLSchema = build_schema(Settings())._schema
    return schema


def mutation_of(row: Row) -> str | None:
    """The mutation a row's REST write has (None for a REST-only write, e.g. the matrix's own probes)."""
    return MUTATION_OF.get(row.key)


def _field(name: str) -> GraphQLField:
    mutation = _schema().mutation_type
    assert mutation is not None
    return mutation.fields[name]


def camel_input(value: Any) -> Any:
    """A REST JSON body as a GraphQL input value (camelCase keys; enum values are the same words)."""
    if isinstance(value, dict):
        return {to_camel_case(k): camel_input(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_input(v) for v in value]
    return value


def _path_values(row: Row, call: Call) -> dict[str, str]:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(row.path).replace(r"\{", "{").replace(r"\}", "}"))
    match = re.fullmatch(pattern, call.path.split("?")[0])
    assert match is not None, f"{call.path} is not a call of {row.path}"
    return match.groupdict()


def _path_argument(parameter: str, arguments: dict[str, Any]) -> str:
    name = PATH_ARGUMENT.get(parameter, to_camel_case(parameter))
    return name if name in arguments else "id"


def _body_arguments(call: Call, arguments: dict[str, Any]) -> dict[str, Any]:
    if call.content is not None:
        return {"csv": call.content.decode()}
    if call.json is None:
        return {}
    if "input" in arguments:
        return {"input": camel_input(call.json)}
    if isinstance(call.json, list):  # a PUT of a list: the one list argument the mutation takes
        (name,) = [n for n, a in arguments.items() if "[" in str(a.type)]
        return {name: camel_input(call.json)}
    return {to_camel_case(k): camel_input(v) for k, v in call.json.items()}


def _version(etag: str, arguments: dict[str, Any]) -> Any:
    """The version an ETag carries, as the mutation's expectedVersion takes it (Int, or digits as a String
    where versions outgrow GraphQL's 32-bit Int: a benchmark's)."""
    match = VERSION_IN_ETAG.search(etag)
    assert match is not None, etag
    return match.group(1) if str(arguments["expectedVersion"].type).startswith("String") else int(match.group(1))


def variables_of(row: Row, name: str, call: Call) -> dict[str, Any]:
    arguments = _field(name).args
    values: dict[str, Any] = {}
    for parameter, text in _path_values(row, call).items():
        argument = _path_argument(parameter, arguments)
        values[argument] = int(text) if str(arguments[argument].type).startswith("Int") else text
    values.update(_body_arguments(call, arguments))
    headers = {k.lower(): v for k, v in (call.headers or {}).items()}
    if "if-match" in headers and "expectedVersion" in arguments:  # a translation's If-Match has no twin
        values["expectedVersion"] = _version(headers["if-match"], arguments)
    if "idempotency-key" in headers:
        values["idempotencyKey"] = headers["idempotency-key"]
    unknown = set(values) - set(arguments)
    required = {n for n, a in arguments.items() if isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined}
    assert not unknown, f"{row.method} {row.path}: {name} has no argument {unknown}"
    assert required <= set(values), f"{row.method} {row.path}: no value for {name}'s {required - set(values)}"
    return values


def operation_of(name: str, variables: dict[str, Any]) -> str:
    field = _field(name)
    declared = ", ".join(f"${v}: {field.args[v].type}" for v in variables)
    passed = ", ".join(f"{v}: ${v}" for v in variables)
    result = get_named_type(field.type)
    error = "... on MutationError { code message }" if isinstance(result, GraphQLUnionType) else ""
    signature = f"({declared})" if declared else ""
    arguments = f"({passed})" if passed else ""
    return f"mutation Matrix{signature} {{ {name}{arguments} {{ __typename {error} }} }}"


def status_of(body: dict[str, Any]) -> int:
    """The REST status a GraphQL answer stands for: 200 for the mutation's object, the status of a
    MutationError's code, 400 for an error GraphQL raised instead of answering (never a refusal)."""
    if body.get("errors"):
        return 400
    (result,) = body["data"].values()
    if result.get("__typename") != "MutationError":
        return 200
    return STATUS_OF_CODE.get(result["code"], 400)
