"""The event catalogue in the OpenAPI document's `webhooks` section: one entry per event type, whose request
body is the envelope a receiver gets, with that type's payload model as `data`."""

from __future__ import annotations

import functools
import inspect
from typing import Literal

from fastapi import APIRouter, Body, FastAPI
from pydantic import BaseModel, Field, create_model
from starlette.routing import BaseRoute

from app.notifications.catalogue import CATALOGUE, EventType

HEADERS = (
    "Delivered per [Standard Webhooks](https://www.standardwebhooks.com/): a POST with the headers "
    "`webhook-id` (the event's `id`, the same on every retry: deduplicate on it), `webhook-timestamp` (Unix "
    "seconds) and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` with the endpoint's "
    "secret). Answer 2xx within 10 s; anything else (redirects included, which are not followed) is retried "
    "with exponential backoff for a day, after which the endpoint is disabled (`webhook.disabled`)."
)


@functools.cache  # the catalogue is fixed: every app of a process (each test's) shares the models
def envelope_model(kind: EventType) -> type[BaseModel]:
    name = "".join(part.capitalize() for part in kind.name.replace("_", ".").split(".")) + f"EventV{kind.version}"
    model: type[BaseModel] = create_model(
        name,
        id=(str, Field(description="The event's id (also the webhook-id header)", examples=["evt_0c5e..."])),
        type=(Literal[kind.name], Field(description="The event type")),  # type: ignore[arg-type]
        version=(Literal[kind.version], Field(description="The payload's version")),  # type: ignore[arg-type]
        timestamp=(str, Field(description="When it happened (ISO 8601, UTC)")),
        data=(kind.payload, ...),
    )
    return model


def install_webhooks(app: FastAPI) -> None:
    app.webhooks.routes.extend(_webhook_routes())


@functools.cache
def _webhook_routes() -> tuple[BaseRoute, ...]:
    """One documentation-only route per event type, built once per process: FastAPI builds each route's body
    validator when it is added (a pydantic model per event type), which cost every app 40 ms."""
    router = APIRouter()
    for kind in CATALOGUE.values():
        model = envelope_model(kind)

        def receive(body: BaseModel) -> None:  # documentation only: citymarket calls the receiver
            return None

        receive.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=model, default=Body(...))],
            return_annotation=None,
        )
        router.add_api_route(
            kind.name,
            receive,
            methods=["POST"],
            summary=kind.description,
            description=HEADERS,
            tags=["webhook events"],
            response_description="Any 2xx acknowledges the delivery",
        )
    return tuple(router.routes)
