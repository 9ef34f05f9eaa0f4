"""Issue 17: procurement fields (budget and ISO 4217 currency, criteria weights summing to 100, the deadline),
public clarifications with the asker hidden, and the officials' evaluation (scores, weighted ranking, award),
each write on both faces with the same checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.identity.models import OrganisationKind, Role
from tests.api.writes_city.conftest import Env, assert_problem
from tests.api.writes_city.test_challenges import next_month, post_challenge, propose, tagged, today

CRITERIA = [{"name": "Impact", "weight": 60}, {"name": "Cost", "weight": 40}]
ERROR = "... on MutationError { code message fieldErrors { field message } }"


def gql(env: Env, headers: dict[str, str], query: str, **variables: Any) -> dict[str, Any]:
    response = env.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text
    data: dict[str, Any] = response.json()["data"]
    return data


CREATE = f"""mutation ($input: ChallengeCreateInput!) {{
  createChallenge(input: $input) {{ __typename ... on Challenge {{ id currency criteria {{ name weight }} }} {ERROR} }}
}}"""


def test_budget_currency_and_criteria_are_validated_alike_on_both_faces(env: Env) -> None:
    official = env.auth(Role.city_official)
    base = {
        "cityId": env.city_a,
        "title": "Leaks",
        "targetKpis": ["EN-EN-AQ-1C"],
        "deadline": next_month(),
    }
    cases = [
        ({"criteria": [{"name": "Impact", "weight": 60}, {"name": "Cost", "weight": 30}]}, "body", "not 90"),
        ({"currency": "EUX", "budget_min": 10}, "body.currency", "ISO 4217"),
        ({"budget_min": 10, "budget_max": 20}, "body", "currency"),
        ({"currency": "EUR", "budget_min": 30, "budget_max": 20}, "body", "budget_min"),
    ]
    before = env.scalar("SELECT COUNT(*) FROM challenge")
    for extra, field, words in cases:
        body = assert_problem(post_challenge(env, **extra), 422, words)
        assert field in {e["field"] for e in body["errors"]}, body
        camel = {"budget_min": "budgetMin", "budget_max": "budgetMax"}
        result = gql(env, official, CREATE, input={**base, **{camel.get(k, k): v for k, v in extra.items()}})
        error = result["createChallenge"]
        assert error["code"] == "VALIDATION_ERROR", error
        assert words in error["message"], error
    assert env.scalar("SELECT COUNT(*) FROM challenge") == before
    made = post_challenge(env, criteria=CRITERIA, currency="NOK", budget_min=100_000, budget_max=250_000)
    assert made.status_code == 201, made.text
    out = made.json()
    assert (out["currency"], out["budget_min"], out["budget_max"], out["disclosure"]) == (
        "NOK",
        100_000,
        250_000,
        "winner_summary",
    )
    assert [(c["name"], c["weight"]) for c in out["criteria"]] == [("Impact", 60), ("Cost", 40)]
    by_graphql = gql(env, official, CREATE, input={**base, "criteria": CRITERIA, "currency": "EUR"})["createChallenge"]
    assert by_graphql["currency"] == "EUR"
    assert by_graphql["criteria"] == CRITERIA
    [event, _] = env.audit("challenge.create")
    assert event["changes"]["criteria"] == [["Impact", 60], ["Cost", 40]]
    # The disclosure is chosen when posting, never changed after.
    url = f"/api/v1/challenges/{out['id']}"
    headers = tagged(env, "challenge", out["id"], official)
    assert_problem(env.http.patch(url, json={"disclosure": "all_summaries"}, headers=headers), 422, "body.disclosure")


def test_proposals_after_the_deadline_are_refused_naming_it_on_both_faces(env: Env) -> None:
    expired = env.challenge(env.city_a, today() - timedelta(days=1))
    listing = env.published_solution("a")
    deadline = (today() - timedelta(days=1)).isoformat()
    body = assert_problem(propose(env, expired, listing), 409, deadline)
    assert body["deadline"] == deadline
    mutation = f"""mutation ($id: Int!, $input: ProposalCreateInput!) {{
      submitProposal(challengeId: $id, input: $input) {{ __typename {ERROR} }} }}"""
    result = gql(env, env.auth(Role.vendor_member), mutation, id=expired, input={"solutionId": listing, "text": "x"})
    assert result["submitProposal"]["code"] == "CONFLICT"
    assert deadline in result["submitProposal"]["message"]
    assert env.scalar("SELECT COUNT(*) FROM proposal") == 0


def test_clarifications_are_public_and_never_name_the_asker(env: Env) -> None:
    challenge_id = post_challenge(env).json()["id"]
    vendor_a = env.auth(Role.vendor_member)
    vendor_b = env.new_user(Role.vendor_member, OrganisationKind.vendor, env.world.vendor["b"])
    asked = env.http.post(
        f"/api/v1/challenges/{challenge_id}/clarifications", json={"question": "Inflow data?"}, headers=vendor_a
    )
    assert asked.status_code == 201, asked.text
    ask = f"""mutation ($id: Int!) {{ askClarification(challengeId: $id, question: "Meter share?") {{
      __typename ... on Clarification {{ id question }} {ERROR} }} }}"""
    second = gql(env, vendor_b, ask, id=challenge_id)["askClarification"]
    assert second["question"] == "Meter share?"
    # The city answers (REST, GraphQL); a vendor may not; the askers are nowhere in what anyone reads.
    answer_url = f"/api/v1/clarifications/{asked.json()['id']}/answer"
    assert_problem(env.http.put(answer_url, json={"answer": "No."}, headers=vendor_a), 403)
    assert (
        env.http.put(answer_url, json={"answer": "Attached."}, headers=env.auth(Role.city_official)).status_code == 200
    )
    answer = f"""mutation ($id: Int!) {{ answerClarification(id: $id, answer: "About 70 %.") {{
      __typename ... on Clarification {{ answer }} {ERROR} }} }}"""
    assert (
        gql(env, env.auth(Role.city_official), answer, id=second["id"])["answerClarification"]["answer"]
        == "About 70 %."
    )
    assert gql(env, vendor_b, answer, id=second["id"])["answerClarification"]["code"] == "FORBIDDEN"
    public = env.http.get(f"/api/v1/challenges/{challenge_id}/clarifications")
    assert [(c["question"], c["answer"]) for c in public.json()] == [
        ("Inflow data?", "Attached."),
        ("Meter share?", "About 70 %."),
    ]
    query = "query ($id: Int!) { challenge(id: $id) { clarifications { question answer } } }"
    assert gql(env, {}, query, id=challenge_id)["challenge"]["clarifications"] == [
        {"question": q, "answer": a} for q, a in (("Inflow data?", "Attached."), ("Meter share?", "About 70 %."))
    ]
    fields = {"id", "challenge_id", "question", "answer", "answered_at", "created_at"}
    assert all(set(c) == fields for c in public.json()), public.text
    assert "Identity Vendor" not in public.text
    # Closed: no more questions.
    env.execute("UPDATE challenge SET status = 'closed' WHERE id = :id", id=challenge_id)
    closed = env.http.post(
        f"/api/v1/challenges/{challenge_id}/clarifications", json={"question": "?"}, headers=vendor_a
    )
    assert_problem(closed, 403, "open")


SCORE = f"""mutation ($id: Int!, $scores: [ScoreInput!]!) {{ scoreProposal(id: $id, scores: $scores) {{
  __typename ... on Scores {{ scores {{ criterionId score }} }} {ERROR} }} }}"""
RANKING = "query ($id: Int!) { challengeRanking(id: $id) { items { proposalId weightedScore rank } } }"


def test_officials_score_rank_and_award_with_a_reason(env: Env) -> None:
    challenge = post_challenge(env, criteria=CRITERIA, currency="EUR", budget_max=50_000).json()
    impact, cost = (c["id"] for c in challenge["criteria"])
    vendor_b = env.new_user(Role.vendor_member, OrganisationKind.vendor, env.world.vendor["b"])
    a = propose(env, challenge["id"], env.published_solution("a")).json()
    b = propose(env, challenge["id"], env.published_solution("b"), vendor_b).json()
    official, second = env.auth(Role.city_official), env.new_user(Role.city_official, OrganisationKind.city, env.city_a)

    def rest_score(proposal: dict[str, Any], headers: dict[str, str], scores: list[dict[str, Any]]) -> Any:
        return env.http.put(f"/api/v1/proposals/{proposal['id']}/scores", json={"scores": scores}, headers=headers)

    assert rest_score(a, official, [{"criterion_id": impact, "score": 8, "note": "strong"}]).status_code == 200
    assert rest_score(a, second, [{"criterion_id": impact, "score": 6}, {"criterion_id": cost, "score": 5}]).json()
    made = gql(
        env,
        official,
        SCORE,
        id=b["id"],
        scores=[{"criterionId": impact, "score": 9}, {"criterionId": cost, "score": 9}],
    )
    assert made["scoreProposal"]["scores"] == [{"criterionId": impact, "score": 9}, {"criterionId": cost, "score": 9}]
    # A later score replaces the same official's earlier one.
    assert rest_score(a, official, [{"criterion_id": impact, "score": 8}]).status_code == 200
    # The same refusals on both faces: out of range, unknown criterion, not the city's officials.
    assert_problem(rest_score(a, official, [{"criterion_id": impact, "score": 11}]), 422, "body.scores.0.score")
    bad = gql(env, official, SCORE, id=a["id"], scores=[{"criterionId": impact, "score": 11}])["scoreProposal"]
    assert bad["code"] == "VALIDATION_ERROR"
    assert bad["fieldErrors"][0]["field"] == "scores.0.score"
    assert_problem(rest_score(a, official, [{"criterion_id": 999_999, "score": 1}]), 422, "criteria")
    assert_problem(rest_score(a, env.auth(Role.vendor_member), [{"criterion_id": impact, "score": 10}]), 403)
    other_city = env.new_user(Role.city_official, OrganisationKind.city, env.city_b)
    assert_problem(rest_score(a, other_city, [{"criterion_id": impact, "score": 10}]), 404)
    assert (
        gql(env, other_city, SCORE, id=a["id"], scores=[{"criterionId": impact, "score": 1}])["scoreProposal"]["code"]
        == "NOT_FOUND"
    )
    # The weighted ranking: Impact 60 %, Cost 40 %; a: (8+6)/2 and 5 -> 62; b: 9 and 9 -> 90.
    url = f"/api/v1/challenges/{challenge['id']}/ranking"
    ranking = env.http.get(url, headers=official).json()
    assert [(r["proposal_id"], r["weighted_score"], r["rank"]) for r in ranking["items"]] == [
        (b["id"], 90.0, 1),
        (a["id"], 62.0, 2),
    ]
    assert ranking["items"][1]["criteria"][0] == {
        "criterion_id": impact,
        "name": "Impact",
        "weight": 60,
        "mean_score": 7.0,
        "scores": 2,
    }
    by_graphql = gql(env, official, RANKING, id=challenge["id"])["challengeRanking"]["items"]
    assert by_graphql == [
        {"proposalId": r["proposal_id"], "weightedScore": r["weighted_score"], "rank": r["rank"]}
        for r in ranking["items"]
    ]
    for headers in (env.auth(Role.vendor_member), vendor_b, other_city, {}):
        assert_problem(env.http.get(url, headers=headers), 404)
        response = env.http.post(
            "/graphql", json={"query": RANKING, "variables": {"id": challenge["id"]}}, headers=headers
        )
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # The award records the winner and why, audited with its score; the evaluation closes.
    award = env.http.post(
        f"/api/v1/challenges/{challenge['id']}/award",
        json={"proposal_id": b["id"], "note": "Best measured impact within budget."},
        headers=tagged(env, "challenge", challenge["id"], official),
    )
    assert award.status_code == 200, award.text
    assert award.json()["awarded_proposal_id"] == b["id"]
    assert award.json()["awarded_at"]
    [event] = env.audit("challenge.award")
    assert (event["changes"]["proposal_id"], event["changes"]["reason"], event["changes"]["weighted_score"]) == (
        b["id"],
        "Best measured impact within budget.",
        90.0,
    )
    assert env.http.get(url, headers=official).json()["award_reason"] == "Best measured impact within budget."
    assert_problem(rest_score(a, official, [{"criterion_id": impact, "score": 1}]), 409, "awarded")
    assert len(env.audit("proposal.score")) == 4
    # After the award (winner_summary): the public sees the winner's summary only, never a text.
    public = env.http.get(f"/api/v1/challenges/{challenge['id']}/proposals").json()
    assert [(p["id"], p["text"]) for p in public["items"]] == [(b["id"], None)]
    assert_problem(env.http.get(f"/api/v1/proposals/{a['id']}"), 404)
