"""Train a named recipe on the real FER2013 under a wall-clock budget and record what it buys.

Appends one row to benchmarks/results/recipes.csv and rewrites benchmarks/results/RECIPES.md:
parameters, training images/s, epochs, wall time, PublicTest and PrivateTest accuracy
(with and without flip test-time augmentation), per-face latency (Keras and LiteRT), model size, hardware.
PrivateTest is only measured, never used to choose anything.

    python benchmarks/benchmark_recipes.py RECIPE [--budget-minutes M] [--from-run DIR [DIR ...]]

A recipe with ``members=N`` trains N networks side by side (N processes, one thread
each, seeds 1..N, at the same time) and measures their average (``emolib.models.ensemble``).
A recipe with ``teachers`` trains by knowledge distillation (``emolib.train.train(teachers=...)``; run it from the
repository root, where its teacher paths start); the time to compute the teachers' targets is in the run's
``result.json`` (``teacher_targets_s``), not in ``wall_min``.
``--from-run`` evaluates a run (or an ensemble's runs) that already finished instead of training again;
``--model`` names the file to measure (the shipped model: ``--from-run runs/emonet48-full
--model emolib/assets/emonet.keras``).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

from emolib.train import RECIPES as EMOLIB_RECIPES  # the class recipe is defined there, once

RESULTS = Path(__file__).resolve().parent / "results"

#: name -> (train() keyword arguments, default budget in minutes)
RECIPES: dict[str, tuple[dict, float]] = {
    "seed-plateau": (dict(arch="seed", schedule="plateau", epochs=40, patience=6), 20),
    # notebook 03's former quick mode: at most 6 epochs in a 9-minute budget, so its network depended on the machine
    "emonet-quick": (dict(arch="emonet", schedule="cosine", epochs=6, warmup_epochs=1), 9),
    # the class recipe (emolib.train.RECIPES["class"]) and the candidates measured on the way to it: fixed work, no
    # budget (None), so every machine trains the same network
    "class": (dict(EMOLIB_RECIPES["class"]), None),
    "class-no-teacher-15ep": (dict(arch="emonet", epochs=15, batch_size=128, schedule="cosine", warmup_epochs=1,
                                   precision="bfloat16", seed=0, model_kwargs={"width": 24, "size": 32, "dropout": 0.0}), None),
    "class-s32-c1222-15ep": (dict(arch="emonet", epochs=15, batch_size=128, schedule="cosine", warmup_epochs=1,
                                  precision="bfloat16", model_kwargs={"size": 32, "convs": [1, 2, 2, 2]}), None),
    "class-s32-w24-15ep": (dict(arch="emonet", epochs=15, batch_size=128, schedule="cosine", warmup_epochs=1,
                                precision="bfloat16", model_kwargs={"size": 32, "width": 24}), None),
    "emonet-8k-4epochs": (dict(arch="emonet", schedule="cosine", epochs=4, train_size=8000, warmup_epochs=1), 10),
    "emonet-cosine-10min": (dict(arch="emonet", schedule="cosine", epochs=8, warmup_epochs=1), 10),
    "emonet-plateau-10min": (dict(arch="emonet", schedule="plateau", epochs=8, patience=4), 10),
    "emonet-cosine-full": (dict(arch="emonet", schedule="cosine", epochs=80), 108),
    "emonet48-cosine-full": (dict(arch="emonet", schedule="cosine", epochs=80, model_kwargs={"width": 48}), 112),
    "emonet-bf16-10min": (dict(arch="emonet", schedule="cosine", epochs=8, warmup_epochs=1, precision="bfloat16"), 10),
    "emonet-bf16-full": (dict(arch="emonet", schedule="cosine", epochs=100, precision="bfloat16"), 110),
    "emonet-bf16-ensemble2-full": (dict(arch="emonet", schedule="cosine", epochs=100, precision="bfloat16", members=2), 110),
    "emonet-bf16-erase-full": (dict(arch="emonet", schedule="cosine", epochs=100, precision="bfloat16",
                                    model_kwargs={"aug": "crop40-erase"}), 108),
    "emonet48-bf16-full": (dict(arch="emonet", schedule="cosine", epochs=100, precision="bfloat16",
                                model_kwargs={"width": 48}), 108),
    "emonet48-bf16-ema-full": (dict(arch="emonet", schedule="cosine", epochs=100, precision="bfloat16",
                                    model_kwargs={"width": 48, "ema": 0.999}), 108),
    "emonet48-bf16-mixup-full": (dict(arch="emonet", schedule="cosine", epochs=100, precision="bfloat16", mixup_alpha=0.2,
                                      model_kwargs={"width": 48}), 108),
    "emonet48-bf16-seed1-full": (dict(arch="emonet", schedule="cosine", epochs=100, precision="bfloat16", seed=1,
                                      model_kwargs={"width": 48}), 108),
    "emonet48-bf16-sgd-full": (dict(arch="emonet", schedule="cosine", epochs=100, precision="bfloat16",
                                    model_kwargs={"width": 48, "optimizer": "sgd"}), 108),
    "emonet48-bf16-dropout01-full": (dict(arch="emonet", schedule="cosine", epochs=100, precision="bfloat16",
                                          model_kwargs={"width": 48, "dropout": 0.1}), 108),
    "emonet40-bf16-full": (dict(arch="emonet", schedule="cosine", epochs=100, precision="bfloat16",
                                model_kwargs={"width": 40}), 108),
    # "born-again" knowledge distillation: emonet48-bf16-full's recipe, each training face's target half the shipped
    # network's averaged probabilities (its 6 test-time views, on the plain face), half its smoothed label. An ensemble
    # of teachers is a longer list, e.g. teachers=["emolib/assets/emonet.keras",
    # "runs/bench-emonet48-bf16-seed1-full/best.keras"] (their probabilities are averaged); on the command line,
    # one --teacher per model. Teacher paths are relative to the repository root, where this script runs.
    "emonet48-bf16-distill-full": (dict(arch="emonet", schedule="cosine", epochs=100, precision="bfloat16",
                                        model_kwargs={"width": 48}, teachers=["emolib/assets/emonet.keras"],
                                        distill_alpha=0.5), 108),
    # fine-tuning the shipped network (init_from) for a few epochs at a tenth of its peak learning rate, with the same
    # born-again targets: what fits a machine that trains emonet48 at ~50 img/s (about 9 min an epoch)
    "emonet48-finetune-distill-5ep": (dict(arch="emonet", schedule="cosine", epochs=5, warmup_epochs=1,
                                           learning_rate=2e-4, model_kwargs={"width": 48},
                                           init_from="emolib/assets/emonet.keras",
                                           teachers=["emolib/assets/emonet.keras"], distill_alpha=0.5), 50),
}


def measure(run_dirs: Path | list[Path], recipe: str, data, model_path: Path | None = None,
            latency: bool = True) -> dict:
    from emolib.evaluate import evaluate
    from emolib.models import ensemble, export_for_inference, load_model_file, to_float32
    from emolib.ship import cpu_name, latency_ms, litert_latency_ms

    run_dirs = [run_dirs] if isinstance(run_dirs, Path) else list(run_dirs)
    results = [json.loads((d / "result.json").read_text()) for d in run_dirs]
    if model_path is not None:
        model = to_float32(load_model_file(model_path))
    else:  # a bf16 run is measured in float32; several runs as their average
        nets = [to_float32(load_model_file(d / "best.keras")) for d in run_dirs]
        model = nets[0] if len(nets) == 1 else ensemble(nets)
    with tempfile.TemporaryDirectory() as tmp:
        size = export_for_inference(model, Path(tmp) / "m.keras")
    best_epoch = "+".join(str(r["best_epoch"]) for r in results)
    shipped = Path(__file__).resolve().parent.parent / "emolib" / "assets"
    if model_path is not None and Path(model_path).resolve() == (shipped / "emonet.keras").resolve():
        shipped_models = json.loads((shipped / "results.json").read_text())["models"][0]
        best_epoch = "+".join(str(m["best_epoch"]) for m in shipped_models.get("members") or [shipped_models])
    row = dict(recipe=recipe, arch=results[0]["arch"], params=sum(r["params"] for r in results),
               epochs="+".join(str(r["epochs_run"]) for r in results), best_epoch=best_epoch,
               wall_min=round(max(r["wall_time_s"] for r in results) / 60, 1),  # members train at the same time
               train_img_per_s=round(sum(r["train_images"] * r["epochs_run"] / r["wall_time_s"] for r in results), 1))
    for split_name, split in (("public", data.val), ("private", data.test)):
        for tta in (False, True):
            acc = evaluate(model, split, tta=tta).accuracy
            row[f"{split_name}_acc{'_tta' if tta else ''}"] = round(float(acc), 4)
    face = data.test.images[:1][..., None]
    row["latency_ms_per_face"] = latency_ms(model, face) if latency else ""
    row["litert_ms_per_face"] = litert_latency_ms(model, face, quantize=False) if latency else ""
    # dynamic-range int8: what emolib.predict runs
    row["litert_int8_ms_per_face"] = litert_latency_ms(model, face) if latency else ""
    row["model_mb"] = round(size / 1e6, 2)
    row["hardware"] = cpu_name()
    row["date"] = time.strftime("%Y-%m-%d")
    return row


def train_member(arch: str, run_dir: Path, budget_s: float, kwargs: dict, threads: int) -> None:
    """Train one network in this process (a worker of a ``members`` recipe)."""
    from emolib.train import set_threads

    set_threads(threads)
    from emolib.data import load_fer2013
    from emolib.train import train

    train(arch, load_fer2013(progress=False), run_dir, budget_s=budget_s, verbose=2, **kwargs)


def write_tables(row: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "recipes.csv"
    rows = list(csv.DictReader(open(path))) if path.exists() else []
    # one row per recipe and machine: a rerun on the same CPU replaces its row, another CPU adds one
    rows = [r for r in rows if (r["recipe"], r["hardware"]) != (row["recipe"], row["hardware"])]
    rows += [{k: str(v) for k, v in row.items()}]
    rows = [r for r in rows if r["recipe"] in RECIPES]  # a row per recipe that can still be run
    cols = list(row)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)
    lines = ["# Training recipes measured on the real FER2013", "",
             "Written by `benchmarks/benchmark_recipes.py`; PublicTest selects, PrivateTest is reported.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r.get(c, "") for c in cols) + " |" for r in rows]
    lines += ["", "Recipes (`train()` arguments, default wall-clock budget in minutes); the `_tta` columns average",
              "the face and its mirror image. Time per face (batch of 1): `latency_ms_per_face` in Keras,",
              "`litert_ms_per_face` in a float32 LiteRT copy, `litert_int8_ms_per_face` in a dynamic-range int8 copy",
              "(what `emolib.predict` serves); empty where a row predates the column or was measured with",
              "`--no-latency` (other jobs sharing the machine). `wall_min` and `train_img_per_s` are the run's own",
              "(for the `class` rows: one thread each, two runs at a time; `benchmarks/class_recipe.py` measures",
              "the class recipe's speed on a quiet machine).",
              "What we tried and learnt: `FINDINGS.md`.", ""]
    lines += [f"* `{name}`: `{kw}`, " + (f"{budget:g} min" if budget else "fixed work, no budget")
              for name, (kw, budget) in RECIPES.items()]
    (RESULTS / "RECIPES.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", choices=sorted(RECIPES))
    p.add_argument("--budget-minutes", type=float, default=None)
    p.add_argument("--from-run", type=Path, nargs="+", default=None,
                   help="evaluate this finished run (several: their ensemble) instead of training")
    p.add_argument("--model", type=Path, default=None,
                   help="with --from-run: the model file to measure (default: the run's best.keras)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-latency", action="store_true",
                   help="leave the time-per-face columns empty (when other jobs share the machine, they would be wrong)")
    args = p.parse_args(argv)
    if args.from_run:
        from emolib.ship import ShipError, check_runs

        try:
            check_runs(args.from_run)
        except ShipError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2

    from emolib.train import set_threads

    set_threads(args.threads)
    from emolib.data import load_fer2013
    from emolib.train import train

    kwargs, budget = RECIPES[args.recipe]
    if args.from_run is None and (kwargs.get("teachers") or kwargs.get("init_from")):
        from emolib.models import ModelFileError
        from emolib.train import check_model_files

        try:  # relative paths start at the repository root
            check_model_files([("teacher", kwargs.get("teachers")), ("init_from", kwargs.get("init_from"))])
        except ModelFileError as err:
            print(f"error: {err} (run from the repository root)", file=sys.stderr)
            return 2
    from emolib.data import DataError

    try:
        data = load_fer2013(progress=False)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.from_run is None:
        run_dir = Path("runs") / f"bench-{args.recipe}"
        budget = args.budget_minutes or budget  # None: fixed work, no budget
        kwargs = dict(kwargs)
        arch = kwargs.pop("arch")
        n = kwargs.pop("members", 1)
        if n == 1:
            train(arch, data, run_dir, budget_s=budget * 60 if budget else None, verbose=2, **kwargs)
            run_dirs = [run_dir]
        else:  # side by side: one process and one thread per member, seeds 1..n
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            run_dirs = [run_dir.with_name(f"{run_dir.name}-s{i}") for i in range(1, n + 1)]
            with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as pool:
                jobs = [pool.submit(train_member, arch, d, budget * 60, dict(kwargs, seed=i), 1)
                        for i, d in enumerate(run_dirs, start=1)]
                for job in jobs:
                    job.result()
    else:
        run_dirs = args.from_run
    row = measure(run_dirs, args.recipe, data, args.model, latency=not args.no_latency)
    write_tables(row)
    print(json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
