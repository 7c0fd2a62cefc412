"""The demo catalogue's photos: drawn from the sku alone, large and heavy like a camera's
originals, and uploaded through the admin's upload for the media job to render."""

from __future__ import annotations

import hashlib

import pytest
from PIL import Image

from devtools import demo_photos
from jobs.media import make_renditions
from models.db import Session
from models.product_images import ImageStatus, ProductImage, images_of
from tests.support import factories
from tests.support.images import photo

ADMIN_TOKEN = "test-admin-token"  # tests/conftest.py's


# Three 3600 x 2700 photos drawn and encoded: seconds each, too slow for make test.
@pytest.mark.slow
def test_a_photo_is_large_heavy_and_the_same_on_every_run(tmp_path):
    first = demo_photos.photo("MUG-LOGO", cache=tmp_path / "a")
    again = demo_photos.photo("MUG-LOGO", cache=tmp_path / "b")
    assert (
        hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(again.read_bytes()).digest()
    )
    assert 2_000_000 <= first.stat().st_size <= 6_000_000
    with Image.open(first) as image:
        assert image.format == "JPEG"
        assert image.size == (3600, 2700)
    # Another sku, another picture.
    other = demo_photos.photo("CAP-NAVY", cache=tmp_path / "a")
    assert other.read_bytes() != first.read_bytes()


def test_the_photos_go_through_the_admin_upload_once(live_server, tmp_path, monkeypatch):
    # A smaller stand-in keeps the render quick; the photos themselves are the test above's.
    stand_in = tmp_path / "stand-in.jpg"
    stand_in.write_bytes(photo((1200, 900)))
    monkeypatch.setattr(demo_photos, "photo", lambda sku: stand_in)
    with Session.begin() as session:
        factories.product(session, "MUG-LOGO")
        factories.product(session, "UNKNOWN-THING")  # not a demo product: no photo for it

    demo_photos.upload_when_ready(live_server, ADMIN_TOKEN, wait_s=10)

    with Session.begin() as session:
        (image,) = images_of(session, "MUG-LOGO")
        assert images_of(session, "UNKNOWN-THING") == []
        assert image.status == ImageStatus.PENDING and image.alt.startswith("A blue ceramic mug")
        image_id = str(image.id)
    make_renditions.fn(image_id)  # what the worker does with the job the upload queued
    with Session.begin() as session:
        ready = session.get(ProductImage, image.id)
        assert ready.status == ImageStatus.READY and (ready.width, ready.height) == (1200, 900)

    # A second run (make run again) uploads nothing more.
    demo_photos.upload_when_ready(live_server, ADMIN_TOKEN, wait_s=10)
    with Session.begin() as session:
        assert len(images_of(session, "MUG-LOGO")) == 1
