"""Onboarding a city and editing its profile: who may, what is checked, If-Match, Idempotency-Key, audit."""

from __future__ import annotations

from app.identity.models import OrganisationKind, Role
from tests.api.writes_city.conftest import Env, assert_problem

NEW_CITY = {
    "name": "Tromsø",
    "country": "no",
    "region": "Troms",
    "population": 77_000,
    "population_year": 2023,
    "area_km2": 2521.0,
    "latitude": 69.65,
    "longitude": 18.96,
    "languages": ["NO", "se"],
    "climate": "Dfc",
    "data_public": True,
}


def _serve_countries(env: Env, hub: str, *countries: str) -> None:
    for code in countries:
        env.execute("INSERT INTO hub_country (hub_id, country_code) VALUES (:h, :c)", h=env.world.hub[hub], c=code)


def test_an_admin_onboards_a_city_with_its_organisation_and_an_audit_event(env: Env) -> None:
    response = env.http.post("/api/v1/cities", json=NEW_CITY, headers=env.auth(Role.admin))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"/api/v1/cities/{body['id']}"
    assert response.headers["ETag"] == f'"city-{body["id"]}-v1"'
    assert body["slug"] == "tromso"
    assert body["country"]["code"] == "NO"
    assert body["languages"] == ["no", "se"]
    assert body["version"] == 1
    assert body["data_public"] is True
    assert env.organisation_of(OrganisationKind.city, body["id"]) is not None
    [event] = env.audit("city.create")
    assert event["object_id"] == str(body["id"])
    assert event["changes"]["name"] == "Tromsø"
    assert event["actor_user_id"] == env.world.actors[Role.admin].user_id
    # It reads back like any city.
    assert env.http.get(f"/api/v1/cities/{body['id']}").json()["name"] == "Tromsø"


def test_a_hub_curator_onboards_cities_of_its_hubs_countries_only(env: Env) -> None:
    _serve_countries(env, "a", "SE")
    _serve_countries(env, "b", "DK")
    curator = env.auth(Role.hub_curator)
    own = env.http.post("/api/v1/cities", json={"name": "Umeå", "country": "SE"}, headers=curator)
    assert own.status_code == 201, own.text
    assert own.json()["slug"] == "umea"
    before = env.scalar("SELECT COUNT(*) FROM city")
    refused = env.http.post("/api/v1/cities", json={"name": "Aalborg", "country": "DK"}, headers=curator)
    assert_problem(refused, 403, "Denmark")
    # Nobody's hub serves Norway: only admins may add a Norwegian city.
    assert_problem(env.http.post("/api/v1/cities", json=NEW_CITY, headers=curator), 403)
    assert_problem(env.http.post("/api/v1/cities", json=NEW_CITY, headers=env.auth(Role.city_official)), 403)
    assert_problem(env.http.post("/api/v1/cities", json=NEW_CITY), 401)
    assert env.scalar("SELECT COUNT(*) FROM city") == before


def test_onboarding_refusals(env: Env) -> None:
    admin = env.auth(Role.admin)
    before = env.scalar("SELECT COUNT(*) FROM city")
    body = assert_problem(env.http.post("/api/v1/cities", json={**NEW_CITY, "name": "Karmøy"}, headers=admin), 409)
    assert body["existing_id"] == env.city_a
    assert_problem(env.http.post("/api/v1/cities", json={**NEW_CITY, "country": "ZZ"}, headers=admin), 422, "ZZ")
    for bad, field in (
        ({"slug": "mine"}, "body.slug"),
        ({"is_demo": True}, "body.is_demo"),
        ({"version": 7}, "body.version"),
        ({"latitude": 91, "longitude": 0}, "body.latitude"),
        ({"longitude": -181, "latitude": 0}, "body.longitude"),
        ({"population": -1}, "body.population"),
        ({"population_year": 1700}, "body.population_year"),
        ({"climate": "Tropical"}, "body.climate"),
        ({"languages": ["nor"]}, "body.languages.0"),
        ({"area_km2": 0}, "body.area_km2"),
    ):
        problem = assert_problem(env.http.post("/api/v1/cities", json={**NEW_CITY, **bad}, headers=admin), 422)
        assert field in {e["field"] for e in problem["errors"]}, (bad, problem)
    # Pairs: a latitude needs its longitude, a population its year.
    no_longitude = {k: v for k, v in NEW_CITY.items() if k != "longitude"}
    assert_problem(env.http.post("/api/v1/cities", json=no_longitude, headers=admin), 422, "latitude and longitude")
    no_year = {k: v for k, v in NEW_CITY.items() if k != "population_year"}
    assert_problem(env.http.post("/api/v1/cities", json=no_year, headers=admin), 422, "population_year")
    assert env.scalar("SELECT COUNT(*) FROM city") == before
    assert env.audit("city.create") == []


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(env: Env) -> None:
    headers = {**env.auth(Role.admin), "Idempotency-Key": "onboard-tromso-1"}
    first = env.http.post("/api/v1/cities", json=NEW_CITY, headers=headers)
    again = env.http.post("/api/v1/cities", json=NEW_CITY, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert env.scalar("SELECT COUNT(*) FROM city WHERE name = 'Tromsø'") == 1
    other = env.http.post("/api/v1/cities", json={**NEW_CITY, "name": "Bodø"}, headers=headers)
    assert_problem(other, 422, "onboard-tromso-1")
    assert env.scalar("SELECT COUNT(*) FROM city WHERE name = 'Bodø'") == 0
    assert len(env.audit("city.create")) == 1


def test_an_official_edits_its_city_with_if_match(env: Env) -> None:
    url = f"/api/v1/cities/{env.city_a}"
    read = env.http.get(url)
    tag = read.headers["ETag"]
    assert tag == f'"city-{env.city_a}-v{read.json()["version"]}"'
    assert env.http.get(url, headers={"If-None-Match": tag}).status_code == 304
    official = env.auth(Role.city_official)
    change = {"population": 43_500, "population_year": 2024, "climate": "Cfb", "languages": ["no", "en"]}
    response = env.http.patch(url, json=change, headers={**official, "If-Match": tag})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["population"] == 43_500
    assert body["languages"] == ["no", "en"]
    assert body["version"] == read.json()["version"] + 1
    assert response.headers["ETag"] == f'"city-{env.city_a}-v{body["version"]}"'
    [event] = env.audit("city.update")
    assert event["changes"]["population"] == {"from": read.json()["population"], "to": 43_500}
    assert "name" not in event["changes"]
    # The old ETag is stale now; no ETag at all is refused too; neither changes anything.
    assert_problem(env.http.patch(url, json={"region": "X"}, headers={**official, "If-Match": tag}), 412)
    assert_problem(env.http.patch(url, json={"region": "X"}, headers=official), 428)
    assert env.http.get(url).json()["region"] == read.json()["region"]
    # Sending what is already there changes nothing: no new version, no event.
    same = env.http.patch(url, json={"climate": "Cfb"}, headers={**official, "If-Match": response.headers["ETag"]})
    assert same.status_code == 200
    assert same.json()["version"] == body["version"]
    assert len(env.audit("city.update")) == 1


def test_edit_refusals(env: Env) -> None:
    url_a, url_b = f"/api/v1/cities/{env.city_a}", f"/api/v1/cities/{env.city_b}"
    tag_a, tag_b = env.http.get(url_a).headers["ETag"], env.http.get(url_b).headers["ETag"]
    official = env.auth(Role.city_official)
    # Another city's official, a vendor, anonymous: refused before If-Match is even looked at.
    assert_problem(env.http.patch(url_b, json={"region": "X"}, headers={**official, "If-Match": tag_b}), 403)
    assert_problem(env.http.patch(url_b, json={"region": "X"}, headers=official), 403)
    assert_problem(env.http.patch(url_a, json={"region": "X"}, headers=env.auth(Role.vendor_member)), 403)
    assert_problem(env.http.patch(url_a, json={"region": "X"}), 401)
    assert_problem(env.http.patch("/api/v1/cities/999999", json={"region": "X"}, headers=official), 404)
    headers = {**official, "If-Match": tag_a}
    for bad in ({"country": "SE"}, {"slug": "x"}, {"is_demo": True}, {"latitude": 10}, {"name": ""}):
        assert_problem(env.http.patch(url_a, json=bad, headers=headers), 422)
    # The name of another city of the same country: 409.
    with_clash = env.http.patch(url_a, json={"name": "stavanger"}, headers=headers)
    assert_problem(with_clash, 409, "Stavanger")
    # The admin may edit any city; data_public toggles the visibility of its values.
    admin = env.auth(Role.admin)
    done = env.http.patch(url_b, json={"data_public": False}, headers={**admin, "If-Match": tag_b})
    assert done.status_code == 200, done.text
    assert env.http.get(url_b).json()["kpi_values_visible"] is False
    assert env.audit("city.update")[0]["changes"] == {"data_public": {"from": True, "to": False}}
