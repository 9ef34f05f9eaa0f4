"""A city's KPI values: the bulk PUT, the CSV import and the export, all or nothing, with their refusals,
visibility and audit."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.cities import kpi_values
from app.identity.models import OrganisationKind, Role
from tests.api.writes_city.conftest import Env, assert_problem
from tests.identity.conftest import BASE_URL

TABLES = ("kpi_observation", "audit_event")


def this_year() -> int:
    """Read when a test runs, not at import (a run may cross New Year)."""
    return datetime.now(UTC).year


def row(kpi: str = "SC-EH-H-1C", year: int = 2022, value: float = 82.5, **more: Any) -> dict[str, Any]:
    return {"kpi": kpi, "year": year, "value": value, "data_quality": "measured", "source": "SSB table 05375", **more}


def put(env: Env, values: list[dict[str, Any]], role: Role | None = Role.city_official, city: int | None = None) -> Any:
    return env.http.put(
        f"/api/v1/cities/{city or env.city_a}/kpi-values", json={"values": values}, headers=env.auth(role)
    )


def stored(env: Env, kpi: str, data_point: str = "", city: int | None = None) -> list[dict[str, Any]]:
    return env.rows(
        "SELECT o.year, o.value, o.data_quality, o.verified, o.source, o.note FROM kpi_observation o"
        " JOIN kpi_data_point dp ON dp.id = o.data_point_id JOIN kpi k ON k.id = dp.kpi_id"
        " WHERE o.city_id = :city AND k.slug = :kpi AND dp.key = :dp ORDER BY o.year",
        city=city or env.city_a,
        kpi=kpi,
        dp=data_point,
    )


# ---------------------------------------------------------------------------------------------- bulk PUT


def test_put_creates_updates_and_leaves_unchanged_rows_with_one_audit_event(env: Env) -> None:
    values = [
        row(),
        row("EN: EN: AQ: 1C", data_point="PM2.5", value=6.1),  # the official code works as well as the slug
        row("EN-EN-AQ-1C", data_point="pm10", value=11.0, note="urban background station"),
    ]
    first = put(env, values)
    assert first.status_code == 200, first.text
    assert first.json() == {"rows": 3, "created": 3, "updated": 0, "unchanged": 0}
    assert stored(env, "EN-EN-AQ-1C", "PM10") == [
        {
            "year": 2022,
            "value": 11.0,
            "data_quality": "measured",
            "verified": False,
            "source": "SSB table 05375",
            "note": "urban background station",
        }
    ]
    [event] = env.audit("kpi_values.upsert")
    assert event["object_type"] == "city"
    assert event["object_id"] == str(env.city_a)
    assert event["actor_user_id"] == env.world.actors[Role.city_official].user_id
    assert event["changes"]["counts"]["created"] == 3
    assert {(c["kpi"], c["data_point"]) for c in event["changes"]["created"]} == {
        ("SC-EH-H-1C", ""),
        ("EN-EN-AQ-1C", "PM2.5"),
        ("EN-EN-AQ-1C", "PM10"),
    }
    # The same rows again: nothing to do, nothing audited. A note left out keeps the stored note.
    again = put(env, [row(), row("EN-EN-AQ-1C", data_point="PM10", value=11.0)])
    assert again.json() == {"rows": 2, "created": 0, "updated": 0, "unchanged": 2}
    assert len(env.audit("kpi_values.upsert")) == 1
    # A correction of the same year updates that row, with its before and after in the audit event.
    fixed = put(env, [row(value=82.7), row("EN-EN-AQ-1C", data_point="PM10", value=11.0, note="")])
    assert fixed.json() == {"rows": 2, "created": 0, "updated": 2, "unchanged": 0}
    assert [r["value"] for r in stored(env, "SC-EH-H-1C")] == [82.7]
    assert stored(env, "EN-EN-AQ-1C", "PM10")[0]["note"] == ""
    updated = {
        (u["kpi"], u["data_point"]): u["changes"] for u in env.audit("kpi_values.upsert")[1]["changes"]["updated"]
    }
    assert updated[("SC-EH-H-1C", "")] == {"value": {"from": 82.5, "to": 82.7}}
    assert updated[("EN-EN-AQ-1C", "PM10")] == {"note": {"from": "urban background station", "to": ""}}


def test_a_new_year_adds_a_row_and_keeps_the_older_one(env: Env) -> None:
    assert [r["year"] for r in stored(env, "EC-ICT-ICT-1C")] == [2020]
    response = put(env, [row("EC-ICT-ICT-1C", year=2023, value=98.4)])
    assert response.json()["created"] == 1
    rows = stored(env, "EC-ICT-ICT-1C")
    assert [(r["year"], r["value"]) for r in rows] == [(2020, 97.0), (2023, 98.4)]
    assert rows[0]["verified"]  # the 2020 row is untouched
    latest = {v["kpi"]: v for v in env.http.get(f"/api/v1/cities/{env.city_a}").json()["latest_kpi_values"]}
    assert latest["EC-ICT-ICT-1C"]["year"] == 2023
    history = env.http.get(f"/api/v1/cities/{env.city_a}/kpi-values", params={"kpi": "EC-ICT-ICT-1C"}).json()
    assert [(v["year"], v["value"]) for v in history["items"]] == [(2023, 98.4), (2020, 97.0)]


def test_changing_a_verified_value_withdraws_the_verification_but_a_note_does_not(env: Env) -> None:
    seeded = {kpi: stored(env, kpi)[0] for kpi in ("EC-ICT-ICT-2C", "EC-ICT-ICT-5A")}
    assert all(row["verified"] for row in seeded.values())

    def same_as_stored(kpi: str, **change: Any) -> dict[str, Any]:
        old = seeded[kpi]
        return {"kpi": kpi, "year": 2020, "value": old["value"], "data_quality": old["data_quality"],
                "source": old["source"], **change}  # fmt: skip

    response = put(env, [same_as_stored("EC-ICT-ICT-2C", value=84.6), same_as_stored("EC-ICT-ICT-5A", note="n")])
    assert response.json() == {"rows": 2, "created": 0, "updated": 2, "unchanged": 0}
    assert not stored(env, "EC-ICT-ICT-2C")[0]["verified"]  # a new number has not been checked
    kept = stored(env, "EC-ICT-ICT-5A")[0]
    assert kept["verified"]
    assert kept["note"] == "n"
    changes = {u["kpi"]: u["changes"] for u in env.audit("kpi_values.upsert")[0]["changes"]["updated"]}
    assert changes["EC-ICT-ICT-2C"]["verified"] == {"from": True, "to": False}
    assert "verified" not in changes["EC-ICT-ICT-5A"]


def test_put_lists_every_bad_row_and_writes_nothing(env: Env) -> None:
    before = env.snapshot(*TABLES)
    values = [
        row(),  # 0: fine
        row("NO-SUCH-KPI"),  # 1
        row("EN-EN-AQ-1C", data_point="PM1"),  # 2: no such data point
        row("EN-EN-AQ-1C"),  # 3: a KPI reported per data point needs one
        row("SC-EH-H-1C", data_point="PM2.5"),  # 4: a KPI measured as a whole has none
        row(year=1850),  # 5
        row(year=this_year() + 1),  # 6: no future years
        row("EC-ICT-ICT-1C", value=101),  # 7: a percentage over 100
        row("EC-ICT-ICT-1C", value=-0.5, year=2021),  # 8: and under 0
        row(),  # 9: the same KPI, data point and year as row 0
        row(data_quality="guessed"),  # 10
        {**row(), "verified": True},  # 11: the platform's
        {**row(), "year": "last year"},  # 12
        {"kpi": "SC-EH-H-1C", "year": 2021},  # 13: value, data_quality and source missing
        row("EC-ICT-ICT-1C", year=2019, value=55.0),  # 14: fine
    ]
    body = assert_problem(put(env, values), 422, "13 of 15 rows are invalid", "nothing was written")
    assert body["type"].endswith("/invalid-rows")
    assert body["rows_total"] == 15
    assert body["rows_invalid"] == 13
    assert body["invalid_indexes"] == list(range(1, 14))
    reasons = {(e["index"], e["field"]): e["message"] for e in body["errors"]}
    assert "unknown KPI 'NO-SUCH-KPI'" in reasons[(1, "kpi")]
    assert "has no data point 'PM1'" in reasons[(2, "data_point")]
    assert "PM2.5" in reasons[(3, "data_point")]
    assert "measured as a whole" in reasons[(4, "data_point")]
    assert "between 1900 and" in reasons[(5, "year")]
    assert f"between 1900 and {this_year()}" in reasons[(6, "year")]
    assert "out of range" in reasons[(7, "value")]
    assert "out of range" in reasons[(8, "value")]
    assert "as index 0" in reasons[(9, "row")]
    assert (10, "data_quality") in reasons
    assert "set by the platform" in reasons[(11, "verified")]
    assert (12, "year") in reasons
    assert {(13, "value"), (13, "data_quality"), (13, "source")} <= set(reasons)
    assert env.snapshot(*TABLES) == before


def test_non_finite_numbers_are_refused(env: Env) -> None:
    # Python's JSON reader accepts NaN and Infinity; the rows do not.
    for token in ("NaN", "Infinity", "-Infinity"):
        row_text = (
            '{"kpi": "SC-EH-H-1C", "year": 2022, "value": ' + token + ', "data_quality": "measured", "source": "x"}'
        )
        content = '{"values": [' + row_text + "]}"
        response = env.http.put(
            f"/api/v1/cities/{env.city_a}/kpi-values",
            content=content,
            headers={**env.auth(Role.city_official), "content-type": "application/json"},
        )
        body = assert_problem(response, 422)
        assert body["errors"][0]["index"] == 0
        assert body["errors"][0]["field"] == "value"
    assert stored(env, "SC-EH-H-1C") == []


def test_put_refusals(env: Env) -> None:
    before = env.snapshot(*TABLES)
    assert_problem(put(env, [row()], city=env.city_b), 403, "Stavanger")
    assert_problem(put(env, [row()], role=Role.vendor_member), 403)
    assert_problem(put(env, [row()], role=Role.programme_coordinator), 403)
    assert_problem(put(env, [row()], role=None), 401)
    assert_problem(put(env, [row()], city=999_999), 404)
    assert_problem(put(env, []), 422, "body.values")
    response = env.http.put(
        f"/api/v1/cities/{env.city_a}/kpi-values",
        json={"values": [row()], "replace": True},
        headers=env.auth(Role.city_official),
    )
    assert_problem(response, 422, "body.replace")
    # A token of the city's official without cities:write may not write.
    no_scope = env.auth(Role.city_official, scopes=frozenset({"private:read"}))
    response = env.http.put(f"/api/v1/cities/{env.city_a}/kpi-values", json={"values": [row()]}, headers=no_scope)
    assert_problem(response, 403)
    assert env.snapshot(*TABLES) == before
    # The admin may write any city's values.
    assert put(env, [row()], role=Role.admin, city=env.city_b).json()["created"] == 1


def test_a_failure_in_the_middle_of_a_write_leaves_nothing_half_written(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = env.snapshot(*TABLES)
    original = kpi_values._apply
    calls: list[int] = []

    def failing(session: Session, city_id: int, checked: Any, existing: Any) -> Any:
        result = original(session, city_id, checked, existing)
        session.flush()  # the earlier rows are in the database's transaction by now
        calls.append(checked.position)
        if len(calls) == 3:
            raise RuntimeError("disk full (simulated)")
        return result

    monkeypatch.setattr(kpi_values, "_apply", failing)
    # A client that answers 500 as the server does, instead of raising the server's exception.
    env.http = TestClient(env.app, base_url=BASE_URL, raise_server_exceptions=False)
    values = [row(year=year) for year in (2015, 2016, 2017, 2018)] + [row("EC-ICT-ICT-1C", year=2020, value=50.0)]
    response = put(env, values)
    assert_problem(response, 500)
    assert calls == [0, 1, 2]
    assert env.snapshot(*TABLES) == before
    # Failing at the very end (the audit event) rolls the rows back too.
    monkeypatch.setattr(kpi_values, "_apply", original)

    def no_audit(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("audit store down (simulated)")

    monkeypatch.setattr(kpi_values.audit, "record", no_audit)
    assert_problem(put(env, values), 500)
    assert env.snapshot(*TABLES) == before


# ------------------------------------------------------------------------------------------------ reading


def test_private_values_are_for_the_citys_officials_coordinators_and_admins(env: Env) -> None:
    env.execute("UPDATE city SET data_public = :no WHERE id = :id", no=False, id=env.city_a)
    paths = [f"/api/v1/cities/{env.city_a}/kpi-values", f"/api/v1/cities/{env.city_a}/kpi-values/export"]
    other_official = env.new_user(Role.city_official, OrganisationKind.city, env.city_b)
    for path in paths:
        for headers in ({}, other_official, env.auth(Role.vendor_member), env.auth(Role.hub_curator)):
            body = assert_problem(env.http.get(path, headers=headers), 403, "does not publish its KPI values")
            assert body["kpi_values_visible"] is False
            assert body["type"].endswith("/private-data")
        for role in (Role.city_official, Role.programme_coordinator, Role.admin):
            assert env.http.get(path, headers=env.auth(role)).status_code == 200, (path, role)
    # The city's official without private:read (only cities:write) still reads its own city's values.
    writer_only = env.auth(Role.city_official, scopes=frozenset({"cities:write"}))
    assert env.http.get(paths[0], headers=writer_only).status_code == 200
    # The city itself stays public, with the same answer about its values.
    detail = env.http.get(f"/api/v1/cities/{env.city_a}").json()
    assert (detail["kpi_values_visible"], detail["latest_kpi_values"]) == (False, [])
    assert_problem(env.http.get("/api/v1/cities/999999/kpi-values"), 404)


def test_list_filters_and_pages(env: Env) -> None:
    put(
        env,
        [
            row("EN-EN-AQ-1C", data_point=dp, year=y, value=5.0 + y % 10)
            for dp in ("PM2.5", "PM10")
            for y in (2021, 2022)
        ],
    )
    url = f"/api/v1/cities/{env.city_a}/kpi-values"
    everything = env.http.get(url, params={"limit": 100}).json()
    assert everything["total"] == 14 + 4
    seen: list[int] = []
    cursor = None
    while True:
        page = env.http.get(url, params={"limit": 5, **({"cursor": cursor} if cursor else {})}).json()
        seen += [v["id"] for v in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [v["id"] for v in everything["items"]]
    assert len(set(seen)) == 18
    by_kpi = env.http.get(url, params={"kpi": "EN: EN: AQ: 1C"}).json()
    assert by_kpi["total"] == 4
    assert env.http.get(url, params={"kpi": "EN-EN-AQ-1C", "data_point": "pm10"}).json()["total"] == 2
    assert env.http.get(url, params={"year": 2022}).json()["total"] == 2
    assert env.http.get(url, params={"kpi": "NOPE"}).json()["total"] == 0


# ---------------------------------------------------------------------------------------------- CSV import


HEADER = "kpi,data_point,year,value,data_quality,source"


def csv_text(lines: list[str], header: str = HEADER, newline: str = "\n") -> str:
    return newline.join([header, *lines]) + newline


def import_csv(env: Env, text: str | bytes, role: Role | None = Role.city_official, multipart: bool = False) -> Any:
    url = f"/api/v1/cities/{env.city_a}/kpi-values/import"
    data = text.encode() if isinstance(text, str) else text
    if multipart:
        return env.http.post(url, files={"file": ("values.csv", data, "text/csv")}, headers=env.auth(role))
    return env.http.post(url, content=data, headers={**env.auth(role), "content-type": "text/csv"})


GOOD_LINES = [
    "SC-EH-H-1C,,2021,82.1,measured,SSB",
    "EN: EN: AQ: 1C,PM2.5,2021,6.4,measured,NILU",
    "EN-EN-AQ-1C,PM10,2021,12,calculated,NILU",
    'EN-EN-AQ-1C,NO2,2021,14.5,modelled,"NILU, annual report"',
    "EC-ICT-ICT-1C,,2021,98,estimated,SSB",
    "EC-ICT-ICT-2C,,2021,86.5,Expert opinion,SSB",
    "EC-ICT-ICT-4C,4G,2021,99.1,measured,Nkom",
]


def test_a_csv_with_three_bad_rows_among_ten_is_refused_whole_with_their_lines(env: Env) -> None:
    lines = [
        GOOD_LINES[0],  # line 2
        GOOD_LINES[1],  # 3
        "EN-EN-AQ-1C,PM1,2021,5,measured,NILU",  # 4: no such data point
        GOOD_LINES[2],  # 5
        GOOD_LINES[3],  # 6
        "EC-ICT-ICT-2C,,2022,140,measured,SSB",  # 7: percentage over 100
        GOOD_LINES[4],  # 8
        GOOD_LINES[5],  # 9
        "SC-EH-H-1C,,2022,about 80,measured,SSB",  # 10: not a number
        GOOD_LINES[6],  # 11
    ]
    before = env.snapshot(*TABLES)
    body = assert_problem(
        import_csv(env, csv_text(lines)), 422, "3 of 10 rows are invalid", "line 4", "line 7", "line 10"
    )
    assert body["invalid_lines"] == [4, 7, 10]
    assert [(e["line"], e["field"]) for e in body["errors"]] == [(4, "data_point"), (7, "value"), (10, "value")]
    assert "PM1" in body["errors"][0]["message"]
    assert "out of range" in body["errors"][1]["message"]
    assert "number" in body["errors"][2]["message"]
    assert env.snapshot(*TABLES) == before


def test_a_csv_imports_as_text_csv_and_as_multipart_with_bom_and_crlf(env: Env) -> None:
    text = "\ufeff" + csv_text(GOOD_LINES[:4], newline="\r\n")
    response = import_csv(env, text)
    assert response.status_code == 200, response.text
    assert response.json() == {"rows": 4, "created": 4, "updated": 0, "unchanged": 0}
    multipart = import_csv(env, csv_text(GOOD_LINES), multipart=True)
    assert multipart.status_code == 200, multipart.text
    assert multipart.json() == {"rows": 7, "created": 3, "updated": 0, "unchanged": 4}
    assert stored(env, "EC-ICT-ICT-2C")[-1]["data_quality"] == "expert_opinion"
    assert stored(env, "EN-EN-AQ-1C", "NO2")[0]["source"] == "NILU, annual report"
    events = env.audit("kpi_values.import")
    assert [e["changes"]["counts"]["created"] for e in events] == [4, 3]


def test_csv_file_problems(env: Env) -> None:
    before = env.snapshot(*TABLES)
    assert_problem(import_csv(env, ""), 422, "empty")
    assert_problem(import_csv(env, HEADER + "\n"), 422, "no rows")
    assert_problem(import_csv(env, "SC-EH-H-1C,,2021,82.1,measured,SSB\n"), 422, "header")
    assert_problem(import_csv(env, csv_text(GOOD_LINES[:1], header="kpi,year,value,source")), 422, "data_quality")
    assert_problem(import_csv(env, csv_text(GOOD_LINES[:1], header=HEADER + ",colour")), 422, "colour")
    assert_problem(import_csv(env, "kpi,kpi,year,value,data_quality,source\nx,x,1,1,measured,s\n"), 422, "repeated")
    assert_problem(import_csv(env, csv_text(GOOD_LINES[:1]).encode("utf-16")), 422, "UTF-8")
    uneven = assert_problem(import_csv(env, csv_text([GOOD_LINES[0], "SC-EH-H-1C,,2022"])), 422, "line 3")
    assert uneven["errors"] == [{"line": 3, "field": "row", "message": "3 fields where the header has 6"}]
    # A quoted field may span lines: the error names the line the row starts on.
    spanning = csv_text([GOOD_LINES[0], 'SC-EH-H-1C,,2022,x,measured,"two\nlines"', "NOPE,,2021,1,measured,s"])
    body = assert_problem(import_csv(env, spanning), 422)
    assert [e["line"] for e in body["errors"]] == [3, 5]
    assert env.snapshot(*TABLES) == before


def test_wrong_content_type_is_415_and_no_file_field_is_422(env: Env) -> None:
    url = f"/api/v1/cities/{env.city_a}/kpi-values/import"
    official = env.auth(Role.city_official)
    body = assert_problem(env.http.post(url, json={"values": []}, headers=official), 415, "text/csv")
    assert body["accepted"] == ["text/csv", "application/csv", "multipart/form-data"]
    assert_problem(env.http.post(url, content=b"a", headers={**official, "content-type": "text/plain"}), 415)
    latin = {**official, "content-type": "text/csv; charset=latin-1"}
    assert_problem(env.http.post(url, content=b"kpi", headers=latin), 415, "UTF-8")
    no_file = env.http.post(url, files={"other": ("x.csv", b"kpi", "text/csv")}, headers=official)
    assert_problem(no_file, 422, "'file'")
    # The permission comes first: a caller without the right is refused before the body is looked at.
    assert_problem(env.http.post(url, json={}, headers=env.auth(Role.vendor_member)), 403)
    assert_problem(env.http.post(url, json={}), 401)


def test_a_file_over_the_limit_is_413_however_it_is_sent(make_city_app: Any, env: Env) -> None:
    app = make_city_app(upload_max_bytes=300)
    small = csv_text(GOOD_LINES[:2])
    big = csv_text(GOOD_LINES * 3)
    assert len(small.encode()) <= 300 < len(big.encode())
    url = f"/api/v1/cities/{env.city_a}/kpi-values/import"
    before = env.snapshot(*TABLES)
    with TestClient(app, base_url=BASE_URL) as http:
        headers = {**env.auth(Role.city_official), "content-type": "text/csv"}
        body = assert_problem(http.post(url, content=big.encode(), headers=headers), 413, "300 bytes")
        assert body["limit_bytes"] == 300

        def chunks() -> Any:  # no Content-Length: the body is counted as it arrives
            for _ in range(100):
                yield big.encode()

        assert_problem(http.post(url, content=chunks(), headers=headers), 413)
        files = {"file": ("values.csv", big.encode(), "text/csv")}
        assert_problem(http.post(url, files=files, headers=env.auth(Role.city_official)), 413)
        assert env.snapshot(*TABLES) == before
        assert http.post(url, content=small.encode(), headers=headers).status_code == 200


# ---------------------------------------------------------------------------------------------- export


def test_export_csv_and_json_and_an_export_imports_again_as_a_no_op(env: Env) -> None:
    put(env, [row(note='says "hi", twice'), row("EN-EN-AQ-1C", data_point="PM2.5", value=0.1 + 0.2)])
    response = env.http.get(f"/api/v1/cities/{env.city_a}/kpi-values/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="karmoy-kpi-values.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["kpi", "data_point", "year", "value", "data_quality", "source", "note", "verified"]
    assert len(rows) == 16
    pm25 = next(r for r in rows if r["data_point"] == "PM2.5")
    assert float(pm25["value"]) == 0.1 + 0.2  # exactly: the export writes the shortest exact text
    assert {r["verified"] for r in rows} == {"true", "false"}
    before = env.snapshot(*TABLES)
    again = import_csv(env, response.content)
    assert again.json() == {"rows": 16, "created": 0, "updated": 0, "unchanged": 16}
    assert env.snapshot(*TABLES) == before  # not even an audit event
    as_json = env.http.get(f"/api/v1/cities/{env.city_a}/kpi-values/export", params={"format": "json"}).json()
    assert as_json["city_id"] == env.city_a
    assert len(as_json["values"]) == 16
    # The JSON rows PUT back (without `verified`, which is the platform's) change nothing either.
    values = [{k: v for k, v in r.items() if k != "verified"} for r in as_json["values"]]
    assert put(env, values).json()["unchanged"] == 16
    only_air = env.http.get(
        f"/api/v1/cities/{env.city_a}/kpi-values/export", params={"kpi": "EN-EN-AQ-1C", "format": "json"}
    )
    assert [v["data_point"] for v in only_air.json()["values"]] == ["PM2.5"]
    assert_problem(env.http.get(f"/api/v1/cities/{env.city_a}/kpi-values/export", params={"format": "xml"}), 422)


# ---------------------------------------------------------------------------------------------- verifying


def test_only_admins_verify_and_a_new_value_withdraws_it(env: Env) -> None:
    put(env, [row()])
    url = f"/api/v1/cities/{env.city_a}/kpi-values/verify"
    keys = {"values": [{"kpi": "SC-EH-H-1C", "year": 2022}]}
    assert_problem(env.http.post(url, json=keys, headers=env.auth(Role.city_official)), 403, "admins")
    done = env.http.post(url, json=keys, headers=env.auth(Role.admin))
    assert done.json() == {"rows": 1, "changed": 1, "unchanged": 0}
    assert stored(env, "SC-EH-H-1C")[0]["verified"]
    assert env.audit("kpi_values.verify")[0]["changes"]["rows"] == [
        {"kpi": "SC-EH-H-1C", "data_point": "", "year": 2022}
    ]
    missing = {"values": [{"kpi": "SC-EH-H-1C", "year": 2010}, {"kpi": "NOPE", "year": 2022}]}
    body = assert_problem(env.http.post(url, json=missing, headers=env.auth(Role.admin)), 422)
    assert sorted(e["index"] for e in body["errors"]) == [0, 1]
    put(env, [row(value=83.0)])
    assert not stored(env, "SC-EH-H-1C")[0]["verified"]
