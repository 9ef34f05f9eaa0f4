"""Onboarding end to end, with the mail read from a real SMTP server on loopback (aiosmtpd, STARTTLS and AUTH, the
fixtures of test_mail.py): vendor sign-up, email verification, sign-in through the OAuth authorization code flow,
the unverified vendor's refusal and its verification; hub curators' invitations; and the admins' management of
users and memberships on both faces."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import Session, col, select

from app.audit.models import AuditEvent
from app.cities.models import City
from app.hubs.models import HubCountry
from app.identity.models import Membership, Organisation, OrganisationKind, Role, User
from app.vendors.models import Vendor
from tests.conftest import TestDatabase
from tests.identity.conftest import (
    AUTHORIZE_URL,
    REDIRECT_URI,
    TOKEN_URL,
    World,
    bearer,
    browser_login,
    mint_user_token,
    oauth_client,
    pkce_pair,
)
from tests.notifications.conftest import Env, make_env, pump
from tests.notifications.test_mail import Inbox, _text, mail_env, smtp  # noqa: F401  (the fixtures: a real SMTP server)

PASSWORD = "a vendor's own passphrase"
SIGNUP = {
    "email": "Founder@Fjord-Leak.test",
    "password": PASSWORD,
    "name": "Founder",
    "vendor_name": "Fjord Leak Detection",
    "country": "no",
    "size": "micro",
}
TOKEN = re.compile(r"Your verification token: (evt_[A-Za-z0-9_-]+)")


def _mail_to(env: Env, inbox: Inbox, address: str, count: int) -> tuple[str, str]:
    """Run the worker until the inbox holds `count` messages; the text and HTML of the last one, sent to `address`."""
    pump(env.engine, env.settings, lambda: inbox.count() >= count)
    assert inbox.count() == count
    to, message = inbox.messages[-1]
    assert to == [address]
    return _text(message)


def _sign_in(env: Env, email: str, password: str) -> Any:
    """The browser's authorization code flow with PKCE (the public client), as tests/identity does it."""
    verifier, _ = pkce_pair()
    client = oauth_client(
        env.api,
        client_id=env.world.machines["public_spa"].client_id,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
    )
    url, state = client.create_authorization_url(AUTHORIZE_URL, code_verifier=verifier)
    response = browser_login(env.api, url, email, password)
    if response.status_code != 302:
        return response
    location = response.headers["location"]
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    return client.fetch_token(TOKEN_URL, authorization_response=location, code_verifier=verifier)


def _audit(env: Env, action: str) -> list[AuditEvent]:
    with Session(env.engine) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_vendor_sign_up_verification_sign_in_and_verification_by_an_admin(
    mail_env: Env,  # noqa: F811  (the fixture imported above)
    smtp: tuple[Inbox, int, Path],  # noqa: F811
) -> None:
    env, (inbox, _, _) = mail_env, smtp
    email = SIGNUP["email"].lower()

    # (Other emails than the sign-up's: every attempt counts against its email's limit, 5 an hour.)
    probe = {"email": "probe@fjord.test"}
    for bad, field in (({**probe, "password": "short"}, "body.password"), ({"email": "not-mail"}, "body.email")):
        refused = env.api.post("/api/v1/signup", json={**SIGNUP, **bad})
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["errors"][0]["field"] == field
    unknown = env.api.post("/api/v1/signup", json={**SIGNUP, **probe, "country": "QQ"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.country"
    taken = env.api.post("/api/v1/signup", json={**SIGNUP, **probe, "vendor_name": "identity vendor a"})
    assert taken.status_code == 409, taken.text

    first = env.api.post("/api/v1/signup", json=SIGNUP, headers={"Idempotency-Key": "signup-1"})
    assert first.status_code == 202, first.text
    retry = env.api.post("/api/v1/signup", json=SIGNUP, headers={"Idempotency-Key": "signup-1"})
    assert retry.status_code == 202
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    gql_retry = env.api.post(
        "/graphql",
        json={
            "query": 'mutation($input: SignupInput!) { signUp(input: $input, idempotencyKey: "signup-1") '
            "{ __typename ... on SignupAccepted { detail } ... on MutationError { code message } } }",
            "variables": {
                "input": {
                    **{k: v for k, v in SIGNUP.items() if k != "vendor_name"},
                    "vendorName": SIGNUP["vendor_name"],
                }
            },
        },
    ).json()["data"]["signUp"]
    assert gql_retry == {"__typename": "SignupAccepted", "detail": first.json()["detail"]}  # a replay across faces
    with Session(env.engine) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        assert (user.is_active, user.email_verified, user.name) == (True, False, "Founder")
        vendor = session.exec(select(Vendor).where(Vendor.name == "Fjord Leak Detection")).one()
        assert (vendor.verified, vendor.self_registered, vendor.country_code) == (False, True, "NO")
        organisation = session.exec(select(Organisation).where(Organisation.vendor_id == vendor.id)).one()
        [membership] = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
        assert (membership.organisation_id, membership.role) == (organisation.id, Role.vendor_member)
    assert [e.object_id for e in _audit(env, "user.signup")] == [str(user.id)]

    text, html = _mail_to(env, inbox, email, 1)  # the retry mailed nothing
    assert "Fjord Leak Detection" in text
    assert "/api/v1/signup/verify" in html
    match = TOKEN.search(text)
    assert match is not None
    token = match.group(1)

    # Before the verification: the right password, and a clear refusal.
    before = _sign_in(env, email, PASSWORD)
    assert before.status_code == 403
    assert "email address is not verified yet" in before.text

    wrong = env.api.post("/api/v1/signup/verify", json={"token": "evt_" + "x" * 40})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "body.token"
    verified = env.api.post("/api/v1/signup/verify", json={"token": token})
    assert verified.status_code == 200, verified.text
    assert verified.json() == {"user_id": user.id, "email": email, "vendor_ids": [vendor.id]}
    again = env.api.post("/api/v1/signup/verify", json={"token": token})
    assert again.status_code == 422  # single use

    signed_in = _sign_in(env, email, PASSWORD)
    assert isinstance(signed_in, dict), signed_in.text
    founder = bearer(signed_in["access_token"])
    me = env.api.get("/api/v1/me", headers=founder).json()
    assert [(r["role"], r["target_id"]) for r in me["roles"]] == [("vendor_member", vendor.id)]

    # An unverified, self-registered vendor keeps drafts but does not submit them for review.
    draft = env.api.post(
        "/api/v1/solutions",
        json={
            "vendor_id": vendor.id,
            "title": "Acoustic leak finder",
            "summary": "Finds leaks in water mains by listening.",
            "maturity": "pilot",
            "price_model": "licence",
            "categories": ["Water and Sanitation"],
            "countries": ["NO"],
            "kpi_impacts": [{"kpi": "EC-I-WS-3C", "expected_effect": 0.2}],
        },
        headers=founder,
    )
    assert draft.status_code == 201, draft.text
    sid = draft.json()["id"]
    submit = env.api.post(f"/api/v1/solutions/{sid}/submit", headers={**founder, "If-Match": draft.headers["etag"]})
    assert submit.status_code == 403, submit.text
    problem = submit.json()
    assert problem["type"].endswith("/vendor-unverified")
    assert "not verified yet" in problem["detail"]
    gql = env.api.post(
        "/graphql",
        json={
            "query": "mutation($id: Int!) { submitSolution(id: $id, expectedVersion: 1) { __typename "
            "... on MutationError { code message } } }",
            "variables": {"id": sid},
        },
        headers=founder,
    ).json()["data"]["submitSolution"]
    assert gql["__typename"] == "MutationError"
    assert gql["code"] == "FORBIDDEN"
    assert "not verified yet" in gql["message"]

    etag = env.api.get(f"/api/v1/vendors/{vendor.id}").headers["etag"]
    made = env.api.post(
        f"/api/v1/vendors/{vendor.id}/verify",
        json={"verified": True, "note": "checked the company register"},
        headers={**env.auth(Role.admin), "If-Match": etag},
    )
    assert made.status_code == 200, made.text
    submit = env.api.post(f"/api/v1/solutions/{sid}/submit", headers={**founder, "If-Match": draft.headers["etag"]})
    assert submit.status_code == 200, submit.text
    assert submit.json()["status"] == "submitted"


def test_sign_up_never_tells_whether_an_email_has_an_account(
    mail_env: Env,  # noqa: F811  (the fixture imported above)
    smtp: tuple[Inbox, int, Path],  # noqa: F811
) -> None:
    env, (inbox, _, _) = mail_env, smtp
    actor = env.world.actors[Role.city_official]
    with Session(env.engine) as session:
        users_before = len(session.exec(select(User.id)).all())
    new = env.api.post("/api/v1/signup", json={**SIGNUP, "email": "someone.new@fjord.test"})
    known = env.api.post("/api/v1/signup", json={**SIGNUP, "email": actor.email.upper(), "vendor_name": "Other AS"})
    assert new.status_code == known.status_code == 202
    assert new.json() == known.json()
    with Session(env.engine) as session:
        assert len(session.exec(select(User.id)).all()) == users_before + 1
        assert session.exec(select(Vendor).where(Vendor.name == "Other AS")).first() is None
    pump(env.engine, env.settings, lambda: inbox.count() >= 2)
    by_address = {to[0]: message for to, message in inbox.messages}
    assert "Confirm your email address" in by_address["someone.new@fjord.test"]["Subject"]
    exists = by_address[actor.email]
    assert "You already have an account" in exists["Subject"]
    text, _ = _text(exists)
    assert "nothing was created" in text
    assert "evt_" not in text

    # Signing up again before the verification mails a new token (and changes nothing else); GraphQL alike.
    gql = env.api.post(
        "/graphql",
        json={
            "query": "mutation($input: SignupInput!) { signUp(input: $input) { __typename "
            "... on SignupAccepted { accepted detail } ... on MutationError { code message } } }",
            "variables": {
                "input": {
                    **{k: v for k, v in SIGNUP.items() if k != "vendor_name"},
                    "email": "someone.new@fjord.test",
                    "vendorName": "Yet Another AS",
                }
            },
        },
    ).json()["data"]["signUp"]
    assert gql == {"__typename": "SignupAccepted", "accepted": True, "detail": new.json()["detail"]}
    text, _ = _mail_to(env, inbox, "someone.new@fjord.test", 3)
    match = TOKEN.search(text)
    assert match is not None
    assert "Fjord Leak Detection" in text  # the vendor of the first sign-up
    verified = env.api.post(
        "/graphql",
        json={
            "query": "mutation($t: String!) { verifyEmail(input: {token: $t}) { __typename "
            "... on EmailVerified { email vendorIds } ... on MutationError { code } } }",
            "variables": {"t": match.group(1)},
        },
    ).json()["data"]["verifyEmail"]
    assert verified["__typename"] == "EmailVerified"
    assert verified["email"] == "someone.new@fjord.test"


@pytest.fixture
def limited_env(ndb: TestDatabase, world_template: tuple[TestDatabase, World]) -> Iterator[Env]:
    yield from make_env(
        ndb, world_template[1], signup_limit="2 per hour", email_verification_limit_per_address="2 per hour"
    )


def test_a_password_reset_also_verifies_the_email_of_a_sign_up(
    mail_env: Env,  # noqa: F811  (the fixture imported above)
    smtp: tuple[Inbox, int, Path],  # noqa: F811
) -> None:
    """The verification mail was lost: a reset token, mailed to the same address, proves it as well."""
    env, (inbox, _, _) = mail_env, smtp
    email = "lost.mail@fjord.test"
    assert env.api.post("/api/v1/signup", json={**SIGNUP, "email": email}).status_code == 202
    assert env.api.post("/api/v1/password-reset", json={"email": email}).status_code == 202
    text, _ = _mail_to(env, inbox, email, 2)
    match = re.search(r"Your reset token: (rst_[A-Za-z0-9_-]+)", text)
    assert match is not None
    new_password = "another long passphrase"
    assert _sign_in(env, email, PASSWORD).status_code == 403
    confirmed = env.api.post(
        "/api/v1/password-reset/confirm", json={"token": match.group(1), "new_password": new_password}
    )
    assert confirmed.status_code == 204, confirmed.text
    assert isinstance(_sign_in(env, email, new_password), dict)


def test_sign_up_and_verification_are_rate_limited(limited_env: Env) -> None:
    env = limited_env
    answers = [env.api.post("/api/v1/signup", json={**SIGNUP, "vendor_name": f"Limited {i}"}) for i in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert int(answers[2].headers["retry-after"]) >= 1
    assert answers[2].headers["content-type"] == "application/problem+json"
    tries = [env.api.post("/api/v1/signup/verify", json={"token": "evt_" + "y" * 40}) for _ in range(3)]
    assert [t.status_code for t in tries] == [422, 422, 429]


# --------------------------------------------------------------------------------------- curators invite


def test_a_hub_curator_invites_only_to_the_cities_and_vendors_of_its_countries(
    mail_env: Env,  # noqa: F811  (the fixture imported above)
    smtp: tuple[Inbox, int, Path],  # noqa: F811
) -> None:
    env, (inbox, _, _) = mail_env, smtp
    world = env.world
    with Session(env.engine) as session:
        session.add(HubCountry(hub_id=world.hub["a"], country_code="NO"))
        german = session.exec(select(City).where(City.country_code == "DE")).first()
        assert german is not None
        german_org = session.exec(select(Organisation).where(Organisation.city_id == german.id)).one()
        session.commit()
        german_org_id = german_org.id
    curator = bearer(mint_user_token(env.app, env.engine, world, Role.hub_curator))
    vendor_org = world.organisation[(OrganisationKind.vendor, "b")]
    city_org = world.organisation[(OrganisationKind.city, "a")]
    ok = env.api.post(
        "/api/v1/invitations", json={"email": "new.member@fjord.test", "organisation_id": vendor_org}, headers=curator
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["role"] == "vendor_member"
    city = env.api.post(
        "/api/v1/invitations", json={"email": "new.official@fjord.test", "organisation_id": city_org}, headers=curator
    )
    assert city.status_code == 201, city.text
    for organisation_id in (german_org_id, world.organisation[(OrganisationKind.hub, "a")]):
        refused = env.api.post(
            "/api/v1/invitations", json={"email": "x@fjord.test", "organisation_id": organisation_id}, headers=curator
        )
        assert refused.status_code == 403, refused.text
        assert "their hubs' countries" in refused.json()["detail"]
    gql = env.api.post(
        "/graphql",
        json={
            "query": 'mutation($o: Int!) { inviteToOrganisation(input: {email: "y@fjord.test", organisationId: $o})'
            " { __typename ... on MutationError { code } } }",
            "variables": {"o": german_org_id},
        },
        headers=curator,
    ).json()["data"]["inviteToOrganisation"]
    assert gql == {"__typename": "MutationError", "code": "FORBIDDEN"}
    member = env.api.post(
        "/api/v1/invitations",
        json={"email": "z@fjord.test", "organisation_id": vendor_org},
        headers=env.auth(Role.vendor_member),
    )
    assert member.status_code == 403

    text, _ = _mail_to(env, inbox, "new.official@fjord.test", 2)
    match = re.search(r"Your invitation token: (inv_[A-Za-z0-9_-]+)", text)
    assert match is not None
    accepted = env.api.post(
        "/api/v1/invitations/accept", json={"token": match.group(1), "name": "New Official", "password": PASSWORD}
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["organisation_id"] == city_org
    assert isinstance(_sign_in(env, "new.official@fjord.test", PASSWORD), dict)


# ------------------------------------------------------------------------------ users and memberships


GQL_USERS = """query($q: String) { users(q: $q, first: 5) { totalCount edges { node { id email isActive
  memberships { id organisationId role } } } } }"""


def test_admins_manage_users_and_memberships_on_both_faces(env: Env) -> None:
    admin, member = env.auth(Role.admin), env.auth(Role.vendor_member)
    official = env.world.actors[Role.city_official]

    assert env.api.get("/api/v1/users", headers=member).status_code == 403
    gql_refused = env.api.post("/graphql", json={"query": GQL_USERS}, headers=member).json()
    assert gql_refused["data"] is None
    assert gql_refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert env.api.get("/api/v1/users").status_code == 401
    page = env.api.get("/api/v1/users", params={"q": "identity.test", "limit": 2}, headers=admin).json()
    assert page["total"] == len(Role)
    assert len(page["items"]) == 2
    rest = env.api.get("/api/v1/users", params={"q": "city_official@"}, headers=admin).json()["items"]
    gql = env.api.post("/graphql", json={"query": GQL_USERS, "variables": {"q": "city_official@"}}, headers=admin)
    [node] = [e["node"] for e in gql.json()["data"]["users"]["edges"]]
    assert [u["id"] for u in rest] == [node["id"]] == [official.user_id]
    assert [(m["organisation_id"], m["role"]) for m in rest[0]["memberships"]] == [
        (official.organisation_id, "city_official")
    ]
    assert env.api.get(f"/api/v1/users/{official.user_id}", headers=member).status_code == 404
    mine = env.api.get(f"/api/v1/users/{env.world.actors[Role.vendor_member].user_id}", headers=member)
    assert mine.status_code == 200

    # Add a membership (the role must be the organisation kind's), idempotently; remove it.
    other_city = env.world.organisation[(OrganisationKind.city, "b")]
    wrong = env.api.post(
        f"/api/v1/users/{official.user_id}/memberships",
        json={"organisation_id": other_city, "role": "vendor_member"},
        headers=admin,
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "body.role"
    key = {**admin, "Idempotency-Key": "membership-1"}
    made = env.api.post(
        f"/api/v1/users/{official.user_id}/memberships", json={"organisation_id": other_city}, headers=key
    )
    assert made.status_code == 201, made.text
    replay = env.api.post(
        f"/api/v1/users/{official.user_id}/memberships", json={"organisation_id": other_city}, headers=key
    )
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == made.json()
    duplicate = env.api.post(
        f"/api/v1/users/{official.user_id}/memberships", json={"organisation_id": other_city}, headers=admin
    )
    assert duplicate.status_code == 409
    refused = env.api.delete(f"/api/v1/memberships/{made.json()['id']}", headers=member)
    assert refused.status_code == 403
    assert env.api.delete(f"/api/v1/memberships/{made.json()['id']}", headers=admin).status_code == 204
    gql_add = env.api.post(
        "/graphql",
        json={
            "query": "mutation($u: Int!, $o: Int!) { addMembership(userId: $u, input: {organisationId: $o}) "
            "{ __typename ... on Membership { id role organisationKind } } }",
            "variables": {"u": official.user_id, "o": other_city},
        },
        headers=admin,
    ).json()["data"]["addMembership"]
    assert gql_add["role"] == "city_official"
    assert gql_add["organisationKind"] == "city"
    gql_remove = env.api.post(
        "/graphql",
        json={
            "query": "mutation($id: Int!) { removeMembership(id: $id) { __typename ... on Deleted { id } } }",
            "variables": {"id": gql_add["id"]},
        },
        headers=admin,
    ).json()["data"]["removeMembership"]
    assert gql_remove == {"__typename": "Deleted", "id": gql_add["id"]}
    with Session(env.engine) as session:
        assert (
            session.exec(select(Membership).where(col(Membership.user_id) == official.user_id)).all()[0].id
            == (rest[0]["memberships"][0]["id"])
        )

    # Deactivation: the account's tokens are refused at once; reactivation lets it in again.
    token = env.auth(Role.city_official)
    assert env.api.get("/api/v1/me", headers=token).json()["user_id"] == official.user_id
    own = env.api.put(
        f"/api/v1/users/{env.world.actors[Role.admin].user_id}/active", json={"is_active": False}, headers=admin
    )
    assert own.status_code == 409
    off = env.api.put(
        f"/api/v1/users/{official.user_id}/active", json={"is_active": False, "note": "left the city"}, headers=admin
    )
    assert off.status_code == 200, off.text
    assert off.json()["is_active"] is False
    assert env.api.get("/api/v1/me", headers=token).status_code == 401
    assert env.api.post("/graphql", json={"query": "{ me { userId } }"}, headers=token).status_code == 401
    refused_sign_in = _sign_in(env, official.email, "correct horse battery staple")
    assert refused_sign_in.status_code == 401
    assert "wrong" in refused_sign_in.text
    gql_on = env.api.post(
        "/graphql",
        json={
            "query": "mutation($id: Int!) { setUserActive(id: $id, isActive: true) { __typename "
            "... on Account { isActive } } }",
            "variables": {"id": official.user_id},
        },
        headers=admin,
    ).json()["data"]["setUserActive"]
    assert gql_on == {"__typename": "Account", "isActive": True}
    assert isinstance(_sign_in(env, official.email, "correct horse battery staple"), dict)

    actions = [e.action for e in _audit(env, "membership.create") + _audit(env, "membership.delete")]
    assert sorted(actions) == ["membership.create"] * 2 + ["membership.delete"] * 2
    assert [e.changes["note"] for e in _audit(env, "user.deactivate")] == ["left the city"]
    assert len(_audit(env, "user.reactivate")) == 1
