"""Product images as staff manage them: upload, and delete (API.md "Admin", images).

An upload is inspected before anything is kept (media/inspection.py). The original is
written to the media store with no transaction open; the image row and its rendition
job (through the outbox) then commit together. Should that commit fail, the original is
removed again, so a refused or failed upload leaves nothing behind. A deletion commits
first and removes the files after, so no row ever points at missing files.
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.orm import Session as OrmSession

from jobs.media import make_renditions
from media import storage as media_storage
from media.inspection import inspect_upload
from models.catalog import Product
from models.db import Session
from models.errors import MediaUnavailable, NotFound
from models.product_images import ProductImage, add_image, remove_image
from services import outbox

logger = logging.getLogger(__name__)


def _product_or_404(session: OrmSession, sku: str) -> Product:
    product = session.get(Product, sku)
    if product is None:
        raise NotFound(f"No such product: {sku}.")
    return product


def upload_image(*, sku: str, data: bytes, filename: str, alt: str) -> ProductImage:
    """Keep ``data`` as a new pending image of ``sku`` and queue its renditions.

    Raises ``InvalidImage`` (nothing stored), ``NotFound``, or ``MediaUnavailable``.
    """
    with Session.begin() as session:
        _product_or_404(session, sku)
    inspected = inspect_upload(data, filename)
    image_id = uuid.uuid4()
    store = media_storage.storage()
    key = media_storage.original_key(str(image_id))
    try:
        store.put(key, data)
    except OSError as error:
        logger.error("Media store write failed for %s: %s", key, error)
        raise MediaUnavailable("The media store cannot take files right now.") from None
    try:
        with Session.begin() as session:
            _product_or_404(session, sku)
            image = add_image(
                session,
                image_id=image_id,
                sku=sku,
                alt=alt,
                original_format=inspected.format,
                original_bytes=len(data),
            )
            outbox.enqueue(session, make_renditions, str(image_id))
    except BaseException:
        store.delete_prefix(key)
        raise
    return image


def image_of(session: OrmSession, sku: str, image_id: str, *, lock: bool = False) -> ProductImage:
    """The image ``image_id`` of ``sku``, or ``NotFound``."""
    try:
        parsed = uuid.UUID(image_id)
    except ValueError:
        raise NotFound(f"No such image: {image_id}.") from None
    image = session.get(ProductImage, parsed, with_for_update=lock)
    if image is None or image.sku != sku:
        raise NotFound(f"No such image: {image_id}.")
    return image


def delete_image(*, sku: str, image_id: str) -> None:
    """Delete the image's row, then its original and renditions."""
    with Session.begin() as session:
        image = image_of(session, sku, image_id, lock=True)
        remove_image(session, image)
        key = str(image.id)
    store = media_storage.storage()
    store.delete_prefix(media_storage.original_key(key))
    store.delete_prefix(media_storage.renditions_prefix(key))
