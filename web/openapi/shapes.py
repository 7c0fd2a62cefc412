"""Response shapes of the JSON API (API.md), declared for the OpenAPI document.

The views build their answers as dicts (``web.serializers`` and the admin modules); these
models only describe them, and the contract tests hold the two together (the fast drift
test on real answers, Schemathesis in ``make test-api``). Models that end in ``Open``
describe an object by the keys it always has and allow more: nested reports whose
detail belongs to their own module's docs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.orders.status import OrderStatus
from models.staff import Role

Timestamp = str  # ISO 8601 UTC; documented as a string, as clients receive it
CartStatus = Literal["active", "checkout", "completed", "abandoned"]


class Shape(BaseModel):
    """Every key is always present (nullable ones as null) and no other is sent."""

    model_config = ConfigDict(extra="forbid", json_schema_mode_override="serialization")


class Open(BaseModel):
    """Every declared key is present; more may follow."""

    model_config = ConfigDict(extra="allow", json_schema_mode_override="serialization")


# --- Errors ------------------------------------------------------------------------------


class Error(Open):
    """``{"error", "message"}`` plus the extra fields of the error's code (API.md):
    ``errors`` (each ``{"field", "message"}``) on a 422, ``current_version`` on a
    ``version_conflict``, ``available`` on ``out_of_stock``..."""

    error: str
    message: str


# --- Storefront --------------------------------------------------------------------------


class ImageSource(Shape):
    url: str
    width: int
    format: str


class Image(Shape):
    url: str | None
    width: int | None
    height: int | None
    alt: str
    placeholder: str | None
    srcset: list[ImageSource]


class Product(Shape):
    sku: str
    name: str
    description: str
    price_cents: int
    currency: str
    available: int | None
    images: list[Image]


class ProductPage(Shape):
    items: list[Product]
    next_cursor: str | None


class CartItem(Shape):
    sku: str
    name: str
    quantity: int
    unit_price_cents: int
    current_price_cents: int
    in_stock: bool
    stock_error: str | None


class AppliedDiscount(Shape):
    code: str
    percent: int


class Cart(Shape):
    id: str
    status: CartStatus
    version: int
    currency: str
    email: str | None
    items: list[CartItem]
    subtotal_cents: int
    discount: AppliedDiscount | None
    discount_cents: int
    total_cents: int
    order_id: str | None


class OrderItem(Shape):
    sku: str
    name: str
    quantity: int
    unit_price_cents: int


class Order(Shape):
    order_id: str
    order_number: str
    status: OrderStatus
    items: list[OrderItem]
    subtotal_cents: int
    discount_cents: int
    total_cents: int
    currency: str
    created_at: Timestamp
    paid_at: Timestamp | None


class PriceChange(Shape):
    sku: str
    old_price_cents: int
    new_price_cents: int


class CheckoutResult(Shape):
    order_id: str
    order_number: str
    status: OrderStatus
    total_cents: int
    currency: str
    payment_intent_id: str | None
    client_secret: str | None
    reservation_expires_at: Timestamp | None
    price_changes: list[PriceChange]


# --- Admin -------------------------------------------------------------------------------


class AdminProduct(Product):
    active: bool
    stock: dict[str, int]


class AdminProductRow(Shape):
    sku: str
    name: str
    price_cents: int
    currency: str
    active: bool
    images: int


class AdminProductPage(Shape):
    items: list[AdminProductRow]
    next_cursor: str | None


class ImageAccepted(Shape):
    image_id: str
    status: str


class Rendition(Shape):
    url: str
    width: int
    height: int
    format: str


class AdminImage(Shape):
    image_id: str
    status: str
    error: str | None
    position: int
    alt: str
    width: int | None
    height: int | None
    renditions: list[Rendition]


class AdminImageList(Shape):
    items: list[AdminImage]


class ImageDeleted(Shape):
    deleted: int
    image_id: str


class OrderSummary(Shape):
    order_id: str
    order_number: str
    status: OrderStatus
    email: str
    total_cents: int
    refunded_cents: int
    currency: str
    created_at: Timestamp
    paid_at: Timestamp | None


class OrderPage(Shape):
    items: list[OrderSummary]
    next_cursor: str | None
    count: int


class Refund(Shape):
    refund_id: int
    stripe_refund_id: str | None
    amount_cents: int
    currency: str
    reason: str
    note: str | None
    status: str
    failure_reason: str | None
    created_by: str
    created_at: Timestamp


class RefundList(Shape):
    items: list[Refund]


class RefundRequested(Shape):
    refund_id: int
    status: str
    amount_cents: int
    currency: str


class OrderDetailOpen(Open):
    """``GET /admin/api/orders/{id}``: the summary plus items, reservations, emails,
    events, refunds and the timeline (docs/admin.md)."""

    order_id: str
    order_number: str
    status: OrderStatus
    email: str
    total_cents: int
    currency: str
    items: list[OrderItem]
    reservations: list[dict[str, Any]]
    reservation_errors: list[Any]
    emails: list[dict[str, Any]]
    events: list[dict[str, Any]]
    refunds: list[Refund]
    refundable_cents: int
    timeline: list[dict[str, Any]]


class Queued(Shape):
    queued: str


class DiscountCode(Shape):
    code: str
    percent: int
    status: str
    uses: int
    usage_limit: int
    cart_id: str | None
    expires_at: Timestamp | None
    used_at: Timestamp | None
    created_at: Timestamp


class DiscountCodeList(Shape):
    items: list[DiscountCode]


class StaffUser(Shape):
    id: int
    email: str
    role: Role
    disabled: bool
    last_login_at: Timestamp | None
    created_at: Timestamp


class StaffUserList(Shape):
    items: list[StaffUser]


class ApiToken(Shape):
    id: int
    user_id: int
    name: str
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None


class ApiTokenList(Shape):
    items: list[ApiToken]


class IssuedToken(ApiToken):
    token: str


class AuditEntry(Shape):
    id: int
    actor: str
    action: str
    target: str | None
    outcome: str
    status_code: int | None
    request_id: str | None
    details: dict[str, Any] | None
    at: Timestamp


class AuditList(Shape):
    items: list[AuditEntry]


class DeadLetter(Shape):
    message_id: str
    queue: str
    actor: str
    args: list[Any]
    kwargs: dict[str, Any]
    failed_at: Timestamp
    retries: int
    error: str
    traceback: str | None


class DeadLetterList(Shape):
    items: list[DeadLetter]


class Requeued(Shape):
    requeued: int
    message_id: str
    queue: str


class BulkRequeued(Shape):
    requeued: int


class Deleted(Shape):
    deleted: int
    message_id: str


class QueueStats(Shape):
    queue: str
    ready: int
    in_progress: int
    delayed: int
    dead: int
    oldest_age_s: float | None


class BrokerHeartbeat(Shape):
    id: str
    last_heartbeat_at: Timestamp
    age_s: float
    alive: bool


class QueueList(Shape):
    items: list[QueueStats]
    workers: list[BrokerHeartbeat]


class QueueMessages(Shape):
    queue: str
    offset: int
    items: list[dict[str, Any]]


class ReconciliationOpen(Open):
    items: list[dict[str, Any]]
    next_cursor: str | None
    summary: dict[str, Any]
    events_not_applied: list[dict[str, Any]]


class RetryOutcome(Shape):
    outcome: str
    order: dict[str, Any]


class Resolved(Shape):
    order_id: str
    resolved_errors: list[dict[str, Any]]
    note: str


class ScheduleOpen(Open):
    job: str
    queue: str
    cron: str
    next_run: Timestamp
    last_run: dict[str, Any] | None
    recent_runs: list[dict[str, Any]]


class ScheduleList(Shape):
    leader: str | None
    items: list[ScheduleOpen]


class ScheduledRun(Shape):
    job: str
    queue: str
    message_id: str


class WebhookHealthOpen(Open):
    window_hours: float
    counts: dict[str, int]
    total: int
    failure_rate: float
    processing_lag_seconds: dict[str, float | None]
    oldest_unprocessed_age_seconds: float | None
    dead_letters: int | None


class WebhookEvent(Shape):
    id: str
    type: str
    status: str
    source: str
    attempts: int
    error: str | None
    reason: str | None
    received_at: Timestamp
    processed_at: Timestamp | None


class WebhookEventPage(Shape):
    items: list[WebhookEvent]
    next_cursor: str | None


class WebhookEventDetail(WebhookEvent):
    payload: dict[str, Any]
    order_id: str | None


class Replayed(Shape):
    replayed: int
    ids: list[str]


class Warehouse(Shape):
    code: str
    name: str
    country: str
    postal_code: str | None
    latitude: float | None
    longitude: float | None
    priority: int
    active: bool
    ships_to: list[str] | None
    low_stock_threshold: int
    updated_at: Timestamp | None


class WarehouseList(Shape):
    items: list[Warehouse]


class StockCell(Shape):
    sku: str
    warehouse: str
    on_hand: int
    reserved: int
    available: int
    low: bool


class StockPage(Shape):
    items: list[StockCell]
    next_cursor: str | None


class StockLevel(Shape):
    sku: str
    warehouse: str
    on_hand: int


class StockTransfer(Open):
    sku: str
    to: dict[str, Any]


class FunnelStep(Shape):
    step: str
    count: int
    abandonment_rate: float | None


class AbandonedProduct(Shape):
    sku: str
    name: str | None
    carts: int


class ReportPeriod(Shape):
    # ``from`` is a Python keyword: the alias is the key clients see.
    from_: Timestamp = Field(alias="from")
    to: Timestamp


class Funnel(ReportPeriod):
    steps: list[FunnelStep]
    average_cart_value_cents: int | None
    most_abandoned_products: list[AbandonedProduct]
    checkout_completion_seconds: dict[str, float | None]


class RecoveryFigures(ReportPeriod):
    reminders_sent: dict[str, int]
    clicks: int
    clicks_by_step: dict[str, int]
    carts_reminded: int
    carts_recovered: int
    carts_recovered_by_step: dict[str, int]
    recovery_rate: float | None
    # Per currency: {"usd": 12500}.
    revenue_recovered_cents: dict[str, int]
    discount_given_cents: dict[str, int]
    unsubscribes: int
