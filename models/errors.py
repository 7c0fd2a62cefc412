"""The project's error tree: every error raised on purpose carries its code and HTTP status.

``web/errors.py`` answers each one as API.md's JSON error; jobs let the payment-event
errors propagate so Dramatiq retries them. Codes are what clients see.
"""

from __future__ import annotations

from typing import Any


class CartfleetError(Exception):
    """Base of every error the project raises on purpose."""

    code = "error"
    status = 400

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


# --- Carts and checkout ---------------------------------------------------------------------


class NotFound(CartfleetError):
    code, status = "not_found", 404


class VersionConflict(CartfleetError):
    code, status = "version_conflict", 409


class CartNotActive(CartfleetError):
    code, status = "cart_not_active", 409


class InvalidItem(CartfleetError):
    """The body is well-formed but breaks a cart rule (quantity total, currency)."""

    code, status = "validation_error", 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, errors=[{"field": field, "message": message}])


class OutOfStock(CartfleetError):
    code, status = "out_of_stock", 409


class ItemsOutOfStock(CartfleetError):
    """Checkout: some lines cannot be reserved; ``items`` lists them."""

    code, status = "out_of_stock", 409


class StockUnavailable(CartfleetError):
    code, status = "stock_unavailable", 503


class InvalidCode(CartfleetError):
    code, status = "invalid_code", 422


class CodeTaken(CartfleetError):
    code, status = "code_taken", 409


class EmptyCart(CartfleetError):
    code, status = "empty_cart", 409


class PriceChangeNeedsAcknowledgment(CartfleetError):
    code, status = "price_changed_acknowledgment_required", 409


class AmountOutOfRange(CartfleetError):
    """An amount outside what may be charged or refunded: a checkout total beyond Stripe's
    card limits, a refund over the order's refundable remainder."""

    code, status = "amount_out_of_range", 422


# --- Orders ---------------------------------------------------------------------------------


class InvalidTransition(CartfleetError):
    code, status = "invalid_transition", 409


class NotRetryable(CartfleetError):
    """No reservation-confirmation errors to retry, a retry under way, or out of attempts."""

    code, status = "not_retryable", 409


class NothingToResolve(CartfleetError):
    code, status = "nothing_to_resolve", 409


class PaymentProviderError(CartfleetError):
    """Stripe failed or could not be reached; what was started for the call is undone."""

    code, status = "payment_provider_error", 502


class PaymentEventError(CartfleetError):
    """A payment event cannot be applied yet; the job retries it, then dead-letters it."""

    code, status = "payment_event_error", 409


class OrderNotFound(PaymentEventError):
    """No order matches the event (yet): never dropped silently."""

    code, status = "order_not_found", 404


# --- Warehouses and stock ------------------------------------------------------------------


class UnknownWarehouse(InvalidItem):
    """Stock named a warehouse code that does not exist."""


class WarehouseExists(CartfleetError):
    code, status = "warehouse_exists", 409


class WarehouseBusy(CartfleetError):
    """A warehouse with live reservations cannot be deactivated: they would be stranded."""

    code, status = "warehouse_busy", 409


# --- Staff ----------------------------------------------------------------------------------


class EmailTaken(CartfleetError):
    code, status = "email_taken", 409


# --- Product images ---------------------------------------------------------------------------


class InvalidImage(CartfleetError):
    """An upload the store cannot take; ``reason`` says why (nothing was stored)."""

    code, status = "invalid_image", 422

    def __init__(self, reason: str) -> None:
        super().__init__(f"The image was refused: {reason}.", reason=reason)


class MediaUnavailable(CartfleetError):
    """The media store could not be written: try again (nothing was kept)."""

    code, status = "unavailable", 503
