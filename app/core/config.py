"""Settings in one place: every knob is an environment variable prefixed `CITYMARKET_`."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.matching.weights import DEFAULT_WEIGHTS as _W
from app.matching.weights import MatchingWeights


class Environment(StrEnum):
    dev = "dev"
    test = "test"
    production = "production"


class SearchEngineKind(StrEnum):
    tantivy = "tantivy"
    meilisearch = "meilisearch"


DEFAULT_SECRET_KEY = "insecure-dev-secret-change-me"  # noqa: S105  (refused outside dev and test)


class MatchingSettings(BaseSettings):
    """Scoring and matching weights and thresholds: `CITYMARKET_MATCHING_<FIELD>`. The defaults are those of
    `app.matching.weights.MatchingWeights` (documented there, field by field, and in the README); the
    last group is the services' own (evidence weights and the matching store's refresh)."""

    model_config = SettingsConfigDict(env_prefix="CITYMARKET_MATCHING_", env_file=".env", extra="ignore")

    method_version: str = _W.method_version
    evidence_claimed: float = _W.evidence_claimed
    evidence_piloted: float = _W.evidence_piloted
    evidence_verified: float = _W.evidence_verified
    quality_measured: float = _W.quality_measured
    quality_calculated: float = _W.quality_calculated
    quality_estimated: float = _W.quality_estimated
    quality_modelled: float = _W.quality_modelled
    quality_expert_opinion: float = _W.quality_expert_opinion
    quality_unknown: float = _W.quality_unknown
    verified_factor: float = _W.verified_factor
    unverified_factor: float = _W.unverified_factor
    benchmark_high: float = _W.benchmark_high
    benchmark_medium: float = _W.benchmark_medium
    benchmark_low: float = _W.benchmark_low
    benchmark_unrated: float = _W.benchmark_unrated
    default_kpi_weight: float = _W.default_kpi_weight
    similar_evidence_weight: float = _W.similar_evidence_weight
    similar_evidence_half: float = _W.similar_evidence_half
    similar_city_min_similarity: float = _W.similar_city_min_similarity
    outcome_prior_strength: float = _W.outcome_prior_strength
    outcome_pooled_weight: float = _W.outcome_pooled_weight
    outcome_quality_dated: float = _W.outcome_quality_dated
    outcome_quality_undated: float = _W.outcome_quality_undated
    outcome_interval_z: float = _W.outcome_interval_z
    weak_below: float = _W.weak_below
    strong_from: float = _W.strong_from
    min_reported_kpis: int = _W.min_reported_kpis
    twin_complementarity_weight: float = _W.twin_complementarity_weight
    twin_shared_weight: float = _W.twin_shared_weight
    twin_context_weight: float = _W.twin_context_weight
    two_way_bonus: float = _W.two_way_bonus
    context_population_weight: float = _W.context_population_weight
    context_region_weight: float = _W.context_region_weight
    context_climate_weight: float = _W.context_climate_weight
    context_income_weight: float = _W.context_income_weight
    population_ratio_zero: float = _W.population_ratio_zero
    climate_group_credit: float = _W.climate_group_credit
    income_groups: int = _W.income_groups
    rank_decimals: int = _W.rank_decimals

    # --- the services' own (app/matches) ---
    # Weight of one deployment, one case study, and one case study with KPI outcomes in the similar-cities
    # evidence count x_s (see app.matching.similar_evidence).
    deployment_evidence: float = Field(default=1.0, ge=0)
    case_study_evidence: float = Field(default=1.0, ge=0)
    case_study_outcomes_evidence: float = Field(default=2.0, ge=0)
    # How often (seconds) each process checks the database for changes made by other processes; a commit in
    # this process makes the next match check at once. 0: check on every request.
    refresh_seconds: float = Field(default=5.0, ge=0)
    # Confidence summary: a city reporting fewer scored KPIs than this gets `low` confidence, from
    # `confident_kpis` on `high`.
    confident_kpis: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _valid_weights(self) -> MatchingSettings:
        self.weights()  # refuse at start-up, not at the first match
        return self

    def weights(self) -> MatchingWeights:
        """The arithmetic's weights (validated there: a bad combination raises ValueError)."""
        names = MatchingWeights.__dataclass_fields__
        return MatchingWeights(**{name: getattr(self, name) for name in names})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYMARKET_", env_file=".env", extra="ignore")

    env: Environment = Environment.dev
    data_dir: Path = Path("./var")
    # Empty means: SQLite file in the data dir (the embedded default).
    database_url: str = ""
    database_pool_size: int = 10
    # Log every SQL statement (noisy; for debugging only).
    database_echo: bool = False

    search_engine: SearchEngineKind = SearchEngineKind.tantivy
    meilisearch_url: str = "http://127.0.0.1:7700"
    meilisearch_api_key: str = ""
    search_index_prefix: str = "citymarket_"
    # Embedded mode runs the outbox indexer inside the API process; server mode runs `citymarket indexer`.
    indexer_in_process: bool = True
    # How often the indexer looks at the outbox when no local commit woke it (writes by other processes).
    indexer_poll_seconds: float = 0.5

    # --- notifications and webhooks (app/notifications; README "Webhooks") ---
    # Run the webhook delivery worker in the API process; default: where the indexer runs (embedded mode).
    # Server mode runs `citymarket notifier` (any number of them: deliveries are claimed with a lease).
    notifier_in_process: bool | None = None
    notifier_poll_seconds: float = Field(default=1.0, gt=0)
    # Loopback webhook URLs (and http): default allowed outside production (a receiver on this machine).
    webhook_allow_loopback: bool | None = None
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Retries: the n-th retry waits base * 4**(n-1) seconds (at most max_delay), until the window since the
    # first attempt ends; then the delivery has failed and its endpoint is disabled (webhook.disabled).
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    webhook_retry_max_delay_seconds: float = Field(default=6 * 3600.0, gt=0)
    webhook_retry_window_seconds: float = Field(default=24 * 3600.0, gt=0)
    # A worker holds a claimed delivery this long; if it dies mid-attempt, another worker retries it then.
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    # lead.new: a listing newly ranking for a city (after the city's KPI values changed) at this score or above;
    # the notifier ranks at most lead_scan_limit listings per city checked (app/notifications/leads.py).
    notify_lead_min_score: float = Field(default=0.5, ge=0, le=1)
    notify_lead_scan_limit: int = Field(default=50, ge=1, le=1000)
    # The daily digest (`citymarket notify digest`, app/notifications/digest.py): the notifier runs it itself
    # once a day from this hour (UTC) on; running it again the same day sends nothing.
    notify_digest_hour_utc: int = Field(default=7, ge=0, le=23)

    # --- email (app/notifications/mail.py; README "Email"): sent by the notifications worker, never in a
    # request. No SMTP host (the embedded default): messages are written to the maildir <data_dir>/maildir.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True  # upgrade the connection with STARTTLS (refused if the server cannot)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # A CA bundle (PEM) to verify the SMTP server's certificate with, for a private CA; default: the system's.
    smtp_ca_file: str = ""
    mail_from: str = "citymarket <no-reply@citymarket.local>"
    mail_max_attempts: int = Field(default=8, ge=1)
    # Password reset by email: the token's lifetime, and how many requests per email and per address.
    password_reset_ttl_seconds: int = Field(default=3600, gt=0)
    password_reset_limit: str = "5 per 15 minutes"  # noqa: S105  (a rate, not a secret)
    password_reset_limit_per_address: str = "20 per 15 minutes"  # noqa: S105
    # How long an invitation to an organisation (POST /api/v1/invitations) can be accepted.
    invitation_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    # Vendor self sign-up (app/accounts): how long the email verification link works, and how many sign-ups
    # per email and per address, and verification attempts per address, in moving windows.
    email_verification_ttl_seconds: int = Field(default=2 * 24 * 3600, gt=0)
    signup_limit: str = "5 per hour"
    signup_limit_per_address: str = "20 per hour"
    email_verification_limit_per_address: str = "30 per 15 minutes"

    # Where browsers and clients reach the service (the token issuer by default). In dev, unless set, `serve`
    # advertises the host and port it serves (see served_base_url).
    public_base_url: str = "http://127.0.0.1:8000"
    # The reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; passed to uvicorn. Default none: the connection's address is the
    # client's, so that nobody can pick the address the failure limits count (uvicorn alone trusts loopback).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Bearer token that /metrics requires (Prometheus' `authorization` credentials). Empty: /metrics is
    # open in dev and test, and off (404) in production, where request counts by route are nobody's business.
    metrics_token: str = ""
    log_json: bool | None = None  # default: JSON outside dev
    log_level: str = "INFO"
    # Served processes (`citymarket serve` turns it on for its workers): once started, move what start-up
    # made (modules, the GraphQL schema, ~250,000 objects) out of the cyclic garbage collector's reach and
    # collect the youngest generation every 50,000 allocations instead of 700. A nested GraphQL page promotes
    # thousands of objects; each full collection walked every start-up object again (a third of its CPU).
    gc_freeze: bool = False

    # Seed the reference and demo data on `serve` when the database is empty.
    seed_on_start: bool = True

    page_size_default: int = 20
    page_size_max: int = 100
    upload_max_bytes: int = Field(default=2 * 1024 * 1024, description="CSV import size limit")
    # How long an Idempotency-Key (GraphQL: idempotencyKey) replays its create's answer; then it expires, and
    # expired records are deleted as new keyed creates come in.
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=1)

    # --- GraphQL limits (app/graphql/limits.py; README "GraphQL"): a query over any of them is refused
    # before it runs, with an error whose extensions.code says which limit it hit ---
    # Nesting below the top-level field (`{ kpis { totalCount } }` has depth 1). QUERY_TOO_DEEP
    graphql_max_depth: int = Field(default=10, ge=1)
    # Aliased fields in one document. TOO_MANY_ALIASES
    graphql_max_aliases: int = Field(default=15, ge=0)
    # Lexical tokens (names, punctuation, values; comments count too) in one document. TOO_MANY_TOKENS
    graphql_max_tokens: int = Field(default=2000, ge=1)
    # Estimated cost: each field counts once per object it is resolved for; a connection's `first` (its
    # default page size when omitted) multiplies what lies under its edges, nested connections multiply.
    # QUERY_TOO_COSTLY (with the cost and the limit)
    graphql_max_cost: int = Field(default=10_000, ge=1)

    # --- identity and OAuth 2 (app/auth, app/identity; README "Getting a token") ---
    # Signs the login form's CSRF tokens. The default is refused outside dev and test.
    secret_key: str = DEFAULT_SECRET_KEY
    # The token issuer (`iss`) and the API's audience (`aud`); default: public_base_url and <issuer>/api.
    oauth_issuer: str = ""
    oauth_audience: str = ""
    # Signing keys: a JWK set (JSON) or PEM private keys, the first one signs. Empty: a key file in the
    # data dir, generated on first run (refused in production).
    jwt_private_keys: str = ""
    jwt_algorithm: str = "ES256"  # for generated keys: ES256 or RS256
    jwt_leeway_seconds: int = 30
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    authorization_code_ttl_seconds: int = 600
    # Failed attempts at /oauth/token, /oauth/revoke and the login page (the `limits` notation).
    redis_url: str = ""  # empty: in-memory counters (embedded mode, one process)
    # Per confidential client (failed authentications), per (public client, address), per (account, address).
    auth_failure_limit: str = "10 per 5 minutes"
    auth_failure_limit_per_address: str = "30 per 5 minutes"  # per client address
    # Per account, from any address; only refuses addresses that failed recently (app/auth/ratelimit.py).
    auth_failure_limit_per_account: str = "100 per 15 minutes"
    rate_limit_key_prefix: str = "citymarket"
    # Moderation: at this many distinct reporters an item is hidden pending review; reports per account.
    moderation_hide_threshold: int = Field(default=3, ge=1)
    moderation_report_limit: str = "20 per hour"
    # Trust an external OpenID Connect issuer's access tokens too (Keycloak, Azure AD, ...).
    oidc_issuer: str = ""
    oidc_jwks_url: str = ""
    oidc_audience: str = ""
    # Where the roles are (a dotted path, e.g. "realm_access.roles"), and how values map to memberships:
    # a value is "<role>:<kind>:<id>" ("vendor_member:vendor:3", "admin:platform"), or a key of the map.
    oidc_roles_claim: str = "roles"
    oidc_role_map: dict[str, str] = Field(default_factory=dict)
    oidc_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    # Tokens without our scopes get the scopes of their roles.
    oidc_scopes_from_roles: bool = True
    oidc_jwks_cache_seconds: int = 300

    # --- open data (app/open_data; README "Open data") ---
    # The licence every open-data export is published under, named in the export and linked (Link: rel=license).
    open_data_licence: str = "CC BY 4.0"
    open_data_licence_url: str = "https://creativecommons.org/licenses/by/4.0/"
    # Rows read per statement while streaming an export (memory stays flat whatever the number of cities).
    open_data_chunk_rows: int = Field(default=5000, ge=1)
    # OCDS: the platform's registered ocid prefix (an awarded challenge's ocid is <prefix>-challenge-<id>).
    ocds_ocid_prefix: str = "ocds-cmkt00"
    ocds_publisher_name: str = "citymarket"

    # --- scorecards and matching (app/matching, app/matches; README "Matching settings") ---
    # Every weight and threshold: CITYMARKET_MATCHING_<FIELD>, e.g. CITYMARKET_MATCHING_WEAK_BELOW=0.6.
    matching: MatchingSettings = Field(default_factory=MatchingSettings)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_networks(cls, value: Any) -> Any:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            return value
        proxies = [str(item).strip() for item in items if str(item).strip()]
        for proxy in proxies:
            ipaddress.ip_network(proxy, strict=False)  # ValueError names the bad entry
        return proxies

    def uvicorn_proxy_options(self) -> dict[str, Any]:
        """uvicorn's proxy-header options: X-Forwarded-* only from the trusted proxies, if any."""
        return {"proxy_headers": bool(self.trusted_proxies), "forwarded_allow_ips": list(self.trusted_proxies)}

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'citymarket.sqlite3'}"

    @property
    def notifier_runs_in_process(self) -> bool:
        return self.indexer_in_process if self.notifier_in_process is None else self.notifier_in_process

    @property
    def webhook_loopback_allowed(self) -> bool:
        if self.webhook_allow_loopback is not None:
            return self.webhook_allow_loopback
        return self.env is not Environment.production

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def issuer(self) -> str:
        return (self.oauth_issuer or self.public_base_url).rstrip("/")

    def served_base_url(self, host: str, port: int) -> str | None:
        """The public base URL `serve --host --port` should advertise instead of the configured one: in dev,
        when none was set, the address served (a wildcard host is reached on loopback). None: keep it."""
        if self.env is not Environment.dev or "public_base_url" in self.model_fields_set:
            return None
        reachable = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)  # noqa: S104
        if ":" in reachable:  # an IPv6 literal
            reachable = f"[{reachable}]"
        return f"http://{reachable}:{port}"

    @property
    def audience(self) -> str:
        return self.oauth_audience or f"{self.issuer}/api"

    @property
    def search_dir(self) -> Path:
        return self.data_dir / "search"

    @property
    def maildir(self) -> Path:
        return self.data_dir / "maildir"

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.env != Environment.dev


@lru_cache
def get_settings() -> Settings:
    return Settings()
