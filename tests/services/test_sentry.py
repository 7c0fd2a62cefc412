"""Errors of a request and of an actor reach Sentry (a local receiver) with their release."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from services import observability, outbox
from services.settings import Settings
from services.tracing import SentryTracing
from tests.support import actors
from tests.support.sentry_fixtures import run_script
from tests.support.services import ROOT
from tests.support.workers import worker_process
from worker.crons import CronMonitor

WEB_SCRIPT = """
import sentry_sdk
from web import create_app

app = create_app()

@app.get("/_test/boom")
def boom():
    raise RuntimeError({text!r})

response = app.test_client().get("/_test/boom")
assert response.status_code == 500, response.status_code
assert response.json["error"] == "internal_error", response.json
sentry_sdk.flush(timeout=10)
"""


def head_commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def error_event(receiver, text: str) -> dict:
    def mentions(event: dict) -> bool:
        return any(text in str(value.get("value")) for value in event["exception"]["values"])

    return receiver.wait_for_items("event", lambda e: "exception" in e and mentions(e))[0]


@pytest.mark.slow  # a process of its own: make test-slow
def test_exception_in_a_request_reaches_sentry_with_its_release(receiver, sentry_env):
    text = f"web boom {uuid.uuid4().hex}"

    run_script(WEB_SCRIPT.format(text=text), SENTRY_RELEASE="cartfleet@test-release")

    event = error_event(receiver, text)
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert (event["release"], event["environment"]) == ("cartfleet@test-release", "test")
    assert event["transaction"] == "/_test/boom"


@pytest.mark.slow  # a process of its own: make test-slow
def test_exception_in_an_actor_reaches_sentry_with_the_commit_as_release(receiver, sentry_env):
    text = f"actor boom {uuid.uuid4().hex}"

    with worker_process("tests.support.actors"):
        actors.fail_loudly.send(text)
        event = error_event(receiver, text)

    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert (event["release"], event["environment"]) == (head_commit(), "test")
    assert event["contexts"]["dramatiq"]["queue"] == "test"
    assert event["contexts"]["trace"]["op"] == "queue.process"


PRIVATE_SCRIPT = """
import sentry_sdk
from web import create_app

app = create_app()

@app.post("/_test/boom")
def boom():
    raise RuntimeError({text!r})

client = app.test_client()
client.set_cookie("session", "cookie-secret-value")
response = client.post(
    "/_test/boom",
    json={{"email": "shopper@example.com", "line1": "1 Private Lane"}},
    environ_base={{"REMOTE_ADDR": "203.0.113.9"}},
)
assert response.status_code == 500, response.status_code
sentry_sdk.flush(timeout=10)
"""


@pytest.mark.slow  # a process of its own: make test-slow
def test_a_shoppers_address_body_and_cookies_never_reach_sentry(receiver, sentry_env):
    text = f"private boom {uuid.uuid4().hex}"

    run_script(PRIVATE_SCRIPT.format(text=text))

    event = error_event(receiver, text)
    sent = b"".join(receiver.envelopes)
    for private in (b"shopper@example.com", b"Private Lane", b"cookie-secret-value"):
        assert private not in sent
    request = receiver.segment("/_test/boom")[0]
    assert "ip_address" not in event.get("user", {})
    assert "client.address" not in request["attributes"]


def test_release_is_the_setting_else_the_commit_else_the_package_version(tmp_path, monkeypatch):
    assert observability.release(Settings(sentry_release="v42")) == "v42"
    assert observability.release(Settings()) == head_commit()

    monkeypatch.setattr(observability, "PROJECT_DIR", tmp_path)  # not a checkout
    assert observability.release(Settings()) == "cartfleet@0.1.0"


def test_traces_are_off_by_default_only_where_nobody_watches(monkeypatch):
    monkeypatch.delenv("SENTRY_TRACES_SAMPLE_RATE", raising=False)
    assert Settings(CARTFLEET_ENV="development").sentry_traces_sample_rate == 0
    assert Settings(CARTFLEET_ENV="staging").sentry_traces_sample_rate == 0.1

    monkeypatch.setenv("SENTRY_TRACES_SAMPLE_RATE", "0.5")
    assert Settings(CARTFLEET_ENV="development").sentry_traces_sample_rate == 0.5


def test_without_a_dsn_no_sentry_middleware_runs_and_messages_carry_no_trace(broker):
    kinds = {type(middleware) for middleware in broker.middleware}

    assert not kinds & {SentryTracing, CronMonitor}
    assert outbox.message(actors.noop, "x").options == {}
