"""The /graphql endpoint: POST only, one operation per request, GraphiQL outside production.

Requests refused before GraphQL sees them (a batch, a body that is not JSON, no query) answer in GraphQL's
own error format with a code, as every other GraphQL error does, instead of Strawberry's plain text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from cross_web import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket
from strawberry.fastapi import GraphQLRouter
from strawberry.types.unset import UNSET

from app.core.config import Environment, Settings
from app.core.errors import RETRY_AFTER_SECONDS
from app.graphql.context import Context
from app.graphql.schema import build_schema

BATCHING_NOT_ALLOWED = "BATCHING_NOT_ALLOWED"
BATCHING_REFUSAL = (
    "Batched requests (a JSON array of operations) are not accepted: send one operation per request, "
    "or combine the fields you need into one query."
)
NESTED_TOO_DEEP = "The request body is nested too deeply to parse as JSON; flatten its variables."
# Strawberry's reason for a refused batch; any other transport refusal keeps its own text.
_STRAWBERRY_BATCHING_REASON = "Batching is not enabled"
_HTTP_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 415: "UNSUPPORTED_MEDIA_TYPE"}


class GraphQLEndpoint(GraphQLRouter[Context, None]):
    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            response = await super().run(request, context=context, root_value=root_value)
        except HTTPException as exc:
            if isinstance(request, WebSocket):
                raise
            return transport_error(exc.status_code, exc.reason)
        if isinstance(context, Context) and context.database_unavailable and isinstance(response, Response):
            # The database was down or busy for some field: REST's status and Retry-After, so that clients and
            # load balancers retry it alike; the body says which fields (SERVICE_UNAVAILABLE).
            response.status_code = 503
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    def decode_json(self, data: str | bytes) -> object:
        try:
            return super().decode_json(data)
        except RecursionError:
            # The parser recurses once per level: a body nested past the interpreter's stack is the client's
            # mistake (REST answers it as invalid JSON too), not a server error.
            raise HTTPException(400, NESTED_TOO_DEEP) from None


def transport_error(status: int, reason: str) -> JSONResponse:
    code = _HTTP_CODES.get(status, "BAD_REQUEST")
    if reason == _STRAWBERRY_BATCHING_REASON:
        code, reason = BATCHING_NOT_ALLOWED, BATCHING_REFUSAL
    return JSONResponse({"errors": [{"message": reason, "extensions": {"code": code}}]}, status)


def graphql_router(settings: Settings, context_getter: Callable[..., Awaitable[Context] | Any]) -> GraphQLEndpoint:
    production = settings.env is Environment.production
    return GraphQLEndpoint(
        build_schema(settings),
        context_getter=context_getter,
        graphql_ide=None if production else "graphiql",
        allow_queries_via_get=False,
    )
