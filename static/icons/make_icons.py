"""Draw the app icons (PNG) with Pillow from the same geometry as logo.svg.

Run from the repo root: .venv/bin/python static/icons/make_icons.py
The mark: an indigo rounded square with a white "C" arc (open to the right) and a dot.
"""

import math
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
BRAND = (0x4F, 0x46, 0xE5, 255)
WHITE = (255, 255, 255, 255)
SS = 8  # supersampling factor for smooth edges


def draw_mark(draw: ImageDraw.ImageDraw, cx: float, cy: float, unit: float) -> None:
    """The white mark, in the 64-unit design grid of logo.svg, centred on (cx, cy)."""
    r, w = 15 * unit, 7 * unit  # arc radius (centre line) and stroke width
    # The arc runs from -50 deg (upper right) the long way round to +50 deg (lower right),
    # drawn as a polygon (outer edge out, inner edge back) plus round caps.
    steps = [50 + (310 - 50) * i / 180 for i in range(181)]
    outer = [(cx + (r + w / 2) * math.cos(math.radians(a)), cy + (r + w / 2) * math.sin(math.radians(a))) for a in steps]
    inner = [(cx + (r - w / 2) * math.cos(math.radians(a)), cy + (r - w / 2) * math.sin(math.radians(a))) for a in reversed(steps)]
    draw.polygon(outer + inner, fill=WHITE)
    for deg in (50, -50):  # round caps
        x = cx + r * math.cos(math.radians(deg))
        y = cy + r * math.sin(math.radians(deg))
        draw.ellipse((x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=WHITE)
    d = 4.5 * unit
    dx = cx + 13 * unit
    draw.ellipse((dx - d, cy - d, dx + d, cy + d), fill=WHITE)


def render(size: int, *, full_bleed: bool, mark_scale: float, radius: float = 15 / 64) -> Image.Image:
    big = size * SS
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    if full_bleed:
        draw.rectangle((0, 0, big, big), fill=BRAND)
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * radius, fill=BRAND)
    unit = big / 64 * mark_scale
    draw_mark(draw, big / 2, big / 2, unit)
    return img.resize((size, size), Image.LANCZOS)


def main() -> None:
    render(192, full_bleed=False, mark_scale=1).save(HERE / "icon-192.png", optimize=True)
    render(512, full_bleed=False, mark_scale=1).save(HERE / "icon-512.png", optimize=True)
    # Maskable: full-bleed background, the mark well inside the 80% safe-zone circle.
    render(512, full_bleed=True, mark_scale=0.72).save(HERE / "icon-maskable-512.png", optimize=True)
    # iOS fills transparency with black and rounds corners itself: opaque, full bleed.
    render(180, full_bleed=True, mark_scale=0.9).convert("RGB").save(
        HERE / "apple-touch-icon.png", optimize=True
    )
    render(32, full_bleed=False, mark_scale=1.1, radius=7 / 32).save(HERE / "favicon-32.png", optimize=True)


if __name__ == "__main__":
    main()
