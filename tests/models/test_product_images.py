"""The storefront's read of ready product images."""

from __future__ import annotations

from models.db import Session
from models.product_images import ImageStatus, ProductImage, ReadyImage, ready_images_by_sku
from tests.support import factories


def _image(sku: str, position: int, status: str, alt: str) -> ProductImage:
    rendition = {"path": f"{alt}/640.jpg", "width": 640, "height": 480, "format": "jpeg"}
    return ProductImage(
        sku=sku,
        position=position,
        alt=alt,
        status=status,
        original_format="jpeg",
        original_bytes=1,
        width=640,
        height=480,
        renditions=[rendition] if status == ImageStatus.READY else [],
        placeholder="data:," if status == ImageStatus.READY else None,
    )


def test_ready_images_of_each_sku_in_position_order_and_nothing_else():
    with Session.begin() as session:
        for sku in ("A", "B", "C"):
            factories.product(session, sku)
        session.add_all(
            [
                _image("A", 1, ImageStatus.READY, "second"),
                _image("A", 0, ImageStatus.READY, "first"),
                _image("A", 2, ImageStatus.PENDING, "pending"),
                _image("B", 0, ImageStatus.FAILED, "failed"),
                _image("C", 0, ImageStatus.READY, "other"),
            ]
        )

    with Session.begin() as session:
        found = ready_images_by_sku(session, ["A", "B", "Z"])

    assert list(found) == ["A", "B", "Z"]
    assert [image.alt for image in found["A"]] == ["first", "second"]
    assert found["A"][0] == ReadyImage(
        "A",
        640,
        480,
        "first",
        "data:,",
        [{"path": "first/640.jpg", "width": 640, "height": 480, "format": "jpeg"}],
    )
    assert found["B"] == [] and found["Z"] == []


def test_no_skus_reads_nothing():
    with Session.begin() as session:
        assert ready_images_by_sku(session, []) == {}
