"""Queue depths, waiting messages and heartbeats, read from the real Redis broker."""

from __future__ import annotations

import json
import time

import dramatiq
import pytest
from click.testing import CliRunner

from cli import main as cartfleet
from models.base import utcnow
from models.db import Session
from models.infra.dead_letters import record
from worker import queues
from worker.broker import FLEET_QUEUES
from worker.dead_letters import archive_row


def message(queue: str, *args, age_s: float = 0) -> dramatiq.Message:
    return dramatiq.Message(
        queue_name=queue,
        actor_name="send_order_email",
        args=args,
        kwargs={},
        options={},
        message_timestamp=int((time.time() - age_s) * 1000),
    )


@pytest.fixture
def enqueued(broker):
    """Three ready on ``email`` (the oldest sent 2 minutes ago), one delayed, one dead."""
    broker.enqueue(message("email", "first", age_s=120))
    broker.enqueue(message("email", "second", age_s=5))
    broker.enqueue(message("email", "third"))
    broker.enqueue(message("email", "later"), delay=60_000)
    dead = message("email", "dead")
    with Session.begin() as session:
        record(session, [archive_row("email", dead, utcnow())])


def by_queue() -> dict[str, dict]:
    return {item["queue"]: item for item in queues.queue_stats()}


def test_every_fleet_queue_is_declared_and_every_actor_uses_one(broker):
    assert set(FLEET_QUEUES) <= broker.get_declared_queues()
    fleet_actors = [a for a in broker.actors.values() if a.fn.__module__.startswith("jobs.")]
    assert fleet_actors and {a.queue_name for a in fleet_actors} <= set(FLEET_QUEUES)


def test_depths_match_what_was_enqueued(broker, enqueued):
    email = by_queue()["email"]

    assert (email["ready"], email["in_progress"], email["delayed"], email["dead"]) == (3, 0, 1, 1)
    assert 119 <= email["oldest_age_s"] < 130
    carts = by_queue()["carts"]
    assert (carts["ready"], carts["delayed"], carts["dead"], carts["oldest_age_s"]) == (
        0,
        0,
        0,
        None,
    )


def test_waiting_messages_page_in_order(broker, enqueued):
    first_two = queues.waiting_messages("email", limit=2)
    rest = queues.waiting_messages("email", offset=2, limit=2)

    assert [item["args"] for item in first_two] == [["first"], ["second"]]
    assert [item["args"] for item in rest] == [["third"]]
    assert first_two[0]["actor"] == "send_order_email"


def test_workers_by_heartbeat(broker):
    broker.do_qsize("email")  # any broker call stamps this process's heartbeat

    [me] = [w for w in queues.workers() if w["id"] == broker.broker_id]
    assert me["alive"] is True and me["age_s"] < 5


def test_cli_table_and_json(broker, enqueued):
    as_json = CliRunner().invoke(cartfleet, ["queues", "--json"])
    table = CliRunner().invoke(cartfleet, ["queues"])

    assert as_json.exit_code == 0, as_json.output
    items = {item["queue"]: item for item in json.loads(as_json.stdout)}
    assert items["email"]["ready"] == 3
    assert table.exit_code == 0, table.output
    assert "email" in table.output and "READY" in table.output
