"""LiteRT copies of the shipped model, float32 against int8: size, accuracy, agreement and time per face.

Exports the shipped Keras file (or its network with ``--views N`` test-time views, see
``emolib.views.VIEWS``) three ways: float32, dynamic-range int8 (``export_litert(..., quantize=True)``,
what ``emolib.predict`` serves) and full int8 calibrated on 500 training faces (LiteRT's
``representative_dataset``). For each: file size, PublicTest and PrivateTest accuracy, the share of faces
whose top class is the Keras file's and the largest probability difference (on PublicTest), and the median
time per face (batch of 1, 2 threads; interleaved repeats). Run it with nothing else busy.

    EMOLIB_DATA=../shared/fer2013 python benchmarks/benchmark_quantization.py [--views 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> int:
    from emolib.ship import cpu_name, latency_ms, with_views
    from emolib.views import VIEWS

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--views", type=int, choices=sorted(VIEWS), default=None,
                   help="re-wrap the shipped network in this many test-time views (default: the file as shipped)")
    args = p.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    from emolib.data import DataError, load_fer2013
    from emolib.evaluate import evaluate
    from emolib.faces import quiet_native_stderr
    from emolib.models import export_litert, load_pretrained, without_tta
    from emolib.predict import LiteRTModel

    try:
        fer = load_fer2013(progress=False)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    model = load_pretrained()
    if args.views is not None:
        model = with_views(without_tta(model), args.views)
    calibration = fer.train.images[np.random.default_rng(0).choice(len(fer.train), 500, replace=False)]

    def representative():
        for face in calibration:
            yield [face[None, ..., None].astype(np.float32)]

    def full_int8(path):  # not in export_litert: it needs calibration faces
        with quiet_native_stderr():
            model.export(str(path), format="litert", verbose=False, optimizations=[tf.lite.Optimize.DEFAULT],
                         representative_dataset=representative)

    exports = {"float32": lambda path: export_litert(model, path),
               "dynamic-range int8": lambda path: export_litert(model, path, quantize=True),  # what ships
               "full int8 (500 faces to calibrate)": full_int8}
    keras_val = evaluate(model, fer.val)
    face = fer.test.images[:1][..., None]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        copies = {}
        for i, (name, export) in enumerate(exports.items()):
            path = Path(tmp) / f"{i}.tflite"
            export(path)
            copies[name] = lite = LiteRTModel(path, num_threads=2)
            val = evaluate(lite, fer.val)
            rows[name] = dict(mb=path.stat().st_size / 1e6, val=val.accuracy, test=evaluate(lite, fer.test).accuracy,
                              same=np.mean(val.y_pred == keras_val.y_pred),
                              diff=np.abs(val.probs - keras_val.probs).max(), ms=[])
        for _ in range(5):
            for name, lite in copies.items():
                rows[name]["ms"].append(latency_ms(lite, face))
    print(f"{model.name}, {cpu_name()}; Keras file: PublicTest {keras_val.accuracy:.2%}")
    print("| copy | MB | PublicTest | PrivateTest | same top class as Keras (PublicTest) | largest probability "
          "difference | ms per face |\n|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['mb']:.2f} | {r['val']:.2%} | {r['test']:.2%} | {r['same']:.2%} | {r['diff']:.2g} "
              f"| {statistics.median(r['ms']):.2f} ({min(r['ms']):.2f}-{max(r['ms']):.2f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
