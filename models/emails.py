"""Outgoing emails; unique per (kind, order), or per (kind, cart) for the recovery
reminders, so a retry never sends twice.

An order email is sent in three steps, none of them holding a transaction or a lock
across the mail server's conversation: ``claim`` (the row locked for a moment) and
``start_sending`` commit the claim as status ``sending`` stamped with the attempt's time;
the message is handed to the server; ``record_sent`` / ``record_failed`` write the
outcome in a new transaction. A ``sending`` row whose attempt is younger than the send's
lease belongs to a live sender (``in_flight``); an older one was left by a sender that
died, and the next job takes it over.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    bindparam,
    func,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql.selectable import ExecutableReturnsRows

from models.base import Base, created_at, utcnow
from models.db import affected_rows
from models.orders.status import GOODS_OWED
from models.orders.tables import Order

SENDING = "sending"  # an attempt claimed and committed, its outcome not yet recorded


class Email(Base):
    __tablename__ = "emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    cart_id: Mapped[str | None] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None]
    created_at: Mapped[dt.datetime] = created_at()
    last_attempt_at: Mapped[dt.datetime | None]
    sent_at: Mapped[dt.datetime | None]

    __table_args__ = (
        UniqueConstraint("kind", "order_id"),
        UniqueConstraint("kind", "cart_id"),
        Index("ix_emails_cart_id", "cart_id"),
    )


_EMAILS = Email.__table__


def _claim_statement(owner: Column[object]) -> ExecutableReturnsRows:
    """Create the row if missing, else lock it (``SKIP LOCKED``), in one statement.

    The locking read sees the statement's snapshot, so it finds the row only when it
    existed before; a row this statement inserts comes back from the insert, locked as
    every new row is. An insert that lost a race to a concurrent one finds neither (the
    other claim holds the row), as if the row had been locked.
    """
    inserted = (
        insert(_EMAILS)
        .values(
            kind=bindparam("kind"),
            order_id=bindparam("order_id"),
            cart_id=bindparam("cart_id"),
            recipient=bindparam("recipient"),
            subject="",
            message_id=bindparam("message_id"),
        )
        .on_conflict_do_nothing(index_elements=[_EMAILS.c.kind, owner])
        .returning(*_EMAILS.c)
        .cte("inserted")
    )
    existing = (
        select(_EMAILS)
        .where(_EMAILS.c.kind == bindparam("kind"), owner == bindparam(owner.name))
        .with_for_update(skip_locked=True)
        .cte("existing")
    )
    return (
        select(Email)
        .from_statement(union_all(select(inserted), select(existing)))
        .execution_options(populate_existing=True)
    )


_CLAIM = {owner.name: _claim_statement(owner) for owner in (_EMAILS.c.order_id, _EMAILS.c.cart_id)}
_RECORD_SENT = (
    update(_EMAILS)
    .where(_EMAILS.c.id == bindparam("email_id"), _EMAILS.c.status != "sent")
    .values(
        status="sent",
        sent_at=bindparam("now"),
        last_attempt_at=bindparam("now"),
        last_error=None,
        attempts=_EMAILS.c.attempts + 1,
    )
)


def claim(
    session: Session,
    *,
    kind: str,
    recipient: str,
    message_id: str,
    order_id: uuid.UUID | None = None,
    cart_id: str | None = None,
) -> Email | None:
    """The ``kind`` email row of the order (or, for a recovery email, of the cart), created
    if missing and locked for this transaction.

    Returns None when another transaction holds the row: that one is sending, and its own
    retries carry on if it fails, so the caller must not send too.
    """
    statement = _CLAIM["order_id" if order_id is not None else "cart_id"]
    params = {
        "kind": kind,
        "order_id": order_id,
        "cart_id": cart_id,
        "recipient": recipient,
        "message_id": message_id,
    }
    email: Email | None = session.scalars(statement, params).first()
    return email


def in_flight(email: Email, *, now: dt.datetime, lease: dt.timedelta) -> bool:
    """Whether another attempt, still within its lease, is handing this email over."""
    return (
        email.status == SENDING
        and email.last_attempt_at is not None
        and email.last_attempt_at > now - lease
    )


def start_sending(session: Session, *, email: Email, now: dt.datetime) -> None:
    """Claim the attempt: commit this before talking to the server."""
    email.status, email.last_attempt_at = SENDING, now
    session.flush()


def _locked(session: Session, email_id: int) -> Email | None:
    return session.get(Email, email_id, with_for_update=True, populate_existing=True)


def record_sent(session: Session, *, email_id: int) -> None:
    """The server accepted the attempt: the row is ``sent`` whoever claimed it last.

    One prebuilt ``UPDATE`` on the session's connection; an ``Email`` the session holds
    is not refreshed.
    """
    session.connection().execute(_RECORD_SENT, {"email_id": email_id, "now": utcnow()})


def record_failed(
    session: Session, *, email_id: int, claimed_at: dt.datetime, error: str, dead: bool
) -> None:
    """The attempt claimed at ``claimed_at`` failed: ``pending`` again (``dead`` when no
    further attempt will be made), unless another attempt has taken the row over since."""
    email = _locked(session, email_id)
    if email is None or email.status != SENDING or email.last_attempt_at != claimed_at:
        return
    email.status = "pending"
    mark_failed(session, email=email, error=error, dead=dead)


def mark_failed(session: Session, *, email: Email, error: str, dead: bool = False) -> None:
    """Record a failed attempt; ``dead`` when no further attempt will be made."""
    email.last_error = error[:2000]
    email.last_attempt_at = utcnow()
    email.attempts += 1
    if dead:
        email.status = "dead"
    session.flush()


def mark_dead(
    session: Session,
    *,
    kind: str,
    order_id: uuid.UUID,
    recipient: str,
    message_id: str,
    error: str | None,
) -> bool:
    """Mark the email ``dead`` (creating the row if no attempt got that far).

    A row already ``sent`` is left alone. Returns whether a row was written.
    """
    values = {"status": "dead", "last_error": (error or "retries exhausted")[:2000]}
    statement = (
        insert(Email)
        .values(
            kind=kind,
            order_id=order_id,
            recipient=recipient,
            subject="",
            message_id=message_id,
            **values,
        )
        .on_conflict_do_update(
            index_elements=[Email.kind, Email.order_id],
            set_=values,
            where=Email.status != "sent",
        )
    )
    return affected_rows(session, statement) == 1


def lost_confirmations(
    session: Session, *, now: dt.datetime, settled: dt.timedelta, stalled: dt.timedelta, limit: int
) -> list[uuid.UUID]:
    """Paid orders whose confirmation email job is gone (e.g. Redis lost its data).

    An order paid more than ``settled`` ago (and within two days) with no
    ``order_confirmation`` row never had its job run; one whose row is still ``pending``
    (or ``sending``, its sender dead) with no attempt for ``stalled`` (longer than the
    job's longest backoff) lost its retry. Both need the job sent again; a job sent twice
    still sends one email.
    """
    row = (
        select(Email).where(Email.kind == "order_confirmation", Email.order_id == Order.id).exists()
    )
    stalled_row = (
        select(Email)
        .where(
            Email.kind == "order_confirmation",
            Email.order_id == Order.id,
            Email.status.in_(("pending", SENDING)),
            func.coalesce(Email.last_attempt_at, Email.created_at) < now - stalled,
        )
        .exists()
    )
    return list(
        session.scalars(
            select(Order.id)
            .where(
                Order.status.in_(GOODS_OWED),
                Order.paid_at.between(now - dt.timedelta(days=2), now - settled),
                ~row | stalled_row,
            )
            .order_by(Order.paid_at)
            .limit(limit)
        )
    )
