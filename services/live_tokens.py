"""Short-lived signed tokens for the live-cart WebSocket (``POST .../live-token``).

The web signs ``{"cart": id}`` with ``SECRET_KEY`` (salted for this use only); the
realtime gateway checks the signature, the age and that the token names the cart the
client asks for, before the WebSocket handshake completes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "cartfleet.live-cart"


class TokenRefused(ValueError):
    """The token is malformed, forged, expired or for another cart."""


@dataclass(frozen=True)
class LiveToken:
    token: str
    expires_at: dt.datetime


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def issue(cart_id: str, *, secret: str, ttl_s: int, now: dt.datetime | None = None) -> LiveToken:
    """A token for ``cart_id`` valid ``ttl_s`` seconds from now."""
    issued = now or dt.datetime.now(dt.UTC)
    token = _serializer(secret).dumps({"cart": cart_id})
    return LiveToken(token, issued.replace(microsecond=0) + dt.timedelta(seconds=ttl_s))


def verify(token: str, *, cart_id: str, secret: str, ttl_s: int) -> None:
    """Raise ``TokenRefused`` unless ``token`` is ours, younger than ``ttl_s``, for ``cart_id``."""
    try:
        payload = _serializer(secret).loads(token, max_age=ttl_s)
    except SignatureExpired:
        raise TokenRefused("expired") from None
    except BadSignature:
        raise TokenRefused("bad signature") from None
    if not isinstance(payload, dict) or payload.get("cart") != cart_id:
        raise TokenRefused("another cart")
