"""Stripe events are applied exactly once by real workers, whatever fails on the way."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from cli import main as cartfleet
from jobs import stripe_handlers
from jobs.stripe_events import process_stripe_event, sweep_stuck_webhooks
from models import inbox
from models.base import utcnow
from models.db import Session
from models.inbox import WebhookEvent
from models.infra.outbox import OutboxMessage
from models.orders.tables import Order
from models.orders.timeline import OrderEvent
from models.stock.tables import StockLevel
from services import outbox
from tests.support import factories, stripe_events
from tests.support.outages import redis_outage
from tests.support.workers import spawn_worker
from worker import dead_letters


@pytest.fixture
def pipeline(broker):
    """A real worker on the webhook queues; call the fixture's value to drain them."""
    with stripe_events.pipeline_worker(broker) as worker:
        yield lambda timeout=30: stripe_events.drain_pipeline(broker, worker, timeout=timeout)


@pytest.fixture
def fast_retries(monkeypatch):
    """Backoff in tens of milliseconds and 3 retries, so retry paths run in a second."""
    for name, value in (("min_backoff", 20), ("max_backoff", 80), ("max_retries", 3)):
        monkeypatch.setitem(process_stripe_event.options, name, value)


def new_order(**options) -> Order:
    with Session.begin() as session:
        return stripe_events.checkout(session, **options)


def deliver(client, event) -> None:
    response = stripe_events.post(client, event)
    assert response.status_code == 200, response.json


def inbox_row(event_id: str) -> WebhookEvent:
    with Session() as session:
        return session.get(WebhookEvent, event_id)


def on_hand(sku: str = "SKU-A") -> int:
    with Session() as session:
        return session.get(StockLevel, (sku, "main")).on_hand


def events_of(order_id, kind: str) -> int:
    with Session() as session:
        return session.scalar(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == order_id, OrderEvent.kind == kind)
        )


def email_jobs(order_id) -> int:
    with Session() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.actor_name == "send_order_email")
        ).all()
    return sum(1 for row in rows if row.args == [str(order_id), "order_confirmation"])


def test_succeeded_event_pays_confirms_stock_completes_cart_and_queues_email(client, pipeline):
    order = new_order(lines={"SKU-A": 2})
    event = stripe_events.payment_succeeded(order)

    deliver(client, event)
    pipeline()

    row = inbox_row(event["id"])
    assert (row.status, row.attempts, row.processed_at is not None) == ("processed", 1, True)
    with Session() as session:
        paid = session.get(Order, order.id)
        assert paid.status == "paid" and paid.paid_at is not None
        assert {r.status for r in paid.reservations} == {"confirmed"}
        from models.carts.tables import Cart

        cart = session.get(Cart, order.cart_id)
        assert (cart.status, cart.is_active, cart.items) == ("completed", False, [])
    assert on_hand() == 8
    assert email_jobs(order.id) == 1


def test_the_same_event_posted_20_times_concurrently_has_one_effect(app, pipeline):
    order = new_order(lines={"SKU-A": 3})
    event = stripe_events.payment_succeeded(order)
    barrier = threading.Barrier(20)
    answers = []

    def post_once():
        client = app.test_client()
        barrier.wait()
        answers.append(stripe_events.post(client, event))

    threads = [threading.Thread(target=post_once) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pipeline()

    assert [r.status_code for r in answers] == [200] * 20
    assert sorted(r.json["duplicate"] for r in answers) == [False] + [True] * 19
    assert on_hand() == 7
    assert events_of(order.id, "payment_succeeded") == 1
    assert email_jobs(order.id) == 1


def test_an_event_with_no_handler_ends_ignored_with_its_attempt_and_error_kept(broker):
    event = stripe_events.event("customer.created", {"id": "cus_1"})
    with Session.begin() as session:
        factories.inbox_event(session, event, status="failed")
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == event["id"])
            .values(attempts=2, last_error="earlier failure")
        )

    process_stripe_event.fn(event["id"])

    row = inbox_row(event["id"])
    assert (row.status, row.attempts, row.last_error, row.reason) == (
        "ignored",
        3,
        "earlier failure",
        None,
    )
    assert row.processed_at is not None


def test_a_final_row_is_left_as_it_is(broker):
    order = new_order(lines={"SKU-A": 1})
    event = stripe_events.payment_succeeded(order)
    with Session.begin() as session:
        factories.inbox_event(session, event)
    process_stripe_event.fn(event["id"])
    first = inbox_row(event["id"])

    process_stripe_event.fn(event["id"])
    process_stripe_event.fn("evt_never_stored")

    again = inbox_row(event["id"])
    assert (again.status, again.attempts, again.processed_at) == (
        "processed",
        1,
        first.processed_at,
    )
    assert events_of(order.id, "payment_succeeded") == 1
    assert email_jobs(order.id) == 1


def test_payment_failed_keeps_the_reservation_for_another_try(client, pipeline):
    order = new_order()
    deliver(client, stripe_events.payment_failed(order))
    pipeline()

    with Session() as session:
        failed = session.get(Order, order.id)
        assert failed.status == "payment_failed"
        assert {r.status for r in failed.reservations} == {"active"}

    deliver(client, stripe_events.payment_succeeded(order))
    pipeline()
    with Session() as session:
        assert session.get(Order, order.id).status == "paid"
    assert on_hand() == 8


def test_canceled_releases_reservations_and_reactivates_the_cart(client, pipeline):
    from models.carts.tables import Cart

    order = new_order()
    deliver(client, stripe_events.payment_canceled(order))
    pipeline()

    with Session() as session:
        canceled = session.get(Order, order.id)
        assert canceled.status == "canceled"
        assert {r.status for r in canceled.reservations} == {"released"}
        cart = session.get(Cart, order.cart_id)
        assert (cart.status, cart.is_active, len(cart.items)) == ("active", True, 1)
    assert on_hand() == 10


@pytest.mark.parametrize(
    ("refund_event", "status", "refunded_cents"),
    [
        (
            lambda o: stripe_events.charge_refunded(o, amount_refunded=500),
            "partially_refunded",
            500,
        ),
        (lambda o: stripe_events.charge_refunded(o), "refunded", 2000),
        (lambda o: stripe_events.refund_updated(o, amount=2000), "refunded", 2000),
        (lambda o: stripe_events.refund_updated(o, amount=500, status="pending"), "paid", 0),
    ],
)
def test_refunds_compare_the_refunded_amount_with_the_total(
    client, pipeline, refund_event, status, refunded_cents
):
    order = new_order(lines={"SKU-A": 2})  # total 2000
    deliver(client, stripe_events.payment_succeeded(order, created=1_000))
    pipeline()
    deliver(client, refund_event(order) | {"created": 2_000})
    pipeline()

    with Session() as session:
        refunded = session.get(Order, order.id)
        assert (refunded.status, refunded.refunded_cents) == (status, refunded_cents)
    assert on_hand() == 8  # sold stock is not restocked by a refund


def test_refund_arriving_before_the_success_it_follows_wins(client, pipeline):
    order = new_order(lines={"SKU-A": 2})
    succeeded = stripe_events.payment_succeeded(order, created=1_000)
    refund = stripe_events.charge_refunded(order, created=1_100)

    deliver(client, refund)
    pipeline()
    deliver(client, succeeded)
    pipeline()

    with Session() as session:
        final = session.get(Order, order.id)
        assert final.status == "refunded"
        assert final.paid_at == dt.datetime.fromtimestamp(1_000, dt.UTC)
        assert {r.status for r in final.reservations} == {"released"}
    assert on_hand() == 10  # fully refunded before anything shipped: nothing sold
    assert email_jobs(order.id) == 0
    assert inbox_row(succeeded["id"]).status == "processed"


def test_partial_refund_before_success_confirms_stock_once(client, pipeline):
    order = new_order(lines={"SKU-A": 2})
    deliver(client, stripe_events.charge_refunded(order, amount_refunded=700, created=1_100))
    deliver(client, stripe_events.payment_succeeded(order, created=1_000))
    pipeline()

    with Session() as session:
        assert session.get(Order, order.id).status == "partially_refunded"
    assert on_hand() == 8
    assert email_jobs(order.id) == 1


def test_a_late_failure_never_undoes_a_payment(client, pipeline):
    order = new_order()
    deliver(client, stripe_events.payment_succeeded(order, created=1_000))
    pipeline()
    deliver(client, stripe_events.payment_failed(order, created=900))
    deliver(client, stripe_events.payment_canceled(order, created=950))
    pipeline()

    with Session() as session:
        assert session.get(Order, order.id).status == "paid"
    assert on_hand() == 8


def test_stock_that_cannot_be_confirmed_is_recorded_and_the_event_still_processed(client, pipeline):
    order = new_order(lines={"SKU-A": 2}, stock={"SKU-A": 2})
    with Session.begin() as session:
        session.execute(update(StockLevel).values(on_hand=1))  # units went elsewhere
    event = stripe_events.payment_succeeded(order)

    deliver(client, event)
    pipeline()

    assert inbox_row(event["id"]).status == "processed"
    with Session() as session:
        paid = session.get(Order, order.id)
        assert paid.status == "paid"
        errors = paid.confirmation_errors
        assert [(e["sku"], e["quantity"]) for e in errors] == [("SKU-A", 2)]
    assert on_hand() == 1


def test_a_locked_cart_is_left_for_the_cleanup_job_and_counted(client, pipeline, alerts):
    from jobs.metrics import CART_CLEANUP_FAILED
    from models.carts.tables import Cart

    order = new_order()
    before = CART_CLEANUP_FAILED._value.get()
    event = stripe_events.payment_succeeded(order)
    with Session.begin() as blocker:
        blocker.get(Cart, order.cart_id, with_for_update=True)  # a request holds the cart
        deliver(client, event)
        pipeline()

    assert inbox_row(event["id"]).status == "processed"
    with Session() as session:
        assert session.get(Order, order.id).status == "paid"
        assert session.get(Cart, order.cart_id).status == "checkout"
    assert CART_CLEANUP_FAILED._value.get() == before + 1
    assert [a["text"].splitlines()[0] for a in alerts.received] == [
        "*Cart of a paid order left for the cleanup job*"
    ]


def test_handler_failing_three_times_succeeds_on_the_fourth_without_duplicate_effect(
    client, pipeline, fast_retries, monkeypatch
):
    order = new_order(lines={"SKU-A": 2})
    real, calls = stripe_handlers.apply_event, []

    def flaky(session, event):
        outcome = real(session, event)  # the effect is applied, then the attempt fails
        calls.append(1)
        if len(calls) <= 3:
            raise RuntimeError(f"transient failure {len(calls)}")
        return outcome

    monkeypatch.setattr(stripe_handlers, "apply_event", flaky)
    event = stripe_events.payment_succeeded(order)
    deliver(client, event)
    pipeline()

    row = inbox_row(event["id"])
    assert (row.status, row.attempts, row.last_error) == ("processed", 4, None)
    assert on_hand() == 8
    assert events_of(order.id, "payment_succeeded") == 1
    assert email_jobs(order.id) == 1


def test_always_failing_event_goes_dead_then_dlq_requeue_applies_it_once(
    broker, client, pipeline, fast_retries, monkeypatch, alerts
):
    order = new_order(lines={"SKU-A": 2})
    real = stripe_handlers.apply_event

    def broken(session, event):
        raise RuntimeError("handler is broken")

    monkeypatch.setattr(stripe_handlers, "apply_event", broken)
    event = stripe_events.payment_succeeded(order)
    deliver(client, event)
    pipeline()

    row = inbox_row(event["id"])
    assert row.status == "dead" and row.attempts == 4
    assert "Traceback" in row.last_error and "RuntimeError: handler is broken" in row.last_error
    [letter] = dead_letters.list_dead_letters(queue="webhooks")
    assert letter.args == [event["id"]]
    assert letter.error == "RuntimeError: handler is broken"
    assert broker.client.zcard("dramatiq:webhooks.XQ") == 1
    assert alerts.received and alerts.received[0]["text"].startswith(
        "*Stripe webhook dead-lettered*"
    )

    monkeypatch.setattr(stripe_handlers, "apply_event", real)  # the fix is deployed
    result = CliRunner().invoke(cartfleet, ["dlq", "requeue", "--queue", "webhooks"])
    assert result.exit_code == 0, result.output
    assert "requeued 1" in result.output
    result = CliRunner().invoke(cartfleet, ["dlq", "requeue", letter.message_id])
    assert "requeued 0" in result.output  # already back on its queue
    pipeline()

    assert inbox_row(event["id"]).status == "processed"
    assert broker.client.zcard("dramatiq:webhooks.XQ") == 0
    assert on_hand() == 8
    assert events_of(order.id, "payment_succeeded") == 1


def test_event_for_an_unknown_order_is_retried_then_dead_never_dropped(
    client, pipeline, fast_retries
):
    ghost = Order(id=uuid.uuid4(), total_cents=2000, currency="usd", payment_intent_id="pi_late")
    event = stripe_events.payment_succeeded(ghost)
    deliver(client, event)
    pipeline()

    row = inbox_row(event["id"])
    assert row.status == "dead" and "OrderNotFound" in row.last_error
    assert len(dead_letters.list_dead_letters(actor="process_stripe_event")) == 1

    order = new_order(lines={"SKU-A": 2})  # the order shows up after all
    with Session.begin() as session:
        session.get(Order, order.id).payment_intent_id = "pi_late"
    result = CliRunner().invoke(cartfleet, ["webhooks", "replay", "--status", "dead"])
    assert result.exit_code == 0, result.output
    pipeline()

    assert inbox_row(event["id"]).status == "processed"
    with Session() as session:
        assert session.get(Order, order.id).status == "paid"


def test_webhooks_arriving_while_redis_is_down_are_all_applied_when_it_returns(
    broker, client, pipeline
):
    orders = [new_order(lines={f"SKU-{n}": 1}) for n in range(5)]
    with redis_outage(broker):
        answers = [stripe_events.post(client, stripe_events.payment_succeeded(o)) for o in orders]
    assert [a.status_code for a in answers] == [200] * 5

    assert outbox.relay(older_than=dt.timedelta(0)) == 5
    pipeline()

    with Session() as session:
        assert {session.get(Order, o.id).status for o in orders} == {"paid"}
        assert inbox.counts_by_status(session)["processed"] == 5


def test_sweep_re_enqueues_events_stuck_in_received(pipeline):
    order = new_order()
    stuck = stripe_events.payment_succeeded(order)
    fresh = stripe_events.payment_failed(order)
    with Session.begin() as session:  # stored, but their jobs were lost
        factories.inbox_event(session, stuck)
        factories.inbox_event(session, fresh)
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == stuck["id"])
            .values(received_at=utcnow() - dt.timedelta(minutes=3))
        )

    sweep_stuck_webhooks()
    pipeline()

    assert inbox_row(stuck["id"]).status == "processed"
    assert inbox_row(fresh["id"]).status == "received"


@pytest.mark.slow  # a process of its own: make test-slow
def test_worker_killed_mid_event_applies_it_exactly_once(broker, client, monkeypatch):
    order = new_order(lines={"SKU-A": 2})
    key = f"test:webhook-hold:{uuid.uuid4().hex}"
    monkeypatch.setenv(stripe_events.HOLD_KEY_ENV, key)
    event = stripe_events.payment_succeeded(order)
    first = spawn_worker("tests.support.stripe_events")
    second = None
    try:
        deliver(client, event)
        wait_until(lambda: broker.client.lrange(key, 0, -1) == [b"started"], timeout=60)
        os.killpg(first.pid, signal.SIGKILL)  # effect applied, not committed
        first.wait(timeout=10)
        second = spawn_worker("tests.support.stripe_events")

        wait_until(lambda: inbox_row(event["id"]).status == "processed", timeout=90)
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)

    assert broker.client.lrange(key, 0, -1) == [b"started", b"started"]
    assert inbox_row(event["id"]).attempts == 1
    assert on_hand() == 8
    assert events_of(order.id, "payment_succeeded") == 1


def wait_until(predicate, *, timeout: float, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)
