"""Co-creation writes: challenges, proposals and comments, with their lifecycles and who may do what."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.challenges.models import ChallengeStatus
from app.identity.models import OrganisationKind, Role
from app.solutions.models import ListingStatus
from tests.api.writes_city.conftest import Env, assert_problem


def today() -> date:
    """Read when a test runs (not at import), so that a run crossing midnight sees one date per test."""
    return datetime.now(UTC).date()


def next_month() -> str:
    return (today() + timedelta(days=30)).isoformat()


def post_challenge(env: Env, role: Role | None = Role.city_official, **more: Any) -> Any:
    body = {
        "city_id": env.city_a,
        "title": "Cleaner air near schools",
        "statement": "NO2 near schools is above the WHO guideline.",
        "target_kpis": ["EN-EN-AQ-1C", "EN: EN: AQ: 2C"],
        "deadline": next_month(),
        **more,
    }
    return env.http.post("/api/v1/challenges", json=body, headers=env.auth(role))


def tagged(env: Env, kind: str, object_id: int, headers: dict[str, str]) -> dict[str, str]:
    tag = env.http.get(f"/api/v1/{kind}s/{object_id}", headers=headers).headers["ETag"]
    return {**headers, "If-Match": tag}


def propose(env: Env, challenge_id: int, solution_id: int, headers: dict[str, str] | None = None) -> Any:
    return env.http.post(
        f"/api/v1/challenges/{challenge_id}/proposals",
        json={"solution_id": solution_id, "text": "Sensors at every school gate."},
        headers=headers if headers is not None else env.auth(Role.vendor_member),
    )


def test_a_city_posts_edits_and_closes_a_challenge(env: Env) -> None:
    response = post_challenge(env)
    assert response.status_code == 201, response.text
    challenge = response.json()
    assert response.headers["Location"] == f"/api/v1/challenges/{challenge['id']}"
    assert challenge["status"] == "open"
    assert [k["slug"] for k in challenge["target_kpis"]] == ["EN-EN-AQ-1C", "EN-EN-AQ-2C"]
    official = env.auth(Role.city_official)
    url = f"/api/v1/challenges/{challenge['id']}"
    edited = env.http.patch(
        url,
        json={"title": "Cleaner air", "target_kpis": ["EN-EN-AQ-1C"]},
        headers=tagged(env, "challenge", challenge["id"], official),
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["title"] == "Cleaner air"
    assert [k["slug"] for k in edited.json()["target_kpis"]] == ["EN-EN-AQ-1C"]
    assert edited.json()["version"] == 2
    update = env.audit("challenge.update")[0]["changes"]
    assert update["title"] == {"from": "Cleaner air near schools", "to": "Cleaner air"}
    assert "target_kpi_ids" in update
    assert_problem(env.http.patch(url, json={"title": "x"}, headers=official), 428)
    stale = {**official, "If-Match": f'"challenge-{challenge["id"]}-v1"'}
    assert_problem(env.http.patch(url, json={"title": "x"}, headers=stale), 412)
    closed = env.http.post(f"{url}/close", headers=tagged(env, "challenge", challenge["id"], official))
    assert closed.json()["status"] == "closed"
    # Only an open challenge is edited; closing twice is an illegal transition.
    assert_problem(
        env.http.patch(url, json={"title": "x"}, headers=tagged(env, "challenge", challenge["id"], official)),
        409,
        "open",
    )
    body = assert_problem(
        env.http.post(f"{url}/close", headers=tagged(env, "challenge", challenge["id"], official)), 409
    )
    assert body["allowed_actions"] == ["award"]
    assert [e["action"] for e in env.audit() if e["object_type"] == "challenge"] == [
        "challenge.create",
        "challenge.update",
        "challenge.close",
    ]


def test_challenge_refusals(env: Env) -> None:
    before = env.scalar("SELECT COUNT(*) FROM challenge")
    assert_problem(post_challenge(env, city_id=env.city_b), 403, "Stavanger")
    assert_problem(post_challenge(env, role=Role.vendor_member), 403)
    assert_problem(post_challenge(env, role=Role.programme_coordinator), 403)
    assert_problem(post_challenge(env, role=None), 401)
    assert_problem(post_challenge(env, deadline=today().isoformat()), 422, "future")
    assert_problem(post_challenge(env, target_kpis=["NOPE"]), 422, "'NOPE'")
    assert_problem(post_challenge(env, target_kpis=[]), 422, "body.target_kpis")
    assert_problem(post_challenge(env, status="awarded"), 422, "body.status")
    assert_problem(post_challenge(env, city_id=999_999), 422, "999999")
    assert env.scalar("SELECT COUNT(*) FROM challenge") == before
    challenge = post_challenge(env).json()
    url = f"/api/v1/challenges/{challenge['id']}"
    admin_tag = tagged(env, "challenge", challenge["id"], env.auth(Role.admin))
    other = env.new_user(Role.city_official, OrganisationKind.city, env.city_b)
    assert_problem(env.http.patch(url, json={"title": "x"}, headers={**other, "If-Match": admin_tag["If-Match"]}), 403)
    assert_problem(env.http.patch(url, json={"deadline": "2001-01-01"}, headers=admin_tag), 422, "future")
    assert env.http.patch(url, json={"title": "by the admin"}, headers=admin_tag).status_code == 200


def test_vendors_propose_published_solutions_while_the_challenge_is_open(env: Env) -> None:
    challenge = post_challenge(env).json()
    listing = env.published_solution("a")
    response = propose(env, challenge["id"], listing)
    assert response.status_code == 201, response.text
    proposal = response.json()
    assert response.headers["Location"] == f"/api/v1/proposals/{proposal['id']}"
    assert (proposal["status"], proposal["vendor_id"], proposal["solution"]["id"]) == (
        "submitted",
        env.world.vendor["a"],
        listing,
    )
    [event] = env.audit("proposal.create")
    assert event["changes"]["solution_id"] == listing
    # One proposal per solution per challenge.
    body = assert_problem(propose(env, challenge["id"], listing), 409, "already")
    assert body["existing_id"] == proposal["id"]
    # Only one's own vendor's, published, listings.
    assert_problem(propose(env, challenge["id"], env.published_solution("b")), 403, "vendor")
    draft = env.published_solution("a", ListingStatus.draft)
    assert_problem(propose(env, challenge["id"], draft), 422, "published")
    hidden_draft = env.published_solution("b", ListingStatus.draft)
    assert_problem(propose(env, challenge["id"], hidden_draft), 422, f"No solution with id {hidden_draft}")
    assert_problem(propose(env, challenge["id"], listing, env.auth(Role.city_official)), 403)
    assert_problem(propose(env, 999_999, listing), 404)
    # A deadline that has passed, a closed challenge: no more proposals.
    expired = env.challenge(env.city_a, today() - timedelta(days=1))
    assert_problem(propose(env, expired, listing), 409, "deadline")
    closed = env.challenge(env.city_a, today() + timedelta(days=5), ChallengeStatus.closed)
    assert_problem(propose(env, closed, listing), 409, "closed")
    due_today = env.challenge(env.city_a, today())
    assert propose(env, due_today, listing).status_code == 201  # the deadline day itself still counts
    assert len(env.audit("proposal.create")) == 2


def test_the_vendor_edits_its_submitted_proposal_and_the_city_decides(env: Env) -> None:
    challenge = post_challenge(env).json()
    vendor = env.auth(Role.vendor_member)
    official = env.auth(Role.city_official)
    first = propose(env, challenge["id"], env.published_solution("a")).json()
    second = propose(env, challenge["id"], env.published_solution("a")).json()
    third = propose(env, challenge["id"], env.published_solution("b"), env.auth(Role.admin)).json()
    url = f"/api/v1/proposals/{first['id']}"
    edited = env.http.patch(
        url, json={"text": "Now with NO2 too."}, headers=tagged(env, "proposal", first["id"], vendor)
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["text"] == "Now with NO2 too."
    assert_problem(env.http.patch(url, json={"text": "x"}, headers=vendor), 428)
    assert_problem(
        env.http.patch(
            url, json={"text": "x", "status": "accepted"}, headers=tagged(env, "proposal", first["id"], vendor)
        ),
        422,
    )
    # The vendor cannot decide on its own proposal; the city's official can.
    assert_problem(env.http.post(f"{url}/shortlist", headers=tagged(env, "proposal", first["id"], vendor)), 403)
    shortlisted = env.http.post(f"{url}/shortlist", headers=tagged(env, "proposal", first["id"], official))
    assert shortlisted.json()["status"] == "shortlisted"
    # A shortlisted proposal is no longer edited by the vendor.
    assert_problem(
        env.http.patch(url, json={"text": "x"}, headers=tagged(env, "proposal", first["id"], vendor)), 409, "submitted"
    )
    declined = env.http.post(
        f"/api/v1/proposals/{second['id']}/decline",
        headers=tagged(env, "proposal", second["id"], official),
        json={"note": "out of scope"},
    )
    assert declined.json()["status"] == "declined"
    assert_problem(
        env.http.post(
            f"/api/v1/proposals/{second['id']}/accept", headers=tagged(env, "proposal", second["id"], official)
        ),
        409,
        "declined",
    )
    # Accepting the first awards the challenge and declines the proposals still pending (the third).
    accepted = env.http.post(f"{url}/accept", headers=tagged(env, "proposal", first["id"], official))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert env.http.get(f"/api/v1/challenges/{challenge['id']}").json()["status"] == "awarded"
    third_now = env.http.get(f"/api/v1/proposals/{third['id']}", headers=env.auth(Role.admin)).json()
    assert third_now["status"] == "declined"
    award = env.audit("challenge.award")[0]["changes"]
    assert award["proposal_id"] == first["id"]
    assert award["declined_proposal_ids"] == [third["id"]]
    assert {e["object_id"] for e in env.audit("proposal.decline")} == {str(second["id"]), str(third["id"])}
    # No more proposals for an awarded challenge.
    assert_problem(propose(env, challenge["id"], env.published_solution("a")), 409, "awarded")


def test_award_through_the_challenge(env: Env) -> None:
    challenge = post_challenge(env).json()
    official = env.auth(Role.city_official)
    proposal = propose(env, challenge["id"], env.published_solution("a")).json()
    other_challenge = post_challenge(env, title="Another").json()
    url = f"/api/v1/challenges/{challenge['id']}/award"
    headers = tagged(env, "challenge", challenge["id"], official)
    assert_problem(env.http.post(url, json={}, headers=headers), 422, "body.proposal_id")
    foreign = propose(env, other_challenge["id"], env.published_solution("a")).json()
    assert_problem(env.http.post(url, json={"proposal_id": foreign["id"]}, headers=headers), 422, "no proposal")
    closed = env.http.post(f"/api/v1/challenges/{challenge['id']}/close", headers=headers)
    assert closed.status_code == 200
    awarded = env.http.post(
        url, json={"proposal_id": proposal["id"]}, headers=tagged(env, "challenge", challenge["id"], official)
    )
    assert awarded.status_code == 200, awarded.text
    assert awarded.json()["status"] == "awarded"
    assert env.http.get(f"/api/v1/proposals/{proposal['id']}").json()["status"] == "accepted"
    again = env.http.post(
        url, json={"proposal_id": proposal["id"]}, headers=tagged(env, "challenge", challenge["id"], official)
    )
    assert_problem(again, 409, "awarded")


def test_comments_who_may_write_and_delete_them(env: Env) -> None:
    challenge = post_challenge(env).json()
    official, vendor = env.auth(Role.city_official), env.auth(Role.vendor_member)
    on_challenge = f"/api/v1/challenges/{challenge['id']}/comments"
    by_city = env.http.post(on_challenge, json={"body": "Questions welcome."}, headers=official)
    assert by_city.status_code == 201, by_city.text
    assert by_city.json()["author_label"] == "Karmøy"
    question = env.http.post(on_challenge, json={"body": "Which schools?"}, headers=vendor)
    assert question.status_code == 201, question.text
    assert question.json()["author_label"] == "Identity Vendor A"
    assert_problem(env.http.post(on_challenge, json={"body": "x", "author_label": "The Mayor"}, headers=official), 422)
    assert_problem(env.http.post(on_challenge, json={"body": "x"}, headers=env.auth(Role.programme_coordinator)), 403)
    assert_problem(env.http.post(on_challenge, json={"body": "x"}), 401)
    # Proposals: the city and the proposing vendor; another vendor does not even see it (confidential).
    proposal = propose(env, challenge["id"], env.published_solution("a")).json()
    on_proposal = f"/api/v1/proposals/{proposal['id']}/comments"
    assert (
        env.http.post(on_proposal, json={"body": "Pilot first?"}, headers=official).json()["author_label"] == "Karmøy"
    )
    reply = env.http.post(on_proposal, json={"body": "Yes."}, headers=vendor)
    assert reply.json()["author_label"] == "Identity Vendor A"
    vendor_b = env.new_user(Role.vendor_member, OrganisationKind.vendor, env.world.vendor["b"])
    assert_problem(env.http.post(on_proposal, json={"body": "Ours is better"}, headers=vendor_b), 404)
    # Once the challenge is closed, vendors no longer comment on it (the city still does).
    env.execute("UPDATE challenge SET status = 'closed' WHERE id = :id", id=challenge["id"])
    assert_problem(env.http.post(on_challenge, json={"body": "Late question"}, headers=vendor), 403)
    assert env.http.post(on_challenge, json={"body": "Closed now."}, headers=official).status_code == 201
    # Deleting: the author, or an admin; nobody else.
    comment_id = question.json()["id"]
    assert_problem(env.http.delete(f"/api/v1/comments/{comment_id}", headers=official), 403, "author")
    assert env.http.delete(f"/api/v1/comments/{comment_id}", headers=vendor).status_code == 204
    assert_problem(env.http.delete(f"/api/v1/comments/{comment_id}", headers=vendor), 404)
    assert env.http.delete(f"/api/v1/comments/{by_city.json()['id']}", headers=env.auth(Role.admin)).status_code == 204
    deleted = env.audit("comment.delete")
    assert [e["changes"]["body"] for e in deleted] == ["Which schools?", "Questions welcome."]
    assert len(env.audit("comment.create")) == 5
    remaining = env.http.get("/api/v1/comments", params={"challenge": challenge["id"]}).json()
    assert [c["body"] for c in remaining["items"]] == ["Closed now."]


def test_idempotency_key_on_a_comment(env: Env) -> None:
    challenge = post_challenge(env).json()
    headers = {**env.auth(Role.city_official), "Idempotency-Key": "c-1"}
    url = f"/api/v1/challenges/{challenge['id']}/comments"
    first = env.http.post(url, json={"body": "Hello"}, headers=headers)
    again = env.http.post(url, json={"body": "Hello"}, headers=headers)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert env.scalar("SELECT COUNT(*) FROM comment WHERE challenge_id = :id", id=challenge["id"]) == 1
