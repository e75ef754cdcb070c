"""Hit rate of emolib's face detector, and the FER2013 framing that crop_face copies.

1. The shipped sample photos (emolib/assets/samples): faces found per photo.
2. FER2013 (the test split, real photos of faces, read from $EMOLIB_DATA or
   data/fer2013, never copied anywhere): each 48x48 face is placed, 3x
   enlarged, in the middle of a 3x larger mid-grey canvas (so the detector sees
   a face with surroundings, as in a photo) and we count how often exactly
   one face is found. From the boxes found we measure where FER2013 puts the
   face: the crop side relative to the detector box (-> CROP_SCALE) and the
   vertical offset of the crop centre (-> CROP_SHIFT_Y).

Usage::

    nice -n 10 python benchmarks/measure_detector.py [--limit 3589] [--model full]
"""
from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="use the first N test faces (default: all)")
    ap.add_argument("--model", default="full", choices=["full", "short"])
    args = ap.parse_args()

    from emolib.faces import CROP_SCALE, CROP_SHIFT_Y, detect
    from emolib.images import SAMPLES_DIR, load_image, sample_paths

    print("shipped sample photos:")
    for p in sample_paths():
        dets = detect(load_image(p), args.model)
        print(f"  {p.name}: {len(dets)} face(s) {[d.box for d in dets]}")

    from emolib.data import DataError, load_fer2013

    try:
        fer = load_fer2013(progress=False)
    except DataError as err:
        print(f"FER2013 not available, skipping part 2: {err}")
        return
    faces = fer.test.images[: args.limit]
    up, pad = 3, 48 * 3  # 144 px face on a 432 px canvas
    n1 = n0 = nmany = 0
    rel_side, rel_dy = [], []
    t0 = time.perf_counter()
    for face in faces:
        big = np.kron(face, np.ones((up, up), np.uint8))
        canvas = np.full((48 * up + 2 * pad,) * 2, 128, np.uint8)
        canvas[pad:pad + 48 * up, pad:pad + 48 * up] = big
        dets = detect(canvas, args.model)
        if not dets:
            n0 += 1
            continue
        if len(dets) > 1:
            nmany += 1
        n1 += len(dets) == 1
        x, y, w, h = max(dets, key=lambda d: d.score).box
        side = max(w, h)
        rel_side.append(48 * up / side)                       # FER frame / box side
        rel_dy.append((pad + 24 * up - (y + h / 2)) / side)   # frame centre - box centre
    dt = time.perf_counter() - t0
    n = len(faces)
    print(f"FER2013 test faces: {n}; exactly one face found: {n1} ({100 * n1 / n:.1f} %), "
          f"at least one: {n - n0} ({100 * (n - n0) / n:.1f} %), none: {n0}, several: {nmany}; "
          f"{1000 * dt / n:.1f} ms per image")
    if rel_side:
        print(f"FER2013 frame side / box side: median {np.median(rel_side):.3f} "
              f"(IQR {np.percentile(rel_side, 25):.3f}-{np.percentile(rel_side, 75):.3f}); "
              f"frame centre below box centre by {np.median(rel_dy):+.3f} box sides")
        print(f"emolib uses CROP_SCALE={CROP_SCALE}, CROP_SHIFT_Y={CROP_SHIFT_Y}")


if __name__ == "__main__":
    main()
