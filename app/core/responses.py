"""Answering a read with its output schema serialised once, by pydantic's core, straight to JSON bytes.

A route that returns a model makes FastAPI validate it again against `response_model` (in the thread pool:
a second hop for a sync route) before dumping it. A read route whose service already built the output
schema returns `json_response(out)` instead; the route keeps `response_model=` for the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel
from starlette.responses import Response


def json_response(model: BaseModel, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        model.model_dump_json(by_alias=True), status_code=status_code, headers=headers, media_type="application/json"
    )
