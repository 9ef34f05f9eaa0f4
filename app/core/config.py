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
    def search_dir(self) -> Path:
        return self.data_dir / "search"

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.env != Environment.dev


@lru_cache
def get_settings() -> Settings:
    return Settings()
