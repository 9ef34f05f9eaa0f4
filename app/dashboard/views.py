"""What each dashboard page shows, gathered from the domain services (the ones the REST routers call,
with the caller's principal, so the same visibility), plus the words and charts a page adds.

Nothing here decides who may see what, or computes a score: a service refuses (404 or 403) or filters,
and a view leaves the section out. Wording is this module's only business."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape
from sqlmodel import Session

from app.auth import permissions
from app.auth.principal import Principal
from app.case_studies import service as case_studies
from app.challenges import service as challenges
from app.challenges.schemas import CommentOut
from app.cities import kpi_values
from app.cities import service as cities
from app.cities.schemas import CityFilters
from app.core.config import Settings
from app.core.errors import Forbidden, NotFound, Problem
from app.core.pagination import PageRequest
from app.dashboard.charts import number, sparkline
from app.hubs import service as hubs
from app.hubs.models import CatalogueStatus
from app.hubs.schemas import CatalogueEntryBaseOut, HubOut
from app.identity.models import OrganisationKind, Role
from app.kpis import service as kpis
from app.kpis.schemas import KpiFilters
from app.matches import service as matches
from app.matches.models import MatchKind
from app.matches.schemas import KpiReason, SolutionMatchOut
from app.scorecards import service as scorecards
from app.scorecards.schemas import DataPointScoreOut, ScorecardOut
from app.scorecards.wheel import render_wheel
from app.search_index.service import SearchOut, SearchParams, search_catalogue
from app.solutions import service as solutions
from app.solutions.schemas import SolutionOut
from app.vendors import service as vendors
from search import SearchEngine

PAGE = 100
SEARCH_FACETS = ("type", "category", "country")
SEARCH_FILTERS = ("type", "category", "country")


def unit_symbol(text: str) -> str:
    """ "Percentage of households" reads as "%" next to a number (the KPI's name says of what)."""
    return "%" if text == "%" or text.lower().startswith("percentage") else text


def maybe_number(text: str | None) -> str:
    """A context value (population "43000", climate "Cfb") as people write it."""
    if text is None:
        return "unknown"
    try:
        return number(float(text))
    except ValueError:
        return text


def percent(x: float | None) -> str:
    return "n/a" if x is None else f"{round(100 * x)} %"


def _all(fetch: Any) -> list[Any]:
    """Every page of a keyset-paginated service call."""
    items: list[Any] = []
    cursor = None
    while True:
        result = fetch(PageRequest(limit=PAGE, cursor=cursor))
        items.extend(result.items)
        cursor = result.next_cursor
        if cursor is None:
            return items


# --------------------------------------------------------------------------------------------------- home


@dataclass
class Category:
    name: str
    kpis: int


@dataclass
class Subdimension:
    name: str
    categories: list[Category] = field(default_factory=list)


@dataclass
class Dimension:
    name: str
    kpis: int = 0
    subdimensions: list[Subdimension] = field(default_factory=list)


def home(session: Session, principal: Principal) -> dict[str, Any]:
    every_kpi = _all(lambda page: kpis.list_kpis(session, KpiFilters(), page))
    tree: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for kpi in every_kpi:
        tree[kpi.dimension][kpi.subdimension][kpi.category] += 1
    framework = [
        Dimension(
            name=dim,
            kpis=sum(sum(c.values()) for c in subs.values()),
            subdimensions=[Subdimension(s, [Category(c, n) for c, n in cats.items()]) for s, cats in subs.items()],
        )
        for dim, subs in tree.items()
    ]
    public = _all(lambda page: cities.list_cities(session, CityFilters(data_public=True), page))
    hub_list = _all(lambda page: hubs.list_hubs(session, hubs.HubFilters(), page))
    open_challenges = challenges.to_out(
        session, challenges.list_challenges(session, challenges.ChallengeFilters(), PageRequest(limit=10)).items
    )
    mine: dict[str, Any] = {}
    if not principal.is_anonymous:
        # Where the signed-in person works: their cities, their vendor's listings (drafts included, as
        # the listing service shows them to their vendor), the hubs they curate.
        city_ids = principal.target_ids(OrganisationKind.city, Role.city_official)
        mine["cities"] = [c for c in cities.city_refs(session, city_ids).values()]
        mine["listings"] = [
            s  # the service's reads are SolutionOut already
            for vendor_id in sorted(principal.target_ids(OrganisationKind.vendor, Role.vendor_member))
            for s in solutions.list_solutions(
                session, principal, solutions.SolutionFilters(vendor=vendor_id), PageRequest(limit=50)
            ).items
        ]
        hub_ids = principal.target_ids(OrganisationKind.hub, Role.hub_curator)
        mine["hubs"] = [HubOut.from_model(hubs.get_hub(session, h)) for h in sorted(hub_ids)]
    return {
        "mine": mine,
        "framework": framework,
        "kpi_count": len(every_kpi),
        "cities": public,
        "hubs": [HubOut.from_model(h) for h in hub_list],
        "challenges": open_challenges,
    }


# --------------------------------------------------------------------------------------------------- city


@dataclass
class Series:
    kpi: str
    name: str
    data_point: str
    unit: str
    chart: Markup


def _data_point(scorecard: ScorecardOut | None, kpi: str, key: str | None) -> DataPointScoreOut | None:
    if scorecard is None:
        return None
    for score in scorecard.kpis:
        if score.kpi == kpi:
            for dp in score.data_points:
                if dp.key == (key or "") or (not key and dp.scored):
                    return dp
    return None


def _value_words(dp: DataPointScoreOut) -> str:
    unit = f" {unit_symbol(dp.unit)}" if dp.unit else ""
    value = f"{number(dp.value)}{unit}" if dp.value is not None else "no value"
    if dp.benchmark is None or dp.benchmark.value is None:
        return f"you report {value}"
    target = f"{number(dp.benchmark.value)}{unit}"
    verb = {"lower_is_better": "you are at", "higher_is_better": "you reach"}.get(dp.direction, "you report")
    return f"{verb} {value} against a {target} benchmark"


def reason_words(reason: KpiReason, match: SolutionMatchOut, scorecard: ScorecardOut | None) -> str:
    """One KPI reason in words: the city's value against its benchmark, what the listing claims, what the
    outcomes measured and where."""
    name = reason.name + (f" ({reason.data_point})" if reason.data_point else "")
    dp = _data_point(scorecard, reason.kpi, reason.data_point)
    parts = [f"{name}: {_value_words(dp)}" if dp is not None else f"{name}: gap {percent(reason.gap)}"]
    estimate = reason.estimate
    if reason.evidence_level != "none":
        parts.append(f"the vendor claims {percent(reason.expected_effect)} of the gap ({reason.evidence_level})")
    if estimate is not None and estimate.observed_mean is not None and estimate.outcomes:
        places = (
            sorted({i.city.name for i in match.reasons.similar_cities.items if i.kind == "case_study"})
            if not estimate.pooled
            else []
        )
        where = f" in {', '.join(places)}" if places else ""
        whose = "similar listings" if estimate.pooled else "this listing"
        parts.append(
            f"{whose} closed {percent(estimate.observed_mean)} of that gap{where} "
            f"({estimate.outcomes} measured outcome{'s' if estimate.outcomes != 1 else ''}); "
            f"expected here: {percent(estimate.estimate)} "
            f"(90 % interval {round(100 * estimate.low)}-{round(100 * estimate.high)} %)"
        )
    return "; ".join(parts) + "."


def _series(observations: list[Any], scorecard: ScorecardOut | None) -> list[Series]:
    grouped: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for obs in observations:
        grouped[(obs.data_point.kpi.slug, obs.data_point.key)].append(obs)
    out = []
    for (slug, key), rows in sorted(grouped.items(), key=lambda item: (item[1][0].data_point.kpi.code, item[0][1])):
        dp_model = rows[0].data_point
        scored = _data_point(scorecard, slug, key) if scorecard else None
        benchmark = scored.benchmark.value if scored is not None and scored.benchmark is not None else None
        label = dp_model.kpi.name + (f" ({key})" if key else "")
        chart = sparkline([(o.year, o.value) for o in rows], label=label, unit=dp_model.unit, benchmark=benchmark)
        out.append(Series(slug, dp_model.kpi.name, key, dp_model.unit, Markup(chart)))  # noqa: S704 (built escaped)
    return out


def city(session: Session, principal: Principal, settings: Settings, city_id: int) -> dict[str, Any]:
    detail = cities.get_city_detail(session, city_id, principal)  # 404 for no such city
    page: dict[str, Any] = {"city": detail, "scorecard": None, "wheel": None, "matches": None, "twins": None}
    page["may_save_runs"] = permissions.can_run_matches(principal, city_id)
    if not detail.kpi_values_visible:
        return page  # the scorecard, matches and values are the city's private data
    scorecard = scorecards.city_scorecard(session, principal, settings, city_id, None)
    page["scorecard"] = scorecard
    page["wheel"] = Markup(render_wheel(scorecard))  # noqa: S704 (the renderer escapes every text)
    found = matches.solution_matches(session, principal, settings, city_id, limit=5)
    page["matches"] = found
    page["reasons"] = {
        item.rank: [reason_words(r, item, scorecard) for r in item.reasons.kpis if r.contribution > 0][:3]
        for item in found.items
    }
    page["twins"] = matches.twin_matches(session, principal, settings, city_id, limit=3)
    _, observations = kpi_values.export_values(session, principal, city_id, kpi_values.ValueFilters())
    page["series"] = _series(observations, scorecard)
    if page["may_save_runs"]:
        page["runs"] = matches.list_match_runs(session, principal, city_id, PageRequest(limit=10)).items
    return page


# ----------------------------------------------------------------------------------------------- solution


def solution(session: Session, principal: Principal, settings: Settings, solution_id: int) -> dict[str, Any]:
    detail = solutions.get_solution_detail(session, principal, solution_id)  # 404 for a draft not yours
    vendor = vendors.get_vendor_detail(session, detail.vendor.id)
    studies = case_studies.list_case_studies(
        session, principal, case_studies.CaseStudyFilters(solution=solution_id), PageRequest(limit=20)
    ).items
    page: dict[str, Any] = {"solution": detail, "vendor": vendor, "case_studies": studies, "leads": None}
    if permissions.can_read_listing_drafts(principal, detail.vendor.id):
        # Its vendor: the leads, and its other listings, drafts included.
        page["leads"] = matches.solution_leads(session, principal, settings, solution_id, limit=10)
        page["own_listings"] = [
            s
            for s in solutions.list_solutions(
                session, principal, solutions.SolutionFilters(vendor=detail.vendor.id), PageRequest(limit=50)
            ).items
        ]
    return page


# ------------------------------------------------------------------------------------------------- search


@dataclass
class FacetValue:
    value: str
    count: int
    selected: bool
    url: str


def _url(params: dict[str, list[str]]) -> str:
    pairs = [(name, value) for name, values in params.items() for value in values if value]
    return "/search" + (f"?{urlencode(pairs)}" if pairs else "")


def highlight(snippet: str) -> Markup:
    """A search snippet with its matches marked: everything escaped, then only <mark> put back."""
    text = str(escape(snippet))
    return Markup(text.replace("&lt;mark&gt;", "<mark>").replace("&lt;/mark&gt;", "</mark>"))  # noqa: S704


def search(engine: SearchEngine, q: str, selected: dict[str, list[str]], page: int) -> dict[str, Any]:
    filters = {name: tuple(values) for name, values in selected.items() if values and name != "type"}
    params = SearchParams(
        q=q,
        types=tuple(selected.get("type", ())),
        filters={**filters, **({"type": tuple(selected["type"])} if selected.get("type") else {})},
        facets=SEARCH_FACETS,
        page=page,
        per_page=20,
    )
    result: SearchOut = search_catalogue(engine, params)
    base = {"q": [q], **{name: list(values) for name, values in selected.items()}}
    facets: dict[str, list[FacetValue]] = {}
    for name, counts in result.facets.items():
        chosen = selected.get(name, [])
        values = []
        for value, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            toggled = [v for v in chosen if v != value] if value in chosen else [*chosen, value]
            values.append(FacetValue(value, count, value in chosen, _url({**base, name: toggled})))
        facets[name] = values
    pages = (result.total + result.per_page - 1) // result.per_page
    return {
        "result": result,
        "facets": facets,
        "selected": selected,
        "next_url": _url({**base, "page": [str(page + 1)]}) if page < pages else None,
        "previous_url": _url({**base, "page": [str(page - 1)]}) if page > 1 else None,
        "paths": {"solution": "/solutions/{id}", "case_study": None, "vendor": None, "guideline": None},
    }


# ---------------------------------------------------------------------------------------------------- hub


def hub(session: Session, principal: Principal, hub_id: int) -> dict[str, Any]:
    the_hub = HubOut.from_model(hubs.get_hub(session, hub_id))

    def entries(status: CatalogueStatus | None) -> list[tuple[CatalogueEntryBaseOut, SolutionOut]]:
        filters = hubs.CatalogueFilters(status=status)
        hubs.check_catalogue_filters(principal, hub_id, filters)
        rows = _all(lambda page: hubs.get_catalogue(session, hub_id, filters, page))
        listings = solutions.solutions_by_id(session, principal, {e.solution_id for e in rows})
        return [
            (CatalogueEntryBaseOut.from_model(e), SolutionOut.from_model(listings[e.solution_id]))
            for e in rows
            if e.solution_id in listings
        ]

    page: dict[str, Any] = {"hub": the_hub, "entries": entries(None), "hidden": None, "queue": None}
    if hubs.may_see_hidden(principal, hub_id):  # its curators: the review queue, and what they hid
        waiting = hubs.review_queue(session, principal, hub_id)
        listings = solutions.solutions_by_id(session, principal, waiting)
        page["queue"] = [SolutionOut.from_model(listings[i]) for i in waiting if i in listings]
        page["hidden"] = entries(CatalogueStatus.hidden)
    return page


# ---------------------------------------------------------------------------------------------- challenge


def challenge(session: Session, principal: Principal, challenge_id: int) -> dict[str, Any]:
    the_challenge = challenges.to_out(session, [challenges.get_challenge(session, challenge_id)])[0]
    thread = challenges.CommentFilters(challenge=challenge_id)
    comments = _all(lambda page: challenges.list_comments(session, principal, thread, page))
    proposals = challenges.proposals_to_out(
        session,
        principal,
        challenges.list_proposals(
            session, principal, challenge_id, challenges.ProposalFilters(), PageRequest(limit=50)
        ).items,
    )
    return {
        "challenge": the_challenge,
        "comments": [CommentOut.from_model(c) for c in comments],
        "proposals": proposals,
    }


def save_match_run(
    session: Session, principal: Principal, settings: Settings, city_id: int, kind: str, request_id: str
) -> int:
    from app.matches.schemas import MatchRunIn

    try:
        body = MatchRunIn(kind=MatchKind(kind))
    except ValueError as exc:
        raise Problem("Choose solutions or twins.", status=422) from exc
    return matches.create_match_run(session, principal, settings, city_id, body, request_id=request_id).id


__all__ = ["Forbidden", "NotFound", "Problem", "challenge", "city", "home", "hub", "search", "solution"]
