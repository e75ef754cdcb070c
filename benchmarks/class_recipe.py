#!/usr/bin/env python
"""The class recipe against the shipped network's recipe, on one machine in one run -> results/class_recipe.json.

1. Measures the training throughput (images/s) of both recipes' networks on real FER2013 faces, each built and
   fed as ``emolib.train.train`` does (same batch size and augmentation), in float32 and in bfloat16, one after the
   other; the precision ``auto`` chooses on this machine gives the training times.
2. Trains the class recipe (``emolib.train.RECIPES["class"]``) into ``runs/class`` (an interrupted run resumes),
   or takes a finished run (``--from-run``).
3. Times the class recipe's teacher pass: the shipped network's answers for every training face, computed once
   before training (knowledge distillation, ``teachers="shipped"``).
4. Loads the run's ``best.keras`` with the recipe's mirror view (``emolib.train.load_class_network``) and predicts raw
   pixels on PublicTest and PrivateTest (and without the view, for comparison).

Each recipe's training time on this machine is its work (epochs times training faces; for the full recipe, the
shipped run's epochs from ``emolib/assets/results.json``) at the throughput measured in step 1, the same way for
both, plus the class recipe's teacher pass; the run's own recorded time is kept too (``train_s``: it includes
validation, and depends on what else ran). This script ships nothing: ``python -m emolib ship class RUN``
(``emolib.ship.ship_class``) copies the run to ``emolib/assets/class_run/`` with these results (``benchmark.json``,
which notebook 03 reads) and writes its model card from them.

    python benchmarks/class_recipe.py                     # trains the recipe too (its time: the model card)
    python benchmarks/class_recipe.py --from-run runs/class
    python -m emolib ship class runs/class
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "results" / "class_recipe.json"
PROBE_STEPS, PROBE_WARMUP = 60, 10
#: Figures measured on a 2-core AVX2 machine without bfloat16 units (this script's probe, run there), kept beside
#: this machine's: the model card and notebook 03 quote both. Written by this script when it runs on such a machine.
AVX2_RESULTS = HERE / "results" / "class_recipe_avx2.json"
def throughput(recipe: dict, data, steps: int = PROBE_STEPS, warmup: int = PROBE_WARMUP,
               precision: str | None = None) -> float:
    """Training images/s of a recipe's network on real faces, after ``warmup`` steps (Keras' own fit loop), in
    ``precision`` (default: what the recipe's ``precision`` chooses on this machine)."""
    import keras

    from emolib.models import build_model
    from emolib.precision import choose_precision, policy
    from emolib.train import make_dataset

    kwargs = dict(recipe.get("model_kwargs") or {})
    with policy(precision or choose_precision(recipe.get("precision", "auto"))):
        model = build_model(recipe["arch"], seed=0, **kwargs)
    batch = recipe.get("batch_size", 64)
    ds = make_dataset(data.train, batch, shuffle=True).take(steps + warmup)
    stamps: list[float] = []

    class Stamp(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            stamps.append(time.perf_counter())

    model.fit(ds, epochs=1, verbose=0, callbacks=[Stamp()])
    return round(batch * (len(stamps) - warmup) / (stamps[-1] - stamps[warmup - 1]), 1)


def teacher_pass(data) -> float:
    """Seconds the class recipe's teachers take to answer for every training face (done once, before training)."""
    from emolib.train import RECIPES, teacher_targets

    t0 = time.perf_counter()
    teacher_targets(RECIPES["class"]["teachers"], data.train.images)
    return round(time.perf_counter() - t0, 1)


def measure(run_dir: Path, data) -> dict:
    """Accuracy of the run's saved ``best.keras`` on raw pixels, with the recipe's views and without, and what the
    run recorded."""
    from emolib.evaluate import evaluate
    from emolib.train import load_class_network

    result = json.loads((run_dir / "result.json").read_text())
    model, network = load_class_network(run_dir), load_class_network(run_dir, views=False)
    out = dict(epochs=result["epochs_run"], best_epoch=result["best_epoch"], train_images=result["train_images"],
               params=result["params"], train_s=result["train_time_s"] or result["wall_time_s"],
               cores=result.get("cores"))
    out["img_per_s_in_run"] = round(out["epochs"] * out["train_images"] / out["train_s"], 1)
    for name, split in (("public_test", data.val), ("private_test", data.test)):
        out[f"{name}_one_view"] = round(evaluate(network, split).accuracy, 4)
        ev = evaluate(model, split)  # raw pixels in, as a user of the file would give them
        out[name] = round(ev.accuracy, 4)
    out["private_recall"] = {c: round(float(ev.report.loc[c, "recall"]), 4) for c in data.class_names}
    return out


def no_teacher() -> dict:
    """The same recipe trained on the labels alone (``--teacher none``), from benchmarks/results/recipes.csv."""
    import csv

    with (HERE / "results" / "recipes.csv").open(newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["recipe"] == "class-no-teacher-15ep")
    return dict(public_test_one_view=float(row["public_acc"]), public_test=float(row["public_acc_tta"]),
                private_test_one_view=float(row["private_acc"]), private_test=float(row["private_acc_tta"]),
                source="benchmarks/results/recipes.csv, class-no-teacher-15ep (python benchmarks/benchmark_recipes.py)",
                machine=row["hardware"], date=row["date"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-run", type=Path, default=None, help="measure this finished class run, do not train")
    parser.add_argument("--out", type=Path, default=Path("runs/class"), help="run folder when training (runs/class)")
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow threads (default: every core)")
    parser.add_argument("--float32-run", type=Path, default=None,
                        help="a finished class run trained in float32 (what precision auto trains on a CPU without "
                             "bfloat16 units), measured the same way for the card")
    parser.add_argument("--run-machine", default=None,
                        help="with --from-run: the machine the run trained on, in words (default: this one)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from emolib.train import set_threads

    set_threads(args.threads)
    from emolib.data import DataError, load_fer2013
    from emolib.train import RECIPES, recipe_of, train
    from machine import describe

    if args.from_run is not None:
        config = args.from_run / "config.json"
        if not (args.from_run / "result.json").is_file():
            print(f"error: {args.from_run} holds no finished run (result.json is missing)", file=sys.stderr)
            return 2
        if recipe_of(json.loads(config.read_text())) != "class":
            print(f"error: {args.from_run} was not trained with the class recipe", file=sys.stderr)
            return 2
    try:
        data = load_fer2013(progress=False)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from emolib.precision import choose_precision

    shipped = json.loads((REPO / "emolib" / "assets" / "results.json").read_text())["models"][0]
    used = choose_precision("auto")
    probe = {name: {p: throughput(RECIPES[name], data, precision=p) for p in ("float32", "bfloat16")}
             for name in ("class", "full")}
    for name, speeds in probe.items():
        print(f"{name} recipe, training images/s: float32 {speeds['float32']}, bfloat16 {speeds['bfloat16']} "
              f"(auto chooses {used} here)", flush=True)
    full_img_s, class_img_s = probe["full"][used], probe["class"][used]
    seed_img_s = throughput(RECIPES["seed"], data)
    teacher_s = teacher_pass(data)
    print(f"training images/s: full recipe {full_img_s}, class recipe {class_img_s}, seed CNN {seed_img_s}; "
          f"the class recipe's teacher pass {teacher_s} s", flush=True)
    run_dir = args.from_run
    if run_dir is None:
        train(data=data, out_dir=args.out, verbose=2, **RECIPES["class"])
        run_dir = args.out
    c = measure(run_dir, data)
    f32_run = None
    if args.float32_run is not None:
        f32_run = measure(args.float32_run, data)
        f32_run["precision_used"] = json.loads((args.float32_run / "config.json").read_text()).get("precision_used")
        f32_run["run"] = str(args.float32_run)
    c["img_per_s_probe"] = class_img_s
    c["teacher_s"] = teacher_s
    c["train_s_estimate"] = round(c["epochs"] * c["train_images"] / class_img_s + teacher_s, 1)
    full_work = shipped["epochs"] * len(data.train)
    f = dict(epochs=shipped["epochs"], params=shipped["params"], img_per_s_probe=full_img_s,
             train_s_estimate=round(full_work / full_img_s, 1))
    machine = describe()
    results = dict(machine=machine["machine"], date=datetime.date.today().isoformat(), recipe=RECIPES["class"],
                   precision_used=used, probe=probe, run=str(run_dir), run_machine=args.run_machine or machine["machine"],
                   ratio=round(f["train_s_estimate"] / c["train_s_estimate"], 2), full=f,
                   seed=dict(img_per_s_probe=seed_img_s), no_teacher=no_teacher(), float32_run=f32_run,
                   **{"class": c},
                   teacher=dict(train_min=shipped["wall_time_min"], epochs=shipped["epochs"],
                                params=shipped["params"]))
    out = RESULTS if used == "bfloat16" or "AVX-512" in machine["vector_units"] else AVX2_RESULTS
    if AVX2_RESULTS.is_file() and out != AVX2_RESULTS:
        results["avx2"] = json.loads(AVX2_RESULTS.read_text())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    print(f"to ship the run with these results: python -m emolib ship class {run_dir}"
          + ("" if out == RESULTS else f" --benchmark {out}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
