"""Product images in the storefront API and ``GET /media/``: ready renditions only."""

from __future__ import annotations

import uuid

from jobs.media import make_renditions
from media import storage as media_storage
from models.db import Session
from models.product_images import ImageStatus, ProductImage
from tests.support.images import photo, uploaded


def test_a_ready_image_appears_on_the_product_with_its_srcset(client):
    ready = uploaded(photo((1400, 700)))
    make_renditions.fn(ready)
    uploaded(photo((500, 500)))  # still pending: not shown

    product = client.get("/api/products/MUG").json
    listed = client.get("/api/products").json["items"][0]

    assert listed["images"] == product["images"]
    [image] = product["images"]
    assert (image["width"], image["height"], image["alt"]) == (1400, 700, "")
    assert image["placeholder"].startswith("data:image/png;base64,")
    assert image["url"].startswith(f"/media/{ready}/1280-") and image["url"].endswith(".jpg")
    assert {(s["width"], s["format"]) for s in image["srcset"]} == {
        (w, f) for w in (320, 640, 960, 1280) for f in ("avif", "webp", "jpeg")
    }


def test_media_serves_renditions_immutably(client):
    image_id = uploaded(photo((400, 300)))
    make_renditions.fn(image_id)
    [image] = client.get("/api/products/MUG").json["images"]
    avif = next(s for s in image["srcset"] if s["format"] == "avif")

    response = client.get(avif["url"])

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/avif"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.data[4:12] == b"ftypavif"


def test_originals_and_other_paths_are_never_served(client):
    image_id = uploaded(photo((400, 300)))
    for path in (
        f"/media/{image_id}",
        f"/media/../originals/{image_id}",
        f"/media/%2e%2e/originals/{image_id}",
        f"/media/originals/{image_id}",
        f"/media/{image_id}/320-0123456789abcdef.jpg",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
    assert media_storage.storage().path(media_storage.original_key(image_id)) is not None


def test_a_failed_image_is_not_shown(client):
    image_id = uploaded(photo()[:300])
    with Session.begin() as session:
        session.get(ProductImage, uuid.UUID(image_id)).status = ImageStatus.FAILED
    assert client.get("/api/products/MUG").json["images"] == []
