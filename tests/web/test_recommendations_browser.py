"""The storefront's recommendation slots in headless Chromium: cart upsells, home picks."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from jobs.recommendations import rebuild
from models.db import Session
from models.recommendations.build import BuildSettings
from services.settings import get_settings
from tests.support import factories
from tests.web.browser import pytestmark, sync_api  # noqa: F401  (the browser marks)


@pytest.fixture
def shop(broker, monkeypatch):
    """The app with the demo storefront on, over real HTTP."""
    from web import create_app

    monkeypatch.setenv("DEMO_STOREFRONT", "true")
    get_settings.cache_clear()
    server = make_server("127.0.0.1", 0, create_app({"TESTING": True}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    monkeypatch.delenv("DEMO_STOREFRONT")
    get_settings.cache_clear()


def _store() -> str:
    """Mugs are bought with saucers, teapots with tea; the cart holds a mug."""
    with Session.begin() as session:
        for sku in ("MUG", "SAUCER", "TEAPOT", "TEA"):
            factories.product(session, sku)
        for lines in [("MUG", "SAUCER")] * 3 + [("TEAPOT", "TEA")] * 4:
            factories.order(session, lines=dict.fromkeys(lines, 1), status="paid")
        cart = factories.cart(session, items={"MUG": 1}, email="ada@example.com")
    rebuild(BuildSettings(min_support=2))
    return cart.id


def test_the_cart_page_shows_upsells_and_the_products_page_picks(shop, page):
    expect = sync_api.expect
    cart_id = _store()

    page.goto(f"{shop}/cart/{cart_id}")
    upsells = page.locator("#upsells")
    expect(upsells).to_contain_text("You may also like")
    expect(upsells.locator("li").first).to_have_attribute("data-sku", "SAUCER")
    expect(upsells.locator("li[data-sku=MUG]")).to_have_count(0)

    page.goto(f"{shop}/?cart={cart_id}")
    picks = page.locator("#for-you")
    expect(picks).to_contain_text("Picked for you")
    expect(picks.locator("li").first).to_have_attribute("data-sku", "SAUCER")

    page.context.clear_cookies()
    page.goto(f"{shop}/")
    expect(page.locator("#for-you")).to_contain_text("Bestsellers")
