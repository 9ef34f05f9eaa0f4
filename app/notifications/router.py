"""REST face of notifications: webhook endpoints (per organisation), their deliveries, and the caller's feed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse

from app.auth.deps import AuthenticatedDep
from app.core.concurrency import if_match, set_etag
from app.core.deps import PageDep, SessionDep, SettingsDep
from app.core.idempotency import create_once
from app.core.ids import MAX_ID, Id
from app.core.pagination import Page
from app.core.paths import path_of
from app.core.routing import api_router
from app.notifications import alerts, service
from app.notifications.schemas import (
    AcceptedInvitationOut,
    AcceptedOut,
    AlertIn,
    AlertOut,
    AlertUpdateIn,
    DeliveryOut,
    InvitationAcceptIn,
    InvitationIn,
    InvitationOut,
    MarkedReadOut,
    MarkReadIn,
    NotificationPage,
    PasswordResetConfirmIn,
    PasswordResetIn,
    PreferencesIn,
    PreferencesOut,
    WebhookCreateIn,
    WebhookOut,
    WebhookUpdateIn,
    WebhookWithSecretOut,
)

router = api_router(prefix="/api/v1/webhooks", tags=["webhooks"])
feed_router = api_router(prefix="/api/v1/me/notifications", tags=["notifications"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No (valid) token"},
    403: {"description": "Not a member of that organisation with a write scope (or not a person, for the feed)"},
    404: {"description": "No such webhook (or another organisation's)"},
    412: {"description": "If-Match is stale"},
    422: {"description": "Invalid input: unknown event types, or a URL that may not be called (SSRF rules)"},
    428: {"description": "If-Match missing"},
}


@router.get("/event-types", summary="The event catalogue: every type, its version and its payload's JSON Schema")
def event_types() -> list[dict[str, Any]]:
    return service.event_types()


@router.post(
    "",
    status_code=201,
    response_model=WebhookWithSecretOut,
    summary="Register a webhook endpoint for your organisation (the answer holds the signing secret, once)",
    responses={**RESPONSES, 201: {"description": "Created; Location names it; keep the secret"}},
)
def create_webhook(
    session: SessionDep, principal: AuthenticatedDep, settings: SettingsDep, body: WebhookCreateIn
) -> JSONResponse:
    out = service.create_webhook(session, principal, settings, body)
    session.commit()
    return JSONResponse(
        out.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/api/v1/webhooks/{out.id}", "ETag": f'"webhook-{out.id}-v{out.version}"'},
    )


@router.get("", response_model=Page[WebhookOut], summary="Your organisations' webhook endpoints")
def list_webhooks(
    session: SessionDep,
    principal: AuthenticatedDep,
    page: PageDep,
    organisation_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="One organisation's only")] = None,
) -> Page[WebhookOut]:
    result = service.list_webhooks(session, principal, page, organisation_id)
    return Page(
        items=[WebhookOut.from_model(w) for w in result.items], total=result.total, next_cursor=result.next_cursor
    )


@router.get("/{webhook_id}", response_model=WebhookOut, summary="One webhook endpoint", responses=RESPONSES)
def get_webhook(session: SessionDep, principal: AuthenticatedDep, response: Response, webhook_id: Id) -> WebhookOut:
    out = service.get_webhook(session, principal, webhook_id)
    set_etag(response, service.KIND, out.id, out.version)
    return out


@router.patch(
    "/{webhook_id}",
    response_model=WebhookOut,
    summary="Change an endpoint's URL, events or description, or enable it again (If-Match)",
    responses=RESPONSES,
)
def update_webhook(
    session: SessionDep,
    principal: AuthenticatedDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
    webhook_id: Id,
    body: WebhookUpdateIn,
) -> WebhookOut:
    out = service.update_webhook(
        session, principal, settings, webhook_id, body, if_match(request, service.KIND, webhook_id)
    )
    session.commit()
    set_etag(response, service.KIND, out.id, out.version)
    return out


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookWithSecretOut,
    summary="Replace the signing secret (the answer holds the new one, once)",
    responses=RESPONSES,
)
def rotate_secret(
    session: SessionDep, principal: AuthenticatedDep, response: Response, webhook_id: Id
) -> WebhookWithSecretOut:
    out = service.rotate_secret(session, principal, webhook_id)
    session.commit()
    set_etag(response, service.KIND, out.id, out.version)
    return out


@router.delete("/{webhook_id}", status_code=204, summary="Delete an endpoint and its deliveries", responses=RESPONSES)
def delete_webhook(session: SessionDep, principal: AuthenticatedDep, webhook_id: Id) -> Response:
    service.delete_webhook(session, principal, webhook_id)
    session.commit()
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=Page[DeliveryOut],
    summary="An endpoint's deliveries, newest first, each with every attempt (status, latency, error)",
    responses=RESPONSES,
)
def list_deliveries(
    session: SessionDep, principal: AuthenticatedDep, page: PageDep, webhook_id: Id
) -> Page[DeliveryOut]:
    items, result = service.list_deliveries(session, principal, webhook_id, page)
    return Page(items=items, total=result.total, next_cursor=result.next_cursor)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/resend",
    status_code=202,
    response_model=DeliveryOut,
    summary="Send a delivery again, with the same webhook-id (accepted: the worker sends it)",
    responses=RESPONSES,
)
def resend_delivery(session: SessionDep, principal: AuthenticatedDep, webhook_id: Id, delivery_id: Id) -> DeliveryOut:
    out = service.resend_delivery(session, principal, webhook_id, delivery_id)
    session.commit()
    return out


# ------------------------------------------------------------------------------------------------- feed


@feed_router.get("", response_model=NotificationPage, summary="Your notifications, newest first, with the unread count")
def list_notifications(
    session: SessionDep,
    principal: AuthenticatedDep,
    page: PageDep,
    unread: Annotated[bool, Query(description="Only unread entries")] = False,
) -> NotificationPage:
    return service.feed_page(session, principal, page, unread)


@feed_router.post("/read", response_model=MarkedReadOut, summary="Mark entries (or all) read")
def mark_read(session: SessionDep, principal: AuthenticatedDep, body: MarkReadIn) -> MarkedReadOut:
    out = service.mark_read(session, principal, body)
    session.commit()
    return out


# ------------------------------------------------------------------------------------ email preferences

preferences_router = api_router(prefix="/api/v1/me/notification-preferences", tags=["notifications"])


@preferences_router.get("", response_model=PreferencesOut, summary="How you hear of each event type")
def get_preferences(session: SessionDep, principal: AuthenticatedDep) -> PreferencesOut:
    return service.get_preferences(session, principal)


@preferences_router.put(
    "",
    response_model=PreferencesOut,
    summary="Choose email, feed only or off for event types (the ones not named keep theirs)",
)
def set_preferences(session: SessionDep, principal: AuthenticatedDep, body: PreferencesIn) -> PreferencesOut:
    out = service.set_preferences(session, principal, body)
    session.commit()
    return out


# --------------------------------------------------------------------------------------- password reset

reset_router = api_router(prefix="/api/v1/password-reset", tags=["identity"])


@reset_router.post(
    "",
    status_code=202,
    response_model=AcceptedOut,
    summary="Mail a password reset token to an account (202 whether or not the account exists)",
    responses={429: {"description": "Too many requests for this email or from this address (Retry-After)"}},
)
def request_password_reset(
    session: SessionDep, settings: SettingsDep, request: Request, body: PasswordResetIn
) -> JSONResponse:
    service.reset_limiter(settings).hit(body.email, request.client.host if request.client else None)
    out = service.request_password_reset(session, settings, body)
    session.commit()
    return JSONResponse(out.model_dump(mode="json"), status_code=202)


@reset_router.post(
    "/confirm",
    status_code=204,
    summary="Set a new password with a reset token (single use; every session of the account ends)",
    responses={422: {"description": "Unknown, used or expired token, or a password too short"}},
)
def confirm_password_reset(session: SessionDep, body: PasswordResetConfirmIn) -> Response:
    service.confirm_password_reset(session, body)
    session.commit()
    return Response(status_code=204)


# ------------------------------------------------------------------------------------------ invitations

invitations_router = api_router(prefix="/api/v1/invitations", tags=["identity"])


@invitations_router.post(
    "",
    status_code=201,
    response_model=InvitationOut,
    summary="Invite a person by email to an organisation with a role (admins; the link is mailed)",
    responses={403: {"description": "Not an admin"}, 404: {"description": "No such organisation"}},
)
def invite(session: SessionDep, principal: AuthenticatedDep, settings: SettingsDep, body: InvitationIn) -> JSONResponse:
    out = service.invite(session, principal, settings, body)
    session.commit()
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


@invitations_router.post(
    "/accept",
    status_code=201,
    response_model=AcceptedInvitationOut,
    summary="Accept an invitation: the account (created if new) joins the organisation",
    responses={422: {"description": "Unknown, used or expired token; a new account without a valid password"}},
)
def accept_invitation(session: SessionDep, body: InvitationAcceptIn) -> JSONResponse:
    out = service.accept_invitation(session, body)
    session.commit()
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


# ----------------------------------------------------------------------------------------------- alerts

alerts_router = api_router(prefix="/api/v1/me/alerts", tags=["notifications"])

ALERT_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No (valid) token"},
    403: {"description": "Not a person (a machine client has no alerts)"},
    404: {"description": "No such alert (or another person's)"},
    409: {"description": "You already have an alert of that name"},
    412: {"description": "If-Match is stale"},
    422: {"description": "Invalid filters (unknown field, KPI or value), or neither or both kinds of filters"},
    428: {"description": "If-Match missing"},
}


@alerts_router.get("", response_model=Page[AlertOut], summary="Your saved alerts, oldest first")
def list_alerts(session: SessionDep, principal: AuthenticatedDep, page: PageDep) -> Page[AlertOut]:
    result = alerts.list_alerts(session, principal, page)
    return Page(
        items=[AlertOut.from_model(a) for a in result.items], total=result.total, next_cursor=result.next_cursor
    )


@alerts_router.post(
    "",
    status_code=201,
    response_model=AlertOut,
    summary="Save an alert: new listings or case studies matching these filters raise alert.matched to you",
    responses={**ALERT_RESPONSES, 201: {"description": "Created; Location names it (Idempotency-Key replays)"}},
)
def create_alert(session: SessionDep, principal: AuthenticatedDep, request: Request, body: AlertIn) -> JSONResponse:
    def create() -> tuple[AlertOut, str]:
        out = alerts.create_alert(session, principal, body)
        return out, path_of(alerts_router, "get_alert", alert_id=out.id)

    return create_once(session, principal, request, body, create)


@alerts_router.get("/{alert_id}", response_model=AlertOut, summary="One of your alerts", responses=ALERT_RESPONSES)
def get_alert(session: SessionDep, principal: AuthenticatedDep, response: Response, alert_id: Id) -> AlertOut:
    out = alerts.get_alert(session, principal, alert_id)
    set_etag(response, alerts.KIND, out.id, out.version)
    return out


@alerts_router.patch(
    "/{alert_id}",
    response_model=AlertOut,
    summary="Rename an alert or replace its filters (If-Match)",
    responses=ALERT_RESPONSES,
)
def update_alert(
    session: SessionDep,
    principal: AuthenticatedDep,
    request: Request,
    response: Response,
    alert_id: Id,
    body: AlertUpdateIn,
) -> AlertOut:
    out = alerts.update_alert(session, principal, alert_id, body, if_match(request, alerts.KIND, alert_id))
    session.commit()
    set_etag(response, alerts.KIND, out.id, out.version)
    return out


@alerts_router.delete("/{alert_id}", status_code=204, summary="Delete one of your alerts", responses=ALERT_RESPONSES)
def delete_alert(session: SessionDep, principal: AuthenticatedDep, alert_id: Id) -> Response:
    alerts.delete_alert(session, principal, alert_id)
    session.commit()
    return Response(status_code=204)
