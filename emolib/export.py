"""The shipped file: its test-time views, chosen on PublicTest within the time budget, its export (Keras without
optimizer state, int8 LiteRT) and its times per face; and the shipped class run's files (:func:`export_class_run`).
Imported by :mod:`emolib.ship` alone.

Example
-------
>>> cpu_name().count("cores") == 1
True
"""
from __future__ import annotations

from pathlib import Path

from .views import VIEW_BUDGET_MS, VIEWS


def with_views(model, views: int):
    """``model`` wrapped in ``with_tta`` (batched) for one of :data:`emolib.views.VIEWS`; the model itself for 1 view."""
    from .models import with_tta

    if views == 1:
        return model
    shifts, mirror = VIEWS[views]
    return with_tta(model, shifts, flip=mirror, batched=True, name=f"{model.name}_tta{views}")


def cpu_name() -> str:
    """``"2 cores, <CPU model>"`` from /proc/cpuinfo (the processor name elsewhere)."""
    import os
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores, {cpu}"


def litert_latency_ms(model, face, quantize: bool = True) -> float:
    """:func:`latency_ms` of ``model`` exported to LiteRT (a temporary ``.tflite``; dynamic-range int8 by
    default, as ``emonet.tflite`` is written)."""
    import tempfile

    from .models import export_litert
    from .predict import LiteRTModel

    with tempfile.TemporaryDirectory() as tmp:
        export_litert(model, Path(tmp) / "m.tflite", quantize=quantize)
        return latency_ms(LiteRTModel(Path(tmp) / "m.tflite"), face)


def ship_litert(data, assets: Path, timed: dict | None = None) -> dict:
    """Write ``emonet.tflite`` (dynamic-range int8) from ``emonet.keras`` in ``assets`` and measure it against
    the Keras file: size, PublicTest/PrivateTest accuracy, and on PublicTest the share of faces whose top class
    is unchanged and the largest probability difference. The times per face live in one place, the shipped views'
    entry of ``tta_candidates`` (:func:`pick_views`, read by :func:`shipped_times`): ``timed`` is that entry, whose
    two times are measured again here for the new copy when it has none.
    Also writes ``emonet_1view.tflite``, the network alone (its views taken off), int8, which ``emolib.predict``
    runs when it makes fewer views itself."""
    import numpy as np

    from .evaluate import evaluate
    from .models import export_litert, load_model_file, without_tta
    from .predict import LiteRTModel

    keras_model = load_model_file(assets / "emonet.keras")
    size = export_litert(keras_model, assets / "emonet.tflite", quantize=True)
    export_litert(without_tta(keras_model), assets / "emonet_1view.tflite", quantize=True)
    lite = LiteRTModel(assets / "emonet.tflite")
    val, keras_val = evaluate(lite, data.val), evaluate(keras_model, data.val)
    diff = float(np.abs(val.probs - keras_val.probs).max())
    same = float(np.mean(val.probs.argmax(1) == keras_val.probs.argmax(1)))
    if timed is not None and "latency_ms_litert" not in timed:
        face = data.test.images[:1][..., None]
        timed.update(latency_ms_litert=latency_ms(lite, face), latency_ms_keras=latency_ms(keras_model, face))
    info = dict(size_mb=round(size / 1e6, 2), num_threads=lite.num_threads,
                quantization="dynamic-range int8", public_test=round(float(val.accuracy), 4),
                public_test_keras=round(float(keras_val.accuracy), 4), same_top_class_public_test=round(same, 4),
                private_test=round(float(evaluate(lite, data.test).accuracy), 4),
                max_prob_diff_public_test=float(f"{diff:.2g}"), measured_on=cpu_name())
    print(f"LiteRT copy: {info}", flush=True)
    return info


def latency_ms(model, face) -> float:
    """Median time to classify one face (batch of 1), in milliseconds."""
    import statistics
    import time

    model.predict_on_batch(face)
    times = []
    for _ in range(100):
        t = time.perf_counter()
        model.predict_on_batch(face)
        times.append(time.perf_counter() - t)
    return round(1000 * statistics.median(times), 2)


def pick_views(model, data, tta: str | int = "auto") -> tuple[int, dict]:
    """How many test-time views to ship ``model`` with: ``tta`` itself, or with ``"auto"`` the candidate of
    :data:`emolib.views.VIEWS` with the best PublicTest accuracy among those whose LiteRT copy (as ``emolib.predict``
    serves it) classifies a face alone within :data:`emolib.views.VIEW_BUDGET_MS`. Returns the views and each candidate's figures
    (always including the network alone, 1 view)."""
    from .evaluate import evaluate

    face = data.test.images[:1][..., None]
    candidates = {}
    for views in (VIEWS if tta == "auto" else sorted({1, int(tta)})):
        m = with_views(model, views)
        candidates[views] = dict(public_test=round(float(evaluate(m, data.val).accuracy), 4),
                                 latency_ms_keras=latency_ms(m, face), latency_ms_litert=litert_latency_ms(m, face))
        print(f"  {views} view(s): {candidates[views]}", flush=True)
    if tta != "auto":
        return int(tta), candidates
    fast = [v for v, c in candidates.items() if c["latency_ms_litert"] <= VIEW_BUDGET_MS] or [1]
    views = max(fast, key=lambda v: (candidates[v]["public_test"], -v))  # a tie goes to fewer views
    print(f"test-time views inside the model: {views}", flush=True)
    return views, candidates


def finish(model, data, shipped_file: Path | None = None, tta: str | int = "auto") -> dict:
    """Wrap the selected network in its test-time views (:func:`pick_views`), save it without optimizer
    state to ``shipped_file`` (or a temporary file), and measure the saved file on raw pixels."""
    import tempfile

    from .evaluate import evaluate
    from .models import export_for_inference, load_model_file

    views, candidates = pick_views(model, data, tta)
    single = dict(public_test=candidates[1]["public_test"])
    model = with_views(model, views)
    if shipped_file is not None:
        size = export_for_inference(model, shipped_file)
        model = load_model_file(shipped_file)  # measure the file we ship
    else:
        with tempfile.TemporaryDirectory() as tmp:
            size = export_for_inference(model, Path(tmp) / "m.keras")
    val = evaluate(model, data.val)
    test = evaluate(model, data.test)
    # a model with views inside is not flipped again: its PrivateTest figure with views is the one above
    test_tta = evaluate(model, data.test, tta=True) if views == 1 else test
    recall = {c: round(float(r), 4) for c, r in zip(data.class_names, test.report["recall"].iloc[: len(data.class_names)])}
    return dict(public_test=round(float(val.accuracy), 4), private_test=round(float(test.accuracy), 4),
                private_test_tta=round(float(test_tta.accuracy), 4), private_top2=round(float(test.top2_accuracy), 4),
                private_recall=recall, size_mb=round(size / 1e6, 2), tta_views=views,
                tta_candidates={str(v): c for v, c in candidates.items()},  # the times per face, stored once
                without_tta_inside=single)




def export_class_run(run: Path, dest: Path) -> int:
    """Write a finished class-recipe run's files into ``dest`` (:data:`emolib.train.CLASS_RUN_FILES`): ``best.keras``
    in float32 without optimizer state (a third of the size), ``history.json``, ``config.json`` and ``result.json`` as
    they are. Returns their bytes. The checks are the caller's (:func:`emolib.ship.ship_class`).

    >>> export_class_run(Path("runs/class"), Path("out/class_run"))  # doctest: +SKIP
    2999000
    """
    import shutil

    from .models import export_for_inference, load_model_file
    from .train import CLASS_RUN_FILES

    dest.mkdir(parents=True, exist_ok=True)
    size = export_for_inference(load_model_file(run / "best.keras"), dest / "best.keras")
    for name in CLASS_RUN_FILES[1:]:
        shutil.copyfile(run / name, dest / name)
        size += (dest / name).stat().st_size
    return size
