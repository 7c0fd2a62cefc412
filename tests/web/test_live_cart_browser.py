"""The live cart in two browsers (two Playwright contexts: two devices) on one cart.

The web app over real HTTP with the demo storefront, and the realtime gateway in a
thread, both on loopback: a change made on one device shows on the other without a
reload, tabs of one browser share one WebSocket, and bulk edits and saved items travel.
"""

from __future__ import annotations

import threading
import time

import pytest
from werkzeug.serving import make_server

from models.carts.lifecycle import lock, touch
from models.db import Session
from services import cart_hints
from services.settings import get_settings
from tests.support import factories
from tests.support.realtime_gateway import gateway_for
from tests.web.browser import ARGS, CHROMIUM, pytestmark, sync_api  # noqa: F401

SHOWN_MS = 5_000


@pytest.fixture
def shop(broker, monkeypatch):
    monkeypatch.setenv("DEMO_STOREFRONT", "true")
    monkeypatch.setenv("SECRET_KEY", "live-cart-browser-test")
    get_settings.cache_clear()
    with gateway_for(get_settings().redis_url, secret="live-cart-browser-test") as gateway:
        monkeypatch.setenv("REALTIME_URL", gateway.url)
        get_settings.cache_clear()
        from web import create_app

        server = make_server("127.0.0.1", 0, create_app({"TESTING": True}), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_port}", gateway
        server.shutdown()
        server.server_close()
    get_settings.cache_clear()


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


def open_cart(context, base: str, cart_id: str):
    page = context.new_page()
    page.goto(f"{base}/cart/{cart_id}")
    sync_api.expect(page.locator("#live-status")).to_have_attribute("data-live", "on")
    return page


def quantity(page, sku: str):
    return page.locator(f'#lines tr[data-sku="{sku}"] input[type=number]')


def test_a_change_on_one_device_shows_on_the_other(shop, browser):
    base, gateway = shop
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 20})
        factories.product(session, "B", stock={"main": 20})
        cart_id = factories.cart(session, items={"A": 1, "B": 1}).id
    phone, laptop = browser.new_context(), browser.new_context()
    on_phone = open_cart(phone, base, cart_id)
    on_laptop = open_cart(laptop, base, cart_id)
    second_tab = open_cart(laptop, base, cart_id)

    # Three pages, two browsers: one connection each.
    assert gateway.call(lambda: gateway.gateway.connections) == 2

    quantity(on_phone, "A").fill("3")
    on_phone.locator('#lines tr[data-sku="A"] button[type=submit]').click()
    started = time.monotonic()
    sync_api.expect(quantity(on_laptop, "A")).to_have_value("3", timeout=SHOWN_MS)
    shown_after = time.monotonic() - started
    sync_api.expect(quantity(second_tab, "A")).to_have_value("3", timeout=SHOWN_MS)

    on_laptop.locator('#lines tr[data-sku="A"] input[type=checkbox]').check()
    on_laptop.locator('#lines tr[data-sku="B"] input[type=checkbox]').check()
    on_laptop.locator("#bulk-save").click()

    sync_api.expect(on_phone.locator("#saved-items li")).to_have_count(2, timeout=SHOWN_MS)
    sync_api.expect(on_phone.locator("#lines")).to_be_hidden()
    on_phone.locator('#saved-items li[data-sku="B"] button', has_text="Move to cart").click()
    sync_api.expect(quantity(on_laptop, "B")).to_have_value("1", timeout=SHOWN_MS)
    print(f"laptop showed the phone's change after {shown_after:.3f} s")
    phone.close()
    laptop.close()


def test_a_stale_write_refetches_and_says_so(shop, browser, monkeypatch):
    base, _gateway = shop
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 20})
        cart_id = factories.cart(session, items={"A": 1}).id
    context = browser.new_context()
    page = open_cart(context, base, cart_id)
    # The catch-up read the page makes once its socket opens must land before the write,
    # or it would rightly pick up the new version and leave nothing stale.
    page.wait_for_load_state("networkidle")
    # A write whose hint is lost (pub/sub is at-most-once): the page's version is stale.
    with monkeypatch.context() as lost, Session.begin() as session:
        lost.setattr(cart_hints, "_publisher", None)
        touch(lock(session, cart_id))

    quantity(page, "A").fill("2")
    page.locator('#lines tr[data-sku="A"] button[type=submit]').click()

    sync_api.expect(page.locator("#error")).to_contain_text("The cart has been reloaded")
    sync_api.expect(quantity(page, "A")).to_have_value("1")
    context.close()
