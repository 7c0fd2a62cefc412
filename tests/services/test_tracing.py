"""A webhook's request and the jobs it leads to, in any process, make one Sentry trace."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text

from jobs.outbox import relay_outbox
from models.db import Session
from tests.support import actors, stripe_events
from tests.support.sentry_fixtures import run_script
from tests.support.workers import worker_process

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
from models.infra.outbox import insert_row
from tests.support import actors
from web import create_app
from services import outbox
app = create_app()

@app.post("/_test/write-job")
def write_job():
    job = outbox.message(actors.noop, "relayed")
    db.with_connection(db.autocommit_engine(), lambda c: c.execute(insert_row(), outbox.row(job)))
    return {"written": True}

assert app.test_client().post("/_test/write-job").status_code == 200
sentry_sdk.flush(timeout=10)
"""


def segment(receiver, name: str) -> dict:
    return receiver.segment(name, timeout=60)[0]


def op(span: dict) -> str:
    return span["attributes"]["sentry.op"]


@pytest.mark.slow  # a process of its own: make test-slow
def test_webhook_its_job_and_the_email_that_job_sends_share_one_trace(receiver, sentry_env):
    with Session.begin() as session:
        order = stripe_events.checkout(session, lines={"SKU-A": 1})
        event = stripe_events.payment_succeeded(order)

    with worker_process():
        run_script(WEBHOOK_SCRIPT, EVENT=json.dumps(event))
        request = segment(receiver, "/webhooks/stripe")
        job = segment(receiver, "process_stripe_event")
        email = segment(receiver, "send_order_email")

    assert op(request) == "http.server"
    assert (op(job), op(email)) == ("queue.process", "queue.process")
    assert request["trace_id"] == job["trace_id"] == email["trace_id"]
    assert job["parent_span_id"] in receiver.span_ids(request)
    assert email["parent_span_id"] in receiver.span_ids(job)
    assert (job["status"], email["status"]) == ("ok", "ok")


@pytest.mark.slow  # a process of its own: make test-slow
def test_a_job_the_relay_sends_from_another_process_stays_in_its_requests_trace(
    receiver, sentry_env
):
    run_script(UNPUSHED_JOB_SCRIPT)
    request = segment(receiver, "/_test/write-job")
    with Session.begin() as session:  # old enough for the relay
        session.execute(text("UPDATE outbox SET created_at = created_at - interval '1 minute'"))

    with worker_process("tests.support.actors"):
        relay_outbox.send()
        relay = segment(receiver, "relay_outbox")
        job = segment(receiver, "test_noop")

    assert job["trace_id"] == request["trace_id"]
    assert job["parent_span_id"] in receiver.span_ids(request)
    assert relay["trace_id"] != request["trace_id"]


@pytest.mark.slow  # a process of its own: make test-slow
def test_a_retry_is_in_the_trace_of_the_attempt_that_failed(receiver, sentry_env):
    with worker_process("tests.support.actors"):
        actors.fail_once.send(f"test:fail-once:{uuid.uuid4().hex}")
        runs = receiver.segment("test_fail_once", count=2, timeout=60)
    first, retry = sorted(runs, key=lambda s: s["start_timestamp"])

    assert (first["status"], retry["status"]) == ("error", "ok")
    assert retry["trace_id"] == first["trace_id"]
    assert retry["parent_span_id"] in receiver.span_ids(first)
