"""Fixtures for the Sentry tests: a local receiver, and child processes reporting to it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.sentry_receiver import SentryReceiver
from tests.support.services import ROOT


@pytest.fixture
def receiver():
    server = SentryReceiver()
    yield server
    server.stop()


@pytest.fixture
def sentry_env(receiver, monkeypatch):
    """Child processes started from here on report to ``receiver`` and sample every trace.

    This process stays without Sentry, as in every other test.
    """
    monkeypatch.setenv("SENTRY_DSN", receiver.dsn)
    monkeypatch.setenv("SENTRY_TRACES_SAMPLE_RATE", "1")
    monkeypatch.delenv("SENTRY_RELEASE", raising=False)


def run_script(script: str, **env: str) -> str:
    """Run ``script`` in a fresh interpreter in the project dir; returns its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=dict(os.environ, **env),
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    )
    return done.stdout
