"""Matches: solutions for a city, cities for a solution (a vendor's leads), twin-city partners, and saved
match runs (docs/architecture.md §7). Both faces (REST, GraphQL) call these functions; one module a feature:

- `shared`: the visibility checks (a request's one or two statements), the snapshot, the answers' pieces;
- `solutions_for_city`: solutions for a city (`solution_matches`);
- `leads`: cities for a solution (`solution_leads`);
- `twins`: twin-city partners (`twin_matches`);
- `runs`: saved match runs (`create_match_run`, `get_match_run`, `list_match_runs`).

Each request reads one or two rows for its visibility check, then works on the process-wide snapshot of
`app.matches.store` (no statement at all while the snapshot is fresh; one to check it when due): a constant
number of SQL statements whatever the number of KPIs, cities or solutions. The arithmetic is
`app.matching`'s; these modules pick the rows (hard filters), and turn the parts of each score into reasons
that name the KPIs, the cities and the evidence, and add up to the score.
"""

from app.matches.service.leads import learned_for_leads, similar_evidence_for_solution, solution_leads
from app.matches.service.runs import create_match_run, get_match_run, list_match_runs, run_out, run_summary
from app.matches.service.shared import check_city_visible, visible_city, visible_solution
from app.matches.service.solutions_for_city import (
    learned_overrides,
    rank_solutions,
    similar_evidence_for_city,
    similarity_to,
    solution_matches,
)
from app.matches.service.twins import readable_cities, twin_matches

__all__ = [
    "check_city_visible",
    "create_match_run",
    "get_match_run",
    "learned_for_leads",
    "learned_overrides",
    "list_match_runs",
    "rank_solutions",
    "readable_cities",
    "run_out",
    "run_summary",
    "similar_evidence_for_city",
    "similar_evidence_for_solution",
    "similarity_to",
    "solution_leads",
    "solution_matches",
    "twin_matches",
    "visible_city",
    "visible_solution",
]
