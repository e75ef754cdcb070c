"""Measure a fine-tuned run against the network it started from, on PublicTest only; ships nothing.

    python benchmarks/measure_finetune.py RUN [--candidates best,last,soup-last,soup-best]

For each candidate (the run's ``best.keras`` or ``last.keras``, or "soup": the average of its weights and the
shipped network's, a "model soup") it prints the PublicTest accuracy of the network alone as it is, after
precise BatchNorm (``emolib.train.recalibrate_batchnorm`` on every training face), and after that with its
mirror image (2 views) and with the 6 views the shipped file serves (``emolib.views.VIEWS``); the shipped
network's line comes first. Each recalibration takes about 12 min on a slow
2-core CPU.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path)
    p.add_argument("--candidates", default="best,last,soup-last,soup-best")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    names = args.candidates.split(",")
    unknown = [n for n in names if n not in ("best", "last", "soup-last", "soup-best")]
    if unknown:
        p.error(f"unknown candidate(s) {', '.join(unknown)}; choose from best, last, soup-last, soup-best")
    for f in {n.removeprefix("soup-") for n in names}:
        if not (args.run / f"{f}.keras").is_file():
            print(f"error: {args.run / f'{f}.keras'} not found (a finished training run?)", file=sys.stderr)
            return 2

    from emolib.train import set_threads

    set_threads(args.threads)
    import keras

    from emolib.data import load_fer2013
    from emolib.evaluate import evaluate
    from emolib.models import PRETRAINED_PATH, load_model_file, to_float32, without_tta
    from emolib.train import recalibrate_batchnorm
    from emolib.ship import with_views

    data = load_fer2013(progress=False)

    def acc(model, tta: bool = False) -> float:
        return round(float(evaluate(model, data.val, tta=tta).accuracy), 4)

    shipped = without_tta(load_model_file(PRETRAINED_PATH))
    rows = {"shipped": dict(as_is=acc(shipped), flip=acc(shipped, tta=True), views6=acc(with_views(shipped, 6)))}
    print("shipped", rows["shipped"], flush=True)
    for name in names:
        net = to_float32(load_model_file(args.run / f"{name.removeprefix('soup-')}.keras"))
        if name.startswith("soup-"):
            soup = keras.models.clone_model(net)
            soup.set_weights([(a + b) / 2 for a, b in zip(shipped.get_weights(), net.get_weights())])
            net = soup
        t0 = time.time()
        row = dict(as_is=acc(net))
        recalibrate_batchnorm(net, data.train.images)
        row.update(precise_bn=acc(net), precise_bn_flip=acc(net, tta=True),
                   precise_bn_views6=acc(with_views(net, 6)), seconds=round(time.time() - t0))
        rows[name] = row
        print(name, row, flush=True)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
