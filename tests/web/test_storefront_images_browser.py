"""Product images on the storefront, in headless Chromium (Debian's, through Playwright).

The real web process (gunicorn) serves the pages and ``/media/``; images are rendered by
the media job in this process into the tests' MEDIA_ROOT, which the web process shares.
Chromium is told to fetch a lazy image only once it is in the viewport (its default
starts 1250 px ahead, by connection type), so the request log shows the markup's own
choice: what is eager, what waits for a scroll.
"""

from __future__ import annotations

import json

import pytest

from jobs.media import make_renditions
from models.catalog import Product
from models.db import Session
from tests.support import factories
from tests.support.images import photo, uploaded
from tests.support.web_server import running_web
from tests.web.browser import ARGS, CHROMIUM, pytestmark  # noqa: F401  (the skips)

WAIT_MS = 15_000
# A phone's viewport: the listing is one column, a card's image the full width.
PHONE = {"width": 412, "height": 823}
# Chromium's lazy-loading margins, every connection type: the viewport itself.
EXACT_LAZY = "--blink-settings=" + ",".join(
    f"lazyLoadingImageMarginPx{kind}=0"
    for kind in ("Unknown", "Offline", "Slow2G", "2G", "3G", "4G")
)
COLOURS = [(200, 60, 40), (40, 120, 200), (60, 160, 80), (220, 180, 40), (120, 60, 160)]


@pytest.fixture(scope="module")
def shop(schema, tmp_path_factory):
    env = {
        "DEMO_STOREFRONT": "true",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("web-metrics")),
    }
    with running_web("--workers", "1", "--threads", "4", env=env) as web:
        yield web


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, EXACT_LAZY])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.media_requests = []  # every /media/ URL the page asked for, in order
    page.on(
        "request",
        lambda request: "/media/" in request.url and page.media_requests.append(request.url),
    )
    yield page
    context.close()


def given_products_with_images(count: int, *, images_each: int = 1) -> dict[str, list[str]]:
    """``P-00``... each with ``images_each`` rendered images; their image ids by sku."""
    made = {}
    for number in range(count):
        sku = f"P-{number:02d}"
        with Session.begin() as session:
            factories.product(session, sku, price_cents=1000 + number, stock={"main": 5})
            session.get(Product, sku).name = f"Product {number:02d}"
        made[sku] = []
        for index in range(images_each):
            colour = COLOURS[(number + index) % len(COLOURS)]
            image_id = uploaded(photo((960, 720), color=colour), sku=sku)
            make_renditions.fn(image_id)
            made[sku].append(image_id)
    return made


def fetched(page, image_ids: list[str]) -> list[str]:
    return [url for url in page.media_requests if any(i in url for i in image_ids)]


def test_the_listing_fetches_no_image_below_the_fold_before_scrolling(shop, page):
    from playwright.sync_api import expect

    images = given_products_with_images(8)
    page.goto(f"{shop.url}/")
    expect(page.locator(".product")).to_have_count(8)
    page.wait_for_load_state("networkidle")

    cards = page.locator(".product")
    first = cards.first.locator("img")
    assert first.get_attribute("loading") == "eager"
    assert first.get_attribute("fetchpriority") == "high"
    for index in range(1, 8):
        img = cards.nth(index).locator("img")
        assert img.get_attribute("loading") == "lazy"
        assert img.get_attribute("decoding") == "async"
        assert img.get_attribute("fetchpriority") is None

    # Which cards' images start in the viewport: those, and only those, were fetched.
    tops = cards.evaluate_all(
        "cards => cards.map(c => c.querySelector('img').getBoundingClientRect().top)"
    )
    above = [sku for sku, top in zip(images, tops, strict=True) if top < PHONE["height"]]
    below = [sku for sku in images if sku not in above]
    assert above[0] == "P-00" and len(below) >= 5, tops
    for sku in above:
        assert fetched(page, images[sku]), f"{sku} is in view but was not fetched"
    early = [sku for sku in below if fetched(page, images[sku])]
    assert early == [], f"below the fold but fetched: {early} (image tops {tops})"
    # Chromium takes AVIF, from the <picture>'s first source.
    assert all(url.endswith(".avif") for url in page.media_requests), page.media_requests

    # A lazy image not yet fetched already has its box (no shift) and its placeholder.
    last = cards.last.locator("img")
    box = last.bounding_box()
    assert box["height"] == pytest.approx(box["width"] * 3 / 4, abs=1)
    background = last.evaluate("img => getComputedStyle(img).backgroundImage")
    assert background.startswith('url("data:image/png;base64,')

    # Scrolling down the list brings each image in, as it comes into view.
    for index, sku in enumerate(images):
        img = cards.nth(index).locator("img")
        img.scroll_into_view_if_needed()
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("img => img.naturalWidth") > 0, sku
        assert fetched(page, images[sku]), f"{sku} was not fetched once scrolled to"
    assert last.evaluate("img => img.style.backgroundImage") == ""  # the image covers it


def test_the_product_page_paints_its_first_image_from_the_html_and_keeps_the_rest_lazy(shop, page):
    from playwright.sync_api import expect

    images = given_products_with_images(1, images_each=3)["P-00"]
    page.goto(f"{shop.url}/products/P-00")
    main = page.locator("#main-image img")
    expect(main).to_have_js_property("complete", True)
    assert main.evaluate("img => img.naturalWidth") > 0
    assert main.evaluate("img => img.currentSrc").endswith(".avif")
    # The preload and the <picture> asked for the same file: one request for it.
    main_file = main.evaluate("img => img.currentSrc")
    assert page.media_requests.count(main_file) == 1, page.media_requests
    assert page.media_requests[0] == main_file  # before any other image
    assert images[0] in main_file

    expect(page.locator("#price")).to_have_text("$10.00")
    expect(page.locator("#stock")).to_have_text("5 in stock")
    thumbnails = page.locator("#thumbnails button")
    expect(thumbnails).to_have_count(3)
    thumbnails.nth(2).click()
    expect(main).to_have_js_property("complete", True)
    assert images[2] in main.evaluate("img => img.currentSrc")
    expect(thumbnails.nth(2)).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#also-bought")).to_be_hidden()  # no recommendations served here


def test_the_product_page_adds_to_a_cart_and_shows_customers_also_bought(shop, page):
    from playwright.sync_api import expect

    given_products_with_images(2)
    with Session.begin() as session:
        also = factories.product(session, "ALSO-1", price_cents=450, stock={"main": 3})
        session.get(Product, "ALSO-1").name = "Also bought"
        assert also is not None
    listed = page.context.request.get(f"{shop.url}/api/products?q=P-01").json()["items"]
    recommended = {"items": listed}
    page.route(
        "**/api/products/P-00/recommendations*",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps(recommended)
        ),
    )

    page.goto(f"{shop.url}/products/P-00")
    slot = page.locator("#also-bought")
    expect(slot).to_be_visible()
    expect(slot.locator(".product")).to_have_count(1)
    expect(slot.locator(".product h3")).to_have_text("Product 01")
    expect(slot.locator(".product img")).to_have_attribute("loading", "lazy")

    page.get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add to cart").click()
    expect(page.locator("#flash")).to_contain_text("Added 2 \u00d7 Product 00")
    assert "?cart=" in page.url
    cart_id = page.url.split("cart=")[1]
    cart = page.context.request.get(f"{shop.url}/api/carts/{cart_id}").json()
    assert [(item["sku"], item["quantity"]) for item in cart["items"]] == [("P-00", 2)]
    # The header's cart link leads to it, and a recommended product's link carries it on.
    expect(page.locator("#cart-link")).to_have_attribute("href", f"/cart/{cart_id}")
    slot.get_by_role("link", name="Product 01").click()
    expect(page.locator("h1")).to_have_text("Product 01")
    assert page.url == f"{shop.url}/products/P-01?cart={cart_id}"


def test_an_error_answer_leaves_the_also_bought_slot_hidden(shop, page):
    from playwright.sync_api import expect

    given_products_with_images(1)
    page.route(
        "**/api/products/P-00/recommendations*",
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body='{"error": "unavailable", "message": "later"}',
        ),
    )
    page.goto(f"{shop.url}/products/P-00")
    expect(page.locator("#stock")).to_have_text("5 in stock")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#also-bought")).to_be_hidden()
    expect(page.locator("#error")).to_be_hidden()


def test_an_image_uploaded_in_the_admin_reaches_the_storefront_with_its_srcset(
    shop, page, worker, drain_queues, tmp_path
):
    from playwright.sync_api import expect

    from tests.web.admin_helpers import make_user
    from tests.web.browser import log_in

    make_user("ops@example.com", "operator")
    with Session.begin() as session:
        factories.product(session, "TEE", price_cents=2500, stock={"main": 7})
        session.get(Product, "TEE").name = "Green tee"
    upload = tmp_path / "tee.jpg"
    upload.write_bytes(photo((1400, 1050), color=(60, 160, 80)))

    log_in(page, shop.url, "ops@example.com")
    page.goto(f"{shop.url}/admin/products/TEE")
    page.set_input_files("#image-upload input[type=file]", str(upload))
    page.fill("#image-upload input[name=alt]", "A green tee, folded")
    page.click("#image-upload button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("1 image(s) uploaded")

    drain_queues(timeout=120)  # the media job, on the worker
    page.reload()
    expect(page.locator(".image-row .status")).to_have_text("ready")

    page.goto(f"{shop.url}/products/TEE")
    main = page.locator("#main-image img")
    expect(main).to_have_js_property("complete", True)
    expect(main).to_have_attribute("alt", "A green tee, folded")
    expect(main).to_have_attribute("width", "1400")
    avif = page.locator("#main-image source[type='image/avif']").get_attribute("srcset")
    assert [entry.split()[1] for entry in avif.split(", ")] == ["320w", "640w", "960w", "1280w"]
    assert main.evaluate("img => img.currentSrc").endswith(".avif")

    page.goto(f"{shop.url}/")
    card = page.locator(".product", has_text="Green tee")
    webp = card.locator("source[type='image/webp']").get_attribute("srcset")
    assert webp.count("w, ") == 3 and webp.endswith("1280w")
    expect(card.locator("img")).to_have_js_property("complete", True)
    assert card.locator("img").evaluate("img => img.naturalWidth") > 0
