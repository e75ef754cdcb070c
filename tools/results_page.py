"""Write docs/RESULTS.md, the current figures, each with the command that measured it and the machine, from the
results files (never typed by hand).

    python tools/results_page.py            # rewrite docs/RESULTS.md
    python tools/results_page.py --check    # exit 1 when docs/RESULTS.md differs from what the files say

Sources: emolib/assets/results.json (the shipped model, written by ``python -m emolib ship``),
``emolib.evaluate.comparison_table()`` (with emolib/assets/reference_results.json), the class recipe's
benchmarks/results/class_recipe.json and the notebooks' benchmarks/results/notebook_times.csv. Run it after any of
them changes; tests/test_results_page.py fails until then.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "RESULTS.md"
ASSETS = ROOT / "emolib" / "assets"
BENCH = ROOT / "benchmarks" / "results"


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def shipped_section() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from emolib.ship import shipped_times

    results = json.loads((ASSETS / "results.json").read_text(encoding="utf-8"))
    s = next(m for m in results["models"] if m["name"] == "emonet (shipped)")
    lite, hw, times = s["litert"], results["hardware"], shipped_times(s)
    on = lite.get("measured_on", "the shipping machine")
    ship = "`make ship` (`python -m emolib ship run runs/emonet-full ...`)"
    rows = [
        ("PrivateTest accuracy, `emonet.keras`", _pct(s["private_test"]), ship, "any (the file's own)"),
        ("PrivateTest accuracy, `emonet.tflite` (int8, what `emolib.predict` runs)", _pct(lite["private_test"]), ship,
         "any (the file's own)"),
        ("PublicTest accuracy, `emonet.keras` (selects the weights and the views)", _pct(s["public_test"]), ship,
         "any (the file's own)"),
        ("training", f"{s['epochs']} epochs in {s['wall_time_min']} min", "`make train-full`", hw),
        (f"time per face, `emonet.tflite` (batch of 1, {lite['num_threads']} threads)", f"{times['litert']} ms",
         ship, on),
        ("time per face, `emonet.keras` (batch of 1)", f"{times['keras']} ms", ship, on),
        ("file size", f"{s['size_mb']} MB (`.keras`), {lite['size_mb']} MB (`.tflite`)", ship, "any"),
    ]
    return ["## The shipped model", "",
            f"`emolib/assets/emonet.keras` and its int8 copy `emonet.tflite`: emonet, {s['params']:,} parameters, "
            f"with {s.get('tta_views', 1)} test-time views inside. Its model card "
            "([emolib/assets/MODEL_CARD.md](../emolib/assets/MODEL_CARD.md)) has the recipe, per-class recall and "
            "limitations. `make reproduce` trains and ships it again.", "",
            "| figure | value | measured by | machine |", "|---|---|---|---|",
            *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows), ""]


def comparison_section() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from emolib.evaluate import comparison_table, load_reference

    table = comparison_table()
    commands = {r["name"]: r.get("command") for r in load_reference().to_dict("records")}
    head = list(table.columns) + ["measured by"]
    lines = ["## Against other models (PrivateTest)", "",
             "Our models (`emolib`) and other people's that we measured (`measured`) were run on the same FER2013 "
             "splits; `published` rows are the papers' own figures. The README shows the same table "
             "(`emolib.evaluate.comparison_table()`).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    ours = {"emonet (shipped)": "`make reproduce`",
            "seed CNN (baseline)": "`make train-seed`, then `make ship` (`--baseline runs/seed`)"}
    for row in table.to_dict("records"):
        how = (f"`{commands[row['name']]}`" if commands.get(row["name"]) else ours.get(row["name"])
               or {"published": "the paper cited"}.get(row["source"], "its authors' report"))
        lines.append("| " + " | ".join(str(row[c]) for c in table.columns) + f" | {how} |")
    return lines + [""]


def class_section() -> list[str]:
    b = json.loads((BENCH / "class_recipe.json").read_text(encoding="utf-8"))
    c = b["class"]
    cmd = "`python benchmarks/class_recipe.py`"
    rows = [
        ("PrivateTest accuracy, with its mirror view (as notebook 03 uses it)", _pct(c["private_test"]), cmd,
         "any (the file's own)"),
        ("PrivateTest accuracy, one view", _pct(c["private_test_one_view"]), cmd, "any (the file's own)"),
        ("PrivateTest accuracy of the same recipe without its teacher, with the mirror view",
         _pct(b["no_teacher"]["private_test"]), "`python benchmarks/benchmark_recipes.py class-no-teacher-15ep`",
         b["no_teacher"]["machine"]),
        ("training time against the shipped recipe's (its teacher's own training not counted)", f"1/{b['ratio']:.1f}",
         cmd, b["machine"]),
        (f"training time (its work at the speed measured in {b['precision_used']}, the teacher's pass included)",
         f"{c['train_s_estimate'] / 60:.1f} min", cmd, b["machine"]),
    ]
    for kind in ("float32", "bfloat16"):
        rows.append((f"training speed in {kind}", f"{b['probe']['class'][kind]:g} images/s", cmd, b["machine"]))
    slow = b.get("avx2")
    if slow:
        for kind in ("float32", "bfloat16"):
            rows.append((f"training speed in {kind}" + (" (emulated there)" if kind == "bfloat16" else ""),
                         f"{slow['probe']['class'][kind]:g} images/s", f"{slow['command']}", slow["machine"]))
        if slow["class"].get("train_s"):
            rows.append(("the class recipe's run end to end, validation included",
                         f"{slow['class']['train_s'] / 60:.0f} min", slow["command"], slow["machine"]))
    return ["## The class recipe (notebook 03)", "",
            "`emolib/assets/class_run/`: the network notebook 03 loads, trained with `emolib.train.RECIPES[\"class\"]` "
            f"(measured {b['date']}; its card: [emolib/assets/class_run/MODEL_CARD.md]"
            "(../emolib/assets/class_run/MODEL_CARD.md)).", "",
            "| figure | value | measured by | machine |", "|---|---|---|---|",
            *(f"| {a} | {b_} | {c_} | {d} |" for a, b_, c_, d in rows), ""]


def notebooks_section() -> list[str]:
    with open(BENCH / "notebook_times.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return ["## Running every cell of each notebook", "",
            "The default path (`TRAIN = False`), top to bottom in a fresh kernel; `python benchmarks/notebook_times.py` "
            "([its table](../benchmarks/results/NOTEBOOK_TIMES.md)).", "",
            "| notebook | seconds | machine | date | note |", "|---|---|---|---|---|",
            *(f"| {r['notebook']} | {float(r['seconds']):.0f} | {r['machine']} | {r['date']} | {r.get('note') or ''} |"
              for r in rows), ""]


def page() -> str:
    lines = ["# Results", "",
             "The current figures of the shipped models and the course, each with the command that measured it and "
             "the machine it ran on. Accuracies are properties of the files and the same on any computer; times are "
             "one machine's, and yours will differ (the benchmarks in `benchmarks/` measure them on yours).", "",
             "Written by `python tools/results_page.py` from the results files; do not edit it by hand. How these "
             "figures were reached, and everything tried on the way, is the research log for contributors "
             "(`benchmarks/FINDINGS.md`).", ""]
    lines += shipped_section() + comparison_section() + class_section() + notebooks_section()
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="only compare the page with the results files")
    p.add_argument("--out", type=Path, default=PAGE, help="the page (default: docs/RESULTS.md)")
    args = p.parse_args(argv)
    text = page()
    if args.check:
        same = args.out.is_file() and args.out.read_text(encoding="utf-8") == text
        print(f"{args.out} is current" if same else f"{args.out} is out of date: run  python tools/results_page.py")
        return 0 if same else 1
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
