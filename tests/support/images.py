"""Images made in the tests with Pillow: photos with EXIF, bombs, truncated files."""

from __future__ import annotations

import io
import struct
import uuid
import zlib

from PIL import Image

from media import storage as media_storage
from models.catalog import Product
from models.db import Session
from models.product_images import add_image
from tests.support import factories

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def photo(
    size: tuple[int, int] = (800, 600),
    *,
    image_format: str = "JPEG",
    orientation: int | None = None,
    gps: bool = False,
    color: tuple[int, int, int] = (200, 60, 40),
) -> bytes:
    """An image whose left half is ``color`` and right half white, with optional EXIF."""
    image = Image.new("RGB", size, (255, 255, 255))
    image.paste(color, (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    if orientation:
        exif[ORIENTATION] = orientation
    if gps:
        exif[0x010F] = "PhoneMaker"
        exif.get_ifd(GPS_IFD).update({1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.9)})
    buffer = io.BytesIO()
    options = {"exif": exif.tobytes()} if (orientation or gps) else {}
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def png_bomb(side: int = 30_000) -> bytes:
    """A PNG whose header claims ``side`` x ``side`` pixels, with one row of data: a few
    hundred bytes that would decode to gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (side * 3 + 1))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def has_gps(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        return bool(exif.get_ifd(GPS_IFD)) or b"PhoneMaker" in data


def uploaded(data: bytes, *, sku: str = "MUG", image_format: str = "JPEG") -> str:
    """An image row as an upload leaves it: original stored, row pending."""
    image_id = uuid.uuid4()
    media_storage.storage().put(media_storage.original_key(str(image_id)), data)
    with Session.begin() as session:
        if session.get(Product, sku) is None:
            factories.product(session, sku)
        add_image(
            session,
            image_id=image_id,
            sku=sku,
            alt="",
            original_format=image_format,
            original_bytes=len(data),
        )
    return str(image_id)
