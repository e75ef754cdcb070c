"""The arithmetic a network trains in: bfloat16 where the CPU has bf16 units, float32 everywhere else.

Mixed bfloat16 (Keras' ``mixed_bfloat16`` policy: bfloat16 compute, float32 weights) roughly doubles training speed
on a CPU that computes bfloat16 in hardware (x86 with AVX512-BF16 or AMX). A CPU without such units (most laptops:
Intel Core chips without AVX-512, AMD before Zen 4, Apple silicon under TensorFlow's CPU build) emulates it, about
ten times *slower* than float32. ``precision="auto"``, every recipe's default, picks by the CPU's flags.

Example
-------
>>> choose_precision("float32")
'float32'
>>> choose_precision("auto", flags={"avx2", "fma"})
'float32'
>>> choose_precision("auto", flags={"avx512f", "avx512_bf16"}, isa_limit=None)
'bfloat16'
"""
from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager

#: The settings a recipe's ``precision`` takes.
PRECISIONS = ("auto", "float32", "bfloat16")

#: The CPU flags (Linux ``/proc/cpuinfo``) of bfloat16 units.
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})

#: ``ONEDNN_MAX_CPU_ISA`` values that still let oneDNN use those units (any other value caps it below them).
_BF16_ISAS = ("AVX512_CORE_BF16", "AVX512_CORE_AMX", "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "DEFAULT", "ALL")

_UNSET = object()


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags from ``/proc/cpuinfo`` (Linux), or None where there is no such file.

    >>> flags = cpu_flags()
    >>> flags is None or isinstance(flags, set)
    True
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        return None
    return set()


def bf16_units(flags: set[str] | None | object = _UNSET, isa_limit: str | None | object = _UNSET) -> bool:
    """Whether TensorFlow can compute bfloat16 in hardware here.

    True on an x86 CPU whose flags include ``avx512_bf16`` or ``amx_bf16``, unless ``ONEDNN_MAX_CPU_ISA``
    (``isa_limit``; default: the environment's) caps oneDNN below them (e.g. ``AVX2``). False elsewhere: no
    flags to read (macOS, Windows) counts as no units. ``flags`` and ``isa_limit`` default to this machine's.

    >>> bf16_units({"avx2"}, None)
    False
    >>> bf16_units({"avx512_bf16"}, None), bf16_units({"avx512_bf16"}, "AVX2")
    (True, False)
    """
    flags = cpu_flags() if flags is _UNSET else flags
    isa_limit = os.environ.get("ONEDNN_MAX_CPU_ISA") if isa_limit is _UNSET else isa_limit
    if not flags or not (set(flags) & BF16_FLAGS):
        return False
    return not isa_limit or isa_limit.upper() in _BF16_ISAS


def choose_precision(setting: str = "auto", flags: set[str] | None | object = _UNSET,
                     isa_limit: str | None | object = _UNSET) -> str:
    """The precision a run computes in: ``"bfloat16"`` or ``"float32"``.

    ``"auto"`` gives bfloat16 only where :func:`bf16_units` says so; ``"float32"`` and ``"bfloat16"`` are taken as
    they are (bfloat16 on a CPU without the units is emulated: slow, but allowed for measuring it).

    >>> choose_precision("bfloat16", flags=set())
    'bfloat16'
    >>> choose_precision("fp16")
    Traceback (most recent call last):
    ...
    ValueError: precision is one of 'auto', 'float32', 'bfloat16', not 'fp16'
    """
    if setting not in PRECISIONS:
        raise ValueError(f"precision is one of {', '.join(map(repr, PRECISIONS))}, not {setting!r}")
    if setting != "auto":
        return setting
    return "bfloat16" if bf16_units(flags, isa_limit) else "float32"


def explain(precision: str) -> str:
    """One line saying what a run computes in and why (printed once when training starts).

    >>> explain("float32").startswith("precision: float32")
    True
    """
    flags = cpu_flags()
    has_units = bool(flags and set(flags) & BF16_FLAGS)
    limit = os.environ.get("ONEDNN_MAX_CPU_ISA")
    if precision == "bfloat16":
        why = ("this CPU has bfloat16 units" if bf16_units() else
               "asked for; without bfloat16 units it is emulated, about ten times slower than float32")
        return f"precision: mixed bfloat16 ({why})"
    if bf16_units():
        why = "asked for; this CPU's bfloat16 units would be faster"
    elif has_units:
        why = f"ONEDNN_MAX_CPU_ISA={limit} keeps TensorFlow off this CPU's bfloat16 units"
    else:
        why = f"this CPU ({platform.machine() or 'unknown'}) has no bfloat16 units TensorFlow can use"
    return f"precision: float32 ({why})"


@contextmanager
def policy(precision: str) -> Iterator[None]:
    """Build models inside this block under ``precision``'s Keras policy; the global policy is restored after.

    >>> import keras
    >>> with policy("bfloat16"):
    ...     keras.mixed_precision.global_policy().name
    'mixed_bfloat16'
    >>> keras.mixed_precision.global_policy().name
    'float32'
    """
    import keras

    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        yield
    finally:  # layers keep their policy; later code in this process is not affected
        keras.mixed_precision.set_global_policy(before)
