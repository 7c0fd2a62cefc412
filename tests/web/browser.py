"""Headless Chromium for the admin's browser tests: Debian's binary, never ``playwright install``.

A test module imports ``pytestmark`` (the skip without Chromium or Playwright) and asks
for the ``page`` fixture (tests/web/conftest.py).
"""

from __future__ import annotations

import os

import pytest

from tests.web.admin_helpers import PASSWORD

try:
    from playwright import sync_api
except ImportError:  # the dev extras install it; without it the browser tests skip
    sync_api = None

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason=f"no {CHROMIUM} (apt-get install -y chromium)"
    ),
    pytest.mark.skipif(sync_api is None, reason="playwright is not installed"),
]


def log_in(page, live_server: str, email: str) -> None:
    """Log in through the form; the dashboard is the first page."""
    page.goto(f"{live_server}/admin/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    sync_api.expect(page.locator("h1")).to_have_text("Dashboard")
