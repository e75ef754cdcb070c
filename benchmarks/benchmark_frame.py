"""End-to-end time per 640x480 webcam-like frame with one face, and where it goes.

Stages: detect (BlazeFace), crop (48x48 grayscale), classify (one model call: the
shipped model run with LiteRT, as ``predict_image`` does by default; ``--keras``
runs the Keras file instead),
annotate (boxes, label, probability bars). The frame is a shipped sample photo
letterboxed into 640x480. Prints the median over ``--frames`` frames (after a
warm-up) of each stage and of the total; the demo targets under 33 ms (30 fps).
Then the kernel's share of a frame of the browser demo (``EmotionDemo.process_frame``):
320x240 RGBA pixels in, boxes, labels and probabilities as JSON out.

Usage::

    nice -n 10 python benchmarks/benchmark_frame.py [--frames 200] [--keras] [--threads 2] [--emoji]
"""
from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--keras", action="store_true", help="classify with the Keras file (default: its LiteRT copy)")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads: LiteRT's (default: CPU count, at most 4), or TensorFlow's intra-op with --keras")
    ap.add_argument("--emoji", action="store_true", help="annotate with emoji instead of boxes")
    args = ap.parse_args()

    import cv2
    import numpy as np

    if args.threads and args.keras:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from emolib.faces import crop_face, detect
    from emolib.draw import annotate
    from emolib.images import load_image, sample_paths
    from emolib.predict import FaceResult, LiteRTModel, classify_faces, get_model
    from emolib.data import CLASS_NAMES

    photo = load_image(sample_paths()[1])                        # grace_hopper.jpg, 512x600
    s = 480 / photo.shape[0]
    small = cv2.resize(photo, (round(photo.shape[1] * s), 480), interpolation=cv2.INTER_AREA)
    frame = np.zeros((480, 640, 3), np.uint8)
    x0 = (640 - small.shape[1]) // 2
    frame[:, x0:x0 + small.shape[1]] = small
    model = get_model() if args.keras else LiteRTModel(num_threads=args.threads)

    stages = {"detect": [], "crop": [], "classify": [], "annotate": [], "total": []}
    n_faces = []
    for i in range(args.frames + 10):
        t0 = time.perf_counter()
        dets = detect(frame)
        t1 = time.perf_counter()
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        faces = np.stack([crop_face(gray, d.box) for d in dets]) if dets else np.zeros((0, 48, 48), np.uint8)
        t2 = time.perf_counter()
        probs = classify_faces(faces, model)
        t3 = time.perf_counter()
        results = [FaceResult(d.box, CLASS_NAMES[int(p.argmax())], float(p.max()), dict(zip(CLASS_NAMES, map(float, p))))
                   for d, p in zip(dets, probs)]
        annotate(frame, results, emoji=args.emoji)
        t4 = time.perf_counter()
        if i >= 10:  # warm-up
            for k, v in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                stages[k].append(1000 * v)
            n_faces.append(len(dets))
    med = {k: float(np.median(v)) for k, v in stages.items()}
    print(f"640x480 frame, {int(np.median(n_faces))} face(s), {args.frames} frames, "
          f"{os.cpu_count()} CPU core(s), classifier: "
          f"{'Keras, TF threads ' + str(args.threads or 'default') if args.keras else f'LiteRT, {model.num_threads} threads'}")
    for k in ("detect", "crop", "classify", "annotate"):
        print(f"  {k:9s} {med[k]:6.2f} ms  ({100 * med[k] / med['total']:4.1f} %)")
    p90 = float(np.percentile(stages["total"], 90))
    print(f"  total     {med['total']:6.2f} ms median, {p90:.2f} ms 90th percentile "
          f"-> {1000 / med['total']:.0f} frames/s; target < 33 ms: {'met' if med['total'] < 33 else 'NOT met'}")

    # what the browser demo asks of the kernel per frame: 320x240 RGBA pixels in, JSON out (the
    # browser scales the frame and draws the overlay itself; faces are re-classified every 3rd frame)
    import json

    from emolib.predict import RECLASSIFY
    from emolib.widgets import EmotionDemo

    demo = EmotionDemo(model=model)
    demo.camera.running = True
    small = cv2.resize(frame, (320, 240), interpolation=cv2.INTER_AREA)
    rgba = np.dstack([small, np.full((240, 320), 255, np.uint8)]).tobytes()
    times = []
    for i in range(args.frames + 10):
        t0 = time.perf_counter()
        reply = json.dumps([r.to_dict() for r in demo.process_frame(rgba, 320, 240)])
        if i >= 10:
            times.append(1000 * (time.perf_counter() - t0))
    print(f"browser demo's kernel work per frame (320x240 RGBA -> faces as JSON, {len(reply)} bytes, "
          f"classified every {RECLASSIFY} frames): {np.median(times):.2f} ms median, {np.mean(times):.2f} ms mean "
          f"-> {1000 / np.mean(times):.0f} frames/s at most; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
