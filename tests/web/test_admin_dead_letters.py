"""Admin dead-letter routes: list with filters, requeue one or in bulk, delete."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import dramatiq
import pytest

import worker.broker  # noqa: F401  (the actor below binds to the fleet's broker)
from models.db import Session
from models.infra.dead_letters import DeadLetter
from worker import dead_letters

AUTH = {"Authorization": "Bearer test-admin-token"}
NOW_MS = int(time.time() * 1000)


class Declined(Exception):
    """Expected: the actor declares it in ``throws``, so it is not retried."""


# Declared at collection, before any worker starts (see tests/worker/test_dead_letters.py).
@dramatiq.actor(
    actor_name="admin_dlq_apply",
    queue_name="admin_dlq",
    max_retries=3,
    min_backoff=10,
    max_backoff=10,
    throws=(Declined,),
)
def apply_once(key: str) -> None:
    client = dramatiq.get_broker().client
    if not client.get(f"{key}:fixed"):
        raise Declined(f"declined {key}")
    client.rpush(f"{key}:applied", "yes")


@pytest.fixture
def letters(broker):
    """Three dead letters: two of one actor on ``admin_a``, one of another on ``admin_b``."""
    made = []
    for number, (queue, actor) in enumerate(
        [("admin_a", "admin_one"), ("admin_a", "admin_one"), ("admin_b", "admin_two")]
    ):
        message = dramatiq.Message(
            queue_name=queue,
            actor_name=actor,
            args=(f"arg-{number}",),
            kwargs={},
            options={"retries": 10, "error": "KeyError: 'x'"},
        )
        redis_id = str(uuid.uuid4())
        dead_at = NOW_MS + number  # recent: entries older than 7 days expire
        broker.client.zadd(f"dramatiq:{queue}.XQ", {redis_id: dead_at})
        broker.client.hset(f"dramatiq:{queue}.XQ.msgs", redis_id, message.encode())
        made.append(message)
    return made


def test_requires_the_admin_token(client, letters):
    assert client.get("/admin/api/dead-letters").status_code == 401


def test_list_and_filters(client, letters):
    everything = client.get("/admin/api/dead-letters", headers=AUTH).json["items"]
    assert [i["message_id"] for i in everything] == [m.message_id for m in letters]
    first = everything[0]
    assert set(first) >= {"message_id", "queue", "actor", "args", "failed_at", "error"}
    assert (first["queue"], first["actor"], first["args"]) == ("admin_a", "admin_one", ["arg-0"])
    failed_at = dt.datetime.fromisoformat(first["failed_at"])
    assert failed_at == dt.datetime.fromtimestamp(NOW_MS / 1000, dt.UTC)
    assert first["error"] == "KeyError: 'x'"

    by_queue = client.get("/admin/api/dead-letters?queue=admin_b", headers=AUTH).json["items"]
    assert [i["actor"] for i in by_queue] == ["admin_two"]
    by_actor = client.get("/admin/api/dead-letters?actor=admin_one", headers=AUTH).json["items"]
    assert len(by_actor) == 2
    bad = client.get("/admin/api/dead-letters?limit=0", headers=AUTH)
    assert bad.status_code == 422


def test_requeue_one(broker, client, letters):
    target = letters[1].message_id
    response = client.post(f"/admin/api/dead-letters/{target}/requeue", headers=AUTH)
    assert response.status_code == 200
    assert response.json == {"requeued": 1, "message_id": target, "queue": "admin_a"}
    assert broker.do_qsize("admin_a") == 1
    again = client.post(f"/admin/api/dead-letters/{target}/requeue", headers=AUTH)
    assert again.status_code == 404


def test_bulk_requeue_with_filters(broker, client, letters):
    response = client.post(
        "/admin/api/dead-letters/requeue", json={"actor": "admin_one"}, headers=AUTH
    )
    assert response.json == {"requeued": 2}
    assert dead_letters.redis_count("admin_a") == 0 and dead_letters.redis_count("admin_b") == 1
    rest = client.post("/admin/api/dead-letters/requeue", headers=AUTH)
    assert rest.json == {"requeued": 1}
    invalid = client.post("/admin/api/dead-letters/requeue", json={"nope": 1}, headers=AUTH)
    assert invalid.status_code == 422


def test_delete(client, letters):
    target = letters[2].message_id
    response = client.delete(f"/admin/api/dead-letters/{target}", headers=AUTH)
    assert response.json == {"deleted": 1, "message_id": target}
    assert dead_letters.redis_count("admin_b") == 0
    assert client.delete(f"/admin/api/dead-letters/{target}", headers=AUTH).status_code == 404


def test_an_expected_failure_is_listed_with_its_error_then_requeued_and_applied_once(
    broker, client, drain_queues
):
    message = apply_once.send("job-1")
    drain_queues()

    [item] = client.get("/admin/api/dead-letters?queue=admin_dlq", headers=AUTH).json["items"]
    assert item["message_id"] == message.message_id
    assert item["error"].endswith("Declined: declined job-1")
    assert 'raise Declined(f"declined {key}")' in item["traceback"]
    with Session() as session:
        assert session.get(DeadLetter, message.message_id).error == item["error"]

    broker.client.set("job-1:fixed", 1)  # the cause is fixed
    response = client.post(f"/admin/api/dead-letters/{message.message_id}/requeue", headers=AUTH)
    assert response.status_code == 200
    drain_queues()

    assert broker.client.lrange("job-1:applied", 0, -1) == [b"yes"]
    assert client.get("/admin/api/dead-letters", headers=AUTH).json["items"] == []
    again = client.post(f"/admin/api/dead-letters/{message.message_id}/requeue", headers=AUTH)
    assert again.status_code == 404


def test_a_letter_whose_redis_entry_expired_is_still_listed_and_requeued(broker, client, letters):
    client.get("/admin/api/dead-letters", headers=AUTH)  # archived
    broker.client.delete("dramatiq:admin_b.XQ", "dramatiq:admin_b.XQ.msgs")

    items = client.get("/admin/api/dead-letters?queue=admin_b", headers=AUTH).json["items"]
    assert [item["message_id"] for item in items] == [letters[2].message_id]
    response = client.post(
        "/admin/api/dead-letters/requeue", json={"queue": "admin_b"}, headers=AUTH
    )
    assert response.json == {"requeued": 1}
    assert broker.do_qsize("admin_b") == 1
