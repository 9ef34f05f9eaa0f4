"""The DataLoaders of one GraphQL request: nested fields cost one batch per level, not one query per parent.

They are created on first use and cached on `Context.loaders`, so they live for one request (their cache
never serves another caller's data). Each batch runs through `Context.run_db`, in a worker thread with a
session of its own, and calls the same service functions as REST with the request's principal, so the
visibility rules are the same on both faces. A batch returns ORM rows with what they need loaded (their
relationships refuse lazy loading) or output schemas; the resolvers turn them into GraphQL types.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any, Final, TypeVar

from sqlalchemy.orm import selectinload
from sqlmodel import Session, col, select
from strawberry import Info
from strawberry.dataloader import DataLoader
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from app.case_studies import service as case_studies
from app.case_studies.models import CaseStudyOutcome
from app.challenges import service as challenges
from app.challenges.models import Clarification, ProposalStatus
from app.challenges.schemas import ProposalBaseOut
from app.cities.models import City
from app.core.pagination import PageRequest, PageResult
from app.graphql.context import Context
from app.hubs import service as hubs
from app.hubs.models import HubCatalogueEntry
from app.kpis.models import Kpi
from app.kpis.service import kpi_load_options as kpi_details
from app.solutions import service as solutions
from app.solutions.models import Solution, SolutionKpiImpact
from app.solutions.schemas import DeploymentOut
from app.vendors import service as vendors
from app.vendors.models import Vendor

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
T = TypeVar("T")

CatalogueKey = tuple[int, hubs.CatalogueFilters, PageRequest]
ProposalsKey = tuple[int, ProposalStatus | None]


class Loaders:
    """Each loader is made on first use (a cached property): a request pays only for the loaders its query
    needs, not for all of them (making every one was 5% of a single read)."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self._principal = context.principal
        self._fetches: dict[DataLoader[Any, Any], tuple[Callable[[Session, list[Any]], Mapping[Any, Any]], Any]] = {}

    @cached_property
    def vendor(self) -> DataLoader[int, Vendor | None]:
        return self._loader(vendors.vendors_by_id, None)

    @cached_property
    def published_solution_count(self) -> DataLoader[int, int]:
        return self._loader(vendors.published_solution_counts, 0)

    @cached_property
    def solution(self) -> DataLoader[int, Solution | None]:
        principal = self._principal
        return self._loader(lambda s, ids: solutions.solutions_by_id(s, principal, ids), None)

    @cached_property
    def kpi_impacts(self) -> DataLoader[int, list[SolutionKpiImpact]]:
        return self._loader(solutions.impacts_by_solution, _empty_impacts)

    @cached_property
    def deployments(self) -> DataLoader[int, list[DeploymentOut]]:
        return self._loader(solutions.deployments_by_solution, _empty_deployments)

    @cached_property
    def kpi(self) -> DataLoader[int, Kpi | None]:
        return self._loader(_kpis_by_id, None)

    @cached_property
    def city(self) -> DataLoader[int, City | None]:
        return self._loader(_cities_by_id, None)

    @cached_property
    def case_study_outcomes(self) -> DataLoader[int, list[CaseStudyOutcome]]:
        return self._loader(case_studies.outcomes_by_case_study, _empty_outcomes)

    @cached_property
    def case_study_solutions(self) -> DataLoader[int, list[Solution]]:
        principal = self._principal
        return self._loader(lambda s, ids: case_studies.solutions_by_case_study(s, principal, ids), _empty_solutions)

    @cached_property
    def hub_catalogue(self) -> DataLoader[CatalogueKey, PageResult[HubCatalogueEntry]]:
        return DataLoader(load_fn=self._load_catalogues)

    @cached_property
    def challenge_proposals(self) -> DataLoader[ProposalsKey, list[ProposalBaseOut]]:
        return DataLoader(load_fn=self._load_proposals)

    @cached_property
    def challenge_proposal_count(self) -> DataLoader[int, int]:
        return self._loader(challenges.proposal_counts, 0)

    @cached_property
    def challenge_clarifications(self) -> DataLoader[int, list[Clarification]]:
        principal = self._principal
        return self._loader(
            lambda s, ids: challenges.clarifications_by_challenge(s, principal, ids), _empty_clarifications
        )

    def _loader(self, fetch: Callable[[Session, list[K]], Mapping[K, V]], default: V) -> DataLoader[K, V]:
        """A loader of one value per key, fetched for a whole batch of keys by `fetch`."""

        async def load(keys: list[K]) -> list[V]:
            found = await self._context.run_db(lambda session: fetch(session, keys))
            return [found.get(key, default) for key in keys]

        loader = DataLoader(load_fn=load)
        self._fetches[loader] = (fetch, default)
        return loader

    def fetch_in(self, session: Session, loader: DataLoader[K, V], keys: list[K]) -> dict[K, V]:
        """What `loader` would load for `keys`, fetched in `session` (a resolver's own, in its worker thread),
        to `prime` the loader with: the object and what it points at in one session and one thread-pool hop."""
        fetch, default = self._fetches[loader]
        found = fetch(session, keys)
        return {key: found.get(key, default) for key in keys}

    async def _load_catalogues(self, keys: list[CatalogueKey]) -> list[PageResult[HubCatalogueEntry]]:
        # One query pair per distinct (filters, page): usually one for all the hubs of a request.
        def fetch(session: Session) -> dict[CatalogueKey, PageResult[HubCatalogueEntry]]:
            groups: dict[tuple[hubs.CatalogueFilters, PageRequest], list[int]] = defaultdict(list)
            for hub_id, filters, page in keys:
                groups[(filters, page)].append(hub_id)
            found = {}
            for (filters, page), hub_ids in groups.items():
                for hub_id, result in hubs.catalogue_pages(session, hub_ids, filters, page).items():
                    found[(hub_id, filters, page)] = result
            return found

        found = await self._context.run_db(fetch)
        return [found[key] for key in keys]

    async def _load_proposals(self, keys: list[ProposalsKey]) -> list[list[ProposalBaseOut]]:
        principal = self._context.principal

        def fetch(session: Session) -> dict[ProposalsKey, list[ProposalBaseOut]]:
            groups: dict[ProposalStatus | None, list[int]] = defaultdict(list)
            for challenge_id, status in keys:
                groups[status].append(challenge_id)
            found: dict[ProposalsKey, list[ProposalBaseOut]] = {}
            for status, challenge_ids in groups.items():
                by_challenge = challenges.proposals_by_challenge(session, principal, challenge_ids, status)
                for challenge_id in challenge_ids:
                    found[(challenge_id, status)] = by_challenge.get(challenge_id, [])
            return found

        found = await self._context.run_db(fetch)
        return [found[key] for key in keys]


def get_loaders(context: Context) -> Loaders:
    """This request's loaders (created on first use)."""
    loaders = context.loaders.get(Loaders.__name__)
    if loaders is None:
        loaders = context.loaders[Loaders.__name__] = Loaders(context)
    assert isinstance(loaders, Loaders)
    return loaders


class Pending:
    """What `ready` answers for a key whose value is not loaded (yet, or its load failed)."""


PENDING: Final = Pending()


def now_or_later(loader: DataLoader[K, V], key: K, convert: Callable[[V], T]) -> T:
    """`convert` of what `loader` has for `key`: at once when it is loaded (`ready`), else once loaded. A sync
    resolver returns it: graphql-core awaits an awaitable that a resolver returns, so the fields whose values
    a prefetch loaded cost no coroutine or task per object, and the others load as before."""
    value = ready(loader, key)
    if not isinstance(value, Pending):
        return convert(value)

    async def later() -> T:
        return convert(await loader.load(key))

    return later()  # type: ignore[return-value]


def ready(loader: DataLoader[K, V], key: K) -> V | Pending:
    """The value `loader` has loaded for `key`, without awaiting: a resolver that finds it answers at once
    (no coroutine, no task per object), one that gets PENDING awaits the loader as before, and so raises
    the load's error, if it failed, on its own field."""
    future = loader.cache_map.get(key)
    if future is None or not future.done() or future.cancelled() or future.exception() is not None:
        return PENDING
    return future.result()


Selections = Sequence[SelectedField | FragmentSpread | InlineFragment]


def asks(info: Info[Context, None], *path: str) -> bool:
    """Whether the query asks for `path` (GraphQL names) below the field being resolved."""
    return any(isinstance(f, SelectedField) and selects(f.selections, *path) for f in info.selected_fields)


def selects(selections: Selections, *path: str) -> bool:
    """Whether the query asks for the field at `path` (GraphQL names) below `selections` (`Info.selected_fields`
    or a field's own), through fragments; a field under @skip(if: true) or @include(if: false) is not asked."""
    if not path:
        return True
    for selection in selections:
        if _skipped(selection.directives):
            continue
        if isinstance(selection, SelectedField):
            if selection.name == path[0] and selects(selection.selections, *path[1:]):
                return True
        elif selects(selection.selections, *path):
            return True
    return False


def asked_below(info: Info[Context, None], *path: str) -> set[str]:
    """The names of the fields the query asks right under every field at `path` below the one being
    resolved (all its aliases, through fragments)."""
    found: set[str] = set()
    for field in info.selected_fields:
        if isinstance(field, SelectedField):
            _collect(field.selections, path, found)
    return found


def _collect(selections: Selections, path: tuple[str, ...], found: set[str]) -> None:
    for selection in selections:
        if _skipped(selection.directives):
            continue
        if not isinstance(selection, SelectedField):
            _collect(selection.selections, path, found)
        elif not path:
            found.add(selection.name)
        elif selection.name == path[0]:
            _collect(selection.selections, path[1:], found)


def _skipped(directives: Mapping[str, Mapping[str, Any]]) -> bool:
    return bool(directives.get("skip", {}).get("if")) or directives.get("include", {}).get("if") is False


# Shared, never mutated, defaults for parents without children.
_empty_impacts: list[SolutionKpiImpact] = []
_empty_deployments: list[DeploymentOut] = []
_empty_outcomes: list[CaseStudyOutcome] = []
_empty_solutions: list[Solution] = []
_empty_clarifications: list[Clarification] = []


def _kpis_by_id(session: Session, kpi_ids: Iterable[int]) -> dict[int, Kpi]:
    """KPIs with what `KpiOut` shows (data points, benchmarks, SDGs, framework), as app.kpis loads them."""
    statement = select(Kpi).where(col(Kpi.id).in_(set(kpi_ids))).options(*kpi_details())  # type: ignore[arg-type]
    return {k.id or 0: k for k in session.exec(statement).all()}


def _cities_by_id(session: Session, city_ids: Iterable[int]) -> dict[int, City]:
    statement = select(City).where(col(City.id).in_(set(city_ids))).options(selectinload(City.country))  # type: ignore[arg-type]
    return {c.id or 0: c for c in session.exec(statement).all()}
