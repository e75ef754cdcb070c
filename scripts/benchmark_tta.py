"""Test-time augmentation views for the shipped network: accuracy and time per face.

For each set of views (the face alone, face + mirror, shifted crops with their
mirrors), wraps the network inside the shipped file in ``emolib.models.with_tta``
and prints PublicTest accuracy (to choose on), PrivateTest accuracy (to report)
and the median time to classify one face (batch of 1). ``with_tta`` runs the
network once per view; the last column times the same views stacked into one
batch and passed through the network once (same predictions, ``one_pass`` below).

    python scripts/benchmark_tta.py [--model emolib/assets/emonet.keras] [--shift 3]
"""
from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ship_model import ASSETS, latency_ms  # noqa: E402


def one_pass(net, shifts):
    """``with_tta(net, shifts, flip=True)`` with its views stacked along the batch axis: one pass of the network.

    Same predictions; ``keras.ops`` stacks the views and averages per face.
    """
    import keras
    from keras import ops

    from emolib.models import INPUT_SHAPE, tta_views

    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    views = tta_views(inputs, shifts, flip=True)
    probs = net(ops.concatenate(views, axis=0))
    return keras.Model(inputs, ops.mean(ops.reshape(probs, (len(views), -1, probs.shape[-1])), axis=0))


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
             f"10 views (centre + 4 diagonal {s}-pixel shifts, mirrored)": diagonal,
             f"18 views (3x3 grid of {s}-pixel shifts, mirrored)": tuple(itertools.product((-s, 0, s), repeat=2))}
    face = fer.test.images[:1][..., None]
    print("| views | PublicTest | PrivateTest | ms per face | ms per face, one batched pass |\n|---|---|---|---|---|")
    for name, shifts in views.items():
        model = net if shifts is None else with_tta(net, shifts, flip=True)
        val, test = evaluate(model, fer.val).accuracy, evaluate(model, fer.test).accuracy
        batched = "" if shifts is None else latency_ms(one_pass(net, shifts), face)
        print(f"| {name} | {val:.2%} | {test:.2%} | {latency_ms(model, face)} | {batched} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
