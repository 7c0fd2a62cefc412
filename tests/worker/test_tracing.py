"""A webhook's request and the jobs it leads to, in any process, make one Sentry trace."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import text

from jobs.outbox import relay_outbox
from models.db import Session
from tests.support import actors, stripe_events
from tests.support.workers import worker_process
from tests.worker.conftest import run_script

WEBHOOK_SCRIPT = """
import json, os
import sentry_sdk
from tests.support import actors, stripe_events
from web import create_app

response = stripe_events.post(create_app().test_client(), json.loads(os.environ["EVENT"]))
assert response.status_code == 200, response.json
sentry_sdk.flush(timeout=10)
"""

# A job written in a request's transaction whose push never happened (the process died
# between commit and push): only its outbox row exists, for the relay to send.
UNPUSHED_JOB_SCRIPT = """
import sentry_sdk
from models import db
from models.outbox import insert_row
from tests.support import actors
from web import create_app
from worker import outbox

app = create_app()

@app.post("/_test/write-job")
def write_job():
    job = outbox.message(actors.noop, "relayed")
    db.with_connection(db.autocommit_engine(), lambda c: c.execute(insert_row(), outbox.row(job)))
    return {"written": True}

assert app.test_client().post("/_test/write-job").status_code == 200
sentry_sdk.flush(timeout=10)
"""


def transaction(receiver, name: str) -> dict:
    return receiver.wait_for_items("transaction", lambda t: t["transaction"] == name, timeout=60)[0]


def trace(transaction: dict) -> dict:
    return transaction["contexts"]["trace"]


def span_ids(transaction: dict) -> set[str]:
    return {trace(transaction)["span_id"]} | {span["span_id"] for span in transaction["spans"]}


def test_webhook_its_job_and_the_email_that_job_sends_share_one_trace(receiver, sentry_env):
    with Session.begin() as session:
        order = stripe_events.checkout(session, lines={"SKU-A": 1})
        event = stripe_events.payment_succeeded(order)

    with worker_process():
        run_script(WEBHOOK_SCRIPT, EVENT=json.dumps(event))
        request = transaction(receiver, "/webhooks/stripe")
        job = transaction(receiver, "process_stripe_event")
        email = transaction(receiver, "send_order_email")

    assert trace(request)["op"] == "http.server"
    assert (trace(job)["op"], trace(email)["op"]) == ("queue.process", "queue.process")
    assert trace(request)["trace_id"] == trace(job)["trace_id"] == trace(email)["trace_id"]
    assert trace(job)["parent_span_id"] in span_ids(request)
    assert trace(email)["parent_span_id"] in span_ids(job)
    assert (trace(job)["status"], trace(email)["status"]) == ("ok", "ok")


def test_a_job_the_relay_sends_from_another_process_stays_in_its_requests_trace(
    receiver, sentry_env
):
    run_script(UNPUSHED_JOB_SCRIPT)
    request = transaction(receiver, "/_test/write-job")
    with Session.begin() as session:  # old enough for the relay
        session.execute(text("UPDATE outbox SET created_at = created_at - interval '1 minute'"))

    with worker_process("tests.support.actors"):
        relay_outbox.send()
        relay = transaction(receiver, "relay_outbox")
        job = transaction(receiver, "test_noop")

    assert trace(job)["trace_id"] == trace(request)["trace_id"]
    assert trace(job)["parent_span_id"] in span_ids(request)
    assert trace(relay)["trace_id"] != trace(request)["trace_id"]


def test_a_retry_is_in_the_trace_of_the_attempt_that_failed(receiver, sentry_env):
    with worker_process("tests.support.actors"):
        actors.fail_once.send(f"test:fail-once:{uuid.uuid4().hex}")
        runs = receiver.wait_for_items(
            "transaction", lambda t: t["transaction"] == "test_fail_once", count=2, timeout=60
        )
    first, retry = sorted(runs, key=lambda t: t["start_timestamp"])

    assert (trace(first)["status"], trace(retry)["status"]) == ("internal_error", "ok")
    assert trace(retry)["trace_id"] == trace(first)["trace_id"]
    assert trace(retry)["parent_span_id"] in span_ids(first)
