"""Test-time augmentation views for the shipped network: accuracy and time per face.

For each set of views (the face alone, face + mirror, shifted crops with their
mirrors), wraps the network inside the shipped file in ``emolib.models.with_tta``
and prints PublicTest accuracy (to choose on), PrivateTest accuracy (to report)
and the median time to classify one face (batch of 1): in Keras, with the
network run once per view or once on all views stacked into one batch
(``with_tta(..., batched=True)``, same predictions), and the batched model in
a dynamic-range int8 LiteRT copy, as ``emolib.predict`` serves it.

    python scripts/benchmark_tta.py [--model emolib/assets/emonet.keras] [--shift 3]
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ship_model import ASSETS, latency_ms, litert_latency_ms  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=ASSETS / "emonet.keras")
    p.add_argument("--shift", type=int, default=3, help="pixels for the shifted views (at most 4)")
    args = p.parse_args(argv)
    from emolib.data import DataError, load_fer2013
    from emolib.evaluate import evaluate
    from emolib.models import ModelFileError, load_model_file, with_tta, without_tta

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
             f"6 views (centre + 2 opposite diagonal {s}-pixel shifts, mirrored)": ((0, 0), (s, s), (-s, -s)),
             f"10 views (centre + 4 diagonal {s}-pixel shifts, mirrored)": diagonal,
             f"18 views (3x3 grid of {s}-pixel shifts, mirrored)": tuple(itertools.product((-s, 0, s), repeat=2))}
    face = fer.test.images[:1][..., None]
    print("| views | PublicTest | PrivateTest | ms per face, Keras | ms per face, Keras, one batched pass "
          "| ms per face, LiteRT int8, one batched pass |\n|---|---|---|---|---|---|")
    for name, shifts in views.items():
        model = net if shifts is None else with_tta(net, shifts, flip=True)
        batched = net if shifts is None else with_tta(net, shifts, flip=True, batched=True)
        val, test = evaluate(model, fer.val).accuracy, evaluate(model, fer.test).accuracy
        print(f"| {name} | {val:.2%} | {test:.2%} | {latency_ms(model, face)} | {latency_ms(batched, face)} "
              f"| {litert_latency_ms(batched, face)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
