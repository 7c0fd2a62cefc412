"""The kinds of order email: one per (kind, order), a refund's per refund, resends apart.

A kind is one of ``KINDS``, ``refund_notification.<refund id>`` (each refund its own
email), ``shipping_notification.s<shipment id>`` (each shipment its own), or
``<kind>.r<8 hex>`` for an operator's resend: a row, and so a Message-ID, of
its own, which receivers do not drop as a duplicate of the first. The separator is a
dot because the kind is part of the Message-ID, where a colon is not allowed.
"""

from __future__ import annotations

import secrets
from typing import TypeGuard

from sqlalchemy.orm import Session

from models.orders import refunds
from models.orders.tables import Order

KINDS = ("order_confirmation", "shipping_notification")
REFUND_KIND = "refund_notification"
SHIPPING_KIND = "shipping_notification"
SEPARATOR = "."
SHIPMENT_MARK = "s"


def refund_email_kind(refund_id: int) -> str:
    return f"{REFUND_KIND}{SEPARATOR}{refund_id}"


def shipment_email_kind(shipment_id: int) -> str:
    return f"{SHIPPING_KIND}{SEPARATOR}{SHIPMENT_MARK}{shipment_id}"


def shipment_id_of(kind: str) -> int | None:
    """The shipment a ``shipping_notification.s<id>`` kind names; None for any other kind."""
    template, _, suffix = kind.partition(SEPARATOR)
    if template != SHIPPING_KIND or suffix[:1] != SHIPMENT_MARK or not suffix[1:].isdigit():
        return None
    return int(suffix[1:])


def resend_kind(kind: str) -> str:
    return f"{kind}{SEPARATOR}r{secrets.token_hex(4)}"


def valid_kind(kind: object) -> TypeGuard[str]:
    if not isinstance(kind, str):
        return False
    template, colon, suffix = kind.partition(SEPARATOR)
    if template == REFUND_KIND:
        return suffix.isdigit()
    if shipment_id_of(kind) is not None:
        return True
    resend = suffix[:1] == "r" and len(suffix) == 9 and suffix[1:].isalnum()
    return template in KINDS and (not colon or resend)


def refund_of(session: Session, order: Order, kind: str) -> refunds.Refund | None:
    template, _, refund_id = kind.partition(SEPARATOR)
    refund = session.get(refunds.Refund, int(refund_id)) if template == REFUND_KIND else None
    return refund if refund is not None and refund.order_id == order.id else None


def template_of(kind: str) -> str:
    """The templates a kind renders: ``refund_notification.12`` → ``refund_notification``."""
    return kind.partition(SEPARATOR)[0]
