"""Every weight and threshold is a setting (CITYMARKET_MATCHING_*), with the arithmetic's defaults."""

from __future__ import annotations

from dataclasses import asdict, fields

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from app.core.config import MatchingSettings, Settings
from app.main import create_app
from app.matching import DEFAULT_WEIGHTS, MatchingWeights
from tests.conftest import TestDatabase
from tests.matches.conftest import city_id


def test_every_weight_is_a_setting_with_the_documented_default() -> None:
    settings = MatchingSettings()
    names = {f.name for f in fields(MatchingWeights)}
    assert names <= set(MatchingSettings.model_fields)
    assert settings.weights() == DEFAULT_WEIGHTS
    assert asdict(settings.weights()) == asdict(DEFAULT_WEIGHTS)


def test_environment_overrides_and_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYMARKET_MATCHING_WEAK_BELOW", "0.5")
    monkeypatch.setenv("CITYMARKET_MATCHING_MIN_REPORTED_KPIS", "3")
    weights = Settings().matching.weights()
    assert (weights.weak_below, weights.min_reported_kpis) == (0.5, 3)
    monkeypatch.setenv("CITYMARKET_MATCHING_WEAK_BELOW", "0.99")  # above strong_from: refused at start-up
    with pytest.raises(ValidationError, match="weak_below"):
        Settings()


def test_the_api_uses_the_settings(db: TestDatabase, engine: Engine) -> None:
    karmoy = city_id(engine, "karmoy")
    strict = db.settings(matching=MatchingSettings(min_reported_kpis=50, similar_evidence_weight=0.0))
    with TestClient(create_app(strict, engine=engine)) as client:
        twins = client.get(f"/api/v1/cities/{karmoy}/twin-matches").json()
        assert twins["eligible"] is False
        assert twins["min_reported_kpis"] == 50
        item = client.get(f"/api/v1/cities/{karmoy}/solution-matches?limit=1").json()["items"][0]
        assert item["reasons"]["similar_cities"]["contribution"] == 0.0
        assert item["score"] == pytest.approx(item["reasons"]["kpi_term"], abs=1e-12)
