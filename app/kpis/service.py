"""Reading the KPI framework."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select

from app.audit.service import diff, record
from app.auth import permissions
from app.auth.principal import Principal
from app.core.concurrency import ExpectedVersion, etag, lock_for_write
from app.core.errors import InvalidInput, NotFound, PreconditionFailed
from app.core.models import utcnow
from app.core.pagination import PageRequest, PageResult, SortKey, paginate
from app.kpis.models import Kpi, KpiBenchmark, KpiDataPoint, KpiFramework, KpiSdg
from app.kpis.schemas import VERSION_EPOCH, VERSION_UNIT, BenchmarkIn, KpiFilters, KpiOut, KpiRefOut
from app.kpis.schemas import benchmark_version as benchmark_version  # the router reads the version here
from app.translations.models import TranslatableKind
from app.translations.service import Target, localize


def slugify_code(code: str) -> str:
    """`EC: ICT: ICT: 1C` -> `EC-ICT-ICT-1C`: the official code made URL-safe."""
    return "-".join(part for part in re.split(r"[^A-Za-z0-9]+", code) if part).upper()


def kpi_load_options() -> list[object]:
    """The eager loads a KPI's output needs (SDGs, framework, data points and benchmarks); the GraphQL
    loader uses them too, so both faces load a KPI alike."""
    return [
        selectinload(Kpi.sdgs),  # type: ignore[arg-type]
        selectinload(Kpi.framework),  # type: ignore[arg-type]
        selectinload(Kpi.data_points).selectinload(KpiDataPoint.benchmark),  # type: ignore[arg-type]
    ]


def list_kpis(session: Session, filters: KpiFilters, page: PageRequest) -> PageResult[Kpi]:
    statement = select(Kpi).options(*kpi_load_options())  # type: ignore[arg-type]
    for column, value in (
        (Kpi.dimension, filters.dimension),
        (Kpi.subdimension, filters.subdimension),
        (Kpi.category, filters.category),
    ):
        if value:
            statement = statement.where(sa.func.lower(column) == value.lower())
    if filters.tier:
        statement = statement.where(col(Kpi.tier) == filters.tier)
    if filters.sdg is not None:
        statement = statement.where(col(Kpi.id).in_(select(KpiSdg.kpi_id).where(KpiSdg.sdg == filters.sdg)))
    if filters.framework:
        statement = statement.join(KpiFramework).where(sa.func.lower(KpiFramework.code) == filters.framework.lower())
    return paginate(session, statement, [SortKey(Kpi.code), SortKey(Kpi.id)], page)  # type: ignore[arg-type]


def get_kpi(session: Session, slug_or_code: str) -> Kpi:
    """A KPI by its slug (`EN-EN-AQ-1C`) or official code (`EN: EN: AQ: 1C`)."""
    slug = slugify_code(slug_or_code)
    kpi = session.exec(select(Kpi).where(Kpi.slug == slug).options(*kpi_load_options())).first()  # type: ignore[arg-type]
    if kpi is None:
        raise NotFound(
            f"No KPI with slug or code {slug_or_code!r}. KPI slugs look like 'EN-EN-AQ-1C'; "
            "GET /api/v1/kpis lists them all."
        )
    return kpi


# ------------------------------------------------------------------- references other domains' writes resolve


def framework_categories(session: Session) -> dict[str, str]:
    """The KPI framework's categories (22 in U4SSC), lowercased -> as written ("air quality" -> "Air Quality")."""
    names = session.exec(select(Kpi.category).distinct()).all()
    return {name.lower(): name for name in names}


def kpis_by_reference(session: Session, references: Iterable[str]) -> dict[str, Kpi]:
    """The KPIs named by slugs (`EN-EN-AQ-1C`) or official codes (`EN: EN: AQ: 1C`), keyed by the reference as
    given, with their data points (one statement); unknown references are absent."""
    slugs = {ref: slugify_code(ref) for ref in references}
    if not slugs:
        return {}
    rows = session.exec(
        select(Kpi).where(col(Kpi.slug).in_(set(slugs.values()))).options(selectinload(Kpi.data_points))  # type: ignore[arg-type]
    ).all()
    by_slug = {k.slug: k for k in rows}
    return {ref: by_slug[slug] for ref, slug in slugs.items() if slug in by_slug}


def data_point_by_key(kpi: Kpi, key: str) -> KpiDataPoint | None:
    """A KPI's data point by key ("PM2.5", case-insensitive); "" is the KPI measured as a whole."""
    wanted = key.strip().casefold()
    return next((dp for dp in kpi.data_points if dp.key.casefold() == wanted), None)


def data_point_keys(kpi: Kpi) -> list[str]:
    return [dp.key for dp in kpi.data_points]


def kpi_refs(session: Session, kpi_ids: Iterable[int]) -> dict[int, KpiRefOut]:
    """KPIs as other resources show them (by slug and name), in one statement."""
    rows = session.exec(select(Kpi).where(col(Kpi.id).in_(set(kpi_ids)))).all()
    return {k.id or 0: KpiRefOut.from_model(k) for k in rows}


def kpi_ids_for(session: Session, refs: Sequence[str], field: str) -> list[int]:
    """The ids of the KPIs named by slugs or official codes, in the order given (duplicates dropped);
    a 422 naming every unknown one."""
    slugs = list(dict.fromkeys(slugify_code(ref) for ref in refs))
    found: dict[str, int] = {
        str(slug): int(kpi_id)
        for slug, kpi_id in session.execute(sa.select(col(Kpi.slug), col(Kpi.id)).where(col(Kpi.slug).in_(slugs)))
    }
    unknown = [ref for ref in refs if slugify_code(ref) not in found]
    if unknown:
        raise InvalidInput(
            f"Unknown KPI(s) in {field}: {', '.join(repr(u) for u in unknown)}. Use slugs like 'EN-EN-AQ-1C' or "
            "official codes like 'EN: EN: AQ: 1C' (GET /api/v1/kpis lists them).",
            errors=[{"field": f"body.{field}", "message": f"unknown KPI {u!r}", "type": "unknown"} for u in unknown],
        )
    return [found[slug] for slug in slugs]


# ---------------------------------------------------------------------------------------- benchmark writes
# An admin replaces the platform's default benchmark of a data point (docs/design.md §1 and §6). The benchmark row
# has no version column: its ETag carries `updated_at` in microseconds, and the update is conditional on it,
# which gives the same guarantees (428 without If-Match, 412 when stale, one winner of a race).

WHOLE_KPI_KEY = "_"  # in paths: the data point of a KPI measured as a whole (key "")
BENCHMARK_KIND = "kpi_benchmark"
_EPOCH = VERSION_EPOCH
_MICROSECOND = VERSION_UNIT


def get_data_point(session: Session, slug_or_code: str, key: str) -> tuple[Kpi, KpiDataPoint]:
    """A KPI's data point by path key (`_` for the KPI as a whole), with its benchmark; 404 otherwise."""
    kpi = get_kpi(session, slug_or_code)
    wanted = "" if key == WHOLE_KPI_KEY else key
    data_point = data_point_by_key(kpi, wanted)
    if data_point is None:
        keys = ", ".join(repr(k or WHOLE_KPI_KEY) for k in data_point_keys(kpi))
        raise NotFound(
            f"KPI {kpi.slug} has no data point {key!r}; its data points are {keys} "
            f"({WHOLE_KPI_KEY!r} is the KPI measured as a whole)."
        )
    return kpi, data_point


def get_benchmark(session: Session, slug_or_code: str, key: str) -> tuple[KpiDataPoint, KpiBenchmark]:
    kpi, data_point = get_data_point(session, slug_or_code, key)
    if data_point.benchmark is None:
        raise NotFound(f"The data point {key!r} of KPI {kpi.slug} has no benchmark yet (an admin may PUT one).")
    return data_point, data_point.benchmark


def _benchmark_fields(benchmark: KpiBenchmark) -> dict[str, Any]:
    return {name: getattr(benchmark, name) for name in BENCHMARK_FIELDS}


BENCHMARK_FIELDS = ("value", "value_label", "basis_type", "basis", "source", "confidence", "is_platform_default")


def put_benchmark(
    session: Session,
    principal: Principal,
    slug_or_code: str,
    key: str,
    data: BenchmarkIn,
    expected: ExpectedVersion,
) -> tuple[KpiBenchmark, bool]:
    """Set a data point's benchmark (admins); returns it and whether it was created. Replacing one needs the
    version the caller read (If-Match); creating one needs none."""
    lock_for_write(session)
    session.expire_all()  # read what is current now that this unit of work is the writer
    permissions.require(
        permissions.can_edit_kpi_framework(principal), "Only platform admins may change the benchmarks."
    )
    kpi, data_point = get_data_point(session, slug_or_code, key)
    values = {**data.model_dump(), "is_platform_default": False}
    existing = data_point.benchmark
    if existing is None:
        benchmark = KpiBenchmark(data_point_id=data_point.id or 0, **values)
        session.add(benchmark)
        session.flush()
        changes = {"kpi": kpi.slug, "data_point": data_point.key, "set": _benchmark_fields(benchmark)}
        record(session, principal, "kpi_benchmark.create", BENCHMARK_KIND, data_point.id or 0, changes)
        return benchmark, True
    before = _benchmark_fields(existing)
    version = expected()
    now = utcnow()
    if now <= existing.updated_at:
        now = existing.updated_at + _MICROSECOND
    result = session.execute(
        sa.update(KpiBenchmark)
        .where(col(KpiBenchmark.id) == existing.id, col(KpiBenchmark.updated_at) == _EPOCH + version * _MICROSECOND)
        .values(**values, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise PreconditionFailed(
            f"The benchmark of {kpi.slug} data point {key!r} changed since you read it; GET it again and reapply "
            "your change.",
            extra={"current_etag": etag(BENCHMARK_KIND, data_point.id or 0, benchmark_version(existing))},
        )
    session.expire(existing)
    benchmark = session.execute(
        select(KpiBenchmark).where(col(KpiBenchmark.id) == existing.id).execution_options(populate_existing=True)
    ).scalar_one()
    changes = {"kpi": kpi.slug, "data_point": data_point.key, **diff(before, _benchmark_fields(benchmark))}
    record(session, principal, "kpi_benchmark.update", BENCHMARK_KIND, data_point.id or 0, changes)
    return benchmark, False


KPI_KIND = "kpi"
# The KPI framework (U4SSC) is published in English; its names and notes are translated from it.
KPI_ORIGINAL_LANGUAGE = "en"


def translation_target(session: Session, principal: Principal, slug_or_code: str) -> tuple[Kpi, Target]:
    """The KPI as something `principal` may translate: admins, who keep the KPI framework."""
    kpi = get_kpi(session, slug_or_code)
    permissions.require(
        permissions.can_edit_kpi_framework(principal), "Only the platform's admins may translate KPI texts."
    )
    target = Target(TranslatableKind.kpi, kpi.id or 0, KPI_ORIGINAL_LANGUAGE, KPI_KIND, "the KPI framework's seeds")
    return kpi, target


def kpi_outs(session: Session, kpis: Sequence[Kpi], wanted: Sequence[str]) -> list[KpiOut]:
    """The KPIs as answered, in the caller's language where a translation reaches it (one statement)."""
    outs = [KpiOut.from_model(k, k.framework.code) for k in kpis]
    return localize(session, TranslatableKind.kpi, outs, wanted, [k.id or 0 for k in kpis])
