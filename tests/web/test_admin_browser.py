"""The admin in headless Chromium: log in, filter, open, ship, refund part (the sandbox's
webhook brings ``partially_refunded``), export CSV, log out."""

from __future__ import annotations

from tests.web.admin_helpers import fleet_sandbox, make_user, paid_order
from tests.web.browser import log_in, pytestmark, sync_api  # noqa: F401  (the skip mark)


def test_an_operator_ships_and_refunds_an_order_then_exports_and_logs_out(
    live_server, worker, page, tmp_path
):
    make_user("ops@example.com", "operator")
    with fleet_sandbox(live_server) as sandbox:
        order_id = paid_order(sandbox, email="grace@example.com")
        paid_order(sandbox, email="other@example.com")
        expect = sync_api.expect

        log_in(page, live_server, "ops@example.com")
        page.click("header nav >> text=Orders")
        expect(page.locator("h1")).to_contain_text("Orders")
        expect(page.locator("#match-count")).to_have_text("2 matches")

        page.fill("input[name=customer]", "grace")
        page.click("#filters button[type=submit]")
        expect(page.locator("#match-count")).to_have_text("1 match")
        page.click(f"a[href='/admin/orders/{order_id}']")
        expect(page.locator("#order-status")).to_have_text("paid")

        page.fill("#ship-form input[name=carrier]", "UPS")
        page.fill("#ship-form input[name=tracking_number]", "1Z999AA10123456784")
        page.click("#ship-form button")
        expect(page.locator(".flash")).to_contain_text("Marked shipped")
        expect(page.locator("#order-status")).to_have_text("shipped")

        page.fill("#refund-form input[name=amount_cents]", "500")
        page.select_option("#refund-form select[name=reason]", "requested_by_customer")
        page.fill("#refund-form textarea[name=note]", "one tee arrived torn")
        page.click("#refund-form button")
        expect(page.locator(".flash")).to_contain_text("Refund of $5.00 requested")
        for _ in range(100):  # the status arrives by Stripe's webhook
            if page.locator("#order-status").inner_text() == "partially_refunded":
                break
            page.wait_for_timeout(100)
            page.reload()
        expect(page.locator("#order-status")).to_have_text("partially_refunded")
        expect(page.locator("#refunds")).to_contain_text("succeeded")
        expect(page.locator("#timeline")).to_contain_text("admin.refund_order")

        page.goto(f"{live_server}/admin/orders?customer=grace")
        with page.expect_download() as download_info:
            page.click("#csv-link")
        path = tmp_path / "orders.csv"
        download_info.value.save_as(path)
        csv_text = path.read_text(encoding="utf-8")
        assert download_info.value.suggested_filename.startswith("orders_")
        assert "grace@example.com" in csv_text and "partially_refunded" in csv_text
        assert "other@example.com" not in csv_text

        page.click("text=Log out")
        expect(page.locator("h1")).to_have_text("Log in")
        page.goto(f"{live_server}/admin/orders")
        expect(page.locator("h1")).to_have_text("Log in")
