"""The one place configuration is read from the environment."""

from __future__ import annotations

import functools
import secrets
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REQUIRED_IN_PRODUCTION = (
    "database_url",
    "redis_url",
    "stripe_api_key",
    "stripe_webhook_secret",
    "admin_token",
    "recovery_secret",
    "secret_key",
)

LOCAL_ENVS = ("development", "test")
# Stand-ins for development and tests only (the local Stripe sandbox takes any key);
# everywhere else these settings start empty, so a deployment that forgot one is told.
LOCAL_DEFAULTS = {
    "stripe_api_key": "sk_test_cartfleet_local",
    "stripe_publishable_key": "pk_test_cartfleet_local",
}
# Written by ``make run`` while it runs: the embedded services' URLs and the local keys,
# so that a second terminal's ``cartfleet`` finds them. Read only in development, and
# only for variables the environment leaves unset.
DEV_ENV_FILE = Path("var/dev.env")
DEFAULT_TRACES_SAMPLE_RATE = 0.1


class ConfigurationError(RuntimeError):
    """A setting is missing or malformed; the process must not start."""


class Settings(BaseSettings):
    """Environment variables, upper-cased field names (``DATABASE_URL`` ...)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    env: str = Field("development", validation_alias="CARTFLEET_ENV")
    database_url: str = ""
    redis_url: str = ""
    stripe_api_key: str = ""
    stripe_webhook_secret: Annotated[list[str], NoDecode] = []
    stripe_api_base: str = ""
    # The key the browser confirms payments with (Stripe.js; the demo storefront's pay form).
    stripe_publishable_key: str = ""
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
    # The demo storefront pages (web/storefront.py); on under `make run`, off in production.
    demo_storefront: bool = False
    # Where this app is reached from outside: recovery and unsubscribe links in emails.
    public_url: str = "http://localhost:5000"
    delivery_business_days: int = Field(5, ge=0)
    sentry_dsn: str = ""
    # The storefront pages' DSN: it is public (sent to every browser), so it may name a
    # project of its own. Unset: the pages load no Sentry SDK.
    sentry_browser_dsn: str = ""
    sentry_release: str = ""
    # Unset: none in development and test, a tenth of the traces elsewhere.
    sentry_traces_sample_rate: float | None = Field(None, ge=0, le=1)
    alert_webhook_url: str = ""
    enable_warehouse_fallback: bool = False
    reservation_minutes: int = Field(15, ge=1)
    # The Events API backfill: how often it runs, how far back each run re-reads.
    stripe_backfill_interval_minutes: int = Field(10, ge=1, le=60)
    stripe_backfill_overlap_minutes: int = Field(10, ge=0)
    # PaymentIntent reconciliation: orders unpaid this long, or whose hold ends this soon.
    reconcile_pending_after_minutes: int = Field(10, ge=1)
    reconcile_expiring_within_minutes: int = Field(3, ge=0)
    stock_query_timeout_ms: int = Field(5000, ge=1)
    log_level: str = "INFO"
    # Lower-case ISO codes the store sells in (STORE_CURRENCIES=usd,eur); carts take no other.
    store_currencies: Annotated[list[str], NoDecode] = ["usd"]
    # Abandoned-cart recovery (docs/recovery.md): delays after the cart's last activity.
    recovery_requires_consent: bool = True
    recovery_email_1_hours: float = Field(2, gt=0)
    recovery_email_1_percent: int = Field(5, ge=1, le=100)
    recovery_push_hours: float = Field(24, gt=0)
    recovery_email_2_hours: float = Field(72, gt=0)
    recovery_email_2_percent: int = Field(10, ge=1, le=100)
    recovery_abandon_days: float = Field(7, gt=0)
    recovery_code_days: float = Field(7, gt=0)
    recovery_batch_size: int = Field(200, ge=1)
    # ``module:attribute`` of the push channel; empty: the recording channel (docs/recovery.md).
    recovery_push_channel: str = ""
    # Signs recovery links and unsubscribe tokens; generated per process when unset locally.
    recovery_secret: str = ""
    store_address: str = "Cartfleet Store, 1 Market Street, Springfield 12345, US"
    # Product images: originals and renditions (a directory; docs/media.md).
    media_root: str = "var/media"
    # Where shoppers fetch renditions: the web's own /media/ (served only when
    # SERVE_MEDIA is on) or a CDN in front of the same files.
    media_url: str = "/media/"
    serve_media: bool = True

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
    def _local_defaults(self) -> Settings:
        if self.env in LOCAL_ENVS:
            for name, value in LOCAL_DEFAULTS.items():
                if not getattr(self, name):
                    setattr(self, name, value)
        return self

    @model_validator(mode="after")
    def _default_sample_rate(self) -> Settings:
        if self.sentry_traces_sample_rate is None:
            local = self.env in LOCAL_ENVS
            self.sentry_traces_sample_rate = 0.0 if local else DEFAULT_TRACES_SAMPLE_RATE
        return self

    @model_validator(mode="after")
    def _recovery_steps_in_order(self) -> Settings:
        delays = (
            self.recovery_email_1_hours,
            self.recovery_push_hours,
            self.recovery_email_2_hours,
            self.recovery_abandon_days * 24,
        )
        if list(delays) != sorted(set(delays)):
            raise ConfigurationError("recovery step delays must increase step after step")
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
        if not self.recovery_secret:
            self.recovery_secret = _local_recovery_secret(self.env)
        return self


def _local_recovery_secret(env: str) -> str:
    """Development: one secret kept in ``var/recovery_secret`` for every local process
    (the worker signs the links the web verifies); tests: a fresh one per process."""
    if env != "development":
        return secrets.token_urlsafe(32)
    path = Path("var") / "recovery_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment.

    In development, ``var/dev.env`` (written by ``make run``) fills in what is unset.
    """
    settings = Settings()
    if settings.env == "development" and DEV_ENV_FILE.is_file():
        return Settings(_env_file=DEV_ENV_FILE)
    return settings
