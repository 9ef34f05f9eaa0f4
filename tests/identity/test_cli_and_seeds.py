"""The `citymarket users|clients|keys` commands against a test database (as while the service runs), the
identity seeds (organisations; demo accounts in dev only), and the start-up refusal of default secrets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from app.auth.keys import KeyConfigurationError, parse_private_keys
from app.auth.state import AuthConfigurationError, check_auth_configuration
from app.cities.models import City
from app.cli import cli
from app.core.config import Environment, Settings, get_settings
from app.hubs.models import Hub
from app.identity.models import Membership, OAuthClient, Organisation, OrganisationKind, Role, User
from app.identity.seed import DEMO_ACCOUNTS, DEMO_CLIENT_ID, seed_identity
from app.identity.service import ensure_all_organisations, sha256_hex
from app.main import create_app
from app.vendors.models import Vendor, VendorSize
from tests import conftest as shared
from tests.identity.conftest import BASE_URL, TOKEN_URL, World, bearer, browser_login, oauth_client, pkce_pair
from tests.identity.test_permission_matrix import snapshot


@pytest.fixture
def run(idb: shared.TestDatabase, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Run a `citymarket` command with the environment pointing at this test's database and data dir."""
    monkeypatch.setenv("CITYMARKET_ENV", "test")
    monkeypatch.setenv("CITYMARKET_DATABASE_URL", idb.url)
    monkeypatch.setenv("CITYMARKET_DATA_DIR", str(idb.data_dir))
    get_settings.cache_clear()
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Any:
        return runner.invoke(cli, list(args), input=input)

    yield invoke
    get_settings.cache_clear()


def test_clients_create_prints_the_secret_once_and_stores_only_its_hash(
    run: Any, api: TestClient, world: World, iengine: Engine
) -> None:
    result = run("clients", "create", "--name", "Vendor B sync", "--vendor", str(world.vendor["b"]), "--json")
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert set(created) == {"client_id", "client_secret"}
    # It works right away against the running service...
    client = oauth_client(api, client_id=created["client_id"], client_secret=created["client_secret"])
    token = client.fetch_token(TOKEN_URL, grant_type="client_credentials")
    me = api.get("/api/v1/me", headers=bearer(token["access_token"])).json()
    assert [(r["role"], r["target_id"]) for r in me["roles"]] == [("vendor_member", world.vendor["b"])]
    # ...and the database holds its hash, never the secret itself.
    with Session(iengine) as session:
        row = session.exec(select(OAuthClient).where(OAuthClient.client_id == created["client_id"])).one()
        assert row.client_secret_hash == sha256_hex(created["client_secret"])
    assert created["client_secret"] not in json.dumps(snapshot(iengine))


def test_clients_create_variants(run: Any, world: World) -> None:
    scoped = run("clients", "create", "--name", "read-only", "--city", str(world.city["a"]), "--scopes", "private:read")
    assert scoped.exit_code == 0, scoped.output
    assert "scopes:        private:read" in scoped.output
    public = run(
        "clients", "create", "--name", "Mobile app", "--public", "--redirect-uri", "https://app.example/cb", "--json"
    )
    assert public.exit_code == 0, public.output
    assert json.loads(public.output)["client_secret"] is None
    beyond = run("clients", "create", "--name", "greedy", "--vendor", str(world.vendor["a"]), "--scopes", "admin")
    assert beyond.exit_code == 1
    assert "beyond what this client may hold" in beyond.output
    no_org = run("clients", "create", "--name", "orphan")
    assert no_org.exit_code == 1
    assert "--vendor" in no_org.output
    insecure = run("clients", "create", "--name", "x", "--public", "--redirect-uri", "http://evil.example/cb")
    assert insecure.exit_code == 1
    listing = run("clients", "list")
    assert listing.exit_code == 0
    assert "Mobile app" in listing.output
    assert "read-only" in listing.output


def test_users_create_and_list(run: Any, api: TestClient, world: World) -> None:
    created = run(
        "users",
        "create",
        "--email",
        "New.Person@Example.org",
        "--name",
        "New Person",
        "--password-stdin",
        "--hub",
        str(world.hub["b"]),
        input="a long enough password\n",
    )
    assert created.exit_code == 0, created.output
    assert "hub_curator@hub:" in created.output
    listing = run("users", "list", "--json")
    users = {u["email"]: u for u in json.loads(listing.output)}
    assert users["new.person@example.org"]["roles"][0].startswith(f"hub_curator@hub:{world.hub['b']}")
    # The new person can sign in.
    verifier, _challenge = pkce_pair()
    client = oauth_client(
        api,
        client_id=world.machines["public_spa"].client_id,
        redirect_uri="http://127.0.0.1:9999/callback",
        code_challenge_method="S256",
    )
    url, _ = client.create_authorization_url(f"{BASE_URL}/oauth/authorize", code_verifier=verifier)
    response = browser_login(api, url, "new.person@example.org", "a long enough password")
    assert response.status_code == 302
    assert "code=" in response.headers["location"]

    duplicate = run("users", "create", "--email", "new.person@example.org", "--password", "another long password")
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.output
    wrong_role = run(
        "users",
        "create",
        "--email",
        "x@example.org",
        "--password",
        "a long enough password",
        "--city",
        str(world.city["a"]),
        "--role",
        "vendor_member",
    )
    assert wrong_role.exit_code == 1
    short = run("users", "create", "--email", "y@example.org", "--password", "short")
    assert short.exit_code == 1
    admin = run("users", "create", "--email", "ops@example.org", "--password", "a long enough password", "--admin")
    assert admin.exit_code == 0
    assert "admin@platform" in admin.output


def test_keys_commands(run: Any, app: FastAPI, api: TestClient, world: World) -> None:
    machine = world.machines["vendor_sync"]
    client = oauth_client(api, client_id=machine.client_id, client_secret=machine.secret)
    before = client.fetch_token(TOKEN_URL, grant_type="client_credentials")["access_token"]
    old_kid = app.state.auth.keys.ring().signing.kid
    rotated = run("keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    # The running app sees the new key (it re-reads the file) and still accepts the old one.
    new_kid = app.state.auth.keys.ring().signing.kid
    assert new_kid != old_kid
    assert new_kid in rotated.output
    assert api.get("/api/v1/me", headers=bearer(before)).status_code == 200
    listed = run("keys", "list")
    assert old_kid in listed.output
    assert "retired" in listed.output
    removed = run("keys", "remove", old_kid)
    assert removed.exit_code == 0
    assert api.get("/api/v1/me", headers=bearer(before)).status_code == 401
    assert run("keys", "remove", new_kid).exit_code == 1  # never the signing key
    generated = run("keys", "generate")
    assert generated.exit_code == 0
    keys = parse_private_keys(generated.output)
    assert len(keys) == 1
    assert keys[0].alg == "ES256"


# ---------------------------------------------------------------------------------------------------- seeds


def _add_demo_targets(engine: Engine) -> None:
    """The demo catalogue's vendor and hub, which the demo accounts are tied to."""
    with Session(engine) as session:
        session.add(Vendor(slug="fjordlytt", name="Fjordlytt (test)", country_code="NO", size=VendorSize.small))
        session.add(Hub(slug="nordic", name="Nordic hub (test)"))
        session.commit()


def test_organisations_for_everything_idempotently(iengine: Engine) -> None:
    _add_demo_targets(iengine)
    with Session(iengine) as session:
        assert ensure_all_organisations(session) == 2  # the two rows just added
        assert ensure_all_organisations(session) == 0
        session.commit()
        for model, column in (
            (City, Organisation.city_id),
            (Vendor, Organisation.vendor_id),
            (Hub, Organisation.hub_id),
        ):
            targets = set(session.exec(select(model.id)).all())  # type: ignore[arg-type]
            organised = set(session.exec(select(column).where(column.is_not(None))).all())  # type: ignore[union-attr]
            assert targets == organised
        for kind in (OrganisationKind.programme, OrganisationKind.platform):
            assert len(session.exec(select(Organisation).where(Organisation.kind == kind)).all()) == 1


def test_demo_accounts_only_in_dev_idempotent_and_marked(idb: shared.TestDatabase, iengine: Engine) -> None:
    _add_demo_targets(iengine)
    with Session(iengine) as session:
        report = seed_identity(session, idb.settings(env=Environment.test))
        session.commit()
        assert report.users == 0
        assert session.exec(select(User).where(User.is_demo == sa.true())).all() == []
    dev = idb.settings(env=Environment.dev)
    with Session(iengine) as session:
        first = seed_identity(session, dev)
        session.commit()
    assert (first.users, first.clients, first.notes) == (len(DEMO_ACCOUNTS), 1, [])
    before = snapshot(iengine)
    with Session(iengine) as session:
        second = seed_identity(session, dev)
        session.commit()
    assert (second.organisations, second.users, second.clients) == (0, 0, 0)
    assert snapshot(iengine) == before
    with Session(iengine) as session:
        demo_users = session.exec(select(User).where(User.is_demo == sa.true())).all()
        assert {u.email for u in demo_users} == {a.email for a in DEMO_ACCOUNTS}
        roles = session.exec(
            select(Membership.role).where(Membership.user_id.in_([u.id for u in demo_users]))  # type: ignore[union-attr]
        ).all()
        assert sorted(roles) == sorted(a.role for a in DEMO_ACCOUNTS)
        karmoy = session.exec(select(City).where(City.slug == "karmoy")).one()
        official = next(u for u in demo_users if u.email.startswith("official"))
        org = session.exec(
            select(Organisation)
            .join(Membership, Membership.organisation_id == Organisation.id)  # type: ignore[arg-type]
            .where(Membership.user_id == official.id)
        ).one()
        assert org.city_id == karmoy.id
        demo_client = session.exec(select(OAuthClient).where(OAuthClient.client_id == DEMO_CLIENT_ID)).one()
        assert demo_client.is_demo
        assert demo_client.is_public


def test_the_demo_vendor_can_sign_in_with_the_demo_client(idb: shared.TestDatabase, iengine: Engine) -> None:
    """The README's browser flow: demo client, demo vendor account, the callback page that shows the code."""
    _add_demo_targets(iengine)
    with Session(iengine) as session:
        seed_identity(session, idb.settings(env=Environment.dev))
        session.commit()
    app = create_app(idb.settings(env=Environment.dev), engine=iengine)
    with TestClient(app, base_url=BASE_URL) as api:
        verifier, challenge = pkce_pair()
        url = api.build_request(
            "GET",
            "/oauth/authorize",
            params={
                "response_type": "code",
                "client_id": DEMO_CLIENT_ID,
                "redirect_uri": f"{BASE_URL}/oauth/callback-demo",
                "scope": "solutions:write vendors:write",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": "readme",
            },
        ).url
        account = next(a for a in DEMO_ACCOUNTS if a.email.startswith("vendor"))
        response = browser_login(api, str(url), account.email, account.password)
        assert response.status_code == 302
        location = response.headers["location"]
        page = api.get(location)
        code = parse_qs(urlsplit(location).query)["code"][0]
        assert code in page.text
        assert "curl" in page.text
        token = api.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "client_id": DEMO_CLIENT_ID,
                "code": code,
                "redirect_uri": f"{BASE_URL}/oauth/callback-demo",
                "code_verifier": verifier,
            },
        ).json()
        assert token["scope"] == "solutions:write vendors:write"
        me = api.get("/api/v1/me", headers=bearer(token["access_token"])).json()
        assert [r["role"] for r in me["roles"]] == ["vendor_member"]


# ----------------------------------------------------------------------------------- production refusals


def test_production_refuses_default_secrets(tmp_path: Any) -> None:
    settings = Settings(env=Environment.production, data_dir=tmp_path, public_base_url="http://api.example")
    with pytest.raises(AuthConfigurationError) as refused:
        check_auth_configuration(settings)
    message = str(refused.value)
    assert "CITYMARKET_SECRET_KEY" in message
    assert "CITYMARKET_JWT_PRIVATE_KEYS" in message
    assert "https" in message
    with pytest.raises(AuthConfigurationError):
        create_app(settings, engine=sa.create_engine("sqlite://"))


def test_serve_refuses_to_start_with_a_clear_message(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYMARKET_ENV", "production")
    monkeypatch.setenv("CITYMARKET_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "CITYMARKET_SECRET_KEY" in result.output


def test_production_with_configured_keys(
    tmp_path: Any, world: World, iengine: Engine, idb: shared.TestDatabase
) -> None:
    from joserfc import jwt

    generated = CliRunner().invoke(cli, ["keys", "generate"]).output
    older = CliRunner().invoke(cli, ["keys", "generate", "--alg", "RS256"]).output
    key_set = json.dumps({"keys": json.loads(generated)["keys"] + json.loads(older)["keys"]})
    settings = idb.settings(
        env=Environment.production,
        secret_key="s" * 48,
        jwt_private_keys=key_set,
        public_base_url="https://citymarket.example",
    )
    check_auth_configuration(settings)
    app = create_app(settings, engine=iengine)
    ring = app.state.auth.keys.ring()
    assert [k.alg for k in ring.keys] == ["ES256", "RS256"]
    assert not (idb.data_dir / "jwt_keys.json").exists()
    with TestClient(app, base_url="https://citymarket.example") as api:
        machine = world.machines["vendor_sync"]
        token = api.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(machine.client_id, machine.secret or "")
        ).json()["access_token"]
        assert jwt.decode(token, ring.keys[0].key).header["kid"] == ring.keys[0].kid
        assert api.get("/api/v1/me", headers=bearer(token)).status_code == 200
        assert {k["kid"] for k in api.get("/.well-known/jwks.json").json()["keys"]} == {k.kid for k in ring.keys}
        with pytest.raises(KeyConfigurationError):
            app.state.auth.keys.rotate()


def test_private_keys_from_pem(tmp_path: Any) -> None:
    from joserfc.jwk import ECKey, RSAKey

    pem = ECKey.generate_key("P-256").as_pem(private=True).decode()
    keys = parse_private_keys(pem.replace("\n", "\\n"))  # as an env var with escaped newlines
    assert keys[0].alg == "ES256"
    rsa_pem = RSAKey.generate_key(2048).as_pem(private=True).decode()
    both = parse_private_keys(pem + rsa_pem)
    assert [k.alg for k in both] == ["ES256", "RS256"]
    assert keys[0].alg == "ES256"
    assert keys[0].kid
    public_only = ECKey.generate_key("P-256").as_pem(private=False).decode()
    with pytest.raises(KeyConfigurationError):
        parse_private_keys(public_only)
    with pytest.raises(KeyConfigurationError):
        parse_private_keys('{"keys": [{"kty": "oct", "k": "' + "A" * 43 + '"}]}')


def test_the_commands_run_in_a_fresh_process(idb: shared.TestDatabase, world: World) -> None:
    """As an operator runs them: a new interpreter that imported nothing else first."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **os.environ,
        "CITYMARKET_ENV": "test",
        "CITYMARKET_DATABASE_URL": idb.url,
        "CITYMARKET_DATA_DIR": str(idb.data_dir),
    }
    root = Path(__file__).resolve().parents[2]
    listed = subprocess.run(
        [sys.executable, "-m", "app.cli", "users", "list", "--json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert world.actors[Role.vendor_member].email in {u["email"] for u in json.loads(listed.stdout)}
    created = subprocess.run(
        [sys.executable, "-m", "app.cli", "clients", "create", "--name", "x", "--hub", str(world.hub["a"]), "--json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["client_secret"]


def test_citymarket_seed_in_dev_creates_the_demo_accounts_once(
    run: Any, monkeypatch: pytest.MonkeyPatch, iengine: Engine
) -> None:
    monkeypatch.setenv("CITYMARKET_ENV", "dev")
    get_settings.cache_clear()
    first = run("seed")
    assert first.exit_code == 0, first.output
    assert f"{len(DEMO_ACCOUNTS)} demo users, 1 demo clients" in first.output
    second = run("seed")
    assert second.exit_code == 0, second.output
    assert "created 0 organisations, 0 demo users, 0 demo clients" in second.output
    listing = json.loads(run("users", "list", "--json").output)
    assert {u["email"] for u in listing if u["demo"]} == {a.email for a in DEMO_ACCOUNTS}
    with Session(iengine) as session:
        # Every seeded vendor, city and hub has its organisation.
        for model, column in (
            (City, Organisation.city_id),
            (Vendor, Organisation.vendor_id),
            (Hub, Organisation.hub_id),
        ):
            assert set(session.exec(select(model.id)).all()) == set(  # type: ignore[arg-type]
                session.exec(select(column).where(column.is_not(None))).all()  # type: ignore[union-attr]
            )
