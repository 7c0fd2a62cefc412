"""Admin product upsert: bearer token, validation, on-hand stock per warehouse."""

from __future__ import annotations

import pytest

from models.db import Session
from tests.support import factories

AUTH = {"Authorization": "Bearer test-admin-token"}
BODY = {"name": "Mug", "price_cents": 1200, "currency": "usd", "stock": {"east": 3, "west": 4}}


@pytest.fixture(autouse=True)
def warehouses():
    with Session.begin() as session:
        factories.warehouse(session, "east")
        factories.warehouse(session, "west")


def test_upsert_creates_then_updates(client):
    response = client.put("/admin/api/products/MUG", json=BODY, headers=AUTH)
    assert response.status_code == 200
    assert response.json == {
        "sku": "MUG",
        "name": "Mug",
        "description": "",
        "price_cents": 1200,
        "currency": "usd",
        "available": 7,
        "images": [],
        "active": True,
        "stock": {"east": 3, "west": 4},
    }

    body = {
        "name": "Big mug",
        "price_cents": 1500,
        "description": "Holds more.",
        "stock": {"east": 0},
    }
    response = client.put("/admin/api/products/MUG", json=body, headers=AUTH)
    assert response.json["stock"] == {"east": 0, "west": 4}
    assert client.get("/api/products/MUG").json == {
        "sku": "MUG",
        "name": "Big mug",
        "description": "Holds more.",
        "price_cents": 1500,
        "currency": "usd",
        "available": 4,
        "images": [],
    }


def test_an_inactive_product_leaves_the_storefront(client):
    client.put("/admin/api/products/MUG", json=BODY, headers=AUTH)
    response = client.put("/admin/api/products/MUG", json={**BODY, "active": False}, headers=AUTH)
    assert response.json["active"] is False
    assert client.get("/api/products/MUG").status_code == 404
    assert client.get("/api/products").json["items"] == []


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-admin-token"}]
)
def test_requires_the_admin_token(client, headers):
    response = client.put("/admin/api/products/MUG", json=BODY, headers=headers)
    assert response.status_code == 401 and response.json["error"] == "unauthorized"
    assert client.get("/api/products/MUG").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {**BODY, "price_cents": -1},
        {**BODY, "price_cents": "12"},
        {**BODY, "name": ""},
        {**BODY, "currency": "euro"},
        {**BODY, "stock": {"east": -1}},
        {**BODY, "stock": {"": 1}},
        {**BODY, "stock": [1]},
        {**BODY, "colour": "red"},
    ],
)
def test_bad_bodies_are_422(client, body):
    response = client.put("/admin/api/products/MUG", json=body, headers=AUTH)
    assert response.status_code == 422 and response.json["error"] == "validation_error"


def test_overlong_sku_is_422(client):
    response = client.put(f"/admin/api/products/{'X' * 65}", json=BODY, headers=AUTH)
    assert response.status_code == 422
