"""``POST /api/carts/{id}/live-token``: a short-lived token for the live-cart gateway."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import select

from models.carts.tables import Cart
from models.db import Session
from models.errors import NotFound
from services import live_tokens
from services.settings import get_settings
from web.serializers import iso

bp = Blueprint("live", __name__)


@bp.post("/api/carts/<cart_id>/live-token")
def live_token(cart_id: str):
    with Session() as session:
        if session.scalar(select(Cart.id).where(Cart.id == cart_id)) is None:
            raise NotFound("No such cart.")
    settings = get_settings()
    issued = live_tokens.issue(
        cart_id, secret=settings.secret_key, ttl_s=settings.live_token_seconds
    )
    return jsonify(
        {
            "token": issued.token,
            "url": f"{settings.realtime_url.rstrip('/')}/carts/{cart_id}",
            "expires_at": iso(issued.expires_at),
        }
    )
