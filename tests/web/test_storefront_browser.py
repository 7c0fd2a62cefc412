"""The demo storefront driven in headless Chromium (Playwright with Debian's chromium).

The real web process (gunicorn) on a loopback port with DEMO_STOREFRONT on, the Stripe
sandbox as STRIPE_API_BASE with the web process's webhook registered, and a real Dramatiq
worker in this process for the webhook pipeline: the page confirms the PaymentIntent on
the sandbox, the sandbox signs and delivers ``payment_intent.succeeded``, the worker
marks the order paid, and the page's poll shows it.
"""

from __future__ import annotations

import os

import pytest
import requests
from sqlalchemy import select

from devtools.stripe_sandbox import SandboxServer
from models.base import utcnow
from models.catalog import Product
from models.db import Session
from models.orders.tables import Order
from models.stock import reservations
from tests.support import factories
from tests.support.web_server import running_web

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WEBHOOK_SECRET = "whsec_test_primary"  # the first of tests/conftest.py's secrets
WAIT_MS = 15_000
PAID_WITHIN_MS = 30_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason=f"no {CHROMIUM} (apt-get install -y chromium)"
    ),
]


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(retry_base_s=0.2) as server:
        yield server


@pytest.fixture(scope="module")
def shop(schema, sandbox, tmp_path_factory):
    env = {
        "DEMO_STOREFRONT": "true",
        "STRIPE_API_BASE": sandbox.url,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_browser",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("web-metrics")),
    }
    with running_web("--workers", "1", "--threads", "4", env=env) as web:
        sandbox.control.add_webhook(f"{web.url}/webhooks/stripe", WEBHOOK_SECRET)
        yield web


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    context = browser.new_context()
    yield context.new_page()
    context.close()


def given_products(*rows: tuple[str, str, int, int]) -> None:
    """(sku, name, price_cents, on_hand) each."""
    with Session.begin() as session:
        for sku, name, price, on_hand in rows:
            factories.product(session, sku, price_cents=price, stock={"main": on_hand})
            session.get(Product, sku).name = name


def given_cart(shop, sku: str, quantity: int = 1) -> str:
    cart = requests.post(f"{shop.url}/api/carts", json={}, timeout=10).json()
    added = requests.post(
        f"{shop.url}/api/carts/{cart['id']}/items",
        json={"sku": sku, "quantity": quantity},
        timeout=10,
    )
    assert added.status_code == 200, added.text
    return cart["id"]


def fill_checkout(page) -> None:
    form = page.locator("#checkout-form")
    form.get_by_label("Email").fill("ada@example.com")
    form.get_by_label("Full name").fill("Ada Lovelace")
    form.get_by_label("Address", exact=True).fill("1 Main St")
    form.get_by_label("City").fill("Springfield")
    form.get_by_label("Postal code").fill("12345")
    page.get_by_role("button", name="Continue to payment").click()


def test_search_add_to_cart_checkout_pay_with_4242_and_see_paid(shop, page, worker):
    from playwright.sync_api import expect

    given_products(("MUG", "Blue mug", 1200, 3), ("POT", "Teapot", 3000, 5))

    page.goto(f"{shop.url}/")
    expect(page.locator(".product")).to_have_count(2)
    page.get_by_label("Search").fill("mug")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".product")).to_have_count(1)
    mug = page.locator(".product", has_text="Blue mug")
    expect(mug).to_contain_text("$12.00")
    expect(mug).to_contain_text("3 in stock")
    mug.get_by_label("Quantity of Blue mug").fill("2")
    mug.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#flash")).to_contain_text("Added 2 \u00d7 Blue mug")
    assert "cart=" in page.url  # the cart id is kept in the URL

    page.locator("#cart-link").click()
    expect(page.locator("#lines tbody tr")).to_have_count(1)
    expect(page.locator("#totals")).to_contain_text("$24.00")
    fill_checkout(page)
    expect(page.locator("#pay")).to_be_visible()
    expect(page.locator("#pay-button")).to_have_text("Pay $24.00")

    # A declined card first: Stripe's message shows, and the same intent takes another card.
    page.get_by_label("Card number").fill("4000 0000 0000 0002")
    page.locator("#pay-button").click()
    expect(page.locator("#error")).to_contain_text("Your card was declined.")
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.locator("#pay-button").click()

    page.wait_for_url("**/orders/*")
    # Sandbox → webhook → outbox → worker → order; the page polls once a second.
    expect(page.locator("#order-status")).to_have_text("paid", timeout=PAID_WITHIN_MS)
    expect(page.locator("#order-lines")).to_contain_text("Blue mug")
    with Session() as session:
        order = session.scalars(select(Order)).one()
        assert order.status == "paid" and order.total_cents == 2400
        assert page.url.endswith(f"/orders/{order.id}")


def test_a_3d_secure_card_goes_through_the_challenge_and_the_order_is_paid(shop, page, worker):
    from playwright.sync_api import expect

    given_products(("VASE", "Glass vase", 4000, 2))
    page.goto(f"{shop.url}/cart/{given_cart(shop, 'VASE')}")
    fill_checkout(page)
    page.get_by_label("Card number").fill("4000 0000 0000 3220")
    page.locator("#pay-button").click()

    # The sandbox's challenge page, the bank's in real life.
    expect(page.locator("h1")).to_have_text("3D Secure test payment")
    expect(page.locator("body")).to_contain_text("40.00 USD")
    page.get_by_role("button", name="Complete authentication").click()

    page.wait_for_url("**/orders/*")
    expect(page.locator("#order-status")).to_have_text("paid", timeout=PAID_WITHIN_MS)
    assert "client_secret" not in page.url  # the return query leaves the address bar
    expect(page.locator("#payment-note")).to_be_hidden()
    with Session() as session:
        order = session.scalars(select(Order).where(Order.total_cents == 4000)).one()
        assert order.status == "paid"


def test_a_failed_3d_secure_challenge_is_said_and_the_order_stays_unpaid(shop, page, worker):
    from playwright.sync_api import expect

    given_products(("BOWL", "Stone bowl", 1800, 2))
    page.goto(f"{shop.url}/cart/{given_cart(shop, 'BOWL')}")
    fill_checkout(page)
    page.get_by_label("Card number").fill("4000 0027 6000 3184")
    page.locator("#pay-button").click()
    page.get_by_role("button", name="Fail authentication").click()

    page.wait_for_url("**/orders/*")
    expect(page.locator("#payment-note")).to_contain_text("authentication (3-D Secure) failed")
    expect(page.locator("#order-status")).to_have_text("payment failed", timeout=PAID_WITHIN_MS)


def test_a_risen_price_is_shown_and_accepted_and_a_recovery_code_applied(shop, page):
    from playwright.sync_api import expect

    given_products(("LAMP", "Desk lamp", 2000, 4))
    cart_id = given_cart(shop, "LAMP")
    with Session.begin() as session:
        session.get(Product, "LAMP").price_cents = 2500
        factories.discount_code(session, "SAVE10", percent=10)

    page.goto(f"{shop.url}/cart/{cart_id}?discount=SAVE10")
    expect(page.locator("#discount-applied")).to_contain_text("SAVE10: 10% off")
    assert page.url == f"{shop.url}/cart/{cart_id}"  # applied once, then dropped
    expect(page.locator("#lines")).to_contain_text("price rose to $25.00")
    fill_checkout(page)
    changes = page.locator("#price-changes")
    expect(changes).to_contain_text("Desk lamp: $20.00 → $25.00")
    expect(page.locator("#pay")).to_be_hidden()

    changes.get_by_role("button", name="Accept the new prices and continue").click()
    expect(page.locator("#pay")).to_be_visible()
    expect(page.locator("#pay-button")).to_have_text("Pay $22.50")


def test_an_edit_on_a_stale_cart_reloads_it(shop, page):
    from playwright.sync_api import expect

    given_products(("CUP", "Cup", 500, 9))
    cart_id = given_cart(shop, "CUP")
    page.goto(f"{shop.url}/cart/{cart_id}")
    expect(page.get_by_label("Quantity of Cup")).to_have_value("1")

    # Another tab adds more: the page's version is now stale.
    requests.post(
        f"{shop.url}/api/carts/{cart_id}/items", json={"sku": "CUP", "quantity": 4}, timeout=10
    )
    page.get_by_label("Quantity of Cup").fill("2")
    page.get_by_role("button", name="Update").click()

    expect(page.locator("#error")).to_contain_text("The cart has been reloaded")
    expect(page.get_by_label("Quantity of Cup")).to_have_value("5")


def test_stock_is_shown_live_and_api_text_is_never_markup(shop, page):
    from playwright.sync_api import expect

    given_products(("KETTLE", '<img src=x onerror="document.title=1">Kettle', 4500, 3))
    page.goto(f"{shop.url}/")
    kettle = page.locator(".product", has_text="Kettle")
    expect(kettle).to_contain_text("3 in stock")
    expect(kettle.locator("h3")).to_have_text('<img src=x onerror="document.title=1">Kettle')
    assert page.locator(".product img").count() == 0

    with Session.begin() as session:
        order = factories.order(session, lines={"KETTLE": 3})
        reservations.reserve(
            session,
            order_id=order.id,
            quantities={"KETTLE": 3},
            expires_at=utcnow().replace(year=2999),
        )
    expect(kettle).to_contain_text("Out of stock")
    expect(kettle.get_by_role("button", name="Add to cart")).to_be_disabled()


def test_show_more_continues_the_listing_in_its_sort_order(shop, page):
    from playwright.sync_api import expect

    given_products(*((f"SKU-{n:02}", f"Item {n:02}", 100 * (30 - n), 1) for n in range(25)))
    page.goto(f"{shop.url}/?sort=-price")
    expect(page.locator(".product")).to_have_count(20)
    page.get_by_label("Sort").select_option("price")  # changed, not searched yet
    page.get_by_role("button", name="Show more").click()

    expect(page.locator(".product")).to_have_count(25)
    expect(page.get_by_role("button", name="Show more")).to_be_hidden()
    names = page.locator(".product h3").all_inner_texts()
    assert names == [f"Item {n:02}" for n in range(25)]
