"""Product images: one row per upload, its renditions once a job has made them.

A row is ``pending`` from the upload until the ``make_renditions`` job records its
renditions (``ready``) or gives up (``failed``, with the reason). Positions are 0-based
and dense per product: moving or deleting an image renumbers its siblings.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    bindparam,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, created_at, quoted


class ImageStatus(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class ProductImage(Base):
    __tablename__ = "product_images"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    sku: Mapped[str] = mapped_column(String(64), ForeignKey("products.sku", ondelete="CASCADE"))
    position: Mapped[int]
    alt: Mapped[str] = mapped_column(String(500), default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default=ImageStatus.PENDING)
    error: Mapped[str | None] = mapped_column(Text)
    original_format: Mapped[str] = mapped_column(String(16))
    original_bytes: Mapped[int]
    width: Mapped[int | None]
    height: Mapped[int | None]
    # [{"path", "width", "height", "format"}]: paths in the media store's renditions area,
    # as shoppers fetch them under MEDIA_URL.
    renditions: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    placeholder: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = created_at()
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    __table_args__ = (
        CheckConstraint(f"status IN ({quoted(tuple(ImageStatus))})", name="status_known"),
        CheckConstraint("position >= 0", name="position_not_negative"),
        Index("ix_product_images_sku_position", "sku", "position"),
    )


def images_of(session: Session, sku: str) -> list[ProductImage]:
    """Every image of ``sku`` in position order."""
    return list(
        session.scalars(
            select(ProductImage)
            .where(ProductImage.sku == sku)
            .order_by(ProductImage.position, ProductImage.created_at)
        )
    )


class ReadyImage(NamedTuple):
    """What shoppers are shown of a ready image (web.serializers.image_json)."""

    sku: str
    width: int | None
    height: int | None
    alt: str
    placeholder: str | None
    renditions: list[Any]


# Built once: storefront reads (product lists, recommendations) only bind the skus.
_READY_IMAGES = (
    select(
        ProductImage.sku,
        ProductImage.width,
        ProductImage.height,
        ProductImage.alt,
        ProductImage.placeholder,
        ProductImage.renditions,
    )
    .where(
        ProductImage.sku.in_(bindparam("skus", expanding=True)),
        ProductImage.status == ImageStatus.READY,
    )
    .order_by(ProductImage.sku, ProductImage.position, ProductImage.created_at)
)


def ready_images_by_sku(session: Session, skus: Iterable[str]) -> dict[str, list[ReadyImage]]:
    """The ``ready`` images of each of ``skus``, in position order (what shoppers see).

    Rows, not ``ProductImage`` objects: every caller only serialises them. Read on the
    session's connection (no autoflush): no caller has unflushed image changes.
    """
    found: dict[str, list[ReadyImage]] = {sku: [] for sku in skus}
    if not found:
        return found
    for row in session.connection().execute(_READY_IMAGES, {"skus": list(found)}):
        found[row.sku].append(ReadyImage._make(row))
    return found


def _locked_siblings(session: Session, sku: str) -> list[ProductImage]:
    # Locked in position order, so concurrent moves of one product's images queue up.
    return list(
        session.scalars(
            select(ProductImage)
            .where(ProductImage.sku == sku)
            .order_by(ProductImage.position, ProductImage.created_at, ProductImage.id)
            .with_for_update()
        )
    )


def _renumber(images: list[ProductImage]) -> None:
    for position, image in enumerate(images):
        if image.position != position:
            image.position = position


def add_image(
    session: Session,
    *,
    image_id: uuid.UUID,
    sku: str,
    alt: str,
    original_format: str,
    original_bytes: int,
) -> ProductImage:
    """A ``pending`` image of ``sku``, placed after the product's other images."""
    siblings = _locked_siblings(session, sku)
    image = ProductImage(
        id=image_id,
        sku=sku,
        position=len(siblings),
        alt=alt,
        status=ImageStatus.PENDING,
        original_format=original_format,
        original_bytes=original_bytes,
    )
    session.add(image)
    session.flush()
    return image


def edit_image(
    session: Session, image: ProductImage, *, alt: str | None = None, position: int | None = None
) -> None:
    """Set ``alt``; move the image to ``position`` (clamped to the last place)."""
    if alt is not None:
        image.alt = alt
    if position is not None:
        siblings = [other for other in _locked_siblings(session, image.sku) if other is not image]
        siblings.insert(min(position, len(siblings)), image)
        _renumber(siblings)
    session.flush()


def remove_image(session: Session, image: ProductImage) -> None:
    """Delete the row and close the gap it leaves in the positions."""
    siblings = _locked_siblings(session, image.sku)
    session.delete(image)
    _renumber([other for other in siblings if other is not image])
    session.flush()


def record_ready(
    session: Session,
    image_id: uuid.UUID,
    *,
    width: int,
    height: int,
    renditions: list[dict[str, Any]],
    placeholder: str,
) -> bool:
    """Store what a job made; False when the image was deleted meanwhile."""
    image = session.get(ProductImage, image_id, with_for_update=True)
    if image is None:
        return False
    image.status, image.error = ImageStatus.READY, None
    image.width, image.height = width, height
    image.renditions, image.placeholder = renditions, placeholder
    session.flush()
    return True


def record_failed(session: Session, image_id: uuid.UUID, *, error: str) -> bool:
    """Mark the image ``failed`` with ``error``; a ``ready`` image stays ready."""
    image = session.get(ProductImage, image_id, with_for_update=True)
    if image is None or image.status == ImageStatus.READY:
        return False
    image.status, image.error = ImageStatus.FAILED, error[:2000]
    session.flush()
    return True
