"""The global broker handed out as the RedisBroker the fleet runs on."""

from __future__ import annotations

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from services.redis_broker import redis_broker


def test_the_fleet_broker_is_handed_out_with_its_redis_client(broker):
    assert redis_broker() is broker
    assert redis_broker().client.ping()


def test_a_broker_that_is_not_redis_is_refused(broker):
    dramatiq.set_broker(StubBroker())
    try:
        with pytest.raises(RuntimeError, match="StubBroker, not Redis"):
            redis_broker()
    finally:
        dramatiq.set_broker(broker)
