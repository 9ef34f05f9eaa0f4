"""Email: templates (plain text and HTML, jinja2), the mail outbox, and its sender in the notifications worker.

A message is rendered and stored (`outgoing_mail`) in the transaction that decided it: an event's dispatch
(for each person whose preference for that event type is `email`) or a password reset request. The worker
(app/notifications/delivery.py `Notifier.run_once`) claims due messages with a lease, sends them, and records
the outcome, so a request never waits for SMTP and a crash loses nothing (a message whose send was cut short
is sent again when its lease lapses: at least once).

Where it goes: the SMTP server named in settings (`CITYMARKET_SMTP_HOST`, port, STARTTLS, credentials); with
no SMTP host (the embedded default) each message is written to the maildir `<data_dir>/maildir`, which any
mail reader (`mutt -f var/maildir`) or `python -m mailbox` opens.
"""

from __future__ import annotations

import mailbox
import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import sqlalchemy as sa
import structlog
from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from app.core.config import Settings
from app.core.db import reader_session, writer_session
from app.core.models import utcnow
from app.notifications.models import MailStatus, NotifyEvent, OutgoingMail

log = structlog.get_logger(__name__)

CLAIM_BATCH = 32
LEASE_SECONDS = 120.0

_TEMPLATES = {
    "event.subject": "[citymarket] {{ title }}",
    "event.txt": """Hello {{ name or "there" }},

{{ title }}.

{% for key, value in data.items() %}{{ key }}: {{ value }}
{% endfor %}
See it in your notifications: {{ base_url }}/api/v1/me/notifications

You get this email because your preference for "{{ type }}" is email. Change it with
PUT {{ base_url }}/api/v1/me/notification-preferences
""",
    "event.html": """<!doctype html>
<html><body>
<p>Hello {{ name or "there" }},</p>
<p><strong>{{ title }}</strong>.</p>
<table>{% for key, value in data.items() %}
<tr><th align="left">{{ key }}</th><td>{{ value }}</td></tr>{% endfor %}
</table>
<p><a href="{{ base_url }}/api/v1/me/notifications">See it in your notifications</a></p>
<p style="color:#666">You get this email because your preference for <code>{{ type }}</code> is email.</p>
</body></html>
""",
    "digest.subject": "[citymarket] Your daily digest: {{ items|length }} notification{{ 's' if items|length != 1 }}",
    "digest.txt": """Hello {{ name or "there" }},

What happened since your last digest ({{ day }}):
{% for item in items %}
- {{ item.title }} ({{ item.type }}, {{ item.when }})
{%- for key, value in item.data.items() %}
    {{ key }}: {{ value }}
{%- endfor %}
{% endfor %}
See them in your notifications: {{ base_url }}/api/v1/me/notifications

You get this digest because your daily digest is on. Change it with
PUT {{ base_url }}/api/v1/me/notification-preferences ({"digest": false})
""",
    "digest.html": """<!doctype html>
<html><body>
<p>Hello {{ name or "there" }},</p>
<p>What happened since your last digest ({{ day }}):</p>
<ul>{% for item in items %}
<li><strong>{{ item.title }}</strong> <code>{{ item.type }}</code>, {{ item.when }}
<table>{% for key, value in item.data.items() %}
<tr><th align="left">{{ key }}</th><td>{{ value }}</td></tr>{% endfor %}
</table></li>{% endfor %}
</ul>
<p><a href="{{ base_url }}/api/v1/me/notifications">See them in your notifications</a></p>
<p style="color:#666">You get this digest because your daily digest is on.</p>
</body></html>
""",
    "invite.subject": "[citymarket] {{ inviter }} invites you to {{ organisation }}",
    "invite.txt": """Hello,

{{ inviter }} invites you to join {{ organisation }} on citymarket as {{ role }}.
Your invitation token: {{ token }}

Accept it with POST {{ base_url }}/api/v1/invitations/accept
({"token": "...", "name": "Your name", "password": "..."}; the password is needed only for a new account).
It works once, until {{ expires }} (UTC).
""",
    "invite.html": """<!doctype html>
<html><body>
<p>Hello,</p>
<p>{{ inviter }} invites you to join <strong>{{ organisation }}</strong> on citymarket as {{ role }}.</p>
<p>Your invitation token: <code>{{ token }}</code></p>
<p>Accept it with <code>POST {{ base_url }}/api/v1/invitations/accept</code>.
It works once, until {{ expires }} (UTC).</p>
</body></html>
""",
    "verify.subject": "[citymarket] Confirm your email address",
    "verify.txt": """Hello {{ name or "there" }},

Someone (we hope you) signed up on citymarket with this address for the vendor {{ vendor }}.
Your verification token: {{ token }}

Confirm it with POST {{ base_url }}/api/v1/signup/verify ({"token": "..."}).
It works once, until {{ expires }} (UTC). Then sign in; a platform admin verifies the vendor before its
listings can be submitted for review.

If you did not sign up, ignore this email: the account stays unusable.
""",
    "verify.html": """<!doctype html>
<html><body>
<p>Hello {{ name or "there" }},</p>
<p>Someone (we hope you) signed up on citymarket with this address for the vendor <strong>{{ vendor }}</strong>.</p>
<p>Your verification token: <code>{{ token }}</code></p>
<p>Confirm it with <code>POST {{ base_url }}/api/v1/signup/verify</code>. It works once, until {{ expires }} (UTC).</p>
<p style="color:#666">If you did not sign up, ignore this email: the account stays unusable.</p>
</body></html>
""",
    "signup_exists.subject": "[citymarket] You already have an account",
    "signup_exists.txt": """Hello {{ name or "there" }},

Someone (we hope you) tried to sign up on citymarket with this address, but you already have an account:
nothing was created. Sign in at {{ base_url }}/oauth/authorize, or, if you forgot your password, ask for a
reset with POST {{ base_url }}/api/v1/password-reset.

If it was not you, ignore this email.
""",
    "signup_exists.html": """<!doctype html>
<html><body>
<p>Hello {{ name or "there" }},</p>
<p>Someone (we hope you) tried to sign up on citymarket with this address, but you already have an account:
nothing was created. Sign in, or ask for a password reset with
<code>POST {{ base_url }}/api/v1/password-reset</code>.</p>
<p style="color:#666">If it was not you, ignore this email.</p>
</body></html>
""",
    "reset.subject": "[citymarket] Reset your password",
    "reset.txt": """Hello {{ name or "there" }},

Someone (we hope you) asked to reset the password of your citymarket account.
Your reset token: {{ token }}

Send it with a new password to POST {{ base_url }}/api/v1/password-reset/confirm
({"token": "...", "new_password": "..."}). It works once, until {{ expires }} (UTC).

If you did not ask for this, ignore this email: your password stays as it is.
""",
    "reset.html": """<!doctype html>
<html><body>
<p>Hello {{ name or "there" }},</p>
<p>Someone (we hope you) asked to reset the password of your citymarket account.</p>
<p>Your reset token: <code>{{ token }}</code></p>
<p>Send it with a new password to <code>POST {{ base_url }}/api/v1/password-reset/confirm</code>.
It works once, until {{ expires }} (UTC).</p>
<p style="color:#666">If you did not ask for this, ignore this email: your password stays as it is.</p>
</body></html>
""",
}

_env = Environment(
    loader=DictLoader(_TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render(kind: str, **values: Any) -> Rendered:
    """The subject, plain text and HTML of template `kind` ("event", "reset"); HTML is autoescaped."""
    subject = _env.get_template(f"{kind}.subject").render(**values).strip().replace("\n", " ")
    return Rendered(
        subject[:300],
        _env.get_template(f"{kind}.txt").render(**values),
        _env.get_template(f"{kind}.html").render(**values),
    )


def event_title(event: NotifyEvent) -> str:
    resource, _, happening = event.type.partition(".")
    label = event.payload.get("title") or event.payload.get("solution_title") or ""
    what = f"{resource.replace('_', ' ')} {happening.replace('_', ' ')}"
    return f"{what.capitalize()}: {label}" if label else what.capitalize()


def event_mail(settings: Settings, event: NotifyEvent, to: str, name: str) -> dict[str, Any]:
    """An outbox row (for a bulk insert) telling `to` of `event`."""
    rendered = render(
        "event",
        name=name,
        title=event_title(event),
        type=event.type,
        data={k: v for k, v in event.payload.items() if not isinstance(v, dict | list)},
        base_url=settings.public_base_url.rstrip("/"),
    )
    return outbox_row(to, rendered, f"event:{event.public_id}")


def outbox_row(to: str, rendered: Rendered, purpose: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "to_address": to,
        "subject": rendered.subject,
        "text_body": rendered.text,
        "html_body": rendered.html,
        "purpose": purpose,
        "status": MailStatus.pending,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "created_at": now,
    }


def enqueue(session: Session, to: str, rendered: Rendered, purpose: str) -> None:
    session.execute(sa.insert(OutgoingMail), [outbox_row(to, rendered, purpose)])


# -------------------------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class MailJob:
    id: int
    to: str
    subject: str
    text: str
    html: str


def message_of(settings: Settings, job: MailJob) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = job.to
    message["Subject"] = job.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(idstring=f"mail{job.id}", domain="citymarket")
    message.set_content(job.text)
    message.add_alternative(job.html, subtype="html")
    return message


def _due() -> tuple[sa.ColumnElement[bool], ...]:
    now = utcnow()
    return (
        col(OutgoingMail.status) == MailStatus.pending,
        col(OutgoingMail.next_attempt_at) <= now,
        sa.or_(col(OutgoingMail.locked_until).is_(None), col(OutgoingMail.locked_until) < now),
    )


def claim_mail(engine: Engine, limit: int = CLAIM_BATCH) -> list[MailJob]:
    with reader_session(engine) as peek:
        if peek.exec(select(OutgoingMail.id).where(*_due()).limit(1)).first() is None:
            return []
    with writer_session(engine) as session:
        statement = select(OutgoingMail).where(*_due()).order_by(col(OutgoingMail.id)).limit(limit)
        if engine.dialect.name == "postgresql":
            statement = statement.with_for_update(skip_locked=True)
        rows = session.exec(statement).all()
        jobs = [MailJob(r.id or 0, r.to_address, r.subject, r.text_body, r.html_body) for r in rows]
        if jobs:
            session.execute(
                sa.update(OutgoingMail)
                .where(col(OutgoingMail.id).in_([j.id for j in jobs]))
                .values(locked_until=utcnow() + timedelta(seconds=LEASE_SECONDS))
            )
        session.commit()
    return jobs


def deliver(settings: Settings, jobs: list[MailJob]) -> list[tuple[MailJob, str]]:
    """Send a round's messages (one SMTP connection, or the maildir); each with its error ("" when sent)."""
    if not jobs:
        return []
    if not settings.smtp_host:
        box = mailbox.Maildir(settings.maildir, create=True)
        try:
            for job in jobs:
                box.add(message_of(settings, job))
        finally:
            box.close()
        return [(job, "") for job in jobs]
    try:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
    except OSError as exc:
        return [(job, f"connect: {type(exc).__name__}: {exc}"[:500]) for job in jobs]
    results: list[tuple[MailJob, str]] = []
    try:
        smtp.ehlo()
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=settings.smtp_ca_file or None))
            smtp.ehlo()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        for job in jobs:
            try:
                smtp.send_message(message_of(settings, job))
                results.append((job, ""))
            except smtplib.SMTPException as exc:
                results.append((job, f"{type(exc).__name__}: {exc}"[:500]))
    except (OSError, smtplib.SMTPException) as exc:
        done = {j.id for j, _ in results}
        results += [(j, f"{type(exc).__name__}: {exc}"[:500]) for j in jobs if j.id not in done]
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return results


def record_mail(engine: Engine, settings: Settings, results: list[tuple[MailJob, str]]) -> None:
    with writer_session(engine) as session:
        now = utcnow()
        for job, error in results:
            row = session.get(OutgoingMail, job.id)
            if row is None:
                continue
            row.attempts += 1
            row.locked_until = None
            row.last_error = error
            if not error:
                row.status = MailStatus.sent
                row.sent_at = now
            elif row.attempts >= settings.mail_max_attempts:
                row.status = MailStatus.failed
                log.warning("mail given up", mail_id=job.id, error=error)
            else:
                row.next_attempt_at = now + timedelta(seconds=min(3600.0, 30.0 * 2 ** (row.attempts - 1)))
            session.add(row)
        session.commit()


def mail_round(engine: Engine, settings: Settings) -> int:
    """Claim, send and record due messages; returns how many were attempted."""
    jobs = claim_mail(engine)
    if jobs:
        record_mail(engine, settings, deliver(settings, jobs))
    return len(jobs)
