"""Marketing consent recorded by cart id (checkout's path)."""

from __future__ import annotations

import datetime as dt

from models.carts.tables import Cart
from models.db import Session
from models.recovery import consent
from tests.support import factories

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def consent_of(cart_id: str) -> tuple[dt.datetime | None, int]:
    with Session.begin() as session:
        cart = session.get_one(Cart, cart_id)
        return cart.marketing_consent_at, cart.version


def test_consent_keeps_its_first_time_and_a_refusal_clears_it():
    with Session.begin() as session:
        cart_id = factories.cart(session).id
    _, version = consent_of(cart_id)

    for answer, at in ((True, T0), (True, T0 + dt.timedelta(days=1)), (False, T0), (True, T0)):
        with Session.begin() as session:
            loaded = session.get_one(Cart, cart_id)
            consent.record_consent_by_id(session, cart_id=cart_id, consent=answer, now=at)
            # A Cart the session held is read again, not left stale.
            assert loaded.marketing_consent_at == (T0 if answer else None)
        assert consent_of(cart_id) == ((T0 if answer else None), version)
