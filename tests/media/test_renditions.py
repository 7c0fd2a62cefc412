"""render: widths, transparency, and a re-render giving the very same files."""

from __future__ import annotations

import io

from PIL import Image

from media.renditions import render, widths_for
from tests.support.images import photo


def test_widths_never_exceed_the_original():
    assert widths_for(5000) == [320, 640, 960, 1280, 1920]
    assert widths_for(1280) == [320, 640, 960, 1280]
    assert widths_for(319) == [319]


def test_transparency_is_kept_where_the_format_has_it_and_flattened_on_white_in_jpeg():
    image = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")

    rendered = render(buffer.getvalue())

    by_format = {r.format: Image.open(io.BytesIO(r.data)) for r in rendered.renditions}
    assert by_format["jpeg"].convert("RGB").getpixel((10, 10)) >= (250, 250, 250)
    assert by_format["webp"].mode == "RGBA" and by_format["webp"].getpixel((10, 10))[3] == 0
    assert by_format["avif"].mode == "RGBA"


def test_the_same_original_gives_the_same_names():
    original = photo((700, 400))
    assert [r.name for r in render(original).renditions] == [
        r.name for r in render(original).renditions
    ]
