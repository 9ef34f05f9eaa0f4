"""GraphQL face of notifications: webhooks and the feed, through the same services and schemas as REST."""

from __future__ import annotations

from typing import Annotated

import strawberry
from sqlmodel import Session
from strawberry.scalars import JSON

from app.core.paths import path_of
from app.graphql.context import Context
from app.graphql.mutations import (
    Deleted,
    DeleteResult,
    IdempotencyKeyArg,
    MutationError,
    create_once,
    pydantic_input,
    run_mutation,
    validated,
)
from app.graphql.relay import Connection, Edge, PageInfo, page_request
from app.notifications import alerts, service
from app.notifications.models import AlertTarget, Channel, DeliveryStatus
from app.notifications.router import alerts_router as rest
from app.notifications.schemas import (
    AcceptedInvitationOut,
    AcceptedOut,
    AlertIn,
    AlertOut,
    AlertUpdateIn,
    AttemptOut,
    CaseStudyAlertFilters,
    DeliveryOut,
    InvitationAcceptIn,
    InvitationIn,
    InvitationOut,
    MarkedReadOut,
    MarkReadIn,
    NotificationOut,
    PasswordResetConfirmIn,
    PasswordResetIn,
    PreferenceIn,
    PreferenceOut,
    PreferencesIn,
    PreferencesOut,
    SearchAlertIn,
    SolutionAlertFilters,
    WebhookCreateIn,
    WebhookOut,
    WebhookUpdateIn,
    WebhookWithSecretOut,
)

DeliveryStatusEnum = strawberry.enum(DeliveryStatus, name="WebhookDeliveryStatus")


@strawberry.experimental.pydantic.type(model=WebhookOut, all_fields=True)
class Webhook:
    pass


@strawberry.experimental.pydantic.type(model=WebhookWithSecretOut, all_fields=True)
class WebhookWithSecret:
    pass


@strawberry.experimental.pydantic.type(model=AttemptOut, all_fields=True)
class WebhookAttempt:
    pass


@strawberry.experimental.pydantic.type(model=DeliveryOut, all_fields=True)
class WebhookDelivery:
    pass


@strawberry.experimental.pydantic.type(model=NotificationOut, all_fields=True)
class Notification:
    data: JSON


@strawberry.experimental.pydantic.type(model=MarkedReadOut, all_fields=True)
class MarkedRead:
    pass


@strawberry.type(description="The caller's feed, newest first (GET /api/v1/me/notifications).")
class NotificationFeed:
    edges: list[Edge[Notification]]
    page_info: PageInfo
    total_count: int
    unread_count: int


@strawberry.type
class NotificationQueries:
    @strawberry.field(description="Your organisations' webhook endpoints (GET /api/v1/webhooks).")
    async def webhooks(
        self,
        info: strawberry.Info[Context, None],
        organisation_id: int | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> Connection[Webhook]:
        principal = info.context.principal
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: service.list_webhooks(s, principal, page, organisation_id))
        return Connection[Webhook].from_page(result, lambda w: Webhook.from_pydantic(WebhookOut.from_model(w)))

    @strawberry.field(description="One endpoint's deliveries, newest first, with every attempt.")
    async def webhook_deliveries(
        self, info: strawberry.Info[Context, None], webhook_id: int, first: int = 20, after: str | None = None
    ) -> Connection[WebhookDelivery]:
        principal = info.context.principal
        page = page_request(first, after)
        items, result = await info.context.run_db(lambda s: service.list_deliveries(s, principal, webhook_id, page))
        by_id = {d.id: d for d in items}
        return Connection[WebhookDelivery].from_page(result, lambda r: WebhookDelivery.from_pydantic(by_id[r.id]))

    @strawberry.field(description="Your notifications (a person's; machine clients have none).")
    async def notifications(
        self, info: strawberry.Info[Context, None], unread: bool = False, first: int = 20, after: str | None = None
    ) -> NotificationFeed:
        principal = info.context.principal
        page = page_request(first, after)
        result, items, unread_count = await info.context.run_db(
            lambda s: service.list_notifications(s, principal, page, unread)
        )
        nodes = Connection[Notification].from_page(
            result, lambda r: Notification.from_pydantic(next(i for i in items if i.id == r.id))
        )
        return NotificationFeed(
            edges=nodes.edges, page_info=nodes.page_info, total_count=nodes.total_count, unread_count=unread_count
        )


@pydantic_input(WebhookCreateIn)
class WebhookCreateInput:
    pass


@pydantic_input(WebhookUpdateIn, partial=True)
class WebhookUpdateInput:
    pass


@pydantic_input(MarkReadIn)
class MarkReadInput:
    pass


WebhookResult = Annotated[Webhook | MutationError, strawberry.union("WebhookResult")]
WebhookSecretResult = Annotated[WebhookWithSecret | MutationError, strawberry.union("WebhookSecretResult")]
DeliveryResult = Annotated[WebhookDelivery | MutationError, strawberry.union("WebhookDeliveryResult")]
MarkedReadResult = Annotated[MarkedRead | MutationError, strawberry.union("MarkedReadResult")]
VersionArg = Annotated[int, strawberry.argument(description="The version you last read (REST's If-Match).")]


@strawberry.type
class NotificationMutations:
    @strawberry.mutation(
        description="Register a webhook endpoint (POST /api/v1/webhooks); the answer holds the secret once."
    )
    async def create_webhook(
        self, info: strawberry.Info[Context, None], input: WebhookCreateInput
    ) -> WebhookSecretResult:
        principal, settings = info.context.principal, info.context.settings

        def work(session: Session) -> WebhookWithSecret:
            body = validated(WebhookCreateIn, input)
            return WebhookWithSecret.from_pydantic(service.create_webhook(session, principal, settings, body))

        return await run_mutation(info, work)

    @strawberry.mutation(description="Change an endpoint (PATCH /api/v1/webhooks/{id}): only the fields given.")
    async def update_webhook(
        self, info: strawberry.Info[Context, None], id: int, expected_version: VersionArg, input: WebhookUpdateInput
    ) -> WebhookResult:
        principal, settings = info.context.principal, info.context.settings

        def work(session: Session) -> Webhook:
            body = validated(WebhookUpdateIn, input)
            out = service.update_webhook(session, principal, settings, id, body, lambda: expected_version)
            return Webhook.from_pydantic(out)

        return await run_mutation(info, work)

    @strawberry.mutation(description="Replace an endpoint's signing secret; the answer holds the new one once.")
    async def rotate_webhook_secret(self, info: strawberry.Info[Context, None], id: int) -> WebhookSecretResult:
        principal = info.context.principal

        def work(session: Session) -> WebhookWithSecret:
            return WebhookWithSecret.from_pydantic(service.rotate_secret(session, principal, id))

        return await run_mutation(info, work, root=None)

    @strawberry.mutation(description="Delete an endpoint and its deliveries.")
    async def delete_webhook(self, info: strawberry.Info[Context, None], id: int) -> DeleteResult:
        principal = info.context.principal

        def work(session: Session) -> Deleted:
            service.delete_webhook(session, principal, id)
            return Deleted(id=id)

        return await run_mutation(info, work, root=None)

    @strawberry.mutation(description="Send a delivery again, with the same webhook-id.")
    async def resend_webhook_delivery(
        self, info: strawberry.Info[Context, None], webhook_id: int, delivery_id: int
    ) -> DeliveryResult:
        principal = info.context.principal

        def work(session: Session) -> WebhookDelivery:
            return WebhookDelivery.from_pydantic(service.resend_delivery(session, principal, webhook_id, delivery_id))

        return await run_mutation(info, work, root=None)

    @strawberry.mutation(description="Mark feed entries (ids) or the whole feed (all: true) read.")
    async def mark_notifications_read(
        self, info: strawberry.Info[Context, None], input: MarkReadInput
    ) -> MarkedReadResult:
        principal = info.context.principal

        def work(session: Session) -> MarkedRead:
            return MarkedRead.from_pydantic(service.mark_read(session, principal, validated(MarkReadIn, input)))

        return await run_mutation(info, work)


# ------------------------------------------------------------------------ email preferences, password reset

ChannelEnum = strawberry.enum(Channel, name="NotificationChannel")


@strawberry.experimental.pydantic.type(model=PreferenceOut, all_fields=True)
class NotificationPreference:
    pass


@strawberry.experimental.pydantic.type(model=PreferencesOut, all_fields=True)
class NotificationPreferences:
    pass


@strawberry.experimental.pydantic.type(model=AcceptedOut, all_fields=True)
class Accepted:
    pass


@strawberry.type
class PasswordChanged:
    changed: bool = True


@pydantic_input(PreferenceIn)
class NotificationPreferenceInput:
    pass


@pydantic_input(PreferencesIn)
class NotificationPreferencesInput:
    pass


@pydantic_input(PasswordResetIn)
class PasswordResetInput:
    pass


@pydantic_input(PasswordResetConfirmIn)
class PasswordResetConfirmInput:
    pass


PreferencesResult = Annotated[
    NotificationPreferences | MutationError, strawberry.union("NotificationPreferencesResult")
]
AcceptedResult = Annotated[Accepted | MutationError, strawberry.union("AcceptedResult")]
PasswordChangedResult = Annotated[PasswordChanged | MutationError, strawberry.union("PasswordChangedResult")]


@strawberry.type
class PreferenceQueries:
    @strawberry.field(description="How you hear of each event type (GET /api/v1/me/notification-preferences).")
    async def notification_preferences(self, info: strawberry.Info[Context, None]) -> NotificationPreferences:
        principal = info.context.principal
        out = await info.context.run_db(lambda s: service.get_preferences(s, principal))
        return NotificationPreferences.from_pydantic(out)


@strawberry.type
class PreferenceMutations:
    @strawberry.mutation(
        description="Choose email, feed only or off for event types (PUT /api/v1/me/notification-preferences)."
    )
    async def set_notification_preferences(
        self, info: strawberry.Info[Context, None], input: NotificationPreferencesInput
    ) -> PreferencesResult:
        principal = info.context.principal

        def work(session: Session) -> NotificationPreferences:
            body = validated(PreferencesIn, input)
            return NotificationPreferences.from_pydantic(service.set_preferences(session, principal, body))

        return await run_mutation(info, work)

    @strawberry.mutation(
        description="Mail a password reset token (POST /api/v1/password-reset): the same answer for any email."
    )
    async def request_password_reset(
        self, info: strawberry.Info[Context, None], input: PasswordResetInput
    ) -> AcceptedResult:
        settings = info.context.settings
        request = getattr(info.context, "request", None)
        address = request.client.host if request is not None and getattr(request, "client", None) else None

        def work(session: Session) -> Accepted:
            body = validated(PasswordResetIn, input)
            service.reset_limiter(settings).hit(body.email, address)
            return Accepted.from_pydantic(service.request_password_reset(session, settings, body))

        return await run_mutation(info, work, scopes=None)

    @strawberry.mutation(description="Set a new password with a reset token (POST /api/v1/password-reset/confirm).")
    async def confirm_password_reset(
        self, info: strawberry.Info[Context, None], input: PasswordResetConfirmInput
    ) -> PasswordChangedResult:
        def work(session: Session) -> PasswordChanged:
            service.confirm_password_reset(session, validated(PasswordResetConfirmIn, input))
            return PasswordChanged()

        return await run_mutation(info, work, scopes=None)


@strawberry.experimental.pydantic.type(model=InvitationOut, all_fields=True)
class Invitation:
    pass


@strawberry.experimental.pydantic.type(model=AcceptedInvitationOut, all_fields=True)
class AcceptedInvitation:
    pass


@pydantic_input(InvitationIn)
class InvitationInput:
    pass


@pydantic_input(InvitationAcceptIn)
class InvitationAcceptInput:
    pass


InvitationResult = Annotated[Invitation | MutationError, strawberry.union("InvitationResult")]
AcceptedInvitationResult = Annotated[AcceptedInvitation | MutationError, strawberry.union("AcceptedInvitationResult")]


@strawberry.type
class InvitationMutations:
    @strawberry.mutation(description="Invite a person to an organisation with a role (POST /api/v1/invitations).")
    async def invite_to_organisation(
        self, info: strawberry.Info[Context, None], input: InvitationInput
    ) -> InvitationResult:
        principal, settings = info.context.principal, info.context.settings

        def work(session: Session) -> Invitation:
            body = validated(InvitationIn, input)
            return Invitation.from_pydantic(service.invite(session, principal, settings, body))

        return await run_mutation(info, work)

    @strawberry.mutation(description="Accept an invitation (POST /api/v1/invitations/accept).")
    async def accept_invitation(
        self, info: strawberry.Info[Context, None], input: InvitationAcceptInput
    ) -> AcceptedInvitationResult:
        def work(session: Session) -> AcceptedInvitation:
            body = validated(InvitationAcceptIn, input)
            return AcceptedInvitation.from_pydantic(service.accept_invitation(session, body))

        return await run_mutation(info, work, scopes=None)


# ----------------------------------------------------------------------------------------------- alerts

AlertTargetEnum = strawberry.enum(AlertTarget, name="AlertTarget")


@strawberry.experimental.pydantic.type(model=AlertOut, all_fields=True)
class Alert:
    filters: JSON


@pydantic_input(SolutionAlertFilters)
class SolutionAlertFiltersInput:
    pass


@pydantic_input(CaseStudyAlertFilters)
class CaseStudyAlertFiltersInput:
    pass


@pydantic_input(SearchAlertIn)
class SearchAlertInput:
    pass


@pydantic_input(AlertIn)
class AlertInput:
    pass


@pydantic_input(AlertUpdateIn, partial=True)
class AlertUpdateInput:
    pass


AlertResult = Annotated[Alert | MutationError, strawberry.union("AlertResult")]


def _alert(out: AlertOut) -> Alert:
    return Alert.from_pydantic(out)


@strawberry.type
class AlertQueries:
    @strawberry.field(description="Your saved alerts, oldest first (GET /api/v1/me/alerts).")
    async def alerts(
        self, info: strawberry.Info[Context, None], first: int = 20, after: str | None = None
    ) -> Connection[Alert]:
        principal = info.context.principal
        page = page_request(first, after)
        result = await info.context.run_db(lambda s: alerts.list_alerts(s, principal, page))
        return Connection[Alert].from_page(result, lambda a: _alert(AlertOut.from_model(a)))

    @strawberry.field(description="One of your alerts (GET /api/v1/me/alerts/{id}).")
    async def alert(self, info: strawberry.Info[Context, None], id: int) -> Alert:
        principal = info.context.principal
        return _alert(await info.context.run_db(lambda s: alerts.get_alert(s, principal, id)))


@strawberry.type
class AlertMutations:
    @strawberry.mutation(description="Save an alert (POST /api/v1/me/alerts).")
    async def create_alert(
        self, info: strawberry.Info[Context, None], input: AlertInput, idempotency_key: IdempotencyKeyArg = None
    ) -> AlertResult:
        principal = info.context.principal

        def work(session: Session) -> Alert:
            body = validated(AlertIn, input)

            def create() -> tuple[AlertOut, str]:
                out = alerts.create_alert(session, principal, body)
                return out, path_of(rest, "get_alert", alert_id=out.id)

            made = create_once(session, info.context, idempotency_key, path_of(rest, "create_alert"), body, create)
            return _alert(alerts.get_alert(session, principal, made.id))

        return await run_mutation(info, work)

    @strawberry.mutation(description="Rename an alert or replace its filters (PATCH /api/v1/me/alerts/{id}).")
    async def update_alert(
        self, info: strawberry.Info[Context, None], id: int, expected_version: VersionArg, input: AlertUpdateInput
    ) -> AlertResult:
        principal = info.context.principal

        def work(session: Session) -> Alert:
            body = validated(AlertUpdateIn, input)
            return _alert(alerts.update_alert(session, principal, id, body, lambda: expected_version))

        return await run_mutation(info, work)

    @strawberry.mutation(description="Delete one of your alerts (DELETE /api/v1/me/alerts/{id}).")
    async def delete_alert(self, info: strawberry.Info[Context, None], id: int) -> DeleteResult:
        principal = info.context.principal

        def work(session: Session) -> Deleted:
            alerts.delete_alert(session, principal, id)
            return Deleted(id=id)

        return await run_mutation(info, work, root=None)
