"""The operations pages in headless Chromium against the real server and a real worker:
a dead-lettered job is requeued and applied once, a dead webhook replayed and applied
once, "run now" records a run, a reconciliation entry is retried away; a viewer sees
every page and no action button."""

from __future__ import annotations

import uuid

import dramatiq
import pytest
from sqlalchemy import func, select

import worker.broker  # noqa: F401  (the actor below binds to the fleet's broker)
from models.db import Session
from models.inbox import WebhookEvent
from models.orders.timeline import OrderEvent
from models.stock.tables import StockLevel
from tests.support import factories, stripe_events
from tests.web.admin_helpers import failed_confirmation, make_user, order_status, wait_until
from tests.web.browser import log_in, pytestmark, sync_api  # noqa: F401  (the skip mark)

KEY = "admin_browser"
PAGES = ["/admin/", "/admin/webhooks", "/admin/queues", "/admin/dead-letters",
         "/admin/schedules", "/admin/reconciliation", "/admin/analytics"]  # fmt: skip


class Declined(Exception):
    """Expected: declared in ``throws``, so the message dies at once."""


# Declared at collection, before the worker starts (as tests/web/test_admin_dead_letters.py).
@dramatiq.actor(
    actor_name="admin_browser_apply",
    queue_name="admin_browser",
    max_retries=0,
    throws=(Declined,),
)
def apply_once(key: str) -> None:
    client = dramatiq.get_broker().client
    if not client.get(f"{key}:fixed"):
        raise Declined(f"supplier API refused {key}")
    client.rpush(f"{key}:applied", "yes")


def dead_webhook() -> tuple[str, str]:
    with Session.begin() as session:
        factories.product(session, "TEE-1")
        order = factories.order(session, lines={"TEE-1": 1}, payment_intent_id="pi_browser")
        event = stripe_events.payment_succeeded(order)
        factories.inbox_event(session, event, status="dead").last_error = "TimeoutError: db"
        return event["id"], str(order.id)


def status_changes(order_id: str) -> int:
    with Session() as session:
        return session.scalar(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == uuid.UUID(order_id), OrderEvent.kind == "status_changed")
        )


def reload_until(page, selector: str, text: str) -> None:
    for _ in range(100):
        if text in page.locator(selector).inner_text():
            return
        page.wait_for_timeout(100)
        page.reload()
    sync_api.expect(page.locator(selector)).to_contain_text(text)


@pytest.mark.usefixtures("worker")
def test_an_operator_fixes_the_fleet_and_a_viewer_only_looks(live_server, broker, page):
    expect = sync_api.expect
    make_user("ops@example.com", "operator")
    make_user("viewer@example.com", "viewer")
    event_id, paid_order_id = dead_webhook()
    stuck_order_id = failed_confirmation()
    apply_once.send(KEY)
    wait_until(lambda: broker.client.zcard("dramatiq:admin_browser.XQ"))
    log_in(page, live_server, "ops@example.com")

    # A dead letter, with its error, requeued once the cause is fixed: applied once.
    page.click("header nav >> text=Dead letters")
    row = page.locator("#dead-letters tr", has_text="admin_browser_apply")
    expect(row).to_contain_text(f"Declined: supplier API refused {KEY}")
    broker.client.set(f"{KEY}:fixed", "1")
    row.locator("button", has_text="Requeue").click()
    expect(page.locator(".flash")).to_contain_text("Requeued")
    wait_until(lambda: broker.client.llen(f"{KEY}:applied"))
    page.reload()
    expect(page.locator("#dead-letters")).not_to_contain_text("admin_browser_apply")
    assert broker.client.llen(f"{KEY}:applied") == 1

    # A dead webhook replayed from its page: processed, the order paid, applied once.
    page.goto(f"{live_server}/admin/webhooks?status=dead")
    page.click(f"a[href='/admin/webhooks/{event_id}']")
    expect(page.locator("#last-error")).to_contain_text("TimeoutError: db")
    page.click("#replay-form button")
    reload_until(page, "#event-status", "processed")
    assert order_status(paid_order_id) == "paid" and status_changes(paid_order_id) == 1
    with Session() as session:
        assert session.get(WebhookEvent, event_id).status == "processed"

    # Run now records a manual run.
    page.click("header nav >> text=Schedules")
    job = page.locator("#job-cleanup_checked_out_carts")
    job.locator("button", has_text="Run now").click()
    expect(page.locator(".flash")).to_contain_text("cleanup_checked_out_carts is queued")
    reload_until(page, "#job-cleanup_checked_out_carts", "success")
    expect(page.locator("#job-cleanup_checked_out_carts")).to_contain_text("(manual)")

    # A reconciliation entry retried once the stock is back: it leaves the list.
    with Session.begin() as session:
        session.get(StockLevel, ("SKU-9", "main")).on_hand = 5
    page.click("header nav >> text=Reconciliation")
    page.locator(f"#order-{stuck_order_id} button", has_text="Retry now").click()
    expect(page.locator(".flash")).to_contain_text("Confirmed")
    expect(page.locator(f"#order-{stuck_order_id}")).to_have_count(0)

    # A viewer sees every page, a dead letter among them, and no action button.
    apply_once.send("other")
    wait_until(lambda: broker.client.zcard("dramatiq:admin_browser.XQ"))
    page.click("text=Log out")
    log_in(page, live_server, "viewer@example.com")
    for path in [*PAGES, f"/admin/webhooks/{event_id}"]:
        page.goto(f"{live_server}{path}")
        expect(page.locator("h1")).to_be_visible()
        expect(page.locator("main form[method=post]")).to_have_count(0)
        expect(page.locator("#requeue-all, #replay-all")).to_have_count(0)
    page.goto(f"{live_server}/admin/dead-letters")
    expect(page.locator("#dead-letters")).to_contain_text("supplier API refused other")
