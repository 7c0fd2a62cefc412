"""Reservations are all-or-nothing, expire on time, and confirmations never go negative."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from models.base import utcnow
from models.db import Session
from models.stock import availability, reservations
from models.stock.tables import Reservation, StockLevel
from tests.support import factories

LATER = dt.timedelta(minutes=15)


def hold(session, order, quantities, *, expires_in=LATER):
    return reservations.reserve(
        session, order_id=order.id, quantities=quantities, expires_at=utcnow() + expires_in
    )


def test_reserve_is_all_or_nothing():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 5})
        factories.product(session, "B", stock={"main": 1})
        order = factories.order(session)
        reserved = reservations.reserve(
            session, order_id=order.id, quantities={"A": 2, "B": 3}, expires_at=utcnow() + LATER
        )
        assert reserved.shortfalls == [reservations.Shortfall("B", 3, 1)]
        assert session.scalars(select(Reservation)).all() == []


def test_reservation_spans_warehouses_and_counts_against_availability():
    with Session.begin() as session:
        factories.product(session, "A", stock={"east": 2, "main": 3})
        order = factories.order(session)
        assert not reservations.reserve(
            session, order_id=order.id, quantities={"A": 4}, expires_at=utcnow() + LATER
        ).shortfalls
        held = {r.warehouse: r.quantity for r in session.scalars(select(Reservation))}
        assert held == {"east": 2, "main": 2}
        assert availability.available_units(session, ["A", "missing"]) == {"A": 1, "missing": 0}


def test_expired_reservation_stops_counting_before_any_job_releases_it():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 2})
        order = factories.order(session)
        reservations.reserve(
            session,
            order_id=order.id,
            quantities={"A": 2},
            expires_at=utcnow() - dt.timedelta(seconds=1),
        )
        assert availability.available_units(session, ["A"]) == {"A": 2}


def test_confirm_decrements_on_hand_once_and_release_frees_units():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 3})
        paid = factories.order(session)
        dropped = factories.order(session)
        reservations.reserve(
            session, order_id=paid.id, quantities={"A": 2}, expires_at=utcnow() + LATER
        )
        reservations.reserve(
            session, order_id=dropped.id, quantities={"A": 1}, expires_at=utcnow() + LATER
        )
        assert availability.available_units(session, ["A"]) == {"A": 0}

        assert reservations.confirm(session, order_id=paid.id) == []
        assert reservations.confirm(session, order_id=paid.id) == []
        assert reservations.release(session, order_id=dropped.id) == 1
        assert session.get(StockLevel, ("A", "main")).on_hand == 1
        assert availability.available_units(session, ["A"]) == {"A": 1}


def test_confirm_reports_instead_of_overselling_when_units_went_elsewhere():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 1})
        late = factories.order(session)
        other = factories.order(session)
        reservations.reserve(
            session,
            order_id=late.id,
            quantities={"A": 1},
            expires_at=utcnow() - dt.timedelta(minutes=1),
        )
        reservations.reserve(
            session, order_id=other.id, quantities={"A": 1}, expires_at=utcnow() + LATER
        )

        errors = reservations.confirm(session, order_id=late.id)

        assert [(e["sku"], e["available"]) for e in errors] == [("A", 0)]
        assert session.get(StockLevel, ("A", "main")).on_hand == 1


def test_a_live_reservation_is_confirmed_from_on_hand_even_when_others_oversubscribe():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 3})
        paid, waiting = factories.order(session), factories.order(session)
        hold(session, paid, {"A": 2})
        hold(session, waiting, {"A": 1})
        level = session.get(StockLevel, ("A", "main"))
        level.on_hand = 2  # a stock count found one unit fewer than both orders hold

        assert reservations.confirm(session, order_id=paid.id) == []
        assert level.on_hand == 0  # the object the caller holds is reloaded, not stale

        errors = reservations.confirm(session, order_id=waiting.id)
        assert [(e["sku"], e["available"]) for e in errors] == [("A", 0)]


def test_an_expired_reservation_is_confirmed_only_from_units_no_live_hold_needs():
    with Session.begin() as session:
        factories.product(session, "A", stock={"main": 3})
        late, live = factories.order(session), factories.order(session)
        hold(session, late, {"A": 2}, expires_in=-LATER)
        hold(session, live, {"A": 2})

        errors = reservations.confirm(session, order_id=late.id)

        assert [(e["quantity"], e["available"]) for e in errors] == [(2, 1)]
        assert session.get(StockLevel, ("A", "main")).on_hand == 3
        assert reservations.confirm(session, order_id=live.id) == []
        assert session.get(StockLevel, ("A", "main")).on_hand == 1


def test_an_order_split_over_warehouses_confirms_each_warehouses_units():
    with Session.begin() as session:
        factories.product(session, "A", stock={"east": 2, "west": 3})
        factories.product(session, "B", stock={"west": 1})
        order = factories.order(session)
        reserved = hold(session, order, {"A": 4, "B": 1})
        # No places: rank by code, so east's units of A go first.
        assert {p.warehouse: p.lines for p in reserved.allocation.parts} == {
            "east": {"A": 2},
            "west": {"A": 2, "B": 1},
        }

        assert reservations.confirm(session, order_id=order.id) == []

        levels = session.scalars(select(StockLevel).order_by(StockLevel.sku, StockLevel.warehouse))
        assert [(s.sku, s.warehouse, s.on_hand) for s in levels] == [
            ("A", "east", 0),
            ("A", "west", 1),
            ("B", "west", 0),
        ]
