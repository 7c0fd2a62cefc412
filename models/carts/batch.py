"""Several changes to one cart, all or nothing, under one version: the batch endpoint,
and the saved-for-later moves (a batch of one).

The cart row is locked once (``lifecycle.lock_for_write``: If-Match and status), stock
is read once for every sku involved, each operation is applied and flushed in order,
and the version is bumped once. An operation that breaks a rule raises
``InvalidOperation`` naming its index; the caller's transaction then rolls back, so
nothing is applied.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.carts import saved
from models.carts.lifecycle import lock_for_write, touch
from models.carts.reads import CartView, StockPolicy, view
from models.carts.tables import MAX_QUANTITY, Cart, CartItem
from models.catalog import Product
from models.errors import CartfleetError, InvalidItem, NotFound, OutOfStock, StockUnavailable
from models.stock import reader


class Op(enum.StrEnum):
    SET_QUANTITY = "set_quantity"
    REMOVE = "remove"
    SAVE_FOR_LATER = "save_for_later"
    MOVE_TO_CART = "move_to_cart"
    # Not a batch operation of the API: ``DELETE .../saved/{sku}``.
    REMOVE_SAVED = "remove_saved"


@dataclass(frozen=True)
class Operation:
    op: Op
    sku: str
    quantity: int | None = None


class InvalidOperation(CartfleetError):
    """Operation ``index`` of a batch breaks a cart rule; nothing of the batch applies."""

    code, status = "validation_error", 422

    def __init__(self, index: int, cause: CartfleetError) -> None:
        super().__init__(
            f"Operation {index}: {cause.message}",
            index=index,
            cause=cause.code,
            errors=[{"field": f"operations.{index}", "message": cause.message}],
        )


def _item(session: Session, cart: Cart, sku: str) -> CartItem | None:
    return session.scalar(select(CartItem).where(CartItem.cart_id == cart.id, CartItem.sku == sku))


class _Applier:
    """Applies operations to one locked cart, checking stock against one read."""

    def __init__(self, session: Session, cart: Cart, policy: StockPolicy, skus: set[str]) -> None:
        self.session, self.cart, self.policy = session, cart, policy
        in_cart = session.scalars(select(CartItem.sku).where(CartItem.cart_id == cart.id))
        self.available = reader.checked_available_units(
            {*in_cart, *skus}, timeout_ms=policy.timeout_ms
        )

    def _require_stock(self, sku: str, quantity: int) -> None:
        if self.available is None:
            if not self.policy.fallback:
                raise StockUnavailable("Stock cannot be verified right now; try again shortly.")
            return
        units = self.available.get(sku, 0)
        if units < quantity:
            raise OutOfStock(f"Only {units} unit(s) of {sku} available.", available=units)

    def apply(self, operation: Operation) -> None:
        session, cart, sku = self.session, self.cart, operation.sku
        item = _item(session, cart, sku)
        match operation.op:
            case Op.SET_QUANTITY:
                if item is None:
                    raise NotFound(f"{sku} is not in the cart.")
                quantity = operation.quantity if operation.quantity is not None else item.quantity
                if quantity > item.quantity:
                    self._require_stock(sku, quantity)
                if quantity == 0:
                    session.delete(item)
                else:
                    item.quantity, item.version = quantity, item.version + 1
            case Op.REMOVE:
                if item is None:
                    raise NotFound(f"{sku} is not in the cart.")
                session.delete(item)
            case Op.SAVE_FOR_LATER:
                saved.save_for_later(session, cart, item, sku=sku, quantity=operation.quantity)
            case Op.MOVE_TO_CART:
                self._move_to_cart(item, sku)
            case Op.REMOVE_SAVED:
                saved.take_back(session, cart, sku=sku)
        session.flush()

    def _move_to_cart(self, item: CartItem | None, sku: str) -> None:
        units = saved.take_back(self.session, self.cart, sku=sku)
        product = self.session.get(Product, sku)
        if product is None or product.currency != self.cart.currency:
            raise InvalidItem("sku", f"{sku} cannot be sold in this cart's currency.")
        total = (item.quantity if item else 0) + units
        if total > MAX_QUANTITY:
            raise InvalidItem("quantity", f"At most {MAX_QUANTITY} units of one sku per cart.")
        self._require_stock(sku, total)
        if item is None:
            self.session.add(
                CartItem(
                    cart_id=self.cart.id,
                    sku=sku,
                    quantity=total,
                    unit_price_cents=product.price_cents,
                )
            )
        else:
            item.quantity, item.version = total, item.version + 1


def apply(
    session: Session,
    *,
    cart_id: str,
    operations: Sequence[Operation],
    policy: StockPolicy,
    expected_version: int | None = None,
    indexed: bool = True,
) -> CartView:
    """Apply ``operations`` in order under one version bump.

    ``indexed``: a failing operation raises ``InvalidOperation`` with its index (the batch
    endpoint); otherwise its own error (a single-operation route). A stock outage is
    never an operation's fault: it raises ``StockUnavailable`` (503) either way.
    """
    cart = lock_for_write(session, cart_id, expected_version=expected_version)
    applier = _Applier(session, cart, policy, {operation.sku for operation in operations})
    for index, operation in enumerate(operations):
        try:
            applier.apply(operation)
        except StockUnavailable:
            raise
        except (NotFound, InvalidItem, OutOfStock) as error:
            if not indexed:
                raise
            raise InvalidOperation(index, error) from None
    touch(cart)
    session.flush()
    return view(session, cart, policy=policy, available=applier.available)
