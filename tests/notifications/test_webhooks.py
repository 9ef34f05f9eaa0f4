"""Webhooks end to end: registration on both faces, a signed delivery to a real loopback receiver verified with
the `standardwebhooks` library, the attempt log, the feed, retries, disabling and re-sending."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlmodel import Session, select
from standardwebhooks.webhooks import Webhook

from app.identity.models import Role
from app.notifications.models import DeliveryStatus, NotifyEvent, WebhookDelivery, WebhookEndpoint
from tests.notifications.conftest import Env, make_env, pump
from tests.notifications.receiver import Receiver

GQL_CREATE = """mutation($input: WebhookCreateInput!) { createWebhook(input: $input) {
  ... on WebhookWithSecret { id secret events url } ... on MutationError { code message } } }"""
GQL_READ = """{ webhooks { totalCount edges { node { id url enabled } } }
  notifications { unreadCount totalCount edges { node { type data read } } } }"""


def _events(env: Env) -> list[NotifyEvent]:
    with Session(env.engine) as session:
        return list(session.exec(select(NotifyEvent).order_by(NotifyEvent.id)).all())  # type: ignore[arg-type]


def test_a_signed_delivery_reaches_the_receiver_and_the_feed(env: Env, receiver: Receiver) -> None:
    hook = env.register(receiver.url, ["vendor.verified"])
    assert hook["secret"].startswith("whsec_")
    assert "secret" not in env.api.get(f"/api/v1/webhooks/{hook['id']}", headers=env.auth(Role.vendor_member)).json()
    # A refused write raises nothing (the event shares the change's transaction); the real one raises one.
    stale = env.api.post(
        f"/api/v1/vendors/{env.world.vendor['a']}/verify",
        json={"verified": True},
        headers={**env.auth(Role.admin), "If-Match": '"vendor-1-v999"'},
    )
    assert stale.status_code == 412
    assert _events(env) == []
    env.verify_vendor("a")
    [event] = _events(env)
    assert event.type == "vendor.verified"
    assert event.dispatched_at is None

    pump(env.engine, env.settings, lambda: len(receiver.received) >= 1)
    [got] = receiver.received
    payload = Webhook(hook["secret"]).verify(got.body, got.headers)  # raises unless the signature is right
    assert got.headers["webhook-id"] == event.public_id
    assert payload["type"] == "vendor.verified"
    assert payload["version"] == 1
    assert payload["data"] == {"vendor_id": env.world.vendor["a"], "verified": True, "note": "checked the registry"}

    deliveries = env.api.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=env.auth(Role.vendor_member)).json()
    [delivery] = deliveries["items"]
    assert delivery["status"] == "succeeded"
    assert delivery["event_id"] == event.public_id
    [attempt] = delivery["attempt_log"]
    assert attempt["status_code"] == 200
    assert attempt["latency_ms"] > 0
    assert attempt["error"] == ""

    # The feed: the vendor's member is told, the admin who acted is not.
    feed = env.api.get("/api/v1/me/notifications", headers=env.auth(Role.vendor_member)).json()
    assert feed["unread_count"] == 1
    assert feed["items"][0]["type"] == "vendor.verified"
    assert env.api.get("/api/v1/me/notifications", headers=env.auth(Role.admin)).json()["total"] == 0
    gql = env.api.post("/graphql", json={"query": GQL_READ}, headers=env.auth(Role.vendor_member)).json()["data"]
    assert gql["notifications"]["unreadCount"] == 1
    assert gql["webhooks"]["totalCount"] == 1
    assert gql["notifications"]["edges"][0]["node"]["data"]["vendor_id"] == env.world.vendor["a"]
    marked = env.api.post("/api/v1/me/notifications/read", json={"all": True}, headers=env.auth(Role.vendor_member))
    assert marked.json() == {"marked": 1, "unread_count": 0}
    unread = env.api.get("/api/v1/me/notifications?unread=true", headers=env.auth(Role.vendor_member)).json()
    assert unread["total"] == 0


def test_webhooks_are_managed_on_both_faces_within_the_organisation(env: Env, receiver: Receiver) -> None:
    vendor = env.auth(Role.vendor_member)
    made = env.api.post(
        "/graphql",
        json={"query": GQL_CREATE, "variables": {"input": {"url": receiver.url, "events": ["solution.published"]}}},
        headers=vendor,
    ).json()["data"]["createWebhook"]
    assert made["secret"].startswith("whsec_")
    assert made["events"] == ["solution.published"]
    rest = env.register(receiver.url, ["*"])
    unknown = env.api.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["solution.eaten"]}, headers=vendor)
    assert unknown.status_code == 422
    assert "solution.eaten" in unknown.text
    assert env.api.get("/api/v1/webhooks", headers=vendor).json()["total"] == 2

    # Another organisation's member sees none of them, and may not touch them (404: not theirs to see).
    city = env.auth(Role.city_official)
    assert env.api.get("/api/v1/webhooks", headers=city).json()["total"] == 0
    assert env.api.get(f"/api/v1/webhooks/{rest['id']}", headers=city).status_code == 404
    assert env.api.delete(f"/api/v1/webhooks/{rest['id']}", headers=city).status_code == 404

    etag = env.api.get(f"/api/v1/webhooks/{rest['id']}", headers=vendor).headers["etag"]
    patched = env.api.patch(
        f"/api/v1/webhooks/{rest['id']}", json={"description": "ops"}, headers={**vendor, "If-Match": etag}
    )
    assert patched.status_code == 200
    assert patched.json()["description"] == "ops"
    assert env.api.patch(f"/api/v1/webhooks/{rest['id']}", json={"description": "x"}, headers=vendor).status_code == 428
    rotated = env.api.post(f"/api/v1/webhooks/{rest['id']}/rotate-secret", headers=vendor).json()
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != rest["secret"]
    rotated_gql = env.api.post(
        "/graphql",
        json={
            "query": f"mutation {{ rotateWebhookSecret(id: {made['id']}) {{ ... on WebhookWithSecret {{ secret }} }} }}"
        },
        headers=vendor,
    ).json()["data"]["rotateWebhookSecret"]
    assert rotated_gql["secret"] != made["secret"]
    assert env.api.delete(f"/api/v1/webhooks/{rest['id']}", headers=vendor).status_code == 204
    assert env.api.get(f"/api/v1/webhooks/{rest['id']}", headers=vendor).status_code == 404
    # The catalogue is in the OpenAPI document's webhooks section, with each type's payload.
    document = env.api.get("/openapi.json").json()
    assert "vendor.verified" in document["webhooks"]
    assert "solution.published" in document["webhooks"]


def test_failures_back_off_then_disable_the_endpoint_and_a_resend_delivers_the_same_id(
    ndb: object, world_template: tuple[object, object], receiver: Receiver
) -> None:
    # A tiny retry window: base 10 ms, x4 per attempt (retries due at 0.01, 0.05, 0.21 and 0.85 s after the
    # first), given up after 0.8 s: four attempts on time. The window is wider than the third retry needs so that
    # a slow machine, where each attempt runs late, still makes the three attempts asserted below (at 0.3 s, a
    # second attempt that ran later than 0.26 s, as seen under load, left only two).
    gen = make_env(ndb, world_template[1], webhook_retry_base_seconds=0.01, webhook_retry_window_seconds=0.8)  # type: ignore[arg-type]
    env = next(gen)
    try:
        other = Receiver()
        receiver.script.extend([("redirect", other.url)] + [500] * 50)
        hook = env.register(receiver.url, ["vendor.verified"])
        watcher = env.register(other.url, ["webhook.disabled"])
        env.verify_vendor("a")

        def disabled() -> bool:
            with Session(env.engine) as session:
                endpoint = session.get(WebhookEndpoint, hook["id"])
                return endpoint is not None and not endpoint.is_active

        pump(env.engine, env.settings, disabled)
        pump(env.engine, env.settings, lambda: len(other.received) >= 1)  # webhook.disabled, to the watcher
        assert json.loads(other.received[0].body)["type"] == "webhook.disabled"  # the redirect was never followed
        Webhook(watcher["secret"]).verify(other.received[0].body, other.received[0].headers)
        other.close()

        vendor = env.auth(Role.vendor_member)
        [delivery] = env.api.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=vendor).json()["items"]
        log = delivery["attempt_log"]
        assert delivery["status"] == "failed"
        assert len(log) == len(receiver.received) >= 3
        assert log[0]["status_code"] == 302
        assert log[0]["error"] == "redirect not followed"
        assert {a["status_code"] for a in log[1:]} == {500}
        assert {r.headers["webhook-id"] for r in receiver.received} == {delivery["event_id"]}
        feed = env.api.get("/api/v1/me/notifications", headers=vendor).json()
        assert {i["type"] for i in feed["items"]} == {"vendor.verified", "webhook.disabled"}

        # Re-sending a disabled endpoint's delivery is refused until it is enabled again; then it goes out.
        resend = f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/resend"
        assert env.api.post(resend, headers=vendor).status_code == 422
        etag = env.api.get(f"/api/v1/webhooks/{hook['id']}", headers=vendor).headers["etag"]
        enabled = env.api.patch(
            f"/api/v1/webhooks/{hook['id']}", json={"enabled": True}, headers={**vendor, "If-Match": etag}
        )
        assert enabled.json()["enabled"] is True
        receiver.script.clear()
        before = len(receiver.received)
        assert env.api.post(resend, headers=vendor).status_code == 202
        pump(env.engine, env.settings, lambda: len(receiver.received) > before)
        assert receiver.received[-1].headers["webhook-id"] == delivery["event_id"]

        def succeeded() -> bool:
            with Session(env.engine) as session:
                row = session.exec(select(WebhookDelivery).where(WebhookDelivery.id == delivery["id"])).one()
                return row.status is DeliveryStatus.succeeded

        pump(env.engine, env.settings, succeeded)
        with Session(env.engine) as session:
            assert session.execute(sa.select(sa.func.count()).select_from(NotifyEvent)).scalar_one() == 2
    finally:
        gen.close()
