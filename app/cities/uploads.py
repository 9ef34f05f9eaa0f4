"""Reading an uploaded CSV file from the request, within a size limit, without holding an unbounded body.

Two ways to send it: the file as the body (`Content-Type: text/csv`), or a multipart form with the file
in a field named `file`. The limit is `settings.upload_max_bytes` (the file's own size); a declared
Content-Length above it is refused before anything is read, and the body is counted as it arrives, so a
client that sends more than it declared (or declares nothing) is stopped at the limit. A multipart
envelope may add a little around the file (`MULTIPART_ALLOWANCE`), and the file part is checked again.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from app.core.errors import InvalidInput, PayloadTooLarge, Problem

CSV_TYPES = ("text/csv", "application/csv")
MULTIPART = "multipart/form-data"
FILE_FIELD = "file"
# Room for the multipart boundaries and part headers around the file (and a few small fields).
MULTIPART_ALLOWANCE = 16 * 1024


class UnsupportedMediaType(Problem):
    status, type_, title = 415, "unsupported-media-type", "Unsupported media type"


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file is larger than the limit of {limit} bytes; split it into several imports.",
        extra={"limit_bytes": limit},
    )


def _media_type(request: Request) -> tuple[str, dict[str, str]]:
    raw = request.headers.get("content-type", "")
    kind, *params = (part.strip() for part in raw.split(";"))
    options = {}
    for param in params:
        name, _, value = param.partition("=")
        options[name.strip().lower()] = value.strip().strip('"')
    return kind.lower(), options


async def _limited(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise _too_large(limit)
            yield chunk
    except ClientDisconnect:
        raise InvalidInput("The client disconnected before the whole file arrived.") from None


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput("The Content-Length header is not a number.") from None


async def read_csv_upload(request: Request, limit: int) -> bytes:
    """The CSV file's bytes: 415 for another content type, 413 over `limit`, 422 for a broken form."""
    kind, options = _media_type(request)
    if kind in CSV_TYPES:
        charset = options.get("charset", "utf-8").lower()
        if charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"The CSV file must be UTF-8 (got charset={charset}).")
        declared = _declared_length(request)
        if declared is not None and declared > limit:
            raise _too_large(limit)
        body = bytearray()
        async for chunk in _limited(request, limit):
            body += chunk
        return bytes(body)
    if kind == MULTIPART:
        declared = _declared_length(request)
        envelope_limit = limit + MULTIPART_ALLOWANCE
        if declared is not None and declared > envelope_limit:
            raise _too_large(limit)
        parser = MultiPartParser(
            request.headers, _limited(request, envelope_limit), max_files=1, max_fields=10, max_part_size=64 * 1024
        )
        try:
            form = await parser.parse()
        except MultiPartException as exc:
            raise InvalidInput(f"The multipart form cannot be read: {exc.message}") from None
        try:
            upload = form.get(FILE_FIELD)
            if not isinstance(upload, UploadFile):
                raise InvalidInput(
                    f"The multipart form has no file in a field named {FILE_FIELD!r}.",
                    errors=[{"field": f"body.{FILE_FIELD}", "message": "a CSV file is required", "type": "missing"}],
                )
            data = await upload.read(limit + 1)
            if len(data) > limit:
                raise _too_large(limit)
            return data
        finally:
            await form.close()
    raise UnsupportedMediaType(
        f"Send the CSV file as the body with Content-Type: text/csv, or as a multipart/form-data field named "
        f"{FILE_FIELD!r} (got {kind or 'no Content-Type'!r}).",
        extra={"accepted": [*CSV_TYPES, MULTIPART]},
    )
