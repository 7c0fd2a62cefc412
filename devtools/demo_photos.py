"""Photos of the demo catalogue: large, detailed studio shots drawn here, never downloaded.

Each is made from its sku alone (a seeded ``random.Random``), so every run draws the same
pixels: a backdrop gradient, the product's silhouette shaded by a radial light, a soft
floor shadow, a fabric or glaze weave and a film grain. At 3600 x 2700 and JPEG quality
90 the grain and weave keep each file between 2 and 6 MB, like a camera's original, so
the image pipeline has real work to do. Cached under ``var/demo-photos/``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import requests
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps

WIDTH, HEIGHT = 3600, 2700
QUALITY = 90
CACHE = Path("var") / "demo-photos"

Color = tuple[int, int, int]
Shape = Callable[[ImageDraw.ImageDraw, random.Random], None]


def _tee(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    cx, top = WIDTH // 2, 520
    body = [
        (cx - 520, top),
        (cx - 180, top - 60),
        (cx, top + 60),
        (cx + 180, top - 60),
        (cx + 520, top),
        (cx + 900, top + 420),
        (cx + 640, top + 640),
        (cx + 520, top + 520),
        (cx + 540, top + 1700),
        (cx - 540, top + 1700),
        (cx - 520, top + 520),
        (cx - 640, top + 640),
        (cx - 900, top + 420),
    ]
    draw.polygon(body, fill=255)


def _hoodie(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    _tee(draw, rng)
    cx = WIDTH // 2
    draw.ellipse((cx - 330, 220, cx + 330, 760), fill=255)
    draw.rectangle((cx - 420, 1700, cx + 420, 2150), fill=255)


def _mug(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    cx = WIDTH // 2 - 200
    draw.rounded_rectangle((cx - 650, 600, cx + 650, 2200), radius=120, fill=255)
    draw.ellipse((cx + 450, 950, cx + 1150, 1850), fill=255)
    draw.ellipse((cx + 640, 1150, cx + 960, 1650), fill=0)


def _cap(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    cx = WIDTH // 2
    draw.pieslice((cx - 900, 700, cx + 900, 2500), 180, 360, fill=255)
    draw.ellipse((cx - 200, 1450, cx + 1400, 1900), fill=255)


def _socks(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    for offset in (-700, 0, 700):
        x = WIDTH // 2 + offset
        draw.rounded_rectangle((x - 200, 400, x + 200, 1700), radius=80, fill=255)
        draw.rounded_rectangle((x - 200, 1450, x + 420, 1900), radius=200, fill=255)


def _tote(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    cx = WIDTH // 2
    draw.rectangle((cx - 800, 900, cx + 800, 2400), fill=255)
    for x in (cx - 450, cx + 450):
        draw.arc((x - 260, 300, x + 260, 1300), 180, 360, fill=255, width=90)


def _stickers(draw: ImageDraw.ImageDraw, rng: random.Random) -> None:
    for _ in range(9):
        x, y = rng.randrange(700, WIDTH - 700), rng.randrange(600, HEIGHT - 600)
        r = rng.randrange(220, 420)
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
        else:
            draw.rounded_rectangle((x - r, y - r, x + r, y + r), radius=r // 4, fill=255)


# The silhouette and the product's colour, by the sku's first word.
SHAPES: dict[str, tuple[Shape, Color]] = {
    "TEE-BLK": (_tee, (38, 38, 44)),
    "TEE-WHT": (_tee, (236, 234, 228)),
    "HOODIE": (_hoodie, (128, 131, 138)),
    "MUG": (_mug, (32, 92, 170)),
    "CAP": (_cap, (28, 40, 78)),
    "SOCKS": (_socks, (196, 72, 58)),
    "TOTE": (_tote, (214, 196, 160)),
    "STICKER": (_stickers, (240, 170, 40)),
}


# The alt text of each kind of product's photo.
ALT = {
    "TEE": "A folded cotton tee on a studio backdrop",
    "HOODIE": "A grey hoodie laid flat on a studio backdrop",
    "MUG": "A blue ceramic mug on a studio backdrop",
    "CAP": "A navy cap on a studio backdrop",
    "SOCKS": "Three pairs of socks side by side",
    "TOTE": "A canvas tote bag on a studio backdrop",
    "STICKER": "A scattered set of stickers",
}


def _shape_of(sku: str) -> tuple[Shape, Color]:
    for prefix, shape in SHAPES.items():
        if sku.startswith(prefix):
            return shape
    return _stickers, (90, 140, 90)


def _grain(rng: random.Random, sigma: float) -> Image.Image:
    """Seeded noise around mid-grey, softened to a photographic grain."""
    noise = Image.frombytes("L", (WIDTH, HEIGHT), rng.randbytes(WIDTH * HEIGHT))
    noise = noise.filter(ImageFilter.GaussianBlur(sigma))
    return ImageOps.autocontrast(noise)


def draw(sku: str) -> Image.Image:
    """The photo of ``sku``: the same pixels on every run."""
    rng = random.Random(sku)
    shape, color = _shape_of(sku)
    light = tuple(rng.randrange(205, 250) for _ in range(3))
    dark = tuple(max(0, c - rng.randrange(60, 100)) for c in light)
    backdrop = ImageOps.colorize(
        Image.linear_gradient("L").resize((WIDTH, HEIGHT)), light, dark
    ).convert("RGB")

    mask = Image.new("L", (WIDTH, HEIGHT), 0)
    shape(ImageDraw.Draw(mask), rng)
    mask = mask.filter(ImageFilter.GaussianBlur(6))

    shadow = Image.new("L", (WIDTH, HEIGHT), 0)
    ImageDraw.Draw(shadow).ellipse((700, 2250, WIDTH - 700, 2600), fill=120)
    shadow = shadow.filter(ImageFilter.GaussianBlur(90))
    backdrop = Image.composite(Image.new("RGB", backdrop.size, (20, 20, 20)), backdrop, shadow)

    # The light falls from the upper left: a radial falloff shades the product.
    falloff = Image.radial_gradient("L").resize((WIDTH * 2, HEIGHT * 2))
    falloff = falloff.crop((WIDTH // 2, HEIGHT // 2, WIDTH // 2 + WIDTH, HEIGHT // 2 + HEIGHT))
    product = ImageOps.colorize(falloff, _scaled(color, 1.25), _scaled(color, 0.55))

    weave = Image.new("L", (WIDTH, HEIGHT), 128)
    weave_draw = ImageDraw.Draw(weave)
    pitch = rng.randrange(7, 11)
    for x in range(0, WIDTH, pitch):
        weave_draw.line((x, 0, x, HEIGHT), fill=rng.randrange(100, 156))
    for y in range(0, HEIGHT, pitch):
        weave_draw.line((0, y, WIDTH, y), fill=rng.randrange(100, 156))
    product = ImageChops.overlay(product, weave.convert("RGB"))

    photo = Image.composite(product.convert("RGB"), backdrop, mask)
    grain = _grain(rng, 0.7).convert("RGB")
    return Image.blend(photo, ImageChops.overlay(photo, grain), 0.45)


def _scaled(color: Color, factor: float) -> Color:
    return tuple(min(255, int(c * factor)) for c in color)


def photo(sku: str, cache: Path = CACHE) -> Path:
    """The cached JPEG of ``sku``'s photo, drawn on the first call."""
    path = cache / f"{sku}.jpg"
    if not path.exists():
        cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        draw(sku).save(partial, "JPEG", quality=QUALITY, optimize=True)
        partial.replace(path)
    return path


def _catalogue(base_url: str, headers: dict[str, str]) -> list[str]:
    """Every sku of the catalogue (``GET /admin/api/products``, page by page)."""
    skus, cursor = [], None
    while True:
        params = {"cursor": cursor} if cursor else {}
        page = requests.get(
            f"{base_url}/admin/api/products", headers=headers, params=params, timeout=30
        )
        page.raise_for_status()
        skus += [item["sku"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return skus


def upload_when_ready(base_url: str, admin_token: str, wait_s: float = 120) -> None:
    """Once the web answers, the photos of the demo products that have none (``make run``
    calls this in a thread beside the fleet; a failure is printed, never fatal)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            requests.get(f"{base_url}/healthz", timeout=2).raise_for_status()
            break
        except requests.RequestException:
            if time.monotonic() > deadline:
                print("demo photos: the web did not answer; none uploaded", flush=True)
                return
            time.sleep(1)
    headers = {"Authorization": f"Bearer {admin_token}"}
    try:
        demo = [sku for sku in _catalogue(base_url, headers) if sku.startswith(tuple(SHAPES))]
        uploaded = upload_missing(base_url, admin_token, demo)
    except (requests.RequestException, OSError) as error:
        print(f"demo photos: not uploaded ({error})", flush=True)
        return
    if uploaded:
        print(f"demo photos: uploaded {len(uploaded)}; the worker renders them", flush=True)


def upload_missing(base_url: str, admin_token: str, skus: list[str]) -> list[str]:
    """Upload the photo of each of ``skus`` that has no image yet, as the admin's upload
    does (``POST /admin/api/products/{sku}/images``): the web stores the original and
    the worker's ``media`` job makes the renditions. Returns the skus uploaded."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    uploaded = []
    for sku in skus:
        images = f"{base_url}/admin/api/products/{sku}/images"
        listed = requests.get(images, headers=headers, timeout=30)
        if listed.status_code != 200 or listed.json()["items"]:
            continue  # not in the catalogue, or its photos are there already
        with photo(sku).open("rb") as handle:
            answer = requests.post(
                images,
                headers=headers,
                files={"file": (f"{sku}.jpg", handle, "image/jpeg")},
                data={"alt": ALT.get(sku.split("-")[0], "Product photo")},
                timeout=120,
            )
        answer.raise_for_status()
        uploaded.append(sku)
    return uploaded
