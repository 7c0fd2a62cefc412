"""What an upload is, decided before anything is stored: ``inspect_upload``.

Refused (``InvalidImage`` with the reason): over ``MAX_UPLOAD_BYTES``, SVG, not an image
in an accepted format, a name whose extension disagrees with the content, more than
``MAX_PIXELS`` (read from the header, before any pixel is decoded: a 30000 x 30000 PNG
bomb is refused from its first bytes), and a truncated or corrupt file (decoded once, at
reduced scale where the format allows, so the check's memory stays bounded).
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass

from PIL import Image

from models.errors import InvalidImage

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000

# Pillow format name -> the extensions a file of that format may carry.
FORMATS = {
    "JPEG": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "PNG": (".png",),
    "WEBP": (".webp",),
    "AVIF": (".avif",),
}


@dataclass(frozen=True)
class Inspected:
    format: str
    width: int
    height: int


def _looks_like_svg(data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) or b"<svg" in head


def _check_name(filename: str, image_format: str) -> None:
    extension = os.path.splitext(filename.lower())[1]
    if extension == ".svg":
        raise InvalidImage("SVG images are not accepted")
    # A name without an extension (a pasted blob) claims nothing the content could deny.
    if extension and extension not in FORMATS[image_format]:
        raise InvalidImage(
            f"the file's content is {image_format} but its name ({filename!r}) says otherwise"
        )


def _decode_fully(data: bytes, image_format: str) -> None:
    """Decode every byte once; a truncated or corrupt file raises here."""
    with Image.open(io.BytesIO(data), formats=[image_format]) as image:
        if image_format == "PNG":
            image.verify()  # every chunk's CRC, without decoding pixels
            return
        if image_format == "JPEG":
            # DCT scaling: the whole stream is read, at an eighth of the pixels.
            image.draft(image.mode, (image.width // 8 or 1, image.height // 8 or 1))
        image.load()


def inspect_upload(data: bytes, filename: str) -> Inspected:
    """The format and size of ``data`` (uploaded as ``filename``), or ``InvalidImage``."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidImage(f"the file is over {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    if not data:
        raise InvalidImage("the file is empty")
    if _looks_like_svg(data):
        raise InvalidImage("SVG images are not accepted")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
                image_format, (width, height) = image.format, image.size
    except Image.DecompressionBombError:
        raise InvalidImage(f"the image is over {MAX_PIXELS // 1_000_000} megapixels") from None
    except Exception:  # decoders of hostile bytes fail in many ways; each means "not an image"
        raise InvalidImage("the file is not a JPEG, PNG, WebP or AVIF image") from None
    if width * height > MAX_PIXELS:
        raise InvalidImage(
            f"the image is over {MAX_PIXELS // 1_000_000} megapixels ({width} x {height})"
        )
    _check_name(filename, image_format)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            _decode_fully(data, image_format)
    except Exception as error:  # as above: any decoder failure means a damaged file
        raise InvalidImage(f"the image is truncated or corrupt ({error})") from None
    return Inspected(image_format, width, height)
