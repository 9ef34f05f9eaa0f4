"""Open data (issue 17): every public city's KPI values streamed as CSV and JSON under the licence of the
settings (linked), the KPI framework, and awarded challenges as OCDS releases valid against the published OCDS
1.1.5 release schema (tests/cocreate/ocds). On the shared seeded database, read only."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.main import create_app
from tests.conftest import DatabaseFactory, ReadOnlyGuard, StatementCounter, TestDatabase, guarded_engine

SCHEMA = json.loads((Path(__file__).parent / "ocds" / "release-schema-1.1.5.json").read_text())
CHUNK = 97


def ocds_problems(package: dict[str, Any]) -> list[str]:
    """Every release against the OCDS release schema (draft 4, with formats checked)."""
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    return [
        f"{r.get('ocid')}: {e.json_path}: {e.message}" for r in package["releases"] for e in validator.iter_errors(r)
    ]


@pytest.fixture(scope="module")
def open_data(databases: DatabaseFactory, seeded_template: TestDatabase) -> Iterator[tuple[TestClient, Engine]]:
    """The seeded data with one city's values made private, a licence of our own and small chunks (so that
    streaming takes many statements); read only once set up."""
    database = databases.copy(seeded_template)
    setup = database.engine()
    with setup.begin() as connection:
        connection.execute(
            sa.text("UPDATE city SET data_public = false WHERE id = (SELECT MIN(city_id) FROM kpi_observation)")
        )
    setup.dispose()
    engine = guarded_engine(database, "open data")
    settings = database.settings(
        open_data_licence="ODbL 1.0",
        open_data_licence_url="https://opendatacommons.org/licenses/odbl/1-0/",
        open_data_chunk_rows=CHUNK,
    )
    with TestClient(create_app(settings, engine=engine)) as client:
        yield client, engine
    ReadOnlyGuard.of(engine).detach()
    engine.dispose()
    databases.release(database)


def _public_values(engine: Engine) -> set[tuple[str, str, str, int]]:
    sql = """SELECT c.slug, k.slug, d.key, o.year FROM kpi_observation o JOIN city c ON c.id = o.city_id
             JOIN kpi_data_point d ON d.id = o.data_point_id JOIN kpi k ON k.id = d.kpi_id WHERE c.data_public"""
    with engine.connect() as connection:
        return {tuple(r) for r in connection.execute(sa.text(sql)).all()}  # type: ignore[misc]


def test_kpi_values_of_every_public_city_streamed_in_chunks_with_the_licence(
    open_data: tuple[TestClient, Engine],
) -> None:
    client, engine = open_data
    expected = _public_values(engine)
    with engine.connect() as connection:
        private = connection.execute(
            sa.text("SELECT COUNT(*) FROM kpi_observation o JOIN city c ON c.id = o.city_id WHERE NOT c.data_public")
        ).scalar_one()
    assert len(expected) > 3 * CHUNK
    assert private > 0, "the seed should hold private values, which the export must leave out"
    with StatementCounter(engine) as counter:
        response = client.get("/api/v1/open-data/kpi-values")
    assert response.status_code == 200
    assert (
        response.headers["link"] == '<https://opendatacommons.org/licenses/odbl/1-0/>; rel="license"; title="ODbL 1.0"'
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {(r["city"], r["kpi"], r["data_point"], int(r["year"])) for r in rows} == expected
    assert len(rows) == len(expected)
    # Read chunk by chunk: one statement per CHUNK rows (and the one that finds the end, if the last is full).
    reads = [s for s in counter.statements if "FROM kpi_observation" in s]
    assert len(reads) in (math.ceil(len(rows) / CHUNK), len(rows) // CHUNK + 1)
    as_json = client.get("/api/v1/open-data/kpi-values", params={"format": "json"})
    body = as_json.json()
    assert body["licence"] == {"name": "ODbL 1.0", "url": "https://opendatacommons.org/licenses/odbl/1-0/"}
    assert as_json.headers["link"] == response.headers["link"]
    assert [(v["city"], v["kpi"], v["data_point"], v["year"]) for v in body["values"]] == [
        (r["city"], r["kpi"], r["data_point"], int(r["year"])) for r in rows
    ]
    assert all(isinstance(v["value"], float | int) and isinstance(v["verified"], bool) for v in body["values"])


def test_the_licence_defaults_to_cc_by_4(read_client: TestClient) -> None:
    response = read_client.get("/api/v1/open-data/kpi-framework", params={"format": "json"})
    assert response.json()["licence"] == {"name": "CC BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"}
    assert response.headers["link"].startswith('<https://creativecommons.org/licenses/by/4.0/>; rel="license"')


def test_the_kpi_framework_export(open_data: tuple[TestClient, Engine]) -> None:
    client, engine = open_data
    with engine.connect() as connection:
        points = connection.execute(sa.text("SELECT COUNT(*) FROM kpi_data_point")).scalar_one()
    body = client.get("/api/v1/open-data/kpi-framework", params={"format": "json"}).json()
    assert len(body["data_points"]) == points
    first = body["data_points"][0]
    assert set(first) >= {"framework", "kpi", "kpi_code", "name", "unit", "direction", "benchmark"}
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/open-data/kpi-framework").text)))
    assert [(r["kpi"], r["data_point"]) for r in rows] == [(p["kpi"], p["data_point"]) for p in body["data_points"]]


def test_awarded_challenges_as_ocds_releases_valid_against_the_schema(open_data: tuple[TestClient, Engine]) -> None:
    client, engine = open_data
    with engine.connect() as connection:
        awarded = (
            connection.execute(sa.text("SELECT id FROM challenge WHERE status = 'awarded' ORDER BY id")).scalars().all()
        )
    package = client.get("/api/v1/open-data/ocds/releases").json()
    assert awarded
    assert [r["tender"]["id"] for r in package["releases"]] == [f"challenge-{i}" for i in awarded]
    assert ocds_problems(package) == []
    assert package["license"] == "https://opendatacommons.org/licenses/odbl/1-0/"
    release = package["releases"][0]
    assert release["ocid"].startswith("ocds-cmkt00-challenge-")
    assert release["awards"][0]["suppliers"][0]["name"]  # the seed's default disclosure publishes the winner
    # The check itself fails a release that breaks the schema.
    broken = {"releases": [{**release, "tag": [], "awards": [{"status": "won"}]}]}
    assert len(ocds_problems(broken)) >= 2
