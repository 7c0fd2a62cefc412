"""The demo storefront (docs/storefront.md): HTML shells whose script uses the public JSON API.

Registered only when ``DEMO_STOREFRONT`` is true (on under ``make run``, off by default).
Each page carries what its script needs in ``data-`` attributes, and
web/static/storefront.js fetches the rest and builds the DOM with text nodes only. The
one exception is the product page: its first image is the page's largest paint, so the
server renders the product from ``GET /api/products/{sku}``'s own document
(web.products.product_document), escaped by Jinja, for the browser to fetch the image
before any script runs. The pay form confirms the PaymentIntent against ``STRIPE_API_BASE`` with
the client secret and the publishable key, as Stripe.js does against Stripe.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from flask import Blueprint, Response, render_template

from services import observability
from services.settings import get_settings
from web.errors import APIError
from web.products import product_document

bp = Blueprint(
    "storefront",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

STRIPE_API = "https://api.stripe.com"


def _stripe_api_base() -> str:
    return (get_settings().stripe_api_base or STRIPE_API).rstrip("/")


@functools.cache
def _release() -> str:
    # Asks git once per process, as the backend's Sentry does, not once per page.
    return observability.release(get_settings())


def _browser_sentry() -> dict[str, str] | None:
    """What web/static/errors.js needs, or None when the pages load no Sentry at all."""
    settings = get_settings()
    if not settings.sentry_browser_dsn:
        return None
    return {
        "dsn": settings.sentry_browser_dsn,
        "release": _release(),
        "environment": settings.env,
    }


def _page(template: str, **context: object) -> str:
    return render_template(
        f"storefront/{template}",
        stripe_api_base=_stripe_api_base(),
        publishable_key=get_settings().stripe_publishable_key,
        sentry=_browser_sentry(),
        **context,
    )


def _origin(url: str) -> str:
    # A DSN's user part (the public key) is not part of its origin.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


@bp.after_request
def _page_headers(response: Response) -> Response:
    # The script may talk to this origin, the Stripe API, the live-cart gateway and Sentry
    # (when set) only; the cart id in the URL is the right to use the cart, so no Referer
    # carries it anywhere.
    connect = ["'self'", _origin(_stripe_api_base()), _origin(get_settings().realtime_url)]
    if get_settings().sentry_browser_dsn:
        connect.append(_origin(get_settings().sentry_browser_dsn))
    # Images from this origin, a placeholder's data URI, and MEDIA_URL's origin when the
    # renditions are on a CDN.
    images = ["'self'", "data:"]
    if urlsplit(get_settings().media_url).netloc:
        images.append(_origin(get_settings().media_url))
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {' '.join(images)}; "
        f"connect-src {' '.join(connect)}; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/")
def products_page():
    return _page("products.html")


@bp.get("/products/<sku>")
def product_page(sku: str):
    try:
        product = product_document(sku)
    except APIError as error:
        if error.status != 404:
            raise
        return _page("product.html", sku=sku, product=None), 404
    return _page("product.html", sku=sku, product=product)


@bp.get("/cart/<cart_id>")
def cart_page(cart_id: str):
    return _page("cart.html", cart_id=cart_id)


@bp.get("/orders/<order_id>")
def order_page(order_id: str):
    return _page("order.html", order_id=order_id)
