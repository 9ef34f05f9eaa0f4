"""The design is the project's own: nothing cites a document outside the repository, and every section a
docstring or comment cites (`docs/design.md §4`) is a heading of that page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.database_free  # CI runs it in the SQLite lane only (no database here)

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for folder in ("app", "search", "seeds") for p in (ROOT / folder).rglob("*.py")]
CITATION = re.compile(r"docs/(\w+)\.md((?: (?:§\d+|and)(?:,)?)+)?")


def _sections(page: Path) -> set[str]:
    return set(re.findall(r"^## (\d+)\. ", page.read_text(), flags=re.MULTILINE))


def test_no_source_cites_a_design_outside_the_repository() -> None:
    citing = [str(p.relative_to(ROOT)) for p in SOURCES if "DESIGN.md" in p.read_text()]
    assert citing == []


def test_every_cited_section_exists() -> None:
    cited = 0
    for path in SOURCES:
        for page, sections in CITATION.findall(path.read_text()):
            target = ROOT / "docs" / f"{page}.md"
            assert target.is_file(), f"{path.relative_to(ROOT)} cites docs/{page}.md, which does not exist"
            for number in re.findall(r"§(\d+)", sections):
                cited += 1
                assert number in _sections(target), f"{path.relative_to(ROOT)} cites docs/{page}.md §{number}"
    assert cited >= 6, "the six docstrings that cite the design must keep citing it"


def test_the_readme_links_the_architecture() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docs/architecture.md" in readme
    assert "docs/design.md" in readme
