"""Recall and false faces by face size on group photos composed from public-domain portraits.

The evaluation set is generated deterministically (``--seed``): the portraits
shipped in ``emolib/assets/samples`` (public domain, see CREDITS.md) are cut out
around the face and composed into group layouts of 1 to 40 faces at various
sizes, positions, mirrorings, brightness and contrast, over backgrounds cut from
scikit-learn's sample photos ``china.jpg`` and ``flower.jpg`` (CC BY 2.0,
danielbuechele and vultilion on Flickr, see sklearn/datasets/images/README.txt;
read from the installed package, never copied into this repository; no face
in them). Those two photos alone, whole and at several scales, are the
negatives (every face found there is false). The true box of a placed
face is the detector's box on the whole portrait, moved and scaled with it.

A detection counts as a found face when it overlaps a true box with
intersection over union >= 0.4; a detection that matches no true face is a
false face. Face size = the true box's side in pixels of the photo.

Usage::

    nice -n 10 python benchmarks/benchmark_group.py [--single-pass] [--photos 40] [--seed 0]
    python benchmarks/benchmark_group.py --write-sample emolib/assets/samples/group_of_12.jpg
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

BINS = [(20, 30), (30, 40), (40, 60), (60, 90), (90, 140), (140, 250), (250, 10_000)]
SIZES = [(1200, 900), (1320, 1100), (1600, 1200), (2048, 1536), (1024, 768), (640, 480)]
COUNTS = [1, 3, 6, 12, 20, 30, 40]


def portraits() -> list[tuple[np.ndarray, tuple[float, float, float, float]]]:
    """Each shipped portrait cut to 2.4 face boxes around its face, with the face box in it."""
    from emolib.faces import detect
    from emolib.images import load_image, sample_paths

    out = []
    for p in sample_paths():
        rgb = load_image(p)
        (d,) = detect(rgb, min_face=None)
        x, y, w, h = d.box
        side = 2.4 * max(w, h)
        cx, cy = x + w / 2, y + h / 2 + 0.25 * h
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        x1, y1 = int(min(rgb.shape[1], cx + side / 2)), int(min(rgb.shape[0], cy + side / 2))
        out.append((rgb[y0:y1, x0:x1].copy(), (x - x0, y - y0, w, h)))
    return out


def backgrounds() -> list[np.ndarray]:
    from sklearn.datasets import load_sample_image

    return [load_sample_image(n) for n in ("china.jpg", "flower.jpg")]


def _photometric(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    gain, gamma = rng.uniform(0.55, 1.35), rng.uniform(0.75, 1.35)
    out = 255.0 * (img / 255.0) ** gamma * gain
    return np.clip(out, 0, 255).astype(np.uint8)


def group_photo(rng: np.random.Generator, size: tuple[int, int], n: int, people, bgs,
                min_face: int = 24) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """A W x H photo of ``n`` portraits in a jittered grid over a background; the true face boxes."""
    W, H = size
    bg = bgs[rng.integers(len(bgs))]
    canvas = cv2.resize(bg, (W, H), interpolation=cv2.INTER_LINEAR)
    canvas = _photometric(canvas, rng)
    cols = max(1, int(np.ceil(np.sqrt(n * W / H))))
    rows = int(np.ceil(n / cols))
    cw, ch = W / cols, H / rows
    cells = rng.permutation(cols * rows)[:n]
    boxes = []
    for c in cells:
        r, k = divmod(int(c), cols)
        crop, (fx, fy, fw, fh) = people[rng.integers(len(people))]
        max_face = min(cw / (crop.shape[1] / fw), ch / (crop.shape[0] / fh), 400)
        lo = min(min_face, max_face)
        face = float(np.exp(rng.uniform(np.log(lo), np.log(max_face))))
        s = face / fw
        pw, ph = max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s))
        img = cv2.resize(crop, (pw, ph), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        bx, by = fx * s, fy * s
        if rng.random() < 0.5:
            img = np.ascontiguousarray(img[:, ::-1])
            bx = pw - bx - fw * s
        img = _photometric(img, rng)
        x0 = int(k * cw + rng.uniform(0, max(0, cw - pw)))
        y0 = int(r * ch + rng.uniform(0, max(0, ch - ph)))
        pw, ph = min(pw, W - x0), min(ph, H - y0)
        canvas[y0:y0 + ph, x0:x0 + pw] = img[:ph, :pw]
        boxes.append((x0 + bx, y0 + by, fw * s, fh * s))
    return canvas, boxes


def negatives(bgs) -> list[np.ndarray]:
    """The face-free photos whole, enlarged and as crops: every face found is false."""
    out = []
    for bg in bgs:
        out.append(bg)
        out.append(cv2.resize(bg, (2048, 1434), interpolation=cv2.INTER_LINEAR))
        out.append(np.ascontiguousarray(bg[100:400, 150:550]))
        out.append(np.ascontiguousarray(bg[::-1, ::-1]))
    return out


def evaluation_set(photos: int = 40, seed: int = 0):
    """[(name, rgb, true boxes)]: group photos then negatives."""
    rng = np.random.default_rng(seed)
    people, bgs = portraits(), backgrounds()
    out = []
    for i in range(photos):
        size = SIZES[i % len(SIZES)]
        n = COUNTS[i % len(COUNTS)]
        img, boxes = group_photo(rng, size, n, people, bgs)
        out.append((f"group{i:02d}_{size[0]}x{size[1]}_{n}", img, boxes))
    for j, img in enumerate(negatives(bgs)):
        out.append((f"negative{j}", img, []))
    return out


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter + 1e-9)


def match(found: list, truth: list, min_iou: float = 0.4) -> tuple[list[bool], int]:
    """Which true boxes were found (greedy by IoU), and how many detections match none."""
    pairs = sorted(((_iou(f, t), i, j) for i, f in enumerate(found) for j, t in enumerate(truth)), reverse=True)
    used_f, hit = set(), [False] * len(truth)
    for v, i, j in pairs:
        if v < min_iou:
            break
        if i not in used_f and not hit[j]:
            used_f.add(i)
            hit[j] = True
    return hit, len(found) - len(used_f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=42, help="group photos (default 42; plus 8 negatives)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--single-pass", action="store_true", help="the detector's single pass (before tiling)")
    ap.add_argument("--min-face", type=int, default=None, help="smallest face looked for (default: emolib's)")
    ap.add_argument("--write-sample", default=None, metavar="PATH",
                    help="write the small committed test photo (12 faces, 960x720 JPEG) and its boxes, then stop")
    args = ap.parse_args()

    from emolib.faces import MIN_FACE, detect

    if args.write_sample:
        write_sample(Path(args.write_sample))
        return
    min_face = None if args.single_pass else (args.min_face or MIN_FACE)
    data = evaluation_set(args.photos, args.seed)
    detect(data[0][1], min_face=min_face)    # load the detector
    found = {b: [0, 0] for b in BINS}
    false_per_photo, times = [], []
    for name, img, truth in data:
        t0 = time.perf_counter()
        dets = detect(img, min_face=min_face)
        times.append(time.perf_counter() - t0)
        hit, false = match([d.box for d in dets], truth)
        false_per_photo.append(false)
        for t, h in zip(truth, hit):
            side = max(t[2], t[3])
            for b in BINS:
                if b[0] <= side < b[1]:
                    found[b][0] += h
                    found[b][1] += 1
    n_groups = sum(1 for n, _, t in data if n.startswith("group"))
    print(f"{len(data)} photos ({n_groups} group photos of 1-40 faces, {len(data) - n_groups} without faces), "
          f"seed {args.seed}, detector: {'single pass' if min_face is None else f'tiled, min_face={min_face}'}, "
          f"{os.cpu_count()} CPU core(s), load {os.getloadavg()[0]:.2f}")
    print("face size (px)   found / faces   recall")
    for (lo, hi), (h, n) in found.items():
        if n:
            print(f"  {lo:4d}-{hi if hi < 10_000 else '':<5}      {h:5d} / {n:<5d}   {100 * h / n:5.1f} %")
    big = [(h, n) for (lo, _), (h, n) in found.items() if lo >= 40]
    h40, n40 = sum(h for h, _ in big), sum(n for _, n in big)
    print(f"  >= 40          {h40:5d} / {n40:<5d}   {100 * h40 / n40:5.1f} %  (target >= 95 %)")
    fp = np.array(false_per_photo)
    print(f"false faces: {fp.sum()} in all, at most {fp.max()} in one photo (target <= 1), "
          f"{fp[n_groups:].sum()} in the {len(data) - n_groups} photos without faces")
    print(f"detection time per photo: median {1000 * np.median(times):.0f} ms, max {1000 * max(times):.0f} ms")
    # a 12-megapixel photo, as a camera gives it: time of predict_image from the JPEG file
    twelve(min_face)


def twelve(min_face) -> None:
    """predict_image on a 12-megapixel (4000x3000) JPEG of 40 faces: load + detect + classify."""
    import tempfile

    from emolib.faces import detect
    from emolib.images import load_image
    from emolib.predict import predict_image

    rng = np.random.default_rng(12)
    img, truth = group_photo(rng, (4000, 3000), 40, portraits(), backgrounds(), min_face=90)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "twelve.jpg"
        cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
        predict_image(path, min_face=min_face)
        ts, tl, td = [], [], []
        for _ in range(3):
            t0 = time.perf_counter()
            rgb = load_image(path)
            t1 = time.perf_counter()
            res = predict_image(rgb, min_face=min_face)
            ts.append(time.perf_counter() - t0)
            tl.append(t1 - t0)
            t2 = time.perf_counter()
            detect(rgb, min_face=min_face)
            td.append(time.perf_counter() - t2)
    s = rgb.shape[1] / 4000
    hit, false = match([r.box for r in res], [tuple(v * s for v in t) for t in truth])
    print(f"12-megapixel JPEG (4000x3000, 40 faces of {min(t[2] for t in truth):.0f}-{max(t[2] for t in truth):.0f} px, "
          f"loaded as {rgb.shape[1]}x{rgb.shape[0]}): load + predict_image median {1000 * np.median(ts):.0f} ms "
          f"(target < 1000; of which loading {1000 * np.median(tl):.0f} ms, detecting {1000 * np.median(td):.0f} ms, "
          f"the rest cropping and classifying {len(res)} faces), {sum(hit)}/40 found, {false} false")


def write_sample(path: Path) -> None:
    """The committed test photo: 12 faces of 40 px or more, 960x720 JPEG, and a .json of its boxes.

    Only public-domain pixels: the portraits over a blurred, enlarged copy of the
    astronaut photo's face-free right half (flag and shuttle model)."""
    import json

    from emolib.images import load_image, sample_paths

    astronaut = load_image([p for p in sample_paths() if p.name == "astronaut.jpg"][0])
    bg = cv2.GaussianBlur(np.ascontiguousarray(astronaut[:, 300:]), (0, 0), 3)
    rng = np.random.default_rng(2024)
    img, truth = group_photo(rng, (960, 720), 12, portraits(), [bg], min_face=42)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    boxes = [[round(v, 1) for v in t] for t in truth]
    path.with_suffix(".json").write_text(json.dumps({"faces": boxes}, indent=1) + "\n")
    print(f"{path}: {path.stat().st_size // 1000} KB, {len(truth)} faces of "
          f"{min(t[2] for t in truth):.0f}-{max(t[2] for t in truth):.0f} px")


if __name__ == "__main__":
    main()
