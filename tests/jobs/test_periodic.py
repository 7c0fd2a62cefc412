"""The scheduled actors run on a real worker: effects, job_runs rows, metrics, limits."""

from __future__ import annotations

import datetime as dt

import dramatiq
import pendulum
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from jobs import carts, orders
from jobs.outbox import prune_outbox, relay_outbox
from models.base import utcnow
from models.carts.tables import Cart
from models.db import Session
from models.infra.job_runs import JobRun
from models.orders.tables import Order
from models.stock import reservations
from models.stock.tables import StockLevel
from tests.support import factories

SCHEDULES = {
    "cleanup_checked_out_carts": ("*/5 * * * *", 60_000),
    "purge_expired_sessions": ("0 2 * * *", 300_000),
    "retry_reservation_confirmations": ("*/15 * * * *", 120_000),
    "release_expired_reservations": ("* * * * *", 60_000),
    "reconcile_payment_intents": ("*/2 * * * *", 120_000),
    "backfill_stripe_events": ("*/10 * * * *", 300_000),
    "resend_lost_confirmations": ("*/5 * * * *", 60_000),
    "rebuild_recommendations": ("0 4 * * *", 900_000),
}


@pytest.fixture
def skus():
    with Session.begin() as session:
        factories.product(session, "SKU-1", stock={"main": 50})


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def job_runs(job: str) -> list[JobRun]:
    with Session() as session:
        return list(session.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.id)))


def tick() -> str:
    return pendulum.now("UTC").start_of("minute").isoformat()


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_and_time_limit_are_configured(name):
    actor = dramatiq.get_broker().get_actor(name)
    spec, time_limit = SCHEDULES[name]
    assert str(actor.options["periodic"]) == spec
    assert actor.options["time_limit"] == time_limit
    assert actor.queue_name == "maintenance"


def test_outbox_jobs_are_periodic_too():
    assert str(relay_outbox.options["periodic"]) == "* * * * *"
    assert str(prune_outbox.options["periodic"]) == "30 3 * * *"


def test_cleanup_job_completes_paid_carts_records_the_run_and_counts(skus, drain_queues):
    with Session.begin() as session:
        cart_ids = []
        for status in ("paid", "paid", "pending_payment"):
            order = factories.order(session, status=status, lines={"SKU-1": 1})
            cart_ids.append(
                factories.cart_row(
                    session, lines={"SKU-1": 1}, status="checkout", order_id=order.id
                ).id
            )
    executions = metric("checkout_cleanup_job_executions_total")
    successes = metric("checkout_cleanup_job_success_total")
    processed = metric("checkout_cleanup_job_carts_processed_sum")

    carts.cleanup_checked_out_carts.send_with_options(scheduled_at=tick())
    drain_queues()

    with Session() as session:
        assert [session.get(Cart, cart_id).status for cart_id in cart_ids] == [
            "completed",
            "completed",
            "checkout",
        ]
    [run] = job_runs("cleanup_checked_out_carts")
    assert (run.outcome, run.items_processed) == ("success", 2)
    assert metric("checkout_cleanup_job_executions_total") == executions + 1
    assert metric("checkout_cleanup_job_success_total") == successes + 1
    assert metric("checkout_cleanup_job_carts_processed_sum") == processed + 2
    assert metric("checkout_carts_pending_cleanup") == 0


def test_cleanup_job_processes_at_most_100_carts_per_run(skus):
    with Session.begin() as session:
        for _ in range(103):
            order = factories.order(session, status="paid", lines={"SKU-1": 1})
            factories.cart_row(session, status="checkout", order_id=order.id)

    assert carts.cleanup_checked_out_carts() == 100
    assert metric("checkout_carts_pending_cleanup") == 3
    assert carts.cleanup_checked_out_carts() == 3
    assert carts.cleanup_checked_out_carts() == 0


def test_purge_job_deletes_old_carts_and_counts_them(skus, drain_queues):
    with Session.begin() as session:
        for _ in range(3):
            factories.cart_row(
                session, lines={"SKU-1": 1}, expires_at=utcnow() - dt.timedelta(days=8)
            )
        kept = factories.cart_row(session, expires_at=utcnow() - dt.timedelta(days=2)).id
    cleaned = metric("cart_expired_sessions_cleaned_total")

    carts.purge_expired_sessions.send_with_options(scheduled_at=tick())
    drain_queues()

    with Session() as session:
        assert [cart.id for cart in session.scalars(select(Cart))] == [kept]
    assert metric("cart_expired_sessions_cleaned_total") == cleaned + 3
    [run] = job_runs("purge_expired_sessions")
    assert (run.outcome, run.items_processed) == ("success", 3)


def test_purge_out_of_time_hands_the_rest_to_a_follow_up_run(skus, drain_queues, monkeypatch):
    with Session.begin() as session:
        for day in range(5):
            factories.cart_row(session, expires_at=utcnow() - dt.timedelta(days=10 + day))
    monkeypatch.setattr(carts, "PURGE_BATCH_CARTS", 2)
    monkeypatch.setattr(carts, "PURGE_BUDGET_S", 0)

    carts.purge_expired_sessions.send_with_options(scheduled_at=tick())
    drain_queues()

    with Session() as session:
        assert session.scalar(select(func.count()).select_from(Cart)) == 0
    runs = job_runs("purge_expired_sessions")
    assert [run.items_processed for run in runs] == [2, 2, 1]
    assert [run.scheduled_for is None for run in runs] == [False, True, True]


def test_retry_job_confirms_once_stock_is_back(skus, drain_queues):
    with Session.begin() as session:
        order = factories.order(session, status="paid", lines={"SKU-1": 2})
        reservations.reserve(
            session, order_id=order.id, quantities={"SKU-1": 2}, expires_at=utcnow()
        )
        order.confirmation_errors = [{"sku": "SKU-1", "error": "insufficient stock"}]
        order.confirmation_attempts = 1
        order.next_confirmation_at = utcnow() - dt.timedelta(minutes=1)

    orders.retry_reservation_confirmations.send_with_options(scheduled_at=tick())
    drain_queues()

    with Session() as session:
        assert session.get(Order, order.id).confirmation_errors is None
        assert session.get(StockLevel, ("SKU-1", "main")).on_hand == 48
    [run] = job_runs("retry_reservation_confirmations")
    assert (run.outcome, run.items_processed) == ("success", 1)


def test_retry_job_alerts_when_an_order_needs_manual_reconciliation(skus, caplog):
    with Session.begin() as session:
        order = factories.order(session, status="paid", lines={"SKU-1": 2})
        reservations.reserve(
            session, order_id=order.id, quantities={"SKU-1": 2}, expires_at=utcnow()
        )
        session.get(StockLevel, ("SKU-1", "main")).on_hand = 1
        order.confirmation_errors = [{"sku": "SKU-1", "error": "insufficient stock"}]
        order.confirmation_attempts = 4
        order.next_confirmation_at = utcnow() - dt.timedelta(minutes=1)

    assert orders.retry_reservation_confirmations() == 1
    assert orders.retry_reservation_confirmations() == 0

    with Session() as session:
        assert session.get(Order, order.id).needs_manual_reconciliation is True
    alerts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ALERT")]
    assert len(alerts) == 1
    assert order.order_number in alerts[0]


def test_purge_reads_candidates_in_chunks_and_deletes_in_batches(skus, monkeypatch):
    with Session.begin() as session:
        for day in range(5):
            factories.cart_row(session, expires_at=utcnow() - dt.timedelta(days=10 + day))
        kept = factories.cart_row(session, expires_at=utcnow() - dt.timedelta(days=3)).id
    monkeypatch.setattr(carts, "PURGE_CHUNK_CARTS", 3)
    monkeypatch.setattr(carts, "PURGE_READ_CARTS", 2)

    batches = list(carts.purge_batches(batch_size=2))

    assert batches == [2, 1, 2]
    with Session() as session:
        assert [cart.id for cart in session.scalars(select(Cart))] == [kept]
