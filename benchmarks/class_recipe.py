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
both, plus the class recipe's teacher pass; the run's own recorded time is kept too (``train_s``: it includes validation, and depends on what else ran). ``--ship`` copies the run to ``emolib/assets/class_run/`` with these results (``benchmark.json``, which
notebook 03 reads) and writes its model card from them.

    python benchmarks/class_recipe.py                     # trains the recipe too (its time: the model card)
    python benchmarks/class_recipe.py --from-run runs/class --ship
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


CARD = """# The class-recipe network (notebook 03)

emonet trained with the **class recipe**, `emolib.train.RECIPES["class"]`: {recipe_words}. It is a fixed amount of
work, the same recipe on every computer: a faster computer finishes sooner. The weights it ends with differ a little
from computer to computer (the processor's arithmetic, the number of threads, the precision), so a run of your own
lands near these figures, not on them. Each training face's target is half its (smoothed) label and half the answer of
the shipped network (`emolib/assets/MODEL_CARD.md`) for that face: knowledge distillation, with the shipped network as
the teacher. It is used with two views of each face, the face and its mirror image: `emolib.train.load_class_network()`
loads it so. Notebook 03 loads it by default and trains it again with `TRAIN = True`; the network of the demo is the
larger shipped one.

This run computed in **{precision_used}** (`precision="auto"` chose it on {run_machine}); the file is saved in
float32, so it computes in float32 on every computer.

Reproduce: `make train-class` (or `python -m emolib train --recipe class --out runs/class`), then
`python benchmarks/class_recipe.py --from-run runs/class --ship`.

## Accuracy

`best.keras` loaded from this folder and given raw pixels (the epoch chosen on PublicTest, epoch {best_epoch} of
{epochs}):

| split | with its mirror view (as used) | one view |
|---|---|---|
| PublicTest (selects the epoch) | {public_test:.2%} | {public_one:.2%} |
| PrivateTest (reported) | {private_test:.2%} | {private_one:.2%} |
| PrivateTest, the same recipe without the teacher (labels only) | {nt_private:.2%} | {nt_private_one:.2%} |
{f32_rows}
Recall on PrivateTest: {recalls}. The row without a teacher: {nt_source}.{f32_words}

## Training time

Measured on {machine} on {date}, in one run of `python benchmarks/class_recipe.py` (`benchmarks/results/class_recipe.json`):

| recipe | network | work | training images/s, float32 | bfloat16 | training time ({used}) |
|---|---|---|---|---|---|
| class | emonet width {class_width}, {class_size}x{class_size} crops, {class_params:,} parameters | {epochs} epochs x {train_images:,} faces, after the teacher's pass ({teacher_s:.0f} s) | {class_f32:.0f} | {class_bf16:.0f} | {class_min:.1f} min |
| full (shipped network) | emonet width 48, 40x40 crops, {full_params:,} parameters | {full_epochs} epochs x {train_images:,} faces | {full_f32:.0f} | {full_bf16:.0f} | {full_min:.1f} min |

The training time is each recipe's work at the speed measured in that run, in the precision `auto` chooses there
(the training loop alone, without validation); the class recipe's includes the teacher's pass. The class recipe takes
**1/{ratio:.1f}** of the full recipe's time. That ratio leaves out the teacher's own training: the shipped network
trained once, for {teacher_min:.0f} min ({teacher_epochs} epochs), and every class reuses it. This network's own run
took {run_min:.1f} min on {run_cores} core(s), validation included (its `result.json`).
{avx2_words}
## Limits

Everything in the shipped network's card about the data, the faces and responsible use holds here too. This network
is a teaching network: it is {gap:.1f} points below the shipped one on PrivateTest, and it learned from that
network's answers as well as from the labels, so it shares some of its mistakes.
"""


def no_teacher() -> dict:
    """The same recipe trained on the labels alone (``--teacher none``), from benchmarks/results/recipes.csv."""
    import csv

    with (HERE / "results" / "recipes.csv").open(newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["recipe"] == "class-no-teacher-15ep")
    return dict(public_test_one_view=float(row["public_acc"]), public_test=float(row["public_acc_tta"]),
                private_test_one_view=float(row["private_acc"]), private_test=float(row["private_acc_tta"]),
                source="benchmarks/results/recipes.csv, class-no-teacher-15ep (python benchmarks/benchmark_recipes.py)",
                machine=row["hardware"], date=row["date"])


def avx2_words(avx2: dict | None) -> str:
    """The card's paragraph on a CPU without bfloat16 units, from what this script measured on one."""
    if not avx2:
        return ("\nOn a CPU without bfloat16 units (most laptops) `auto` trains in float32; this script has not been "
                "run end to end on such a machine yet. Run it there to add its figures here.\n")
    probe, c = avx2["probe"], avx2["class"]
    return (f"\nOn {avx2['machine']} ({avx2['date']}, {avx2.get('command', '`python benchmarks/class_recipe.py`')}), "
            f"`auto` trains in float32: the class recipe at {probe['class']['float32']:g} images/s "
            f"(bfloat16, emulated there: {probe['class']['bfloat16']:g}), the full recipe at "
            f"{probe['full']['float32']:g} ({probe['full']['bfloat16']:g}); the teacher's pass took "
            f"{c['teacher_s']:.0f} s" + (f", and the class recipe's run {c['train_s'] / 60:.0f} min end to end, "
                                          f"validation included." if c.get("train_s") else
                                          "; its run end to end has not been timed there yet.") + "\n")


def float32_words(run: dict | None) -> dict[str, str]:
    """The card's rows and sentence on the same recipe trained in float32, if such a run was measured."""
    if not run:
        return dict(f32_rows="", f32_words="")
    rows = (f"| PublicTest, the same recipe trained in float32 | {run['public_test']:.2%} | "
            f"{run['public_test_one_view']:.2%} |\n| PrivateTest, the same recipe trained in float32 | "
            f"{run['private_test']:.2%} | {run['private_test_one_view']:.2%} |\n")
    words = (f" The float32 rows: the recipe trained again on the machine above with `ONEDNN_MAX_CPU_ISA=AVX2`, so "
             f"that `precision=\"auto\"` chose float32, as it does on a CPU without bfloat16 units (its run took "
             f"{run['train_s'] / 60:.0f} min, validation included, on a machine shared with other jobs); this card's "
             f"network was chosen over it on PublicTest, before either was measured on PrivateTest.")
    return dict(f32_rows=rows, f32_words=words)


def write_card(results: dict, dest: Path) -> None:
    """The model card of the shipped class run, every number read from ``results``."""
    c, f, nt, probe = results["class"], results["full"], results["no_teacher"], results["probe"]
    mk = results["recipe"].get("model_kwargs", {})
    shipped = json.loads((REPO / "emolib" / "assets" / "results.json").read_text())["models"][0]
    run_config = json.loads((Path(results["run"]) / "config.json").read_text())
    text = CARD.format(
        recipe_words=(f"{c['epochs']} epochs of all {c['train_images']:,} training faces, batch "
                      f"{results['recipe']['batch_size']}, random 40x40 crops shrunk to {mk.get('size', 40)}x"
                      f"{mk.get('size', 40)}, {list(mk.get('convs', [2, 2, 2, 2]))} conv layers per block, dropout "
                      f"{mk.get('dropout', 0.2)}, warm-up and cosine decay, precision `auto`, seed "
                      f"{results['recipe']['seed']}, teacher `{results['recipe']['teachers']}` with weight "
                      f"{results['recipe']['distill_alpha']}"),
        precision_used=run_config.get("precision_used", "bfloat16"), run_machine=results.get("run_machine", "its machine"),
        best_epoch=c["best_epoch"], epochs=c["epochs"], public_test=c["public_test"], private_test=c["private_test"],
        public_one=c["public_test_one_view"], private_one=c["private_test_one_view"], teacher_s=c["teacher_s"],
        nt_private=nt["private_test"], nt_private_one=nt["private_test_one_view"], nt_source=nt["source"],
        recalls=", ".join(f"{k} {v:.0%}" for k, v in c["private_recall"].items()),
        machine=results["machine"], date=results["date"], class_width=mk.get("width", 32), used=results["precision_used"],
        class_size=mk.get("size", 40), class_params=c["params"], train_images=c["train_images"],
        class_f32=probe["class"]["float32"], class_bf16=probe["class"]["bfloat16"], full_f32=probe["full"]["float32"],
        full_bf16=probe["full"]["bfloat16"], class_min=c["train_s_estimate"] / 60, run_min=c["train_s"] / 60,
        run_cores=c["cores"], full_params=f["params"], full_epochs=f["epochs"], full_min=f["train_s_estimate"] / 60,
        ratio=results["ratio"], teacher_min=results["teacher"]["train_min"], teacher_epochs=results["teacher"]["epochs"],
        avx2_words=avx2_words(results.get("avx2")), **float32_words(results.get("float32_run")), gap=100 * (shipped["private_test"] - c["private_test"]))
    (dest / "MODEL_CARD.md").write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-run", type=Path, default=None, help="measure this finished class run, do not train")
    parser.add_argument("--out", type=Path, default=Path("runs/class"), help="run folder when training (runs/class)")
    parser.add_argument("--ship", action="store_true",
                        help="copy the run to emolib/assets/class_run/ and write its MODEL_CARD.md")
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
    from emolib.train import CLASS_RUN_DIR, RECIPES, recipe_of, ship_class_run, train
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
    if args.ship:
        size = ship_class_run(run_dir, CLASS_RUN_DIR)
        write_card(results, CLASS_RUN_DIR)
        (CLASS_RUN_DIR / "benchmark.json").write_text(out.read_text())
        print(f"shipped {run_dir} to {CLASS_RUN_DIR} ({size / 1e6:.1f} MB) with its MODEL_CARD.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
