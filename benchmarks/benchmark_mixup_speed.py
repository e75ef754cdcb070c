"""Epoch times with and without mixup: does blending batches in the input pipeline slow training?

Trains the shipped architecture (emonet width 48, bf16) for a few short epochs on a
stratified subset of the real training images, once without and once with
``mixup_alpha=0.2``, each in its own process, and prints the seconds per epoch
(validation on PublicTest included).

    python benchmarks/benchmark_mixup_speed.py [--train-size 6000] [--epochs 6] [--width 48] [--float32]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

WORKER = """
import json, sys, time
from emolib.train import set_threads
set_threads(2)
import keras
from emolib.data import load_fer2013
from emolib.train import train

alpha, size, epochs, width, bf16, out = json.loads(sys.argv[1])
times = []

class Clock(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.t = time.time()

    def on_epoch_end(self, epoch, logs=None):
        times.append(round(time.time() - self.t, 1))

train("emonet", load_fer2013(progress=False), out, epochs=epochs, train_size=size, precision="bfloat16" if bf16 else "float32",
      schedule="cosine", model_kwargs={"width": width}, verbose=0, callbacks=[Clock()], mixup_alpha=alpha)
print(json.dumps(times))
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-size", type=int, default=6000)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--width", type=int, default=48)
    ap.add_argument("--float32", action="store_true", help="train in float32 instead of bf16")
    args = ap.parse_args(argv)
    print(f"emonet width {args.width}, {'float32' if args.float32 else 'bf16'}, {args.train_size} training images, "
          f"{args.epochs} epochs; seconds per epoch (validation included):")
    for alpha in (None, 0.2):
        with tempfile.TemporaryDirectory() as out:
            job = json.dumps([alpha, args.train_size, args.epochs, args.width, not args.float32, out])
            done = subprocess.run([sys.executable, "-c", WORKER, job], capture_output=True, text=True)
        if done.returncode:
            print(done.stderr[-2000:], file=sys.stderr)
            return done.returncode
        times = json.loads(done.stdout.strip().splitlines()[-1])
        later = sorted(times[1:])
        print(f"  {'mixup 0.2' if alpha else 'no mixup':>9}: {times}  median after the first: "
              f"{later[len(later) // 2]:.1f} s, slowest {later[-1]:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
