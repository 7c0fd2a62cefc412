"""Admin queue routes: depths, a queue's waiting messages, heartbeats."""

from __future__ import annotations

import dramatiq

from tests.support.outages import redis_outage

AUTH = {"Authorization": "Bearer test-admin-token"}


def enqueue(broker, queue: str, *args) -> dramatiq.Message:
    return broker.enqueue(
        dramatiq.Message(
            queue_name=queue, actor_name="record_cart_event", args=args, kwargs={}, options={}
        )
    )


def test_requires_the_admin_token(client):
    assert client.get("/admin/api/queues").status_code == 401


def test_depths_of_every_fleet_queue_and_the_workers(client, broker):
    enqueue(broker, "carts", "a")
    enqueue(broker, "carts", "b")

    response = client.get("/admin/api/queues", headers=AUTH)

    assert response.status_code == 200
    items = {item["queue"]: item for item in response.json["items"]}
    assert {"carts", "email", "maintenance", "payments", "webhooks"} <= set(items)
    assert set(items["carts"]) >= {"queue", "ready", "delayed", "dead", "oldest_age_s"}
    assert (items["carts"]["ready"], items["webhooks"]["ready"]) == (2, 0)
    assert broker.broker_id in {worker["id"] for worker in response.json["workers"]}


def test_messages_of_a_queue(client, broker):
    sent = [enqueue(broker, "carts", str(n)) for n in range(3)]

    page = client.get("/admin/api/queues/carts/messages?limit=2", headers=AUTH).json

    assert [item["message_id"] for item in page["items"]] == [m.message_id for m in sent[:2]]
    assert page["items"][0]["args"] == ["0"]
    assert client.get("/admin/api/queues/nope/messages", headers=AUTH).status_code == 404
    bad = client.get("/admin/api/queues/carts/messages?limit=0", headers=AUTH)
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "limit"


def test_redis_outage_is_a_503(client, broker):
    with redis_outage(broker):
        response = client.get("/admin/api/queues", headers=AUTH)
    assert response.status_code == 503
    assert response.json["error"] == "unavailable"
