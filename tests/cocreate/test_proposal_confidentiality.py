"""The proposal permission matrix (issue 17): every role (and anonymous), on its own proposal or challenge and
on someone else's, while the challenge is open and once it is awarded under each disclosure setting, on both
faces. A proposal is read in full by its vendor, the challenge's city officials and admins; anyone else sees
its summary once disclosed, or nothing (404, the same answer as for an id that does not exist); every write
on an unseen proposal is refused the same way; nothing leaks through search documents or the audit trail.

One database for the module (tests/cocreate/conftest.py), tokens minted once, read behind a ReadOnlyGuard.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from sqlmodel import Session

from app.identity.models import Role
from app.search_index.documents import BUILDERS, searchable_ids
from tests.cocreate.conftest import SECRET, STATES, Bid, Module
from tests.cocreate.test_open_data import ocds_problems
from tests.identity.conftest import ROLES, bearer

Access = Literal["full", "summary", "hidden"]
CALLERS: tuple[Role | None, ...] = (None, *ROLES)
MISSING = 999_999


def expected(role: Role | None, bid: Bid) -> Access:
    """The rule, restated independently of app.auth.permissions: every user of the world is "a"'s."""
    if role is Role.admin or (role is Role.vendor_member and bid.vendor == "a"):
        return "full"
    if role is Role.city_official and bid.city == "a":
        return "full"
    if bid.state == "all_summaries" or (bid.state == "winner_summary" and bid.won):
        return "summary"
    return "hidden"


def _headers(module: Module, role: Role | None) -> dict[str, str]:
    return bearer(module.tokens[role]) if role else {}


def _name(role: Role | None) -> str:
    return role.value if role else "anonymous"


def _check_view(where: str, access: Access, status: int, body: dict[str, Any] | None, raw: str) -> list[str]:
    if access == "hidden":
        return [] if status == 404 and SECRET not in raw else [f"{where}: expected 404, got {status} {raw[:200]}"]
    if status != 200 or body is None:
        return [f"{where}: expected 200, got {status} {raw[:200]}"]
    if access == "full":
        return [] if SECRET in (body.get("text") or "") else [f"{where}: the text is missing"]
    problems = [] if body.get("text") is None and SECRET not in raw else [f"{where}: the text leaked"]
    return problems + ([] if body.get("summary", "").startswith("Summary of") else [f"{where}: no summary"])


def test_rest_reads_of_each_proposal_and_its_thread(cocreate: Module) -> None:
    problems: list[str] = []
    for role in CALLERS:
        headers = _headers(cocreate, role)
        for bid in cocreate.bids:
            access = expected(role, bid)
            where = f"GET proposal {bid} as {_name(role)}"
            response = cocreate.client.get(f"/api/v1/proposals/{bid.id}", headers=headers)
            body = response.json() if response.status_code == 200 else None
            problems += _check_view(where, access, response.status_code, body, response.text)
            thread = cocreate.client.get("/api/v1/comments", params={"proposal": bid.id}, headers=headers)
            wanted = 200 if access == "full" else 404
            if thread.status_code != wanted or (wanted == 404 and SECRET in thread.text):
                problems.append(f"GET comments of {bid} as {_name(role)}: expected {wanted}, got {thread.status_code}")
    assert not problems, "\n".join(problems)


def test_rest_lists_show_what_each_caller_may_see_and_the_count_to_all(cocreate: Module) -> None:
    problems: list[str] = []
    for role in CALLERS:
        headers = _headers(cocreate, role)
        for (city, state), challenge_id in cocreate.challenges.items():
            bids = [b for b in cocreate.bids if b.challenge_id == challenge_id]
            listed = cocreate.client.get(f"/api/v1/challenges/{challenge_id}/proposals", headers=headers).json()
            want = {b.id: expected(role, b) for b in bids if expected(role, b) != "hidden"}
            got = {p["id"]: ("full" if p["text"] is not None else "summary") for p in listed["items"]}
            if got != want or listed["total"] != len(want):
                problems.append(f"list of {city} {state} as {_name(role)}: expected {want}, got {got}")
            challenge = cocreate.client.get(f"/api/v1/challenges/{challenge_id}", headers=headers).json()
            winner = next((b.id for b in bids if b.won), None) if state not in ("open", "nothing") else None
            if (challenge["proposal_count"], challenge["awarded_proposal_id"]) != (2, winner):
                problems.append(f"challenge {city} {state} as {_name(role)}: {challenge}")
    assert not problems, "\n".join(problems)


PROPOSAL_QUERY = "query ($id: Int!) { proposal(id: $id) { id text summary } }"
CHALLENGE_QUERY = "query ($id: Int!) { challenge(id: $id) { proposalCount awardedProposalId proposals { id text } } }"


def _gql(module: Module, role: Role | None, query: str, **variables: Any) -> dict[str, Any]:
    response = module.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=_headers(module, role)
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_graphql_reads_match_the_rule(cocreate: Module) -> None:
    problems: list[str] = []
    for role in CALLERS:
        for bid in cocreate.bids:
            access = expected(role, bid)
            result = _gql(cocreate, role, PROPOSAL_QUERY, id=bid.id)
            where = f"GraphQL proposal {bid} as {_name(role)}"
            if access == "hidden":
                code = (result.get("errors") or [{}])[0].get("extensions", {}).get("code")
                if code != "NOT_FOUND" or SECRET in json.dumps(result):
                    problems.append(f"{where}: expected NOT_FOUND, got {result}")
                continue
            node = (result.get("data") or {}).get("proposal")
            problems += _check_view(where, access, 200 if node else 500, node, json.dumps(result))
        for (city, state), challenge_id in cocreate.challenges.items():
            node = _gql(cocreate, role, CHALLENGE_QUERY, id=challenge_id)["data"]["challenge"]
            bids = [b for b in cocreate.bids if b.challenge_id == challenge_id]
            want = {b.id: expected(role, b) for b in bids if expected(role, b) != "hidden"}
            got = {p["id"]: ("full" if p["text"] is not None else "summary") for p in node["proposals"]}
            if got != want or node["proposalCount"] != 2:
                problems.append(f"GraphQL challenge {city} {state} as {_name(role)}: expected {want}, got {node}")
    assert not problems, "\n".join(problems)


# Every write that names a proposal, on both faces: (REST method, path suffix, JSON body; GraphQL mutation).
WRITES = [
    ("PATCH", "", {"text": "mine now"}, 'updateProposal(id: $id, expectedVersion: 1, text: "mine now")'),
    ("POST", "/comments", {"body": "hello"}, 'commentOnProposal(proposalId: $id, body: "hello")'),
    ("POST", "/shortlist", None, "shortlistProposal(id: $id, expectedVersion: 1)"),
    ("POST", "/decline", None, "declineProposal(id: $id, expectedVersion: 1)"),
    (
        "PUT",
        "/scores",
        {"scores": [{"criterion_id": 1, "score": 9}]},
        "scoreProposal(id: $id, scores: [{criterionId: 1, score: 9}])",
    ),
]


def test_writes_on_a_proposal_the_caller_cannot_see_answer_as_for_a_missing_one(cocreate: Module) -> None:
    """Refused exactly like an id that does not exist, on both faces (the guard fails any write)."""
    problems: list[str] = []
    for role in CALLERS:
        headers = _headers(cocreate, role)
        # One unseen open proposal per city (the other cells add nothing but requests).
        unseen = list(
            {b.city: b for b in cocreate.bids if expected(role, b) == "hidden" and b.state == "open"}.values()
        )
        if role is not Role.admin:
            assert unseen, role
        for method, suffix, body, mutation in WRITES:
            missing = cocreate.client.request(
                method, f"/api/v1/proposals/{MISSING}{suffix}", json=body, headers=headers
            )
            gql_missing = _gql(
                cocreate,
                role,
                f"mutation ($id: Int!) {{ m: {mutation} {{ __typename ... on MutationError {{ code }} }} }}",
                id=MISSING,
            )
            for bid in unseen:
                answer = cocreate.client.request(
                    method, f"/api/v1/proposals/{bid.id}{suffix}", json=body, headers=headers
                )
                if answer.status_code != missing.status_code or answer.status_code not in (401, 403, 404):
                    problems.append(
                        f"{method} {suffix} on {bid} as {_name(role)}: {answer.status_code} {answer.text[:150]}"
                    )
                result = _gql(
                    cocreate,
                    role,
                    f"mutation ($id: Int!) {{ m: {mutation} {{ __typename ... on MutationError {{ code }} }} }}",
                    id=bid.id,
                )
                if result != gql_missing:
                    problems.append(f"GraphQL {mutation} on {bid} as {_name(role)}: {result} vs missing {gql_missing}")
    assert not problems, "\n".join(problems)


def test_nothing_leaks_through_search_documents_or_the_audit_trail(cocreate: Module) -> None:
    with Session(cocreate.engine) as session:
        for index, build in BUILDERS.items():
            ids = list(session.exec(searchable_ids(index)).all())
            documents = build(session, [i for i in ids if i is not None])
            assert SECRET not in json.dumps([d for d in documents], default=str), index
    for role in CALLERS:
        response = cocreate.client.get(
            "/api/v1/audit-events", params={"object_type": "proposal"}, headers=_headers(cocreate, role)
        )
        allowed = role is Role.admin
        assert response.status_code == (200 if allowed else 401 if role is None else 403), (role, response.text)
        assert (SECRET in response.text) is allowed  # the events hold the texts: admins only read them
    assert set(STATES) == {"open", "nothing", "winner_summary", "all_summaries"}
    # The exports: KPI values carry nothing of co-creation; OCDS names a supplier only where the winner is public.
    for path in ("/api/v1/open-data/kpi-values", "/api/v1/open-data/kpi-framework"):
        assert SECRET not in cocreate.client.get(path).text
    package = cocreate.client.get("/api/v1/open-data/ocds/releases").json()
    assert SECRET not in json.dumps(package)
    assert ocds_problems(package) == []
    suppliers = {r["tender"]["id"]: [s["id"] for s in r["awards"][0].get("suppliers", [])] for r in package["releases"]}
    awarded = {(city, state): i for (city, state), i in cocreate.challenges.items() if state != "open"}
    assert suppliers == {
        f"challenge-{i}": ([] if state == "nothing" else [f"vendor-{cocreate.world.vendor[city]}"])
        for (city, state), i in awarded.items()
    }
    budgets = {json.dumps([r["tender"]["minValue"], r["tender"]["value"]]) for r in package["releases"]}
    assert budgets == {json.dumps([{"amount": 1000, "currency": "EUR"}, {"amount": 5000, "currency": "EUR"}])}
