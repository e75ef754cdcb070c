#!/usr/bin/env python
"""Speed and size of every emolib architecture on this machine.

For each model in ``emolib.models.ARCHITECTURES`` it prints the number of
parameters, the training throughput (images/s, random uint8 data, measured
after a warm-up), the inference throughput at batch 256, the median latency for
a single face (batch 1) and the size of the inference model file
(``export_for_inference``). No dataset is needed.

Usage::

    python benchmarks/benchmark_models.py                 # all architectures
    python benchmarks/benchmark_models.py --arch emonet --train-steps 100 --threads 2
    python benchmarks/benchmark_models.py --arch emonet --width 32 --width 48 --xla --bf16 --flip-tta
    python benchmarks/benchmark_models.py --json bench.json

Numbers depend on the machine and on what else runs on it: compare models
within one run, not across machines.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=".*shuffle=True.*")


class _BatchTimer:
    """Timestamps at the end of each training batch (a Keras callback, built lazily)."""

    def __new__(cls):
        import keras

        class Timer(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.stamps = [time.perf_counter()]

            def on_train_batch_end(self, batch, logs=None):
                self.stamps.append(time.perf_counter())

        return Timer()


def benchmark(arch: str, train_steps: int = 200, warmup_steps: int = 20, batch_size: int = 64,
              infer_images: int = 2048, latency_calls: int = 100, seed: int = 0, width: int | None = None,
              jit_compile: bool = False, bf16: bool = False, flip_tta: bool = False) -> dict:
    """Measure one architecture; returns a dict of the numbers printed.

    ``width`` sets emonet's width; ``jit_compile`` (XLA) and ``bf16`` (Keras'
    ``mixed_bfloat16`` policy) check speed claims; ``flip_tta`` measures
    inference and latency of the model wrapped by ``with_flip_tta``.
    """
    import numpy as np
    import tensorflow as tf

    from emolib.models import build_model, export_for_inference

    import keras

    from emolib.models import with_flip_tta

    rng = np.random.default_rng(seed)
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if bf16 else "float32")
    try:
        model = build_model(arch, seed=seed, **({"width": width} if width else {}))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if jit_compile:
        model.compile(optimizer=model.optimizer, loss=model.loss, metrics=["accuracy"], jit_compile=True)
    params = int(model.count_params())

    # ---- training: a warm-up fit (traces and compiles the train step), then a timed one
    n = batch_size * 32
    x = rng.integers(0, 256, (n, 48, 48, 1), dtype=np.uint8)
    y = np.eye(7, dtype=np.float32)[rng.integers(0, 7, n)]
    ds = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(batch_size).prefetch(tf.data.AUTOTUNE)
    model.fit(ds, steps_per_epoch=warmup_steps, epochs=1, verbose=0)
    timer = _BatchTimer()
    model.fit(ds, steps_per_epoch=train_steps, epochs=1, verbose=0, callbacks=[timer])
    skip = min(5, train_steps // 10)  # the first batches of a fit still pay for setup
    stamps = timer.stamps[1 + skip:]
    train_ips = batch_size * (len(stamps) - 1) / (stamps[-1] - stamps[0])

    if flip_tta:
        model = with_flip_tta(model)
    # ---- inference, batch 256
    xi = rng.integers(0, 256, (infer_images, 48, 48, 1), dtype=np.uint8).astype("float32")
    model.predict(xi[:512], batch_size=256, verbose=0)  # warm-up
    t = time.perf_counter()
    model.predict(xi, batch_size=256, verbose=0)
    infer_ips = infer_images / (time.perf_counter() - t)

    # ---- latency of one face (what a webcam demo sees)
    one = xi[:1]
    for _ in range(10):
        model.predict_on_batch(one)
    lat = []
    for _ in range(latency_calls):
        t = time.perf_counter()
        model.predict_on_batch(one)
        lat.append(time.perf_counter() - t)

    # ---- inference file size
    with tempfile.TemporaryDirectory() as tmp:
        size = export_for_inference(model, Path(tmp) / f"{arch}.keras")

    variant = "".join(f"+{v}" for v, on in (("xla", jit_compile), ("bf16", bf16), ("flip", flip_tta)) if on)
    return dict(arch=arch, model=model.name.removesuffix("_flip_tta") + variant, params=params, train_images_per_s=round(train_ips, 1),
                infer_images_per_s=round(infer_ips, 1), latency_ms_median=round(1000 * statistics.median(lat), 2),
                file_mb=round(size / 1e6, 2), train_steps=train_steps, batch_size=batch_size)


def machine_info() -> dict:
    import tensorflow as tf

    info = dict(python=platform.python_version(), tensorflow=tf.__version__, machine=platform.machine(),
                cpus=os.cpu_count(), gpus=len(tf.config.list_physical_devices("GPU")))
    if hasattr(os, "getloadavg"):
        info["load_average_1min_at_start"] = round(os.getloadavg()[0], 2)
    return info


def main(argv: list[str] | None = None) -> int:
    from emolib.models import ARCHITECTURES

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", action="append", choices=sorted(ARCHITECTURES),
                   help="architecture to measure (repeatable; default: all)")
    p.add_argument("--train-steps", type=int, default=200, help="timed training steps (default 200)")
    p.add_argument("--warmup-steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64, help="training batch size (default 64)")
    p.add_argument("--threads", type=int, default=None, help="TensorFlow intra-op threads (default: all cores)")
    p.add_argument("--width", type=int, action="append", help="emonet width (repeatable; default: the builder's)")
    p.add_argument("--xla", action="store_true", help="also measure each model compiled with XLA (jit_compile=True)")
    p.add_argument("--bf16", action="store_true", help="also measure each model under the mixed_bfloat16 policy")
    p.add_argument("--flip-tta", action="store_true", help="also measure inference of each model wrapped in flip TTA")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = p.parse_args(argv)

    from emolib.train import set_threads

    set_threads(args.threads)
    info = machine_info()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()), flush=True)
    rows = []
    variants = [{}] + [{k: True} for k, on in (("jit_compile", args.xla), ("bf16", args.bf16),
                                                  ("flip_tta", args.flip_tta)) if on]
    for arch in args.arch or list(ARCHITECTURES):
        for width in (args.width or [None]) if arch == "emonet" else [None]:
            for variant in variants:
                print(f"measuring {arch} width={width or 'default'} {variant or ''} ...", flush=True)
                rows.append(benchmark(arch, args.train_steps, args.warmup_steps, args.batch_size, width=width,
                                      **variant))
    header = f"{'arch':<8} {'model':<18} {'params':>10} {'train img/s':>12} {'infer img/s':>12} {'latency ms':>11} {'file MB':>8}"
    print()
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['arch']:<8} {r['model']:<18} {r['params']:>10,} {r['train_images_per_s']:>12.1f} "
              f"{r['infer_images_per_s']:>12.1f} {r['latency_ms_median']:>11.2f} {r['file_mb']:>8.2f}")
    print(f"\ntraining: batch {args.batch_size}, {args.train_steps} timed steps after {args.warmup_steps} warm-up steps, "
          "random uint8 data; inference: batch 256; latency: one face, median of 100 calls")
    if args.json:
        Path(args.json).write_text(json.dumps(dict(machine=info, results=rows), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
