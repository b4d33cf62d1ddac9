"""One typed settings object, read from `ENTENTE_*` variables and an optional TOML file.

The TOML file is named by `ENTENTE_CONFIG_FILE` (default `./entente.toml` when present);
environment variables win over the file. Outside development the secret key must be set:
a hub that signs session cookies with a published default is a hub anyone can log in to.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_SECRET_KEY = "change-me-development-only"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def _config_file() -> Path:
    return Path(os.environ.get("ENTENTE_CONFIG_FILE", "entente.toml"))


class Settings(BaseSettings):
    """Every knob of a hub; see docs/configuration.md for what each one is for."""

    model_config = SettingsConfigDict(env_prefix="ENTENTE_", extra="ignore")

    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///./var/entente.db"
    redis_url: str | None = None
    # Files that are not rows in the database: the pipeline's event store and quarantine
    # (Parquet), prepared enrichment data, uploaded feed files.
    data_dir: Path = Path("./var")
    secret_key: str = DEFAULT_SECRET_KEY
    base_url: str = "http://127.0.0.1:8000"
    log_json: bool = False
    log_level: str = "INFO"
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # The largest TAXII envelope a client may post (413 beyond, docs/taxii.md); a body over
    # `max_body_bytes` is refused before it reaches the TAXII server, so keep this below it.
    taxii_max_envelope_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60)
    login_attempts_per_window: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=300, ge=1)
    token_default_days: int = Field(default=90, ge=1)
    min_password_length: int = Field(default=12, ge=8)
    # An open alert is remediated when its finding is absent from its feed for this many
    # consecutive report days (docs/alerts.md, `entente alert auto-remediate`).
    alert_remediate_after_days: int = Field(default=3, ge=1)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml, file_secret_settings)

    @model_validator(mode="after")
    def _enforce_non_default_secret(self) -> Self:
        if self.environment is Environment.PRODUCTION and self.secret_key == DEFAULT_SECRET_KEY:
            raise ValueError("ENTENTE_SECRET_KEY must be set to a random value in production")
        if self.environment is Environment.PRODUCTION and len(self.secret_key) < 32:
            raise ValueError("ENTENTE_SECRET_KEY must be at least 32 characters in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def store_dir(self) -> Path:
        """Where the pipeline's Parquet event store and quarantine live."""
        return self.data_dir / "store"

    @property
    def enrichment_dir(self) -> Path:
        """Where `entente enrich update` puts prepared IP-to-ASN/country data."""
        return self.data_dir / "enrich"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once; tests build their own `Settings` and pass it in."""
    return Settings()
