"""``cartfleet sentry test``: a backend error reaches Sentry (the local receiver) tagged with
the release and environment, and the output says how to send the storefront's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.services import ROOT

RELEASE = "cartfleet@cli-test"


def cartfleet(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The command in a fresh interpreter: Sentry, once started, stays on in its process."""
    return subprocess.run(
        [sys.executable, "-c", "from cli import main; main()", *args],
        cwd=ROOT,
        env=dict(os.environ, SENTRY_RELEASE=RELEASE, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow  # a process of its own: make test-slow
def test_sends_a_backend_error_and_points_at_the_storefront_page(receiver, sentry_env):
    done = cartfleet(
        "sentry",
        "test",
        SENTRY_BROWSER_DSN=receiver.dsn,
        DEMO_STOREFRONT="true",
        PUBLIC_URL="http://shop.test:5000/",
    )

    assert done.returncode == 0, done.stderr
    event = receiver.wait_for_items("event", lambda e: "exception" in e)[0]
    error = event["exception"]["values"][-1]
    assert (error["type"], error["value"]) == (
        "SentryTestError",
        f"cartfleet sentry test: backend ({RELEASE})",
    )
    assert (event["release"], event["environment"]) == (RELEASE, "test")
    assert f"event {event['event_id']}" in done.stdout
    assert "open http://shop.test:5000/?sentry_test=1 in a browser" in done.stdout


@pytest.mark.slow  # a process of its own: make test-slow
def test_says_what_the_storefront_lacks_without_a_browser_dsn(receiver, sentry_env):
    done = cartfleet("sentry", "test", SENTRY_BROWSER_DSN="")

    assert done.returncode == 0, done.stderr
    assert "Storefront: the pages report nothing: set SENTRY_BROWSER_DSN" in done.stdout


@pytest.mark.slow  # a process of its own: make test-slow
def test_refuses_without_a_dsn():
    done = cartfleet("sentry", "test", SENTRY_DSN="")

    assert done.returncode == 1
    assert "SENTRY_DSN is not set" in done.stderr
    assert "Backend: sent" not in done.stdout
