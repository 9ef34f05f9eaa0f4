"""The seeded human translations reach REST readers: the real listing in German for Accept-Language: de, the
English original for Accept-Language: fi."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_seeded_listing_answers_in_german_and_falls_back_to_english(read_client: TestClient) -> None:
    items = read_client.get("/api/v1/solutions", params={"limit": 100}).json()["items"]
    cube = next(i for i in items if i["slug"] == "mann-hummel-filter-cube")
    path = f"/api/v1/solutions/{cube['id']}"

    de = read_client.get(path, headers={"Accept-Language": "de"})
    assert de.headers["Content-Language"] == "de"
    assert de.json()["title"].startswith("Filter Cube Feinstaubfiltersäulen")
    assert de.json()["field_languages"] == {"title": "de", "summary": "de", "description": "de"}

    fi = read_client.get(path, headers={"Accept-Language": "fi"})
    assert fi.headers["Content-Language"] == "en"
    assert fi.json()["title"] == cube["title"]
    assert fi.json()["language"] == "en"
    assert "Accept-Language" in fi.headers["Vary"]

    nb = read_client.get(path, headers={"Accept-Language": "no"})
    assert nb.json()["title"].startswith("Filter Cube filtersøyler")
    assert nb.headers["Content-Language"] == "nb"


UN_AND_HUBS = {"ar", "zh", "fr", "ru", "es", "de", "nb"}  # besides the English originals


def test_every_demo_item_has_a_translation_and_the_real_ones_the_six_un_languages(read_client: TestClient) -> None:
    from sqlalchemy import func
    from sqlmodel import Session, select

    from app.case_studies.models import CaseStudy
    from app.challenges.models import Challenge
    from app.guidelines.models import ProcurementGuideline
    from app.solutions.models import Solution, SolutionTranslation
    from app.translations.models import ContentTranslation, TranslatableKind

    engine = read_client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        listed = set(session.exec(select(SolutionTranslation.solution_id)).all())
        assert set(session.exec(select(Solution.id)).all()) <= listed
        rows = session.exec(select(ContentTranslation.kind, ContentTranslation.item_id, ContentTranslation.language))
        languages: dict[tuple[str, int], set[str]] = {}
        for kind, item_id, language in rows.all():
            languages.setdefault((kind, item_id), set()).add(language)
        kinds = (
            (CaseStudy, TranslatableKind.case_study),
            (ProcurementGuideline, TranslatableKind.guideline),
            (Challenge, TranslatableKind.challenge),
        )
        for model, kind in kinds:
            for item_id in session.exec(select(model.id)).all():
                assert languages.get((kind, item_id)), (kind, item_id)
        real = session.exec(select(CaseStudy.id).where(CaseStudy.is_demo == False)).all()  # noqa: E712
        assert len(real) == 8
        for item_id in real:
            assert languages[(TranslatableKind.case_study, item_id)] >= UN_AND_HUBS
        cube = session.exec(select(Solution.id).where(Solution.slug == "mann-hummel-filter-cube")).one()
        cube_languages = session.exec(
            select(func.count()).where(SolutionTranslation.solution_id == cube)  # type: ignore[arg-type]
        ).one()
        assert cube_languages >= len(UN_AND_HUBS)


def test_a_seeded_case_study_answers_in_german_and_falls_back_to_english(read_client: TestClient) -> None:
    items = read_client.get("/api/v1/case-studies", params={"limit": 100}).json()["items"]
    stuttgart = next(i for i in items if i["slug"] == "stuttgart-fine-dust-filtration")
    path = f"/api/v1/case-studies/{stuttgart['id']}"
    de = read_client.get(path, headers={"Accept-Language": "de"})
    assert de.headers["Content-Language"] == "de"
    assert de.json()["title"] == "Feinstaubfilterung in Stuttgart"
    fi = read_client.get(path, headers={"Accept-Language": "fi"})
    assert fi.headers["Content-Language"] == "en"
    assert fi.json()["title"] == stuttgart["title"]
    zh = read_client.get(path, params={"lang": "zh"})
    assert zh.json()["language"] == "zh"
