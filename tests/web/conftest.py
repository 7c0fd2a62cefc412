"""The admin browser tests' page: headless Chromium (see tests/web/browser.py)."""

from __future__ import annotations

import pytest

from tests.web.browser import ARGS, CHROMIUM, sync_api


@pytest.fixture
def page():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(accept_downloads=True)
        yield context.new_page()
        context.close()
        browser.close()
