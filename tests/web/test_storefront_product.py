"""The storefront's product page: the product rendered from the product API's own
document, escaped, its first image in the HTML and preloaded; 404 for an unknown sku."""

from __future__ import annotations

import json
import re

import pytest

from models.catalog import Product
from models.db import Session
from services.settings import get_settings
from tests.support import factories


@pytest.fixture
def storefront(broker, monkeypatch):
    from web import create_app

    monkeypatch.setenv("DEMO_STOREFRONT", "true")
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:12111")
    get_settings.cache_clear()
    yield create_app({"TESTING": True}).test_client()
    get_settings.cache_clear()


def given_product(sku: str, name: str, on_hand: int = 4) -> None:
    with Session.begin() as session:
        factories.product(session, sku, price_cents=2500, stock={"main": on_hand})
        session.get(Product, sku).name = name


def page_product(html: str) -> dict:
    """The document the page's script starts from (#product-data)."""
    found = re.search(r'<script type="application/json" id="product-data">(.*?)</script>', html)
    assert found, "no #product-data in the page"
    return json.loads(found.group(1))


def test_the_page_renders_the_api_document_of_the_product(storefront):
    given_product("TEE-1", "Black tee")
    response = storefront.get("/products/TEE-1")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>Black tee</h1>" in html
    assert 'src="/static/product.js"' in html
    assert 'data-sku="TEE-1"' in html
    assert page_product(html) == storefront.get("/api/products/TEE-1").json
    assert page_product(html)["available"] == 4
    assert 'id="also-bought" class="also-bought" hidden' in html  # shown only by its script


def test_product_text_is_escaped_in_the_page_and_in_its_json(storefront):
    name = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
    given_product("XSS-1", name)
    html = storefront.get("/products/XSS-1").get_data(as_text=True)
    assert "<img src=x" not in html
    assert "<script>alert(1)" not in html
    assert page_product(html)["name"] == name


def test_an_unknown_sku_is_a_404_page_that_escapes_the_sku(storefront):
    response = storefront.get("/products/%3Cb%3Enope")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "No such product" in html
    assert "<b>nope" not in html and "&lt;b&gt;nope" in html
    assert "product-data" not in html


def test_the_page_keeps_the_storefront_headers(storefront):
    given_product("TEE-2", "White tee")
    headers = storefront.get("/products/TEE-2").headers
    assert (
        headers["Content-Security-Policy"] == storefront.get("/").headers["Content-Security-Policy"]
    )
    assert headers["Referrer-Policy"] == "no-referrer"


def test_a_product_without_images_has_no_picture_and_no_preload(storefront):
    given_product("TEE-3", "Grey tee")
    html = storefront.get("/products/TEE-3").get_data(as_text=True)
    assert "<picture>" not in html
    assert 'rel="preload"' not in html
