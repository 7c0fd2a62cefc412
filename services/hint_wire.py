"""The wire format of live-cart hints, shared by the publisher (``services.cart_hints``)
and the gateway (``realtime``), which imports nothing heavier than this."""

from __future__ import annotations

import json

CHANNEL = "cartfleet:cart-hints"


def encode(cart_id: str, version: int | None) -> str:
    """``version`` None: unknown, the client refetches (the gateway's resync)."""
    return json.dumps({"cart_id": cart_id, "version": version})


def decode(data: bytes | str) -> tuple[str, int | None] | None:
    """The hint in ``data``, or None for anything that is not one."""
    try:
        hint = json.loads(data)
        cart_id, version = hint["cart_id"], hint["version"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(cart_id, str) or isinstance(version, bool):
        return None
    if not (version is None or isinstance(version, int)):
        return None
    return cart_id, version
