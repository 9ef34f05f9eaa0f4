"""Deterministic synthetic data for scale work: `citymarket seed --synthetic`.

Generates cities with KPI observations, vendors, solutions (with categories, SDGs, countries, languages,
KPI impact claims and deployments) and case studies (with linked solutions and KPI outcomes) on top of the
reference data already in the database (KPI framework, data points, benchmarks, countries). It never creates
KPIs, data points or countries.

Every row is marked `is_demo` (where the table has the flag) and is named so that nobody mistakes it for real
data: "Synthetic City 00042" with slug `syn-city-00042`, `syn-vendor-...`, `syn-solution-...`, `syn-case-...`.
The seed decides everything, timestamps included: the same seed and counts on the same reference data give
identical rows, ids included. A database that already holds synthetic rows is left alone (the call reports
`skipped`); `remove_synthetic` deletes them again.

The realism that the matching and search work needs:
- populations log-normal with a heavy tail (5 k to 20 M), countries drawn with regional weights, coordinates
  around each country's centre, languages of the country, a Koeppen climate class from latitude and region;
- each city has a latent development level (from its country's income group) and one per dimension and
  sub-dimension, so a city's KPIs correlate; values are placed around the benchmark accordingly, respecting
  the direction (higher or lower is better) and the unit (percentages stay within 0-100, yes/no is 0 or 1);
  core KPIs are reported far more often than advanced ones; data quality leans to measured and calculated;
- solutions and their impact claims concentrate on KPIs of their categories; texts are composed from
  category vocabularies with Zipf-like word frequencies and rare brand names, so full-text search is
  meaningful.

Speed: SQLAlchemy Core `insert()` with executemany in chunks, ids assigned up front (after `max(id)`; the
PostgreSQL sequences are moved past them at the end), everything in one transaction.
"""

from __future__ import annotations

import logging
import math
import random
import string
import time
import tomllib
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel
from tqdm import tqdm

import app.models  # noqa: F401  (registers every table on SQLModel.metadata)

log = logging.getLogger(__name__)

CHUNK_ROWS = 10_000
# Every synthetic timestamp lies before this instant, so that a rerun gives the same rows.
SYNTHETIC_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
SOURCE = "synthetic data (citymarket seeds/synthetic.py, seed {seed}): not a real city, vendor or project"

PREFIX = {
    "city": "syn-city-",
    "vendor": "syn-vendor-",
    "solution": "syn-solution-",
    "case_study": "syn-case-",
}

# Tables written, parents before children (the order of the report and the reverse order of removal).
TABLES = (
    "city",
    "kpi_observation",
    "vendor",
    "solution",
    "solution_category",
    "solution_sdg",
    "solution_country",
    "solution_language",
    "case_study",
    "case_study_solution",
    "case_study_outcome",
    "solution_kpi_impact",
    "solution_deployment",
)
TABLES_WITH_ID = (
    "city",
    "kpi_observation",
    "vendor",
    "solution",
    "case_study",
    "case_study_outcome",
    "solution_kpi_impact",
    "solution_deployment",
)

HIGHER, LOWER, TARGET, UNDETERMINED = 1, -1, 2, 0
DIRECTION_CODE = {"higher_is_better": HIGHER, "lower_is_better": LOWER, "target_is_best": TARGET}

DATA_QUALITY = ("measured", "calculated", "estimated", "modelled", "expert_opinion", "unknown")
DATA_QUALITY_P = (0.36, 0.28, 0.16, 0.08, 0.06, 0.06)
INCOME_LEVEL = {"high": 0.8, "upper_middle": 0.15, "lower_middle": -0.45, "low": -1.0}

# ------------------------------------------------------------------------------------------------ geography

# The generator's tables (geography, KPI value shapes, vocabulary) are data files under seeds/data/synthetic/,
# each with its source noted at the top.
DATA_DIR = Path(__file__).resolve().parent / "data" / "synthetic"


def _data(name: str) -> dict[str, Any]:
    """One of the generator's data files, `seeds/data/synthetic/<name>.toml`, as read."""
    with (DATA_DIR / f"{name}.toml").open("rb") as file:
        return tomllib.load(file)


_GEOGRAPHY = _data("geography")
# ISO code -> (latitude, longitude, spread in degrees, population in millions, languages, income group).
COUNTRY_GEO: dict[str, tuple[float, float, float, float, str, str]] = {
    code: (lat, lon, spread, people, languages, income)
    for code, (lat, lon, spread, people, languages, income) in _GEOGRAPHY["country_geo"].items()
}
# (latitude, longitude, spread) of a region, for countries the table above does not know.
REGION_GEO: dict[str, tuple[float, float, float]] = {
    region: (lat, lon, spread) for region, (lat, lon, spread) in _GEOGRAPHY["region_geo"].items()
}
# Share of the synthetic cities and of the vendors' home countries per UN region.
CITY_REGION_WEIGHT: dict[str, float] = dict(_GEOGRAPHY["city_region_weight"])
VENDOR_REGION_WEIGHT: dict[str, float] = dict(_GEOGRAPHY["vendor_region_weight"])
VENDOR_INCOME_WEIGHT: dict[str, float] = dict(_GEOGRAPHY["vendor_income_weight"])

_SHAPES = _data("kpi_shapes")
# Where a data point has no benchmark, or a benchmark of 0, the typical value of a city.
TYPICAL_VALUE: dict[str, float] = dict(_SHAPES["typical_value"])
# (median achievement, spread) per KPI where the defaults would be unrealistic.
KPI_SHAPE: dict[str, tuple[float, float]] = {
    code: (median, spread) for code, (median, spread) in _SHAPES["kpi_shape"].items()
}


@dataclass(frozen=True)
class Vocabulary:
    """Words for one solution category, most common first (they are drawn with Zipf-like weights)."""

    products: tuple[str, ...]
    things: tuple[str, ...]
    goals: tuple[str, ...]
    problems: tuple[str, ...]
    who: tuple[str, ...]
    standards: tuple[str, ...]
    roots: tuple[str, ...]


_VOCABULARY = _data("vocabulary")
VOCABULARY: dict[str, Vocabulary] = {
    category: Vocabulary(**{name: tuple(words) for name, words in fields.items()})
    for category, fields in _VOCABULARY["vocabulary"].items()
}
_WORDS: dict[str, tuple[str, ...]] = {name: tuple(words) for name, words in _VOCABULARY["words"].items()}
ADJECTIVES = _WORDS["adjectives"]
TECH = _WORDS["tech"]
BENEFITS = _WORDS["benefits"]
DEPARTMENTS = _WORDS["departments"]
FUNDING = _WORDS["funding"]
PROCUREMENT = _WORDS["procurement"]
LESSONS = _WORDS["lessons"]
AREAS = _WORDS["areas"]
OBSTACLES = _WORDS["obstacles"]
PARTNERS = _WORDS["partners"]
TRAINING = _WORDS["training"]
VENDOR_SUFFIXES = _WORDS["vendor_suffixes"]
GENERIC_STANDARDS = _WORDS["generic_standards"]
SYLLABLES = _WORDS["syllables"]
ENDINGS = _WORDS["endings"]
SOLUTION_SENTENCES = _WORDS["solution_sentences"]
CASE_SENTENCES = _WORDS["case_sentences"]


# ------------------------------------------------------------------------------------------------ report


@dataclass
class SyntheticReport:
    """What a run added: rows per table and seconds per phase."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0
    skipped: bool = False
    message: str = ""

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        if self.skipped:
            return self.message
        lines = [f"{name}: {count:,}" for name, count in self.rows.items()]
        lines += [f"{phase}: {secs:.1f} s" for phase, secs in self.seconds.items()]
        lines.append(f"total: {self.total_rows:,} rows in {self.total_seconds:.1f} s")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ helpers


def is_percentage_unit(unit: str) -> bool:
    """A unit whose values are shares of a whole, so 0-100 ("%", "Percentage of households", ...)."""
    lowered = unit.lower()
    return ("%" in lowered or "percent" in lowered) and not lowered.startswith("number")


def _table(name: str) -> sa.Table:
    return SQLModel.metadata.tables[name]


def _title(phrase: str) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in phrase.split(" "))


def _cap(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _width(count: int) -> int:
    return max(5, len(str(count)))


def _stable(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


@dataclass(frozen=True)
class CountryRef:
    code: str
    name: str
    region: str
    subregion: str
    income: str
    lat: float
    lon: float
    spread: float
    population_m: float
    languages: tuple[str, ...]


def _country_ref(code: str, name: str, region: str, subregion: str, income_group: str) -> CountryRef:
    region_key = region.strip().lower()
    subregion_key = subregion.strip().lower()
    geo = COUNTRY_GEO.get(code)
    income = income_group.strip().lower().replace(" ", "_").replace("-", "_")
    if income not in INCOME_LEVEL:
        income = {
            "h": "high",
            "hic": "high",
            "umc": "upper_middle",
            "lmc": "lower_middle",
            "l": "low",
            "lic": "low",
        }.get(income, geo[5] if geo else "")
    if geo is not None:
        lat, lon, spread, population, languages, _ = geo
        return CountryRef(
            code, name, region_key, subregion_key, income, lat, lon, spread, population, tuple(languages.split())
        )
    lat, lon, spread = REGION_GEO.get(region_key, (20.0, 0.0, 30.0))
    return CountryRef(code, name, region_key, subregion_key, income, lat, lon, spread, 5.0, ("en",))


@dataclass
class Reference:
    """The reference rows the generator builds on, in a stable order."""

    countries: list[CountryRef]
    kpi_id: list[int]
    kpi_code: list[str]
    kpi_name: list[str]
    kpi_category: list[str]
    kpi_dim: NDArray[np.int64]
    kpi_sub: NDArray[np.int64]
    kpi_core: NDArray[np.bool_]
    kpi_sdgs: list[list[int]]
    dimensions: list[str]
    categories: list[str]
    dp_id: list[int]
    dp_kpi: NDArray[np.int64]
    dp_key: list[str]
    dp_unit: list[str]
    dp_dir: NDArray[np.int64]
    dp_bench: NDArray[np.float64]
    dp_label: list[str]


def read_reference(conn: Connection) -> Reference:
    country, kpi, kpi_sdg = _table("country"), _table("kpi"), _table("kpi_sdg")
    dp, bench = _table("kpi_data_point"), _table("kpi_benchmark")
    countries = [
        _country_ref(row.code, row.name, row.region or "", row.subregion or "", row.income_group or "")
        for row in conn.execute(
            sa.select(
                country.c.code, country.c.name, country.c.region, country.c.subregion, country.c.income_group
            ).order_by(country.c.code)
        )
    ]
    kpis = conn.execute(
        sa.select(
            kpi.c.id,
            kpi.c.code,
            kpi.c.name,
            kpi.c.dimension,
            kpi.c.subdimension,
            kpi.c.category,
            kpi.c.tier,
            kpi.c.unit,
        ).order_by(kpi.c.id)
    ).all()
    sdgs: dict[int, list[int]] = {}
    for kpi_id, sdg in conn.execute(
        sa.select(kpi_sdg.c.kpi_id, kpi_sdg.c.sdg).order_by(kpi_sdg.c.kpi_id, kpi_sdg.c.sdg)
    ):
        sdgs.setdefault(kpi_id, []).append(sdg)
    points = conn.execute(
        sa.select(dp.c.id, dp.c.kpi_id, dp.c.key, dp.c.unit, dp.c.direction, bench.c.value, bench.c.value_label)
        .select_from(dp.outerjoin(bench, bench.c.data_point_id == dp.c.id))
        .order_by(dp.c.kpi_id, dp.c.position, dp.c.id)
    ).all()
    dimensions = sorted({row.dimension for row in kpis})
    subdimensions = sorted({(row.dimension, row.subdimension) for row in kpis})
    kpi_index = {row.id: i for i, row in enumerate(kpis)}
    points = [p for p in points if p.kpi_id in kpi_index]
    return Reference(
        countries=countries,
        kpi_id=[row.id for row in kpis],
        kpi_code=[row.code for row in kpis],
        kpi_name=[row.name for row in kpis],
        kpi_category=[row.category for row in kpis],
        kpi_dim=np.array([dimensions.index(row.dimension) for row in kpis], dtype=np.int64),
        kpi_sub=np.array([subdimensions.index((row.dimension, row.subdimension)) for row in kpis], dtype=np.int64),
        kpi_core=np.array([str(row.tier) == "core" for row in kpis], dtype=np.bool_),
        kpi_sdgs=[sdgs.get(row.id, []) for row in kpis],
        dimensions=dimensions,
        categories=sorted({row.category for row in kpis}),
        dp_id=[p.id for p in points],
        dp_kpi=np.array([kpi_index[p.kpi_id] for p in points], dtype=np.int64),
        dp_key=[p.key or "" for p in points],
        dp_unit=[p.unit or kpis[kpi_index[p.kpi_id]].unit or "" for p in points],
        dp_dir=np.array([DIRECTION_CODE.get(str(p.direction), UNDETERMINED) for p in points], dtype=np.int64),
        dp_bench=np.array([np.nan if p.value is None else float(p.value) for p in points], dtype=np.float64),
        dp_label=[p.value_label or "" for p in points],
    )


class ValueModel:
    """How a data point's values are spread, from its unit, direction and benchmark.

    A latent `z` (about standard normal, higher is a better-performing city) maps monotonically to a value:
    multiplicatively around a centre for amounts, in logit space for percentages (so they stay in 0-100),
    to 0/1 for yes/no KPIs; `noise` drives data points whose direction is undetermined or whose best value
    is the benchmark itself.
    """

    def __init__(self, ref: Reference) -> None:
        n = len(ref.dp_id)
        self.pct = np.zeros(n, dtype=np.bool_)
        self.yesno = np.zeros(n, dtype=np.bool_)
        self.integer = np.zeros(n, dtype=np.bool_)
        self.zero_best = np.zeros(n, dtype=np.bool_)
        self.center = np.ones(n)
        self.sigma = np.ones(n)
        self.cap = np.full(n, np.inf)
        self.dir = ref.dp_dir
        for d in range(n):
            code, key = ref.kpi_code[ref.dp_kpi[d]], ref.dp_key[d]
            unit = ref.dp_unit[d].lower()
            bench = ref.dp_bench[d]
            direction = int(ref.dp_dir[d])
            yesno = ref.dp_label[d].lower() == "yes" or "yes/no" in unit
            pct = is_percentage_unit(unit) and not yesno
            ratio, sigma = KPI_SHAPE.get(code, (0.72, 0.7 if pct else 0.45))
            typical = TYPICAL_VALUE.get(f"{code}/{key}") or TYPICAL_VALUE.get(code)
            if np.isfinite(bench) and bench > 0:
                center = bench * ratio if direction == HIGHER else bench / ratio if direction == LOWER else bench
            else:
                center = typical or self._typical(unit, pct)
            if pct:
                center = min(max(center, 0.5), 97.0)
            self.pct[d], self.yesno[d] = pct, yesno
            self.integer[d] = unit.startswith("number")
            self.zero_best[d] = direction == LOWER and np.isfinite(bench) and bench == 0
            self.center[d], self.sigma[d] = center, sigma
            if pct:
                self.cap[d] = 100.0
            elif "(0-1)" in unit:
                self.cap[d] = 0.99
        self.logit_center = np.log(self.center / np.maximum(100.0 - self.center, 1e-9))
        self.sign = np.where(self.dir == HIGHER, 1.0, np.where(self.dir == LOWER, -1.0, 0.0))
        self.free = (self.dir == UNDETERMINED).astype(np.float64)

    @staticmethod
    def _typical(unit: str, pct: bool) -> float:
        if pct:
            return 30.0
        for needle, value in (
            ("kwh", 4000.0),
            ("gj", 10.0),
            ("minute", 10.0),
            ("year", 70.0),
            ("per 100 000", 100.0),
            ("number", 100.0),
        ):
            if needle in unit:
                return value
        return 10.0

    def values(self, z: NDArray[np.float64], noise: NDArray[np.float64], d: NDArray[np.int64]) -> NDArray[np.float64]:
        sign, sigma, free = self.sign[d], self.sigma[d], self.free[d]
        shift = sign * sigma * z + free * 0.45 * noise
        with np.errstate(over="ignore"):
            pct = 100.0 / (1.0 + np.exp(-(self.logit_center[d] + shift)))
            amount = self.center[d] * np.exp(shift)
        target = self.center[d] * (1.0 - np.minimum(0.6, 0.12 * np.exp(-0.5 * z) * np.abs(noise)))
        out = np.where(self.pct[d], pct, np.where(self.dir[d] == TARGET, target, amount))
        out = np.where(self.zero_best[d] & (z > 1.2), 0.0, out)
        out = np.minimum(out, self.cap[d])
        out = np.where(self.yesno[d], (z + 0.4 > 0).astype(np.float64), out)
        return np.where(self.integer[d], np.round(out), np.round(out, 2))


class _Stream:
    """An endless deterministic stream of draws from a list, most common first (Zipf-like weights)."""

    __slots__ = ("buffer", "position", "probabilities", "rng", "words")

    def __init__(self, words: Sequence[str], rng: np.random.Generator, exponent: float = 1.1) -> None:
        self.words = list(words)
        weights = 1.0 / (np.arange(1, len(self.words) + 1) + 1.5) ** exponent
        self.probabilities = weights / weights.sum()
        self.rng = rng
        self.buffer: list[str] = []
        self.position = 0

    def __call__(self) -> str:
        if self.position >= len(self.buffer):
            picks = self.rng.choice(len(self.words), size=2048, p=self.probabilities)
            self.buffer = [self.words[i] for i in picks.tolist()]
            self.position = 0
        word = self.buffer[self.position]
        self.position += 1
        return word


def _parse(template: str) -> list[tuple[str, str | None]]:
    return [(literal, name) for literal, name, _, _ in string.Formatter().parse(template)]


class Composer:
    """Composes titles, summaries and bodies from the category vocabularies."""

    GENERIC = {
        "adj": ADJECTIVES,
        "tech": TECH,
        "benefit": BENEFITS,
        "dept": DEPARTMENTS,
        "funding": FUNDING,
        "procurement": PROCUREMENT,
        "lesson": LESSONS,
        "area": AREAS,
        "obstacle": OBSTACLES,
        "partner": PARTNERS,
        "training": TRAINING,
    }
    CATEGORY_FIELDS = ("products", "things", "goals", "problems", "who", "standards")
    ALIASES = {
        "product": "products",
        "thing": "things",
        "goal": "goals",
        "problem": "problems",
        "standard": "standards",
    }

    def __init__(self, seed: int, salt: str, rnd: random.Random) -> None:
        self.seed = seed
        self.salt = _stable(salt)
        self.rnd = rnd
        self.streams: dict[tuple[str, str], _Stream] = {}
        self.solution_templates = [_parse(t) for t in SOLUTION_SENTENCES]
        self.case_templates = [_parse(t) for t in CASE_SENTENCES]

    @staticmethod
    def vocabulary(category: str) -> Vocabulary:
        vocabulary = VOCABULARY.get(category)
        if vocabulary is not None:
            return vocabulary
        topic = category.lower()
        return Vocabulary(
            products=(f"{topic} platform", f"{topic} analytics service", f"{topic} monitoring network"),
            things=(f"{topic} assets", f"{topic} data", "sensors", "service requests"),
            goals=(f"improve {topic}", f"measure {topic} better"),
            problems=(f"poor {topic}", "missing data"),
            who=("city departments", "public agencies"),
            standards=GENERIC_STANDARDS,
            roots=(category[:4].title() or "Syn",),
        )

    def _stream(self, category: str, name: str) -> _Stream:
        key = (category, name)
        stream = self.streams.get(key)
        if stream is None:
            generic = self.GENERIC.get(name)
            words: Sequence[str] = generic if generic is not None else getattr(self.vocabulary(category), name)
            rng = np.random.default_rng([self.seed, self.salt, _stable(category), _stable(name)])
            stream = self.streams[key] = _Stream(words, rng)
        return stream

    def word(self, category: str, name: str) -> str:
        base = name.rstrip("2")
        base = self.ALIASES.get(base, base)
        if base in self.GENERIC:
            return self._stream("", base)()
        return self._stream(category, base)()

    def fill(self, tokens: list[tuple[str, str | None]], category: str, context: dict[str, str]) -> str:
        parts: list[str] = []
        local: dict[str, str] = {}
        for literal, name in tokens:
            parts.append(literal)
            if name is None:
                continue
            value = context.get(name) or local.get(name)
            if value is None:
                if name in ("weeks", "months", "n"):
                    value = str(self.rnd.randint(2, 18))
                else:
                    value = self.word(category, name)
                    first = local.get(name[:-1]) if name.endswith("2") else None
                    for _ in range(3):
                        if value != first:
                            break
                        value = self.word(category, name)
                local[name] = value
            if name == "adj" and parts[-1][-2:] in ("a ", "A ") and value[:1].lower() in "aeiou":
                parts[-1] = parts[-1][:-1] + "n "
            parts.append(value)
        return _cap("".join(parts))

    def solution_sentences(self, categories: Sequence[str], context: dict[str, str], count: int) -> list[str]:
        """`count` sentences, no template twice before all have been used once."""
        order = self._order(len(self.solution_templates), count)
        return [
            self.fill(self.solution_templates[t], categories[j % len(categories)], context) for j, t in enumerate(order)
        ]

    def case_sentences(self, category: str, context: dict[str, str]) -> Iterator[str]:
        while True:
            for t in self._order(len(self.case_templates), len(self.case_templates)):
                yield self.fill(self.case_templates[t], category, context)

    def _order(self, size: int, count: int) -> list[int]:
        order: list[int] = []
        while len(order) < count:
            block = list(range(size))
            self.rnd.shuffle(block)
            order += block
        return order[:count]

    def brand(self, category: str) -> str:
        root = self.rnd.choice(self.vocabulary(category).roots)
        return root + self.rnd.choice(SYLLABLES) + self.rnd.choice(ENDINGS)

    def line(self) -> str:
        return _cap(self.rnd.choice(SYLLABLES) + self.rnd.choice(SYLLABLES) + self.rnd.choice(ENDINGS))


def _koeppen(lat: float, subregion_hint: str, rnd: random.Random) -> str:
    """A plausible Koeppen climate class for a latitude and region (coarse, but not uniform)."""
    a = abs(lat)
    dry = subregion_hint in ("western asia", "northern africa", "central asia")
    options: list[tuple[str, float]]
    if a < 12:
        options = [("BWh", 0.6), ("BSh", 0.3), ("Aw", 0.1)] if dry else [("Af", 0.35), ("Am", 0.25), ("Aw", 0.4)]
    elif a < 23:
        options = (
            [("BWh", 0.6), ("BSh", 0.3), ("Aw", 0.1)]
            if dry
            else [("Aw", 0.4), ("BSh", 0.2), ("Cwa", 0.2), ("Am", 0.1), ("BWh", 0.1)]
        )
    elif a < 35:
        options = (
            [("BWh", 0.5), ("BSh", 0.3), ("Csa", 0.2)]
            if dry
            else [("Cfa", 0.35), ("Csa", 0.2), ("Cwa", 0.2), ("BSh", 0.15), ("BWh", 0.1)]
        )
    elif a < 45:
        options = (
            [("BSk", 0.5), ("Csa", 0.3), ("Dsa", 0.2)]
            if dry
            else [("Cfb", 0.3), ("Cfa", 0.25), ("Csa", 0.25), ("Csb", 0.1), ("Dfa", 0.1)]
        )
    elif a < 55:
        options = [("Cfb", 0.55), ("Dfb", 0.35), ("BSk", 0.1)] if lat > 0 else [("Cfb", 0.7), ("Cfc", 0.3)]
    elif a < 66:
        options = [("Dfb", 0.4), ("Dfc", 0.35), ("Cfb", 0.25)]
    else:
        options = [("Dfc", 0.6), ("ET", 0.4)]
    return rnd.choices([o[0] for o in options], weights=[o[1] for o in options])[0]


# ------------------------------------------------------------------------------------------------ generator


class _Generator:
    def __init__(self, conn: Connection, ref: Reference, *, seed: int, progress: bool, report: SyntheticReport) -> None:
        self.conn = conn
        self.ref = ref
        self.seed = seed
        self.progress = progress
        self.report = report
        self.source = SOURCE.format(seed=seed)
        self.model = ValueModel(ref)
        # Filled by the phases.
        self.city_ids: list[int] = []
        self.city_names: list[str] = []
        self.city_country: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.city_population: NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.city_languages: list[list[str]] = []
        self.city_dev: NDArray[np.float64] = np.zeros(0)
        self.z: NDArray[np.float64] = np.zeros((0, 0))
        self.vendor_ids: list[int] = []
        self.vendor_country: list[int] = []
        self.vendor_size: list[int] = []
        self.vendor_brand: list[str] = []
        self.vendor_categories: list[list[str]] = []
        self.solution_ids: list[int] = []
        self.solution_title: list[str] = []
        self.solution_categories: list[list[str]] = []
        self.solution_countries: list[list[int]] = []
        self.solution_status: list[str] = []
        self.solution_maturity: list[str] = []
        # Planned impact claims: (solution index, KPI index, data point index or -1, effect, evidence level).
        self.impacts: list[tuple[int, int, int, float, str]] = []
        self.impacts_of: list[list[int]] = []
        # (solution index, KPI index) -> id of the first case study with an outcome on it.
        self.backing: dict[tuple[int, int], int] = {}
        self.case_deployments: list[tuple[int, int, int]] = []
        self._prepare_kpis()

    # ---------------------------------------------------------------------------------------- plumbing

    def rng(self, phase: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, _stable(phase)])

    def rnd(self, phase: str) -> random.Random:
        return random.Random(f"{self.seed}:{phase}")

    def next_id(self, table: str) -> int:
        t = _table(table)
        return int(self.conn.execute(sa.select(sa.func.coalesce(sa.func.max(t.c.id), 0))).scalar_one()) + 1

    def insert(self, table: str, rows: list[dict[str, Any]], bar: tqdm[Any] | None = None) -> None:
        t = _table(table)
        for start in range(0, len(rows), CHUNK_ROWS):
            part = rows[start : start + CHUNK_ROWS]
            self.conn.execute(t.insert(), part)
            if bar is not None:
                bar.update(len(part))
        self.report.rows[table] += len(rows)

    def bar(self, name: str, total: int) -> tqdm[Any]:
        return tqdm(total=total, desc=f"synthetic {name}", unit="rows", disable=not self.progress, leave=True)

    def _prepare_kpis(self) -> None:
        ref = self.ref
        outcome_dps: dict[int, list[int]] = {}
        for d in range(len(ref.dp_id)):
            if int(ref.dp_dir[d]) in (HIGHER, LOWER):
                outcome_dps.setdefault(int(ref.dp_kpi[d]), []).append(d)
        self.kpi_outcome_dps = outcome_dps
        self.kpi_dp_count = np.bincount(ref.dp_kpi, minlength=len(ref.kpi_id))
        self.category_kpis: dict[str, list[int]] = {}
        self.category_dim: dict[str, int] = {}
        for k, category in enumerate(ref.kpi_category):
            self.category_dim.setdefault(category, int(ref.kpi_dim[k]))
            if k in outcome_dps:
                self.category_kpis.setdefault(category, []).append(k)
        self.dimension_kpis: dict[int, list[int]] = {}
        for k in outcome_dps:
            self.dimension_kpis.setdefault(int(ref.kpi_dim[k]), []).append(k)
        self.category_sdgs: dict[str, list[int]] = {}
        for k, category in enumerate(ref.kpi_category):
            self.category_sdgs.setdefault(category, []).extend(ref.kpi_sdgs[k])
        popularity = {
            "Transport": 3.0,
            "Energy": 2.5,
            "ICT Infrastructure": 2.5,
            "Water and Sanitation": 2.0,
            "Electricity Supply": 1.8,
            "Waste": 1.8,
            "Buildings": 1.8,
            "Public Sector": 1.8,
            "Air Quality": 1.5,
            "Health": 1.5,
            "Safety": 1.5,
            "Education": 1.2,
            "Urban Planning": 1.2,
            "Employment": 0.6,
            "Culture": 0.5,
            "Food Security": 0.5,
        }
        self.category_weights = [popularity.get(c, 1.0) for c in ref.categories]
        self.category_p = np.asarray(self.category_weights) / sum(self.category_weights)
        self.dim_categories: dict[int, list[str]] = {}
        for category in ref.categories:
            self.dim_categories.setdefault(self.category_dim[category], []).append(category)

    # ---------------------------------------------------------------------------------------- cities

    def cities(self, count: int) -> None:
        ref, rng, rnd = self.ref, self.rng("cities"), self.rnd("cities")
        width = _width(count)
        weights = _country_weights(ref.countries, CITY_REGION_WEIGHT, None)
        country = rng.choice(len(ref.countries), size=count, p=weights)
        population = np.exp(rng.normal(math.log(110_000), 1.2, count))
        tail = rng.random(count) < 0.03
        population = np.where(tail, 500_000 * (1.0 - rng.random(count)) ** -1.0, population)
        over = population > 20_000_000
        population = np.where(over, 20_000_000 * rng.uniform(0.45, 1.0, count), population)
        population = np.clip(np.round(population, -2), 5_000, 20_000_000).astype(np.int64)
        density = np.exp(rng.normal(math.log(2_500), 0.6, count))
        area = np.round(population / density, 1)
        lat0 = np.array([ref.countries[c].lat for c in country])
        lon0 = np.array([ref.countries[c].lon for c in country])
        spread = np.array([ref.countries[c].spread for c in country])
        lat = np.clip(lat0 + rng.normal(0, 0.45, count) * spread, -85, 85)
        lon = lon0 + rng.normal(0, 0.45, count) * spread / np.maximum(np.cos(np.radians(lat)), 0.2)
        lon = (lon + 180.0) % 360.0 - 180.0
        income = np.array([INCOME_LEVEL.get(ref.countries[c].income, 0.0) for c in country])
        self.city_dev = income + rng.normal(0, 0.75, count)
        data_public = rng.random(count) < 0.6
        population_year = rng.choice(np.arange(2018, 2025), size=count)
        age_days = rng.integers(0, 1500, size=count)
        base = self.next_id("city")
        rows: list[dict[str, Any]] = []
        self.city_languages = []
        for i in range(count):
            c = ref.countries[int(country[i])]
            languages = [rnd.choices(c.languages, weights=[0.7**j for j in range(len(c.languages))])[0]]
            if len(c.languages) > 1 and rnd.random() < 0.25:
                other = rnd.choice(c.languages)
                if other not in languages:
                    languages.append(other)
            if "en" not in languages and rnd.random() < 0.2:
                languages.append("en")
            self.city_languages.append(languages)
            number = f"{i + 1:0{width}d}"
            name = f"Synthetic City {number}"
            created = SYNTHETIC_EPOCH - timedelta(days=int(age_days[i]), minutes=i % 1440)
            rows.append(
                {
                    "id": base + i,
                    "slug": f"{PREFIX['city']}{number}",
                    "name": name,
                    "country_code": c.code,
                    "region": f"Synthetic Region {rnd.randint(1, 12):02d}",
                    "population": int(population[i]),
                    "population_year": int(population_year[i]),
                    "area_km2": float(max(area[i], 1.0)),
                    "latitude": round(float(lat[i]), 4),
                    "longitude": round(float(lon[i]), 4),
                    "languages": languages,
                    "climate": _koeppen(float(lat[i]), c.subregion, rnd),
                    "data_public": bool(data_public[i]),
                    "is_demo": True,
                    "source": self.source,
                    "version": 1,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            self.city_names.append(name)
        self.city_ids = [base + i for i in range(count)]
        self.city_country = country.astype(np.int64)
        self.city_population = population
        with self.bar("cities", count) as bar:
            self.insert("city", rows, bar)
        self.cities_in_country: dict[int, tuple[list[int], list[float]]] = {}
        for index in range(len(ref.countries)):
            members = np.flatnonzero(country == index)
            if len(members):
                cumulative = np.cumsum(np.sqrt(population[members].astype(np.float64)))
                self.cities_in_country[index] = (members.tolist(), cumulative.tolist())
        self.city_cumulative = np.cumsum(np.sqrt(population.astype(np.float64))).tolist()

    def pick_city(self, rnd: random.Random, country: int | None) -> int:
        if country is not None and country in self.cities_in_country:
            members, cumulative = self.cities_in_country[country]
            return rnd.choices(members, cum_weights=cumulative)[0]
        return rnd.choices(range(len(self.city_ids)), cum_weights=self.city_cumulative)[0]

    # ---------------------------------------------------------------------------------------- observations

    def observations(self) -> None:
        ref, rng, model = self.ref, self.rng("observations"), self.model
        n, nd, nk = len(self.city_ids), len(ref.dp_id), len(ref.kpi_id)
        if n == 0 or nd == 0:
            self.z = np.zeros((n, nd))
            return
        dev = self.city_dev
        kd = ref.dp_kpi
        dimension = 0.7 * dev[:, None] + 0.6 * rng.standard_normal((n, len(ref.dimensions)))
        sub = rng.standard_normal((n, int(ref.kpi_sub.max()) + 1))
        per_kpi = rng.standard_normal((n, nk))
        offset = rng.normal(0, 0.25, nd)
        z = (
            0.6 * dimension[:, ref.kpi_dim[kd]]
            + 0.3 * sub[:, ref.kpi_sub[kd]]
            + 0.25 * per_kpi[:, kd]
            + 0.45 * rng.standard_normal((n, nd))
            + offset
        )
        self.z = z
        noise = rng.standard_normal((n, nd))
        # Which data points each city reports: its coverage, core far more often than advanced, the data
        # points of one KPI mostly together (weighted sampling without replacement, Efraimidis-Spirakis).
        coverage = np.clip(0.6 + 0.1 * dev + 0.15 * rng.standard_normal(n), 0.3, 0.9)
        reported = np.maximum(1, np.rint(coverage * nd)).astype(np.int64)
        kpi_weight = np.where(ref.kpi_core, 4.0, 1.0) * np.exp(rng.normal(0, 0.25, nk))
        u = 0.85 * rng.random((n, nk))[:, kd] + 0.15 * rng.random((n, nd)) + 1e-12
        keys = np.log(u) / kpi_weight[kd]
        ranks = np.argsort(np.argsort(-keys, axis=1, kind="stable"), axis=1, kind="stable")
        mask = ranks < reported[:, None]
        latest = rng.choice(np.arange(2020, 2025), size=n, p=[0.06, 0.12, 0.2, 0.34, 0.28])
        history = np.where(rng.random(n) < 0.08, rng.integers(1, 3, n), 0)
        ci, di = np.nonzero(mask)
        parts_c, parts_d, parts_y, parts_v = [ci], [di], [latest[ci]], [model.values(z[ci, di], noise[ci, di], di)]
        for back in (1, 2):
            keep = mask & (history[:, None] >= back) & (rng.random((n, nd)) < 0.85)
            hc, hd = np.nonzero(keep)
            drift = z[hc, hd] - 0.12 * back + 0.2 * rng.standard_normal(len(hc))
            parts_c.append(hc)
            parts_d.append(hd)
            parts_y.append(latest[hc] - back)
            parts_v.append(model.values(drift, noise[hc, hd], hd))
        city = np.concatenate(parts_c)
        point = np.concatenate(parts_d)
        year = np.concatenate(parts_y)
        value = np.concatenate(parts_v)
        order = np.lexsort((point, year, city))
        city, point, year, value = city[order], point[order], year[order], value[order]
        m = len(city)
        u_quality = rng.random(m) ** np.exp(0.25 * np.clip(dev[city], -2, 2))
        quality = np.minimum(np.searchsorted(np.cumsum(DATA_QUALITY_P), u_quality, side="right"), 5)
        verified_city = rng.random(n) < 0.2
        verified = np.where(verified_city[city], (quality <= 1) & (rng.random(m) < 0.9), rng.random(m) < 0.03)
        base = self.next_id("kpi_observation")
        source = f"synthetic (seed {self.seed})"
        stamps = {y: min(datetime(y + 1, 6, 30, tzinfo=UTC), SYNTHETIC_EPOCH) for y in range(2015, 2026)}
        city_ids = np.asarray(self.city_ids)[city].tolist()
        dp_ids = np.asarray(ref.dp_id)[point].tolist()
        with self.bar("observations", m) as bar:
            for start in range(0, m, CHUNK_ROWS * 5):
                stop = min(m, start + CHUNK_ROWS * 5)
                rows = [
                    {
                        "id": base + j,
                        "city_id": city_ids[j],
                        "data_point_id": dp_ids[j],
                        "year": y,
                        "value": v,
                        "data_quality": DATA_QUALITY[q],
                        "verified": ver,
                        "source": source,
                        "note": "",
                        "created_at": stamps[y],
                        "updated_at": stamps[y],
                    }
                    for j, y, v, q, ver in zip(
                        range(start, stop),
                        year[start:stop].tolist(),
                        value[start:stop].tolist(),
                        quality[start:stop].tolist(),
                        verified[start:stop].tolist(),
                        strict=True,
                    )
                ]
                self.insert("kpi_observation", rows, bar)

    # ---------------------------------------------------------------------------------------- vendors

    def vendors(self, count: int) -> None:
        ref, rng, rnd = self.ref, self.rng("vendors"), self.rnd("vendors")
        composer = Composer(self.seed, "vendors", rnd)
        width = _width(count)
        weights = _country_weights(ref.countries, VENDOR_REGION_WEIGHT, VENDOR_INCOME_WEIGHT)
        self.vendor_country_cumulative = np.cumsum(weights).tolist()
        country = rng.choice(len(ref.countries), size=count, p=weights)
        size = rng.choice(4, size=count, p=[0.4, 0.33, 0.18, 0.09])
        primary = rng.choice(len(ref.categories), size=count, p=self.category_p)
        verified = rng.random(count) < np.array([0.05, 0.12, 0.3, 0.5])[size]
        founded = rng.integers(1985, 2024, size=count)
        age_days = rng.integers(200, 2000, size=count)
        base = self.next_id("vendor")
        sizes = ("micro", "small", "medium", "large")
        staff_range = ((2, 9), (10, 49), (50, 249), (250, 5000))
        rows: list[dict[str, Any]] = []
        for i in range(count):
            category = ref.categories[int(primary[i])]
            categories = [category]
            if rnd.random() < 0.4:
                others = [c for c in self.dim_categories[self.category_dim[category]] if c != category]
                if others:
                    categories.append(rnd.choice(others))
            brand = composer.brand(category)
            suffix = rnd.choice(VENDOR_SUFFIXES)
            number = f"{i + 1:0{width}d}"
            home = ref.countries[int(country[i])]
            staff = rnd.randint(*staff_range[int(size[i])])
            products = [composer.word(category, "product")]
            for _ in range(3):
                other = composer.word(categories[-1], "product")
                if other != products[0]:
                    products.append(other)
                    break
            sentences = [
                f"{brand} {suffix} builds {' and '.join(products)} for {composer.word(category, 'who')}.",
                f"Founded in {int(founded[i])} in {home.name}, the company employs about {staff} people.",
            ]
            context = {"Brand": brand, "Line": composer.line()}
            sentences += composer.solution_sentences(categories, context, rnd.randint(0, 2))
            created = SYNTHETIC_EPOCH - timedelta(days=int(age_days[i]), minutes=i % 1440)
            rows.append(
                {
                    "id": base + i,
                    "slug": f"{PREFIX['vendor']}{number}",
                    "name": f"Synthetic Vendor {number} {brand} {suffix}",
                    "country_code": home.code,
                    "website": f"https://{PREFIX['vendor']}{number}.example.com",
                    "size": sizes[int(size[i])],
                    "description": " ".join(sentences),
                    "verified": bool(verified[i]),
                    "is_demo": True,
                    "source": self.source,
                    "version": 1,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            self.vendor_brand.append(brand)
            self.vendor_categories.append(categories)
        self.vendor_ids = [base + i for i in range(count)]
        self.vendor_country = country.tolist()
        self.vendor_size = size.tolist()
        with self.bar("vendors", count) as bar:
            self.insert("vendor", rows, bar)

    # ---------------------------------------------------------------------------------------- solutions

    def solutions(self, count: int) -> None:
        ref, rng, rnd = self.ref, self.rng("solutions"), self.rnd("solutions")
        composer = Composer(self.seed, "solutions", rnd)
        nv, nk = len(self.vendor_ids), len(ref.kpi_id)
        if count and (nv == 0 or nk == 0):
            raise ValueError("solutions need vendors and KPIs")
        width = _width(count)
        vendor_weight = np.array([1.0, 2.5, 6.0, 15.0])[np.asarray(self.vendor_size, dtype=np.int64)]
        vendor_weight = vendor_weight * np.exp(rng.normal(0, 0.5, nv))
        vendor = np.empty(count, dtype=np.int64)
        first = min(nv, count)
        vendor[:first] = rng.permutation(nv)[:first]
        if count > nv:
            vendor[nv:] = rng.choice(nv, size=count - nv, p=vendor_weight / vendor_weight.sum())
        maturities = ("concept", "pilot", "market_ready", "scaled")
        prices = ("subscription", "licence", "per_unit", "project", "open_source", "free")
        statuses = ("draft", "submitted", "changes_requested", "published", "rejected", "archived")
        maturity = rng.choice(4, size=count, p=[0.1, 0.25, 0.45, 0.2])
        price = rng.choice(6, size=count, p=[0.35, 0.2, 0.12, 0.2, 0.08, 0.05])
        status = rng.choice(6, size=count, p=[0.035, 0.03, 0.01, 0.9, 0.005, 0.02])
        n_categories = rng.choice([1, 2, 3], size=count, p=[0.5, 0.35, 0.15])
        n_impacts = rng.choice([1, 2, 3, 4, 5], size=count, p=[0.3, 0.3, 0.2, 0.12, 0.08])
        effects = np.round(0.05 + 0.55 * rng.beta(1.2, 3.0, size=(count, 5)), 3)
        levels = rng.choice(3, size=(count, 5), p=[0.6, 0.3, 0.1])
        age_days = rng.integers(100, 1800, size=count)
        extra_mean = (0.8, 1.5, 3.0, 7.0)
        region_members: dict[str, list[int]] = {}
        for c, country in enumerate(ref.countries):
            region_members.setdefault(country.region, []).append(c)
        nc = len(ref.countries)
        base = self.next_id("solution")
        self.solution_ids = [base + i for i in range(count)]
        buffers: dict[str, list[dict[str, Any]]] = {
            name: []
            for name in ("solution", "solution_category", "solution_sdg", "solution_country", "solution_language")
        }
        with self.bar("solutions", count) as bar:
            for i in range(count):
                v = int(vendor[i])
                sid = base + i
                # Categories: mostly the vendor's own, then neighbours in the same dimension.
                roll = rnd.random()
                own = self.vendor_categories[v]
                if roll < 0.7:
                    categories = [own[0]]
                elif roll < 0.85:
                    categories = [own[-1]]
                else:
                    categories = [rnd.choices(ref.categories, weights=self.category_weights)[0]]
                for _ in range(int(n_categories[i]) - 1):
                    if rnd.random() < 0.6:
                        extra = rnd.choice(self.dim_categories[self.category_dim[categories[0]]])
                    else:
                        extra = rnd.choices(ref.categories, weights=self.category_weights)[0]
                    if extra not in categories:
                        categories.append(extra)
                category = categories[0]
                # SDGs of the categories' KPIs, and SDG 11 often.
                pool = sorted({g for c in categories for g in self.category_sdgs.get(c, [])})
                sdgs = set(rnd.sample(pool, min(len(pool), rnd.choice((1, 2, 2, 3, 3, 4))))) if pool else set()
                if rnd.random() < 0.5 or not sdgs:
                    sdgs.add(11)
                # Countries: the vendor's home, and more for bigger vendors, mostly in the same region.
                home = self.vendor_country[v]
                countries = [home]
                extra_count = min(nc - 1, int(rnd.expovariate(1.0 / extra_mean[self.vendor_size[v]])))
                for _ in range(extra_count * 2):
                    if len(countries) > extra_count:
                        break
                    if rnd.random() < 0.7:
                        candidate = rnd.choice(region_members[ref.countries[home].region])
                    else:
                        candidate = rnd.choices(range(nc), cum_weights=self.vendor_country_cumulative)[0]
                    if candidate not in countries:
                        countries.append(candidate)
                languages = {ref.countries[c].languages[0] for c in countries[:4]}
                if rnd.random() < 0.8 or not languages:
                    languages.add("en")
                # Impact claims on KPIs of the categories.
                kpis: list[int] = []
                for name in categories:
                    kpis += [k for k in self.category_kpis.get(name, []) if k not in kpis]
                rnd.shuffle(kpis)
                wanted = int(n_impacts[i])
                if len(kpis) < wanted:
                    more = [k for k in self.dimension_kpis.get(self.category_dim[category], []) if k not in kpis]
                    rnd.shuffle(more)
                    kpis += more
                if not kpis:
                    kpis = list(self.kpi_outcome_dps) or list(range(nk))
                impact_rows = []
                for j, k in enumerate(kpis[:wanted]):
                    point = -1
                    if self.kpi_dp_count[k] > 1 and k in self.kpi_outcome_dps and rnd.random() < 0.5:
                        point = rnd.choice(self.kpi_outcome_dps[k])
                    impact_rows.append(len(self.impacts))
                    self.impacts.append(
                        (i, k, point, float(effects[i, j]), ("claimed", "piloted", "verified")[int(levels[i, j])])
                    )
                self.impacts_of.append(impact_rows)
                # Text.
                brand = self.vendor_brand[v]
                line = composer.line()
                product = composer.word(category, "product")
                roll = rnd.random()
                if roll < 0.4:
                    title = f"{brand} {_title(product)}"
                elif roll < 0.75:
                    title = f"{brand} {line} {_title(product)}"
                else:
                    title = f"{line} {_title(composer.word(category, 'adj'))} {_title(product)}"
                context = {"Brand": brand, "Line": line, "product": product}
                summary = composer.fill(
                    _parse(
                        rnd.choice(
                            (
                                "{adj} {product} that helps cities {goal}.",
                                "{adj} {product} for {who}: {goal} and {goal2}.",
                                "Helps {who} {goal} with {tech} and {tech2}.",
                                "{product} that tackles {problem} with {tech}.",
                            )
                        )
                    ),
                    category,
                    context,
                )
                sentences = composer.solution_sentences(categories, context, rnd.randint(3, 12))
                first_claim = self.impacts[impact_rows[0]]
                sentences.insert(
                    rnd.randint(1, len(sentences)),
                    f"It targets {ref.kpi_name[first_claim[1]]}, where it expects to close about "
                    f"{round(first_claim[3] * 100)} % of a city's gap.",
                )
                standards_pool = list(dict.fromkeys(composer.vocabulary(category).standards + GENERIC_STANDARDS))
                standards = rnd.sample(standards_pool, rnd.choice((0, 1, 1, 2, 2, 3)))
                st = statuses[int(status[i])]
                created = SYNTHETIC_EPOCH - timedelta(days=int(age_days[i]), minutes=i % 1440)
                submitted = None if st == "draft" else created + timedelta(days=rnd.randint(1, 60))
                published = (
                    submitted + timedelta(days=rnd.randint(1, 30))
                    if submitted is not None and st in ("published", "archived")
                    else None
                )
                updated = published or submitted or created
                buffers["solution"].append(
                    {
                        "id": sid,
                        "vendor_id": self.vendor_ids[v],
                        "slug": f"{PREFIX['solution']}{i + 1:0{width}d}",
                        "title": title[:200],
                        "summary": summary[:500],
                        "description": " ".join(sentences),
                        "maturity": maturities[int(maturity[i])],
                        "price_model": prices[int(price[i])],
                        "standards": standards,
                        "status": st,
                        "is_demo": True,
                        "source": self.source,
                        "version": 1,
                        "submitted_at": submitted,
                        "published_at": published,
                        "created_at": created,
                        "updated_at": updated,
                    }
                )
                buffers["solution_category"] += [{"solution_id": sid, "category": c} for c in categories]
                buffers["solution_sdg"] += [{"solution_id": sid, "sdg": g} for g in sorted(sdgs)]
                buffers["solution_country"] += [
                    {"solution_id": sid, "country_code": ref.countries[c].code} for c in countries
                ]
                buffers["solution_language"] += [{"solution_id": sid, "language": lang} for lang in sorted(languages)]
                self.solution_title.append(title)
                self.solution_categories.append(categories)
                self.solution_countries.append(countries)
                self.solution_status.append(st)
                self.solution_maturity.append(maturities[int(maturity[i])])
                if len(buffers["solution"]) >= CHUNK_ROWS or i == count - 1:
                    for name, rows in buffers.items():
                        self.insert(name, rows)
                        rows.clear()
                    bar.update(bar.total - bar.n if i == count - 1 else CHUNK_ROWS)

    # ---------------------------------------------------------------------------------------- case studies

    def case_studies(self, count: int) -> None:
        ref, rng, rnd = self.ref, self.rng("case_studies"), self.rnd("case_studies")
        if count and not self.city_ids:
            raise ValueError("case studies need cities")
        composer = Composer(self.seed, "case_studies", rnd)
        width = _width(count)
        published = [s for s, st in enumerate(self.solution_status) if st == "published"]
        verified_pool = [s for s in published if any(self.impacts[j][4] == "verified" for j in self.impacts_of[s])]
        by_category: dict[str, list[int]] = {}
        for s in published:
            by_category.setdefault(self.solution_categories[s][0], []).append(s)
        n_links = rng.choice(3, size=count, p=[0.2, 0.6, 0.2])
        n_outcomes = rng.choice(4, size=count, p=[0.25, 0.35, 0.25, 0.15])
        years = np.arange(2012, 2025)
        year = rng.choice(years, size=count, p=(years - 2010) / (years - 2010).sum())
        english = rng.random(count) < 0.85
        base = self.next_id("case_study")
        outcome_id = self.next_id("case_study_outcome")
        model = self.model
        with self.bar("case studies", count) as bar:
            for start in range(0, count, CHUNK_ROWS):
                stop = min(count, start + CHUNK_ROWS)
                plans: list[tuple[int, list[int], str, list[tuple[int, int, float]]]] = []
                for i in range(start, stop):
                    links: list[int] = []
                    if published and n_links[i] > 0:
                        pool = verified_pool if verified_pool and rnd.random() < 0.5 else published
                        links.append(rnd.choice(pool))
                        if n_links[i] == 2:
                            peers = by_category.get(self.solution_categories[links[0]][0], [])
                            other = rnd.choice(peers) if peers else rnd.choice(published)
                            if other != links[0]:
                                links.append(other)
                    if links:
                        city = self.pick_city(rnd, rnd.choice(self.solution_countries[links[0]]))
                        category = self.solution_categories[links[0]][0]
                    else:
                        city = self.pick_city(rnd, None)
                        category = rnd.choices(ref.categories, weights=self.category_weights)[0]
                    # Outcomes: first on the linked solutions' claims (verified ones first), then on the
                    # category's KPIs.
                    candidates: list[tuple[int, int, float]] = []
                    for s in links:
                        claims = sorted(self.impacts_of[s], key=lambda j: self.impacts[j][4] != "verified")
                        candidates += [(self.impacts[j][1], self.impacts[j][2], self.impacts[j][3]) for j in claims]
                    extra = list(self.category_kpis.get(category, []))
                    rnd.shuffle(extra)
                    candidates += [(k, -1, 0.2) for k in extra]
                    wanted = int(n_outcomes[i])
                    if links and links[0] in verified_pool:
                        wanted = max(wanted, 1)
                    outcomes: list[tuple[int, int, float]] = []
                    seen: set[int] = set()
                    for k, point, effect in candidates:
                        if len(outcomes) >= wanted:
                            break
                        if k in seen or k not in self.kpi_outcome_dps:
                            continue
                        seen.add(k)
                        if point < 0:
                            point = rnd.choice(self.kpi_outcome_dps[k])
                        outcomes.append((k, point, effect))
                    plans.append((city, links, category, outcomes))
                # Before and after values, from the city's latent level, better after by the effect.
                flat = [(city, point, effect) for city, _, _, outcomes in plans for _, point, effect in outcomes]
                oc = np.array([f[0] for f in flat], dtype=np.int64)
                od = np.array([f[1] for f in flat], dtype=np.int64)
                oe = np.array([f[2] for f in flat], dtype=np.float64)
                z_before = (self.z[oc, od] if self.z.size else np.zeros(len(flat))) - 0.15
                z_after = z_before + 0.35 + 2.0 * oe
                zeros = np.zeros(len(flat))
                before = model.values(z_before, zeros, od).tolist()
                after = model.values(z_after, zeros, od).tolist()
                rows: list[dict[str, Any]] = []
                links_rows: list[dict[str, Any]] = []
                outcome_rows: list[dict[str, Any]] = []
                cursor = 0
                for offset, (city, links, category, outcomes) in enumerate(plans):
                    i = start + offset
                    cid = base + i
                    y = int(year[i])
                    texts: list[str] = []
                    for k, point, _ in outcomes:
                        b, a = _ordered(
                            before[cursor],
                            after[cursor],
                            int(model.dir[point]),
                            bool(model.pct[point]),
                            bool(model.integer[point]),
                            bool(model.yesno[point]),
                        )
                        cursor += 1
                        y0 = y - rnd.randint(1, 3)
                        label = ref.kpi_name[k] + (f" ({ref.dp_key[point]})" if ref.dp_key[point] else "")
                        texts.append(f"{label} went from {b:g} to {a:g} between {y0} and {y}.")
                        outcome_rows.append(
                            {
                                "id": outcome_id,
                                "case_study_id": cid,
                                "kpi_id": ref.kpi_id[k],
                                "data_point_id": ref.dp_id[point],
                                "value_before": b,
                                "value_after": a,
                                "year_before": y0,
                                "year_after": y,
                                "note": "",
                            }
                        )
                        outcome_id += 1
                        for s in links:
                            self.backing.setdefault((s, k), cid)
                    for s in links:
                        links_rows.append({"case_study_id": cid, "solution_id": self.solution_ids[s]})
                        self.case_deployments.append((s, city, y - rnd.randint(0, 2)))
                    rows.append(
                        self._case_row(composer, rnd, i, width, cid, city, links, category, texts, y, bool(english[i]))
                    )
                self.insert("case_study", rows)
                self.insert("case_study_solution", links_rows)
                self.insert("case_study_outcome", outcome_rows)
                bar.update(stop - start)

    def _case_row(
        self,
        composer: Composer,
        rnd: random.Random,
        i: int,
        width: int,
        cid: int,
        city: int,
        links: list[int],
        category: str,
        outcome_texts: list[str],
        year: int,
        english: bool,
    ) -> dict[str, Any]:
        ref = self.ref
        city_name = self.city_names[city]
        country = ref.countries[int(self.city_country[city])]
        solution = self.solution_title[links[0]] if links else ""
        problem = composer.word(category, "problem")
        goal = composer.word(category, "goal")
        roll = rnd.random()
        if solution and roll < 0.45:
            title = f"{city_name}: {_cap(goal)} with {solution}"
        elif roll < 0.75:
            title = f"How {city_name} tackled {problem}"
        else:
            adjective, product = composer.word(category, "adj"), composer.word(category, "product")
            title = f"{_title(adjective)} {_title(product)} in {city_name}"
        if solution:
            summary = f"{city_name} used {solution} to {goal}."
        else:
            summary = f"{_cap(composer.word(category, 'dept'))} in {city_name} set out to {goal}."
        if outcome_texts:
            summary += " " + outcome_texts[0]
        sentences = [
            f"{city_name}, a city of about {int(self.city_population[city]):,} people in {country.name}, "
            f"faced {problem} in {composer.word(category, 'area')}."
        ]
        if solution:
            names = " and ".join(self.solution_title[s] for s in links)
            sentences.append(f"The city chose {names} through {composer.word(category, 'procurement')}.")
        sentences += outcome_texts
        words = sum(s.count(" ") + 1 for s in sentences)
        target = rnd.randint(80, 185)
        context = {"start": str(year - rnd.randint(1, 3)), "dept_cap": _cap(composer.word(category, "dept"))}
        filler = composer.case_sentences(category, context)
        while words < target:
            sentence = next(filler)
            count = sentence.count(" ") + 1
            if words + count > 200:
                break
            sentences.append(sentence)
            words += count
        languages = self.city_languages[city]
        language = "en" if english or not languages else languages[0]
        created = min(
            datetime(year, 1, 1, tzinfo=UTC) + timedelta(days=rnd.randint(0, 700), minutes=i % 1440), SYNTHETIC_EPOCH
        )
        return {
            "id": cid,
            "slug": f"{PREFIX['case_study']}{i + 1:0{width}d}",
            "title": title[:300],
            "city_id": self.city_ids[city],
            "summary": summary,
            "body": " ".join(sentences),
            "year": year,
            "language": language,
            "source": self.source,
            "source_url": "",
            "status": "published",
            "is_demo": True,
            "version": 1,
            "created_at": created,
            "updated_at": created,
        }

    # ---------------------------------------------------------------------------------------- impacts

    def impacts_and_deployments(self) -> None:
        ref, rng, rnd = self.ref, self.rng("deployments"), self.rnd("deployments")
        base = self.next_id("solution_kpi_impact")
        rows: list[dict[str, Any]] = []
        for j, (s, k, point, effect, level) in enumerate(self.impacts):
            case_id = self.backing.get((s, k)) if level == "verified" else None
            if level == "verified" and case_id is None:
                level = "piloted"  # no case study backs it (yet): the vendor piloted it
            rows.append(
                {
                    "id": base + j,
                    "solution_id": self.solution_ids[s],
                    "kpi_id": ref.kpi_id[k],
                    "data_point_id": ref.dp_id[point] if point >= 0 else None,
                    "expected_effect": effect,
                    "evidence_level": level,
                    "case_study_id": case_id,
                    "note": "",
                }
            )
        deployments = set(self.case_deployments)
        if self.city_ids:
            rate = {"concept": 0.05, "pilot": 0.4, "market_ready": 0.8, "scaled": 2.0}
            live = [s for s, st in enumerate(self.solution_status) if st in ("published", "archived")]
            counts: list[int] = rng.poisson([rate[self.solution_maturity[s]] for s in live]).tolist() if live else []
            for s, n in zip(live, counts, strict=True):
                for _ in range(n):
                    country = rnd.choice(self.solution_countries[s])
                    if country in self.cities_in_country:
                        deployments.add((s, self.pick_city(rnd, country), rnd.randint(2015, 2024)))
        deployment_base = self.next_id("solution_deployment")
        deployment_rows = [
            {"id": deployment_base + j, "solution_id": self.solution_ids[s], "city_id": self.city_ids[c], "year": y}
            for j, (s, c, y) in enumerate(sorted(deployments))
        ]
        with self.bar("impacts and deployments", len(rows) + len(deployment_rows)) as bar:
            self.insert("solution_kpi_impact", rows, bar)
            self.insert("solution_deployment", deployment_rows, bar)

    def finish(self) -> None:
        if self.conn.dialect.name != "postgresql":
            return
        for name in TABLES_WITH_ID:
            t = _table(name)
            self.conn.execute(
                sa.select(
                    sa.func.setval(
                        sa.func.pg_get_serial_sequence(name, "id"),
                        sa.select(sa.func.coalesce(sa.func.max(t.c.id), 1)).scalar_subquery(),
                    )
                )
            )


def _ordered(before: float, after: float, direction: int, pct: bool, integer: bool, yesno: bool) -> tuple[float, float]:
    """Before and after so that after is strictly better in the data point's direction."""
    if yesno:
        return (0.0, 1.0) if direction == HIGHER else (1.0, 0.0)
    step = 1.0 if integer else 0.01
    if direction == HIGHER and after <= before:
        if after <= 0:
            after = step
        before = float(np.round(after * 0.85, 0 if integer else 2))
        if before >= after:
            before = max(0.0, after - step)
    elif direction == LOWER and after >= before:
        before = max(before, after) * 1.15 + step
        if pct and before > 100:
            before = 100.0
            after = min(after, 90.0)
        before = float(np.round(before, 0 if integer else 2))
        if after >= before:
            after = max(0.0, before - step)
    return before, after


def _country_weights(
    countries: list[CountryRef], region_weight: dict[str, float], income_weight: dict[str, float] | None
) -> NDArray[np.float64]:
    """Regional shares, split within a region by a damped population (and income)."""
    raw = np.array(
        [c.population_m**0.4 * (income_weight.get(c.income, 1.0) if income_weight else 1.0) for c in countries]
    )
    out = np.zeros(len(countries))
    regions = [c.region for c in countries]
    for region in sorted(set(regions)):
        members = [i for i, r in enumerate(regions) if r == region]
        out[members] = region_weight.get(region, 0.03) * raw[members] / raw[members].sum()
    normalised: NDArray[np.float64] = out / out.sum()
    return normalised


# ------------------------------------------------------------------------------------------------ entry points


def _synthetic_filter(name: str) -> sa.ColumnElement[bool]:
    key = "case_study" if name == "case_study" else name
    return _table(name).c.slug.like(f"{PREFIX[key]}%")


def existing_synthetic(conn: Connection) -> dict[str, int]:
    """How many synthetic cities, vendors, solutions and case studies the database holds."""
    return {
        name: int(
            conn.execute(
                sa.select(sa.func.count()).select_from(_table(name)).where(_synthetic_filter(name))
            ).scalar_one()
        )
        for name in ("city", "vendor", "solution", "case_study")
    }


def generate_synthetic(
    engine: Engine, *, cities: int, solutions: int, case_studies: int, seed: int = 42, progress: bool = True
) -> SyntheticReport:
    """Add synthetic cities (with KPI observations), vendors, solutions and case studies, in one transaction.

    Needs the reference data (KPIs, data points, benchmarks, countries). Skips, adding nothing, when the
    database already holds synthetic rows (remove them first with `remove_synthetic` to regenerate).
    """
    if min(cities, solutions, case_studies) < 0:
        raise ValueError("counts must not be negative")
    if seed < 0:
        raise ValueError("the seed must not be negative")
    started = time.perf_counter()
    report = SyntheticReport(rows=dict.fromkeys(TABLES, 0))
    with engine.begin() as conn:
        existing = existing_synthetic(conn)
        if any(existing.values()):
            report.skipped = True
            report.message = (
                "synthetic data already present ("
                + ", ".join(f"{count:,} {name}" for name, count in existing.items())
                + "): nothing added; remove it first to generate again"
            )
            log.info(report.message)
            report.total_seconds = time.perf_counter() - started
            return report
        clock = time.perf_counter()
        ref = read_reference(conn)
        if not ref.countries:
            raise ValueError("no countries in the database: load the reference data first")
        if not ref.dp_id:
            raise ValueError("no KPI data points in the database: load the reference data first")
        if case_studies and not cities:
            raise ValueError("case studies need cities")
        generator = _Generator(conn, ref, seed=seed, progress=progress, report=report)
        report.seconds["reference"] = time.perf_counter() - clock
        vendors = 0 if solutions == 0 else max(1, round(solutions / 8))
        phases: list[tuple[str, Callable[[], None]]] = [
            ("cities", lambda: generator.cities(cities)),
            ("observations", generator.observations),
            ("vendors", lambda: generator.vendors(vendors)),
            ("solutions", lambda: generator.solutions(solutions)),
            ("case studies", lambda: generator.case_studies(case_studies)),
            ("impacts and deployments", generator.impacts_and_deployments),
            ("finish", generator.finish),
        ]
        for name, run in phases:
            clock = time.perf_counter()
            run()
            report.seconds[name] = time.perf_counter() - clock
        clock = time.perf_counter()
    report.seconds["commit"] = time.perf_counter() - clock
    report.total_seconds = time.perf_counter() - started
    log.info("synthetic data added: %s rows in %.1f s", f"{report.total_rows:,}", report.total_seconds)
    return report


def remove_synthetic(engine: Engine) -> dict[str, int]:
    """Delete every synthetic row (by slug prefix) and the rows that hang off them; returns rows deleted.

    Rows that others added on top of synthetic ones (hub catalogue entries, proposals, twinnings, ...) are
    not touched: the database refuses the delete then, and nothing is removed.
    """
    t = {name: _table(name) for name in TABLES}
    cities = sa.select(t["city"].c.id).where(_synthetic_filter("city"))
    solutions = sa.select(t["solution"].c.id).where(_synthetic_filter("solution"))
    cases = sa.select(t["case_study"].c.id).where(_synthetic_filter("case_study"))
    steps: list[tuple[str, sa.ColumnElement[bool]]] = [
        ("case_study_outcome", t["case_study_outcome"].c.case_study_id.in_(cases)),
        (
            "case_study_solution",
            sa.or_(
                t["case_study_solution"].c.case_study_id.in_(cases),
                t["case_study_solution"].c.solution_id.in_(solutions),
            ),
        ),
        ("solution_kpi_impact", t["solution_kpi_impact"].c.solution_id.in_(solutions)),
        (
            "solution_deployment",
            sa.or_(
                t["solution_deployment"].c.solution_id.in_(solutions), t["solution_deployment"].c.city_id.in_(cities)
            ),
        ),
        ("solution_category", t["solution_category"].c.solution_id.in_(solutions)),
        ("solution_sdg", t["solution_sdg"].c.solution_id.in_(solutions)),
        ("solution_country", t["solution_country"].c.solution_id.in_(solutions)),
        ("solution_language", t["solution_language"].c.solution_id.in_(solutions)),
        ("case_study", _synthetic_filter("case_study")),
        ("solution", _synthetic_filter("solution")),
        ("vendor", _synthetic_filter("vendor")),
        ("kpi_observation", t["kpi_observation"].c.city_id.in_(cities)),
        ("city", _synthetic_filter("city")),
    ]
    deleted: dict[str, int] = {}
    with engine.begin() as conn:
        for name, condition in steps:
            deleted[name] = conn.execute(sa.delete(t[name]).where(condition)).rowcount
    return deleted


def dump_rows(conn: Connection) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Every row of the tables the generator writes, in primary-key order (for dumps and comparisons)."""
    for name in TABLES:
        table = _table(name)
        for row in conn.execute(sa.select(table).order_by(*table.primary_key.columns)):
            yield name, tuple(row)
