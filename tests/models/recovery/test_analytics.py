"""The funnel and recovery figures on a seeded data set with known answers."""

from __future__ import annotations

import datetime as dt

import pytest

from models.carts.tables import CartEvent, DiscountCode
from models.db import Session
from models.recovery import analytics
from models.recovery.tables import RecoveryStep, Suppression
from tests.support import factories

T = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
START, END = T - dt.timedelta(days=10), T + dt.timedelta(days=10)
MINUTE = dt.timedelta(minutes=1)


def cart(session, *events, created=T):
    """A cart with a ``created`` event at ``created`` and (kind, sku, at) events."""
    row = factories.cart_row(session)
    session.add(CartEvent(cart_id=row.id, kind="created", at=created))
    for kind, sku, at in events:
        session.add(CartEvent(cart_id=row.id, kind=kind, sku=sku, quantity=1, at=at))
    session.flush()
    return row


def order(session, cart_row, *, status="paid", subtotal=1000, created=T, paid=None, **fields):
    row = factories.order(session, status=status, created_at=created)
    row.cart_id, row.subtotal_cents, row.total_cents = cart_row.id, subtotal, subtotal
    row.paid_at = paid
    for name, value in fields.items():
        setattr(row, name, value)
    session.flush()
    return row


@pytest.fixture
def products():
    with Session.begin() as session:
        for sku in ("A", "B"):
            factories.product(session, sku)


def test_funnel_counts_rates_value_products_and_completion_times(products):
    with Session.begin() as session:
        start = T + MINUTE
        one = cart(session, ("item_added", "A", T), ("checkout_started", None, start))
        order(session, one, subtotal=1000, paid=start + dt.timedelta(seconds=60))
        two = cart(
            session,
            ("item_added", "A", T),
            ("item_added", "B", T),
            ("checkout_started", None, start),
        )
        order(session, two, subtotal=2000, paid=start + dt.timedelta(seconds=300))
        three = cart(session, ("item_added", "B", T), ("checkout_started", None, start))
        order(session, three, status="payment_failed", subtotal=3000)
        cart(session, ("item_added", "B", T))
        cart(session)
        cart(session, ("item_added", "A", T), created=START - MINUTE)  # before the period

    with Session() as session:
        figures = analytics.funnel(session, start=START, end=END)

    assert figures["steps"] == [
        {"step": "cart_created", "count": 5, "abandonment_rate": None},
        {"step": "item_added", "count": 4, "abandonment_rate": 0.2},
        {"step": "checkout_started", "count": 3, "abandonment_rate": 0.25},
        {"step": "payment_succeeded", "count": 2, "abandonment_rate": 0.3333},
    ]
    assert figures["average_cart_value_cents"] == 2000
    assert figures["most_abandoned_products"] == [{"sku": "B", "name": "Product B", "carts": 2}]
    assert figures["checkout_completion_seconds"] == {"p50": 180.0, "p90": 276.0}


def step(session, cart_row, name, sent_at, **fields):
    session.add(
        RecoveryStep(
            cart_id=cart_row.id,
            step=name,
            status="sent",
            due_at=sent_at,
            claimed_at=sent_at,
            sent_at=sent_at,
            **fields,
        )
    )
    session.flush()


def test_recovery_attributes_each_order_to_the_last_reminder_before_it(products):
    hour = dt.timedelta(hours=1)
    with Session.begin() as session:
        pushed = cart(session)
        session.add(DiscountCode(code="BACK5-X", percent=5, cart_id=pushed.id))
        step(session, pushed, "email_1", T, discount_code="BACK5-X")
        step(session, pushed, "push", T + 22 * hour)
        order(
            session,
            pushed,
            subtotal=5000,
            created=T + 23 * hour,
            discount_code="BACK5-X",
            discount_cents=250,
            total_cents=4750,
        )
        clicked = cart(session)
        step(session, clicked, "email_1", T, clicks=2, clicked_at=T + hour)
        order(session, clicked, subtotal=3000, created=T + 2 * hour)
        step(session, cart(session), "email_1", T)  # reminded, never came back
        before = cart(session)
        order(session, before, subtotal=9000, created=T - hour)  # ordered before the reminder
        step(session, before, "email_1", T)
        unpaid = cart(session)
        step(session, unpaid, "email_1", T)
        order(session, unpaid, status="canceled", created=T + hour)
        step(session, cart(session), "abandon", T)  # not a reminder
        session.add_all(
            [
                Suppression(email_hash="a" * 64, created_at=T),
                Suppression(email_hash="b" * 64, created_at=START - hour),
            ]
        )

    with Session() as session:
        figures = analytics.recovery(session, start=START, end=END)

    assert figures == {
        "reminders_sent": {"email_1": 5, "push": 1, "email_2": 0},
        "clicks": 2,
        "clicks_by_step": {"email_1": 2, "push": 0, "email_2": 0},
        "carts_reminded": 5,
        "carts_recovered": 2,
        "carts_recovered_by_step": {"email_1": 1, "push": 1, "email_2": 0},
        "recovery_rate": 0.4,
        "revenue_recovered_cents": {"usd": 4750 + 3000},
        "discount_given_cents": {"usd": 250},
        "unsubscribes": 1,
    }
