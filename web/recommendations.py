"""Recommendation routes (API.md): customers also bought, cart upsells, the visitor's picks.

Each reads the neighbours the nightly rebuild stored (models/recommendations/serving.py)
and answers products in API.md's product shape.
"""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session as OrmSession

from models.catalog import Product
from models.db import Session
from models.product_images import ready_images_by_sku
from models.recommendations import serving
from models.recommendations.serving import Recommended
from services.settings import get_settings
from web import visitor
from web.errors import APIError
from web.serializers import product_json
from web.validation import parse_query

bp = Blueprint("recommendations", __name__)

_PRODUCT_EXISTS = select(Product.sku).where(Product.sku == bindparam("sku"))

DEFAULT_LIMIT = 4
MAX_LIMIT = 20


class RecommendationQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


class VisitorQuery(RecommendationQuery):
    cart: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


def _items(session: OrmSession, found: list[Recommended]) -> list[dict]:
    """API.md's product shape, ready images included."""
    images = ready_images_by_sku(session, [item.product.sku for item in found])
    media_url = get_settings().media_url
    return [
        product_json(item.product, item.available, images[item.product.sku], media_url=media_url)
        for item in found
    ]


def _cart_or_404(session, cart_id: str) -> serving.CartBasis:
    basis = serving.cart_basis(session, cart_id)
    if basis is None:
        raise APIError(404, "not_found", f"No such cart: {cart_id}.")
    return basis


@bp.get("/api/products/<sku>/recommendations")
def product_recommendations(sku: str):
    """Customers also bought: the product's neighbours."""
    query = parse_query(RecommendationQuery)
    with Session() as session:
        if session.scalar(_PRODUCT_EXISTS, {"sku": sku}) is None:
            raise APIError(404, "not_found", f"No such product: {sku}.")
        found = serving.also_bought(session, [sku], exclude=[sku], limit=query.limit)
        return {"items": _items(session, found)}


@bp.get("/api/carts/<cart_id>/recommendations")
def cart_recommendations(cart_id: str):
    """Upsells: neighbours of the cart's items, then bestsellers; never what it holds."""
    query = parse_query(RecommendationQuery)
    with Session() as session:
        basis = _cart_or_404(session, cart_id)
        found = serving.also_bought(session, basis.skus, exclude=basis.skus, limit=query.limit)
        found = serving.topped_up(session, found, exclude=basis.skus, limit=query.limit)
        return {"items": _items(session, found)}


@bp.get("/api/recommendations")
def visitor_recommendations():
    """The visitor's picks: neighbours of their recent views and purchases and of the
    cart's items (``?cart=``), else bestsellers.

    The history is the signed cookie's: its views, and the purchases of the email the
    cookie took from a paid order the visitor read (web/visitor.py). A cart's email is
    never used: anyone can type any address into a cart, and its purchases would show.
    """
    query = parse_query(VisitorQuery)
    known = visitor.current()
    email = known.email if known else None
    in_cart: list[str] = []
    with Session() as session:
        if query.cart is not None:
            in_cart = _cart_or_404(session, query.cart).skus
        found, source = serving.personal(
            session,
            visitor_id=known.id if known else None,
            email=email,
            in_cart=in_cart,
            limit=query.limit,
        )
        return {"items": _items(session, found), "source": source}
