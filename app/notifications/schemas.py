"""What the API says about webhooks, deliveries and the feed, and what may be written (inputs at the end)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.case_studies.schemas import CaseStudyListingFilters
from app.core.ids import MAX_ID
from app.core.text import InputModel
from app.identity.models import Role
from app.notifications.catalogue import CATALOGUE, WILDCARD, unknown_types
from app.notifications.models import (
    Alert,
    AlertTarget,
    Channel,
    DeliveryStatus,
    NotifyEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.solutions.models import EvidenceLevel, Maturity, PriceModel
from app.solutions.schemas import EVIDENCE_DESCRIPTION, SolutionListingFilters


class WebhookOut(BaseModel):
    id: int
    organisation_id: int
    url: str
    events: list[str] = Field(description='Event types delivered ("*": all of them)')
    description: str
    enabled: bool = Field(description="False once disabled after persistent failure (or by its owner)")
    disabled_reason: str
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, row: WebhookEndpoint) -> WebhookOut:
        return cls(
            id=row.id or 0,
            organisation_id=row.organisation_id,
            url=row.url,
            events=list(row.events),
            description=row.description,
            enabled=row.is_active,
            disabled_reason=row.disabled_reason,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class WebhookWithSecretOut(WebhookOut):
    """Only the answer to the create and to a rotation holds the secret: keep it, it is not shown again."""

    secret: str = Field(description="whsec_ + base64: the Standard Webhooks signing secret")

    @classmethod
    def with_secret(cls, row: WebhookEndpoint) -> WebhookWithSecretOut:
        return cls(**WebhookOut.from_model(row).model_dump(), secret=row.secret)


class AttemptOut(BaseModel):
    attempted_at: datetime
    status_code: int | None
    latency_ms: float
    error: str

    @classmethod
    def from_model(cls, row: WebhookAttempt) -> AttemptOut:
        return cls(
            attempted_at=row.attempted_at, status_code=row.status_code, latency_ms=row.latency_ms, error=row.error
        )


class DeliveryOut(BaseModel):
    id: int
    webhook_id: int
    event_id: str = Field(description="The event's id: the webhook-id header of every attempt")
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When the next attempt is due (pending only)")
    last_status_code: int | None
    last_error: str
    delivered_at: datetime | None
    created_at: datetime
    attempt_log: list[AttemptOut] = Field(description="Every attempt, oldest first")

    @classmethod
    def from_model(cls, row: WebhookDelivery, event: NotifyEvent, attempts: list[WebhookAttempt]) -> DeliveryOut:
        return cls(
            id=row.id or 0,
            webhook_id=row.webhook_id,
            event_id=event.public_id,
            event_type=event.type,
            status=row.status,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at if row.status is DeliveryStatus.pending else None,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            delivered_at=row.delivered_at,
            created_at=row.created_at,
            attempt_log=[AttemptOut.from_model(a) for a in attempts],
        )


class NotificationOut(BaseModel):
    id: int
    event_id: str
    type: str
    version: int
    occurred_at: datetime
    data: dict[str, Any]
    read: bool
    read_at: datetime | None

    @classmethod
    def from_rows(cls, notification_id: int, read_at: datetime | None, event: NotifyEvent) -> NotificationOut:
        return cls(
            id=notification_id,
            event_id=event.public_id,
            type=event.type,
            version=event.version,
            occurred_at=event.occurred_at,
            data=dict(event.payload),
            read=read_at is not None,
            read_at=read_at,
        )


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    total: int
    next_cursor: str | None
    unread_count: int = Field(description="Unread entries in the whole feed (not only this page)")


class MarkedReadOut(BaseModel):
    marked: int = Field(description="Entries that were unread and are now read")
    unread_count: int


# ------------------------------------------------------------------------------------------------ inputs


def _events(value: list[str]) -> list[str]:
    unknown = unknown_types(value)
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown)} (GET /api/v1/webhooks/event-types lists them)")
    return sorted(set(value))


# The schema names the catalogue's types (and "*"), so that a client (and a contract test) knows them.
EVENTS_SCHEMA: dict[str, Any] = {"items": {"type": "string", "enum": [*CATALOGUE, WILDCARD]}}


class WebhookCreateIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2000, examples=["https://hooks.example.com/citymarket"])
    events: list[str] = Field(
        min_length=1, max_length=50, examples=[["solution.published"]], json_schema_extra=EVENTS_SCHEMA
    )
    description: str = Field(default="", max_length=500)
    organisation_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="Whose endpoint (default: the caller's organisation, when it has one)",
    )

    @field_validator("events")
    @classmethod
    def _check_events(cls, value: list[str]) -> list[str]:
        return _events(value)


class WebhookUpdateIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[str] | None = Field(default=None, min_length=1, max_length=50, json_schema_extra=EVENTS_SCHEMA)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = Field(default=None, description="true re-enables a disabled endpoint")

    @field_validator("events")
    @classmethod
    def _check_events(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _events(value)


class MarkReadIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None, max_length=500, description="The entries to mark read"
    )
    all: bool = Field(default=False, description="Mark the whole feed read")


# ------------------------------------------------------------------------------------ email preferences


class PreferenceOut(BaseModel):
    event_type: str
    channel: Channel = Field(description="email (and the feed), feed (only), or off")
    is_default: bool = Field(description="No choice made: the default (feed only)")


class PreferencesOut(BaseModel):
    preferences: list[PreferenceOut] = Field(description="One per event type of the catalogue")
    digest: bool = Field(
        default=False,
        description="The daily digest: the event types set to email come in one email a day instead of one each",
    )


class PreferenceIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    event_type: str = Field(
        max_length=64, description="An event type of the catalogue", json_schema_extra={"enum": [*CATALOGUE]}
    )
    channel: Channel

    @field_validator("event_type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in CATALOGUE:
            raise ValueError(f"unknown event type {value!r} (GET /api/v1/webhooks/event-types lists them)")
        return value


class PreferencesIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    preferences: list[PreferenceIn] = Field(
        default_factory=list, max_length=200, description="The event types to set (the others keep theirs)"
    )
    digest: bool | None = Field(
        default=None, description="Turn the daily digest on or off (not given: it stays as it is)"
    )


# --------------------------------------------------------------------------------------- password reset


class PasswordResetIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)


class PasswordResetConfirmIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10, max_length=200)
    new_password: str = Field(max_length=200, description="At least 12 characters")


class AcceptedOut(BaseModel):
    accepted: bool = True
    detail: str


# ------------------------------------------------------------------------------------------ invitations


class InvitationIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    organisation_id: int = Field(ge=1, le=MAX_ID)
    role: Role | None = Field(default=None, description="Default: the role of the organisation's kind")


class InvitationOut(BaseModel):
    id: int
    email: str
    organisation_id: int
    role: Role
    expires_at: datetime


class InvitationAcceptIn(InputModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=10, max_length=200)
    name: str = Field(default="", max_length=200)
    password: str | None = Field(default=None, max_length=200, description="For a new account: 12 characters or more")


class AcceptedInvitationOut(BaseModel):
    user_id: int
    organisation_id: int
    role: Role
    created_account: bool


# ------------------------------------------------------------------------------------------------- alerts

_COUNTRY = r"^[A-Za-z]{2}$"


def _one_of(enum: type[StrEnum], value: str | None, what: str) -> str | None:
    if value is not None and value not in {m.value for m in enum}:
        raise ValueError(f"unknown {what} {value!r} (one of: {', '.join(m.value for m in enum)})")
    return value


class SolutionAlertFilters(InputModel, SolutionListingFilters):
    """The filters of GET /api/v1/solutions (its filter model's fields and constraints, but the status: an alert
    watches published listings), for an alert on new listings. An enum is stored as its value's text, and an
    unknown one is refused naming the choices."""

    model_config = ConfigDict(extra="forbid")

    maturity: str | None = Field(default=None, json_schema_extra={"enum": [m.value for m in Maturity]})
    price_model: str | None = Field(default=None, json_schema_extra={"enum": [m.value for m in PriceModel]})
    evidence: str | None = Field(
        default=None, description=EVIDENCE_DESCRIPTION, json_schema_extra={"enum": [m.value for m in EvidenceLevel]}
    )

    @field_validator("maturity")
    @classmethod
    def _maturity(cls, value: str | None) -> str | None:
        return _one_of(Maturity, value, "maturity")

    @field_validator("price_model")
    @classmethod
    def _price_model(cls, value: str | None) -> str | None:
        return _one_of(PriceModel, value, "price model")

    @field_validator("evidence")
    @classmethod
    def _evidence(cls, value: str | None) -> str | None:
        return _one_of(EvidenceLevel, value, "evidence level")


class CaseStudyAlertFilters(InputModel, CaseStudyListingFilters):
    """The filters of GET /api/v1/case-studies (its filter model's fields and constraints, but `demo`), for an
    alert on new case studies."""

    model_config = ConfigDict(extra="forbid")


SEARCH_TYPES = {"solution": AlertTarget.solutions, "case_study": AlertTarget.case_studies}
Values = list[Annotated[str, Field(min_length=1, max_length=64)]] | None


class SearchAlertIn(InputModel):
    """A saved search: the query text and filters of GET /api/v1/search (OR within a filter, AND across), on new
    listings (type solution) or new case studies (type case_study)."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=500, description="Words to find, as the search API's q")
    type: str = Field(description="solution or case_study", json_schema_extra={"enum": list(SEARCH_TYPES)})
    country: Values = Field(default=None, max_length=20)
    city: Values = Field(default=None, max_length=20)
    category: Values = Field(default=None, max_length=20)
    dimension: Values = Field(default=None, max_length=20)
    sdg: Values = Field(default=None, max_length=20)
    kpi: Values = Field(default=None, max_length=20)
    vendor: Values = Field(default=None, max_length=20)
    hub: Values = Field(default=None, max_length=20)
    language: Values = Field(default=None, max_length=20)
    year: Values = Field(default=None, max_length=20)

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        if value not in SEARCH_TYPES:
            raise ValueError(f"unknown type {value!r} (solution or case_study)")
        return value


def _filters_of(
    solution_filters: SolutionAlertFilters | None,
    case_study_filters: CaseStudyAlertFilters | None,
    search: SearchAlertIn | None,
) -> tuple[AlertTarget, dict[str, Any]] | None:
    given = [f for f in (solution_filters, case_study_filters, search) if f is not None]
    if len(given) > 1:
        raise ValueError(
            "give one of solution_filters, case_study_filters or search, not several: an alert watches one thing"
        )
    if solution_filters is not None:
        return AlertTarget.solutions, solution_filters.model_dump(exclude_none=True)
    if case_study_filters is not None:
        return AlertTarget.case_studies, case_study_filters.model_dump(exclude_none=True)
    if search is not None:
        return AlertTarget.search, search.model_dump(exclude_none=True)
    return None


class AlertIn(InputModel):
    """A saved filter: new listings (solution_filters) or new case studies (case_study_filters) that match it
    raise alert.matched to you. E.g. listings for Water Supply Loss offered in Norway:
    `{"name": "...", "solution_filters": {"kpi": "water-supply-loss", "country": "NO"}}`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Water loss in Norway"])
    solution_filters: SolutionAlertFilters | None = Field(
        default=None, description="Watch new listings: the filters of GET /api/v1/solutions"
    )
    case_study_filters: CaseStudyAlertFilters | None = Field(
        default=None, description="Watch new case studies: the filters of GET /api/v1/case-studies"
    )
    search: SearchAlertIn | None = Field(
        default=None, description="Watch new listings or case studies found by a search (GET /api/v1/search)"
    )

    @model_validator(mode="after")
    def _one_target(self) -> AlertIn:
        if _filters_of(self.solution_filters, self.case_study_filters, self.search) is None:
            raise ValueError("give solution_filters, case_study_filters or search (what the alert watches)")
        return self

    def target(self) -> tuple[AlertTarget, dict[str, Any]]:
        made = _filters_of(self.solution_filters, self.case_study_filters, self.search)
        assert made is not None
        return made


class AlertUpdateIn(InputModel):
    """Only the fields given change; new filters replace the old ones whole (and may change the kind watched)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    solution_filters: SolutionAlertFilters | None = None
    case_study_filters: CaseStudyAlertFilters | None = None
    search: SearchAlertIn | None = None

    @model_validator(mode="after")
    def _not_both(self) -> AlertUpdateIn:
        _filters_of(self.solution_filters, self.case_study_filters, self.search)
        return self

    def target(self) -> tuple[AlertTarget, dict[str, Any]] | None:
        return _filters_of(self.solution_filters, self.case_study_filters, self.search)


class AlertOut(BaseModel):
    id: int
    name: str
    target: AlertTarget = Field(description="What it watches: solutions, case_studies (by filters) or search")
    filters: dict[str, Any] = Field(description="The saved filters (names as the listing API takes them)")
    list_path: str = Field(description="The listing API call with these filters: what the alert watches, today")
    matched_count: int = Field(description="How many new items it has matched")
    last_matched_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_model(cls, row: Alert) -> AlertOut:
        path = {
            AlertTarget.solutions: "/api/v1/solutions",
            AlertTarget.case_studies: "/api/v1/case-studies",
            AlertTarget.search: "/api/v1/search",
        }[row.target]
        pairs = [
            (k, v) for k, values in row.filters.items() for v in (values if isinstance(values, list) else [values])
        ]
        query = urlencode(sorted((k, str(v)) for k, v in pairs))
        return cls(
            id=row.id or 0,
            name=row.name,
            target=row.target,
            filters=dict(row.filters),
            list_path=f"{path}?{query}" if query else path,
            matched_count=row.matched_count,
            last_matched_at=row.last_matched_at,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )
