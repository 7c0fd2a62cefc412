"""The storefront pages load Sentry's browser SDK only with SENTRY_BROWSER_DSN, tagged
with the backend's release and environment, and let the page reach Sentry's origin."""

from __future__ import annotations

import pytest

from services.settings import get_settings

DSN = "https://publickey@o1.ingest.example.io/42"
PAGES = ("/", "/cart/cart-abc", "/orders/7d0c9d3e-0000-4000-8000-000000000000")


@pytest.fixture
def storefront(broker, monkeypatch):
    from web import create_app

    monkeypatch.setenv("DEMO_STOREFRONT", "true")
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:12111")
    monkeypatch.delenv("SENTRY_BROWSER_DSN", raising=False)
    get_settings.cache_clear()
    yield create_app({"TESTING": True}).test_client()
    get_settings.cache_clear()


@pytest.fixture
def with_dsn(monkeypatch):
    monkeypatch.setenv("SENTRY_BROWSER_DSN", DSN)
    get_settings.cache_clear()


def test_without_a_browser_dsn_no_page_loads_sentry(storefront):
    for path in PAGES:
        page = storefront.get(path).get_data(as_text=True)
        assert "errors.js" not in page and "data-sentry" not in page, path
    assert "ingest" not in storefront.get("/").headers["Content-Security-Policy"]


def test_with_a_browser_dsn_every_page_loads_it_first_with_the_backends_release(
    storefront, with_dsn
):
    from services.observability import release

    for path in PAGES:
        page = storefront.get(path).get_data(as_text=True)
        first_script = page.index("<script")
        assert page.index('src="/static/errors.js"') == page.index('src="', first_script), path
        assert f'data-sentry-dsn="{DSN}"' in page
        assert f'data-sentry-release="{release(get_settings())}"' in page
        assert 'data-sentry-environment="test"' in page


def test_with_a_browser_dsn_the_page_may_send_to_sentrys_origin_without_the_key(
    storefront, with_dsn
):
    policy = storefront.get("/").headers["Content-Security-Policy"]

    assert (
        "connect-src 'self' http://127.0.0.1:12111 ws://localhost:5001 https://o1.ingest.example.io;"
        in policy
    )


def test_the_sdk_is_served_by_the_app_with_its_version_and_licence(storefront, with_dsn):
    sdk = storefront.get("/static/vendor/sentry/sentry-browser.min.js")
    licence = storefront.get("/static/vendor/sentry/LICENSE")

    assert sdk.status_code == 200 and sdk.mimetype in ("text/javascript", "application/javascript")
    assert sdk.get_data(as_text=True).startswith("/*! @sentry/browser 11.12.0 ")
    assert "MIT License" in licence.get_data(as_text=True)
