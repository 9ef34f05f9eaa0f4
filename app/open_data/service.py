"""Open data: every public city's KPI values, the KPI framework, and awarded challenges as OCDS releases.

Everything here is public by construction: KPI values only of cities that publish their data
(`City.data_public`, the rule `app.cities.kpi_values.can_read_values` applies to anonymous callers), and of
challenges only what their award made public (`app.auth.permissions.is_proposal_disclosed`): never a proposal's
text, a score or a clarification's asker.

The KPI-values export streams: it reads `chunk` rows per statement (keyset on city and observation id, each chunk in
a short session of its own, plain tuples rather than ORM objects) and yields them as it goes, so memory stays
flat whatever the number of cities.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, func, select

from app.auth.permissions import is_proposal_disclosed
from app.challenges.models import Challenge, ChallengeStatus, Clarification, Proposal
from app.cities.kpi_values import number, spreadsheet_safe
from app.cities.models import City, Country, KpiObservation
from app.core.config import Settings
from app.kpis.models import Kpi, KpiDataPoint, KpiFramework
from app.moderation.models import ContentKind
from app.moderation.visibility import not_hidden
from app.vendors.models import Vendor

KPI_VALUE_COLUMNS = (
    "city",
    "city_name",
    "country",
    "kpi",
    "kpi_code",
    "data_point",
    "year",
    "value",
    "unit",
    "data_quality",
    "verified",
    "source",
)
TEXT_COLUMNS = ("city_name", "source")


def licence(settings: Settings) -> dict[str, str]:
    return {"name": settings.open_data_licence, "url": settings.open_data_licence_url}


def link_header(settings: Settings) -> str:
    """RFC 8288: the licence the data is published under (RFC 4946's `license` relation)."""
    return f'<{settings.open_data_licence_url}>; rel="license"; title="{settings.open_data_licence}"'


# ------------------------------------------------------------------------------------------------ KPI values


def kpi_value_chunks(engine: Engine, chunk: int) -> Iterator[list[tuple[Any, ...]]]:
    """Every value of every city that publishes its data, by city and observation id: lists of at most `chunk`
    rows (in `KPI_VALUE_COLUMNS` order), one statement and one short session each."""
    statement = (
        sa.select(
            col(KpiObservation.id),
            col(City.id),
            col(City.slug),
            col(City.name),
            col(City.country_code),
            col(Kpi.slug),
            col(Kpi.code),
            col(KpiDataPoint.key),
            col(KpiObservation.year),
            col(KpiObservation.value),
            sa.func.coalesce(sa.func.nullif(col(KpiDataPoint.unit), ""), col(Kpi.unit)),
            col(KpiObservation.data_quality),
            col(KpiObservation.verified),
            col(KpiObservation.source),
        )
        .join(City, col(City.id) == KpiObservation.city_id)
        .join(KpiDataPoint, col(KpiDataPoint.id) == KpiObservation.data_point_id)
        .join(Kpi, col(Kpi.id) == KpiDataPoint.kpi_id)
        .where(col(City.data_public).is_(True))
        .order_by(col(City.id), col(KpiObservation.id))
        .limit(chunk)
    )
    last_city, last_id = 0, 0
    while True:
        # Keyset on (city, observation): the plan walks the public cities and each one's values in order,
        # without sorting the whole export per chunk (ordering by observation id alone made SQLite do that).
        after = sa.or_(col(City.id) > last_city, sa.and_(col(City.id) == last_city, col(KpiObservation.id) > last_id))
        with Session(engine) as session:
            rows = session.execute(statement.where(after)).all()
        if rows:
            yield [(*r[2:11], r[11].value if hasattr(r[11], "value") else r[11], bool(r[12]), r[13]) for r in rows]
        if len(rows) < chunk:
            return
        last_city, last_id = rows[-1][1], rows[-1][0]


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(values)  # RFC 4180
    return buffer.getvalue()


_NAME, _VALUE, _VERIFIED, _SOURCE = (KPI_VALUE_COLUMNS.index(c) for c in ("city_name", "value", "verified", "source"))


def kpi_values_csv(engine: Engine, chunk: int) -> Iterator[str]:
    """The export as CSV text (RFC 4180), a chunk at a time; free-text cells spreadsheet-safe."""
    yield _csv_line(list(KPI_VALUE_COLUMNS))
    for rows in kpi_value_chunks(engine, chunk):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        for row in rows:
            cells = list(row)
            cells[_NAME] = spreadsheet_safe(cells[_NAME] or "")
            cells[_SOURCE] = spreadsheet_safe(cells[_SOURCE] or "")
            cells[_VALUE] = number(cells[_VALUE])
            cells[_VERIFIED] = "true" if cells[_VERIFIED] else "false"
            writer.writerow(cells)
        yield buffer.getvalue()


def kpi_values_json(engine: Engine, chunk: int, settings: Settings) -> Iterator[str]:
    """The export as one JSON document, `{"licence": ..., "values": [...]}`, written as it is read."""
    yield '{"licence": ' + json.dumps(licence(settings)) + ', "columns": ' + json.dumps(KPI_VALUE_COLUMNS)
    yield ', "values": ['
    encode = json.JSONEncoder(separators=(",", ":")).encode
    first = True
    for rows in kpi_value_chunks(engine, chunk):
        text = ",".join(encode(dict(zip(KPI_VALUE_COLUMNS, row, strict=True))) for row in rows)
        yield text if first else "," + text
        first = False
    yield "]}"


# --------------------------------------------------------------------------------------------- KPI framework

FRAMEWORK_COLUMNS = (
    "framework",
    "kpi",
    "kpi_code",
    "name",
    "dimension",
    "subdimension",
    "category",
    "tier",
    "direction",
    "data_point",
    "unit",
    "benchmark",
    "benchmark_basis",
)


def kpi_framework_rows(session: Session) -> list[dict[str, Any]]:
    """One row per data point of every KPI: the framework every value is reported against (public)."""
    statement = (
        select(KpiDataPoint, Kpi, KpiFramework)
        .join(Kpi, col(Kpi.id) == KpiDataPoint.kpi_id)
        .join(KpiFramework, col(KpiFramework.id) == Kpi.framework_id)
        .options(selectinload(KpiDataPoint.benchmark))  # type: ignore[arg-type]
        .order_by(col(KpiFramework.code), col(Kpi.code), col(KpiDataPoint.position))
    )
    rows = []
    for point, kpi, framework in session.exec(statement).all():
        benchmark = point.benchmark
        rows.append(
            {
                "framework": framework.code,
                "kpi": kpi.slug,
                "kpi_code": kpi.code,
                "name": kpi.name,
                "dimension": kpi.dimension,
                "subdimension": kpi.subdimension,
                "category": kpi.category,
                "tier": kpi.tier.value,
                "direction": point.direction.value,
                "data_point": point.key,
                "unit": point.unit or kpi.unit,
                "benchmark": benchmark.value if benchmark is not None else None,
                "benchmark_basis": benchmark.basis_type.value if benchmark is not None else None,
            }
        )
    return rows


def kpi_framework_csv(rows: list[dict[str, Any]]) -> str:
    lines = [_csv_line(list(FRAMEWORK_COLUMNS))]
    for row in rows:
        cells = {**row, "benchmark": "" if row["benchmark"] is None else number(row["benchmark"])}
        lines.append(_csv_line([cells[c] if cells[c] is not None else "" for c in FRAMEWORK_COLUMNS]))
    return "".join(lines)


# ---------------------------------------------------------------------------------------------------- OCDS


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ocid(settings: Settings, challenge_id: int) -> str:
    return f"{settings.ocds_ocid_prefix}-challenge-{challenge_id}"


def _value(amount: int | None, currency: str | None) -> dict[str, Any] | None:
    return {"amount": amount, "currency": currency} if amount is not None and currency else None


def ocds_releases(session: Session, settings: Settings) -> list[dict[str, Any]]:
    """Every awarded challenge as an OCDS 1.1 award release (tender and award sections), oldest first.

    The buyer is the city; the supplier (the winning vendor) and the award's description (the winner's summary)
    appear only where the challenge's disclosure publishes the winner; the description not while moderation hides
    the winning proposal."""
    challenges = session.exec(
        select(Challenge)
        .where(Challenge.status == ChallengeStatus.awarded)
        .options(selectinload(Challenge.criteria))  # type: ignore[arg-type]
        .order_by(col(Challenge.id))
    ).all()
    ids = [c.id or 0 for c in challenges]
    cities = {c.id: c for c in session.exec(select(City).where(col(City.id).in_({c.city_id for c in challenges})))}
    countries = {c.code: c.name for c in session.exec(select(Country)).all()}
    winners = {
        p.id: p
        for p in session.exec(select(Proposal).where(col(Proposal.id).in_({c.awarded_proposal_id for c in challenges})))
    }
    vendors = {
        v.id: v for v in session.exec(select(Vendor).where(col(Vendor.id).in_({p.vendor_id for p in winners.values()})))
    }
    # A winning proposal hidden by moderation keeps its award (a procurement record), not its text.
    shown_summaries = set(
        session.exec(
            select(Proposal.id).where(
                col(Proposal.id).in_(set(winners)), not_hidden(ContentKind.proposal, col(Proposal.id))
            )
        ).all()
    )
    tenderers: dict[int, int] = dict(
        session.exec(
            select(Proposal.challenge_id, func.count(func.distinct(Proposal.vendor_id)))
            .where(col(Proposal.challenge_id).in_(ids))
            .group_by(col(Proposal.challenge_id))
        ).all()
    )
    enquiries: defaultdict[int, int] = defaultdict(int)
    for challenge_id, count in session.exec(
        select(Clarification.challenge_id, func.count())
        .where(col(Clarification.challenge_id).in_(ids))
        .group_by(col(Clarification.challenge_id))
    ).all():
        enquiries[challenge_id] = count
    releases = []
    for challenge in challenges:
        challenge_id = challenge.id or 0
        city = cities[challenge.city_id]
        buyer = {"id": f"city-{city.id}", "name": city.name}
        parties: list[dict[str, Any]] = [
            {
                **buyer,
                "roles": ["buyer", "procuringEntity"],
                "address": {"countryName": countries.get(city.country_code, city.country_code)},
            }
        ]
        awarded_at = challenge.awarded_at or challenge.updated_at
        award: dict[str, Any] = {
            "id": f"{ocid(settings, challenge_id)}-award-1",
            "status": "active",
            "date": _iso(awarded_at),
            "title": challenge.title,
        }
        winner = winners.get(challenge.awarded_proposal_id)
        if winner is not None and is_proposal_disclosed(True, challenge.disclosure.value, proposal_won=True):
            vendor = vendors[winner.vendor_id]
            supplier = {"id": f"vendor-{vendor.id}", "name": vendor.name}
            parties.append({**supplier, "roles": ["supplier"]})
            award["suppliers"] = [supplier]
            if winner.summary and winner.id in shown_summaries:
                award["description"] = winner.summary
        tender: dict[str, Any] = {
            "id": f"challenge-{challenge_id}",
            "title": challenge.title,
            "description": challenge.statement,
            "status": "complete",
            "procurementMethod": "open",
            "procurementMethodDetails": "citymarket co-creation challenge",
            "procuringEntity": buyer,
            "tenderPeriod": {
                "startDate": _iso(challenge.created_at),
                "endDate": _iso(datetime.combine(challenge.deadline, time(23, 59, 59), tzinfo=UTC)),
            },
            "numberOfTenderers": tenderers.get(challenge_id, 0),
            "hasEnquiries": enquiries[challenge_id] > 0,
        }
        if (maximum := _value(challenge.budget_max, challenge.currency)) is not None:
            tender["value"] = maximum
        if (minimum := _value(challenge.budget_min, challenge.currency)) is not None:
            tender["minValue"] = minimum
        if challenge.criteria:
            tender["awardCriteria"] = "ratedCriteria"
            tender["awardCriteriaDetails"] = "; ".join(f"{c.name}: {c.weight} %" for c in challenge.criteria)
        releases.append(
            {
                "ocid": ocid(settings, challenge_id),
                "id": f"{ocid(settings, challenge_id)}-award-{challenge.version}",
                "date": _iso(awarded_at),
                "tag": ["award"],
                "initiationType": "tender",
                "language": "en",
                "parties": parties,
                "buyer": buyer,
                "tender": tender,
                "awards": [award],
            }
        )
    return releases


def ocds_release_package(session: Session, settings: Settings, uri: str) -> dict[str, Any]:
    releases = ocds_releases(session, settings)
    published = max((r["date"] for r in releases), default=_iso(datetime.now(UTC)))
    return {
        "uri": uri,
        "version": "1.1",
        "publishedDate": published,
        "publisher": {"name": settings.ocds_publisher_name},
        "license": settings.open_data_licence_url,
        "releases": releases,
    }
