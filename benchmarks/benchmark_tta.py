"""Test-time augmentation views for the shipped network: accuracy and time per face.

For each set of views (the face alone, face + mirror, shifted crops with their mirrors), wraps the
network inside the shipped file in ``emolib.models.with_tta(..., batched=True)`` (all views stacked
into one batch, one pass of the network), exports it as a dynamic-range int8 LiteRT copy, the way
``emolib.predict`` serves the shipped model, and prints the copy's PublicTest accuracy (to choose on),
PrivateTest accuracy (to report) and median time per face (batch of 1), with the Keras model's time
for comparison. ``python -m emolib ship`` chooses among 1, 2 and 6 views.

    python benchmarks/benchmark_tta.py [--model emolib/assets/emonet.keras] [--shift 3]
"""
from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

from emolib.ship import ASSETS, latency_ms


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=ASSETS / "emonet.keras")
    p.add_argument("--shift", type=int, default=3, help="pixels for the shifted views (at most 4)")
    args = p.parse_args(argv)
    from emolib.data import DataError, load_fer2013
    from emolib.evaluate import evaluate
    from emolib.models import ModelFileError, export_litert, load_model_file, with_tta, without_tta
    from emolib.predict import LiteRTModel

    try:
        net = without_tta(load_model_file(args.model))
        fer = load_fer2013(progress=False)
    except (ModelFileError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    s = args.shift
    if not 1 <= s <= 4:
        print(f"error: --shift must be 1 to 4 pixels (the border that emonet's 40x40 crop leaves), not {s}",
              file=sys.stderr)
        return 2
    diagonal = ((0, 0), (s, s), (s, -s), (-s, s), (-s, -s))
    views = {"1 view (the face)": None, "2 views (face + mirror)": ((0, 0),),
             f"6 views (face shifted {s} px up and down, each mirrored)": ((0, 0), (s, 0), (-s, 0)),
             f"6 views (face shifted {s} px left and right, each mirrored)": ((0, 0), (0, s), (0, -s)),
             f"6 views (face shifted {s} px down-right and up-left, each mirrored; shipped)": ((0, 0), (s, s), (-s, -s)),
             f"8 views (the 4 diagonal {s}-px shifts, mirrored, no centre)": diagonal[1:],
             f"10 views (face + 4 diagonal {s}-px shifts, mirrored)": diagonal,
             f"18 views (3x3 grid of {s}-px shifts, mirrored)": tuple(itertools.product((-s, 0, s), repeat=2))}
    face = fer.test.images[:1][..., None]
    print("| views | PublicTest (int8 copy) | PrivateTest (int8 copy) | ms per face, int8 copy | ms per face, Keras |"
          "\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, shifts) in enumerate(views.items()):
            model = net if shifts is None else with_tta(net, shifts, flip=True, batched=True)
            export_litert(model, Path(tmp) / f"{i}.tflite", quantize=True)
            lite = LiteRTModel(Path(tmp) / f"{i}.tflite")
            val, test = evaluate(lite, fer.val).accuracy, evaluate(lite, fer.test).accuracy
            print(f"| {name} | {val:.2%} | {test:.2%} | {latency_ms(lite, face)} | {latency_ms(model, face)} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
