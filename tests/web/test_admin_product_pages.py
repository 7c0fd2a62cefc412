"""The admin's catalogue pages: list and search, create and edit, images with their status."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from jobs.media import make_renditions
from media.renditions import UnreadableImage
from models.db import Session
from models.product_images import ImageStatus, ProductImage
from tests.support import factories
from tests.support.images import photo, uploaded
from tests.web.admin_helpers import logged_in

AUTH = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture(autouse=True)
def catalogue():
    with Session.begin() as session:
        factories.warehouse(session, "east")
        factories.product(session, "MUG")
        factories.product(session, "TEE")


def image_rows(sku: str = "MUG") -> list[ProductImage]:
    with Session() as session:
        return list(
            session.scalars(
                select(ProductImage).where(ProductImage.sku == sku).order_by(ProductImage.position)
            )
        )


def test_the_list_searches_sku_and_name(client):
    logged_in(client, "viewer")
    page = client.get("/admin/products?q=mu").get_data(as_text=True)
    assert 'id="product-MUG"' in page and 'id="product-TEE"' not in page
    assert 'id="product-form"' not in page  # a viewer gets no forms


def test_create_then_edit_every_field(client):
    token = logged_in(client, "operator")
    form = {"sku": "CAP", "name": "Cap", "price_cents": "900", "currency": "usd"}
    created = client.post("/admin/products", data={**form, "active": "on", "csrf_token": token})
    assert created.status_code == 303 and created.headers["Location"] == "/admin/products/CAP"

    edited = client.post(
        "/admin/products/CAP",
        data={
            "name": "Wool cap",
            "description": "Warm.\r\nKnitted.",
            "price_cents": "1100",
            "currency": "EUR",
            "stock.east": "7",
            "csrf_token": token,
        },
        follow_redirects=True,
    )

    assert "Product CAP saved." in edited.get_data(as_text=True)
    product = client.put(
        "/admin/api/products/CAP", json={"name": "Wool cap", "price_cents": 1100}, headers=AUTH
    ).json
    assert (product["description"], product["active"]) == ("Warm.\nKnitted.", False)
    assert product["stock"] == {"east": 7}


def test_a_duplicate_or_bad_product_form_changes_nothing(client):
    token = logged_in(client, "operator")
    again = client.post(
        "/admin/products",
        data={"sku": "MUG", "name": "Other", "price_cents": "1", "csrf_token": token},
        follow_redirects=True,
    )
    assert "already exists" in again.get_data(as_text=True)
    bad = client.post(
        "/admin/products/MUG",
        data={"name": "", "price_cents": "-3", "csrf_token": token},
        follow_redirects=True,
    )
    assert "Check the form" in bad.get_data(as_text=True)
    assert client.get("/api/products/MUG").json["name"] == "Product MUG"


def test_upload_several_and_see_each_status(client):
    token = logged_in(client, "operator")
    files = [
        (io.BytesIO(photo((900, 600))), "front.jpg"),
        (io.BytesIO(photo((600, 900), image_format="PNG")), "side.png"),
        (io.BytesIO(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), "logo.svg"),
    ]

    page = client.post(
        "/admin/products/MUG/images",
        data={"file": files, "alt": "Mug", "csrf_token": token},
        content_type="multipart/form-data",
        follow_redirects=True,
    ).get_data(as_text=True)

    assert "2 image(s) uploaded" in page and "logo.svg: The image was refused: SVG" in page
    front, side = image_rows()
    make_renditions.fn(str(front.id))
    with Session.begin() as session:
        session.get(ProductImage, side.id).status = ImageStatus.FAILED
        session.get(ProductImage, side.id).error = "retries exhausted: OSError: disk full"

    page = client.get("/admin/products/MUG").get_data(as_text=True)

    assert f'id="image-{front.id}"' in page and ">ready<" in page
    assert ">failed<" in page and "retries exhausted: OSError: disk full" in page
    assert f'src="/media/{front.id}/320-' in page


def test_an_unreadable_original_shows_its_reason(client):
    image_id = uploaded(photo()[:500])
    with pytest.raises(UnreadableImage):
        make_renditions.fn(image_id)
    logged_in(client, "viewer")
    page = client.get("/admin/products/MUG").get_data(as_text=True)
    assert ">failed<" in page and "the original cannot be decoded" in page


def test_reorder_alt_and_delete_forms(client):
    first, second = uploaded(photo()), uploaded(photo())
    token = logged_in(client, "operator")

    client.post(f"/admin/products/MUG/images/{second}", data={"position": "0", "csrf_token": token})
    client.post(f"/admin/products/MUG/images/{first}", data={"alt": "Handle", "csrf_token": token})
    assert [(str(i.id), i.alt) for i in image_rows()] == [(second, ""), (first, "Handle")]

    client.post(f"/admin/products/MUG/images/{second}/delete", data={"csrf_token": token})
    assert [(str(i.id), i.position) for i in image_rows()] == [(first, 0)]
    actions = [e["action"] for e in client.get("/admin/api/audit").json["items"]]
    assert {"edit_product_image", "delete_product_image"} <= set(actions)


def test_a_viewer_cannot_act_and_forms_need_the_csrf_token(client):
    image_id = uploaded(photo())
    logged_in(client, "operator")
    no_token = client.post(f"/admin/products/MUG/images/{image_id}/delete")
    assert no_token.status_code == 400
    client.post("/admin/logout")

    token = logged_in(client, "viewer", "viewer@example.com")
    page = client.get("/admin/products/MUG").get_data(as_text=True)
    assert 'id="image-upload"' not in page and "Delete</button>" not in page
    denied = client.post(
        f"/admin/products/MUG/images/{image_id}/delete", data={"csrf_token": token}
    )
    assert denied.status_code == 403
    assert [str(i.id) for i in image_rows()] == [image_id]


def test_nul_in_a_form_field_is_refused_not_stored(client):
    token = logged_in(client, "operator")
    page = client.post(
        "/admin/products/MUG",
        data={"name": "Mug", "description": "a\x00b", "price_cents": "5", "csrf_token": token},
        follow_redirects=True,
    )
    assert "Check the form: description" in page.get_data(as_text=True)
    image_id = uploaded(photo())
    client.post(f"/admin/products/MUG/images/{image_id}", data={"alt": "\x00", "csrf_token": token})
    assert image_rows()[0].alt == ""
    page = client.post(
        "/admin/products/MUG/images",
        data={"file": [(io.BytesIO(photo()), "a.jpg")], "alt": "\x00", "csrf_token": token},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "Check the form: alt" in page.get_data(as_text=True) and len(image_rows()) == 1
