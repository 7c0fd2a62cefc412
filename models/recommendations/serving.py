"""Serving recommendations: every surface (product page, cart, homepage, email) reads here.

Lookups read the neighbours the rebuild stored, so their cost depends on how many
products they start from, not on the catalogue or the order history. ``eligible`` is the
one rule for what may be shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, union
from sqlalchemy.orm import Session

from models.carts.tables import Cart, CartItem, SavedItem
from models.catalog import Product
from models.recommendations import views
from models.recommendations.tables import ProductNeighbour, ProductSales, RecommendationExclusion
from models.stock.availability import available_units_of, units

BESTSELLER_CANDIDATES = 200


@dataclass(frozen=True)
class Recommended:
    product: Product
    available: int


def eligible(exclude: Iterable[str]) -> list[ColumnElement[bool]]:
    """Conditions on ``Product`` for a recommendation: never a product staff excluded,
    an inactive one, one out of stock, or one of ``exclude`` (the product itself, the
    cart's items and saved items)."""
    conditions = [
        Product.active.is_(True),
        ~select(RecommendationExclusion.sku)
        .where(RecommendationExclusion.sku == Product.sku)
        .exists(),
        func.coalesce(available_units_of(Product.sku), 0) > 0,
    ]
    skipped = sorted(set(exclude))
    if skipped:
        conditions.append(Product.sku.not_in(skipped))
    return conditions


def _eligible_in_order(
    session: Session, ranked: Iterable[str], *, skipped: set[str], limit: int
) -> list[Recommended]:
    """The first ``limit`` of ``ranked`` that are eligible, read a few at a time by key.

    Two steps rather than one join: the products are read by primary key for a short
    list of candidates, so the plan never scans the catalogue, whatever its size.
    """
    found: list[Recommended] = []
    pending = [sku for sku in dict.fromkeys(ranked) if sku not in skipped]
    chunk = max(2 * limit, 8)
    for start in range(0, len(pending), chunk):
        wanted = pending[start : start + chunk]
        rows = session.execute(
            select(Product, available_units_of(Product.sku)).where(
                Product.sku.in_(wanted), *eligible(())
            )
        )
        by_sku = {product.sku: Recommended(product, units(free)) for product, free in rows}
        found += [by_sku[sku] for sku in wanted if sku in by_sku]
        if len(found) >= limit:
            break
    return found[:limit]


def also_bought(
    session: Session, skus: Sequence[str], *, exclude: Iterable[str] = (), limit: int
) -> list[Recommended]:
    """The neighbours of ``skus``, best summed score first; nothing outside ``eligible``
    nor in ``exclude``. ``skus`` themselves may come back (as a neighbour of another):
    each caller says what must not (the product itself, the cart's items)."""
    if not skus:
        return []
    ranked = session.scalars(
        select(ProductNeighbour.neighbour_sku)
        .where(ProductNeighbour.sku.in_(sorted(set(skus))))
        .group_by(ProductNeighbour.neighbour_sku)
        .order_by(func.sum(ProductNeighbour.score).desc(), ProductNeighbour.neighbour_sku)
    ).all()
    return _eligible_in_order(session, ranked, skipped=set(exclude), limit=limit)


def bestsellers(session: Session, *, exclude: Iterable[str] = (), limit: int) -> list[Recommended]:
    """The products in most paid orders as of the last rebuild; nothing outside ``eligible``."""
    skipped = set(exclude)
    # Enough candidates for the exclusions and some products out of stock; few shops
    # have more than that of their bestsellers unavailable at once.
    ranked = session.scalars(
        select(ProductSales.sku)
        .order_by(ProductSales.orders.desc(), ProductSales.sku.desc())
        .limit(len(skipped) + BESTSELLER_CANDIDATES)
    ).all()
    return _eligible_in_order(session, ranked, skipped=skipped, limit=limit)


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


def cart_basis(session: Session, cart_id: str) -> CartBasis | None:
    """A cart's email and the skus it holds, in it or saved for later: what its
    recommendations start from and never offer (None: no cart)."""
    email = session.execute(select(Cart.email).where(Cart.id == cart_id)).first()
    if email is None:
        return None
    held = union(
        select(CartItem.sku).where(CartItem.cart_id == cart_id),
        select(SavedItem.sku).where(SavedItem.cart_id == cart_id),
    ).subquery()
    skus = session.scalars(select(held.c.sku).order_by(held.c.sku))
    return CartBasis(email[0], list(skus))
