"""The recovery schedule: which step a cart is due, claiming due steps, cancelling them.

A cart is due a step once it has been inactive (``last_activity_at``, bumped by every
write) for the step's delay, while it is ``active``, holds items and has no order that
is or may yet be paid. Only the latest due step is ever claimed: earlier ones it never
got are recorded ``skipped`` (``stale``), so a job that did not run for a day sends one
reminder, not three. Every function takes ``now``, so tests drive the clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ColumnExpressionArgument,
    Row,
    Select,
    bindparam,
    case,
    exists,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models import db
from models.carts import lifecycle
from models.carts.tables import Cart, CartItem, CartStatus
from models.orders.status import CAPTURED, OrderStatus
from models.orders.tables import Order
from models.recovery.tables import RecoveryStep, StepName, StepStatus

# Orders that are paid or may still be (a pending PaymentIntent): their cart gets nothing.
ORDERED = (OrderStatus.PENDING_PAYMENT, *CAPTURED)


@dataclass(frozen=True)
class Step:
    name: StepName
    delay: dt.timedelta
    percent: int | None = None  # the discount its code gives; None: no code

    @property
    def is_message(self) -> bool:
        return self.name != StepName.ABANDON

    @property
    def is_email(self) -> bool:
        return self.name in (StepName.EMAIL_1, StepName.EMAIL_2)


@dataclass(frozen=True)
class Policy:
    """The steps in increasing delay, whether consent is needed, how long codes last."""

    steps: tuple[Step, ...]
    requires_consent: bool = True
    code_lifetime: dt.timedelta = dt.timedelta(days=7)

    def step(self, name: str) -> Step:
        return next(step for step in self.steps if step.name == name)

    def latest_due(self, inactive_for: dt.timedelta) -> Step | None:
        return next((s for s in reversed(self.steps) if s.delay <= inactive_for), None)


DEFAULT_POLICY = Policy(
    steps=(
        Step(StepName.EMAIL_1, dt.timedelta(hours=2), 5),
        Step(StepName.PUSH, dt.timedelta(hours=24)),
        Step(StepName.EMAIL_2, dt.timedelta(hours=72), 10),
        Step(StepName.ABANDON, dt.timedelta(days=7)),
    )
)


def ordered(cart_id: ColumnExpressionArgument[str]) -> ColumnElement[bool]:
    return exists().where(Order.cart_id == cart_id, Order.status.in_(ORDERED))


@dataclass
class Claimed:
    """One batch of the recovery job."""

    to_send: list[tuple[str, str]] = field(default_factory=list)  # (cart id, step)
    abandoned: list[str] = field(default_factory=list)
    skipped: int = 0  # steps recorded ``skipped`` (stale, no email, no consent)
    carts: int = 0  # carts claimed
    cursor: tuple[dt.datetime, str] | None = None  # where the next batch goes on from
    more: bool = False  # carts past ``cursor`` are left to look at


def _due_step(policy: Policy, now: dt.datetime) -> ColumnElement[str]:
    inactive_since = Cart.last_activity_at
    return case(*((inactive_since <= now - s.delay, s.name.value) for s in reversed(policy.steps)))


def _skip_reason(step: Step, row: Row[*tuple[Any, ...]], policy: Policy) -> str | None:
    if not step.is_message:
        return None
    if not row.email:
        return "no_email"
    if policy.requires_consent and row.marketing_consent_at is None:
        return "no_consent"
    return None


Key = tuple[dt.datetime, str]  # (last_activity_at, id): the order carts are looked at in


def _inactive(now: dt.datetime, policy: Policy, after: Key | None) -> list[ColumnElement[bool]]:
    conditions = [
        Cart.status == CartStatus.ACTIVE,
        Cart.last_activity_at <= now - policy.steps[0].delay,
    ]
    if after is not None:
        conditions += [
            Cart.last_activity_at >= after[0],
            tuple_(Cart.last_activity_at, Cart.id) > tuple_(*after),
        ]
    return conditions


def scan_end(
    *, now: dt.datetime, policy: Policy, scan: int, after: Key | None = None
) -> Select[dt.datetime, str]:
    """The key of the ``scan``-th inactive cart past ``after`` (none: fewer are left).

    One batch looks at the carts up to it, so a stretch of carts already reminded costs
    several short transactions instead of a long one.
    """
    return (
        select(Cart.last_activity_at, Cart.id)
        .where(*_inactive(now, policy, after))
        .order_by(Cart.last_activity_at, Cart.id)
        .offset(scan - 1)
        .limit(1)
    )


def due_carts(
    *,
    now: dt.datetime,
    policy: Policy,
    limit: int,
    after: Key | None = None,
    upto: Key | None = None,
) -> Select[*tuple[Any, ...]]:
    """The claim's statement: up to ``limit`` carts due a step they have no row for,
    oldest activity first, past ``after`` up to ``upto``, locked ``FOR UPDATE SKIP LOCKED``."""
    due = _due_step(policy, now)
    conditions = [
        *_inactive(now, policy, after),
        exists().where(CartItem.cart_id == Cart.id),
        ~exists().where(RecoveryStep.cart_id == Cart.id, RecoveryStep.step == due),
        ~ordered(Cart.id),
    ]
    if upto is not None:
        conditions += [
            Cart.last_activity_at <= upto[0],
            tuple_(Cart.last_activity_at, Cart.id) <= tuple_(*upto),
        ]
    return (
        select(Cart.id, Cart.email, Cart.marketing_consent_at, Cart.last_activity_at)
        .where(*conditions)
        .order_by(Cart.last_activity_at, Cart.id)
        .limit(limit)
        .with_for_update(of=Cart, skip_locked=True)
    )


def claim_due(
    session: Session,
    *,
    now: dt.datetime,
    policy: Policy,
    limit: int,
    scan: int,
    after: Key | None = None,
) -> Claimed:
    """Claim the due step of up to ``limit`` carts among the next ``scan`` (``due_carts``).

    A second job at once takes other carts (``SKIP LOCKED``), and each step row is
    inserted ``ON CONFLICT DO NOTHING``: a step claimed once is never claimed again.
    Returns the steps whose send the caller enqueues in this transaction, and where the
    next batch goes on from.
    """
    end = session.execute(scan_end(now=now, policy=policy, scan=scan, after=after)).first()
    upto: Key | None = None
    if end is not None:
        last_activity_at, cart_id = end
        upto = (last_activity_at, cart_id)
    statement = due_carts(now=now, policy=policy, limit=limit, after=after, upto=upto)
    rows = session.execute(statement).all()
    claimed = Claimed(carts=len(rows))
    if len(rows) == limit:
        claimed.cursor, claimed.more = (rows[-1].last_activity_at, rows[-1].id), True
    else:
        claimed.cursor, claimed.more = upto, upto is not None
    if not rows:
        return claimed
    values = []
    for row in rows:
        step = policy.latest_due(now - row.last_activity_at)
        if step is None:
            # ``_inactive`` only lets through carts inactive for the first step's delay.
            raise AssertionError(f"cart {row.id} was claimed with no step due")
        common = {"cart_id": row.id, "claimed_at": now}
        for earlier in policy.steps[: policy.steps.index(step)]:
            values.append(
                {
                    **common,
                    "step": earlier.name.value,
                    "status": StepStatus.SKIPPED.value,
                    "reason": "stale",
                    "due_at": row.last_activity_at + earlier.delay,
                }
            )
        reason = _skip_reason(step, row, policy)
        status = StepStatus.SKIPPED if reason else StepStatus.PENDING
        if step.name == StepName.ABANDON:
            status = StepStatus.SENT
        values.append(
            {
                **common,
                "step": step.name.value,
                "status": status.value,
                "reason": reason,
                "recipient": row.email if step.is_message else None,
                "due_at": row.last_activity_at + step.delay,
                "sent_at": now if step.name == StepName.ABANDON else None,
            }
        )
    # One row shape for the whole statement: every key in every row.
    keys = {key for value in values for key in value}
    values = [{key: value.get(key) for key in keys} for value in values]
    # Core executemany: one cached statement, sent as multi-row INSERTs.
    inserted = session.connection().execute(_INSERT_STEPS, values).all()
    abandon = []
    for cart_id, step, status in inserted:
        if status == StepStatus.PENDING:
            claimed.to_send.append((cart_id, step))
        elif status == StepStatus.SKIPPED:
            claimed.skipped += 1
        elif step == StepName.ABANDON:
            abandon.append(cart_id)
    claimed.abandoned = lifecycle.mark_abandoned(session, cart_ids=abandon)
    return claimed


_STEPS = RecoveryStep.__table__
_INSERT_STEPS = (
    insert(_STEPS)
    .on_conflict_do_nothing(index_elements=[_STEPS.c.cart_id, _STEPS.c.step])
    .returning(_STEPS.c.cart_id, _STEPS.c.step, _STEPS.c.status)
)


_STEPS = RecoveryStep.__table__
_CANCEL_PENDING = (
    update(_STEPS)
    .where(_STEPS.c.cart_id == bindparam("step_cart_id"), _STEPS.c.status == StepStatus.PENDING)
    .values(status=StepStatus.CANCELED, reason="ordered", canceled_at=bindparam("now"))
)


def cancel_pending(session: Session, *, cart_id: str, now: dt.datetime) -> int:
    """Cancel the cart's claimed steps not sent yet (checkout: in the order's transaction).

    Waits for a send in progress (it holds its step row), so a reminder either went out
    before the order existed or never goes out. One prebuilt statement on the session's
    connection; a ``RecoveryStep`` the session holds is not refreshed.
    """
    db.flush_if_pending(session, RecoveryStep)
    result = session.connection().execute(_CANCEL_PENDING, {"step_cart_id": cart_id, "now": now})
    return result.rowcount
