"""Several changes to one cart, all or nothing, under one version: the batch endpoint,
and the saved-for-later moves (a batch of one).

The cart row is claimed once (``lifecycle.claim_for_write``: If-Match and status
checked, the version bumped once), its lines and saved items read once after the lock,
stock read once for every sku involved, and each operation's statements run in order.
An operation that breaks a rule raises ``InvalidOperation`` naming its index; the
caller's transaction then rolls back, so nothing is applied.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from models.carts import edits, saved
from models.carts.lifecycle import claim_for_write
from models.carts.reads import (
    CartView,
    Contents,
    LineRow,
    SavedRow,
    StockPolicy,
    contents,
    written_view,
)
from models.carts.tables import MAX_QUANTITY
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


class _Applier:
    """Applies operations to one claimed cart, checking stock against one read.

    Each operation runs its statements at once and changes ``found`` to match, so the
    next one sees it and the response is built from ``found`` in the end.
    """

    def __init__(
        self, session: Session, cart: Row[Any], found: Contents, policy: StockPolicy, skus: set[str]
    ) -> None:
        self.session, self.cart, self.found, self.policy = session, cart, found, policy
        self.available = reader.checked_available_units(
            found.skus(*skus), timeout_ms=policy.timeout_ms
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
        sku = operation.sku
        item = self.found.line(sku)
        match operation.op:
            case Op.SET_QUANTITY:
                if item is None:
                    raise NotFound(f"{sku} is not in the cart.")
                quantity = operation.quantity if operation.quantity is not None else item.quantity
                if quantity > item.quantity:
                    self._require_stock(sku, quantity)
                self._set_line(item, item._replace(quantity=quantity))
            case Op.REMOVE:
                if item is None:
                    raise NotFound(f"{sku} is not in the cart.")
                self._set_line(item, item._replace(quantity=0))
            case Op.SAVE_FOR_LATER:
                self._save_for_later(item, sku, operation.quantity)
            case Op.MOVE_TO_CART:
                self._move_to_cart(item, sku)
            case Op.REMOVE_SAVED:
                self._take_back(sku)

    def _set_line(self, old: LineRow | None, new: LineRow) -> None:
        """Write ``new`` over the line ``old``; a quantity of 0 removes it."""
        if new.quantity == 0:
            edits.remove_line(self.session, self.cart.id, new.sku)
            edits.replace_line(self.found, old, None)
        else:
            edits.set_line(self.session, self.cart.id, new)
            edits.replace_line(self.found, old, new)

    def _save_for_later(self, item: LineRow | None, sku: str, quantity: int | None) -> None:
        """Move ``quantity`` (default: all) of the cart's line for ``sku`` to saved, or save
        a product that is not in the cart (default: one unit)."""
        if item is not None:
            moved = item.quantity if quantity is None else quantity
            if moved > item.quantity:
                raise InvalidItem("quantity", f"Only {item.quantity} unit(s) of {sku} in the cart.")
            self._set_line(item, item._replace(quantity=item.quantity - moved))
            self._add_up(sku, item.name, item.current_price_cents, moved)
            return
        product = self.found.products.get(sku)
        if product is None:
            raise NotFound(f"No such product: {sku}.")
        moved = 1 if quantity is None else quantity
        self._add_up(sku, product.name, product.current_price_cents, moved)

    def _add_up(self, sku: str, name: str, price_cents: int, quantity: int) -> None:
        saved_item = self.found.saved_item(sku)
        total = (saved_item.quantity if saved_item else 0) + quantity
        if total > MAX_QUANTITY:
            raise InvalidItem("quantity", f"At most {MAX_QUANTITY} units of one sku saved.")
        saved.set_saved(self.session, cart_id=self.cart.id, sku=sku, quantity=total)
        if saved_item is None:
            self.found.saved.append(SavedRow(sku, name, total, price_cents))
        else:
            index = self.found.saved.index(saved_item)
            self.found.saved[index] = saved_item._replace(quantity=total)

    def _take_back(self, sku: str) -> SavedRow:
        """Remove ``sku`` from saved; returns the saved item."""
        saved_item = self.found.saved_item(sku)
        if saved_item is None:
            raise NotFound(f"{sku} is not saved for later.")
        saved.remove_saved(self.session, cart_id=self.cart.id, sku=sku)
        self.found.saved.remove(saved_item)
        return saved_item

    def _move_to_cart(self, item: LineRow | None, sku: str) -> None:
        units = self._take_back(sku).quantity
        product = self.found.products.get(sku)
        if product is None or product.currency != self.cart.currency:
            raise InvalidItem("sku", f"{sku} cannot be sold in this cart's currency.")
        total = (item.quantity if item else 0) + units
        if total > MAX_QUANTITY:
            raise InvalidItem("quantity", f"At most {MAX_QUANTITY} units of one sku per cart.")
        self._require_stock(sku, total)
        if item is None:
            price = product.current_price_cents
            self._set_line(None, LineRow(sku, product.name, total, price, price))
        else:
            self._set_line(item, item._replace(quantity=total))


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
    cart = claim_for_write(session, cart_id, expected_version=expected_version)
    skus = {operation.sku for operation in operations}
    found = contents(session, cart_id, skus=sorted(skus))
    applier = _Applier(session, cart, found, policy, skus)
    for index, operation in enumerate(operations):
        try:
            applier.apply(operation)
        except StockUnavailable:
            raise
        except (NotFound, InvalidItem, OutOfStock) as error:
            if not indexed:
                raise
            raise InvalidOperation(index, error) from None
    return written_view(cart, found, policy=policy, available=applier.available)
