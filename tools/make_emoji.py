"""Draw the seven emotion emoji shipped in emolib/assets/emoji/ (our own drawings, MIT).

Usage::

    python tools/make_emoji.py          # rewrites emolib/assets/emoji/<class>.png, 256x256 RGBA
"""
from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

from emolib.data import CLASS_NAMES

OUT = Path(__file__).resolve().parent.parent / "emolib" / "assets" / "emoji"
S = 1024          # drawn 4x larger, then downsampled for smooth edges
INK = (60, 40, 20, 255)
FACE = {"angry": (240, 90, 50), "disgust": (150, 200, 80), "fear": (170, 200, 240)}


def _eye(d: ImageDraw.ImageDraw, cx: float, cy: float, r: float, white: bool = False) -> None:
    if white:
        d.ellipse([cx - r * 1.6, cy - r * 1.6, cx + r * 1.6, cy + r * 1.6], fill=(255, 255, 255, 255), outline=INK, width=18)
        d.ellipse([cx - r * 0.7, cy - r * 0.7, cx + r * 0.7, cy + r * 0.7], fill=INK)
    else:
        d.ellipse([cx - r * 0.8, cy - r, cx + r * 0.8, cy + r], fill=INK)


def draw(label: str) -> Image.Image:
    im = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    face = FACE.get(label, (255, 204, 51))
    d.ellipse([32, 32, S - 32, S - 32], fill=face + (255,), outline=INK, width=28)
    L, R, EY, W = 0.35 * S, 0.65 * S, 0.40 * S, 40
    if label == "happy":
        for cx in (L, R):      # smiling eyes: upward arcs
            d.arc([cx - 70, EY - 50, cx + 70, EY + 70], 200, 340, fill=INK, width=W)
        d.chord([0.25 * S, 0.45 * S, 0.75 * S, 0.80 * S], 0, 180, fill=(120, 30, 30, 255), outline=INK, width=W)
    elif label == "sad":
        for cx in (L, R):
            _eye(d, cx, EY + 20, 45)
        d.arc([0.32 * S, 0.64 * S, 0.68 * S, 0.90 * S], 200, 340, fill=INK, width=W)
        d.ellipse([R + 10, EY + 90, R + 80, EY + 200], fill=(80, 160, 255, 255))   # a tear
        d.polygon([(R + 45, EY + 50), (R + 14, EY + 130), (R + 76, EY + 130)], fill=(80, 160, 255, 255))
    elif label == "angry":
        for cx, sgn in ((L, 1), (R, -1)):
            _eye(d, cx, EY + 40, 42)
            d.line([(cx - 110 * sgn, EY - 80), (cx + 80 * sgn, EY - 10)], fill=INK, width=W + 10)
        d.arc([0.33 * S, 0.66 * S, 0.67 * S, 0.92 * S], 200, 340, fill=INK, width=W + 10)
    elif label == "surprise":
        for cx in (L, R):
            _eye(d, cx, EY, 50, white=True)
            d.arc([cx - 90, EY - 190, cx + 90, EY - 60], 210, 330, fill=INK, width=W - 10)
        d.ellipse([0.42 * S, 0.62 * S, 0.58 * S, 0.84 * S], fill=(120, 30, 30, 255), outline=INK, width=W)
    elif label == "fear":
        for cx, sgn in ((L, 1), (R, -1)):
            _eye(d, cx, EY + 10, 45, white=True)
            d.line([(cx - 90 * sgn, EY - 90), (cx + 70 * sgn, EY - 140)], fill=INK, width=W - 8)
        d.rounded_rectangle([0.30 * S, 0.66 * S, 0.70 * S, 0.80 * S], radius=50,
                            fill=(255, 255, 255, 255), outline=INK, width=W - 10)
        d.line([(0.30 * S, 0.73 * S), (0.70 * S, 0.73 * S)], fill=INK, width=14)
    elif label == "disgust":
        for cx in (L, R):      # squinting eyes: flat lines
            d.line([(cx - 70, EY + 20), (cx + 70, EY + 5 if cx == L else EY + 35)], fill=INK, width=W)
        pts = [(0.30 * S + i * 0.08 * S, 0.74 * S + (30 if i % 2 else -30)) for i in range(6)]
        d.line(pts, fill=INK, width=W, joint="curve")
    else:  # neutral
        for cx in (L, R):
            _eye(d, cx, EY + 10, 45)
        d.line([(0.33 * S, 0.72 * S), (0.67 * S, 0.72 * S)], fill=INK, width=W)
    return im.resize((256, 256), Image.LANCZOS)


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    for c in CLASS_NAMES:
        draw(c).save(OUT / f"{c}.png", optimize=True)
    (OUT / "LICENSE.txt").write_text(
        "The emoji in this folder are original drawings made with Pillow by tools/make_emoji.py\n"
        "in this repository; they are covered by the project's MIT licence.\n")
    print(f"wrote {len(CLASS_NAMES)} emoji to {OUT}")


if __name__ == "__main__":
    main()
