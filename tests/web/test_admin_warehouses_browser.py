"""Warehouses and stock in headless Chromium: create a warehouse, adjust and transfer stock,
see the grid and low stock, get refused deactivating a busy one, ship one shipment of a
split order."""

from __future__ import annotations

from models.base import utcnow
from models.db import Session
from models.orders import fulfilment
from models.stock import reservations
from models.warehouses.routing import Allocation, Part
from tests.support import factories
from tests.web.admin_helpers import make_user
from tests.web.browser import log_in, pytestmark, sync_api  # noqa: F401  (the skip mark)


def test_an_operator_runs_warehouses_and_stock(live_server, page):
    make_user("ops@example.com", "operator")
    with Session.begin() as session:
        factories.product(session, "MUG", stock={"main": 10})
    expect = sync_api.expect

    log_in(page, live_server, "ops@example.com")
    page.click("header nav >> text=Warehouses")
    page.fill("#warehouse-form input[name=code]", "east")
    page.fill("#warehouse-form input[name=name]", "East coast")
    page.fill("#warehouse-form input[name=country]", "us")
    page.fill("#warehouse-form input[name=postal_code]", "10001")
    page.fill("#warehouse-form input[name=low_stock_threshold]", "3")
    page.click("#warehouse-form button")
    expect(page.locator(".flash")).to_contain_text("Warehouse east created")
    expect(page.locator("#warehouse-east")).to_contain_text("40.75")

    page.click("header nav >> text=Stock")
    page.fill("#adjust-form input[name=sku]", "MUG")
    page.select_option("#adjust-form select[name=warehouse]", "main")
    page.fill("#adjust-form input[name=delta]", "-2")
    page.fill("#adjust-form input[name=reason]", "two chipped")
    page.click("#adjust-form button")
    expect(page.locator(".flash")).to_contain_text("MUG in main: 8 on hand")

    page.fill("#transfer-form input[name=sku]", "MUG")
    page.select_option("#transfer-form select[name=from]", "main")
    page.select_option("#transfer-form select[name=to]", "east")
    page.fill("#transfer-form input[name=quantity]", "9")
    page.click("#transfer-form button")
    expect(page.locator(".flash")).to_contain_text("Only 8 unreserved unit(s)")
    page.fill("#transfer-form input[name=sku]", "MUG")
    page.select_option("#transfer-form select[name=from]", "main")
    page.select_option("#transfer-form select[name=to]", "east")
    page.fill("#transfer-form input[name=quantity]", "2")
    page.click("#transfer-form button")
    expect(page.locator(".flash")).to_contain_text("main now 6, east now 2")
    expect(page.locator("[data-cell='MUG/east']")).to_contain_text("2 on hand")
    expect(page.locator("#low-stock")).to_contain_text("east")

    with Session.begin() as session:
        order = factories.order(session, lines={"MUG": 6})
        reservations.reserve(  # only main holds 6
            session,
            order_id=order.id,
            quantities={"MUG": 6},
            expires_at=utcnow().replace(year=utcnow().year + 1),
            country="US",
        )
    page.click("header nav >> text=Warehouses")
    page.click("#warehouse-main button")
    expect(page.locator(".flash")).to_contain_text("reserved unit(s)")
    expect(page.locator("#warehouse-main")).to_contain_text("active")


def test_an_operator_ships_a_split_order_one_shipment_at_a_time(live_server, page):
    make_user("ops@example.com", "operator")
    with Session.begin() as session:
        factories.product(session, "A", stock={"east": 5})
        factories.product(session, "B", stock={"west": 5})
        order = factories.order(session, lines={"A": 1, "B": 1}, status="paid")
        allocation = Allocation(
            parts=[Part("east", {"A": 1}, 1.0), Part("west", {"B": 1}, 2.0)], reason="split"
        )
        fulfilment.record_shipments(session, order_id=order.id, allocation=allocation)
        session.flush()
        order_id, first = str(order.id), order.shipments[0].id
    expect = sync_api.expect

    log_in(page, live_server, "ops@example.com")
    page.goto(f"{live_server}/admin/orders/{order_id}")
    row = page.locator(f"#shipment-{first}")
    row.locator("input[name=carrier]").fill("UPS")
    row.locator("input[name=tracking_number]").fill("1Z999")
    row.locator("button").click()
    expect(page.locator(".flash")).to_contain_text("partially shipped")
    expect(page.locator("#order-status")).to_have_text("partially_shipped")
    expect(page.locator(f"#shipment-{first}")).to_contain_text("1Z999")

    page.fill("#ship-form input[name=carrier]", "DHL")
    page.fill("#ship-form input[name=tracking_number]", "JD0146")
    page.click("#ship-form button")
    expect(page.locator("#order-status")).to_have_text("shipped")
    expect(page.locator("#shipments")).to_contain_text("JD0146")
