"""Drawing results onto images: face boxes, labels that cover no face, emoji, probability bars.

:func:`annotate` draws what :func:`emolib.predict.predict_image` finds (this module
does not import :mod:`emolib.predict`, which re-exports these names).

Example
-------
>>> from emolib.predict import predict_image
>>> from emolib.images import load_image, sample_paths
>>> rgb = load_image(sample_paths()[1])
>>> annotate(rgb, predict_image(rgb), emoji=True).shape     # doctest: +SKIP
(600, 512, 3)
>>> emoji_image("surprise").mode
'RGBA'
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .data import CLASS_COLORS, CLASS_NAMES
from .faces import Box, face_square
from .images import ImageSource, _is_rgb, load_photo, scale_results

EMOJI_DIR = Path(__file__).resolve().parent / "assets" / "emoji"



class Labelled(Protocol):
    """What :func:`annotate` reads of a face: an :class:`emolib.predict.FaceResult` (named
    here by its fields, as this module sits below emolib.predict and does not import it)."""

    box: Box
    label: str
    score: float
    probabilities: dict[str, float]
    face_id: int | None


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            pass
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=len(CLASS_NAMES))
def emoji_image(label: str) -> Image.Image:
    """The RGBA emoji (256x256) shipped for a class, drawn by ``tools/make_emoji.py``.

    >>> emoji_image("happy").size
    (256, 256)
    """
    if label not in CLASS_NAMES:
        raise ValueError(f"unknown class {label!r}; choose one of {list(CLASS_NAMES)}")
    return Image.open(EMOJI_DIR / f"{label}.png").convert("RGBA")


@lru_cache(maxsize=256)
def _emoji_at(label: str, side: int) -> Image.Image:
    """The emoji for a class, resized to ``side`` pixels (kept: a video draws the same sizes again)."""
    return emoji_image(label).resize((max(1, side), max(1, side)), Image.LANCZOS)


#: Up to this many faces, :func:`annotate` draws each face's probability panel.
PANEL_MAX_FACES = 3

Rect = tuple[int, int, int, int]   # x0, y0, x1, y1


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_label(size: tuple[int, int], box: Box, obstacles: list[Rect], W: int, H: int,
                gap: int = 2, beside_first: bool = False) -> Rect | None:
    """Where a ``size`` = (w, h) label for the face in ``box`` fits inside the W x H image
    without covering any rectangle in ``obstacles`` (the faces, the labels already placed):
    above the face, below it, then beside it (``beside_first``: beside, then below,
    then above); the first that fits, or None.

    >>> place_label((40, 12), (50, 50, 30, 30), [], 200, 200)          # above the face
    (50, 36, 90, 48)
    >>> place_label((40, 12), (50, 50, 30, 30), [(40, 20, 100, 49)], 200, 200)   # below it
    (50, 82, 90, 94)
    """
    w, h = size
    x, y, bw, bh = box
    above = [(x, y - h - gap), (x + bw - w, y - h - gap)]
    below = [(x, y + bh + gap), (x + bw - w, y + bh + gap)]
    beside = [(x + bw + gap, y), (x - w - gap, y), (x + bw + gap, y + bh - h), (x - w - gap, y + bh - h)]
    cands = beside + below + above if beside_first else above + below + beside
    for cx, cy in cands:
        cx = min(max(0, cx), W - w)
        cy = min(max(0, cy), H - h)
        r = (cx, cy, cx + w, cy + h)
        if cx >= 0 and cy >= 0 and not any(_overlaps(r, o) for o in obstacles):
            return r
    return None


def annotate(image: ImageSource, results: list[Labelled], emoji: bool = False,
             bars: bool | None = None) -> np.ndarray:
    """Draw each face's box and a compact label (emoji and word) onto a copy of ``image``.

    Labels never cover another face: each goes above, below or beside its own
    face where it hits no face and no other label (inside its own box as a last
    resort). ``bars``: each face's probability panel, placed the same way (left
    out where it would cover a face); by default (None) only when there are at
    most PANEL_MAX_FACES faces. With ``emoji=True`` the matching emoji is pasted
    over each face instead of the box. A tracked face's label starts with its
    number (``#2 happy 80%``). An RGB uint8 array is drawn on as is; a file,
    bytes or :class:`emolib.images.Photo` is drawn at its working copy's size (longer side at
    most MAX_SIDE), with ``results`` taken to be in the input's own pixels, as
    :func:`emolib.predict.predict_image` gives them. Returns an RGB uint8 array.

    >>> out = annotate(np.zeros((100, 120, 3), np.uint8), [])
    >>> out.shape, out.dtype
    ((100, 120, 3), dtype('uint8'))
    """
    if _is_rgb(image):
        rgb = image
    else:
        photo = load_photo(image)
        rgb = photo.rgb
        results = scale_results(results, photo.size, (rgb.shape[1], rgb.shape[0]))
    canvas = Image.fromarray(np.ascontiguousarray(rgb))
    draw = ImageDraw.Draw(canvas)
    H, W = rgb.shape[:2]
    bars = len(results) <= PANEL_MAX_FACES if bars is None else bars
    lw = max(2, round(min(W, H) / 300))
    faces: list[Rect] = [(r.box[0], r.box[1], r.box[0] + r.box[2], r.box[1] + r.box[3]) for r in results]
    taken: list[Rect] = []
    for i, r in enumerate(results):
        x, y, w, h = r.box
        color = CLASS_COLORS.get(r.label, (255, 255, 255))
        if emoji:
            sx, sy, side, _ = face_square(r.box, scale=1.15, shift_y=0.0)
            em = _emoji_at(r.label, side)
            canvas.paste(em, (sx, sy), em)
        else:
            draw.rectangle([x, y, x + w, y + h], outline=color, width=lw)
        others = faces + taken     # its own face too: a label beside it, not on it
        # the label: [emoji] word NN%, as large as fits (from a sixth of the face down to 9 px)
        for fs in sorted({max(9, min(28, round(w / 6))), max(9, min(28, round(w / 6)) * 3 // 4), 9}, reverse=True):
            font = _font(fs)
            text = f"{'' if r.face_id is None else f'#{r.face_id} '}{r.label} {100 * r.score:.0f}%"
            tb = draw.textbbox((0, 0), text, font=font)
            th = tb[3] - tb[1]
            icon = 0 if emoji else th + 4
            size = (icon + tb[2] - tb[0] + 8, th + 8)
            spot = place_label(size, r.box, others, W, H)
            if spot:
                break
        if spot is None:   # nowhere outside: over the bottom of its own face
            spot = (x, y + h - size[1], x + size[0], y + h)
        taken.append(spot)
        draw.rectangle(spot, fill=color)
        if icon:
            em = _emoji_at(r.label, th + 2)
            canvas.paste(em, (spot[0] + 3, spot[1] + 3), em)
        draw.text((spot[0] + 4 + icon, spot[1] + 4 - tb[1]), text, fill=(0, 0, 0), font=font)
        if bars:
            _draw_bars(draw, r, W, H, faces + taken, taken)
    return np.asarray(canvas)


def _draw_bars(draw: ImageDraw.ImageDraw, r: Labelled, W: int, H: int,
               obstacles: list[Rect], taken: list[Rect]) -> None:
    """Seven small horizontal probability bars beside (or below) the face, where they cover no other face."""
    x, y, w, h = r.box
    fs = max(9, min(18, round(h / 12)))
    font = _font(fs)
    row = fs + 3
    label_w = draw.textlength("surprise ", font=font)
    bar_w = max(30, min(120, w // 2))
    total_w = round(label_w + bar_w + 4)
    spot = place_label((total_w + 4, 7 * row + 4), (x, y, w, h), obstacles, W, H, gap=6, beside_first=True)
    if spot is None:
        return
    taken.append(spot)
    draw.rectangle(spot, fill=(0, 0, 0))
    bx, by = spot[0] + 2, spot[1] + 2
    for i, c in enumerate(CLASS_NAMES):
        yy = by + i * row
        draw.text((bx, yy), c, fill=(255, 255, 255), font=font)
        p = r.probabilities.get(c, 0.0)
        draw.rectangle([bx + label_w, yy + 2, bx + label_w + bar_w, yy + row - 2], outline=(90, 90, 90))
        draw.rectangle([bx + label_w, yy + 2, bx + label_w + round(bar_w * p), yy + row - 2],
                       fill=CLASS_COLORS[c])
