"""Rows for tests, written through the domain functions where one exists."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.orm import Session

from models.base import utcnow
from models.carts.tables import Cart, CartEvent, CartItem
from models.catalog import upsert_product
from models.inbox import WebhookEvent
from models.orders.tables import Order, OrderItem
from models.warehouses import edits
from models.warehouses.tables import Warehouse


def warehouse(session: Session, code: str, *, country: str = "US", **fields) -> Warehouse:
    """A warehouse (``main`` exists in every test already)."""
    return edits.create(session, code=code, name=f"Warehouse {code}", country=country, **fields)


def product(session: Session, sku: str = "SKU-1", *, price_cents: int = 1000, stock=None):
    """A product; warehouses its ``stock`` names are created when missing."""
    for code in sorted(stock or {}):
        if session.get(Warehouse, code) is None:
            warehouse(session, code)
    return upsert_product(
        session,
        sku=sku,
        name=f"Product {sku}",
        price_cents=price_cents,
        stock={"main": 10} if stock is None else stock,
    )


def order(
    session: Session,
    *,
    lines: dict[str, int] | None = None,
    status: str = "pending_payment",
    email: str = "buyer@example.com",
    payment_intent_id: str | None = None,
    created_at: dt.datetime | None = None,
) -> Order:
    """An order for existing products (``lines`` = {sku: quantity})."""
    lines = lines or {}
    items = [
        OrderItem(sku=sku, name=f"Product {sku}", quantity=qty, unit_price_cents=1000)
        for sku, qty in sorted(lines.items())
    ]
    total = sum(item.quantity * item.unit_price_cents for item in items)
    row = Order(
        id=uuid.uuid4(),
        email=email,
        status=status,
        currency="usd",
        subtotal_cents=total,
        total_cents=total,
        shipping_address={
            "name": "Ada",
            "line1": "1 Main St",
            "city": "Springfield",
            "postal_code": "12345",
            "country": "US",
        },
        payment_intent_id=payment_intent_id,
        items=items,
        created_at=created_at or utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def cart(session: Session, *, items: dict[str, int] | None = None, email: str | None = None):
    """An active cart holding ``items`` ({sku: quantity}) of existing products at their price."""
    from models.carts.edits import create_cart
    from models.carts.tables import CartItem
    from models.catalog import Product

    row = session.get(Cart, create_cart(session, email=email).id)
    for sku, quantity in sorted((items or {}).items()):
        price = session.get(Product, sku).price_cents
        session.add(CartItem(cart_id=row.id, sku=sku, quantity=quantity, unit_price_cents=price))
    session.flush()
    return row


def discount_code(
    session: Session,
    code: str = "SAVE10",
    *,
    percent: int = 10,
    cart_id: str | None = None,
    expires_at: dt.datetime | None = None,
    used_at: dt.datetime | None = None,
):
    from models.carts.tables import DiscountCode

    row = DiscountCode(
        code=code, percent=percent, cart_id=cart_id, expires_at=expires_at, used_at=used_at
    )
    session.add(row)
    session.flush()
    return row


def cart_row(
    session: Session,
    *,
    lines: dict[str, int] | None = None,
    status: str = "active",
    order_id: uuid.UUID | None = None,
    expires_at: dt.datetime | None = None,
    events: int = 0,
) -> Cart:
    """A cart in any state (``status``, ``order_id``, ``expires_at``) with ``events`` rows."""
    now = utcnow()
    row = Cart(
        id=f"cart-{uuid.uuid4().hex}",
        status=status,
        order_id=order_id,
        expires_at=expires_at or now + dt.timedelta(days=30),
        items=[
            CartItem(sku=sku, quantity=qty, unit_price_cents=1000)
            for sku, qty in sorted((lines or {}).items())
        ],
    )
    session.add(row)
    session.flush()
    session.add_all(CartEvent(cart_id=row.id, kind="item_added", at=now) for _ in range(events))
    session.flush()
    return row


def inbox_event(session: Session, event: dict, *, status: str = "received") -> WebhookEvent:
    """A Stripe event stored in the inbox with no job queued for it (a lost job)."""
    row = WebhookEvent(
        id=event["id"],
        type=event["type"],
        api_version=event.get("api_version"),
        livemode=bool(event.get("livemode")),
        payload=event,
        status=status,
    )
    session.add(row)
    session.flush()
    return row
