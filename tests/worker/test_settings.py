"""Settings come from the environment; production refuses to start without the essentials."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from worker.cli import main
from worker.settings import ConfigurationError, Settings, get_settings


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
