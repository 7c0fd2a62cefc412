"""Settings come from the environment; production refuses to start without the essentials."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import main
from services.settings import REQUIRED_IN_PRODUCTION, ConfigurationError, Settings, get_settings


def test_postgres_urls_and_rotated_secrets_are_understood(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://shop:pw@db.internal:5432/shop")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_new, whsec_old")

    settings = Settings()

    assert settings.database_url == "postgresql+psycopg://shop:pw@db.internal:5432/shop"
    assert settings.stripe_webhook_secret == ["whsec_new", "whsec_old"]


def test_production_names_every_missing_required_setting(monkeypatch):
    monkeypatch.setenv("CARTFLEET_ENV", "production")
    monkeypatch.delenv("ADMIN_TOKEN")
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET")

    with pytest.raises(ConfigurationError) as raised:
        Settings()

    assert "STRIPE_WEBHOOK_SECRET" in str(raised.value)
    assert "ADMIN_TOKEN" in str(raised.value)
    assert "DATABASE_URL" not in str(raised.value)


PRODUCTION_ENV = {
    "CARTFLEET_ENV": "production",
    "DATABASE_URL": "postgresql://shop@db.internal/shop",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "STRIPE_API_KEY": "sk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_live",
    "ADMIN_TOKEN": "admin-token",
    "RECOVERY_SECRET": "recovery-secret",
    "SECRET_KEY": "session-secret",
}


@pytest.mark.parametrize("name", [name.upper() for name in REQUIRED_IN_PRODUCTION])
def test_production_reports_each_required_setting_missing_even_with_a_local_default(
    monkeypatch, name
):
    for key, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(key, value)
    Settings()  # complete: it starts

    monkeypatch.delenv(name)

    with pytest.raises(ConfigurationError) as raised:
        Settings()
    assert str(raised.value) == f"missing required setting(s) in production: {name}"


def test_local_stand_ins_serve_development_and_tests_only(monkeypatch):
    monkeypatch.delenv("STRIPE_API_KEY")

    assert Settings(CARTFLEET_ENV="development").stripe_api_key == "sk_test_cartfleet_local"
    assert Settings(CARTFLEET_ENV="staging").stripe_api_key == ""
    assert Settings(CARTFLEET_ENV="staging").stripe_publishable_key == ""


def test_the_cli_reports_a_missing_setting_in_one_line(monkeypatch):
    monkeypatch.setenv("CARTFLEET_ENV", "production")
    monkeypatch.delenv("ADMIN_TOKEN")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["seed-demo"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()

    assert result.exit_code == 1
    assert "missing required setting(s) in production: ADMIN_TOKEN" in result.output
