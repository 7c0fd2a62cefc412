"""Storefront JavaScript errors reach Sentry (the local receiver) from headless Chromium.

The real web process with SENTRY_BROWSER_DSN pointing at tests/support/sentry_receiver.py:
the page loads the vendored SDK, and an error and an unhandled rejection arrive as events
with the release and environment the backend's own events carry.
"""

from __future__ import annotations

import pytest
import requests

from tests.support.sentry_receiver import SentryReceiver
from tests.support.web_server import running_web
from tests.web.browser import ARGS, CHROMIUM, pytestmark, sync_api  # noqa: F401  (the skips)

RELEASE = "cartfleet@browser-test"


@pytest.fixture(scope="module")
def receiver():
    server = SentryReceiver()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shop(schema, receiver, tmp_path_factory):
    env = {
        "DEMO_STOREFRONT": "true",
        "SENTRY_BROWSER_DSN": receiver.dsn,
        "SENTRY_RELEASE": RELEASE,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("web-metrics")),
    }
    with running_web("--workers", "1", "--threads", "4", env=env) as web:
        yield web


@pytest.fixture
def page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser.new_context().new_page()
        browser.close()


def error_events(receiver, text: str) -> list[dict]:
    def mentions(event: dict) -> bool:
        values = (event.get("exception") or {}).get("values") or []
        return any(text in str(value.get("value")) for value in values)

    return receiver.wait_for_items("event", mentions)


def test_an_error_and_an_unhandled_rejection_reach_sentry_tagged_like_the_backend(
    shop, receiver, page
):
    page.goto(f"{shop.url}/?sentry_test=1")  # what `cartfleet sentry test` tells to open

    thrown = error_events(receiver, "cartfleet sentry test: storefront error")[0]
    rejected = error_events(receiver, "storefront unhandled rejection")[0]

    for event in (thrown, rejected):
        assert (event["release"], event["environment"]) == (RELEASE, "test")
        assert event["platform"] == "javascript"
        assert event["request"]["url"].startswith(f"{shop.url}/")
        assert event["exception"]["values"][-1]["mechanism"]["handled"] is False
    assert "onunhandledrejection" in rejected["exception"]["values"][-1]["mechanism"]["type"]
    frames = thrown["exception"]["values"][-1]["stacktrace"]["frames"]
    assert frames[-1]["filename"].endswith("/static/errors.js")


def test_an_error_on_the_cart_page_reaches_sentry_without_the_cart_id(shop, receiver, page):
    cart_id = requests.post(f"{shop.url}/api/carts", json={}, timeout=10).json()["id"]
    page.goto(f"{shop.url}/cart/{cart_id}")
    page.wait_for_load_state("networkidle")  # the cart's API call is a breadcrumb by now

    page.evaluate("() => setTimeout(() => { throw new TypeError('storefront page boom') })")

    event = error_events(receiver, "storefront page boom")[0]
    assert event["exception"]["values"][-1]["type"] == "TypeError"
    assert event["release"] == RELEASE
    assert event["request"]["url"] == f"{shop.url}/cart/{{cart_id}}"
    fetched = [c["data"]["url"] for c in event["breadcrumbs"] if c.get("category") == "fetch"]
    assert "/api/carts/{cart_id}" in fetched
    assert all(cart_id.encode() not in envelope for envelope in receiver.envelopes)
