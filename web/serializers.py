"""JSON shapes of API.md for carts, products, orders and checkouts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from models.carts.reads import CartView
from models.catalog import Product
from models.orders.checkout import Checkout
from models.orders.reads import OrderLine, OrderView
from models.orders.tables import OrderItem
from models.product_images import ReadyImage
from models.product_search import ListedProduct
from models.recommendations.serving import ShownProduct


def iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def cart_json(view: CartView) -> dict[str, Any]:
    return {
        "id": view.id,
        "status": view.status,
        "version": view.version,
        "currency": view.currency,
        "email": view.email,
        "items": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price_cents": line.unit_price_cents,
                "current_price_cents": line.current_price_cents,
                "in_stock": line.in_stock,
                "stock_error": line.stock_error,
            }
            for line in view.lines
        ],
        "subtotal_cents": view.subtotal_cents,
        "discount": (
            {"code": view.discount_code, "percent": view.discount_percent}
            if view.discount_code
            else None
        ),
        "discount_cents": view.discount_cents,
        "total_cents": view.total_cents,
        "order_id": str(view.order_id) if view.order_id else None,
        "saved": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "current_price_cents": line.current_price_cents,
                "in_stock": line.in_stock,
            }
            for line in view.saved
        ],
    }


# The image's ``url``: the widest JPEG up to this width (every browser shows JPEG; the
# srcset offers the rest).
DEFAULT_IMAGE_WIDTH = 1280


def image_json(image: ReadyImage, media_url: str) -> dict[str, Any]:
    """A ready image in the storefront's shape; URLs are ``media_url`` + the file's path."""
    base = media_url.rstrip("/") + "/"
    renditions = sorted(image.renditions, key=lambda r: (r["width"], r["format"]))
    jpegs = [r for r in renditions if r["format"] == "jpeg"]
    default = [r for r in jpegs if r["width"] <= DEFAULT_IMAGE_WIDTH][-1:] or jpegs[:1]
    return {
        "url": base + default[0]["path"] if default else None,
        "width": image.width,
        "height": image.height,
        "alt": image.alt,
        "placeholder": image.placeholder,
        "srcset": [
            {
                "url": base + r["path"],
                "width": r["width"],
                "format": r["format"],
            }
            for r in renditions
        ],
    }


def product_json(
    product: Product | ListedProduct | ShownProduct,
    available: int | None,
    images: Sequence[ReadyImage] = (),
    *,
    media_url: str = "/media/",
) -> dict[str, Any]:
    """``available`` is None when stock could not be verified; ``images`` are ready ones."""
    return {
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "price_cents": product.price_cents,
        "currency": product.currency,
        "available": available,
        "images": [image_json(image, media_url) for image in images],
    }


def order_item_json(item: OrderItem | OrderLine) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "name": item.name,
        "quantity": item.quantity,
        "unit_price_cents": item.unit_price_cents,
    }


def order_json(order: OrderView) -> dict[str, Any]:
    return {
        "order_id": str(order.id),
        "order_number": order.order_number,
        "status": order.status,
        "items": [order_item_json(item) for item in order.items],
        "subtotal_cents": order.subtotal_cents,
        "discount_cents": order.discount_cents,
        "total_cents": order.total_cents,
        "currency": order.currency,
        "created_at": iso(order.created_at),
        "paid_at": iso(order.paid_at),
    }


def checkout_json(checkout: Checkout) -> dict[str, Any]:
    order = checkout.order
    expires = checkout.reservation_expires_at
    return {
        "order_id": str(order.id),
        "order_number": order.order_number,
        "status": order.status,
        "total_cents": order.total_cents,
        "currency": order.currency,
        "payment_intent_id": order.payment_intent_id,
        "client_secret": order.client_secret,
        "reservation_expires_at": iso(expires) if expires else None,
        "price_changes": checkout.price_changes,
    }
