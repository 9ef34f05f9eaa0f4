"""Email: preferences on both faces, the worker mailing through a real SMTP server on loopback (aiosmtpd, with
STARTTLS and credentials), the maildir of the embedded default, and password reset end to end from the mail received."""

from __future__ import annotations

import email
import ipaddress
import mailbox
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage, Message
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlmodel import Session, select

from app.identity.models import Membership, OrganisationKind, Role, User
from app.identity.service import authenticate_user
from app.notifications.delivery import Notifier, dispatch
from app.notifications.digest import digest_round
from app.notifications.models import OutgoingMail, PasswordResetToken
from app.notifications.service import RESET_ACCEPTED
from tests.conftest import TestDatabase
from tests.identity.conftest import World
from tests.notifications.conftest import Env, make_env, pump

SMTP_USER, SMTP_PASSWORD = "citymarket", "smtp-secret"
NEW_PASSWORD = "a much better passphrase"


class Inbox:
    """aiosmtpd's handler: keeps every message it accepts (parsed), with its envelope."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted"

    def count(self) -> int:
        with self._lock:
            return len(self.messages)


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    """A port of this suite's range (8750-8799) that nothing listens on."""
    for port in range(8750, 8800):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8750-8799")


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (and its key), which the client trusts through CITYMARKET_SMTP_CA_FILE."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp.pem", folder / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[Inbox, int, Path]]:
    """A real SMTP server on loopback that requires STARTTLS and then AUTH, as a production relay does."""
    inbox = Inbox()
    port = _free_port()
    cert, key = _self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        require_starttls=True,
        authenticator=_authenticate,
        auth_required=True,
    )
    controller.start()
    yield inbox, port, cert
    controller.stop()


@pytest.fixture
def mail_env(
    ndb: TestDatabase, world_template: tuple[TestDatabase, World], smtp: tuple[Inbox, int, Path]
) -> Iterator[Env]:
    yield from make_env(
        ndb,
        world_template[1],
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        smtp_ca_file=str(smtp[2]),
        smtp_username=SMTP_USER,
        smtp_password=SMTP_PASSWORD,
        password_reset_limit="3 per 15 minutes",
    )


def _text(message: Message) -> tuple[str, str]:
    assert isinstance(message, EmailMessage)
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def _mail_rows(env: Env) -> list[OutgoingMail]:
    with Session(env.engine) as session:
        return list(session.exec(select(OutgoingMail)).all())


GQL_PREFS = "{ notificationPreferences { preferences { eventType channel isDefault } } }"
GQL_SET = """mutation($input: NotificationPreferencesInput!) { setNotificationPreferences(input: $input) {
  __typename ... on NotificationPreferences { preferences { eventType channel } }
  ... on MutationError { code message } } }"""


def test_preferences_on_both_faces_decide_who_is_mailed_by_the_worker(
    mail_env: Env, smtp: tuple[Inbox, int, Path]
) -> None:
    env, (inbox, _, _) = mail_env, smtp
    member = env.auth(Role.vendor_member)
    prefs = env.api.get("/api/v1/me/notification-preferences", headers=member).json()["preferences"]
    assert {p["channel"] for p in prefs} == {"feed"}
    assert all(p["is_default"] for p in prefs)
    assert "vendor.verified" in {p["event_type"] for p in prefs}

    bad = env.api.put(
        "/api/v1/me/notification-preferences",
        json={"preferences": [{"event_type": "no.such", "channel": "email"}]},
        headers=member,
    )
    assert bad.status_code == 422
    put = env.api.put(
        "/api/v1/me/notification-preferences",
        json={"preferences": [{"event_type": "vendor.verified", "channel": "email"}]},
        headers=member,
    )
    assert put.status_code == 200, put.text
    chosen = {p["event_type"]: p for p in put.json()["preferences"]}
    assert chosen["vendor.verified"] == {"event_type": "vendor.verified", "channel": "email", "is_default": False}
    gql = env.api.post("/graphql", json={"query": GQL_PREFS}, headers=member).json()["data"]
    by_type = {p["eventType"]: p["channel"] for p in gql["notificationPreferences"]["preferences"]}
    assert by_type["vendor.verified"] == "email"
    gql_bad = env.api.post(
        "/graphql",
        json={"query": GQL_SET, "variables": {"input": {"preferences": [{"eventType": "x.y", "channel": "off"}]}}},
        headers=member,
    ).json()["data"]["setNotificationPreferences"]
    assert gql_bad["__typename"] == "MutationError"

    env.verify_vendor("a")  # raises vendor.verified for vendor a's organisation: the member is told
    assert _mail_rows(env) == []
    assert inbox.count() == 0
    pump(env.engine, env.settings, lambda: inbox.count() >= 1)
    [(to, message)] = inbox.messages
    member_email = env.world.actors[Role.vendor_member].email
    assert to == [member_email]
    assert message["To"] == member_email
    assert "Vendor verified" in message["Subject"]
    text, html = _text(message)
    assert "checked the registry" in text
    assert "/api/v1/me/notifications" in text
    assert "<strong>Vendor verified</strong>" in html
    assert "checked the registry" in html
    [row] = _mail_rows(env)
    assert row.status == "sent"
    assert row.attempts == 1
    feed = env.api.get("/api/v1/me/notifications", headers=member).json()
    assert feed["total"] == 1  # email is email *and* the feed

    # Off, through GraphQL: an unverification then reaches neither the feed nor the inbox.
    gql_off = env.api.post(
        "/graphql",
        json={
            "query": GQL_SET,
            "variables": {"input": {"preferences": [{"eventType": "vendor.unverified", "channel": "off"}]}},
        },
        headers=member,
    ).json()["data"]["setNotificationPreferences"]
    assert gql_off["__typename"] == "NotificationPreferences", gql_off
    vendor_id = env.world.vendor["a"]
    etag = env.api.get(f"/api/v1/vendors/{vendor_id}").headers["etag"]
    again = env.api.post(
        f"/api/v1/vendors/{vendor_id}/verify",
        json={"verified": False, "note": "registry lapsed"},
        headers={**env.auth(Role.admin), "If-Match": etag},
    )
    assert again.status_code == 200, again.text
    pump(env.engine, env.settings, lambda: not _pending_events(env))
    assert env.api.get("/api/v1/me/notifications", headers=member).json()["total"] == 1
    assert inbox.count() == 1
    assert len(_mail_rows(env)) == 1


def _pending_events(env: Env) -> bool:
    from app.notifications.models import NotifyEvent

    with Session(env.engine) as session:
        return any(e.dispatched_at is None for e in session.exec(select(NotifyEvent)).all())


GQL_RESET = """mutation($email: String!) { requestPasswordReset(input: {email: $email}) {
  __typename ... on Accepted { accepted detail } ... on MutationError { code message } } }"""


def test_password_reset_end_to_end_from_the_mail_received(mail_env: Env, smtp: tuple[Inbox, int, Path]) -> None:
    env, (inbox, _, _) = mail_env, smtp
    actor = env.world.actors[Role.vendor_member]
    old_token = env.auth(Role.vendor_member)
    assert env.api.get("/api/v1/me/notifications", headers=old_token).status_code == 200

    # No account enumeration: an unknown email gets the same answer, and no mail.
    unknown = env.api.post("/api/v1/password-reset", json={"email": "nobody@identity.test"})
    known = env.api.post("/api/v1/password-reset", json={"email": actor.email.upper()})
    assert unknown.status_code == known.status_code == 202
    assert unknown.json() == known.json() == {"accepted": True, "detail": RESET_ACCEPTED}
    gql = env.api.post("/graphql", json={"query": GQL_RESET, "variables": {"email": "ghost@identity.test"}}).json()
    assert gql["data"]["requestPasswordReset"] == {"__typename": "Accepted", "accepted": True, "detail": RESET_ACCEPTED}
    assert inbox.count() == 0  # the request only queued it
    pump(env.engine, env.settings, lambda: inbox.count() >= 1)
    [(to, message)] = inbox.messages
    assert to == [actor.email]
    text, html = _text(message)
    match = re.search(r"Your reset token: (rst_[A-Za-z0-9_-]+)", text)
    assert match is not None, text
    token = match.group(1)
    assert token in html
    with Session(env.engine) as session:
        [stored] = session.exec(select(PasswordResetToken)).all()
        assert stored.token_hash != token
        assert token not in stored.token_hash

    short = env.api.post("/api/v1/password-reset/confirm", json={"token": token, "new_password": "short"})
    assert short.status_code == 422
    forged = env.api.post(
        "/api/v1/password-reset/confirm", json={"token": "rst_" + "x" * 43, "new_password": NEW_PASSWORD}
    )
    assert forged.status_code == 422
    done = env.api.post("/api/v1/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD})
    assert done.status_code == 204, done.text
    replay = env.api.post("/api/v1/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD + "!"})
    assert replay.status_code == 422  # single use
    assert env.api.get("/api/v1/me/notifications", headers=old_token).status_code == 401  # sessions ended
    with Session(env.engine) as session:
        assert authenticate_user(session, actor.email, NEW_PASSWORD) is not None
        assert authenticate_user(session, actor.email, NEW_PASSWORD + "!") is None

    # Rate limited per email (3 in the window here: one was spent above), whether the account exists or not.
    for _ in range(2):
        assert env.api.post("/api/v1/password-reset", json={"email": actor.email}).status_code == 202
    limited = env.api.post("/api/v1/password-reset", json={"email": actor.email})
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    gql_limited = env.api.post("/graphql", json={"query": GQL_RESET, "variables": {"email": actor.email}}).json()
    assert gql_limited["data"]["requestPasswordReset"]["__typename"] == "MutationError"
    assert gql_limited["data"]["requestPasswordReset"]["code"] == "TOO_MANY_REQUESTS"


def test_expired_token_is_refused_and_the_embedded_default_writes_a_maildir(env: Env) -> None:
    assert not env.settings.smtp_host
    actor = env.world.actors[Role.city_official]
    assert env.api.post("/api/v1/password-reset", json={"email": actor.email}).status_code == 202
    pump(env.engine, env.settings, lambda: any(r.status == "sent" for r in _mail_rows(env)))
    box = mailbox.Maildir(env.settings.maildir, create=False)
    [message] = list(box)
    assert message["To"] == actor.email
    parsed = email.message_from_bytes(message.as_bytes(), policy=default_policy)
    text, _ = _text(parsed)
    match = re.search(r"Your reset token: (rst_[A-Za-z0-9_-]+)", text)
    assert match is not None
    with Session(env.engine) as session:
        [stored] = session.exec(select(PasswordResetToken)).all()
        stored.expires_at = stored.created_at
        session.add(stored)
        user = session.get(User, actor.user_id)
        assert user is not None
        before = user.password_hash
        session.commit()
    expired = env.api.post(
        "/api/v1/password-reset/confirm", json={"token": match.group(1), "new_password": NEW_PASSWORD}
    )
    assert expired.status_code == 422
    with Session(env.engine) as session:
        user = session.get(User, actor.user_id)
        assert user is not None
        assert user.password_hash == before


GQL_INVITE = """mutation($input: InvitationInput!) { inviteToOrganisation(input: $input) {
  __typename ... on Invitation { id email role } ... on MutationError { code message } } }"""


def test_an_invitation_mailed_by_an_admin_creates_the_account_and_membership(
    mail_env: Env, smtp: tuple[Inbox, int, Path]
) -> None:
    env, (inbox, _, _) = mail_env, smtp
    organisation = env.world.organisation[(OrganisationKind.vendor, "a")]
    body = {"email": "New.Colleague@identity.test", "organisation_id": organisation}
    refused = env.api.post("/api/v1/invitations", json=body, headers=env.auth(Role.vendor_member))
    assert refused.status_code == 403
    wrong_role = env.api.post(
        "/api/v1/invitations", json={**body, "role": "city_official"}, headers=env.auth(Role.admin)
    )
    assert wrong_role.status_code == 422
    gql = env.api.post(
        "/graphql",
        json={"query": GQL_INVITE, "variables": {"input": {"email": body["email"], "organisationId": organisation}}},
        headers=env.auth(Role.vendor_member),
    ).json()["data"]["inviteToOrganisation"]
    assert (gql["__typename"], gql["code"]) == ("MutationError", "FORBIDDEN")
    made = env.api.post("/api/v1/invitations", json=body, headers=env.auth(Role.admin))
    assert made.status_code == 201, made.text
    assert made.json()["email"] == "new.colleague@identity.test"
    assert made.json()["role"] == "vendor_member"

    pump(env.engine, env.settings, lambda: inbox.count() >= 1)
    [(to, message)] = inbox.messages
    assert to == ["new.colleague@identity.test"]
    assert "Identity Vendor A" in message["Subject"]
    text, _ = _text(message)
    match = re.search(r"Your invitation token: (inv_[A-Za-z0-9_-]+)", text)
    assert match is not None, text
    token = match.group(1)

    no_password = env.api.post("/api/v1/invitations/accept", json={"token": token, "name": "New Colleague"})
    assert no_password.status_code == 422  # a new account needs one; the token is not spent by the refusal
    accepted = env.api.post(
        "/api/v1/invitations/accept", json={"token": token, "name": "New Colleague", "password": NEW_PASSWORD}
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["created_account"] is True
    again = env.api.post("/api/v1/invitations/accept", json={"token": token, "password": NEW_PASSWORD})
    assert again.status_code == 422  # single use
    with Session(env.engine) as session:
        user = authenticate_user(session, "new.colleague@identity.test", NEW_PASSWORD)
        assert user is not None
        assert user.name == "New Colleague"
        [membership] = session.exec(select(Membership).where(Membership.user_id == user.id)).all()
        assert (membership.organisation_id, membership.role) == (organisation, Role.vendor_member)


GQL_DIGEST = "{ notificationPreferences { digest } }"


def test_the_daily_digest_collects_email_events_into_one_mail_a_day(
    mail_env: Env, smtp: tuple[Inbox, int, Path]
) -> None:
    """The worker's digest step with an injected clock: one mail for the day, however often it runs; the marker
    is in the database (a new worker on the same day sends nothing either)."""
    env, (inbox, _, _) = mail_env, smtp
    member = env.auth(Role.vendor_member)
    put = env.api.put(
        "/api/v1/me/notification-preferences",
        json={"preferences": [{"event_type": "vendor.verified", "channel": "email"}], "digest": True},
        headers=member,
    )
    assert (put.status_code, put.json()["digest"]) == (200, True)
    gql = env.api.post("/graphql", json={"query": GQL_DIGEST}, headers=member).json()["data"]
    assert gql == {"notificationPreferences": {"digest": True}}

    env.verify_vendor("a")
    assert dispatch(env.engine, env.settings) == 1
    assert _mail_rows(env) == []  # with the digest on, nothing is mailed one by one
    feed = env.api.get("/api/v1/me/notifications", headers=member).json()
    assert [n["type"] for n in feed["items"]] == ["vendor.verified"]  # the feed has it at once

    morning = (datetime.now(UTC) + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    worker = Notifier(env.engine, env.settings, clock=lambda: morning)
    try:
        worker.run_once()  # the digest step enqueues it, the mail step of the same round sends it
    finally:
        worker.close()
    assert inbox.count() == 1
    [(to, message)] = inbox.messages
    assert to == [env.world.actors[Role.vendor_member].email]
    assert message["Subject"] == "[citymarket] Your daily digest: 1 notification"
    text, html = _text(message)
    assert "Vendor verified" in text
    assert "vendor.verified" in text
    assert "<code>vendor.verified</code>" in html

    # Again the same day, by another worker (no memory of its own) or the command's function: nothing more.
    later = Notifier(env.engine, env.settings, clock=lambda: morning + timedelta(hours=3))
    try:
        later.run_once()
    finally:
        later.close()
    assert digest_round(env.engine, env.settings, morning + timedelta(hours=4)) == 0
    assert [m.purpose for m in _mail_rows(env)] == [f"digest:{morning.date().isoformat()}"]
    # The next day, with nothing new since: no mail.
    assert digest_round(env.engine, env.settings, morning + timedelta(days=1)) == 0
    assert inbox.count() == 1
