"""The recommendations rebuild: neighbours from paid orders, scored, bounded, idempotent."""

from __future__ import annotations

import datetime as dt
import math
import threading

import pendulum
from sqlalchemy import select, text

from jobs import carts
from jobs import recommendations as job
from models import db
from models.base import utcnow
from models.db import Session
from models.infra.job_runs import JobRun
from models.recommendations import views
from models.recommendations.build import BuildSettings, try_lock, unlock
from models.recommendations.tables import ProductNeighbour, ProductSales, ProductView
from tests.support import factories


def _catalogue(session, *skus):
    for sku in skus:
        factories.product(session, sku)


def _neighbours(sku: str) -> list[tuple[str, int, float, int]]:
    with Session() as session:
        rows = session.execute(
            select(
                ProductNeighbour.neighbour_sku,
                ProductNeighbour.rank,
                ProductNeighbour.score,
                ProductNeighbour.co_purchases,
            )
            .where(ProductNeighbour.sku == sku)
            .order_by(ProductNeighbour.rank)
        )
        return [tuple(row) for row in rows]


def _history():
    """A and B bought together three times, A and C twice, A and D once, B alone twice;
    A with E in orders that were never paid."""
    with Session.begin() as session:
        _catalogue(session, "A", "B", "C", "D", "E")
        for lines in (["A", "B"], ["A", "B"], ["A", "B", "C"], ["A", "C"], ["A", "D"]):
            factories.order(session, lines=dict.fromkeys(lines, 1), status="paid")
        for _ in range(2):
            factories.order(session, lines={"B": 1}, status="shipped")
            factories.order(session, lines={"A": 1, "E": 1}, status="payment_failed")


def test_neighbours_are_co_purchases_over_the_minimum_support_scored_by_cosine():
    _history()

    result = job.rebuild(BuildSettings(min_support=2, top_n=5, batch_size=2))

    assert result.ran and result.products == 4  # A, B, C, D bought; E never paid
    # n(A) = 5 orders, n(B) = 5, n(C) = 2: cosine = co / sqrt(n_a * n_b).
    assert _neighbours("A") == [
        ("C", 1, 2 / math.sqrt(5 * 2), 2),
        ("B", 2, 3 / math.sqrt(5 * 5), 3),
    ]
    assert _neighbours("B") == [("A", 1, 3 / math.sqrt(5 * 5), 3)]
    assert _neighbours("D") == []  # once with A: under the support
    with Session() as session:
        sales = dict(session.execute(select(ProductSales.sku, ProductSales.orders)).all())
    assert sales == {"A": 5, "B": 5, "C": 2, "D": 1}


def test_top_n_keeps_the_best_neighbours_only():
    _history()

    job.rebuild(BuildSettings(min_support=2, top_n=1))

    assert [row[0] for row in _neighbours("A")] == ["C"]


def test_a_second_run_writes_the_same_table_and_drops_what_no_longer_holds():
    _history()
    job.rebuild(BuildSettings(min_support=2))
    first = {sku: _neighbours(sku) for sku in "ABCD"}

    job.rebuild(BuildSettings(min_support=2))
    assert {sku: _neighbours(sku) for sku in "ABCD"} == first

    with Session.begin() as session:
        session.execute(text("UPDATE orders SET status = 'refunded' WHERE status = 'paid'"))
    job.rebuild(BuildSettings(min_support=2))
    assert all(_neighbours(sku) == [] for sku in "ABCD")
    with Session() as session:
        assert dict(session.execute(select(ProductSales.sku, ProductSales.orders)).all()) == {
            "B": 2
        }


def test_a_rebuild_while_another_holds_the_lock_stops_without_writing():
    _history()
    with db.engine().connect() as holder:
        assert try_lock(holder)
        try:
            result = job.rebuild()
        finally:
            unlock(holder)
    assert result == job.RebuildResult(ran=False)
    assert _neighbours("A") == []


def test_two_rebuilds_at_once_leave_one_consistent_table():
    _history()
    threads = [threading.Thread(target=job.rebuild) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [row[0] for row in _neighbours("A")] == ["C", "B"]


def test_the_connection_goes_back_clean():
    _history()
    job.rebuild()
    with db.engine().connect() as connection:
        temp = connection.scalar(
            text("SELECT count(*) FROM pg_class WHERE relname IN ('rec_items', 'rec_baskets')")
        )
        locks = connection.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database ="
                " (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        )
    assert (temp, locks) == (0, 0)


def test_a_tick_runs_once_and_is_recorded_in_job_runs(drain_queues):
    _history()
    tick = pendulum.now("UTC").start_of("minute").isoformat()

    for _ in range(2):  # the same tick delivered twice (two schedulers)
        job.rebuild_recommendations.send_with_options(scheduled_at=tick)
    drain_queues()

    with Session() as session:
        runs = session.scalars(select(JobRun).where(JobRun.job == job.REBUILD_JOB)).all()
    assert [(run.outcome, run.items_processed) for run in runs] == [("success", 3)]
    assert [row[0] for row in _neighbours("A")] == ["C", "B"]


def test_the_session_purge_deletes_views_past_their_retention(drain_queues):
    _history()
    now = utcnow()
    with Session.begin() as session:
        for days, source in ((31, "old-1"), (45, "old-2"), (2, "fresh")):
            views.record(
                session,
                visitor_id="v1",
                sku="A",
                email=None,
                viewed_at=now - dt.timedelta(days=days),
                source_id=source,
            )

    assert carts.purge_views(batch_size=1) == 2

    with Session() as session:
        assert session.scalars(select(ProductView.source_id)).all() == ["fresh"]
