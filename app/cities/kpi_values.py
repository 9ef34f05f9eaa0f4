"""A city's KPI values: a time series of observations, one row per (city, data point, year).

- A new year adds a row and never touches an older one; sending the same (KPI, data point, year) again
  updates that year's row (an upsert), so that a correction replaces the wrong number.
- Writes are all or nothing: every row is checked before anything is written, and a 422 lists every bad
  row (its index in a JSON body, its line in a CSV file) with the reason. A failure while writing rolls
  the whole request back (services never commit; the route does, once).
- `verified` is the platform's: clients never set it. Changing a verified row's value, data quality or
  source withdraws the verification (the new number has not been checked); changing only its note does not.
- Each write request records ONE audit event on the city, listing the rows it created and changed (with
  their before and after); a request that changes nothing records none.
- Reading follows `GET /cities/{id}`: the values of a city that publishes its data are public; a city's
  private values are for its officials (private:read), programme coordinators and admins; anyone else
  gets a 403 that says so (the city itself is public, so this is not a 404).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.audit import service as audit
from app.audit.context import current_request_id
from app.auth import permissions
from app.auth.principal import Principal
from app.cities.models import City, DataQuality, KpiObservation
from app.cities.schemas import (
    EARLIEST_YEAR,
    KpiValueIn,
    KpiValueKeyIn,
    KpiValuesVerifyIn,
    KpiValuesVerifyOut,
    KpiValuesWriteOut,
)
from app.cities.service import get_city
from app.core.errors import Conflict, Forbidden, InvalidInput
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.kpis.models import Kpi, KpiDataPoint
from app.kpis.service import slugify_code

# The CSV import's columns. `verified` is tolerated (and ignored) so that an export can be imported again.
REQUIRED_COLUMNS = ("kpi", "year", "value", "data_quality", "source")
OPTIONAL_COLUMNS = ("data_point", "note", "verified")
EXPORT_COLUMNS = ("kpi", "data_point", "year", "value", "data_quality", "source", "note", "verified")
# How many row errors the problem's `detail` spells out (its `errors` list has them all).
DETAIL_ERRORS = 10
# Where the problem lists the bad rows' positions: JSON rows by index (from 0), CSV rows by line (from 1).
INVALID_KEYS = {"index": "invalid_indexes", "line": "invalid_lines"}


def this_year() -> int:
    return datetime.now(UTC).year


# --------------------------------------------------------------------------------------------- visibility


def can_read_values(principal: Principal, city: City) -> bool:
    return city.data_public or permissions.can_read_city_private(principal, city.id or 0)


def readable_city(session: Session, principal: Principal, city_id: int) -> City:
    """The city, when its KPI values may be read by `principal`: 404 for no such city, 403 for private data."""
    city = get_city(session, city_id)
    if not can_read_values(principal, city):
        raise Forbidden(
            f"{city.name} does not publish its KPI values: only its officials (with private:read), programme "
            "coordinators and admins may read them. GET /api/v1/cities/{id} shows kpi_values_visible.",
            type_="private-data",
            title="Private data",
            extra={"kpi_values_visible": False},
        )
    return city


# ----------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ValueFilters:
    """The KPI values' filters, checked as REST checks its query parameters (both faces build these)."""

    kpi: str | None = None
    data_point: str | None = None
    year: int | None = None

    def __post_init__(self) -> None:
        for name in ("kpi", "data_point"):
            value = getattr(self, name)
            if value is not None and len(value) > 64:
                raise InvalidInput(
                    f"Invalid query parameter query.{name}: at most 64 characters.",
                    errors=[{"field": f"query.{name}", "message": "at most 64 characters", "type": "string_too_long"}],
                )
        if self.year is not None and not 1900 <= self.year <= 2200:
            raise InvalidInput(
                "Invalid query parameter query.year: a year between 1900 and 2200.",
                errors=[{"field": "query.year", "message": "a year between 1900 and 2200", "type": "range"}],
            )


def _filtered(statement: Any, filters: ValueFilters) -> Any:
    if filters.kpi:
        of_kpi = select(KpiDataPoint.id).join(Kpi, col(Kpi.id) == KpiDataPoint.kpi_id)
        statement = statement.where(
            col(KpiObservation.data_point_id).in_(of_kpi.where(col(Kpi.slug) == slugify_code(filters.kpi)))
        )
    if filters.data_point is not None:
        keyed = select(KpiDataPoint.id).where(sa.func.lower(KpiDataPoint.key) == filters.data_point.strip().lower())
        statement = statement.where(col(KpiObservation.data_point_id).in_(keyed))
    if filters.year is not None:
        statement = statement.where(col(KpiObservation.year) == filters.year)
    return statement


def _with_kpi() -> Any:
    return selectinload(KpiObservation.data_point).selectinload(KpiDataPoint.kpi)  # type: ignore[arg-type]


def list_values(
    session: Session, principal: Principal, city_id: int, filters: ValueFilters, page: PageRequest
) -> PageResult[KpiObservation]:
    """Every observation (all years), by data point, newest year first."""
    readable_city(session, principal, city_id)
    statement = _filtered(select(KpiObservation).where(KpiObservation.city_id == city_id), filters)
    keys = [
        SortKey(KpiObservation.data_point_id),  # type: ignore[arg-type]
        SortKey(KpiObservation.year, descending=True),  # type: ignore[arg-type]
        SortKey(KpiObservation.id),  # type: ignore[arg-type]
    ]
    return paginate(session, statement.options(_with_kpi()), keys, page)


def export_values(
    session: Session, principal: Principal, city_id: int, filters: ValueFilters
) -> tuple[City, list[KpiObservation]]:
    """All the city's observations, in KPI code, data point and year order."""
    city = readable_city(session, principal, city_id)
    statement = (
        _filtered(select(KpiObservation).where(KpiObservation.city_id == city_id), filters)
        .join(KpiDataPoint, col(KpiDataPoint.id) == KpiObservation.data_point_id)
        .join(Kpi, col(Kpi.id) == KpiDataPoint.kpi_id)
        .options(_with_kpi())
        .order_by(col(Kpi.code), col(KpiDataPoint.position), col(KpiObservation.year))
    )
    return city, list(session.exec(statement).all())


def number(value: float) -> str:
    """The shortest text that reads back as exactly this float."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


# OWASP "CSV Injection": a spreadsheet runs a cell that starts with one of these as a formula
# (=HYPERLINK(...) leaks data, +SUM(..)/-/@ are formulas too; tab and CR start one after a trim).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The free-text columns that a city (or whoever can write its values) fills in; the others are ours.
TEXT_COLUMNS = ("source", "note")


def _needs_escape(text: str) -> bool:
    # A text that already starts with the escape before a formula is escaped again, so that unescaping
    # (on import) is exact: "'=x" exports as "''=x" and imports back as "'=x".
    return text.startswith(FORMULA_STARTS) or (text.startswith("'") and _needs_escape(text[1:]))


def spreadsheet_safe(text: str) -> str:
    """The cell as the export writes it: a leading single quote before a formula start, which spreadsheets
    read as "this is text" (and hide)."""
    return "'" + text if _needs_escape(text) else text


def from_spreadsheet(text: str) -> str:
    """What the import stores for a cell: `spreadsheet_safe` undone, so that an export imports unchanged."""
    return text[1:] if text.startswith("'") and _needs_escape(text[1:]) else text


def export_row(obs: KpiObservation) -> dict[str, Any]:
    return {
        "kpi": obs.data_point.kpi.slug,
        "data_point": obs.data_point.key,
        "year": obs.year,
        "value": obs.value,
        "data_quality": obs.data_quality.value,
        "source": obs.source,
        "note": obs.note,
        "verified": obs.verified,
    }


def to_csv(observations: Iterable[KpiObservation]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    writer.writerow(EXPORT_COLUMNS)
    for obs in observations:
        row = export_row(obs)
        row["value"] = number(obs.value)
        row["verified"] = "true" if obs.verified else "false"
        for column in TEXT_COLUMNS:
            row[column] = spreadsheet_safe(row[column] or "")
        writer.writerow([row[column] for column in EXPORT_COLUMNS])
    return buffer.getvalue()


# ------------------------------------------------------------------------------------- checking the rows


@dataclass(frozen=True)
class CheckedRow:
    position: int  # the index in the JSON list, or the line in the CSV file
    kpi: Kpi
    data_point: KpiDataPoint
    year: int
    value: float
    data_quality: DataQuality
    source: str
    note: str | None  # None: keep an existing row's note

    @property
    def key(self) -> tuple[int, int]:
        return (self.data_point.id or 0, self.year)


def bounds(unit: str) -> tuple[float, float] | None:
    """The range a unit allows, where it is certain: percentages, yes/no answers, the Gini coefficient."""
    text = unit.strip().lower()
    if text == "%" or text.startswith("percentage"):
        return (0.0, 100.0)
    if text in ("yes/no", "yes / no") or text.startswith("gini coefficient (0-1)"):
        return (0.0, 1.0)
    return None


class KpiCatalogue:
    """Every KPI with its data points, loaded once per request (two statements, whatever the row count)."""

    def __init__(self, session: Session) -> None:
        kpis = session.exec(select(Kpi).options(selectinload(Kpi.data_points))).all()  # type: ignore[arg-type]
        self.by_slug = {kpi.slug: kpi for kpi in kpis}

    def resolve(self, kpi_text: str, data_point_text: str) -> tuple[Kpi, KpiDataPoint] | tuple[str, str]:
        """(KPI, data point), or (field, reason) when either is unknown."""
        kpi = self.by_slug.get(slugify_code(kpi_text))
        if kpi is None:
            return (
                "kpi",
                f"unknown KPI {kpi_text!r}: use a slug like 'EN-EN-AQ-1C' or an official code like "
                "'EN: EN: AQ: 1C' (GET /api/v1/kpis lists them)",
            )
        wanted = data_point_text.strip().lower()
        for point in kpi.data_points:
            if point.key.lower() == wanted:
                return kpi, point
        keys = [p.key for p in kpi.data_points if p.key]
        if not keys:
            return "data_point", f"KPI {kpi.slug} is measured as a whole: leave data_point empty"
        if not wanted:
            return "data_point", f"KPI {kpi.slug} is reported per data point: give one of {', '.join(keys)}"
        return "data_point", f"KPI {kpi.slug} has no data point {data_point_text!r}; it has {', '.join(keys)}"


def _schema_errors(exc: ValidationError) -> list[tuple[str, str]]:
    found = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error.get("loc", ())) or "row"
        if error.get("type") == "extra_forbidden":
            reason = (
                "is set by the platform, never by the city"
                if field == "verified"
                else f"unknown field (the fields are: {', '.join(KpiValueIn.model_fields)})"
            )
            found.append((field, reason))
        else:
            found.append((field, str(error.get("msg", "invalid"))))
    return found


def check_rows(
    catalogue: KpiCatalogue, rows: Sequence[tuple[int, dict[str, Any] | str]], where: str
) -> list[CheckedRow]:
    """Every row checked, or a 422 listing every bad one (`where` is "index" or "line"). A row given as a
    string is one that could not be read; the string says why."""
    latest_year = this_year()
    checked: list[CheckedRow] = []
    errors: list[dict[str, Any]] = []
    first_seen: dict[tuple[int, int], int] = {}
    for position, raw in rows:
        row_errors: list[tuple[str, str]] = []
        if isinstance(raw, str):
            errors.append({where: position, "field": "row", "message": raw})
            continue
        try:
            value = KpiValueIn.model_validate(raw)
        except ValidationError as exc:
            row_errors = _schema_errors(exc)
        else:
            resolved = catalogue.resolve(value.kpi, value.data_point)
            if isinstance(resolved[0], str):
                row_errors.append((resolved[0], str(resolved[1])))
            if not EARLIEST_YEAR <= value.year <= latest_year:
                row_errors.append(("year", f"must be between {EARLIEST_YEAR} and {latest_year} (no future years)"))
            if not row_errors:
                kpi, point = resolved
                assert isinstance(kpi, Kpi)
                assert isinstance(point, KpiDataPoint)
                allowed = bounds(point.unit or kpi.unit)
                if allowed is not None and not allowed[0] <= value.value <= allowed[1]:
                    row_errors.append(
                        (
                            "value",
                            f"{value.value:g} is out of range for {point.unit or kpi.unit!r} "
                            f"({allowed[0]:g} to {allowed[1]:g})",
                        )
                    )
                row = CheckedRow(
                    position, kpi, point, value.year, value.value, value.data_quality, value.source, value.note
                )
                if row.key in first_seen:
                    row_errors.append(("row", f"the same KPI, data point and year as {where} {first_seen[row.key]}"))
                else:
                    first_seen[row.key] = position
                if not row_errors:
                    checked.append(row)
        errors += [{where: position, "field": field, "message": reason} for field, reason in row_errors]
    if errors:
        raise rows_problem(errors, total=len(rows), where=where)
    return checked


def rows_problem(errors: list[dict[str, Any]], total: int, where: str) -> InvalidInput:
    bad = sorted({e[where] for e in errors})
    listed = "; ".join(f"{where} {e[where]}: {e['field']}: {e['message']}" for e in errors[:DETAIL_ERRORS])
    more = f"; and {len(errors) - DETAIL_ERRORS} more (see errors)" if len(errors) > DETAIL_ERRORS else ""
    return InvalidInput(
        f"{len(bad)} of {total} rows are invalid, so nothing was written; fix them and send all the rows "
        f"again. {listed}{more}",
        errors=errors,
        type_="invalid-rows",
        title="Invalid rows",
        extra={"rows_total": total, "rows_invalid": len(bad), INVALID_KEYS[where]: bad},
    )


# -------------------------------------------------------------------------------------------- the CSV file


def _header(record: list[str], line: int) -> list[str]:
    names = [cell.strip().lower() for cell in record]
    known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
    problems = []
    if "kpi" not in names:
        problems.append(f"the first line must be the header ({','.join(EXPORT_COLUMNS[:6])})")
    else:
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        unknown = [c for c in names if c not in known]
        repeated = sorted({c for c in names if names.count(c) > 1})
        if missing:
            problems.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            problems.append(
                f"unknown column(s): {', '.join(repr(c) for c in unknown)} (the columns are "
                f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)})"
            )
        if repeated:
            problems.append(f"repeated column(s): {', '.join(repeated)}")
    if problems:
        raise InvalidInput(
            f"The header on line {line} cannot be used: {'; '.join(problems)}. Nothing was written.",
            errors=[{"line": line, "field": "header", "message": p} for p in problems],
            type_="invalid-file",
            title="Invalid file",
        )
    return names


def parse_csv(data: bytes) -> list[tuple[int, dict[str, Any] | str]]:
    """(line number, row) for each data row of a CSV file with a header (UTF-8, with or without a BOM;
    LF or CRLF); a row that cannot be read at all comes as the reason instead. A `source` or `note` that
    starts with a single quote before = + - @ (the export's formula escape) is stored without that quote;
    any other text, formula-like or not, is stored as sent (it is text here) and escaped on export. A
    header that cannot be used, or a file that is not CSV text, is a 422."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"The file is not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8 CSV.",
            type_="invalid-file",
            title="Invalid file",
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, Any] | str]] = []
    previous_end = 0
    try:
        for record in reader:
            start, previous_end = previous_end + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # blank lines are skipped
            if header is None:
                header = _header(record, start)
            elif len(record) != len(header):
                rows.append((start, f"{len(record)} fields where the header has {len(header)}"))
            else:
                cells = dict(zip(header, record, strict=True))
                cells.pop("verified", None)  # the platform's; tolerated so that an export imports again
                cells.setdefault("data_point", "")
                for column in TEXT_COLUMNS:
                    if column in cells:
                        cells[column] = from_spreadsheet(cells[column])
                rows.append((start, cells))
    except csv.Error as exc:
        raise InvalidInput(
            f"Line {reader.line_num} is not valid CSV ({exc}); nothing was written.",
            errors=[{"line": reader.line_num, "field": "row", "message": str(exc)}],
            type_="invalid-file",
            title="Invalid file",
        ) from None
    if header is None:
        raise InvalidInput(
            f"The file is empty: its first line must be the header ({','.join(EXPORT_COLUMNS[:6])}).",
            type_="invalid-file",
            title="Invalid file",
        )
    if not rows:
        raise InvalidInput("The file has a header but no rows.", type_="invalid-file", title="Invalid file")
    return rows


# ------------------------------------------------------------------------------------------------ writing


def _row_record(row: CheckedRow) -> dict[str, Any]:
    return {"kpi": row.kpi.slug, "data_point": row.data_point.key, "year": row.year}


def _apply(session: Session, city_id: int, row: CheckedRow, existing: KpiObservation | None) -> dict[str, Any] | None:
    """Write one checked row: (`created`/`updated` and what changed), or None when it changes nothing."""
    if existing is None:
        observation = KpiObservation(
            city_id=city_id,
            data_point_id=row.data_point.id or 0,
            year=row.year,
            value=row.value,
            data_quality=row.data_quality,
            source=row.source,
            note=row.note or "",
            verified=False,
        )
        session.add(observation)
        return {
            "outcome": "created",
            **_row_record(row),
            "value": row.value,
            "data_quality": row.data_quality.value,
            "source": row.source,
            "note": observation.note,
        }
    before = {
        "value": existing.value,
        "data_quality": existing.data_quality.value,
        "source": existing.source,
        "note": existing.note,
        "verified": existing.verified,
    }
    after = {
        "value": row.value,
        "data_quality": row.data_quality.value,
        "source": row.source,
        "note": existing.note if row.note is None else row.note,
        "verified": existing.verified,
    }
    if any(before[k] != after[k] for k in ("value", "data_quality", "source")):
        after["verified"] = False  # a new number has not been checked
    change = audit.diff(before, after)
    if not change:
        return None
    existing.value = row.value
    existing.data_quality = row.data_quality
    existing.source = row.source
    existing.note = str(after["note"])
    existing.verified = bool(after["verified"])
    session.add(existing)
    return {"outcome": "updated", **_row_record(row), "changes": change}


def _existing(session: Session, city_id: int, rows: Sequence[CheckedRow]) -> dict[tuple[int, int], KpiObservation]:
    """The stored rows of the (data point, year) pairs among `rows`, in one statement."""
    if not rows:
        return {}
    years = [r.year for r in rows]
    statement = select(KpiObservation).where(
        KpiObservation.city_id == city_id,
        col(KpiObservation.data_point_id).in_({r.data_point.id for r in rows}),
        col(KpiObservation.year).between(min(years), max(years)),
    )
    return {(o.data_point_id, o.year): o for o in session.exec(statement).all()}


def write_rows(
    session: Session, principal: Principal, city: City, rows: Sequence[CheckedRow], action: str
) -> KpiValuesWriteOut:
    """Upsert checked rows, flush, and record one audit event listing what changed."""
    city_id = city.id or 0
    stored = _existing(session, city_id, rows)
    changes = [change for row in rows if (change := _apply(session, city_id, row, stored.get(row.key))) is not None]
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(
            "Another request wrote values of this city for the same KPI and year at the same moment; "
            "nothing of yours was written. Send your rows again."
        ) from None
    created = [c for c in changes if c.pop("outcome") == "created"]
    updated = [c for c in changes if c not in created]
    result = KpiValuesWriteOut(
        rows=len(rows), created=len(created), updated=len(updated), unchanged=len(rows) - len(changes)
    )
    if changes:
        audit.record(
            session,
            principal,
            action,
            "city",
            city_id,
            {"counts": result.model_dump(), "created": created, "updated": updated},
            request_id=current_request_id(),
        )
    return result


def _editable_city(session: Session, principal: Principal, city_id: int) -> City:
    city = get_city(session, city_id)
    permissions.require(
        permissions.can_edit_city(principal, city_id),
        f"Only the officials of {city.name} (with cities:write) and admins may write its KPI values.",
    )
    return city


def check_can_write(session: Session, principal: Principal, city_id: int) -> None:
    """404 or 403 before an upload is read (the route asks first, the service asks again)."""
    _editable_city(session, principal, city_id)


def upsert_values(
    session: Session, principal: Principal, city_id: int, values: Sequence[dict[str, Any]]
) -> KpiValuesWriteOut:
    """The bulk PUT: rows indexed from 0 as sent."""
    city = _editable_city(session, principal, city_id)
    rows = check_rows(KpiCatalogue(session), list(enumerate(values)), where="index")
    return write_rows(session, principal, city, rows, "kpi_values.upsert")


def import_csv(session: Session, principal: Principal, city_id: int, data: bytes) -> KpiValuesWriteOut:
    """The CSV import: rows named by their line in the file (the header is line 1)."""
    city = _editable_city(session, principal, city_id)
    rows = check_rows(KpiCatalogue(session), parse_csv(data), where="line")
    return write_rows(session, principal, city, rows, "kpi_values.import")


# ---------------------------------------------------------------------------------------------- verifying


def verify_values(session: Session, principal: Principal, city_id: int, data: KpiValuesVerifyIn) -> KpiValuesVerifyOut:
    """Mark stored values verified (or withdraw it): the platform's, never the city's."""
    city = get_city(session, city_id)
    permissions.require(permissions.can_verify_kpi_values(principal), "Only the platform's admins verify KPI values.")
    catalogue = KpiCatalogue(session)
    errors: list[dict[str, Any]] = []
    wanted: list[tuple[int, KpiValueKeyIn, tuple[int, int]]] = []
    for index, key in enumerate(data.values):
        resolved = catalogue.resolve(key.kpi, key.data_point)
        if isinstance(resolved[1], KpiDataPoint):
            wanted.append((index, key, (resolved[1].id or 0, key.year)))
        else:
            errors.append({"index": index, "field": str(resolved[0]), "message": str(resolved[1])})
    stored: dict[tuple[int, int], KpiObservation] = {}
    if wanted:
        statement = select(KpiObservation).where(
            KpiObservation.city_id == city_id,
            col(KpiObservation.data_point_id).in_({w[2][0] for w in wanted}),
        )
        stored = {(o.data_point_id, o.year): o for o in session.exec(statement).all()}
    for index, key, pair in wanted:
        if pair not in stored:
            errors.append({"index": index, "field": "year", "message": f"{city.name} has no value for {key.year}"})
    if errors:
        raise rows_problem(errors, total=len(data.values), where="index")
    changed = []
    for _, key, pair in wanted:
        observation = stored[pair]
        if observation.verified != data.verified:
            observation.verified = data.verified
            session.add(observation)
            changed.append({"kpi": key.kpi, "data_point": key.data_point, "year": key.year})
    session.flush()
    if changed:
        audit.record(
            session,
            principal,
            "kpi_values.verify" if data.verified else "kpi_values.unverify",
            "city",
            city_id,
            {"verified": {"from": not data.verified, "to": data.verified}, "rows": changed},
            request_id=current_request_id(),
        )
    return KpiValuesVerifyOut(rows=len(data.values), changed=len(changed), unchanged=len(data.values) - len(changed))
