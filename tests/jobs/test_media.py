"""make_renditions: widths, formats, orientation, metadata, placeholders, re-runs, failures."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image

from jobs import media as media_jobs
from jobs.media import make_renditions, mark_image_failed
from media import storage as media_storage
from media.renditions import UnreadableImage
from models.db import Session
from models.product_images import ImageStatus, ProductImage
from tests.support import factories
from tests.support.images import has_gps, photo, uploaded
from worker import dead_letters


def image_row(image_id: str) -> ProductImage:
    with Session.begin() as session:
        return session.get(ProductImage, uuid.UUID(image_id))


def rendition_bytes(path: str) -> bytes:
    return media_storage.storage().get(media_storage.rendition_key(path))


def test_renders_every_width_up_to_the_original_in_three_formats(broker):
    image_id = uploaded(photo((1000, 750)))

    make_renditions.fn(image_id)

    image = image_row(image_id)
    assert image.status == ImageStatus.READY and image.error is None
    assert (image.width, image.height) == (1000, 750)
    made = {(r["width"], r["format"]) for r in image.renditions}
    assert made == {(w, f) for w in (320, 640, 960) for f in ("avif", "webp", "jpeg")}
    for rendition in image.renditions:
        with Image.open(io.BytesIO(rendition_bytes(rendition["path"]))) as file:
            assert file.width == rendition["width"] <= 1000
            assert (
                file.format == {"avif": "AVIF", "webp": "WEBP", "jpeg": "JPEG"}[rendition["format"]]
            )
    assert image.placeholder.startswith("data:image/png;base64,")


def test_an_image_narrower_than_every_width_gets_its_own_width(broker):
    image_id = uploaded(photo((200, 100)))
    make_renditions.fn(image_id)
    assert {r["width"] for r in image_row(image_id).renditions} == {200}


def test_gps_and_every_other_exif_field_is_stripped(broker):
    original = photo((700, 500), gps=True)
    assert has_gps(original)
    image_id = uploaded(original)

    make_renditions.fn(image_id)

    for rendition in image_row(image_id).renditions:
        data = rendition_bytes(rendition["path"])
        assert not has_gps(data)
        with Image.open(io.BytesIO(data)) as file:
            assert not file.getexif() and "exif" not in file.info


def test_exif_orientation_is_applied(broker):
    # Stored 800 x 600, red on the left; orientation 6 means "rotate 90 degrees clockwise
    # to display", so the shopper sees 600 x 800 with red on top.
    image_id = uploaded(photo((800, 600), orientation=6))

    make_renditions.fn(image_id)

    image = image_row(image_id)
    assert (image.width, image.height) == (600, 800)
    jpeg = next(r for r in image.renditions if r["format"] == "jpeg" and r["width"] == 320)
    with Image.open(io.BytesIO(rendition_bytes(jpeg["path"]))) as file:
        assert file.size == (320, 427)
        red, green, _ = file.convert("RGB").getpixel((160, 20))
        assert red > 150 and green < 120
        assert file.convert("RGB").getpixel((160, 400)) > (230, 230, 230)


def test_a_rerun_is_harmless(broker):
    image_id = uploaded(photo((700, 500)))
    make_renditions.fn(image_id)
    first = image_row(image_id)

    make_renditions.fn(image_id)
    with Session.begin() as session:
        session.get(ProductImage, uuid.UUID(image_id)).status = ImageStatus.PENDING
    make_renditions.fn(image_id)

    again = image_row(image_id)
    assert again.status == ImageStatus.READY
    assert again.renditions == first.renditions
    folder = media_storage.storage().root / media_storage.renditions_prefix(image_id)
    assert sorted(file.name for file in folder.iterdir()) == sorted(
        r["path"].split("/")[1] for r in first.renditions
    )


def test_an_undecodable_original_fails_the_image_with_its_reason(broker):
    image_id = uploaded(photo((700, 500))[:400])

    with pytest.raises(UnreadableImage):
        make_renditions.fn(image_id)

    image = image_row(image_id)
    assert image.status == ImageStatus.FAILED
    assert "cannot be decoded" in image.error
    assert image.renditions == []


def test_exhausted_retries_fail_the_image(broker):
    image_id = uploaded(photo())
    mark_image_failed.fn(
        {"args": [image_id], "options": {"traceback": "Traceback...\nOSError: disk full"}},
        {"retries": 5},
    )
    image = image_row(image_id)
    assert image.status == ImageStatus.FAILED
    assert image.error == "retries exhausted after 6 attempt(s): OSError: disk full"


def test_an_image_deleted_while_rendering_leaves_no_files(broker, monkeypatch):
    image_id = uploaded(photo((400, 300)))
    real_render = media_jobs.render

    def render_then_delete(original: bytes):
        rendered = real_render(original)
        with Session.begin() as session:
            session.delete(session.get(ProductImage, uuid.UUID(image_id)))
        return rendered

    monkeypatch.setattr(media_jobs, "render", render_then_delete)
    make_renditions.fn(image_id)

    assert not (media_storage.storage().root / media_storage.renditions_prefix(image_id)).exists()


def test_an_upload_is_rendered_by_a_worker_through_the_outbox(client, drain_queues):
    with Session.begin() as session:
        factories.product(session, "CUP")
    response = client.post(
        "/admin/api/products/CUP/images",
        data={"file": (io.BytesIO(photo((700, 500))), "cup.jpg")},
        headers={"Authorization": "Bearer test-admin-token"},
        content_type="multipart/form-data",
    )

    drain_queues(timeout=120)

    image = image_row(response.json["image_id"])
    assert image.status == ImageStatus.READY and len(image.renditions) == 6


def test_an_undecodable_original_dead_letters_on_the_media_queue(broker, drain_queues):
    image_id = uploaded(photo((700, 500))[:400])

    make_renditions.send(image_id)
    drain_queues(timeout=60)

    assert image_row(image_id).status == ImageStatus.FAILED
    [letter] = dead_letters.list_dead_letters(queue="media", actor="make_renditions")
    assert "cannot be decoded" in letter.error
