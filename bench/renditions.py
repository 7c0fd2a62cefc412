"""Rendition throughput: images per CPU-second for the pipeline against a bare Pillow resize.

Makes ``--images`` photo-like JPEGs (``--width`` x 2/3 of it, noise over gradients, so the
encoders have real work) in memory, then, in this one process and run:

- ``baseline``: what a bare Pillow resize does with each: decode, resize to every width
  the pipeline makes (LANCZOS from the full image), encode each as JPEG.
- ``pipeline``: ``media.renditions.render`` (DCT-scaled decode, orientation, sRGB, the
  same widths in AVIF, WebP and JPEG, the BlurHash placeholder), each file written to a
  temporary ``LocalStorage`` as the job does.

CPU seconds are this process's user + system time from /proc (every encoder thread
counts), so "images per CPU-second" is the rate one core sustains. Prints one JSON
document; ``ratio`` is pipeline over baseline per CPU-second (the cost of three formats
and the placeholder against one JPEG per width).

Run: ``.venv/bin/python bench/renditions.py [--images 8] [--width 3000]``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw  # noqa: E402

from bench.harness import cpu_seconds, peak_rss_kb  # noqa: E402
from media.renditions import render, widths_for  # noqa: E402
from media.storage import LocalStorage, rendition_key  # noqa: E402


def photos(count: int, width: int) -> list[bytes]:
    height = width * 2 // 3
    made = []
    for seed in range(count):
        rng = random.Random(seed)
        image = Image.radial_gradient("L").resize((width, height)).convert("RGB")
        draw = ImageDraw.Draw(image)
        for _ in range(60):
            x, y = rng.randrange(width), rng.randrange(height)
            radius = rng.randrange(20, width // 6)
            fill = tuple(rng.randrange(256) for _ in range(3))
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=fill)
        noise = Image.effect_noise((width, height), 40).convert("RGB")
        image = Image.blend(image, noise, 0.15)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        made.append(buffer.getvalue())
    return made


def bare_resize(original: bytes) -> None:
    with Image.open(io.BytesIO(original)) as image:
        image.load()
        for width in widths_for(image.width):
            height = round(image.height * width / image.width)
            buffer = io.BytesIO()
            image.resize((width, height), Image.Resampling.LANCZOS).save(buffer, "JPEG")


def pipeline(store: LocalStorage) -> Callable[[bytes], None]:
    def run(original: bytes) -> None:
        for rendition in render(original).renditions:
            store.put(rendition_key(f"bench/{rendition.name}"), rendition.data)

    return run


def timed(work: Callable[[bytes], None], originals: list[bytes]) -> dict:
    cpu, wall = cpu_seconds([os.getpid()]), time.perf_counter()
    for original in originals:
        work(original)
    cpu, wall = cpu_seconds([os.getpid()]) - cpu, time.perf_counter() - wall
    return {
        "images": len(originals),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "images_per_cpu_s": round(len(originals) / cpu, 3) if cpu else None,
        "images_per_wall_s": round(len(originals) / wall, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--width", type=int, default=3000)
    args = parser.parse_args()

    originals = photos(args.images, args.width)
    with tempfile.TemporaryDirectory() as root:
        bare_resize(originals[0])  # warm both paths (codec set-up, imports)
        pipeline(LocalStorage(root))(originals[0])
        baseline = timed(bare_resize, originals)
        measured = timed(pipeline(LocalStorage(root)), originals)
    ratio = None
    if baseline["images_per_cpu_s"] and measured["images_per_cpu_s"]:
        ratio = round(measured["images_per_cpu_s"] / baseline["images_per_cpu_s"], 3)
    print(
        json.dumps(
            {
                "original": f"{args.width}x{args.width * 2 // 3} JPEG",
                "renditions_per_image": len(widths_for(args.width)) * 3,
                "cores": os.cpu_count(),
                "baseline_bare_pillow_resize_jpeg": baseline,
                "pipeline_avif_webp_jpeg_placeholder": measured,
                "ratio_pipeline_over_baseline_per_cpu_s": ratio,
                "peak_rss_mib": round(peak_rss_kb() / 1024, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
