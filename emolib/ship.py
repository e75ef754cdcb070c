"""Ship a finished training run as emolib's pretrained model, with its card.

    python -m emolib ship run RUN [RUN ...] [--baseline runs/seed] [--tta auto|1|2|6]
    python -m emolib ship views [--tta auto|1|2|6]
    python -m emolib ship precise-bn [--tta auto|1|2|6]
    python -m emolib ship litert

Writes emolib/assets/emonet.keras (without optimizer state), its LiteRT copy
emonet.tflite (dynamic-range int8; what ``emolib.predict`` runs by default), history.json,
results.json and MODEL_CARD.md. The accuracies in the card are measured here by
loading the saved file and predicting raw pixels. The run replaces the shipped
model only when its network scores higher on PublicTest (or with ``--replace``).
``--tta`` sets how many test-time views the file averages over (``emolib.models.with_tta``
inside the model, see ``TTA_CHOICES``): 1 (the network alone), 2 (the face and its mirror image) or 6
(the face shifted 3 pixels along a diagonal both ways, each mirrored). By default (``auto``) it ships the
candidate with the best PublicTest accuracy among those whose LiteRT copy classifies a face in under
5 ms. The card reports every candidate.
Before the views, the selected network's BatchNorm statistics are recomputed on the training faces as the
network sees them at inference (``emolib.train.recalibrate_batchnorm``, "precise BatchNorm"); the recalibrated
network is kept when it scores higher on PublicTest (``--no-precise-bn`` skips the step).
``--tta-only`` keeps the shipped network and chooses its views again; ``--precise-bn-only`` recalibrates the
shipped network first, as above; ``--litert-only`` rewrites just the
LiteRT copy and its figures.
Several runs (trained side by side, as ``benchmark_recipes.py emonet-bf16-ensemble2-full`` does) ship as
one ``emolib.models.ensemble`` that averages their networks; each run's weights are selected on PublicTest first.
The card's **Compute** line states the time behind the shipped network (``compute_line``): each run's training
(every epoch logged, the parts of a resumed run included) and its teachers' targets, this script's own time, on
the cores each used, and for a distilled run each teacher's own core-hours (recorded as ``compute`` in results.json).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
MAX_LATENCY_MS = 5.0  # the inference target: one face in under 5 ms on the 2-core machine
# test-time views the shipped file may hold: number of views -> shifts for emolib.models.with_tta(flip=True)
TTA_CHOICES: dict[int, tuple[tuple[int, int], ...] | None] = {
    1: None,                              # the network alone
    2: ((0, 0),),                         # the face and its mirror image
    6: ((0, 0), (3, 3), (-3, -3)),        # + the face moved 3 pixels down-right and up-left, each mirrored too
}
TTA_WORDS = {2: "the face and its mirror image",
             6: "the face, the face moved 3 pixels down-right and 3 pixels up-left, and the mirror image of each "
                "(so the shifts cover all four diagonal directions)"}


def with_views(model, views: int):
    """``model`` wrapped in ``with_tta`` (batched) for one of :data:`TTA_CHOICES`; the model itself for 1 view."""
    from emolib.models import with_tta

    if TTA_CHOICES[views] is None:
        return model
    return with_tta(model, TTA_CHOICES[views], flip=True, batched=True, name=f"{model.name}_tta{views}")


def select_on_public_test(run: Path, data) -> tuple["keras.Model", str, dict]:
    """Rebuild the run's architecture from emolib (current definition), fill it with each
    saved set of weights (best.keras, last.keras, per-epoch snapshots in ``<run>-snapshots/``)
    and keep the one with the best PublicTest accuracy. PrivateTest is not looked at."""
    import keras

    from emolib.evaluate import evaluate
    from emolib.models import build_model, copy_weights, load_model_file

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

    from emolib.evaluate import evaluate
    from emolib.train import recalibrate_batchnorm

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
    """Exit with a one-line message (code 2) unless every folder holds a finished run."""
    for run in runs:
        missing = [f for f in ("result.json", "config.json", "best.keras") if not (run / f).is_file()]
        if missing:
            print(f"error: {run} is not a finished training run (missing {', '.join(missing)})", file=sys.stderr)
            sys.exit(2)


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

    from emolib.models import export_litert
    from emolib.predict import LiteRTModel

    with tempfile.TemporaryDirectory() as tmp:
        export_litert(model, Path(tmp) / "m.tflite", quantize=quantize)
        return latency_ms(LiteRTModel(Path(tmp) / "m.tflite"), face)


def ship_litert(data) -> dict:
    """Write ``emonet.tflite`` (dynamic-range int8) from the shipped ``emonet.keras`` and measure it against
    the Keras file: size, time per face (batch of 1) for both, PublicTest/PrivateTest accuracy, and on
    PublicTest the share of faces whose top class is unchanged and the largest probability difference."""
    import numpy as np

    from emolib.evaluate import evaluate
    from emolib.models import export_litert, load_model_file
    from emolib.predict import LiteRTModel

    keras_model = load_model_file(ASSETS / "emonet.keras")
    size = export_litert(keras_model, ASSETS / "emonet.tflite", quantize=True)
    lite = LiteRTModel(ASSETS / "emonet.tflite")
    val, keras_val = evaluate(lite, data.val), evaluate(keras_model, data.val)
    diff = float(np.abs(val.probs - keras_val.probs).max())
    same = float(np.mean(val.probs.argmax(1) == keras_val.probs.argmax(1)))
    face = data.test.images[:1][..., None]
    info = dict(size_mb=round(size / 1e6, 2), latency_ms=latency_ms(lite, face),
                latency_ms_keras=latency_ms(keras_model, face), num_threads=lite.num_threads,
                quantization="dynamic-range int8", public_test=round(float(val.accuracy), 4),
                public_test_keras=round(float(keras_val.accuracy), 4), same_top_class_public_test=round(same, 4),
                private_test=round(float(evaluate(lite, data.test).accuracy), 4),
                max_prob_diff_public_test=float(f"{diff:.2g}"), measured_on=cpu_name())
    print(f"LiteRT copy: {info}", flush=True)
    return info


def litert_card_line(info: dict) -> str:
    return (f"* **LiteRT copy** (`emonet.tflite`, {info['size_mb']} MB): the same network exported with "
            f"`emolib.models.export_litert(..., quantize=True)` ({info.get('quantization', 'float32')}: weights "
            f"stored as 8-bit integers, activations quantized on the fly); `emolib.predict` runs it by default "
            f"(`LiteRTModel`, no TensorFlow import). PublicTest {info['public_test']:.2%} (the Keras file: "
            f"{info.get('public_test_keras', float('nan')):.2%}), PrivateTest {info['private_test']:.2%}; the top "
            f"class is the Keras file's for {info.get('same_top_class_public_test', float('nan')):.2%} of PublicTest "
            f"faces, and probabilities differ by at most {info['max_prob_diff_public_test']:g}. Time per face "
            f"(batch of 1, {info['num_threads']} threads): {info['latency_ms']} ms, against {info['latency_ms_keras']} ms "
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


def choose_views(model, data, tta: str | int = "auto") -> tuple[int, dict]:
    """How many test-time views to ship ``model`` with: ``tta`` itself, or with ``"auto"`` the candidate of
    :data:`TTA_CHOICES` with the best PublicTest accuracy among those whose LiteRT copy (as ``emolib.predict``
    serves it) classifies a face in under :data:`MAX_LATENCY_MS`. Returns the views and each candidate's figures
    (always including the network alone, 1 view)."""
    from emolib.evaluate import evaluate

    face = data.test.images[:1][..., None]
    candidates = {}
    for views in (TTA_CHOICES if tta == "auto" else sorted({1, int(tta)})):
        m = with_views(model, views)
        candidates[views] = dict(public_test=round(float(evaluate(m, data.val).accuracy), 4),
                                 latency_ms_keras=latency_ms(m, face), latency_ms_litert=litert_latency_ms(m, face))
        print(f"  {views} view(s): {candidates[views]}", flush=True)
    if tta != "auto":
        return int(tta), candidates
    fast = [v for v, c in candidates.items() if c["latency_ms_litert"] < MAX_LATENCY_MS] or [1]
    views = max(fast, key=lambda v: (candidates[v]["public_test"], -v))  # a tie goes to fewer views
    print(f"test-time views inside the model: {views}", flush=True)
    return views, candidates


def finish(model, data, shipped_file: Path | None = None, tta: str | int = "auto") -> dict:
    """Wrap the selected network in its test-time views (:func:`choose_views`), save it without optimizer
    state to ``shipped_file`` (or a temporary file), and measure the saved file on raw pixels."""
    import tempfile

    from emolib.evaluate import evaluate
    from emolib.models import export_for_inference, load_model_file

    face = data.test.images[:1][..., None]
    views, candidates = choose_views(model, data, tta)
    single = dict(public_test=candidates[1]["public_test"], latency_ms=candidates[1]["latency_ms_keras"])
    model = with_views(model, views)
    if shipped_file is not None:
        size = export_for_inference(model, shipped_file)
        model = load_model_file(shipped_file)  # measure the file we ship
    else:
        with tempfile.TemporaryDirectory() as tmp:
            size = export_for_inference(model, Path(tmp) / "m.keras")
    val = evaluate(model, data.val)
    test = evaluate(model, data.test)
    test_tta = evaluate(model, data.test, tta=views == 1)  # a model with views inside is not flipped again
    recall = {c: round(float(r), 4) for c, r in zip(data.class_names, test.report["recall"].iloc[: len(data.class_names)])}
    return dict(public_test=round(float(val.accuracy), 4), private_test=round(float(test.accuracy), 4),
                private_test_tta=round(float(test_tta.accuracy), 4), private_top2=round(float(test.top2_accuracy), 4),
                private_recall=recall, size_mb=round(size / 1e6, 2), tta_views=views,
                tta_candidates={str(v): c for v, c in candidates.items()}, latency_ms=latency_ms(model, face),
                without_tta_inside=single)


def summarize(runs: Path | list[Path], data, shipped_file: Path | None = None, tta: str | int = "auto",
              precise_bn: bool = True) -> dict:
    """Select each run's weights on PublicTest, try :func:`precise_batchnorm` on each (``precise_bn``), average
    several runs' networks (``ensemble``), then :func:`finish`: test-time views, export, and the exported file
    measured on raw pixels."""
    from emolib.evaluate import evaluate
    from emolib.models import ensemble

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


def corrected_history(run: Path, scores: dict[str, float]) -> dict:
    """The run's logged history, with ``val_accuracy`` re-measured from the per-epoch weights.

    The shipped run logged its validation metrics on the whole 48x48 face while it
    trained on 40x40 crops (the mismatch fixed by ``CenterCrop`` in build_emonet);
    those logged values are kept as ``val_accuracy_full48``/``val_loss_full48``, and
    ``val_accuracy`` holds the PublicTest accuracy of each epoch's weights with the
    central crop, NaN for epochs whose weights were not kept.
    """
    import math

    hist = json.loads((run / "history.json").read_text())
    n = len(hist["accuracy"])
    if any(k.startswith("epoch-") for k in scores):
        hist["val_accuracy_full48"] = hist.pop("val_accuracy")
        hist["val_loss_full48"] = hist.pop("val_loss")
        hist["val_accuracy"] = [scores.get(f"epoch-{e}", math.nan) for e in range(1, n + 1)]
    return hist


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


def compute_summary(s: dict, hardware: str) -> dict:
    """Wall-clock hours and core-hours behind a shipped model, from its results.json entry ``s``.

    Uses ``s["compute"]``, written by this script since it records it (each run's training and teacher-target
    seconds and cores, this script's own seconds and cores, each teacher's core-hours); for an entry shipped
    before that, the training wall time (``wall_time_min``) on the cores named by ``hardware`` and the precise
    BatchNorm seconds on the cores named by its ``measured_on``. Runs trained side by side count once in the
    wall clock, each in the core-hours. Returns ``wall_h`` (this model's own steps), ``core_hours`` (teachers
    included, None when a teacher's is not recorded), ``cores`` (a set of the core counts seen) and ``parts``
    (words for the card).
    """
    c = s.get("compute")
    parts, teachers, starts = [], [], []
    if c:
        runs = c["runs"]
        train_wall = max(r["training_s"] + r["teacher_targets_s"] for r in runs)
        own_core_s = sum((r["training_s"] + r["teacher_targets_s"]) * (r["cores"] or 1) for r in runs)
        cores = {r["cores"] for r in runs}
        targets = sum(r["teacher_targets_s"] for r in runs)
        parts.append(f"training {max(r['training_s'] for r in runs) / 60:.1f} min"
                     + (" (runs side by side)" if len(runs) > 1 else "")
                     + (f", the teachers' targets {targets / 60:.1f} min" if targets else ""))
        teachers = [t for r in runs for t in r["teachers"]]
        starts = [r["init"] for r in runs if r.get("init")]
        if c.get("shipping_s") is not None:
            train_wall += c["shipping_s"]
            own_core_s += c["shipping_s"] * c["shipping_cores"]
            cores.add(c["shipping_cores"])
            bn = f", precise BatchNorm {c['precise_bn_s'] / 60:.1f} min of it" if c.get("precise_bn_s") else ""
            parts.append(f"`ship_model.py` {c['shipping_s'] / 60:.1f} min (weight selection{bn}, test-time views, "
                         f"export)")
        wall = train_wall
    else:
        train_cores = cores_in(hardware) or 1
        wall = s["wall_time_min"] * 60
        own_core_s = wall * train_cores
        cores = {train_cores}
        parts.append(f"training {s['wall_time_min']:.1f} min")
        bn = s.get("precise_bn")
        if bn:
            bn_cores = cores_in(bn.get("measured_on")) or train_cores
            wall += bn["seconds"]
            own_core_s += bn["seconds"] * bn_cores
            cores.add(bn_cores)
            parts.append(f"precise BatchNorm {bn['seconds'] / 60:.1f} min")
        parts.append("weight selection, test-time views and export not recorded")
        teachers = [dict(teacher=t.get("teacher", "?"), core_hours=None, source="not recorded")
                    for t in s.get("config", {}).get("teachers") or []]
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


def write_card(s: dict, hardware: str) -> None:
    """MODEL_CARD.md for the shipped model from its ``results.json`` entry ``s``."""
    width = s["config"].get("model_kwargs", {}).get("width", 32)
    filters = ", ".join(str(width * k) for k in (1, 2, 4, 8))
    drop = s["config"].get("model_kwargs", {}).get("dropout", 0.2)
    build_args = f"width={width}" + (f", dropout={drop:g}" if drop != 0.2 else "")
    rows = "\n".join(f"| {c} | {r:.1%} |" for c, r in s["private_recall"].items())
    if any(k.startswith("epoch-") for k in s["candidate_scores"]):
        selection = (f"among {len(s['candidate_scores'])} saved sets of weights (the run's `best.keras` and per-epoch "
                     "checkpoints), each re-measured with the central crop (the run logged its validation accuracy on "
                     "the whole 48x48 face, fixed since by the `CenterCrop` layer; `history.json` keeps both)")
    else:
        selection = "between the run's `best.keras` (best epoch on PublicTest) and `last.keras`"
    single = s["without_tta_inside"]
    n = len(s["members"])
    if n:
        runs_txt = "; ".join(f"`{m['run']}`: seed {m['seed']}, {m['epochs']} epochs in {m['wall_time_min']} min, "
                             f"chosen `{m['chosen']}` (epoch {m['best_epoch']}), PublicTest {acc:.2%}"
                             for m, acc in zip(s["members"], single["members_public_test"]))
        members_line = (f"* **Ensemble of {n} networks**: `emolib.models.ensemble` averages the probabilities of {n} "
                        f"emonets trained with the same recipe and different seeds, side by side (one process and one "
                        f"thread each, at the same time). Members: {runs_txt}. PublicTest of the average: "
                        f"{single['public_test']:.2%}.\n")
        run_line = (f"* **Training runs**: {n} runs at the same time, {s['wall_time_min']} min wall clock (the longer run); "
                    f"each selected on PublicTest only, {selection}.\n  Hardware: {hardware}.")
    else:
        members_line = ""
        run_line = (f"* **Training run**: {s['epochs']} epochs in {s['wall_time_min']} min wall clock. Selection on "
                    f"PublicTest only,\n  {selection}: chosen `{s['chosen']}` (epoch {s['best_epoch']}).\n"
                    f"  Hardware: {hardware}.")
    each = f" in all ({n} networks of {s['members'][0]['params']:,})" if n else ""
    reproduce = ("`python -m emolib ship run " + " ".join(m["run"] for m in s["members"]) + "` on runs trained "
                 "side by side (`python benchmarks/benchmark_recipes.py emonet-bf16-ensemble2-full` trains two)"
                 if n else "`make reproduce` (that is `make reproduce-2h`: `make train-full`, then `make ship`)")
    if s["config"].get("teachers"):
        reproduce = ("its teachers first, then the run with `--teacher` and `--distill-alpha` (`docs/TRAINING.md`, "
                     "*Knowledge distillation*), then `python -m emolib ship run RUN`")
    init = s["config"].get("init_from")
    if init:
        reproduce = ("the network it starts from (`make reproduce-2h` for the two-hour one), then the fine-tuning run "
                     "with `--init` (`docs/TRAINING.md`, *Fine-tuning*), then `python -m emolib ship run RUN`")
    seeds = ", ".join(str(m["seed"]) for m in s["members"]) if n else str(s["seed"])
    views = s.get("tta_views", 2 if s.get("flip_tta_inside") else 1)
    if views > 1:
        others = "; ".join(f"{v} view{'s' * (int(v) > 1)}: {c['public_test']:.2%}, {c['latency_ms_litert']} ms"
                           for v, c in s.get("tta_candidates", {}).items())
        tta_line = (f"* **Test-time augmentation inside the model**: the file wraps the {'ensemble' if n else 'network'} in "
                    f"`emolib.models.with_tta(..., flip=True, batched=True)`, which averages the predictions for "
                    f"{views} views of each face: {TTA_WORDS.get(views, 'shifted and mirrored copies')}. Candidates "
                    f"measured when it shipped (PublicTest accuracy of the Keras file, LiteRT int8 time per face): "
                    f"{others}; `ship_model.py --tta auto`, the default, ships the most accurate on PublicTest whose "
                    f"LiteRT copy classifies a face in under {MAX_LATENCY_MS:g} ms. "
                    f"Time per face in Keras (batch of 1): {single['latency_ms']} ms for the network alone, "
                    f"{s['latency_ms']} ms for the file.\n")
        tta_row = ""
    else:
        tta_line = f"* **Time per face** (batch of 1): {s['latency_ms']} ms.\n"
        tta_row = f"| PrivateTest with horizontal-flip TTA | {s['private_test_tta']:.2%} |\n"
    bn = s.get("precise_bn")
    bn_line = "" if not bn else (
        f"* **Precise BatchNorm** (`emolib.train.recalibrate_batchnorm`): after training, each BatchNormalization "
        f"layer's moving mean and variance were recomputed over the {bn['images']:,} training faces as the network "
        f"sees them at inference (central crop, no augmentation, no dropout) instead of the running averages over "
        f"augmented batches kept in training; {bn['seconds']} s on {bn.get('measured_on', 'this machine')}. PublicTest, "
        f"network alone: {bn['public_test_before']:.2%} before, {bn['public_test_after']:.2%} after; "
        + ("kept." if bn["kept"] else "not kept (no better on PublicTest).") + "\n")
    bf16_line = ("\n  Trained under mixed bfloat16 precision (`--bf16`: bfloat16 compute, float32 weights); "
                 "the shipped file computes in float32." if s["config"].get("bf16") else "")
    erase = (" + random erasing (a mid-grey patch on about half the crops, `--aug crop40-erase`)"
             if s["config"].get("model_kwargs", {}).get("aug") == "crop40-erase" else "")
    a = s["config"].get("mixup_alpha")
    mix = (f", then mixup in the input pipeline (each face and its label blended with another's of the batch, "
           f"weights drawn from Beta({a}, {a}), `--mixup {a}`)" if a else "")
    d = s["config"].get("distill_alpha")
    if s["config"].get("teachers"):
        ls = s["config"].get("distill_label_smoothing", 0.1)
        mix += (f", and knowledge distillation: each training face's target is {d:g} × its teachers' averaged "
                f"probabilities for the plain face + {1 - d:g} × its label smoothed by {ls:g} (`--teacher`, "
                f"`--distill-alpha {d:g}`; teachers in the Compute line)")
    origin = "trained from scratch"
    if init:
        origin = (f"fine-tuned from `{init['model']}` (sha256 {init['sha256'][:12]}..., a network trained from scratch "
                  "on the same faces; the Compute line counts it), its weights the starting point of the recipe below")
    card = f"""# Model card: emonet (shipped with emolib)

* **Task**: 7-class facial-expression recognition (FER2013 order: angry, disgust, fear, happy, sad, surprise, neutral).
* **Input**: raw grayscale pixels, shape (N, 48, 48, 1), values 0..255 (rescaling and augmentation are layers inside the model).
  **Output**: 7 softmax probabilities. Loads with `keras.models.load_model` alone, or `emolib.models.load_pretrained()`.
* **Architecture**: `emolib.models.build_emonet({build_args})`: 4 VGG-style blocks of two 3x3 conv + BatchNormalization + ReLU
  ({filters} filters), max-pooling and Dropout {drop:g} after each; global average pooling; Dense 256, Dropout {2 * drop:g}; softmax.
  **{s['params']:,} parameters**{each}, file size {s['size_mb']} MB (no optimizer state).
{members_line}{bn_line}{tta_line}{litert_card_line(s['litert'])}* **Training data**: FER2013 `Training` (28,709 images), {origin}; model selected on `PublicTest` (3,589) only.
* **Recipe**: random 40x40 crops + horizontal flip + ±10° rotation + 10 % zoom{erase} (inside the model){mix}, AdamW
  (lr {s['config']['base_lr']:.3g}, weight decay 0.05), label smoothing 0.1, batch {s['config']['batch_size']},
  {s['config']['warmup_epochs']}-epoch warm-up then cosine decay over the epoch or wall-clock budget, whichever ends first
  ({s['config']['epochs']} epochs / {s['config']['budget_s'] / 60 if s['config']['budget_s'] else 0:.0f} min), seed {seeds}.{bf16_line}
  Reproduce: {reproduce}.
{run_line}
{compute_line(s, hardware)}
## Results (measured by loading the shipped file and predicting raw pixels)

| split | accuracy |
|---|---|
| PublicTest (validation, used for selection) | {s['public_test']:.2%} |
| PrivateTest (test, reported) | **{s['private_test']:.2%}** |
{tta_row}| PrivateTest top-2 | {s['private_top2']:.2%} |

Per-class recall on PrivateTest:

| class | recall |
|---|---|
{rows}

## Limitations

FER2013 faces are 48x48, mostly frontal, web-scraped and noisily labelled (human agreement is often quoted near 65 %).
The weakest classes are those with the lowest recall above (on FER2013 usually fear and sad, which are often
confused with each other and with neutral); `disgust` has only 436 training images. The model has not been audited for bias across age,
gender or skin tone; do not use it for decisions about people.
"""
    (ASSETS / "MODEL_CARD.md").write_text(card)


def shipped_before() -> dict | None:
    """The shipped network's sha256, results.json entry and hardware (for :func:`teacher_compute`), or None."""
    from emolib.train import file_sha256

    results_file, model_file = ASSETS / "results.json", ASSETS / "emonet.keras"
    if not (results_file.is_file() and model_file.is_file()):
        return None
    results = json.loads(results_file.read_text())
    entry = next((m for m in results.get("models", []) if m.get("name") == "emonet (shipped)"), None)
    return entry and dict(sha256=file_sha256(model_file), entry=entry, hardware=results.get("hardware", ""))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, nargs="*",
                   help="a finished run folder; several runs (trained side by side) ship as one ensemble")
    p.add_argument("--baseline", type=Path, default=None)
    p.add_argument("--baseline-only", action="store_true",
                   help="keep the shipped model and its card; only (re)measure the baseline into results.json")
    p.add_argument("--litert-only", action="store_true",
                   help="keep the shipped model; only (re)write its LiteRT copy emonet.tflite and its figures")
    p.add_argument("--tta-only", action="store_true",
                   help="keep the shipped network; choose its test-time views again (--tta) and rewrite "
                        "emonet.keras, its LiteRT copy, results.json and the card")
    p.add_argument("--precise-bn-only", action="store_true",
                   help="keep the shipped network's weights; recalibrate its BatchNorm statistics on the training "
                        "faces, keep that when PublicTest improves, then choose its test-time views again as --tta-only")
    p.add_argument("--no-precise-bn", action="store_true",
                   help="ship the run's BatchNorm statistics as trained (by default they are recalibrated on the "
                        "training faces when that improves PublicTest)")
    p.add_argument("--replace", action="store_true",
                   help="ship even when the run does not beat the shipped model on PublicTest")
    p.add_argument("--tta", choices=["auto"] + [str(v) for v in TTA_CHOICES], default="auto",
                   help="test-time views inside the shipped file: auto (default) picks the best on PublicTest "
                        f"among those under {MAX_LATENCY_MS:g} ms per face in LiteRT")
    p.add_argument("--hardware", default="2-core x86_64 CPU (no GPU), TensorFlow 2.21 CPU")
    args = p.parse_args(argv)
    tta = args.tta if args.tta == "auto" else int(args.tta)
    if not args.run and not (args.litert_only or args.tta_only or args.precise_bn_only or args.baseline_only):
        p.error("give one or more run folders (or --litert-only, --tta-only, --precise-bn-only or --baseline-only)")
    if args.run or args.baseline:
        check_runs(args.run + ([args.baseline] if args.baseline else []))
    from emolib.data import DataError, load_fer2013

    try:
        data = load_fer2013(progress=False)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    ASSETS.mkdir(exist_ok=True)
    if args.litert_only or args.tta_only or args.precise_bn_only:
        results_file = ASSETS / "results.json"
        results = json.loads(results_file.read_text()) if results_file.is_file() else {"models": []}
        s = next((m for m in results["models"] if m["name"] == "emonet (shipped)"), None)
        if s is None or not (ASSETS / "emonet.keras").is_file():
            print(f"error: no shipped model to work on: {ASSETS} needs emonet.keras and results.json with an "
                  "'emonet (shipped)' entry (ship a run first)", file=sys.stderr)
            return 2
        if args.tta_only or args.precise_bn_only:
            from emolib.models import load_model_file, without_tta

            t_ship = time.time()
            candidate = ASSETS / "emonet.candidate.keras"
            network = without_tta(load_model_file(ASSETS / "emonet.keras"))
            if args.precise_bn_only:
                network, s["precise_bn"] = precise_batchnorm(network, data)
            s.update(finish(network, data, candidate, tta))
            if s.get("compute"):  # this work adds to the shipping time
                s["compute"]["shipping_s"] = round(s["compute"]["shipping_s"] + time.time() - t_ship, 1)
                if args.precise_bn_only:
                    s["compute"]["precise_bn_s"] = (s["compute"].get("precise_bn_s") or 0) + s["precise_bn"]["seconds"]
            s.pop("flip_tta_inside", None)  # replaced by tta_views
            candidate.replace(ASSETS / "emonet.keras")
        s["litert"] = ship_litert(data)
        (ASSETS / "results.json").write_text(json.dumps(results, indent=1))
        write_card(s, results.get("hardware", args.hardware))
        print(json.dumps(s, indent=1))
        return 0
    if args.baseline_only:
        results = json.loads((ASSETS / "results.json").read_text())
        base = dict(summarize(args.baseline, data, tta=1, precise_bn=False), name="seed CNN (baseline)")
        results["models"] = [m for m in results["models"] if m["name"] != base["name"]] + [base]
        (ASSETS / "results.json").write_text(json.dumps(results, indent=1))
        print(json.dumps(base, indent=1))
        return 0
    before = shipped_before()  # read before it is replaced: a teacher may be the network shipped now
    t_ship = time.time()
    candidate = ASSETS / "emonet.candidate.keras"
    shipped = summarize(args.run, data, candidate, tta=tta, precise_bn=not args.no_precise_bn)
    current = ASSETS / "emonet.keras"
    if current.is_file() and not args.replace:
        from emolib.evaluate import evaluate
        from emolib.models import load_model_file, without_tta

        # like with like: the networks alone, each seeing every face once
        now = float(evaluate(without_tta(load_model_file(current)), data.val).accuracy)
        new = shipped["without_tta_inside"]["public_test"]
        if new <= now:
            candidate.unlink()
            print(f"not shipped: PublicTest {new:.4f} does not beat the shipped network's {now:.4f} "
                  "(--replace ships it anyway)")
            return 1
        print(f"shipped: PublicTest {new:.4f} against {now:.4f} for the network shipped before", flush=True)
    candidate.replace(current)
    shipped["litert"] = ship_litert(data)
    # an ensemble's history is its first member's
    (ASSETS / "history.json").write_text(json.dumps(corrected_history(args.run[0], shipped["candidate_scores"]), indent=1))
    shipped["compute"] = dict(runs=[run_compute(r, before) for r in args.run], shipping_s=round(time.time() - t_ship, 1),
                              shipping_cores=cores_in(cpu_name()) or 1,
                              precise_bn_s=(shipped.get("precise_bn") or {}).get("seconds"))
    models = [dict(shipped, name="emonet (shipped)")]
    if args.baseline:
        models.append(dict(summarize(args.baseline, data, tta=1, precise_bn=False), name="seed CNN (baseline)"))
    elif (ASSETS / "results.json").is_file():  # keep the baseline measured before (its run may be gone)
        models += [m for m in json.loads((ASSETS / "results.json").read_text())["models"]
                   if m["name"] == "seed CNN (baseline)"]
    (ASSETS / "results.json").write_text(json.dumps({"hardware": args.hardware, "models": models}, indent=1))

    write_card(shipped, args.hardware)
    print(json.dumps(models, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
