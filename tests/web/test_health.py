"""Liveness, readiness with each dependency down, and the metrics exposition."""

from __future__ import annotations

from tests.support.outages import database_outage, redis_outage


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_ok_when_both_services_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_readyz_503_names_redis_when_it_is_down(broker, client):
    with redis_outage(broker):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "ok", "redis": "unavailable"}
    assert response.json["error"] == "unavailable"


def test_readyz_503_names_database_when_it_is_down(client):
    with database_outage():
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "unavailable", "redis": "ok"}


def test_metrics_is_prometheus_text(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert b"# TYPE" in response.data
