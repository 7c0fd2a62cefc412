"""The storefront visitor: a random id in a signed cookie, and the email once known.

The email is known once the visitor reads a paid order of theirs (``remember_buyer``):
never from what a client types, since the personal picks read that email's purchases.

The id ties a visitor's product views together for the personal homepage. Signing
(itsdangerous, Flask's own) keeps a client from claiming another visitor's history by
editing the cookie; it carries no secret of its own.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass

import redis
from dramatiq.errors import BrokerConnectionError
from flask import Response, after_this_request, g, request
from itsdangerous import BadSignature, URLSafeSerializer

from jobs.recommendations import record_product_view
from models.base import utcnow
from services.settings import get_settings

logger = logging.getLogger(__name__)

COOKIE = "cf_visitor"
MAX_AGE_S = 365 * 86_400
_SALT = "cartfleet.visitor"


@dataclass(frozen=True)
class Visitor:
    id: str
    email: str | None = None


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().secret_key, salt=_SALT)


def current() -> Visitor | None:
    """The visitor of the signed cookie; None without one (or with a forged one)."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return None
    email = data.get("email")
    return Visitor(data["id"], email if isinstance(email, str) else None)


def remember(visitor: Visitor) -> None:
    """Set the visitor's cookie on this request's response."""
    if getattr(g, "visitor_cookie_set", False):
        return
    g.visitor_cookie_set = True
    value = _serializer().dumps({"id": visitor.id, "email": visitor.email})

    @after_this_request
    def _set(response: Response) -> Response:
        response.set_cookie(
            COOKIE,
            value,
            max_age=MAX_AGE_S,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
        return response


def remember_buyer(email: str) -> None:
    """Tie the visitor to the email of a paid order they read: its unguessable id is the
    buyer's proof, which an email typed into a cart is not."""
    visitor = current()
    if visitor is not None and visitor.email == email:
        return
    remember(Visitor(visitor.id if visitor else secrets.token_urlsafe(16), email))


def current_or_new() -> Visitor:
    """The cookie's visitor, or a new one whose cookie this response sets."""
    visitor = current()
    if visitor is None:
        visitor = Visitor(secrets.token_urlsafe(16))
        remember(visitor)
    return visitor


def record_view(sku: str) -> None:
    """Hand the view of ``sku`` to the job fleet; a read never fails for want of Redis."""
    visitor = current_or_new()
    try:
        record_product_view.send(
            visitor.id, sku, visitor.email, utcnow().isoformat(), str(uuid.uuid4())
        )
    except (redis.RedisError, BrokerConnectionError):
        logger.warning("Product view of %s not recorded: the broker is unreachable", sku)
