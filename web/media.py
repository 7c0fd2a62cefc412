"""``GET /media/<path>``: product image renditions, when the web serves media (``SERVE_MEDIA``).

Only rendition names are served (``<image id>/<width>-<hash>.<ext>``, from the store's
renditions area): originals are never reachable, whatever the path. A name carries its
content's hash, so a response may be cached for good.
"""

from __future__ import annotations

import re

from flask import Blueprint, send_file

from media import storage as media_storage
from web.errors import APIError

bp = Blueprint("media", __name__)

IMMUTABLE = "public, max-age=31536000, immutable"
RENDITION_PATH = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/\d{1,5}-[0-9a-f]{16}\.(avif|webp|jpg)"
)
MIME_TYPES = {"avif": "image/avif", "webp": "image/webp", "jpg": "image/jpeg"}


@bp.get("/media/<path:path>")
def rendition(path: str):
    match = RENDITION_PATH.fullmatch(path)
    file = match and media_storage.storage().path(media_storage.rendition_key(path))
    if not file:
        raise APIError(404, "not_found", "No such media file.")
    response = send_file(file, mimetype=MIME_TYPES[match.group(1)], conditional=True, etag=True)
    response.headers["Cache-Control"] = IMMUTABLE
    return response
