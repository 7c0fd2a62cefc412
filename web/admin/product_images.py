"""Admin API: a product's images (API.md "Admin"): upload, list, edit, delete.

An upload answers 202 at once; the renditions are made by the ``make_renditions`` job,
and the image's ``status`` (with ``error`` when it failed) tells how that went.
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import g, request
from pydantic import AfterValidator, Field, StrictInt, StringConstraints, ValidationError

from flows import product_images as flow
from media.inspection import MAX_UPLOAD_BYTES
from models.catalog import Product
from models.db import Session
from models.errors import NotFound
from models.product_images import ProductImage, edit_image, images_of
from services.settings import get_settings
from web.admin import bp
from web.body_limits import takes_uploads
from web.errors import APIError
from web.validation import Schema, parse_body, storable, validation_error

__all__ = ["bp"]

MAX_ALT_LENGTH = 500


Alt = Annotated[str, StringConstraints(max_length=MAX_ALT_LENGTH), AfterValidator(storable)]


class UploadForm(Schema):
    """The multipart fields beside ``file``."""

    alt: Alt = ""


class ImageChanges(Schema):
    alt: Alt | None = None
    position: StrictInt | None = Field(None, ge=0, le=10_000)


def admin_image_json(image: ProductImage) -> dict[str, Any]:
    base = get_settings().media_url.rstrip("/") + "/"
    return {
        "image_id": str(image.id),
        "status": image.status,
        "error": image.error,
        "position": image.position,
        "alt": image.alt,
        "width": image.width,
        "height": image.height,
        "renditions": [
            {
                "url": base + r["path"],
                "width": r["width"],
                "height": r["height"],
                "format": r["format"],
            }
            for r in sorted(image.renditions, key=lambda r: (r["width"], r["format"]))
        ],
    }


def read_upload() -> tuple[bytes, str, str]:
    """The posted ``file`` (its bytes, its name) and ``alt``; 422 when either is unfit."""
    try:
        form = UploadForm.model_validate({k: v for k, v in request.form.items() if k == "alt"})
    except ValidationError as error:
        raise validation_error(error) from None
    upload = request.files.get("file")
    if upload is None:
        raise APIError(
            422,
            "validation_error",
            "The request body is invalid.",
            errors=[{"field": "file", "message": "a file is required (multipart/form-data)"}],
        )
    return upload.stream.read(MAX_UPLOAD_BYTES + 1), upload.filename or "", form.alt


@bp.post("/api/products/<sku>/images")
@takes_uploads
def upload_product_image(sku: str):
    data, filename, alt = read_upload()
    image = flow.upload_image(sku=sku, data=data, filename=filename, alt=alt)
    g.audit_details = {"image_id": str(image.id), "bytes": len(data)}
    return {"image_id": str(image.id), "status": image.status}, 202


@bp.get("/api/products/<sku>/images")
def list_product_images(sku: str):
    with Session.begin() as session:
        if session.get(Product, sku) is None:
            raise NotFound(f"No such product: {sku}.")
        return {"items": [admin_image_json(image) for image in images_of(session, sku)]}


@bp.patch("/api/products/<sku>/images/<image_id>")
def edit_product_image(sku: str, image_id: str):
    changes = parse_body(ImageChanges)
    with Session.begin() as session:
        image = flow.image_of(session, sku, image_id, lock=True)
        edit_image(session, image, alt=changes.alt, position=changes.position)
        g.audit_details = {"image_id": image_id, **changes.model_dump(exclude_none=True)}
        return admin_image_json(image)


@bp.delete("/api/products/<sku>/images/<image_id>")
def delete_product_image(sku: str, image_id: str):
    g.audit_details = {"image_id": image_id}
    flow.delete_image(sku=sku, image_id=image_id)
    return {"deleted": 1, "image_id": image_id}
