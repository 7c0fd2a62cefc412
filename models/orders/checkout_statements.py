"""Checkout's statements, built once: ``checkout`` runs them as Core on the session's
connection (no unit of work, no ORM objects), so each call only binds parameters.

Data-modifying CTEs write a row and its dependants in one statement: their foreign keys
are checked at the end of the statement, when the parent row exists. Column defaults
are not applied inside a CTE, so every NOT NULL column is given.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String, bindparam, func, insert, literal, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as upsert

from models.carts.tables import Cart, CartEvent, CartItem, CartStatus
from models.catalog import Product
from models.orders.status import OrderStatus
from models.orders.tables import Order, OrderItem
from models.orders.timeline import OrderEvent

_CARTS = Cart.__table__
_CART_ITEMS = CartItem.__table__
_CART_EVENTS = CartEvent.__table__
_PRODUCTS = Product.__table__
_ORDERS = Order.__table__
_ORDER_ITEMS = OrderItem.__table__
_ORDER_EVENTS = OrderEvent.__table__

LOCK_CART = (
    select(
        _CARTS.c.status,
        _CARTS.c.order_id,
        _CARTS.c.version,
        _CARTS.c.currency,
        _CARTS.c.email,
        _CARTS.c.discount_code,
    )
    .where(_CARTS.c.id == bindparam("cart_id"))
    .with_for_update()
)
# Its own statement after the cart lock, so it sees every item write committed before it.
LINES = (
    select(
        _CART_ITEMS.c.sku,
        _CART_ITEMS.c.quantity,
        _CART_ITEMS.c.unit_price_cents,
        _PRODUCTS.c.price_cents,
        _PRODUCTS.c.name,
    )
    .join(_PRODUCTS, _PRODUCTS.c.sku == _CART_ITEMS.c.sku)
    .where(_CART_ITEMS.c.cart_id == bindparam("cart_id"))
    .order_by(_CART_ITEMS.c.sku)
)
REPRICE_ITEM = (
    update(_CART_ITEMS)
    .where(
        _CART_ITEMS.c.cart_id == bindparam("item_cart_id"),
        _CART_ITEMS.c.sku == bindparam("item_sku"),
    )
    .values(unit_price_cents=bindparam("new_price"), version=_CART_ITEMS.c.version + 1)
)
PLACED_COLUMNS = (
    _ORDERS.c.id,
    _ORDERS.c.order_number,
    _ORDERS.c.cart_id,
    _ORDERS.c.status,
    _ORDERS.c.currency,
    _ORDERS.c.total_cents,
    _ORDERS.c.discount_cents,
    _ORDERS.c.discount_code,
    _ORDERS.c.payment_intent_id,
    _ORDERS.c.client_secret,
    _ORDERS.c.reservation_expires_at,
    _ORDERS.c.metadata,
)
PLACED = select(*PLACED_COLUMNS).where(_ORDERS.c.id == bindparam("order_id"))


def _create_order_statement() -> Any:
    """The order, its items and its ``created`` timeline line, as one statement.

    The items come from parallel arrays (``unnest``), so one statement text serves every
    cart size. The items' and the line's foreign keys are checked at the end of the
    statement, when the order row exists.
    """
    created = (
        insert(_ORDERS)
        .values(
            {
                _ORDERS.c.id: bindparam("order_id", type_=_ORDERS.c.id.type),
                _ORDERS.c.status: OrderStatus.PENDING_PAYMENT.value,
                # Column defaults are not applied inside a CTE: every one is given here.
                _ORDERS.c.refunded_cents: 0,
                _ORDERS.c.confirmation_attempts: 0,
                _ORDERS.c.needs_manual_reconciliation: False,
                _ORDERS.c.shipping_address: bindparam("shipping_address", type_=JSONB),
                _ORDERS.c.reservation_expires_at: bindparam(
                    "expires_at", type_=_ORDERS.c.reservation_expires_at.type
                ),
                _ORDERS.c.metadata: bindparam("meta", type_=JSONB),
                **{
                    _ORDERS.c[name]: bindparam(name, type_=_ORDERS.c[name].type)
                    for name in (
                        "cart_id",
                        "email",
                        "currency",
                        "subtotal_cents",
                        "discount_cents",
                        "total_cents",
                        "discount_code",
                    )
                },
            }
        )
        .returning(_ORDERS.c.id, _ORDERS.c.order_number)
        .cte("created")
    )
    line = (
        func.unnest(
            bindparam("skus", type_=ARRAY(String)),
            bindparam("names", type_=ARRAY(String)),
            bindparam("quantities", type_=ARRAY(Integer)),
            bindparam("prices", type_=ARRAY(Integer)),
        )
        .table_valued("sku", "name", "quantity", "unit_price_cents")
        .render_derived(name="line")
    )
    items = insert(_ORDER_ITEMS).from_select(
        ["order_id", "sku", "name", "quantity", "unit_price_cents"],
        select(
            created.c.id, line.c.sku, line.c.name, line.c.quantity, line.c.unit_price_cents
        ).join_from(created, line, true()),
    )
    first_line = insert(_ORDER_EVENTS).from_select(
        ["order_id", "kind", "data"],
        select(created.c.id, literal("created"), bindparam("created_data", type_=JSONB)),
    )
    return (
        select(created.c.order_number)
        .add_cte(items.cte("items"))
        .add_cte(first_line.cte("first_line"))
    )


def _check_out_cart_statement() -> Any:
    """Point the cart at its order (a new version) and log ``checkout_started``, as one."""
    checked_out = (
        update(_CARTS)
        .where(_CARTS.c.id == bindparam("cart_id"))
        .values(
            status=CartStatus.CHECKOUT.value,
            order_id=bindparam("order_id"),
            email=bindparam("email"),
            version=bindparam("version"),
            last_activity_at=bindparam("now"),
            expires_at=bindparam("expires_at"),
        )
        .returning(_CARTS.c.id)
        .cte("checked_out")
    )
    return (
        upsert(_CART_EVENTS)
        .from_select(
            ["cart_id", "kind", "at", "source_id"],
            select(
                checked_out.c.id,
                literal("checkout_started"),
                bindparam("event_at", type_=_CART_EVENTS.c.at.type),
                bindparam("source_id", type_=String),
            ),
        )
        .on_conflict_do_nothing(index_elements=[_CART_EVENTS.c.source_id])
        .add_cte(checked_out)
    )


CREATE_ORDER = _create_order_statement()
CHECK_OUT_CART = _check_out_cart_statement()


def _attach_statement() -> Any:
    """Store the PaymentIntent on an order without one, and its timeline line, as one."""
    stored = (
        update(_ORDERS)
        .where(_ORDERS.c.id == bindparam("order_id"), _ORDERS.c.payment_intent_id.is_(None))
        .values(
            payment_intent_id=bindparam("payment_intent_id"),
            client_secret=bindparam("client_secret"),
        )
        .returning(*PLACED_COLUMNS)
        .cte("stored")
    )
    line = insert(_ORDER_EVENTS).from_select(
        ["order_id", "kind", "data"],
        select(
            stored.c.id,
            literal("payment_intent_created"),
            bindparam("line_data", type_=JSONB),
        ),
    )
    return select(*stored.c).add_cte(line.cte("line"))


ATTACH = _attach_statement()
