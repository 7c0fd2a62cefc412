"""Sending a claimed step: the re-check under lock, the step's code, recording the outcome.

``prepare`` runs in the send job's claim transaction and holds, until it commits, a share
lock on the cart (checkout's ``FOR UPDATE`` waits for it, so no order is created between
the re-check and the claim) and the step row. It refuses, and records why, a step whose
cart was checked out, opted out or lost its consent, or that went stale. The email then
goes out with no transaction open, and ``record_sent`` marks the step afterwards.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from models.carts import discounts
from models.carts.tables import Cart, CartItem, CartStatus, DiscountCode
from models.catalog import Product
from models.recovery.schedule import Policy, Step, ordered
from models.recovery.tables import RecoveryStep, StepStatus, Suppression, email_hash


class CartBusy(Exception):
    """The cart is locked by a write or a checkout: try the send again shortly."""


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    quantity: int
    price_cents: int


@dataclass(frozen=True)
class Plan:
    """What to send: the step row (locked), its cart, lines priced now, and its code."""

    row: RecoveryStep
    step: Step
    cart: Cart
    lines: list[Line]
    code: DiscountCode | None

    @property
    def recipient(self) -> str:
        """The cart's email: ``prepare`` refuses a cart without one."""
        if self.cart.email is None:
            raise AssertionError(f"cart {self.cart.id} was planned without an email")
        return self.cart.email

    @property
    def subtotal_cents(self) -> int:
        return sum(line.quantity * line.price_cents for line in self.lines)


def _refusal(
    session: Session, cart: Cart, step: Step, policy: Policy, now: dt.datetime
) -> tuple[StepStatus, str] | None:
    if cart.status != CartStatus.ACTIVE or session.scalar(
        select(ordered(Cart.id)).where(Cart.id == cart.id)
    ):
        return StepStatus.CANCELED, "ordered"
    later = [s for s in policy.steps if s.delay > step.delay]
    if later and cart.last_activity_at + later[0].delay <= now:
        return StepStatus.SKIPPED, "stale"
    if not cart.email:
        return StepStatus.SKIPPED, "no_email"
    if policy.requires_consent and cart.marketing_consent_at is None:
        return StepStatus.SKIPPED, "no_consent"
    if session.get(Suppression, email_hash(cart.email)) is not None:
        return StepStatus.SKIPPED, "unsubscribed"
    if not session.scalar(select(exists().where(CartItem.cart_id == cart.id))):
        return StepStatus.SKIPPED, "empty"
    return None


def prepare(
    session: Session, *, cart_id: str, step_name: str, now: dt.datetime, policy: Policy
) -> Plan | None:
    """The step to send now, or None (gone, done, refused: recorded on the row).

    Raises ``CartBusy`` when the cart is locked by a write or a checkout. A cart written
    to since the step was claimed loses the claim (the row is deleted): its clock
    started again and the step is claimed afresh when it is due again.
    """
    cart = session.scalars(
        select(Cart)
        .where(Cart.id == cart_id)
        .with_for_update(read=True, skip_locked=True)
        .execution_options(populate_existing=True)
    ).first()
    if cart is None:
        if session.get(Cart, cart_id) is not None:
            raise CartBusy(f"cart {cart_id} is locked")
        return None
    row = session.scalars(
        select(RecoveryStep)
        .where(RecoveryStep.cart_id == cart_id, RecoveryStep.step == step_name)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).first()
    if row is None or row.status != StepStatus.PENDING:
        return None
    step = policy.step(step_name)
    if cart.last_activity_at + step.delay > now:
        session.execute(
            delete(RecoveryStep).where(
                RecoveryStep.cart_id == cart_id, RecoveryStep.step == step_name
            )
        )
        return None
    refused = _refusal(session, cart, step, policy, now)
    if refused:
        row.status, row.reason = refused
        row.canceled_at = now if refused[0] == StepStatus.CANCELED else None
        session.flush()
        return None
    lines = [
        Line(*line)
        for line in session.execute(
            select(CartItem.sku, Product.name, CartItem.quantity, Product.price_cents)
            .join(Product, Product.sku == CartItem.sku)
            .where(CartItem.cart_id == cart_id)
            .order_by(CartItem.id)
        )
    ]
    code = session.get(DiscountCode, row.discount_code) if row.discount_code else None
    if cart.email is None:
        raise AssertionError(f"cart {cart_id} has no email but was not refused")
    if code is None and step.percent:
        # Minted at the first attempt and kept on the row: a retry sends the same code.
        code = discounts.issue_code(
            session,
            cart=cart,
            percent=step.percent,
            email=cart.email,
            expires_at=now + policy.code_lifetime,
        )
        row.discount_code = code.code
    row.recipient = cart.email
    session.flush()
    return Plan(row, step, cart, lines, code)


def mark_sent(session: Session, *, plan: Plan, now: dt.datetime) -> None:
    plan.row.status, plan.row.sent_at = StepStatus.SENT, now
    session.flush()


def record_sent(session: Session, *, cart_id: str, step_name: str, now: dt.datetime) -> None:
    """The step's email was accepted after its claim committed: the step is ``sent``, also
    when a checkout canceled it during the send (the reminder did go out)."""
    row = session.get(RecoveryStep, (cart_id, step_name), with_for_update=True)
    if row is not None and row.status in (StepStatus.PENDING, StepStatus.CANCELED):
        row.status, row.sent_at, row.reason, row.canceled_at = StepStatus.SENT, now, None, None
        session.flush()


def mark_dead(session: Session, *, cart_id: str, step_name: str, reason: str) -> bool:
    """A send that failed for good; returns whether a pending step was marked."""
    row = session.get(RecoveryStep, (cart_id, step_name), with_for_update=True)
    if row is None or row.status != StepStatus.PENDING:
        return False
    row.status, row.reason = StepStatus.DEAD, reason[:32]
    session.flush()
    return True


def link_expiry(plan: Plan, *, now: dt.datetime, policy: Policy) -> dt.datetime:
    """When the step's recovery link stops working: with its code, else the code lifetime."""
    if plan.code is not None and plan.code.expires_at is not None:
        return plan.code.expires_at
    return now + policy.code_lifetime
