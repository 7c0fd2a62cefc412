"""What the OpenAPI document says about each JSON route, keyed by its Flask endpoint.

Paths, methods and path parameters come from the app's URL map; request bodies and
query strings are the very pydantic schemas the views parse; answers are the shapes of
``web.openapi.shapes``. A new JSON route needs one entry here: ``tests/web/
test_openapi.py`` names any route without one (and any entry without a route).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from web import carts, checkout, products
from web.admin import (
    analytics,
    audit,
    dead_letters,
    discount_codes,
    export,
    order_query,
    orders,
    queues,
    reconciliation,
    refunds,
    users,
    warehouses,
    webhooks,
)
from web.admin import product_images as admin_images
from web.admin import products as admin_products
from web.openapi import shapes

CSV = "text/csv"
ANY_OBJECT = "object"


@dataclass(frozen=True)
class Operation:
    """``ok``: each success status and its shape. ``errors``: the statuses beyond those
    every route of its kind can answer (see ``web.openapi.document.common_errors``)."""

    summary: str
    ok: dict[int, type[BaseModel] | str]
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    # Cart writes honour ``If-Match: "<version>"`` (409 ``version_conflict`` when stale).
    if_match: bool = False
    # A multipart/form-data body, as a JSON schema (file uploads).
    form: dict[str, Any] | None = None


def _cart_write(summary: str, body: type[BaseModel] | None = None) -> Operation:
    return Operation(summary, {200: shapes.Cart}, body=body, errors=(409,), if_match=True)


OPERATIONS: dict[str, Operation] = {
    "openapi.document": Operation("This document", {200: ANY_OBJECT}),
    # --- Storefront ---
    "products.list_products": Operation(
        "Search and list products, with stock",
        {200: shapes.ProductPage},
        query=products.ProductQuery,
    ),
    "products.get_product": Operation("One product, with stock", {200: shapes.Product}),
    "carts.create_cart": Operation("Create a cart", {201: shapes.Cart}, body=carts.NewCart),
    "carts.get_cart": Operation("A cart, re-priced and stock-checked", {200: shapes.Cart}),
    "carts.add_item": _cart_write("Add a quantity of a product", carts.AddItem),
    "carts.set_quantity": _cart_write("Set a line's quantity (0 removes it)", carts.SetQuantity),
    "carts.remove_item": _cart_write("Remove a line"),
    "carts.apply_discount": _cart_write("Apply a discount code", carts.ApplyCode),
    "carts.remove_discount": _cart_write("Remove the discount code"),
    "checkout.checkout_cart": Operation(
        "Reserve stock, create the order and its PaymentIntent",
        {200: shapes.CheckoutResult, 201: shapes.CheckoutResult},
        body=checkout.CheckoutBody,
        errors=(409, 502),
    ),
    "orders.get_order": Operation("An order's status", {200: shapes.Order}),
    # --- Admin ---
    "admin.put_product": Operation(
        "Create or update a product and its stock per warehouse",
        {200: shapes.AdminProduct},
        body=admin_products.ProductBody,
    ),
    "admin.list_products": Operation(
        "Products for staff (inactive ones too), by sku",
        {200: shapes.AdminProductPage},
        query=admin_products.ProductListQuery,
    ),
    "admin.upload_product_image": Operation(
        "Upload an image (up to 20 MiB); its renditions are made by a job",
        {202: shapes.ImageAccepted},
        form={
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {"type": "string", "contentMediaType": "application/octet-stream"},
                "alt": {"type": "string", "maxLength": admin_images.MAX_ALT_LENGTH},
            },
        },
    ),
    "admin.list_product_images": Operation(
        "A product's images with their status and renditions", {200: shapes.AdminImageList}
    ),
    "admin.edit_product_image": Operation(
        "Set an image's alt text or move it to a position",
        {200: shapes.AdminImage},
        body=admin_images.ImageChanges,
    ),
    "admin.delete_product_image": Operation(
        "Delete an image and its files", {200: shapes.ImageDeleted}
    ),
    "admin.list_orders": Operation(
        "Orders, filtered and paged", {200: shapes.OrderPage}, query=order_query.OrderFilters
    ),
    "admin.export_orders": Operation(
        "Orders (or their lines) as CSV, streamed", {200: CSV}, query=export.ExportFilters
    ),
    "admin.get_order": Operation(
        "An order with its timeline, emails and refunds", {200: shapes.OrderDetailOpen}
    ),
    "admin.ship_order": Operation(
        "Mark a paid order shipped",
        {200: shapes.OrderDetailOpen},
        body=orders.ShipBody,
        errors=(409,),
    ),
    "admin.ship_shipment": Operation(
        "Ship one warehouse's shipment of a paid order",
        {200: shapes.OrderDetailOpen},
        body=orders.ShipBody,
        errors=(409,),
    ),
    "admin.refund_order": Operation(
        "Refund an order through Stripe",
        {202: shapes.RefundRequested},
        body=refunds.RefundBody,
        errors=(409,),
    ),
    "admin.list_refunds": Operation("An order's refunds", {200: shapes.RefundList}),
    "admin.resend_confirmation_email": Operation(
        "Send the order confirmation again", {202: shapes.Queued}, errors=(409,)
    ),
    "admin.list_discount_codes": Operation("Discount codes", {200: shapes.DiscountCodeList}),
    "admin.create_discount_code": Operation(
        "Create a discount code",
        {201: shapes.DiscountCode},
        body=discount_codes.NewCode,
        errors=(409,),
    ),
    "admin.disable_discount_code": Operation(
        "Disable a discount code", {200: shapes.DiscountCode}, errors=(409,)
    ),
    "admin.list_users": Operation("Staff users (owner)", {200: shapes.StaffUserList}),
    "admin.create_user": Operation(
        "Create a staff user (owner)",
        {201: shapes.StaffUser},
        body=users.NewUser,
        errors=(409,),
    ),
    "admin.update_user": Operation(
        "Change a staff user's role, password or access (owner)",
        {200: shapes.StaffUser},
        body=users.UserChange,
    ),
    "admin.list_tokens": Operation("A staff user's API tokens", {200: shapes.ApiTokenList}),
    "admin.create_token": Operation(
        "Issue an API token (shown once)", {201: shapes.IssuedToken}, body=users.NewToken
    ),
    "admin.revoke_token": Operation("Revoke an API token", {200: shapes.ApiToken}),
    "admin.list_audit": Operation("The audit log", {200: shapes.AuditList}, query=audit.AuditQuery),
    "admin.list_dead_letters": Operation(
        "Dead letters waiting",
        {200: shapes.DeadLetterList},
        query=dead_letters.DeadLetterQuery,
    ),
    "admin.requeue_dead_letter": Operation("Requeue one dead letter", {200: shapes.Requeued}),
    "admin.requeue_dead_letters": Operation(
        "Requeue dead letters in bulk",
        {200: shapes.BulkRequeued},
        body=dead_letters.BulkRequeue,
    ),
    "admin.delete_dead_letter": Operation("Purge one dead letter", {200: shapes.Deleted}),
    "admin.list_queues": Operation("Queue depths and workers", {200: shapes.QueueList}),
    "admin.queue_messages": Operation(
        "Messages waiting on a queue",
        {200: shapes.QueueMessages},
        query=queues.MessagesQuery,
    ),
    "admin.reconciliation_orders": Operation(
        "Orders with reservation-confirmation errors; events not applied",
        {200: shapes.ReconciliationOpen},
        query=reconciliation.ReconciliationQuery,
    ),
    "admin.retry_reconciliation": Operation(
        "Retry an order's reservation confirmation now",
        {200: shapes.RetryOutcome},
        errors=(409,),
    ),
    "admin.resolve_reconciliation": Operation(
        "Resolve an order's confirmation errors by hand",
        {200: shapes.Resolved},
        body=reconciliation.ResolveBody,
        errors=(409,),
    ),
    "admin.schedules": Operation(
        "Periodic jobs, their runs, the scheduler leader", {200: shapes.ScheduleList}
    ),
    "admin.run_schedule": Operation("Run a periodic job now", {202: shapes.ScheduledRun}),
    "admin.webhooks_health": Operation(
        "Health of the Stripe webhook inbox", {200: shapes.WebhookHealthOpen}
    ),
    "admin.webhook_events": Operation(
        "Stored Stripe events, newest first, filtered and paged",
        {200: shapes.WebhookEventPage},
        query=webhooks.EventQuery,
    ),
    "admin.webhook_event": Operation(
        "One stored Stripe event with its payload", {200: shapes.WebhookEventDetail}
    ),
    "admin.replay_webhook_event": Operation(
        "Hand one stored event to the processor again", {202: shapes.Replayed}
    ),
    "admin.replay_webhook_events": Operation(
        "Hand every replayable event matching a filter to the processor again",
        {202: shapes.Replayed},
        body=webhooks.ReplayBody,
    ),
    "admin.list_warehouses": Operation("Warehouses", {200: shapes.WarehouseList}),
    "admin.create_warehouse": Operation(
        "Create a warehouse", {201: shapes.Warehouse}, body=warehouses.NewWarehouse, errors=(409,)
    ),
    "admin.get_warehouse": Operation("One warehouse", {200: shapes.Warehouse}),
    "admin.update_warehouse": Operation(
        "Edit or deactivate a warehouse (409 warehouse_busy with live reservations)",
        {200: shapes.Warehouse},
        body=warehouses.WarehouseChanges,
        errors=(409,),
    ),
    "admin.stock_grid": Operation(
        "Stock per sku and warehouse: on hand, reserved, available, low",
        {200: shapes.StockPage},
        query=warehouses.StockQuery,
    ),
    "admin.adjust_stock": Operation(
        "Adjust a warehouse's stock of a sku, with a reason",
        {201: shapes.StockLevel},
        body=warehouses.Adjustment,
        errors=(404, 409),
    ),
    "admin.transfer_stock": Operation(
        "Move units of a sku between warehouses, atomically",
        {201: shapes.StockTransfer},
        body=warehouses.Transfer,
        errors=(404, 409),
    ),
    "admin.funnel": Operation(
        "The cart funnel over a period", {200: shapes.Funnel}, query=analytics.Period
    ),
    "admin.recovery": Operation(
        "Cart recovery figures over a period",
        {200: shapes.RecoveryFigures},
        query=analytics.Period,
    ),
}
