"""The dashboard's sign-in edges, without a browser: the redirect it starts, the cookie it sets, the
answers it refuses (another browser's state, a refusal, a form without its CSRF token), and Secure
cookies over https. The whole flow in a browser: test_browser.py."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from fastapi.responses import Response
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.core.config import Environment, Settings
from app.dashboard import signin
from app.dashboard.models import DashboardSession
from app.identity.models import OAuthClient
from app.identity.service import DASHBOARD_CLIENT_ID


def test_sign_in_starts_pkce_for_the_dashboard_client_and_refuses_what_it_did_not_start(client: TestClient) -> None:
    started = client.get("/auth/sign-in", params={"next": "//evil.example/x"}, follow_redirects=False)
    assert started.status_code == 303
    target = urlsplit(started.headers["location"])
    query = parse_qs(target.query)
    assert target.path == "/oauth/authorize"
    assert query["client_id"] == [DASHBOARD_CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    cookie = started.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # http in tests
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        dashboard = session.exec(select(OAuthClient).where(OAuthClient.client_id == DASHBOARD_CLIENT_ID)).one()
        assert not dashboard.is_public  # a confidential client
        pending = session.exec(select(DashboardSession)).one()
        assert pending.return_to == "/"  # never another site
        assert pending.access_token == ""

    # An answer with another sign-in's state, or a refusal, signs nobody in.
    forged = client.get("/auth/callback", params={"code": "x", "state": "not-this-one"})
    assert forged.status_code == 400
    assert "does not belong" in forged.text
    denied = client.get("/auth/callback", params={"error": "access_denied", "state": query["state"][0]})
    assert denied.status_code == 400
    assert "access_denied" in denied.text
    with Session(engine) as session:
        assert session.exec(select(DashboardSession)).all() == []  # the refused sign-in is forgotten

    # Forms that write need their CSRF token.
    assert client.post("/auth/sign-out", data={"form_token": "1.x"}).status_code == 400
    assert client.post("/cities/1/match-runs", data={"kind": "solutions"}).status_code == 400


def test_the_cookie_is_secure_in_production_and_over_https() -> None:
    for settings in (
        Settings(env=Environment.test, public_base_url="https://citymarket.example"),
        Settings(env=Environment.production, public_base_url="http://127.0.0.1:8000"),
    ):
        response = Response()
        signin.set_cookie(response, settings, "k" * 43, 60)
        assert "Secure" in response.headers["set-cookie"]
    assert signin.safe_return_to("/cities/1?x=1") == "/cities/1?x=1"
    assert signin.safe_return_to("https://evil.example") == "/"
    assert signin.safe_return_to("/\\evil.example") == "/"
