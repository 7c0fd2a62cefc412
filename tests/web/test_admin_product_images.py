"""Admin image API: uploads (and every kind of bad one), listing, edits, deletion, roles,
CSRF, audit, and the upload route's own body limit."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from media import storage as media_storage
from media.inspection import MAX_UPLOAD_BYTES
from models.audit import AuditEntry
from models.db import Session
from models.infra.outbox import OutboxMessage
from models.product_images import ProductImage
from models.staff import Role
from tests.support import factories
from tests.support.images import photo, png_bomb
from tests.web.admin_helpers import csrf_token, logged_in

AUTH = {"Authorization": "Bearer test-admin-token"}
URL = "/admin/api/products/MUG/images"


@pytest.fixture(autouse=True)
def product():
    with Session.begin() as session:
        factories.product(session, "MUG")


def upload(client, data: bytes, filename: str = "mug.jpg", headers=AUTH, **form):
    body = {"file": (io.BytesIO(data), filename), **form}
    return client.post(URL, data=body, headers=headers, content_type="multipart/form-data")


def stored_files() -> list[str]:
    root = media_storage.storage().root
    return [os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs]


def images() -> int:
    with Session() as session:
        return session.scalar(select(func.count()).select_from(ProductImage))


def test_an_upload_is_kept_pending_and_its_job_queued(client):
    response = upload(client, photo(), alt="A red mug")

    assert response.status_code == 202
    image_id = response.json["image_id"]
    assert response.json == {"image_id": image_id, "status": "pending"}
    assert f"originals/{image_id}" in stored_files()
    with Session() as session:
        job = session.scalars(select(OutboxMessage)).one()
        assert (job.actor_name, job.args) == ("make_renditions", [image_id])
    [item] = client.get(URL, headers=AUTH).json["items"]
    assert item == {
        "image_id": image_id,
        "status": "pending",
        "error": None,
        "position": 0,
        "alt": "A red mug",
        "width": None,
        "height": None,
        "renditions": [],
    }


@pytest.fixture
def clean_store():
    before = set(stored_files())
    yield
    assert set(stored_files()) == before


def refused(response, reason: str) -> None:
    assert response.status_code == 422, response.json
    assert response.json["error"] == "invalid_image"
    assert reason in response.json["reason"]
    assert images() == 0


def test_not_an_image_is_refused(client, clean_store):
    refused(upload(client, b"just some text, really", "mug.jpg"), "not a JPEG, PNG, WebP or AVIF")


def test_a_truncated_image_is_refused(client, clean_store):
    refused(upload(client, photo((900, 700))[:-2000], "mug.jpg"), "truncated or corrupt")


def test_a_truncated_png_is_refused(client, clean_store):
    data = photo((900, 700), image_format="PNG")
    refused(upload(client, data[: len(data) // 2], "mug.png"), "truncated or corrupt")


def test_a_file_over_20_mib_is_refused(client, clean_store):
    data = photo((64, 64), image_format="PNG")
    padded = data + b"\0" * (MAX_UPLOAD_BYTES + 1 - len(data))
    refused(upload(client, padded, "mug.png"), "over 20 MiB")


def test_a_decompression_bomb_is_refused_before_decoding(client, clean_store):
    bomb = png_bomb(30_000)
    assert len(bomb) < 200_000
    refused(upload(client, bomb, "bomb.png"), "over 50 megapixels")


def test_just_over_50_megapixels_is_refused(client, clean_store):
    refused(upload(client, png_bomb(7072), "big.png"), "over 50 megapixels")


def test_svg_is_refused(client, clean_store):
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'
    refused(upload(client, svg, "mug.svg"), "SVG")
    refused(upload(client, photo(), "mug.svg"), "SVG")


def test_content_that_disagrees_with_its_name_is_refused(client, clean_store):
    refused(upload(client, photo(image_format="PNG"), "mug.jpg"), "content is PNG")
    refused(upload(client, photo(), "mug.txt"), "content is JPEG")


def test_a_missing_file_or_product(client, clean_store):
    response = client.post(URL, data={"alt": "x"}, headers=AUTH)
    assert response.status_code == 422 and response.json["errors"][0]["field"] == "file"
    other = client.post(
        "/admin/api/products/NOPE/images",
        data={"file": (io.BytesIO(photo()), "a.jpg")},
        headers=AUTH,
        content_type="multipart/form-data",
    )
    assert other.status_code == 404 and other.json["error"] == "not_found"
    assert images() == 0


def test_only_the_upload_route_takes_more_than_one_mebibyte(client):
    big = photo((64, 64), image_format="PNG")
    big += b"\0" * (2 * 1024 * 1024 - len(big))
    assert upload(client, big, "mug.png").status_code == 202
    response = client.put(
        "/admin/api/products/MUG",
        data=b'{"name": "x", "price_cents": 1' + b" " * (1024 * 1024) + b"}",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    huge = b"\0" * (MAX_UPLOAD_BYTES + 2 * 1024 * 1024)
    assert upload(client, huge, "mug.png").status_code == 413


def ids(client) -> list[str]:
    return [item["image_id"] for item in client.get(URL, headers=AUTH).json["items"]]


def test_reorder_edit_alt_and_delete(client):
    first, second, third = (upload(client, photo()).json["image_id"] for _ in range(3))

    moved = client.patch(f"{URL}/{third}", json={"position": 0, "alt": "Side"}, headers=AUTH)

    assert moved.status_code == 200 and moved.json["position"] == 0
    assert moved.json["alt"] == "Side"
    assert ids(client) == [third, first, second]
    assert client.delete(f"{URL}/{first}", headers=AUTH).status_code == 200
    items = client.get(URL, headers=AUTH).json["items"]
    assert [(i["image_id"], i["position"]) for i in items] == [(third, 0), (second, 1)]
    assert not any(first in path for path in stored_files())
    assert client.delete(f"{URL}/{first}", headers=AUTH).status_code == 404
    assert client.patch(f"{URL}/not-a-uuid", json={"alt": "x"}, headers=AUTH).status_code == 404
    bad = client.patch(f"{URL}/{second}", json={"position": -1}, headers=AUTH)
    assert bad.status_code == 422


def test_a_viewer_may_look_but_not_upload(client):
    logged_in(client, Role.VIEWER, "viewer@example.com")
    token = csrf_token(client)
    assert client.get(URL).status_code == 200
    response = upload(client, photo(), headers={"X-CSRFToken": token})
    assert response.status_code == 403
    assert images() == 0


def test_a_session_upload_needs_the_csrf_token(client):
    logged_in(client, Role.OPERATOR)
    assert upload(client, photo(), headers={}).status_code == 400
    assert images() == 0
    response = upload(client, photo(), headers={"X-CSRFToken": csrf_token(client)})
    assert response.status_code == 202


def test_uploads_and_refusals_are_audited(client):
    image_id = upload(client, photo()).json["image_id"]
    upload(client, b"nope", "x.jpg")
    client.delete(f"{URL}/{image_id}", headers=AUTH)
    with Session() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.outcome, e.target) for e in entries] == [
        ("upload_product_image", "ok", "sku:MUG"),
        ("upload_product_image", "failed", "sku:MUG"),
        ("delete_product_image", "ok", "sku:MUG"),
    ]
    assert entries[0].details["image_id"] == image_id


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    data=st.binary(max_size=3000) | st.sampled_from([photo()[:900], photo()[:-10], png_bomb()]),
    filename=st.text(max_size=40),
    alt=st.text(max_size=600),
)
def test_no_upload_yields_a_server_error_and_a_refusal_keeps_nothing(client, data, filename, alt):
    before, count = set(stored_files()), images()
    response = client.post(
        URL,
        data={"file": (io.BytesIO(data), filename), "alt": alt},
        headers=AUTH,
        content_type="multipart/form-data",
    )
    assert response.status_code in (202, 422), response.get_data()[:300]
    if response.status_code == 422:
        assert response.json["error"] in ("invalid_image", "validation_error")
        assert set(stored_files()) == before and images() == count


def test_nul_in_the_alt_text_is_refused(client):
    response = upload(client, photo(), alt="a\x00b")
    assert response.status_code == 422 and response.json["errors"][0]["field"] == "alt"
    assert images() == 0
