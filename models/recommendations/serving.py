"""Serving recommendations: every surface (product page, cart, homepage, email) reads here.

Lookups read the neighbours the rebuild stored, so their cost depends on how many
products they start from, not on the catalogue or the order history. ``eligible`` is the
one rule for what may be shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from models.carts.tables import Cart, CartItem
from models.catalog import Product
from models.recommendations.tables import ProductNeighbour, ProductSales, RecommendationExclusion
from models.stock.availability import available_units_of, units


@dataclass(frozen=True)
class Recommended:
    product: Product
    available: int


def eligible(exclude: Iterable[str]) -> list[ColumnElement[bool]]:
    """Conditions on ``Product`` for a recommendation: never a product staff excluded,
    one out of stock, or one of ``exclude`` (the product itself, the cart's items)."""
    conditions = [
        ~select(RecommendationExclusion.sku)
        .where(RecommendationExclusion.sku == Product.sku)
        .exists(),
        func.coalesce(available_units_of(Product.sku), 0) > 0,
    ]
    skipped = sorted(set(exclude))
    if skipped:
        conditions.append(Product.sku.not_in(skipped))
    return conditions


def _with_stock(statement: Select, session: Session) -> list[Recommended]:
    rows = session.execute(statement.add_columns(available_units_of(Product.sku)))
    return [Recommended(product, units(available)) for product, available in rows]


def also_bought(
    session: Session, skus: Sequence[str], *, exclude: Iterable[str] = (), limit: int
) -> list[Recommended]:
    """The neighbours of ``skus``, best summed score first; nothing outside ``eligible``."""
    if not skus:
        return []
    scores = (
        select(
            ProductNeighbour.neighbour_sku.label("sku"),
            func.sum(ProductNeighbour.score).label("score"),
        )
        .where(ProductNeighbour.sku.in_(sorted(set(skus))))
        .group_by(ProductNeighbour.neighbour_sku)
        .subquery()
    )
    statement = (
        select(Product)
        .join(scores, scores.c.sku == Product.sku)
        .where(*eligible([*skus, *exclude]))
        .order_by(scores.c.score.desc(), Product.sku)
        .limit(limit)
    )
    return _with_stock(statement, session)


def bestsellers(session: Session, *, exclude: Iterable[str] = (), limit: int) -> list[Recommended]:
    """The products in most paid orders as of the last rebuild; nothing outside ``eligible``."""
    statement = (
        select(Product)
        .join(ProductSales, ProductSales.sku == Product.sku)
        .where(*eligible(exclude))
        .order_by(ProductSales.orders.desc(), Product.sku.desc())
        .limit(limit)
    )
    return _with_stock(statement, session)


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


@dataclass(frozen=True)
class CartBasis:
    email: str | None
    skus: list[str]


def cart_basis(session: Session, cart_id: str) -> CartBasis | None:
    """A cart's email and items, what its recommendations start from (None: no cart)."""
    email = session.execute(select(Cart.email).where(Cart.id == cart_id)).first()
    if email is None:
        return None
    skus = session.scalars(
        select(CartItem.sku).where(CartItem.cart_id == cart_id).order_by(CartItem.sku)
    )
    return CartBasis(email[0], list(skus))
