"""inspect_upload: whatever the bytes and the name, an answer or InvalidImage, nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media import inspection
from media.inspection import Inspected, inspect_upload
from models.errors import InvalidImage
from tests.support.images import photo, png_bomb

VALID = {
    "JPEG": photo((120, 80)),
    "PNG": photo((120, 80), image_format="PNG"),
    "WEBP": photo((120, 80), image_format="WEBP"),
    "AVIF": photo((120, 80), image_format="AVIF"),
}
names = st.sampled_from(["a.jpg", "a.png", "a.webp", "a.avif", "a.svg", "a", "", "a.JPEG", "x.gif"])


@pytest.mark.parametrize(
    ("image_format", "name"),
    [("JPEG", "p.JPG"), ("PNG", "p.png"), ("WEBP", "p.webp"), ("AVIF", "p.avif"), ("JPEG", "blob")],
)
def test_accepted_formats(image_format, name):
    assert inspect_upload(VALID[image_format], name) == Inspected(image_format, 120, 80)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.binary(max_size=2000), name=names)
def test_arbitrary_bytes_are_refused_cleanly(data, name):
    with pytest.raises(InvalidImage) as refused:
        inspect_upload(data, name)
    assert refused.value.extra["reason"]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    image_format=st.sampled_from(sorted(VALID)),
    cut=st.integers(min_value=1, max_value=10_000),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=4),
    name=names,
)
def test_damaged_images_are_accepted_or_refused_never_crash(image_format, cut, flips, name):
    data = bytearray(VALID[image_format][: max(1, len(VALID[image_format]) - cut)])
    for offset, value in flips:
        data[offset % len(data)] = value
    try:
        inspected = inspect_upload(bytes(data), name)
    except InvalidImage as refused:
        assert refused.extra["reason"]
    else:
        assert inspected.width * inspected.height <= 50_000_000


def test_a_bomb_is_refused_from_its_header_without_decoding(monkeypatch):
    def no_decoding(*args):
        raise AssertionError("a bomb's pixels were decoded")

    monkeypatch.setattr(inspection, "_decode_fully", no_decoding)
    for side in (30_000, 7072):
        with pytest.raises(InvalidImage, match="over 50 megapixels"):
            inspect_upload(png_bomb(side), "bomb.png")
