"""Serving recommendations: every surface (product page, cart, homepage, email) reads here.

Lookups read the neighbours the rebuild stored, so their cost depends on how many
products they start from, not on the catalogue or the order history. ``_ELIGIBLE`` is the
one rule for what may be shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ARRAY,
    Integer,
    Select,
    String,
    all_,
    any_,
    bindparam,
    func,
    select,
    true,
    union,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from models.carts.tables import Cart, CartItem, SavedItem
from models.catalog import Product
from models.recommendations import views
from models.recommendations.tables import ProductNeighbour, ProductSales, RecommendationExclusion
from models.stock.availability import available_units_of, units

BESTSELLER_CANDIDATES = 200


@dataclass(frozen=True)
class ShownProduct:
    """The product columns a recommendation shows (rows, not ORM objects: lookups are hot)."""

    sku: str
    name: str
    description: str
    price_cents: int
    currency: str


@dataclass(frozen=True)
class Recommended:
    product: ShownProduct
    available: int


_PRODUCTS = Product.__table__.c
_SKUS = ARRAY(String)
# The one rule for what may be shown: never a product staff excluded, an inactive one,
# one out of stock, or one of ``:exclude`` (the product itself, the cart's items and
# saved items). ``<> ALL`` of an empty array holds, so one statement serves every caller.
_AVAILABLE = available_units_of(_PRODUCTS.sku).label("available")
_ELIGIBLE = select(
    _PRODUCTS.sku,
    _PRODUCTS.name,
    _PRODUCTS.description,
    _PRODUCTS.price_cents,
    _PRODUCTS.currency,
    _AVAILABLE,
).where(
    _PRODUCTS.active.is_(True),
    _PRODUCTS.sku != all_(bindparam("exclude", type_=_SKUS)),
    ~select(RecommendationExclusion.sku)
    .where(RecommendationExclusion.sku == _PRODUCTS.sku)
    .exists(),
)


def _first_eligible(ranking: Select[Any], *, sku_descending: bool = False) -> Select[Any]:
    """The first ``:limit`` eligible products of ``ranking`` (columns ``sku``, ``score``,
    sorted by score, highest first, then sku), in one statement.

    The outer query sorts by the same columns as ``ranking``, so the planner keeps its
    order through a nested loop that reads each candidate's product by key and its stock,
    and stops at ``:limit``: it never sorts all candidates nor scans the catalogue.
    """
    ranked = ranking.subquery("ranked")
    # LIMIT 1 (the key matches one product at most) keeps the planner from flattening the
    # subquery, which would sum each candidate's stock twice (filter and column).
    candidate = _ELIGIBLE.where(_PRODUCTS.sku == ranked.c.sku).limit(1).lateral("candidate")
    sku_order = ranked.c.sku.desc() if sku_descending else ranked.c.sku
    return (
        select(*candidate.c)
        .select_from(ranked.join(candidate, true()))
        .where(func.coalesce(candidate.c.available, 0) > 0)
        .order_by(ranked.c.score.desc(), sku_order)
        .limit(bindparam("limit", type_=Integer))
    )


_NEIGHBOURS = ProductNeighbour.__table__.c
_SCORE = func.sum(_NEIGHBOURS.score)
# Built once (as models/carts/events.py): a lookup binds parameters and runs one statement.
_ALSO_BOUGHT = _first_eligible(
    select(_NEIGHBOURS.neighbour_sku.label("sku"), _SCORE.label("score"))
    .where(_NEIGHBOURS.sku == any_(bindparam("anchors", type_=_SKUS)))
    .group_by(_NEIGHBOURS.neighbour_sku)
    .order_by(_SCORE.desc(), _NEIGHBOURS.neighbour_sku)
)
_SALES = ProductSales.__table__.c
_BESTSELLERS = _first_eligible(
    select(_SALES.sku, _SALES.orders.label("score"))
    .order_by(_SALES.orders.desc(), _SALES.sku.desc())
    .limit(bindparam("candidates", type_=Integer)),
    sku_descending=True,
)


def _found(rows: Iterable[Sequence[Any]]) -> list[Recommended]:
    return [
        Recommended(ShownProduct(sku, name, description, price_cents, currency), units(free))
        for sku, name, description, price_cents, currency, free in rows
    ]


def also_bought(
    session: Session, skus: Sequence[str], *, exclude: Iterable[str] = (), limit: int
) -> list[Recommended]:
    """The neighbours of ``skus``, best summed score first; nothing outside the eligibility
    rule nor in ``exclude``. ``skus`` themselves may come back (as a neighbour of another):
    each caller says what must not (the product itself, the cart's items)."""
    if not skus:
        return []
    parameters = {"anchors": sorted(set(skus)), "exclude": sorted(set(exclude)), "limit": limit}
    return _found(session.execute(_ALSO_BOUGHT, parameters))


def bestsellers(session: Session, *, exclude: Iterable[str] = (), limit: int) -> list[Recommended]:
    """The products in most paid orders as of the last rebuild; nothing outside the
    eligibility rule nor in ``exclude``."""
    skipped = sorted(set(exclude))
    # Enough candidates for the exclusions and some products out of stock; few shops
    # have more than that of their bestsellers unavailable at once.
    parameters = {
        "candidates": len(skipped) + BESTSELLER_CANDIDATES,
        "exclude": skipped,
        "limit": limit,
    }
    return _found(session.execute(_BESTSELLERS, parameters))


def topped_up(
    session: Session, found: list[Recommended], *, exclude: Iterable[str], limit: int
) -> list[Recommended]:
    """``found``, then bestsellers not already in it, up to ``limit``."""
    if len(found) >= limit:
        return found[:limit]
    more = bestsellers(
        session,
        exclude=[*exclude, *(item.product.sku for item in found)],
        limit=limit - len(found),
    )
    return found + more


def personal(
    session: Session,
    *,
    visitor_id: str | None,
    email: str | None,
    in_cart: Sequence[str],
    limit: int,
) -> tuple[list[Recommended], str]:
    """A visitor's picks and their source: the neighbours of what they viewed and bought
    lately and of their cart (``"personal"``), topped up with bestsellers; bestsellers
    alone (``"bestsellers"``) without any. A product bought before may come back (people
    buy again); one in the cart never does."""
    history = views.history_skus(session, visitor_id=visitor_id, email=email)
    found = also_bought(session, [*history, *in_cart], exclude=in_cart, limit=limit)
    source = "personal" if found else "bestsellers"
    return topped_up(session, found, exclude=in_cart, limit=limit), source


@dataclass(frozen=True)
class CartBasis:
    email: str | None
    skus: list[str]


# The cart's email and what it holds in one statement (NULL skus: it holds nothing).
_HELD = union(
    select(CartItem.sku).where(CartItem.cart_id == bindparam("cart_id")),
    select(SavedItem.sku).where(SavedItem.cart_id == bindparam("cart_id")),
).subquery("held")
_CART_BASIS = select(
    Cart.email,
    select(func.array_agg(aggregate_order_by(_HELD.c.sku, _HELD.c.sku))).scalar_subquery(),
).where(Cart.id == bindparam("cart_id"))


def cart_basis(session: Session, cart_id: str) -> CartBasis | None:
    """A cart's email and the skus it holds, in it or saved for later: what its
    recommendations start from and never offer (None: no cart)."""
    row = session.execute(_CART_BASIS, {"cart_id": cart_id}).first()
    if row is None:
        return None
    email, skus = row
    return CartBasis(email, list(skus or ()))
