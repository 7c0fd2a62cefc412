"""Placeholders: a BlurHash of the image, painted server-side into a tiny PNG data URI.

A data URI lets the storefront paint the placeholder as a CSS background at once, with
no decoder in the page; the browser's scaling smooths the few pixels out.
"""

from __future__ import annotations

import base64
import io

import blurhash
from PIL import Image

# BlurHash components across the longer side; the shorter side gets proportionally fewer.
COMPONENTS = 4
# BlurHash reads every pixel in Python: a thumbnail this size holds all it can keep.
SAMPLE_SIDE = 32
PAINTED_WIDTH = 16


def _rows(image: Image.Image) -> list[list[bytes]]:
    """Rows of (r, g, b) pixels, the shape ``blurhash.encode`` reads."""
    raw, stride = image.tobytes(), image.width * 3
    return [
        [raw[start + x * 3 : start + x * 3 + 3] for x in range(image.width)]
        for start in range(0, len(raw), stride)
    ]


def placeholder_of(image: Image.Image) -> str:
    """A ``data:image/png;base64,...`` URI of ``image``'s BlurHash (``image`` is RGB)."""
    sample = image.copy()
    sample.thumbnail((SAMPLE_SIDE, SAMPLE_SIDE), Image.Resampling.BOX)
    landscape = sample.width >= sample.height
    short = max(1, round(COMPONENTS * min(sample.size) / max(sample.size)))
    x_components, y_components = (COMPONENTS, short) if landscape else (short, COMPONENTS)
    hash_ = blurhash.encode(_rows(sample), x_components, y_components)
    height = max(1, round(PAINTED_WIDTH * image.height / image.width))
    pixels = blurhash.decode(hash_, PAINTED_WIDTH, height)
    painted = Image.new("RGB", (PAINTED_WIDTH, height))
    painted.putdata([tuple(int(channel) for channel in pixel) for row in pixels for pixel in row])
    buffer = io.BytesIO()
    painted.save(buffer, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
