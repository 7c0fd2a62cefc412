"""The demo storefront's pages: rendered only when DEMO_STOREFRONT is on, shells that escape
what the URL brings and name the Stripe API the pay form confirms against."""

from __future__ import annotations

import pytest

from services.settings import get_settings

PAGES = ("/", "/cart/cart-abc", "/orders/7d0c9d3e-0000-4000-8000-000000000000")
SCRIPTS = (
    "storefront.js",
    "products.js",
    "product.js",
    "pictures.js",
    "recommendations.js",
    "cart.js",
    "pay.js",
    "order.js",
    "storefront.css",
)


@pytest.fixture
def storefront(broker, monkeypatch):
    from web import create_app

    monkeypatch.setenv("DEMO_STOREFRONT", "true")
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:12111")
    monkeypatch.setenv("STRIPE_PUBLISHABLE_KEY", "pk_test_page")
    get_settings.cache_clear()
    yield create_app({"TESTING": True}).test_client()
    get_settings.cache_clear()


def test_every_page_renders_its_shell(storefront):
    for path, script in zip(PAGES, ("products.js", "cart.js", "order.js"), strict=True):
        response = storefront.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "text/html"
        page = response.get_data(as_text=True)
        assert f'src="/static/{script}"' in page, path
        assert 'data-stripe-api-base="http://127.0.0.1:12111"' in page
        assert 'data-publishable-key="pk_test_page"' in page


def test_the_cart_page_carries_the_cart_id_escaped(storefront):
    page = storefront.get('/cart/"><img src=x onerror=alert(1)>').get_data(as_text=True)
    assert "<img" not in page
    assert 'data-cart-id="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"' in page


def test_the_scripts_and_styles_are_served(storefront):
    for name in SCRIPTS:
        response = storefront.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert response.mimetype in ("text/javascript", "application/javascript", "text/css")


def test_pages_allow_scripts_from_this_origin_and_the_stripe_api_only(storefront):
    headers = storefront.get("/").headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert "connect-src 'self' http://127.0.0.1:12111 ws://localhost:5001;" in policy
    assert headers["Referrer-Policy"] == "no-referrer"  # the cart id is in the URL
    assert headers["X-Content-Type-Options"] == "nosniff"  # web/guards.py's, kept


def test_the_api_is_unchanged_beside_the_pages(storefront):
    assert storefront.get("/api/products").json == {"items": [], "next_cursor": None}
    assert storefront.get("/healthz").json == {"status": "ok"}


def test_off_by_default_every_page_and_file_is_404(client):
    assert get_settings().demo_storefront is False
    for path in (*PAGES, *(f"/static/{name}" for name in SCRIPTS)):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json["error"] == "not_found"
