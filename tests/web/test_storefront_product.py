"""The storefront's product page: the product rendered from the product API's own
document, escaped, its first image in the HTML and preloaded; 404 for an unknown sku."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def given_ready_image(sku: str, size: tuple[int, int] = (1500, 1000)) -> None:
    from jobs.media import make_renditions
    from tests.support.images import photo, uploaded

    make_renditions.fn(uploaded(photo(size), sku=sku))


def test_the_first_image_is_in_the_html_eager_and_preloaded(storefront):
    given_product("MUG-1", "Blue mug")
    given_ready_image("MUG-1")
    html = storefront.get("/products/MUG-1").get_data(as_text=True)
    image = page_product(html)["images"][0]

    def srcset(fmt: str) -> str:
        return ", ".join(f"{c['url']} {c['width']}w" for c in image["srcset"] if c["format"] == fmt)

    assert [c["width"] for c in image["srcset"] if c["format"] == "avif"] == [320, 640, 960, 1280]
    picture = html[html.index("<picture>") : html.index("</picture>")]
    assert f'<source type="image/avif" srcset="{srcset("avif")}"' in picture
    assert f'<source type="image/webp" srcset="{srcset("webp")}"' in picture
    assert picture.index("image/avif") < picture.index("image/webp") < picture.index("<img")
    assert f'<img src="{image["url"]}" srcset="{srcset("jpeg")}"' in picture
    assert 'width="1500" height="1000"' in picture
    assert 'loading="eager" fetchpriority="high"' in picture
    assert 'loading="lazy"' not in picture
    assert f'data-placeholder="{image["placeholder"]}"' in picture
    # The preload asks for what the <picture> takes first, with the same sizes.
    head = html[: html.index("</head>")]
    assert f'imagesrcset="{srcset("avif")}"' in head
    assert 'rel="preload" as="image" type="image/avif" fetchpriority="high"' in head
    assert head.index('rel="preload"') < head.index("storefront.css")
    sizes = re.search(r'imagesizes="([^"]+)"', head).group(1)
    assert f'sizes="{sizes}"' in picture


def test_the_first_image_s_files_are_served(storefront):
    given_product("MUG-2", "Red mug")
    given_ready_image("MUG-2", (700, 500))
    image = page_product(storefront.get("/products/MUG-2").get_data(as_text=True))["images"][0]
    for candidate in [{"url": image["url"]}, *image["srcset"]]:
        response = storefront.get(candidate["url"])
        assert response.status_code == 200, candidate["url"]
        assert response.mimetype.startswith("image/")


def test_images_on_a_cdn_are_allowed_by_the_pages_policy(storefront, monkeypatch):
    assert "img-src 'self' data:;" in storefront.get("/").headers["Content-Security-Policy"]
    monkeypatch.setenv("MEDIA_URL", "https://cdn.example.com/shop/media/")
    get_settings.cache_clear()
    policy = storefront.get("/").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://cdn.example.com;" in policy


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(
    sku=st.text(max_size=80)
    | st.sampled_from(["\x00", "a\x00b", "\ud800", "%00", "..", "TEE-1/../x", "TEE-1"]),
    query=st.text(max_size=40),
)
def test_no_sku_or_query_makes_the_page_fail(storefront, sku, query):
    given_product_once("TEE-1")
    path = quote(sku.encode("utf-8", "surrogatepass"), safe="")
    response = storefront.get(
        f"/products/{path}?cart={quote(query.encode('utf-8', 'surrogatepass'))}"
    )
    assert response.status_code in (200, 404, 405), (sku, response.status_code)
    if response.status_code == 200:
        assert page_product(response.get_data(as_text=True))["sku"] == "TEE-1"


def given_product_once(sku: str) -> None:
    with Session.begin() as session:
        if session.get(Product, sku) is None:
            factories.product(session, sku)
