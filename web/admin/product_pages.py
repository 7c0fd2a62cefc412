"""The admin's catalogue pages: the product list with search, a product's edit page
(name, description, price, currency, active, on-hand stock per warehouse) and its images
(upload several, alt text, order, delete, each one's status and failure reason).

Each form posts through the same function as its ``/admin/api`` twin
(``web.admin.products``, ``flows.product_images``), then redirects back with a message;
a refusal (a bad image, bad input) becomes that message and changes nothing.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import flash, g, redirect, render_template, request
from pydantic import ValidationError

from flows import product_images as flow
from media.inspection import MAX_UPLOAD_BYTES
from models.catalog import Product, on_hand_by_warehouse
from models.db import Session
from models.errors import CartfleetError
from models.product_images import edit_image, images_of
from models.warehouses import edits
from web.admin import bp
from web.admin.forms import form_action, refuse
from web.admin.product_images import ImageChanges, UploadForm, admin_image_json
from web.admin.products import ProductBody, ProductListQuery, check_sku, product_page, save_product
from web.body_limits import takes_uploads
from web.errors import APIError
from web.validation import parse_query

__all__ = ["bp"]


def _product_form() -> ProductBody:
    """The edit form as the API's body: ``stock.<code>`` fields, a checkbox for active."""
    form = request.form
    stock: dict[str, Any] = {}
    for name, value in form.items():
        if name.startswith("stock.") and value.strip():
            text = value.strip()
            stock[name.removeprefix("stock.")] = int(text) if text.isdigit() else text
    price = form.get("price_cents", "").strip()
    return ProductBody.model_validate(
        {
            "name": form.get("name", "").strip(),
            "price_cents": int(price) if price.isdigit() else price,
            "currency": form.get("currency", "usd").strip() or "usd",
            "description": form.get("description", "").replace("\r\n", "\n"),
            "active": form.get("active") == "on",
            "stock": stock,
        }
    )


@bp.get("/products")
def page_products():
    query = parse_query(ProductListQuery)
    page = product_page(query)
    next_url = None
    if page["next_cursor"]:
        next_url = "/admin/products?" + urlencode(
            {k: v for k, v in (("q", query.q), ("cursor", page["next_cursor"])) if v}
        )
    return render_template(
        "admin/products.html", products=page["items"], q=query.q or "", next_url=next_url
    )


@bp.post("/products")
def page_create_product():
    sku = request.form.get("sku", "").strip()
    with form_action():
        check_sku(sku)
        with Session() as session:
            if session.get(Product, sku) is not None:
                raise APIError(409, "product_exists", f"Product {sku} already exists.")
        save_product(sku, _product_form())
        flash(f"Product {sku} created.", "ok")
        return redirect(f"/admin/products/{sku}", 303)
    return redirect("/admin/products", 303)


@bp.get("/products/<sku>")
def page_product(sku: str):
    with Session() as session:
        product = session.get(Product, sku)
        if product is None:
            raise APIError(404, "not_found", f"No such product: {sku}.")
        stock = on_hand_by_warehouse(session, sku)
        codes = [w.code for w in edits.listing(session)]
        images = [admin_image_json(image) for image in images_of(session, sku)]
    return render_template(
        "admin/product.html",
        product=product,
        stock=stock,
        codes=codes,
        images=images,
        max_upload_mib=MAX_UPLOAD_BYTES // (1024 * 1024),
    )


@bp.post("/products/<sku>")
def page_save_product(sku: str):
    with form_action():
        save_product(sku, _product_form())
        flash(f"Product {sku} saved.", "ok")
    return redirect(f"/admin/products/{sku}", 303)


@bp.post("/products/<sku>/images")
@takes_uploads
def page_upload_product_images(sku: str):
    files = [f for f in request.files.getlist("file") if f.filename]
    try:
        alt = UploadForm.model_validate({"alt": request.form.get("alt", "")}).alt
    except ValidationError:
        refuse("Check the form: alt (at most 500 characters, no NUL).", status=422)
        return redirect(f"/admin/products/{sku}", 303)
    if not files:
        refuse("Choose one or more image files to upload.", status=422)
    kept, refused = [], []
    for upload in files:
        try:
            image = flow.upload_image(
                sku=sku,
                data=upload.stream.read(MAX_UPLOAD_BYTES + 1),
                filename=upload.filename,
                alt=alt,
            )
            kept.append(str(image.id))
        except CartfleetError as error:
            refused.append(f"{upload.filename}: {error.message}")
    if kept:
        flash(f"{len(kept)} image(s) uploaded; renditions are being made.", "ok")
    if refused:
        flash(" ".join(refused), "error")
        if not kept:
            g.audit_status = 422
    g.audit_details = {"image_ids": kept, "refused": len(refused)}
    return redirect(f"/admin/products/{sku}", 303)


@bp.post("/products/<sku>/images/<image_id>")
def page_edit_product_image(sku: str, image_id: str):
    with form_action():
        position = request.form.get("position", "").strip()
        changes = ImageChanges.model_validate(
            {
                "alt": request.form.get("alt"),
                "position": int(position) if position.isdigit() else (position or None),
            }
        )
        with Session.begin() as session:
            image = flow.image_of(session, sku, image_id, lock=True)
            edit_image(session, image, alt=changes.alt, position=changes.position)
        g.audit_details = {"image_id": image_id, **changes.model_dump(exclude_none=True)}
        flash("Image saved.", "ok")
    return redirect(f"/admin/products/{sku}#images", 303)


@bp.post("/products/<sku>/images/<image_id>/delete")
def page_delete_product_image(sku: str, image_id: str):
    with form_action():
        g.audit_details = {"image_id": image_id}
        flow.delete_image(sku=sku, image_id=image_id)
        flash("Image deleted.", "ok")
    return redirect(f"/admin/products/{sku}#images", 303)
