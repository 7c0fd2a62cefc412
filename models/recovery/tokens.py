"""Signed tokens of the recovery links and of the unsubscribe links (HMAC-SHA256).

A recovery token names a cart, a step and when it expires (with the step's code); an
unsubscribe token names an address by its hash and never expires. Both are
``<base64url payload>.<base64url signature>``; anything else reads as None.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

SIGNATURE_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, payload: str) -> str:
    digest = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return _b64(digest[:SIGNATURE_BYTES])


def _sign(secret: str, payload: str) -> str:
    return f"{_b64(payload.encode())}.{_signature(secret, payload)}"


def _verified(secret: str, token: str) -> list[str] | None:
    encoded, _, signature = token.partition(".")
    try:
        payload = _unb64(encoded).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(signature.encode(), _signature(secret, payload).encode()):
        return None
    return payload.split(".")


@dataclass(frozen=True)
class RecoveryLink:
    cart_id: str
    step: str
    expires_at: dt.datetime


def recovery_token(secret: str, *, cart_id: str, step: str, expires_at: dt.datetime) -> str:
    return _sign(secret, f"r1.{cart_id}.{step}.{int(expires_at.timestamp())}")


def read_recovery_token(secret: str, token: str) -> RecoveryLink | None:
    parts = _verified(secret, token)
    if parts is None or len(parts) != 4 or parts[0] != "r1" or not parts[3].isdigit():
        return None
    return RecoveryLink(parts[1], parts[2], dt.datetime.fromtimestamp(int(parts[3]), dt.UTC))


def unsubscribe_token(secret: str, *, address_hash: str) -> str:
    return _sign(secret, f"u1.{address_hash}")


def read_unsubscribe_token(secret: str, token: str) -> str | None:
    """The address hash the token was made for, or None."""
    parts = _verified(secret, token)
    if parts is None or len(parts) != 2 or parts[0] != "u1":
        return None
    return parts[1]
