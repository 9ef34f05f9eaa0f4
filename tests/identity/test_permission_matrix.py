"""The permission matrix: every write endpoint under /api/v1, for every role, on the caller's own object, on
someone else's, and anonymously, through REST and through its GraphQL mutation (MUTATION_OF; the same call
translated by tests/identity/graphql_face.py). Exactly the allowed cells succeed on both faces; every refused
call leaves the database exactly as it was.

EVERY NEW WRITE ENDPOINT MUST JOIN `WRITE_ENDPOINTS` below: `test_every_write_endpoint_is_in_the_matrix`
enumerates the app's routes and fails on any POST/PUT/PATCH/DELETE under /api/v1 missing from it.

A row declares the method, the path template exactly as routed, how to build the call for the caller's
"own" object and for "other"'s from the world (tests/identity/conftest.py: "a" is every test user's own
city, vendor and hub; "b" belongs to someone else; builders may create what they need first, e.g. a
draft listing of vendor a), and which roles succeed on their own object and on someone else's.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Literal

import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Path
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.auth import permissions
from app.auth.deps import PrincipalDep, require_authenticated
from app.auth.principal import Principal
from app.core.deps import SessionDep
from app.core.errors import NotFound
from app.identity.models import Role
from app.main import create_app
from app.vendors.models import Vendor
from tests import conftest as shared
from tests.identity.conftest import BASE_URL, ROLES, World, bearer, mint_user_token
from tests.identity.graphql_face import mutation_of, operation_of, status_of, variables_of
from tests.identity.matrix import Builder, Call, Row, Scenario, Which, ab
from tests.identity.rows_alerts import ALERT_ROWS
from tests.identity.rows_catalogue import CATALOGUE_ROWS
from tests.identity.rows_city import CITY_ROWS
from tests.identity.rows_i18n import I18N_ROWS
from tests.identity.rows_mail import MAIL_ROWS
from tests.identity.rows_moderation import MODERATION_ROWS
from tests.identity.rows_notify import NOTIFY_ROWS
from tests.identity.rows_onboard import ONBOARD_ROWS
from tests.identity.rows_twinplan import TWINPLAN_ROWS

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIX = "/api/v1"


# ------------------------------------------------------------------------------------------------- the table
# One row per write endpoint, kept per area; add a row with each write endpoint you create. Example:
#
#   Row("PUT", "/api/v1/vendors/{vendor_id}", lambda s, w: Call(f"/api/v1/vendors/{s.world.vendor[ab(w)]}",
#       {"description": "new"}), own=frozenset({Role.vendor_member, Role.admin})),

WRITE_ENDPOINTS: list[Row] = [
    *CATALOGUE_ROWS,
    *CITY_ROWS,
    *NOTIFY_ROWS,
    *MODERATION_ROWS,
    *MAIL_ROWS,
    *TWINPLAN_ROWS,
    *ALERT_ROWS,
    *ONBOARD_ROWS,
    *I18N_ROWS,
]


# ----------------------------------------------------------------------------------------------- machinery


def write_routes(app: FastAPI) -> set[tuple[str, str]]:
    routes = set()
    for route in iter_route_contexts(app.routes):
        path = route.path or ""
        if not path.startswith(API_PREFIX):
            continue
        for method in (route.methods or set()) & WRITE_METHODS:
            routes.add((method, path))
    return routes


def missing_and_stale(app: FastAPI, rows: list[Row]) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    routed = write_routes(app)
    declared = {row.key for row in rows}
    return routed - declared, declared - routed


def snapshot(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table, as sorted JSON strings: equal snapshots mean an unchanged database."""
    result: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for table in sorted(sa.inspect(connection).get_table_names()):
            rows = connection.execute(sa.text(f'SELECT * FROM "{table}"')).mappings().all()
            result[table] = sorted(json.dumps(dict(r), default=str, sort_keys=True) for r in rows)
    return result


def fingerprint(engine: Engine) -> dict[str, list[str]]:
    """As `snapshot` for telling whether anything changed; on PostgreSQL a digest of each table's rows,
    computed on the server in one statement (the matrix takes one after every refused cell)."""
    if engine.dialect.name != "postgresql":
        return _sqlite_fingerprint(engine)
    with engine.connect() as connection:
        tables = sorted(sa.inspect(connection).get_table_names())
        digests = " UNION ALL ".join(
            f"SELECT '{table}', md5(coalesce(string_agg(row::text, '|' ORDER BY row::text), '')) "
            f'FROM "{table}" AS row'
            for table in tables
        )
        return {table: [digest] for table, digest in connection.exec_driver_sql(digests).all()}


def _sqlite_fingerprint(engine: Engine) -> dict[str, list[str]]:
    """SQLite has no md5(): a digest of each table's rows (sorted, so order-independent as `snapshot`), read
    through the driver's cursor (SQLAlchemy's result processing and JSON per row cost 3x as much)."""
    result: dict[str, list[str]] = {}
    # The sqlite3 connection itself: its rows are plain tuples, whose repr is C code (SQLAlchemy's Row.__repr__
    # was 40 % of a fingerprint). The tables are those sa.inspect names: every one but SQLite's own.
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        for (table,) in cursor.fetchall():
            cursor.execute(f'SELECT * FROM "{table}"')
            result[table] = [hashlib.md5("\n".join(sorted(map(repr, cursor.fetchall()))).encode()).hexdigest()]
    finally:
        raw.close()
    return result


Face = Literal["REST", "GraphQL"]


@dataclass
class Cell:
    role: Role | None  # None: anonymous
    which: Which
    face: Face = "REST"


@dataclass
class Outcome:
    cell: Cell
    status: int
    body: str
    db_changed: bool


@dataclass
class Harness:
    """One database + app per `fresh()` call, with a token per role minted in it."""

    databases: shared.DatabaseFactory
    template: shared.TestDatabase
    world: World
    customise: Callable[[FastAPI], None] = lambda app: None
    opened: list[Engine] = field(default_factory=list)

    @contextmanager
    def fresh(self, roles: tuple[Role, ...] = ROLES) -> Iterator[tuple[TestClient, Engine, dict[Role, str]]]:
        """A database of its own with a token minted for each of `roles` (before the first request, so that
        minting never counts as a change the request made)."""
        database = self.databases.copy(self.template)
        engine = database.engine()
        app = create_app(database.settings(), engine=engine)
        self.customise(app)
        tokens = {role: mint_user_token(app, engine, self.world, role) for role in roles}
        try:
            with TestClient(app, base_url=BASE_URL) as client:
                yield client, engine, tokens
        finally:
            engine.dispose()
            self.databases.release(database)  # the next cell's fresh() may reuse it


def _request(client: TestClient, row: Row, call: Call, token: str | None) -> tuple[int, str]:
    headers = {**(call.headers or {}), **(bearer(token) if token else {})}
    if call.content is not None:
        response = client.request(row.method, call.path, content=call.content, headers=headers)
    else:
        response = client.request(row.method, call.path, json=call.json, headers=headers)
    return response.status_code, response.text[:300]


def _mutate(client: TestClient, row: Row, call: Call, token: str | None) -> tuple[int, str]:
    """The same call as the row's mutation (tests/identity/graphql_face.py), answered as a REST status."""
    name = mutation_of(row)
    assert name is not None
    variables = variables_of(row, name, call)
    query = operation_of(name, variables)
    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=bearer(token) if token else {}
    )
    if response.status_code != 200:
        return response.status_code, response.text[:300]
    return status_of(response.json()), response.text[:300]


SEND = {"REST": _request, "GraphQL": _mutate}


def faces(row: Row) -> tuple[Face, ...]:
    """REST, and GraphQL where the write has a mutation (every real one: tests/graphql/test_mutations.py)."""
    return ("REST", "GraphQL") if mutation_of(row) else ("REST",)


def run_row(row: Row, harness: Harness) -> list[Outcome]:
    """Refused cells first, all on one database (each must leave it unchanged), through each face on the same
    objects; then each allowed cell, per face, on a database of its own (it may change it)."""
    cells = [Cell(role, which, face) for face in faces(row) for role in (None, *ROLES) for which in ("own", "other")]
    outcomes: list[Outcome] = []
    refused = [c for c in cells if not row.expected(c.role, c.which)]
    allowed = [c for c in cells if row.expected(c.role, c.which)]
    with harness.fresh() as (client, engine, tokens):
        scenario = Scenario(harness.world, engine)
        calls = {which: row.build(scenario, which) for which in ("own", "other")}
        # Nothing else touches this database between two cells, so one cell's "after" is the next's "before".
        before = fingerprint(engine)
        for cell in refused:
            token = tokens[cell.role] if cell.role else None
            status, body = SEND[cell.face](client, row, calls[cell.which], token)
            after = fingerprint(engine)
            outcomes.append(Outcome(cell, status, body, after != before))
            before = after
    for cell in allowed:
        with harness.fresh(roles=(cell.role,) if cell.role else ()) as (client, engine, tokens):
            call = row.build(Scenario(harness.world, engine), cell.which)
            status, body = SEND[cell.face](client, row, call, tokens[cell.role] if cell.role else None)
            outcomes.append(Outcome(cell, status, body, db_changed=False))
    return outcomes


def violations(row: Row, outcomes: list[Outcome]) -> list[str]:
    problems = []
    for outcome in outcomes:
        cell = outcome.cell
        who = cell.role.value if cell.role else "anonymous"
        through = "" if cell.face == "REST" else f" through GraphQL {mutation_of(row)}"
        where = f"{row.method} {row.path}{through} as {who} on {cell.which}"
        if row.expected(cell.role, cell.which):
            if outcome.status not in (row.success if cell.face == "REST" else {200}):
                problems.append(f"{where}: expected success, got {outcome.status} {outcome.body}")
            continue
        expected = {401} if cell.role is None else {403, 404}
        if outcome.status not in expected:
            problems.append(f"{where}: expected {sorted(expected)}, got {outcome.status} {outcome.body}")
        if outcome.db_changed:
            problems.append(f"{where}: refused, but the database changed")
    return problems


# ------------------------------------------------------------------------------------------------- the tests


def test_every_write_endpoint_is_in_the_matrix(app: FastAPI) -> None:
    missing, stale = missing_and_stale(app, WRITE_ENDPOINTS)
    assert not missing, (
        f"write endpoints without a row in tests/identity/test_permission_matrix.py WRITE_ENDPOINTS: {sorted(missing)}"
    )
    assert not stale, f"rows for endpoints that do not exist (renamed or removed?): {sorted(stale)}"


@pytest.fixture
def harness(databases: shared.DatabaseFactory, identity_template: tuple[shared.TestDatabase, World]) -> Harness:
    return Harness(databases, identity_template[0], identity_template[1])


@pytest.mark.slow
@pytest.mark.parametrize("row", WRITE_ENDPOINTS, ids=[f"{r.method} {r.path}" for r in WRITE_ENDPOINTS])
def test_permission_matrix(row: Row, harness: Harness) -> None:
    problems = violations(row, run_row(row, harness))
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------- the machinery tested on a probe
# A write endpoint mounted for these tests only (on /api/v1, so the enumeration sees it), which goes through
# app.auth.permissions like every real one must; and a careless twin that does not.

probe = APIRouter()


def _vendor_or_404(session: Session, vendor_id: int) -> Vendor:
    vendor = session.get(Vendor, vendor_id)
    if vendor is None:
        raise NotFound(f"No vendor {vendor_id}.")
    return vendor


@probe.put("/api/v1/_probe/vendors/{vendor_id}")
def probe_edit_vendor(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_authenticated)],
    vendor_id: Annotated[int, Path()],
    body: dict[str, str],
) -> dict[str, str]:
    vendor = _vendor_or_404(session, vendor_id)
    permissions.require(permissions.can_edit_vendor(principal, vendor_id), "You may not edit this vendor.")
    vendor.description = body["description"]
    session.add(vendor)
    session.commit()
    return {"description": vendor.description}


careless = APIRouter()


@careless.put("/api/v1/_careless/vendors/{vendor_id}")
def careless_edit_vendor(
    session: SessionDep, principal: PrincipalDep, vendor_id: Annotated[int, Path()], body: dict[str, str]
) -> dict[str, str]:
    vendor = _vendor_or_404(session, vendor_id)
    vendor.description += body["description"]  # no permission check: anyone signed in, or not
    session.add(vendor)
    session.commit()
    return {"description": vendor.description}


def _vendor_call(prefix: str) -> Builder:
    def build(scenario: Scenario, which: Which) -> Call:
        return Call(f"/api/v1/{prefix}/vendors/{scenario.world.vendor[ab(which)]}", {"description": f"by {which}"})

    return build


PROBE_ROW = Row(
    "PUT", "/api/v1/_probe/vendors/{vendor_id}", _vendor_call("_probe"), own=frozenset({Role.vendor_member, Role.admin})
)
CARELESS_ROW = Row(
    "PUT",
    "/api/v1/_careless/vendors/{vendor_id}",
    _vendor_call("_careless"),
    own=frozenset({Role.vendor_member, Role.admin}),
)


def _with(*routers: APIRouter) -> Callable[[FastAPI], None]:
    def customise(app: FastAPI) -> None:
        for router in routers:
            app.include_router(router)

    return customise


def test_the_enumeration_finds_a_new_write_endpoint(make_app: Callable[..., FastAPI]) -> None:
    app = make_app()
    _with(probe)(app)
    missing, _ = missing_and_stale(app, WRITE_ENDPOINTS)
    assert ("PUT", "/api/v1/_probe/vendors/{vendor_id}") in missing
    assert not {path for _, path in missing if not path.startswith("/api/v1/_probe")} - {
        r.path for r in WRITE_ENDPOINTS
    }
    assert missing_and_stale(app, [*WRITE_ENDPOINTS, PROBE_ROW])[0] == set()
    # The OAuth endpoints are writes too, but not under /api/v1: they have their own tests.
    assert all(path.startswith("/api/v1") for _, path in write_routes(app))


def test_the_matrix_passes_a_correct_row(harness: Harness) -> None:
    harness.customise = _with(probe)
    outcomes = run_row(PROBE_ROW, harness)
    assert violations(PROBE_ROW, outcomes) == []
    assert len(outcomes) == 2 * (len(ROLES) + 1)
    assert sorted((o.cell.role.value, o.cell.which) for o in outcomes if o.status == 200 and o.cell.role) == [
        ("admin", "other"),
        ("admin", "own"),
        ("vendor_member", "own"),
    ]


def test_the_matrix_fails_a_row_that_claims_too_much_or_too_little(harness: Harness) -> None:
    harness.customise = _with(probe)
    too_much = Row(
        PROBE_ROW.method,
        PROBE_ROW.path,
        PROBE_ROW.build,
        own=PROBE_ROW.own,
        other=frozenset({Role.admin, Role.vendor_member}),
    )
    problems = violations(too_much, run_row(too_much, harness))
    assert problems == [
        "PUT /api/v1/_probe/vendors/{vendor_id} as vendor_member on other: expected success, got 403 "
        '{"type":"https://citymarket.example/problems/forbidden","title":"Forbidden","status":403,'
        '"detail":"You may not edit this vendor.","instance":"/api/v1/_probe/vendors/'
        + str(harness.world.vendor["b"])
        + '"}'
    ]
    too_little = Row(PROBE_ROW.method, PROBE_ROW.path, PROBE_ROW.build, own=frozenset({Role.admin}))
    problems = violations(too_little, run_row(too_little, harness))
    assert len(problems) == 2  # vendor_member on own: succeeded (200, not 403/404) AND changed the database
    assert all("vendor_member on own" in p for p in problems)


def test_the_matrix_catches_an_endpoint_that_skips_the_permission_check(harness: Harness) -> None:
    harness.customise = _with(careless)
    problems = violations(CARELESS_ROW, run_row(CARELESS_ROW, harness))
    refused_cells = 2 * (len(ROLES) + 1) - 3
    # Each refused cell both succeeded and changed the database.
    assert len(problems) == 2 * refused_cells
    assert any("as anonymous on own: expected [401], got 200" in p for p in problems)
    assert any("as city_official on other: refused, but the database changed" in p for p in problems)


def test_the_matrix_judges_the_graphql_face_by_the_same_row(harness: Harness) -> None:
    """A real row run through its mutation too: a claim that another vendor may edit a vendor fails on both
    faces, each naming its face, and the mutation's refusal left the database as it was."""
    (vendor_edit,) = [r for r in WRITE_ENDPOINTS if r.key == ("PATCH", "/api/v1/vendors/{vendor_id}")]
    assert faces(vendor_edit) == ("REST", "GraphQL")
    too_much = Row(vendor_edit.method, vendor_edit.path, vendor_edit.build, own=vendor_edit.own, other=ADMIN_OR_VENDOR)
    outcomes = run_row(too_much, harness)
    assert len(outcomes) == 2 * 2 * (len(ROLES) + 1)
    problems = violations(too_much, outcomes)
    assert len(problems) == 2
    assert problems[0].startswith("PATCH /api/v1/vendors/{vendor_id} as vendor_member on other: expected success")
    assert problems[1].startswith(
        "PATCH /api/v1/vendors/{vendor_id} through GraphQL updateVendor as vendor_member on other: expected success,"
        ' got 403 {"data":{"updateVendor":{"__typename":"MutationError","code":"FORBIDDEN"'
    )
    graphql_refusals = [o for o in outcomes if o.cell.face == "GraphQL" and o.status in {401, 403, 404}]
    assert len(graphql_refusals) == 2 * (len(ROLES) + 1) - 3  # all but the three allowed cells
    assert not any(o.db_changed for o in graphql_refusals)


ADMIN_OR_VENDOR = frozenset({Role.admin, Role.vendor_member})
