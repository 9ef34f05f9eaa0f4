"""The city-side write suite's world (real users, real tokens, a fresh SQLite file per test), reused here."""

from tests.api.writes_city.conftest import (  # noqa: F401  (fixtures)
    city_db,
    city_engine,
    city_template,
    env,
    make_city_app,
)
