#!/usr/bin/env python
"""The experiments of notebook 03, each with 3 seeds, on the real FER2013 -> results/lesson_experiments.csv.

Every run is ``emolib.train.lesson_settings(experiment, seed)``: the class recipe without its teacher (labels only),
shortened to 6 epochs on a stratified 8,000-face subset, in batches of 64 (750 steps), with one change
(``emolib.train.LESSON_EXPERIMENTS``):

* ``cosine``: none (the baseline);
* ``plateau``: the seed project's schedule (``ReduceLROnPlateau``) instead of warm-up and cosine decay;
* ``class_weight``: every face weighted by the inverse of its emotion's share;
* ``quarter``: 2,000 faces instead of 8,000, same epochs (so a quarter of the steps too);
* ``quarter_same_steps``: 2,000 faces for 24 epochs, the baseline's 750 steps.

Each is measured on all of PublicTest: the best epoch's accuracy, the recall of *disgust* and the share of faces
predicted *disgust*. Notebook 03 reads the table; tests/test_lesson_results.py checks that what its answers claim
is what the table shows. About 25 minutes on a 2-core CPU with AVX-512 (two runs at a time, one core each).

    python benchmarks/lesson_experiments.py              # every run not in the table or runs/lesson/ yet, then the table
    python benchmarks/lesson_experiments.py --jobs 1     # one run at a time on every core
"""
from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "notebooks" / "results" / "lesson_experiments.csv"  # shipped with the notebook that reads it
SEEDS = (0, 1, 2)
COLUMNS = ["experiment", "seed", "train_images", "epochs", "val_accuracy", "disgust_recall",
           "disgust_predicted_share", "learning_rates", "train_s", "machine", "date"]


def run_one(experiment: str, seed: int, runs: Path) -> dict:
    """Train one run (resumes an interrupted one) and measure it on PublicTest."""
    import numpy as np

    from emolib.data import load_fer2013
    from emolib.evaluate import evaluate
    from emolib.models import load_model_file
    from emolib.train import lesson_settings, load_history, train
    from machine import describe

    folder = runs / f"{experiment}-s{seed}"
    row_file = folder / "row.json"
    if row_file.is_file():
        return json.loads(row_file.read_text())
    fer = load_fer2013(progress=False)
    result = train(data=fer, out_dir=folder, verbose=0, **lesson_settings(experiment, seed))
    ev = evaluate(load_model_file(folder / "best.keras"), fer.val)
    disgust = fer.class_names.index("disgust")
    history, _ = load_history(folder)
    row = dict(experiment=experiment, seed=seed, train_images=result.train_images, epochs=result.epochs_run,
               val_accuracy=round(ev.accuracy, 4), disgust_recall=round(float(ev.report.loc["disgust", "recall"]), 4),
               disgust_predicted_share=round(float(np.mean(ev.y_pred == disgust)), 4),
               learning_rates=" ".join(f"{lr:.3g}" for lr in history["learning_rate"]),
               train_s=result.train_time_s, machine=describe()["machine"], date=datetime.date.today().isoformat())
    row_file.write_text(json.dumps(row))
    print(json.dumps(row), flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default="runs/lesson", help="folder for the runs (default runs/lesson)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, each on cores/jobs threads (default 2)")
    parser.add_argument("--only", default=None, help=argparse.SUPPRESS)  # "experiment:seed,..." (for the workers)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    runs = Path(args.runs)
    from emolib.train import LESSON_EXPERIMENTS

    todo = [(e, s) for e in LESSON_EXPERIMENTS for s in SEEDS]
    if args.only is not None:
        from emolib.train import set_threads

        set_threads(max(1, (os.cpu_count() or 2) // 2) if args.jobs > 1 else None)
        for item in args.only.split(","):
            e, s = item.split(":")
            run_one(e, int(s), runs)
        return 0
    from emolib.data import DataError, find_data

    try:
        find_data()
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    kept = {}  # the rows of the table already written (its runs' folders may be gone): only new runs are trained
    if RESULTS.is_file():
        with RESULTS.open(newline="") as f:
            kept = {(r["experiment"], int(r["seed"])): r for r in csv.DictReader(f)}
    todo = [(e, s) for e, s in todo if (e, s) not in kept and not (runs / f"{e}-s{s}" / "row.json").is_file()]
    workers = [subprocess.Popen([sys.executable, __file__, "--runs", str(runs), "--jobs", str(args.jobs), "--only",
                                 ",".join(f"{e}:{s}" for e, s in todo[i::args.jobs])])
               for i in range(args.jobs) if todo[i::args.jobs]]
    if any(w.wait() for w in workers):
        print("error: a run failed (see above)", file=sys.stderr)
        return 1
    rows = [json.loads((runs / f"{e}-s{s}" / "row.json").read_text()) if (runs / f"{e}-s{s}" / "row.json").is_file()
            else kept[(e, s)] for e in LESSON_EXPERIMENTS for s in SEEDS]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
