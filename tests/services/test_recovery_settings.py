"""The recovery settings: step delays in order, the link secret."""

from __future__ import annotations

import pytest

from services.settings import ConfigurationError, Settings


def test_step_delays_must_increase(monkeypatch):
    monkeypatch.setenv("RECOVERY_PUSH_HOURS", "1")

    with pytest.raises(ConfigurationError, match="increase"):
        Settings()


def test_the_secret_is_required_in_production(monkeypatch):
    monkeypatch.setenv("CARTFLEET_ENV", "production")
    for name in ("DATABASE_URL", "REDIS_URL", "ADMIN_TOKEN", "STRIPE_WEBHOOK_SECRET", "SECRET_KEY"):
        monkeypatch.setenv(name, "set")

    with pytest.raises(ConfigurationError, match="RECOVERY_SECRET"):
        Settings()
    monkeypatch.setenv("RECOVERY_SECRET", "s3cret")
    assert Settings().recovery_secret == "s3cret"


def test_a_local_secret_is_generated(monkeypatch):
    monkeypatch.delenv("RECOVERY_SECRET", raising=False)

    assert len(Settings().recovery_secret) >= 32
