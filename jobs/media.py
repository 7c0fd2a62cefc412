"""Product image renditions, made on the ``media`` queue.

``make_renditions(image_id)`` reads the stored original, renders every width and format
(media/renditions.py), writes the files and records them on the image row. The database
is touched only to read the row and to record the outcome, never while files are read,
decoded or written. Re-running it is harmless: a ``ready`` image is left alone, and the
content-hashed names make a re-render rewrite the same files. An original that cannot be
decoded fails the image at once (no retries, dead-lettered with the reason); other
errors retry, and when retries run out the image is marked ``failed`` with the last one.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

import dramatiq

from media import storage as media_storage
from media.renditions import UnreadableImage, render
from models.db import Session
from models.product_images import ImageStatus, ProductImage, record_failed, record_ready
from worker.dead_letters import final_error

logger = logging.getLogger(__name__)

RENDER_TIME_LIMIT_MS = 300_000
# Renders at once in one worker process: a 50-megapixel PNG decodes to about 200 MB, and
# a worker runs many threads; the others wait here (their time limit still runs).
RENDER_SLOTS = threading.BoundedSemaphore(2)


def _image_id(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


@dramatiq.actor(
    actor_name="mark_image_failed",
    queue_name="media",
    max_retries=20,
    min_backoff=1_000,
    max_backoff=300_000,
    time_limit=30_000,
)
def mark_image_failed(message_data: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Retries of a ``make_renditions`` job ran out: its image ends ``failed``."""
    args = list(message_data.get("args") or ())
    kwargs = message_data.get("kwargs") or {}
    image_id = _image_id(kwargs.get("image_id", args[0] if args else ""))
    if image_id is None:
        logger.warning("Exhausted rendition job names no image: %r", message_data)
        return
    final = final_error((message_data.get("options") or {}).get("traceback"))
    error = f"retries exhausted after {retry_info.get('retries', 0) + 1} attempt(s)"
    with Session.begin() as session:
        record_failed(session, image_id, error=f"{error}: {final}" if final else error)


@dramatiq.actor(
    actor_name="make_renditions",
    queue_name="media",
    max_retries=5,
    min_backoff=10_000,
    max_backoff=600_000,
    time_limit=RENDER_TIME_LIMIT_MS,
    throws=(UnreadableImage,),
    on_retry_exhausted="mark_image_failed",
)
def make_renditions(image_id: str) -> None:
    """Render the image ``image_id`` and record its renditions (idempotent)."""
    parsed = _image_id(image_id)
    if parsed is None:
        logger.warning("Not an image id: %r", image_id)
        return
    with Session.begin() as session:
        image = session.get(ProductImage, parsed)
        if image is None or image.status == ImageStatus.READY:
            return
    store = media_storage.storage()
    try:
        original = store.get(media_storage.original_key(str(parsed)))
    except FileNotFoundError:
        with Session.begin() as session:
            if session.get(ProductImage, parsed) is None:
                return  # deleted, original and all, since it was read above
        raise
    try:
        with RENDER_SLOTS:
            rendered = render(original)
    except UnreadableImage as error:
        with Session.begin() as session:
            record_failed(session, parsed, error=str(error))
        raise
    renditions = []
    for rendition in rendered.renditions:
        path = f"{parsed}/{rendition.name}"
        store.put(media_storage.rendition_key(path), rendition.data)
        renditions.append(
            {
                "path": path,
                "width": rendition.width,
                "height": rendition.height,
                "format": rendition.format,
            }
        )
    with Session.begin() as session:
        recorded = record_ready(
            session,
            parsed,
            width=rendered.width,
            height=rendered.height,
            renditions=renditions,
            placeholder=rendered.placeholder,
        )
    if not recorded:
        # Deleted while it was being rendered: its files go too.
        store.delete_prefix(media_storage.renditions_prefix(str(parsed)))
