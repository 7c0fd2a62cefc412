"""Order emails, sent at most once per (kind, order) and retried while the server flaps.

Exactly-once as far as it can go: the ``emails`` row for (kind, order) is inserted with
``ON CONFLICT DO NOTHING`` and claimed (``sending``, committed) before the server is
called, so concurrent or replayed jobs skip a row that is being sent or already
``sent`` (models/emails.py). One window stays open: the server may accept the message
and the worker die (or the database fail) before ``sent`` commits; once the claim's
lease lapses a retry sends again. Every copy carries the same
deterministic ``Message-ID`` so receivers can drop the duplicate (see docs/email.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any
from urllib.parse import quote

import dramatiq
from prometheus_client import Histogram
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import joinedload

from jobs.email_kinds import REFUND_KIND, refund_of, shipment_id_of, template_of, valid_kind
from jobs.templates import Rendered, render
from models import emails
from models.base import utcnow
from models.db import Session
from models.orders import fulfilment
from models.orders.status import OrderStatus
from models.orders.tables import Order, Shipment
from models.recommendations import serving
from models.recommendations.serving import ShownProduct
from services import mailer
from services.settings import get_settings
from worker.dead_letters import final_error

logger = logging.getLogger(__name__)

# A confirmation thanks for a payment; these orders never had one.
UNPAID_STATUSES = (OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_FAILED, OrderStatus.CANCELED)
TRACKING_URLS = {
    "ups": "https://www.ups.com/track?tracknum={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "dhl": "https://www.dhl.com/en/express/tracking.html?AWB={}",
}


# The send's time limit bounds the SMTP conversation; a claimed attempt older than its
# lease (the limit, and a margin for clocks) was left by a sender that died.
SEND_TIME_LIMIT_MS = 60_000
ALSO_BOUGHT = 3  # products in the confirmation's "customers also bought"
SEND_LEASE = dt.timedelta(milliseconds=SEND_TIME_LIMIT_MS + 30_000)
# Every email lists the order's items: loaded with the order, in its one statement.
WITH_ITEMS = (joinedload(Order.items),)


CONFIRMATION_LAG = Histogram(
    "cartfleet_order_confirmation_lag_seconds",
    "From an order's payment to its confirmation email accepted by the mail server.",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)


class UnsendableEmail(ValueError):
    """The job names no email that could ever be sent (unknown kind, malformed id)."""


class EmailInFlight(Exception):
    """Another attempt holds the email's claim: try again after it ends or lapses."""


def add_business_days(start: dt.date, days: int) -> dt.date:
    """``start`` moved forward by ``days`` weekdays (Saturday and Sunday skipped)."""
    current = start
    while days > 0:
        current += dt.timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def _one_line(value: object) -> str:
    return " ".join(str(value or "").split())


def _address_lines(address: dict[str, Any]) -> list[str]:
    place = ", ".join(
        filter(None, (_one_line(address.get("city")), _one_line(address.get("state"))))
    )
    lines = [
        _one_line(address.get("name")),
        _one_line(address.get("line1")),
        _one_line(address.get("line2")),
        f"{place} {_one_line(address.get('postal_code'))}".strip(),
        _one_line(address.get("country")),
    ]
    return [line for line in lines if line]


def _store_name() -> str:
    name, _ = parseaddr(get_settings().mail_from)
    return name or "Cartfleet"


def _shipment(session: OrmSession, order: Order, kind: str) -> dict[str, Any]:
    """The parcel the email announces: one shipment of several, or the whole order."""
    shipment = _shipment_row(session, order, kind)
    if shipment is not None:
        names = {item.sku: item.name for item in order.items}
        part = {
            **fulfilment.shipment_json(shipment),
            "items": [
                {"quantity": item["quantity"], "name": names.get(item["sku"], item["sku"])}
                for item in shipment.items
            ],
            "of": len(order.shipments),
        }
    else:
        part = {**(fulfilment.shipment(order) or {}), "items": [], "of": 1}
    carrier = _one_line(part.get("carrier"))
    number = _one_line(part.get("tracking_number"))
    template = TRACKING_URLS.get(carrier.lower())
    return {
        "carrier": carrier,
        "tracking_number": number,
        "tracking_url": template.format(quote(number, safe="")) if template else None,
        "shipped_at": part.get("shipped_at"),
        "items": part["items"],
        "of": part["of"],
    }


def _shipment_row(session: OrmSession, order: Order, kind: str) -> Shipment | None:
    shipment_id = shipment_id_of(kind)
    shipment = session.get(Shipment, shipment_id) if shipment_id is not None else None
    return shipment if shipment is not None and shipment.order_id == order.id else None


def _also_bought(session: OrmSession, order: Order) -> list[ShownProduct]:
    """The storefront's "customers also bought" for the order's items (one source)."""
    skus = [item.sku for item in order.items]
    found = serving.also_bought(session, skus, exclude=skus, limit=ALSO_BOUGHT)
    return [item.product for item in found]


def email_context(session: OrmSession, order: Order, kind: str) -> dict[str, Any]:
    """Everything the ``kind`` templates show for ``order``."""
    settings = get_settings()
    storefront = settings.storefront_url.rstrip("/")
    refund = refund_of(session, order, kind)
    template = template_of(kind)
    shipment = _shipment(session, order, kind) if template == "shipping_notification" else None
    start = order.paid_at or order.created_at or utcnow()
    if shipment and shipment["shipped_at"]:
        start = dt.datetime.fromisoformat(shipment["shipped_at"])
    delivery = add_business_days(start.date(), settings.delivery_business_days)
    also_bought = []
    if template == "order_confirmation":
        also_bought = [
            {
                "name": product.name,
                "price_cents": product.price_cents,
                "currency": product.currency,
                "url": f"{storefront}/products/{quote(product.sku, safe='')}",
            }
            for product in _also_bought(session, order)
        ]
    return {
        "store_name": _store_name(),
        "storefront_url": storefront,
        "customer_name": _one_line(order.shipping_address.get("name")) or order.email,
        "order": {
            "id": str(order.id),
            "number": order.order_number,
            "currency": order.currency,
            "items": [
                {
                    "sku": item.sku,
                    "name": item.name,
                    "quantity": item.quantity,
                    "unit_price_cents": item.unit_price_cents,
                    "line_total_cents": item.quantity * item.unit_price_cents,
                }
                for item in order.items
            ],
            "subtotal_cents": order.subtotal_cents,
            "discount_cents": order.discount_cents,
            "total_cents": order.total_cents,
        },
        "address_lines": _address_lines(order.shipping_address),
        "estimated_delivery": f"{delivery:%A, %B} {delivery.day}, {delivery.year}",
        "track_url": f"{storefront}/orders/{order.id}",
        "also_bought": also_bought,
        "shipment": shipment,
        "refund": refund and {"amount_cents": refund.amount_cents, "currency": refund.currency},
    }


def compose(
    session: OrmSession, order: Order, kind: str, *, message_id: str | None = None
) -> tuple[Rendered, EmailMessage]:
    """Render the ``kind`` email for ``order`` as a multipart/alternative message."""
    rendered = render(template_of(kind), email_context(session, order, kind))
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = get_settings().mail_from
    message["To"] = Address(
        display_name=_one_line(order.shipping_address.get("name")), addr_spec=order.email
    )
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id or mailer.deterministic_message_id(kind, str(order.id))
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return rendered, message


def not_sendable(session: OrmSession, order: Order, kind: str) -> str | None:
    """Why ``order`` has no ``kind`` email (a confirmation of a canceled order), or None."""
    if kind.startswith(REFUND_KIND):
        refund = refund_of(session, order, kind)
        return None if refund and refund.status == "succeeded" else "refund has not succeeded"
    if shipment_id_of(kind) is not None:
        shipment = _shipment_row(session, order, kind)
        return None if shipment and shipment.shipped_at else "shipment has not shipped"
    kind = template_of(kind)
    if kind == "order_confirmation" and order.status in UNPAID_STATUSES:
        return f"order is {order.status}"
    if kind == "shipping_notification" and order.shipped_at is None:
        return "order has no shipment"
    return None


def _parse(order_id: object, kind: object) -> tuple[uuid.UUID, str]:
    """The order's id and the email kind of a message's arguments, checked."""
    if not valid_kind(kind):
        raise UnsendableEmail(f"unknown email kind {kind!r}")
    if not isinstance(order_id, str):
        raise UnsendableEmail(f"malformed order id {order_id!r}")
    try:
        return uuid.UUID(order_id), kind
    except ValueError:
        raise UnsendableEmail(f"malformed order id {order_id!r}") from None


@dramatiq.actor(
    actor_name="mark_email_dead",
    queue_name="email",
    max_retries=20,
    min_backoff=1_000,
    max_backoff=300_000,
    time_limit=30_000,
)
def mark_email_dead(message_data: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Retries of a ``send_order_email`` job ran out: its email row ends ``dead``.

    Dramatiq's Retries middleware sends this (``on_retry_exhausted``) with the failed
    message; the message itself sits in the ``email`` dead-letter queue.
    """
    args = list(message_data.get("args") or ())
    kwargs = message_data.get("kwargs") or {}
    order_id = kwargs.get("order_id", args[0] if args else None)
    kind = kwargs.get("kind", args[1] if len(args) > 1 else None)
    try:
        order_uuid, kind = _parse(order_id, kind)
    except UnsendableEmail:
        logger.warning("Exhausted email job names no email: %r", message_data)
        return
    final = final_error((message_data.get("options") or {}).get("traceback"))
    error = f"retries exhausted after {retry_info.get('retries', 0) + 1} attempt(s)"
    if final:
        error = f"{error}: {final}"
    with Session.begin() as session:
        order = session.get(Order, order_uuid)
        if order is None:
            return
        written = emails.mark_dead(
            session,
            kind=kind,
            order_id=order.id,
            recipient=order.email,
            message_id=mailer.deterministic_message_id(kind, str(order.id)),
            error=error,
        )
    if written:
        logger.error("Email %s for order %s is dead: %s", kind, order_id, error)


@dramatiq.actor(
    actor_name="send_order_email",
    queue_name="email",
    max_retries=8,
    min_backoff=5_000,
    max_backoff=900_000,
    time_limit=SEND_TIME_LIMIT_MS,
    throws=(mailer.PermanentMailError, UnsendableEmail),
    on_retry_exhausted="mark_email_dead",
)
def send_order_email(order_id: str, kind: str) -> None:
    """Send the ``kind`` email (``KINDS``, or a refund's ``refund_email_kind``) once.

    Transient failures raise (Dramatiq retries with backoff); a permanent refusal marks
    the row ``dead`` and dead-letters the message without retrying.
    """
    order_uuid, kind = _parse(order_id, kind)
    # Claim and commit, send with no transaction open, record the outcome afresh: the
    # mail server's pace never holds a row lock or a pooled connection.
    now = utcnow()
    with Session.begin() as session:
        order = session.get(Order, order_uuid, options=WITH_ITEMS)
        if order is None:
            logger.warning("No order %s; %s not sent", order_id, kind)
            return
        reason = not_sendable(session, order, kind)
        if reason:
            logger.warning("Not sending %s for order %s: %s", kind, order_id, reason)
            return
        email = emails.claim(
            session,
            kind=kind,
            order_id=order.id,
            recipient=order.email,
            message_id=mailer.deterministic_message_id(kind, str(order.id)),
        )
        if email is not None and email.status == "sent":
            return
        if email is None or emails.in_flight(email, now=now, lease=SEND_LEASE):
            # That attempt's own retries carry on if it fails; this job retries too, in
            # case its sender died before recording (the lease then lapses).
            raise EmailInFlight(f"{kind} for order {order_id} is being sent")
        rendered, message = compose(session, order, kind, message_id=email.message_id)
        email.subject, email.recipient = rendered.subject[:255], order.email
        emails.start_sending(session, email=email, now=now)
        email_id, recipient, paid_at = email.id, order.email, order.paid_at
    try:
        mailer.transport().send(message)
    except mailer.MailError as error:
        with Session.begin() as session:
            emails.record_failed(
                session,
                email_id=email_id,
                claimed_at=now,
                error=str(error),
                dead=isinstance(error, mailer.PermanentMailError),
            )
        raise
    with Session.begin() as session:
        emails.record_sent(session, email_id=email_id)
    if kind == "order_confirmation" and paid_at is not None:
        CONFIRMATION_LAG.observe((utcnow() - paid_at).total_seconds())
    logger.info("Sent %s for order %s to %s", kind, order_id, recipient)
