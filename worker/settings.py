"""The one place configuration is read from the environment."""

from __future__ import annotations

import functools
import secrets
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REQUIRED_IN_PRODUCTION = (
    "database_url",
    "redis_url",
    "stripe_api_key",
    "stripe_webhook_secret",
    "admin_token",
    "secret_key",
)

LOCAL_ENVS = ("development", "test")
DEFAULT_TRACES_SAMPLE_RATE = 0.1


class ConfigurationError(RuntimeError):
    """A setting is missing or malformed; the process must not start."""


class Settings(BaseSettings):
    """Environment variables, upper-cased field names (``DATABASE_URL`` ...)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    env: str = Field("development", validation_alias="CARTFLEET_ENV")
    database_url: str = ""
    redis_url: str = ""
    stripe_api_key: str = "sk_test_cartfleet_local"
    stripe_webhook_secret: Annotated[list[str], NoDecode] = []
    stripe_api_base: str = ""
    admin_token: str = ""
    # Signs the admin's session cookies; every web process must share it.
    secret_key: str = ""
    admin_session_idle_minutes: int = Field(30, ge=1)
    admin_session_max_hours: int = Field(12, ge=1)
    # Failed logins before a lockout, per account and per client address, and its length.
    admin_login_max_failures: int = Field(5, ge=1)
    admin_login_max_failures_per_address: int = Field(20, ge=1)
    admin_lockout_minutes: int = Field(15, ge=1)
    smtp_url: str = ""
    mail_from: str = "Cartfleet Store <orders@cartfleet.local>"
    mail_dir: str = "var/mail"
    storefront_url: str = "http://localhost:3000"
    delivery_business_days: int = Field(5, ge=0)
    sentry_dsn: str = ""
    sentry_release: str = ""
    # Unset: none in development and test, a tenth of the traces elsewhere.
    sentry_traces_sample_rate: float | None = Field(None, ge=0, le=1)
    alert_webhook_url: str = ""
    enable_warehouse_fallback: bool = False
    reservation_minutes: int = Field(15, ge=1)
    stock_query_timeout_ms: int = Field(5000, ge=1)
    log_level: str = "INFO"
    # Lower-case ISO codes the store sells in (STORE_CURRENCIES=usd,eur); carts take no other.
    store_currencies: Annotated[list[str], NoDecode] = ["usd"]

    @field_validator("stripe_webhook_secret", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("store_currencies", mode="before")
    @classmethod
    def _split_currencies(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _psycopg_driver(cls, value: str) -> str:
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @model_validator(mode="after")
    def _default_sample_rate(self) -> Settings:
        if self.sentry_traces_sample_rate is None:
            local = self.env in LOCAL_ENVS
            self.sentry_traces_sample_rate = 0.0 if local else DEFAULT_TRACES_SAMPLE_RATE
        return self

    @model_validator(mode="after")
    def _development_secret_key(self) -> Settings:
        # Outside production a missing key is made up: sessions last as long as the process.
        if not self.secret_key and self.env != "production":
            self.secret_key = secrets.token_hex(32)
        return self

    @model_validator(mode="after")
    def _required_in_production(self) -> Settings:
        if self.env == "production":
            missing = [name.upper() for name in REQUIRED_IN_PRODUCTION if not getattr(self, name)]
            if missing:
                raise ConfigurationError(
                    f"missing required setting(s) in production: {', '.join(missing)}"
                )
        return self


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
