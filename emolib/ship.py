"""Ship a finished training run as emolib's pretrained model, with its card: ``python -m emolib ship``.

    python -m emolib ship run RUN [RUN ...] [--baseline runs/seed] [--tta auto|1|2|6] [--replace]
    python -m emolib ship views [--tta auto|1|2|6]
    python -m emolib ship precise-bn [--tta auto|1|2|6]
    python -m emolib ship litert
    python -m emolib ship baseline runs/seed

``run`` writes emolib/assets/emonet.keras (without optimizer state), its LiteRT copy emonet.tflite (dynamic-range
int8; what ``emolib.predict`` runs by default), the network alone as emonet_1view.tflite (int8, for the views
``emolib.predict`` makes itself), history.json, results.json and MODEL_CARD.md (every subcommand
takes ``--assets DIR`` to write elsewhere). The accuracies in the card are measured here by loading the saved file
and predicting raw pixels. The run replaces the shipped model only when its network scores higher on PublicTest
(or with ``--replace``). ``--tta`` sets how many test-time views the file averages over
(``emolib.models.with_tta`` inside the model, see :data:`emolib.views.VIEWS`): 1 (the network alone), 2 (the face and
its mirror image) or 6 (the face shifted 3 pixels along a diagonal both ways, each mirrored). By default
(``auto``) it ships the candidate with the best PublicTest accuracy among those whose LiteRT copy classifies a
face within :data:`emolib.views.VIEW_BUDGET_MS`. The card reports every candidate.
Before the views, the selected network's BatchNorm statistics are recomputed on the training faces as the
network sees them at inference (``emolib.train.recalibrate_batchnorm``, "precise BatchNorm"); the recalibrated
network is kept when it scores higher on PublicTest (``--no-precise-bn`` skips the step).
``views`` keeps the shipped network and chooses its views again; ``precise-bn`` recalibrates the shipped network
first, as above; ``litert`` rewrites just the LiteRT copy and its figures; ``baseline`` (re)measures the seed
baseline into results.json and keeps everything else.
Several runs (trained side by side, as ``benchmarks/benchmark_recipes.py emonet-bf16-ensemble2-full`` does) ship
as one ``emolib.models.ensemble`` that averages their networks; each run's weights are selected on PublicTest first.
The card's **Compute** line states the time behind the shipped network (:func:`compute_line`): each run's training
(every epoch logged, the parts of a resumed run included) and its teachers' targets, the shipping's own time, on
the cores each used, and for a distilled run each teacher's own core-hours (recorded as ``compute`` in
results.json).

The card's text is the template ``emolib/templates/MODEL_CARD.md.tmpl`` (:class:`string.Template`), filled by
:func:`card_fields`. This module is the top of emolib's import graph: it uses data, models, train, evaluate and
predict, and only ``emolib.__main__`` imports it.
"""
from __future__ import annotations

import argparse
import json
import re
import string
import time
from pathlib import Path

from .views import VIEW_BUDGET_MS, VIEW_CHOICES, VIEWS

#: Where the shipped model lives; every function that writes takes its own ``assets`` folder instead.
ASSETS = Path(__file__).resolve().parent / "assets"
#: The model card's text, with ``$name`` fields (:func:`card_fields`).
CARD_TEMPLATE = Path(__file__).resolve().parent / "templates" / "MODEL_CARD.md.tmpl"
SHIPPED, BASELINE = "emonet (shipped)", "seed CNN (baseline)"  # the names of the two entries of results.json
DEFAULT_HARDWARE = "2-core x86_64 CPU (no GPU), TensorFlow 2.21 CPU"
TTA_WORDS = {2: "the face and its mirror image",
             6: "the face, the face moved 3 pixels down-right and 3 pixels up-left, and the mirror image of each "
                "(so the shifts cover all four diagonal directions)"}


class ShipError(ValueError):
    """Nothing to ship, or nothing shipped to work on; the message says which and what to do."""


def with_views(model, views: int):
    """``model`` wrapped in ``with_tta`` (batched) for one of :data:`emolib.views.VIEWS`; the model itself for 1 view."""
    from .models import with_tta

    if views == 1:
        return model
    shifts, mirror = VIEWS[views]
    return with_tta(model, shifts, flip=mirror, batched=True, name=f"{model.name}_tta{views}")


def select_on_public_test(run: Path, data) -> tuple["keras.Model", str, dict]:
    """Rebuild the run's architecture from emolib (current definition), fill it with each
    saved set of weights (best.keras, last.keras, per-epoch snapshots in ``<run>-snapshots/``)
    and keep the one with the best PublicTest accuracy. PrivateTest is not looked at."""
    import keras

    from .evaluate import evaluate
    from .models import build_model, copy_weights, load_model_file

    res = json.loads((run / "result.json").read_text())
    cfg = json.loads((run / "config.json").read_text())
    trained = load_model_file(run / "best.keras")
    target = build_model(res["arch"], **cfg.get("model_kwargs", {}))
    candidates: list[tuple[str, object]] = [("best.keras", run / "best.keras")]
    if (run / "last.keras").exists():
        candidates.append(("last.keras", run / "last.keras"))
    snaps = run.parent / f"{run.name}-snapshots"
    candidates += [(f.stem.split(".")[0], f) for f in sorted(snaps.glob("epoch-*.weights.h5"))]
    best = ("", -1.0, None)
    scores: dict[str, float] = {}
    for name, path in candidates:
        if str(path).endswith(".h5"):
            trained.load_weights(path)
            src = trained
        else:
            src = load_model_file(path)
        copy_weights(src, target)
        acc = evaluate(target, data.val).accuracy
        scores[name] = float(acc)
        print(f"  {name}: PublicTest {acc:.4f}", flush=True)
        if acc > best[1]:
            best = (name, acc, [w.copy() for w in target.get_weights()])
    target.set_weights(best[2])
    return target, best[0], scores


def precise_batchnorm(model, data, before: float | None = None) -> tuple["keras.Model", dict]:
    """Try ``emolib.train.recalibrate_batchnorm`` on a copy of the network with every training face; keep the copy
    when its PublicTest accuracy (network alone) is higher than ``before`` (measured here if not given).
    Returns the network kept and the figures."""
    import time

    import keras

    from .evaluate import evaluate
    from .train import recalibrate_batchnorm

    before = float(evaluate(model, data.val).accuracy) if before is None else before
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    t0 = time.time()
    recalibrate_batchnorm(copy, data.train.images)
    seconds = time.time() - t0
    after = float(evaluate(copy, data.val).accuracy)
    info = dict(images=len(data.train.images), seconds=round(seconds), public_test_before=round(before, 4),
                public_test_after=round(after, 4), kept=after > before, measured_on=cpu_name())
    print(f"precise BatchNorm: {info}", flush=True)
    return (copy if after > before else model), info


def check_runs(runs: list[Path]) -> None:
    """Raise :class:`ShipError` naming the first folder that does not hold a finished run, and what it lacks."""
    for run in runs:
        missing = [f for f in ("result.json", "config.json", "best.keras") if not (Path(run) / f).is_file()]
        if missing:
            raise ShipError(f"{run} is not a finished training run (missing {', '.join(missing)})")


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


def ship_litert(data, assets: Path = ASSETS, timed: dict | None = None) -> dict:
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


def shipped_times(s: dict) -> dict[str, float]:
    """The shipped file's times per face (batch of 1), each stored once, in ``tta_candidates``: ``litert`` and
    ``keras`` for the file's views, ``network`` for the network alone in Keras.

    >>> shipped_times({"tta_views": 2, "tta_candidates": {"1": {"latency_ms_keras": 5.0, "latency_ms_litert": 0.7},
    ...                                                 "2": {"latency_ms_keras": 9.0, "latency_ms_litert": 1.0}}})
    {'litert': 1.0, 'keras': 9.0, 'network': 5.0}
    """
    timed, alone = s["tta_candidates"][str(s["tta_views"])], s["tta_candidates"]["1"]
    return dict(litert=timed["latency_ms_litert"], keras=timed["latency_ms_keras"], network=alone["latency_ms_keras"])


def litert_card_line(info: dict, times: dict[str, float]) -> str:
    """The model card's **LiteRT copy** line, from the figures :func:`ship_litert` measured and the file's
    :func:`shipped_times`."""
    return (f"* **LiteRT copy** (`emonet.tflite`, {info['size_mb']} MB): the same network exported with "
            f"`emolib.models.export_litert(..., quantize=True)` ({info.get('quantization', 'float32')}: weights "
            f"stored as 8-bit integers, activations quantized on the fly); `emolib.predict` runs it by default "
            f"(`LiteRTModel`, no TensorFlow import). PublicTest {info['public_test']:.2%} (the Keras file: "
            f"{info.get('public_test_keras', float('nan')):.2%}), PrivateTest {info['private_test']:.2%}; the top "
            f"class is the Keras file's for {info.get('same_top_class_public_test', float('nan')):.2%} of PublicTest "
            f"faces, and probabilities differ by at most {info['max_prob_diff_public_test']:g}. Time per face "
            f"(batch of 1, {info['num_threads']} threads): {times['litert']} ms, against {times['keras']} ms "
            f"for the Keras file, both measured on {info.get('measured_on', 'this machine')}.\n")


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


def summarize(runs: Path | list[Path], data, shipped_file: Path | None = None, tta: str | int = "auto",
              precise_bn: bool = True) -> dict:
    """Select each run's weights on PublicTest, try :func:`precise_batchnorm` on each (``precise_bn``), average
    several runs' networks (``ensemble``), then :func:`finish`: test-time views, export, and the exported file
    measured on raw pixels."""
    from .evaluate import evaluate
    from .models import ensemble

    runs = [runs] if isinstance(runs, Path) else list(runs)
    picked = []  # (run, result.json, config.json, model, chosen, scores) per run
    bn_info: dict[str, dict] = {}  # per run
    for run in runs:
        print(f"{run}:", flush=True)
        model, chosen, scores = select_on_public_test(run, data)
        if precise_bn:
            model, bn_info[str(run)] = precise_batchnorm(model, data, before=scores[chosen])
        picked.append((run, json.loads((run / "result.json").read_text()),
                       json.loads((run / "config.json").read_text()), model, chosen, scores))
    nets = [p[3] for p in picked]
    model = nets[0] if len(nets) == 1 else ensemble(nets, name="emonet_ensemble")
    measured = finish(model, data, shipped_file, tta)
    if len(picked) > 1:
        measured["without_tta_inside"]["members_public_test"] = [
            round(float(evaluate(m, data.val).accuracy), 4) for m in nets]
    runs_info = []
    for run, res, cfg, _m, chosen, scores in picked:
        best_epoch = int(chosen.split("-")[1]) if chosen.startswith("epoch-") else res["best_epoch"]
        if chosen == "last.keras":
            best_epoch = res["epochs_run"]
        runs_info.append(dict(run=str(run), epochs=res["epochs_run"], best_epoch=best_epoch, chosen=chosen,
                              wall_time_min=round(res["wall_time_s"] / 60, 1), seed=res["seed"], params=res["params"],
                              candidate_scores=scores))
    first = runs_info[0]
    res, cfg = picked[0][1], picked[0][2]
    # an ensemble's members train side by side: the wall clock is the longest member's
    return dict(measured, name=model.name, arch=res["arch"], params=sum(r["params"] for r in runs_info),
                epochs=max(r["epochs"] for r in runs_info), best_epoch=first["best_epoch"], chosen=first["chosen"],
                wall_time_min=max(r["wall_time_min"] for r in runs_info), seed=res["seed"], config=cfg,
                candidate_scores=first["candidate_scores"], members=runs_info if len(runs_info) > 1 else [],
                **({"precise_bn": bn_info[str(runs[0])]} if bn_info else {}))


def cores_in(text: str | None) -> int | None:
    """The number of cores a hardware description names ("2 cores, AMD EPYC", "2-core x86_64 CPU"), or None.

    >>> cores_in("2-core x86_64 CPU (no GPU)"), cores_in("16 cores, Intel Xeon"), cores_in("a GPU")
    (2, 16, None)
    """
    import re

    m = re.search(r"(\d+)[- ]cores?\b", text or "")
    return int(m.group(1)) if m else None


def run_compute(run: Path, shipped: dict | None = None, seen: frozenset = frozenset()) -> dict:
    """What a finished run recorded about its cost: training seconds (every epoch logged, the parts of a resumed
    run included, else this call's wall time), the seconds its teachers' targets took, its cores, and each
    teacher's own cost (:func:`teacher_compute`)."""
    res = json.loads((run / "result.json").read_text())
    cfg = json.loads((run / "config.json").read_text()) if (run / "config.json").is_file() else res.get("config", {})
    init = cfg.get("init_from")  # a fine-tuned run: the network it started from counts too
    return dict(run=str(run), training_s=float(res.get("train_time_s") or res["wall_time_s"]),
                teacher_targets_s=float(res.get("teacher_targets_s") or 0.0), cores=res.get("cores"),
                teachers=[teacher_compute(t, shipped, seen) for t in cfg.get("teachers") or []],
                init=teacher_compute({"teacher": init["model"], "sha256": init["sha256"]}, shipped, seen)
                if init else None)


def teacher_compute(teacher: dict, shipped: dict | None = None, seen: frozenset = frozenset()) -> dict:
    """A teacher's core-hours (``{"teacher", "sha256", "core_hours", "source"}``; ``core_hours`` None when not recorded):
    the network shipped before when the teacher's sha256 is that of ``shipped["sha256"]`` (its results.json
    entry, ``shipped["entry"]``, and hardware, ``shipped["hardware"]``), else the run folder holding the teacher
    file (its ``result.json``, and its own teachers in turn)."""
    sha, name = teacher.get("sha256"), teacher.get("teacher", "?")
    if shipped and sha and sha == shipped.get("sha256"):
        total = compute_summary(shipped["entry"], shipped["hardware"])["core_hours"]
        return dict(teacher=name, sha256=sha, core_hours=total, source="the network shipped before (its results.json entry)")
    folder = Path(name).parent
    if sha not in seen and (folder / "result.json").is_file():
        rc = run_compute(folder, shipped, seen | {sha})
        total = compute_summary({"compute": dict(runs=[rc], shipping_s=None)}, "")["core_hours"]
        return dict(teacher=name, sha256=sha, core_hours=total, source=f"{folder}/result.json")
    return dict(teacher=name, sha256=sha, core_hours=None, source="not recorded")


def _recorded_cost(c: dict) -> tuple[float, float, set, list[str], list[dict], list[dict]]:
    """From ``compute`` as :func:`ship_runs` records it: wall seconds, own core-seconds, core counts, words,
    teachers and starting networks."""
    runs = c["runs"]
    wall = max(r["training_s"] + r["teacher_targets_s"] for r in runs)  # runs side by side count once
    core_s = sum((r["training_s"] + r["teacher_targets_s"]) * (r["cores"] or 1) for r in runs)
    cores = {r["cores"] for r in runs}
    targets = sum(r["teacher_targets_s"] for r in runs)
    parts = [f"training {max(r['training_s'] for r in runs) / 60:.1f} min"
             + (" (runs side by side)" if len(runs) > 1 else "")
             + (f", the teachers' targets {targets / 60:.1f} min" if targets else "")]
    if c.get("shipping_s") is not None:
        wall += c["shipping_s"]
        core_s += c["shipping_s"] * c["shipping_cores"]
        cores.add(c["shipping_cores"])
        bn = f", precise BatchNorm {c['precise_bn_s'] / 60:.1f} min of it" if c.get("precise_bn_s") else ""
        parts.append(f"`python -m emolib ship` {c['shipping_s'] / 60:.1f} min (weight selection{bn}, test-time "
                     f"views, export)")
    else:  # shipped before the shipping was timed: its precise BatchNorm alone was
        if c.get("precise_bn_s"):
            wall += c["precise_bn_s"]
            core_s += c["precise_bn_s"] * c["precise_bn_cores"]
            cores.add(c["precise_bn_cores"])
            parts.append(f"precise BatchNorm {c['precise_bn_s'] / 60:.1f} min")
        parts.append("weight selection, test-time views and export not recorded")
    return (wall, core_s, cores, parts, [t for r in runs for t in r["teachers"]],
            [r["init"] for r in runs if r.get("init")])


def compute_summary(s: dict, hardware: str) -> dict:
    """Wall-clock hours and core-hours behind a shipped model, from its results.json entry ``s``.

    Uses ``s["compute"]``, written by :func:`ship_runs` (each run's training and teacher-target seconds and cores,
    the shipping's own seconds and cores, each teacher's core-hours). Runs trained side by side count once in the
    wall clock, each in the core-hours. Returns ``wall_h`` (this model's own steps), ``core_hours`` (teachers
    included, None when a teacher's is not recorded), ``cores`` (a set of the core counts seen) and ``parts``
    (words for the card).
    """
    wall, own_core_s, cores, parts, teachers, starts = _recorded_cost(s["compute"])
    # a network that is both a teacher and the starting point (or teaches twice) counts once
    unique = {t.get("sha256") or t["teacher"]: t["core_hours"] for t in teachers + starts}
    known = list(unique.values())
    core_hours = None if None in known else own_core_s / 3600 + sum(known)
    return dict(wall_h=wall / 3600, own_core_hours=own_core_s / 3600, core_hours=core_hours, cores=cores,
                parts=parts, teachers=teachers, starts=starts)


def compute_line(s: dict, hardware: str) -> str:
    """The model card's **Compute** line (:func:`compute_summary`)."""
    c = compute_summary(s, hardware)
    cores = " and ".join(str(n) for n in sorted(c["cores"]))
    text = (f"* **Compute**: {c['wall_h']:.2f} h wall clock on {cores} cores, "
            f"{c['own_core_hours']:.2f} core-hours ({'; '.join(c['parts'])})")
    if not c["teachers"] and not c["starts"]:
        return text + "; no teachers.\n"

    def each(nets: list[dict]) -> str:
        return "; ".join(f"`{t['teacher']}`: " + (f"{t['core_hours']:.2f} core-hours ({t['source']})"
                                                  if t["core_hours"] is not None else "not recorded") for t in nets)

    before = []
    if c["starts"]:
        before.append(f"fine-tuned from {each(c['starts'])}")
    if c["teachers"]:
        before.append(f"distilled from {len(c['teachers'])} teacher(s), {each(c['teachers'])}")
    total = (f"{c['core_hours']:.2f} core-hours in all" if c["core_hours"] is not None
             else "the total is unknown (the cost of a network it learnt from was not recorded)")
    if c["core_hours"] is not None and len(c["teachers"]) + len(c["starts"]) > len(
            {t.get("sha256") or t["teacher"] for t in c["teachers"] + c["starts"]}):
        total += ", each network counted once"
    return text + f"; {'; '.join(before)}: {total}.\n"


# --------------------------------------------------------------------------- the model card
def _architecture_fields(s: dict) -> dict:
    """The card's architecture: ``build_emonet``'s arguments, the filters per block, the dropout rates, the size."""
    kwargs = s["config"].get("model_kwargs", {})
    width, drop = kwargs.get("width", 32), kwargs.get("dropout", 0.2)
    n = len(s["members"])
    return dict(build_args=f"width={width}" + (f", dropout={drop:g}" if drop != 0.2 else ""),
                filters=", ".join(str(width * k) for k in (1, 2, 4, 8)), dropout=f"{drop:g}",
                head_dropout=f"{2 * drop:g}", params=f"{s['params']:,}", size_mb=s["size_mb"],
                each=f" in all ({n} networks of {s['members'][0]['params']:,})" if n else "")


def _selection_words(s: dict) -> str:
    """How the weights were chosen on PublicTest: among per-epoch checkpoints, or best against last."""
    if any(k.startswith("epoch-") for k in s["candidate_scores"]):
        return (f"among {len(s['candidate_scores'])} saved sets of weights (the run's `best.keras`, `last.keras` "
                "and per-epoch checkpoints)")
    return "between the run's `best.keras` (best epoch on PublicTest) and `last.keras`"


def _run_lines(s: dict, hardware: str) -> dict:
    """The **Ensemble** line (empty for one network) and the **Training run(s)** line."""
    selection, n = _selection_words(s), len(s["members"])
    if not n:
        return dict(members_line="",
                    run_line=(f"* **Training run**: {s['epochs']} epochs in {s['wall_time_min']} min wall clock. "
                              f"Selection on PublicTest only,\n  {selection}: chosen `{s['chosen']}` (epoch "
                              f"{s['best_epoch']}).\n  Hardware: {hardware}."))
    single = s["without_tta_inside"]
    runs = "; ".join(f"`{m['run']}`: seed {m['seed']}, {m['epochs']} epochs in {m['wall_time_min']} min, "
                     f"chosen `{m['chosen']}` (epoch {m['best_epoch']}), PublicTest {acc:.2%}"
                     for m, acc in zip(s["members"], single["members_public_test"]))
    return dict(members_line=(f"* **Ensemble of {n} networks**: `emolib.models.ensemble` averages the probabilities "
                              f"of {n} emonets trained with the same recipe and different seeds, side by side (one "
                              f"process and one thread each, at the same time). Members: {runs}. PublicTest of the "
                              f"average: {single['public_test']:.2%}.\n"),
                run_line=(f"* **Training runs**: {n} runs at the same time, {s['wall_time_min']} min wall clock (the "
                          f"longer run); each selected on PublicTest only, {selection}.\n  Hardware: {hardware}."))


def _reproduce_words(s: dict) -> str:
    """How to rebuild the shipped network: the two-hour recipe, an ensemble, a distilled or a fine-tuned run."""
    if s["config"].get("init_from"):
        return ("the network it starts from (`make reproduce-2h` for the two-hour one), then the fine-tuning run "
                "with `--init` (`docs/TRAINING.md`, *Fine-tuning*), then `python -m emolib ship run RUN`")
    if s["config"].get("teachers"):
        return ("its teachers first, then the run with `--teacher` and `--distill-alpha` (`docs/TRAINING.md`, "
                "*Knowledge distillation*), then `python -m emolib ship run RUN`")
    if s["members"]:
        return ("`python -m emolib ship run " + " ".join(m["run"] for m in s["members"]) + "` on runs trained "
                "side by side (`python benchmarks/benchmark_recipes.py emonet-bf16-ensemble2-full` trains two)")
    return "`make reproduce` (that is `make reproduce-2h`: `make train-full`, then `make ship`)"


def _views_fields(s: dict) -> dict:
    """The test-time views inside the file (or the time per face without them), and the flip row of the table."""
    views, times = s["tta_views"], shipped_times(s)
    if views == 1:
        return dict(views_line=f"* **Time per face** (batch of 1): {times['keras']} ms.\n",
                    flip_row=f"| PrivateTest with horizontal-flip TTA | {s['private_test_tta']:.2%} |\n")
    others = "; ".join(f"{v} view{'s' * (int(v) > 1)}: {c['public_test']:.2%}, {c['latency_ms_litert']} ms"
                       for v, c in s.get("tta_candidates", {}).items())
    return dict(flip_row="", views_line=(
        f"* **Test-time augmentation inside the model**: the file wraps the {'ensemble' if s['members'] else 'network'} "
        f"in `emolib.models.with_tta(..., flip=True, batched=True)`, which averages the predictions for "
        f"{views} views of each face: {TTA_WORDS.get(views, 'shifted and mirrored copies')}. Candidates "
        f"measured when it shipped (PublicTest accuracy of the Keras file, LiteRT int8 time per face): "
        f"{others}; `--tta auto`, the default of `python -m emolib ship`, ships the most accurate on PublicTest whose "
        f"LiteRT copy classifies a face within {VIEW_BUDGET_MS:g} ms. "
        f"Time per face in Keras (batch of 1): {times['network']} ms for the network alone, "
        f"{times['keras']} ms for the file.\n"))


def _precise_bn_line(s: dict) -> str:
    """The **Precise BatchNorm** line, empty when the step was not tried."""
    bn = s.get("precise_bn")
    if not bn:
        return ""
    return (f"* **Precise BatchNorm** (`emolib.train.recalibrate_batchnorm`): after training, each BatchNormalization "
            f"layer's moving mean and variance were recomputed over the {bn['images']:,} training faces as the network "
            f"sees them at inference (central crop, no augmentation, no dropout) instead of the running averages over "
            f"augmented batches kept in training; {bn['seconds']} s on {bn.get('measured_on', 'this machine')}. "
            f"PublicTest, network alone: {bn['public_test_before']:.2%} before, {bn['public_test_after']:.2%} after; "
            + ("kept." if bn["kept"] else "not kept (no better on PublicTest).") + "\n")


def _recipe_fields(s: dict) -> dict:
    """The training recipe in words: where the weights started, augmentation, mixup, distillation, schedule."""
    config = s["config"]
    init, a, d = config.get("init_from"), config.get("mixup_alpha"), config.get("distill_alpha")
    mix = (f", then mixup in the input pipeline (each face and its label blended with another's of the batch, "
           f"weights drawn from Beta({a}, {a}), `--mixup {a}`)" if a else "")
    if config.get("teachers"):
        ls = config.get("distill_label_smoothing", 0.1)
        mix += (f", and knowledge distillation: each training face's target is {d:g} × its teachers' averaged "
                f"probabilities for the plain face + {1 - d:g} × its label smoothed by {ls:g} (`--teacher`, "
                f"`--distill-alpha {d:g}`; teachers in the Compute line)")
    origin = "trained from scratch"
    if init:
        origin = (f"fine-tuned from `{init['model']}` (sha256 {init['sha256'][:12]}..., a network trained from scratch "
                  "on the same faces; the Compute line counts it), its weights the starting point of the recipe below")
    return dict(
        origin=origin, mix=mix,
        erase=(" + random erasing (a mid-grey patch on about half the crops, `--aug crop40-erase`)"
               if config.get("model_kwargs", {}).get("aug") == "crop40-erase" else ""),
        base_lr=f"{config['base_lr']:.3g}", batch_size=config["batch_size"], warmup_epochs=config["warmup_epochs"],
        epochs=config["epochs"], budget_min=f"{config['budget_s'] / 60 if config['budget_s'] else 0:.0f}",
        seeds=", ".join(str(m["seed"]) for m in s["members"]) if s["members"] else str(s["seed"]),
        bf16_line=("\n  Trained under mixed bfloat16 precision (bfloat16 compute, float32 weights); "
                   "the shipped file computes in float32." if config.get("bf16") or
                   config.get("precision_used") == "bfloat16" else ""),
        reproduce=_reproduce_words(s))


def card_fields(s: dict, hardware: str) -> dict:
    """Every ``$name`` of :data:`CARD_TEMPLATE`, from the shipped model's ``results.json`` entry ``s``."""
    return dict(
        **_architecture_fields(s), **_run_lines(s, hardware), **_views_fields(s), **_recipe_fields(s),
        precise_bn_line=_precise_bn_line(s), litert_line=litert_card_line(s["litert"], shipped_times(s)), sha256=s["sha256"],
        version=s["version"],
        compute_line=compute_line(s, hardware), public_test=f"{s['public_test']:.2%}",
        private_test=f"{s['private_test']:.2%}", private_top2=f"{s['private_top2']:.2%}",
        recall_rows="\n".join(f"| {c} | {r:.1%} |" for c, r in s["private_recall"].items()))


def render_card(s: dict, hardware: str) -> str:
    """MODEL_CARD.md's text for the shipped model's ``results.json`` entry ``s``."""
    return string.Template(CARD_TEMPLATE.read_text(encoding="utf-8")).substitute(card_fields(s, hardware))


def write_card(s: dict, hardware: str, assets: Path = ASSETS) -> Path:
    """Write :func:`render_card` to ``assets/MODEL_CARD.md``; returns its path."""
    path = Path(assets) / "MODEL_CARD.md"
    path.write_text(render_card(s, hardware), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- shipping
def shipped_before(assets: Path = ASSETS) -> dict | None:
    """The network shipped in ``assets``: its sha256, results.json entry and hardware (for
    :func:`teacher_compute`), or None."""
    from .train import file_sha256

    results_file, model_file = Path(assets) / "results.json", Path(assets) / "emonet.keras"
    if not (results_file.is_file() and model_file.is_file()):
        return None
    results = json.loads(results_file.read_text())
    entry = next((m for m in results.get("models", []) if m.get("name") == SHIPPED), None)
    return entry and dict(sha256=file_sha256(model_file), entry=entry, hardware=results.get("hardware", ""))


def _read_results(assets: Path) -> dict:
    """``assets/results.json``, or an empty one."""
    path = Path(assets) / "results.json"
    return json.loads(path.read_text()) if path.is_file() else {"models": []}


def _write_results(results: dict, assets: Path) -> None:
    (Path(assets) / "results.json").write_text(json.dumps(results, indent=1))


def _beats_shipped(shipped: dict, current: Path, data) -> bool:
    """Whether the new network beats the one in ``current`` on PublicTest; like with like: the networks alone,
    each seeing every face once."""
    from .evaluate import evaluate
    from .models import load_model_file, without_tta

    now = float(evaluate(without_tta(load_model_file(current)), data.val).accuracy)
    new = shipped["without_tta_inside"]["public_test"]
    if new <= now:
        print(f"not shipped: PublicTest {new:.4f} does not beat the shipped network's {now:.4f} "
              "(--replace ships it anyway)")
        return False
    print(f"shipped: PublicTest {new:.4f} against {now:.4f} for the network shipped before", flush=True)
    return True


def _baseline_entry(baseline: Path, data) -> dict:
    """The seed baseline's results.json entry: its weights selected on PublicTest, no views, no recalibration."""
    return dict(summarize(Path(baseline), data, tta=1, precise_bn=False), name=BASELINE)


def ship_runs(runs: list[Path], data, assets: Path = ASSETS, *, baseline: Path | None = None,
              tta: str | int = "auto", precise_bn: bool = True, replace: bool = False,
              hardware: str = DEFAULT_HARDWARE) -> bool:
    """Ship finished runs (several: one ensemble) into ``assets``: :func:`summarize`, then, when the network beats
    the one shipped there on PublicTest (or ``replace``), emonet.keras, its LiteRT copy, history.json,
    results.json (with ``baseline`` measured, or the baseline measured before) and MODEL_CARD.md.
    Returns whether it shipped."""
    from .history import load_history

    runs = [Path(r) for r in runs]
    check_runs(runs + ([Path(baseline)] if baseline else []))
    assets = Path(assets)
    assets.mkdir(parents=True, exist_ok=True)
    before = shipped_before(assets)  # read before it is replaced: a teacher may be the network shipped now
    t_ship = time.time()
    candidate, current = assets / "emonet.candidate.keras", assets / "emonet.keras"
    shipped = summarize(runs, data, candidate, tta=tta, precise_bn=precise_bn)
    if current.is_file() and not replace and not _beats_shipped(shipped, current, data):
        candidate.unlink()
        return False
    candidate.replace(current)
    shipped["sha256"] = (before or {}).get("sha256")  # the file it replaces: a different one is a new version
    stamp_identity(shipped, assets)
    shipped["litert"] = ship_litert(data, assets, _timed(shipped))
    history = load_history(runs[0])  # an ensemble's history is its first member's, as the run logged it
    if history is not None:
        (assets / "history.json").write_text(json.dumps(history[0], indent=1))
    shipped["compute"] = dict(runs=[run_compute(r, before) for r in runs], shipping_s=round(time.time() - t_ship, 1),
                              shipping_cores=cores_in(cpu_name()) or 1,
                              precise_bn_s=(shipped.get("precise_bn") or {}).get("seconds"))
    models = [dict(shipped, name=SHIPPED)]
    if baseline:
        models.append(_baseline_entry(baseline, data))
    else:  # keep the baseline measured before (its run may be gone)
        models += [m for m in _read_results(assets)["models"] if m["name"] == BASELINE]
    _write_results({"hardware": hardware, "models": models}, assets)
    write_card(shipped, hardware, assets)
    print(json.dumps(models, indent=1))
    return True


def stamp_identity(s: dict, assets: Path) -> dict:
    """Record the shipped file's identity in its results.json entry ``s``: the SHA-256 of ``emonet.keras`` and the
    emolib version that ships it, a new one (:func:`bump_version`) when emolib's own assets get a new network."""
    from .train import file_sha256

    sha = file_sha256(Path(assets) / "emonet.keras")
    if sha != s.get("sha256") and Path(assets).resolve() == ASSETS.resolve() and in_checkout():
        s["version"] = bump_version()
    s["sha256"] = sha
    s.setdefault("version", _version())
    return s


def _version(init: Path = ASSETS.parent / "__init__.py") -> str:
    return re.search(r'^__version__ = "([^"]+)"', init.read_text(encoding="utf-8"), re.M).group(1)


def bump_version(init: Path = ASSETS.parent / "__init__.py") -> str:
    """Raise the patch number of ``__version__`` in emolib's ``__init__.py`` (a new network is a new release of the
    package); returns the new version. Then ``pip install --no-deps -e .`` updates the installed metadata.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     init = Path(tmp) / "__init__.py"
    ...     _ = init.write_text('__version__ = "0.1.9"  # the only version string\\n')
    ...     bump_version(init), init.read_text()
    ('0.1.10', '__version__ = "0.1.10"  # the only version string\\n')
    """
    text = init.read_text(encoding="utf-8")
    major, minor, patch = _version(init).split(".")[:3]
    new = f"{major}.{minor}.{int(patch) + 1}"
    init.write_text(re.sub(r'^__version__ = "[^"]+"', f'__version__ = "{new}"', text, count=1, flags=re.M),
                    encoding="utf-8")
    return new


def _timed(s: dict) -> dict:
    """The shipped views' entry of ``tta_candidates``: where :func:`pick_views` stored their times per face."""
    return s["tta_candidates"][str(s["tta_views"])]


def _shipped_entry(results: dict, assets: Path) -> dict:
    """The shipped model's entry of ``results``; :class:`ShipError` when ``assets`` holds no shipped model."""
    s = next((m for m in results["models"] if m["name"] == SHIPPED), None)
    if s is None or not (Path(assets) / "emonet.keras").is_file():
        raise ShipError(f"no shipped model to work on: {assets} needs emonet.keras and results.json with an "
                        f"'{SHIPPED}' entry (ship a run first)")
    return s


def reship(data, assets: Path = ASSETS, *, views: bool = True, precise_bn: bool = False, tta: str | int = "auto",
           hardware: str = DEFAULT_HARDWARE) -> dict:
    """Work on the network shipped in ``assets`` without a run: recalibrate its BatchNorm (``precise_bn``), choose
    its test-time views again (``views``; always with ``precise_bn``), then rewrite its LiteRT copy, results.json
    and card. With neither, only the LiteRT copy and its figures. Returns its new results.json entry."""
    assets = Path(assets)
    results = _read_results(assets)
    s = _shipped_entry(results, assets)
    if views or precise_bn:
        from .models import load_model_file, without_tta

        t_ship = time.time()
        candidate = assets / "emonet.candidate.keras"
        network = without_tta(load_model_file(assets / "emonet.keras"))
        if precise_bn:
            network, s["precise_bn"] = precise_batchnorm(network, data)
        s.update(finish(network, data, candidate, tta))
        if s.get("compute"):  # this work adds to the shipping time
            s["compute"]["shipping_s"] = round(s["compute"]["shipping_s"] + time.time() - t_ship, 1)
            if precise_bn:
                s["compute"]["precise_bn_s"] = (s["compute"].get("precise_bn_s") or 0) + s["precise_bn"]["seconds"]
        candidate.replace(assets / "emonet.keras")
        stamp_identity(s, assets)
        s["litert"] = ship_litert(data, assets, _timed(s))
    else:  # a new LiteRT copy, timed again: the shipped views' figures take the new times (stored once)
        timed = _timed(s)
        for key in ("latency_ms_litert", "latency_ms_keras"):
            timed.pop(key)
        s["litert"] = ship_litert(data, assets, timed)
    _write_results(results, assets)
    write_card(s, results.get("hardware", hardware), assets)
    print(json.dumps(s, indent=1))
    return s


def measure_baseline(baseline: Path, data, assets: Path = ASSETS) -> dict:
    """(Re)measure the seed baseline into ``assets/results.json``, keeping the shipped model and its card."""
    check_runs([Path(baseline)])
    results = _read_results(assets)
    _shipped_entry(results, assets)
    base = _baseline_entry(baseline, data)
    results["models"] = [m for m in results["models"] if m["name"] != BASELINE] + [base]
    _write_results(results, assets)
    print(json.dumps(base, indent=1))
    return base


# --------------------------------------------------------------------------- python -m emolib ship
def in_checkout(package: Path = ASSETS.parent) -> bool:
    """Whether emolib runs from a checkout of the course (its source, with ``pyproject.toml`` beside it), not from
    an install (``site-packages``), which nothing writes into.

    >>> in_checkout(Path("/usr/lib/python3/site-packages/emolib"))
    False
    """
    return (package.parent / "pyproject.toml").is_file() and (package / "__init__.py").is_file()


def assets_folder(given: Path | None, package: Path = ASSETS.parent) -> Path:
    """The folder ``ship`` writes into: ``given``, else emolib/assets in a checkout; an installed emolib needs one.

    >>> assets_folder(Path("out")).name
    'out'
    >>> assets_folder(None, Path("/usr/lib/python3/site-packages/emolib"))
    Traceback (most recent call last):
    ...
    emolib.ship.ShipError: emolib is installed (...), not a checkout of the course: ship never writes into an ...
    """
    if given is not None:
        return given
    if not in_checkout(package):
        raise ShipError(f"emolib is installed ({package}), not a checkout of the course: ship never writes into an "
                        f"installed package; give the folder to write into with --assets DIR")
    return package / "assets"


def add_parser(subparsers) -> argparse.ArgumentParser:
    """``python -m emolib ship`` and its subcommands, under ``subparsers`` (emolib.__main__'s)."""
    ship = subparsers.add_parser("ship", help="ship a finished run as emolib's pretrained model, with its card",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ship.add_subparsers(dest="ship_command", required=True, metavar="{run,views,precise-bn,litert,baseline}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--assets", type=Path, default=None,
                        help="the folder the shipped model lives in (default, in a checkout of the course only: "
                             "emolib/assets; an installed emolib is never written into, so give a folder)")
    common.add_argument("--data", default=None, help="FER2013 location (default: $EMOLIB_DATA or data/fer2013)")
    views = argparse.ArgumentParser(add_help=False)
    views.add_argument("--tta", choices=VIEW_CHOICES, default="auto",
                       help="test-time views inside the shipped file: auto (default) picks the best on PublicTest "
                            f"among those within {VIEW_BUDGET_MS:g} ms per face in LiteRT")
    hardware = argparse.ArgumentParser(add_help=False)
    hardware.add_argument("--hardware", default=DEFAULT_HARDWARE,
                          help=f"the training hardware the card names (default: {DEFAULT_HARDWARE})")
    r = sub.add_parser("run", parents=[common, views, hardware], help="ship one or more finished training runs")
    r.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                   help="a finished run folder; several runs (trained side by side) ship as one ensemble")
    r.add_argument("--baseline", type=Path, default=None, help="also measure this seed-baseline run")
    r.add_argument("--no-precise-bn", action="store_true",
                   help="ship the run's BatchNorm statistics as trained (by default they are recalibrated on the "
                        "training faces when that improves PublicTest)")
    r.add_argument("--replace", action="store_true",
                   help="ship even when the run does not beat the shipped model on PublicTest")
    sub.add_parser("views", parents=[common, views, hardware],
                   help="keep the shipped network; choose its test-time views again (--tta) and rewrite "
                        "emonet.keras, its LiteRT copy, results.json and the card")
    sub.add_parser("precise-bn", parents=[common, views, hardware],
                   help="recalibrate the shipped network's BatchNorm statistics on the training faces, keep that "
                        "when PublicTest improves, then choose its test-time views again as `views`")
    sub.add_parser("litert", parents=[common, hardware],
                   help="keep the shipped model; only (re)write its LiteRT copies (emonet.tflite, emonet_1view.tflite) "
                        "and their figures")
    b = sub.add_parser("baseline", parents=[common],
                       help="keep the shipped model and its card; only (re)measure the baseline into results.json")
    b.add_argument("baseline", type=Path, metavar="RUN", help="the seed baseline's run folder")
    ship.set_defaults(func=main)
    return ship


def main(args: argparse.Namespace) -> int:
    """Run a parsed ``python -m emolib ship`` command: 0 when done, 1 when the run did not beat the shipped
    network, 2 with a message when it cannot start."""
    from .data import DataError, load_fer2013

    args.assets = assets_folder(args.assets)
    tta = getattr(args, "tta", "auto")
    tta = tta if tta == "auto" else int(tta)
    for folder in getattr(args, "runs", []) + [b for b in [getattr(args, "baseline", None)] if b]:
        check_runs([folder])  # before the data is read
    if args.ship_command != "run":
        _shipped_entry(_read_results(args.assets), args.assets)
    try:
        data = load_fer2013(args.data, progress=False)
    except DataError as err:
        raise ShipError(str(err)) from None
    if args.ship_command == "run":
        return 0 if ship_runs(args.runs, data, args.assets, baseline=args.baseline, tta=tta,
                              precise_bn=not args.no_precise_bn, replace=args.replace, hardware=args.hardware) else 1
    if args.ship_command == "baseline":
        measure_baseline(args.baseline, data, args.assets)
    else:
        reship(data, args.assets, views=args.ship_command == "views", precise_bn=args.ship_command == "precise-bn",
               tta=tta, hardware=args.hardware)
    return 0
