"""Settings in one place: every knob is an environment variable prefixed `CITYMARKET_`."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    dev = "dev"
    test = "test"
    production = "production"


class SearchEngineKind(StrEnum):
    tantivy = "tantivy"
    meilisearch = "meilisearch"


DEFAULT_SECRET_KEY = "insecure-dev-secret-change-me"  # noqa: S105  (refused outside dev and test)


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
    search_index_prefix: str = "citymarket"
    # Embedded mode runs the outbox indexer inside the API process; server mode runs `citymarket indexer`.
    indexer_in_process: bool = True

    public_base_url: str = "http://127.0.0.1:8000"
    log_json: bool | None = None  # default: JSON outside dev
    log_level: str = "INFO"

    # Seed the reference and demo data on `serve` when the database is empty.
    seed_on_start: bool = True

    page_size_default: int = 20
    page_size_max: int = 100
    upload_max_bytes: int = Field(default=2 * 1024 * 1024, description="CSV import size limit")

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
    auth_failure_limit: str = "10 per 5 minutes"  # per client id, per account
    auth_failure_limit_per_address: str = "30 per 5 minutes"  # per client address
    rate_limit_key_prefix: str = "citymarket"
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

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'citymarket.sqlite3'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def issuer(self) -> str:
        return (self.oauth_issuer or self.public_base_url).rstrip("/")

    @property
    def audience(self) -> str:
        return self.oauth_audience or f"{self.issuer}/api"

    @property
    def search_dir(self) -> Path:
        return self.data_dir / "search"

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.env != Environment.dev


@lru_cache
def get_settings() -> Settings:
    return Settings()
