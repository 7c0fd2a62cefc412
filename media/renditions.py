"""Renditions of an original: widths x formats, oriented, in sRGB, with no metadata.

``render(original)`` decodes once (JPEG at the smallest DCT scale that still covers the
widest rendition, which bounds memory and time), applies the EXIF orientation, converts
to sRGB from an embedded ICC profile, and encodes each width in AVIF, WebP and JPEG.
Nothing of the original's metadata (EXIF, GPS, XMP, ICC, comments) is written out.
A file's name carries its content hash, so the same original always gives the same
names and a re-run rewrites identical files.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps

from media.inspection import FORMATS, MAX_PIXELS
from media.placeholders import placeholder_of

WIDTHS = (320, 640, 960, 1280, 1920)
# Encoder settings per format: (file extension, Pillow save options).
ENCODINGS = {
    "avif": ("avif", {"quality": 60, "speed": 8}),
    "webp": ("webp", {"quality": 80, "method": 4}),
    "jpeg": ("jpg", {"quality": 82, "optimize": True, "progressive": True}),
}
# EXIF orientations that swap width and height.
_TRANSPOSED = {5, 6, 7, 8}
_SRGB = ImageCms.createProfile("sRGB")


class UnreadableImage(ValueError):
    """The stored original cannot be decoded: re-running the job cannot help."""


@dataclass(frozen=True)
class Rendition:
    width: int
    height: int
    format: str
    name: str  # "<width>-<hash>.<ext>"
    data: bytes


@dataclass(frozen=True)
class Rendered:
    width: int
    height: int
    placeholder: str
    renditions: list[Rendition]


def widths_for(width: int) -> list[int]:
    """The rendition widths for an image ``width`` wide: never wider than it."""
    return [target for target in WIDTHS if target <= width] or [width]


def _oriented_size(image: Image.Image) -> tuple[int, int]:
    orientation = image.getexif().get(ImageOps.ExifTags.Base.Orientation)
    return image.size[::-1] if orientation in _TRANSPOSED else image.size


def _to_srgb(image: Image.Image) -> Image.Image:
    """RGB or RGBA in sRGB; an embedded ICC profile is converted from, then dropped."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    mode = "RGBA" if has_alpha else "RGB"
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
            if converted is not None:
                image = converted
        except (ImageCms.PyCMSError, OSError):
            pass  # a broken profile: the pixels are taken as sRGB, as browsers do
    converted = image.convert(mode) if image.mode != mode else image.copy()
    converted.info = {}
    return converted


def _decode(original: bytes) -> tuple[Image.Image, tuple[int, int]]:
    """The oriented sRGB pixels (maybe DCT-scaled) and the original's oriented size."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(original), formats=list(FORMATS))
            if image.width * image.height > MAX_PIXELS:
                raise UnreadableImage(f"over {MAX_PIXELS} pixels")
            size = _oriented_size(image)
            if image.format == "JPEG":
                scale = min(1.0, max(WIDTHS) / size[0])
                wanted = (math.ceil(image.width * scale), math.ceil(image.height * scale))
                image.draft("RGB", wanted)
            image.load()
    except UnreadableImage:
        raise
    except Exception as error:  # any decoder failure: the same bytes will fail again
        raise UnreadableImage(f"the original cannot be decoded: {error}") from None
    oriented = ImageOps.exif_transpose(image) or image
    return _to_srgb(oriented), size


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode != "RGBA":
        return image
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image, mask=image.getchannel("A"))
    return flat


def _encode(image: Image.Image, image_format: str) -> Rendition:
    extension, options = ENCODINGS[image_format]
    buffer = io.BytesIO()
    source = _flatten(image) if image_format == "jpeg" else image
    source.save(buffer, image_format.upper(), **options)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    return Rendition(
        image.width, image.height, image_format, f"{image.width}-{digest}.{extension}", data
    )


def render(original: bytes) -> Rendered:
    """Every rendition of ``original`` and its placeholder; ``UnreadableImage`` if corrupt."""
    image, (original_width, original_height) = _decode(original)
    renditions = []
    current = image
    # Widest first, each from the one before: every step shrinks by at most 2x, so
    # LANCZOS keeps its quality and the big decode is resampled only once.
    for width in reversed(widths_for(min(original_width, image.width))):
        height = max(1, round(image.height * width / image.width))
        if current.size != (width, height):
            current = current.resize((width, height), Image.Resampling.LANCZOS)
        current.info = {}
        renditions.extend(_encode(current, image_format) for image_format in ENCODINGS)
    placeholder = placeholder_of(_flatten(image))
    return Rendered(original_width, original_height, placeholder, renditions)
