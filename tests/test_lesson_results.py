"""What notebook 03 and the course pages claim about measured results is what the results files show.

The answers state conclusions in words (which schedule wins, what class weights buy); the figures themselves are
printed by the cells from the results files. Each test here reads the measurements a conclusion rests on and fails
when a re-run changes them enough to make the conclusion wrong. Times quoted in headers and the README are checked
against the timing files they come from.
"""
from __future__ import annotations

import csv
import json
import re
import statistics
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NB03 = ROOT / "notebooks" / "03_training.ipynb"
EXPERIMENTS = ROOT / "notebooks" / "results" / "lesson_experiments.csv"
TIMES = ROOT / "benchmarks" / "results" / "notebook_times.csv"
CLASS_BENCH = ROOT / "benchmarks" / "results" / "class_recipe.json"


def answer(grade_id: str) -> str:
    nb = nbformat.read(NB03, as_version=4)
    source = next(c.source for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return " ".join(source.split())  # as rendered: line breaks are spaces


def groups(metric: str, names) -> dict[str, list[float]]:
    rows = list(csv.DictReader(EXPERIMENTS.open()))
    return {n: [float(r[metric]) for r in rows if r["experiment"] == n] for n in names}


def means(metric: str) -> dict[str, float]:
    from emolib.train import LESSON_EXPERIMENTS

    return {k: statistics.mean(v) for k, v in groups(metric, LESSON_EXPERIMENTS).items()}


def test_every_experiment_has_three_seeds_of_its_settings():
    from emolib.train import LESSON_EXPERIMENTS, lesson_settings

    rows = list(csv.DictReader(EXPERIMENTS.open()))
    by: dict[str, set[int]] = {}
    for r in rows:
        by.setdefault(r["experiment"], set()).add(int(r["seed"]))
        settings = lesson_settings(r["experiment"], int(r["seed"]))
        assert (int(r["train_images"]), int(r["epochs"])) == (settings["train_size"], settings["epochs"]), r
    assert by == {e: {0, 1, 2} for e in LESSON_EXPERIMENTS}


def test_schedule_answer_names_the_measured_winner():
    m = means("val_accuracy")
    winner, loser = ("cosine", "plateau") if m["cosine"] > m["plateau"] else ("plateau", "cosine")
    text = answer("nb03-ex4-answer")
    assert f"the {winner} schedule ends higher" in text, (winner, m)
    spread = max(statistics.stdev(v) for v in groups("val_accuracy", ("cosine", "plateau")).values())
    assert m[winner] - m[loser] > spread, "the answer says the gap exceeds the spread between seeds"


def test_class_weight_answer_states_the_measured_trade():
    acc, recall = means("val_accuracy"), means("disgust_recall")
    text = answer("nb03-ex5-answer")
    assert recall["cosine"] == 0 and "from none of its faces to about half of them" in text, (recall, text)
    assert 0.35 <= recall["class_weight"] <= 0.65, recall
    assert acc["cosine"] - acc["class_weight"] > 0.02 and "It costs several points of overall accuracy" in text


def test_less_data_answer_holds():
    """More faces win at the same number of steps, and the quarter of the steps costs more on top."""
    m = means("val_accuracy")
    assert m["cosine"] - m["quarter_same_steps"] > 0, m
    assert m["quarter_same_steps"] - m["quarter"] > 0, m
    assert "lose more, for a second reason" in answer("nb03-ex6-answer")


def test_precise_batchnorm_answer_holds_for_the_shipped_class_network(real_data):
    """Exercise 7's answer: the first 500 (all angry) training faces give a lower validation accuracy than each of
    the three random samples of section 8."""
    import numpy as np

    from emolib.evaluate import evaluate
    from emolib.models import load_model_file
    from emolib.train import CLASS_RUN_DIR, recalibrate_batchnorm

    def accuracy(idx) -> float:
        net = load_model_file(CLASS_RUN_DIR / "best.keras")
        return evaluate(recalibrate_batchnorm(net, real_data.train.images[idx]), real_data.val).accuracy

    random = [accuracy(np.random.default_rng(seed).choice(len(real_data.train), 500, replace=False))
              for seed in range(3)]
    assert accuracy(np.arange(500)) < min(random)
    assert "falls below that of every random sample" in answer("nb03-ex7-answer")


def stated_minutes(text: str) -> list[str]:
    return re.findall(r"about (\d+(?:\.\d)?) min", text)


def test_notebook_headers_state_the_measured_running_time():
    """Each notebook's header says how long running every cell takes, as benchmarks/results/notebook_times.csv
    measured it (rounded as benchmarks/notebook_times.py rounds)."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from notebook_times import minutes, quoted_rows

    rows = quoted_rows()
    assert set(rows) == {p.stem for p in (ROOT / "notebooks").glob("0*.ipynb")}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, row in rows.items():
        said = minutes(float(row["seconds"]))
        header = " ".join(nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4).cells[0].source.split())
        assert f"Running every cell takes {said}" in header, (name, said)
        assert re.search(rf"\| `{name}` \|.*\| {said} \|", readme), (name, said)
        assert float(row["seconds"]) <= 180 or "AVX-512" not in row["machine"], f"{name} runs over 3 minutes"


def test_notebook_03_states_the_class_recipe_time_of_its_card():
    bench = json.loads(CLASS_BENCH.read_text())
    header = " ".join(nbformat.read(NB03, as_version=4).cells[0].source.split())
    assert f"{bench['class']['train_s_estimate'] / 60:.1f} min on that CPU, in {bench['precision_used']}" in header


def test_readme_states_the_class_recipe_as_measured():
    bench = json.loads(CLASS_BENCH.read_text())
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    c = bench["class"]
    assert (f"{100 * c['private_test']:.1f} % on PrivateTest after {c['train_s_estimate'] / 60:.1f} min of training "
            f"on {bench['machine']}, 1/{bench['ratio']:.0f} of the shipped recipe's time") in readme
