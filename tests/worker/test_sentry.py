"""Exceptions in a request and in an actor reach the Sentry DSN (a local receiver)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import pytest

from tests.support import actors
from tests.support.sentry_receiver import SentryReceiver
from tests.support.services import ROOT
from tests.support.workers import spawn_worker

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


@pytest.fixture
def receiver():
    server = SentryReceiver()
    yield server
    server.stop()


def test_exception_in_a_request_reaches_sentry(receiver):
    text = f"web boom {uuid.uuid4().hex}"
    env = dict(os.environ, SENTRY_DSN=receiver.dsn)
    subprocess.run(
        [sys.executable, "-c", WEB_SCRIPT.format(text=text)],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
    )
    envelope = receiver.wait_for(text)
    assert b"RuntimeError" in envelope


def test_exception_in_an_actor_reaches_sentry(receiver, monkeypatch):
    text = f"actor boom {uuid.uuid4().hex}"
    monkeypatch.setenv("SENTRY_DSN", receiver.dsn)
    worker = spawn_worker("tests.support.actors")
    try:
        actors.fail_loudly.send(text)
        envelope = receiver.wait_for(text, timeout=60)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    assert b"RuntimeError" in envelope
