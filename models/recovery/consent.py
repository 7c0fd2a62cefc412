"""Marketing consent on a cart, unsubscribes, and clicks on recovery links."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, case, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models import db
from models.carts.tables import Cart
from models.db import affected_rows
from models.recovery.tables import RecoveryStep, StepStatus, Suppression


def record_consent(session: Session, *, cart: Cart, consent: bool, now: dt.datetime) -> None:
    """Record the buyer's answer: consent keeps its first time, a refusal clears it."""
    if not consent:
        cart.marketing_consent_at = None
    elif cart.marketing_consent_at is None:
        cart.marketing_consent_at = now
    session.flush()


_CARTS = Cart.__table__
# A consent keeps its first time; a refusal clears it. No new cart version: as above.
_SET_CONSENT = (
    update(_CARTS)
    .where(_CARTS.c.id == bindparam("consent_cart_id"))
    .values(
        marketing_consent_at=case(
            (bindparam("consent"), func.coalesce(_CARTS.c.marketing_consent_at, bindparam("now"))),
            else_=None,
        )
    )
)


def record_consent_by_id(
    session: Session, *, cart_id: str, consent: bool, now: dt.datetime
) -> None:
    """``record_consent`` for a cart the caller holds locked but has not loaded (checkout).

    One prebuilt statement on the session's connection; a ``Cart`` the session holds is
    expired.
    """
    db.flush_if_pending(session, Cart)
    session.connection().execute(
        _SET_CONSENT, {"consent_cart_id": cart_id, "consent": consent, "now": now}
    )
    db.expire_loaded(session, Cart, [cart_id])


def unsubscribe(session: Session, *, address_hash: str, now: dt.datetime) -> bool:
    """Suppress the address for good; returns whether it was new (a repeat is harmless)."""
    return (
        affected_rows(
            session,
            insert(Suppression)
            .values(email_hash=address_hash, created_at=now)
            .on_conflict_do_nothing(index_elements=[Suppression.email_hash]),
        )
        == 1
    )


def record_click(session: Session, *, cart_id: str, step: str, now: dt.datetime) -> bool:
    """Count an opened recovery link of a sent step; returns whether it was the first."""
    row = session.get(RecoveryStep, (cart_id, step), with_for_update=True)
    if row is None or row.status != StepStatus.SENT:
        return False
    first = row.clicked_at is None
    row.clicks += 1
    row.clicked_at = row.clicked_at or now
    session.flush()
    return first


def sent_step(session: Session, *, cart_id: str, step: str) -> RecoveryStep | None:
    """The step if it was sent (a link names only a sent step)."""
    row = session.get(RecoveryStep, (cart_id, step))
    return row if row is not None and row.status == StepStatus.SENT else None
