"""Fixtures of the fleet's Stripe tests: the sandbox, the webhook pipeline, alerts."""

from __future__ import annotations

import pytest

from services.settings import get_settings
from tests.support import stripe_events
from tests.support.alerts import AlertReceiver
from tests.support.sandbox_fleet import fleet_sandbox


@pytest.fixture
def sandbox(monkeypatch):
    """A Stripe sandbox the fleet's ``services.stripe`` talks to."""
    with fleet_sandbox(monkeypatch) as server:
        yield server


@pytest.fixture
def webhooks_to_fleet(sandbox, live_server):
    """The sandbox delivers its webhooks to the app's endpoint, signed with our secret."""
    sandbox.control.add_webhook(f"{live_server}/webhooks/stripe", stripe_events.PRIMARY_SECRET)
    return sandbox.control


@pytest.fixture
def pipeline(broker):
    """A worker on the webhook queue; call the value to wait until it is drained."""
    with stripe_events.pipeline_worker(broker) as worker:
        yield lambda: stripe_events.drain_pipeline(broker, worker)


@pytest.fixture
def alerts(monkeypatch):
    receiver = AlertReceiver()
    monkeypatch.setenv("ALERT_WEBHOOK_URL", receiver.url)
    get_settings.cache_clear()
    yield receiver
    receiver.stop()
    monkeypatch.delenv("ALERT_WEBHOOK_URL")
    get_settings.cache_clear()
