"""The machine a benchmark runs on, in words every results file can carry.

Two computers with the same processor name can differ in the vector units that
decide TensorFlow's speed on a CPU (AVX2 only, AVX-512, AVX-512 with bfloat16),
so the description names them.

>>> describe()["cores"] >= 1
True
"""
from __future__ import annotations

import os
import platform

from emolib.precision import BF16_FLAGS, cpu_flags  # one reader of /proc/cpuinfo


def describe() -> dict:
    """``{"cpu", "cores", "vector_units", "machine"}``; ``machine`` is the one-line summary, e.g.
    ``"2 cores, AMD EPYC, AVX-512 + bf16"``."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    flags = cpu_flags() or set()
    if "avx512f" in flags:
        units = "AVX-512 + bf16" if flags & BF16_FLAGS else "AVX-512"
    elif "avx2" in flags:
        units = "AVX2"
    else:
        units = platform.machine()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return dict(cpu=cpu, cores=cores, vector_units=units, machine=f"{cores} cores, {cpu}, {units}")


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description="Print this machine's one-line description.").parse_args()
    print(describe()["machine"])
