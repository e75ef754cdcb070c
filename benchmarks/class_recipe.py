#!/usr/bin/env python
"""The class recipe against the shipped network's recipe, on one machine in one run -> results/class_recipe.json.

1. Measures the training throughput (images/s) of both recipes' networks on real FER2013 faces, each built and
   fed as ``emolib.train.train`` does (same batch size, precision and augmentation), one after the other.
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

    python benchmarks/class_recipe.py                     # about 17 min on a 2-core CPU with AVX-512
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
#: The slowest 2-core machine this project has run on, as measured there (no run of this script yet): the class
#: recipe's time there is estimated from the full recipe's speed and the ratio this script measures.
SLOW_MACHINE = dict(machine="2 cores, AMD EPYC, AVX2 (no AVX-512, no bf16 units)", full_img_per_s=47.9,
                    source="`benchmarks/benchmark_models.py --arch emonet --width 48 --train-steps 30 --threads 2`, float32, as recorded there")


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
work, so every computer trains the same network, only faster or slower. Each training face's target is half its
(smoothed) label and half the answer of the shipped network (`emolib/assets/MODEL_CARD.md`) for that face:
knowledge distillation, with the shipped network as the teacher. It is used with two views of each face, the face
and its mirror image: `emolib.train.load_class_network()` loads it so. Notebook 03 loads it by default and trains it
again with `TRAIN = True`; the network of the demo is the larger shipped one.

Reproduce: `make train-class` (or `python -m emolib train --recipe class --out runs/class`), then
`python benchmarks/class_recipe.py --from-run runs/class --ship`.

## Accuracy

`best.keras` loaded from this folder and given raw pixels (the epoch chosen on PublicTest, epoch {best_epoch} of
{epochs}):

| split | with its mirror view (as used) | one view |
|---|---|---|
| PublicTest (selects the epoch) | {public_test:.2%} | {public_one:.2%} |
| PrivateTest (reported) | {private_test:.2%} | {private_one:.2%} |

Recall on PrivateTest: {recalls}.

## Training time, side by side with the shipped recipe

Measured on {machine} on {date}, in one run of `python benchmarks/class_recipe.py` (`benchmarks/results/class_recipe.json`):

| recipe | network | work | training images/s | training time |
|---|---|---|---|---|
| class | emonet width {class_width}, {class_size}x{class_size} crops, {class_params:,} parameters | {epochs} epochs x {train_images:,} faces, after the teacher's pass ({teacher_s:.0f} s) | {class_img_s:.0f} | {class_min:.1f} min |
| full (shipped network) | emonet width 48, 40x40 crops, {full_params:,} parameters | {full_epochs} epochs x {train_images:,} faces | {full_img_s:.0f} | {full_min:.1f} min (its work at that rate) |

The class recipe takes **1/{ratio:.1f}** of the full recipe's time on this machine. Both times are each recipe's
work at the training speed measured in that run (the training loop alone, without validation); the class recipe's
includes the teacher's pass over the training faces, timed in the same run. This network's own
run took {run_min:.1f} min on {run_cores} core(s), validation included (its `result.json`).
On a slower computer both take longer, in about the same ratio (an estimate: the ratio was measured here): {slow_words}

## Limits

Everything in the shipped network's card about the data, the faces and responsible use holds here too. This network
is a teaching network: it is {gap:.1f} points below the shipped one on PrivateTest, and it learned from that
network's answers as well as from the labels, so it shares some of its mistakes.
"""


def write_card(results: dict, dest: Path) -> None:
    """The model card of the shipped class run, every number read from ``results``."""
    c, f = results["class"], results["full"]
    mk = results["recipe"].get("model_kwargs", {})
    shipped = json.loads((REPO / "emolib" / "assets" / "results.json").read_text())["models"][0]
    slow = results.get("slow_machine")
    slow_words = (f"on {slow['machine']}, where the full recipe's network trains at {slow['full_img_per_s']:g} "
                  f"images/s ({slow['source']}), the class recipe would take about {slow['class_min']:.0f} min."
                  if slow else "")
    text = CARD.format(
        recipe_words=(f"{c['epochs']} epochs of all {c['train_images']:,} training faces, batch "
                      f"{results['recipe']['batch_size']}, random 40x40 crops shrunk to {mk.get('size', 40)}x"
                      f"{mk.get('size', 40)}, {list(mk.get('convs', [2, 2, 2, 2]))} conv layers per block, dropout "
                      f"{mk.get('dropout', 0.2)}, warm-up and cosine decay, bf16 mixed precision, seed "
                      f"{results['recipe']['seed']}, teacher `{results['recipe']['teachers']}` with weight "
                      f"{results['recipe']['distill_alpha']}"),
        best_epoch=c["best_epoch"], epochs=c["epochs"], public_test=c["public_test"], private_test=c["private_test"],
        public_one=c["public_test_one_view"], private_one=c["private_test_one_view"], teacher_s=c["teacher_s"],
        recalls=", ".join(f"{k} {v:.0%}" for k, v in c["private_recall"].items()),
        machine=results["machine"], date=results["date"], class_width=mk.get("width", 32),
        class_size=mk.get("size", 40), class_params=c["params"], train_images=c["train_images"],
        class_img_s=c["img_per_s_probe"], class_min=c["train_s_estimate"] / 60, run_min=c["train_s"] / 60, run_cores=c["cores"], full_params=f["params"],
        full_epochs=f["epochs"], full_img_s=f["img_per_s_probe"], full_min=f["train_s_estimate"] / 60,
        ratio=results["ratio"], slow_words=slow_words, gap=100 * (shipped["private_test"] - c["private_test"]))
    (dest / "MODEL_CARD.md").write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from-run", type=Path, default=None, help="measure this finished class run, do not train")
    parser.add_argument("--out", type=Path, default=Path("runs/class"), help="run folder when training (runs/class)")
    parser.add_argument("--ship", action="store_true",
                        help="copy the run to emolib/assets/class_run/ and write its MODEL_CARD.md")
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow threads (default: every core)")
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
    shipped = json.loads((REPO / "emolib" / "assets" / "results.json").read_text())["models"][0]
    full_img_s = throughput(RECIPES["full"], data)
    class_img_s = throughput(RECIPES["class"], data)
    seed_img_s = throughput(RECIPES["seed"], data)
    teacher_s = teacher_pass(data)
    print(f"training images/s: full recipe {full_img_s}, class recipe {class_img_s}, seed CNN {seed_img_s}; "
          f"the class recipe's teacher pass {teacher_s} s", flush=True)
    run_dir = args.from_run
    if run_dir is None:
        train(data=data, out_dir=args.out, verbose=2, **RECIPES["class"])
        run_dir = args.out
    c = measure(run_dir, data)
    c["img_per_s_probe"] = class_img_s
    c["teacher_s"] = teacher_s
    c["train_s_estimate"] = round(c["epochs"] * c["train_images"] / class_img_s + teacher_s, 1)
    full_work = shipped["epochs"] * len(data.train)
    f = dict(epochs=shipped["epochs"], params=shipped["params"], img_per_s_probe=full_img_s,
             train_s_estimate=round(full_work / full_img_s, 1))
    machine = describe()
    results = dict(machine=machine["machine"], date=datetime.date.today().isoformat(), recipe=RECIPES["class"],
                   run=str(run_dir), ratio=round(f["train_s_estimate"] / c["train_s_estimate"], 2), full=f,
                   seed=dict(img_per_s_probe=seed_img_s), **{"class": c})
    if "AVX2" not in machine["vector_units"]:  # the slow machine is measured elsewhere: estimated from this ratio
        slow = dict(SLOW_MACHINE)
        slow["class_min"] = round(full_work / slow["full_img_per_s"] / results["ratio"] / 60, 1)
        results["slow_machine"] = slow
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))
    if args.ship:
        size = ship_class_run(run_dir, CLASS_RUN_DIR)
        write_card(results, CLASS_RUN_DIR)
        (CLASS_RUN_DIR / "benchmark.json").write_text(RESULTS.read_text())
        print(f"shipped {run_dir} to {CLASS_RUN_DIR} ({size / 1e6:.1f} MB) with its MODEL_CARD.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
