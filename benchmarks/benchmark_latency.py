"""Time per face (batch of 1) of the shipped model: the Keras file against its LiteRT copy.

Five interleaved repeats of the median of 100 calls (``emolib.ship.latency_ms``) on one FER2013 PrivateTest
face, for the Keras file (its test-time views inside, and the network alone), for the shipped LiteRT copy (dynamic-range
int8) with 2 and 1 threads, and for a float32 LiteRT export of the same file made here.
Batch-1 timings on a shared machine vary; run it with nothing else busy.

    EMOLIB_DATA=../shared/fer2013 python benchmarks/benchmark_latency.py
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
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args(argv)
    from emolib.ship import cpu_name, latency_ms

    from emolib.data import DataError, load_fer2013
    from emolib.models import export_litert, load_pretrained, without_tta
    from emolib.predict import LiteRTModel

    try:
        face = load_fer2013(progress=False).test.images[:1][..., None]
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    keras_model = load_pretrained()
    with tempfile.TemporaryDirectory() as tmp:
        export_litert(keras_model, Path(tmp) / "float32.tflite")
        models = {"Keras file (test-time views inside)": keras_model, "Keras, network alone": without_tta(keras_model),
                  "LiteRT float32, 2 threads": LiteRTModel(Path(tmp) / "float32.tflite", num_threads=2),
                  "LiteRT int8 copy, 2 threads": LiteRTModel(num_threads=2),
                  "LiteRT int8 copy, 1 thread": LiteRTModel(num_threads=1)}
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(5):
            for name, model in models.items():
                times[name].append(latency_ms(model, face))
    print(f"ms per face, batch of 1, {cpu_name()}: median of 5 repeats (each the median of 100 calls)")
    for name, t in times.items():
        print(f"  {name:30s} {statistics.median(t):5.2f}  (repeats {min(t):.2f}-{max(t):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
