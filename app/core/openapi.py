"""The OpenAPI document says what the service does: one post-processing pass over FastAPI's schema.

Routers declare what is particular to them (a 409 on a duplicate name, 412/428 where If-Match is read);
this pass adds what follows from the shared machinery (app/core/errors.py, app/auth/deps.py, the unit of
work) and gives every error response the one body the handlers send: `application/problem+json`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi

from app.core.errors import PROBLEM_JSON
from app.core.ids import MAX_ID

WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An error (RFC 9457). Validation errors list the offending fields in `errors`.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}, "type": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "Malformed request (the body is not JSON)",
    401: "No access token where one is needed, or an invalid one",
    403: "The token lacks the scope, or its holder may not do this",
    404: "No such object",
    413: "The body is too large",
    422: "Invalid input (the fields at fault are listed in `errors`)",
    503: "The database is busy or unavailable; nothing was changed (Retry-After)",
}


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": PROBLEM_REF}}


# The OAuth endpoints answer in OAuth's own format (RFC 6749 section 5.2), which OAuth clients parse; only
# their 429 (app/auth/ratelimit.py) is a problem. They read the form themselves, so it is documented here.
OAUTH_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}
OAUTH_FORMS: dict[str, dict[str, Any]] = {
    "/oauth/token": {
        "type": "object",
        "required": ["grant_type"],
        "properties": {
            "grant_type": {"type": "string", "enum": ["client_credentials", "authorization_code", "refresh_token"]},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string"},
            "code": {"type": "string"},
            "redirect_uri": {"type": "string"},
            "code_verifier": {"type": "string"},
            "refresh_token": {"type": "string"},
            "scope": {"type": "string"},
        },
    },
    "/oauth/revoke": {
        "type": "object",
        "required": ["token"],
        "properties": {
            "token": {"type": "string"},
            "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
            "client_id": {"type": "string"},
            "client_secret": {"type": "string"},
        },
    },
}
SECURITY_SCHEMES = {
    "oauth2": {
        "type": "oauth2",
        "flows": {
            "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}},
            "authorizationCode": {"authorizationUrl": "/oauth/authorize", "tokenUrl": "/oauth/token", "scopes": {}},
        },
    }
}


def _document_oauth(path: str, operation: dict[str, Any]) -> None:
    operation["requestBody"] = {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": OAUTH_FORMS[path]}},
    }
    oauth_error = {"application/json": {"schema": OAUTH_ERROR}}
    operation["responses"] = {
        "200": {"description": "Success", "content": {"application/json": {"schema": {"type": "object"}}}},
        "400": {"description": "OAuth error (invalid_request, invalid_grant, ...)", "content": oauth_error},
        "401": {"description": "OAuth error: invalid_client", "content": oauth_error},
        "429": {"description": "Too many failed attempts (Retry-After)", "content": {}},
        "503": {"description": DESCRIPTIONS[503], "content": {}},
    }
    for code in ("429", "503"):
        operation["responses"][code]["content"] = _problem_content()


def _calls(dependant: Dependant | None) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies if dependant is not None else ():
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _needs_auth(route: Any) -> bool:
    # require_scopes(...) builds a closure per route; require_authenticated is shared.
    return any(
        getattr(call, "__qualname__", "").startswith(("require_scopes.", "require_authenticated"))
        for call in _calls(route.dependant)
    )


def _reads_token(route: Any) -> bool:
    # Any route that reads the principal answers 401 to a malformed or expired bearer token.
    return any(getattr(call, "__name__", "") == "get_principal" for call in _calls(route.dependant))


def _has_input(route: Any) -> bool:
    dependant = route.dependant
    return bool(dependant.query_params or dependant.path_params or dependant.header_params or route.body_field)


def _statuses(route: Any, method: str) -> set[int]:
    """The problem statuses the shared machinery can answer on this operation."""
    # 422 wherever there is input to validate (FastAPI's own rule; services add domain rules on top).
    statuses = {422} if _has_input(route) else set()
    write = method in WRITE_METHODS
    if "{" in route.path:
        statuses.add(404)
    if _reads_token(route):
        statuses.add(401)
    if _needs_auth(route) or (write and _reads_token(route)):
        statuses |= {401, 403}
    if write:
        statuses.add(503)
        if route.body_field is not None:
            statuses.add(400)
    return statuses


def _document_operation(operation: dict[str, Any], statuses: set[int]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status in statuses:
        responses.setdefault(str(status), {"description": DESCRIPTIONS.get(status, "Error")})
    for code, response in responses.items():
        if code.isdigit() and int(code) >= 400:
            # Replaces FastAPI's `application/json` HTTPValidationError: the handlers send problem+json.
            response["content"] = _problem_content()


BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _exact_bounds(node: Any) -> None:
    """FastAPI's OpenAPI models hold numeric bounds as floats: ids' 2**63 - 1 comes out as 2**63 (one more
    than the database holds) and every integer bound as `1.0`. Put the integers back."""
    if isinstance(node, list):
        for item in node:
            _exact_bounds(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in BOUNDS and isinstance(value, float) and value.is_integer():
                node[key] = min(int(value), MAX_ID) if value > 0 else max(int(value), -MAX_ID - 1)
            else:
                _exact_bounds(value)


def _routes(app: FastAPI) -> Iterator[Any]:
    """The documented API routes, as FastAPI sees them after router inclusion (prefix and dependencies applied)."""
    for context in routing.iter_route_contexts(app.routes):
        if isinstance(context.original_route, routing.APIRoute) and context.include_in_schema:
            yield context


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        webhooks=app.webhooks.routes,
    )
    paths: dict[str, Any] = schema.get("paths", {})
    for route in _routes(app):
        for method in route.methods or ():
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            if route.path_format in OAUTH_FORMS:
                _document_oauth(route.path_format, operation)
                continue
            _document_operation(operation, _statuses(route, method.lower()))
            if _needs_auth(route):
                operation["security"] = [{"oauth2": []}]
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    components = schema["components"].setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    # Nothing refers to FastAPI's own error models any more.
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    _exact_bounds(schema)
    return schema


def install_openapi(app: FastAPI) -> None:
    """Replace `app.openapi` so that /openapi.json and /docs serve the post-processed document (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
