"""The Flask app: webhooks, cart and checkout API, admin, health and metrics, and the demo
storefront when ``DEMO_STOREFRONT`` is on."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from services.settings import get_settings
from web import (
    admin,
    body_limits,
    cart_batch,
    carts,
    checkout,
    errors,
    guards,
    health,
    live,
    media,
    openapi,
    orders,
    products,
    recommendations,
    recovery,
    request_metrics,
    storefront,
    webhooks,
)
from worker import bootstrap


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app; ``config`` overrides Flask settings (tests)."""
    bootstrap.start()

    # No app-wide /static: the storefront's files are served only when it is enabled.
    app = Flask(__name__, static_folder=None)
    app.config.update(JSON_SORT_KEYS=False)
    body_limits.install(app)
    # Flask types ``app.json`` as any provider; the app keeps Flask's default one.
    if not isinstance(app.json, DefaultJSONProvider):
        raise AssertionError("Flask's own JSON provider was replaced")
    app.json.sort_keys = False
    if config:
        app.config.update(config)

    errors.register_error_handlers(app)
    blueprints: tuple[ModuleType, ...]
    blueprints = (health, webhooks, products, recommendations, carts, cart_batch, live)
    blueprints += (checkout, orders, recovery, admin, openapi)
    blueprints += (storefront,) if get_settings().demo_storefront else ()
    blueprints += (media,) if get_settings().serve_media else ()
    for module in blueprints:
        app.register_blueprint(module.bp)
    # After the blueprints, so the admin token check (an app-wide hook) comes first.
    guards.register_guards(app)
    request_metrics.install(app)
    return app
