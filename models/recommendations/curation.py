"""What staff see and decide about a product's recommendations: neighbours, exclusion."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Executable, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from models.catalog import Product
from models.db import affected_rows
from models.errors import NotFound
from models.recommendations.tables import ProductNeighbour, RecommendationExclusion


@dataclass(frozen=True)
class Neighbour:
    sku: str
    name: str
    rank: int
    score: float
    co_purchases: int
    excluded: bool


def product_or_404(session: Session, sku: str) -> Product:
    product = session.get(Product, sku)
    if product is None:
        raise NotFound(f"No such product: {sku}.")
    return product


def is_excluded(session: Session, sku: str) -> bool:
    return session.get(RecommendationExclusion, sku) is not None


def neighbours_of(session: Session, sku: str) -> list[Neighbour]:
    """The stored neighbours of ``sku`` in rank order, as the last rebuild left them."""
    excluded = select(RecommendationExclusion.sku).where(
        RecommendationExclusion.sku == ProductNeighbour.neighbour_sku
    )
    rows = session.execute(
        select(
            ProductNeighbour.neighbour_sku,
            Product.name,
            ProductNeighbour.rank,
            ProductNeighbour.score,
            ProductNeighbour.co_purchases,
            excluded.exists(),
        )
        .join(Product, Product.sku == ProductNeighbour.neighbour_sku)
        .where(ProductNeighbour.sku == sku)
        .order_by(ProductNeighbour.rank)
    )
    return [Neighbour(*row) for row in rows]


def set_excluded(session: Session, sku: str, *, excluded: bool, by: str) -> bool:
    """Keep ``sku`` out of every recommendation, or let it back; True when that changed."""
    product_or_404(session, sku)
    statement: Executable
    if excluded:
        statement = (
            insert(RecommendationExclusion)
            .values(sku=sku, excluded_by=by)
            .on_conflict_do_nothing(index_elements=[RecommendationExclusion.sku])
        )
    else:
        statement = delete(RecommendationExclusion).where(RecommendationExclusion.sku == sku)
    return affected_rows(session, statement) == 1
