#!/usr/bin/env python
"""Run every course notebook's default path, top to bottom, and time it -> results/notebook_times.{csv,md}.

Each notebook runs in a fresh kernel in a temporary copy of ``notebooks/`` (nothing in the course folder
changes), with ``EMOLIB_TRAIN`` unset, as a student who opens it and runs every cell. The table names the machine
and, as a yardstick that carries to other computers, the training speed of the shipped network's recipe measured
in the same run (``benchmarks/class_recipe.py``'s probe). The notebooks' headers and the README's course table quote this table: the script writes the times into them
(``stamp()``), and tests/test_lesson_results.py checks that they agree with it.

    python benchmarks/notebook_times.py                     # all five; about 6 min on a 2-core CPU with AVX-512
    python benchmarks/notebook_times.py 03_training         # one (the others' rows are kept)
"""
from __future__ import annotations

import argparse
import csv
import datetime
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CSV = HERE / "results" / "notebook_times.csv"
MD = HERE / "results" / "NOTEBOOK_TIMES.md"
COLUMNS = ["notebook", "seconds", "machine", "full_recipe_img_per_s", "date", "note"]
#: The kind of machine the notebooks' headers and the README quote (the table keeps a row per notebook and machine).
QUOTED = "AVX-512"


def run_notebook(path: Path, timeout: int = 1800, write: bool = False) -> float:
    """Seconds to execute ``path`` (a copy in a temporary folder) in a fresh python3 kernel; ``write`` saves the
    executed notebook over ``path`` (run ``tools/strip_fer_faces.py`` on it before committing).

    The kernel gets a cache folder of its own holding only FER2013's decoded arrays (decoded once per computer),
    no kept predictions: the time is that of a student's first run (``evaluate(..., cache=True)`` computes).
    """
    import nbformat
    from nbclient import NotebookClient

    from emolib.data import default_cache_dir

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "notebooks"
        shutil.copytree(path.parent, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        nb = nbformat.read(work / path.name, as_version=4)
        cache = Path(tmp) / "cache"
        cache.mkdir()
        for arrays in default_cache_dir().glob("fer2013-cache-*.npz"):
            (cache / arrays.name).symlink_to(arrays)
        env = {k: v for k, v in os.environ.items() if k != "EMOLIB_TRAIN"} | {"EMOLIB_CACHE": str(cache)}
        os.environ.pop("EMOLIB_TRAIN", None)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(work)}})
        t0 = time.perf_counter()
        client.execute(env=env)
        seconds = round(time.perf_counter() - t0, 1)
        if write:
            nbformat.write(nb, path)
        return seconds


def minutes(seconds: float) -> str:
    """How a table and a notebook header say a running time: ``"under 1 min"``, ``"about 1 min"``, ``"about 2.5 min"``.

    >>> [minutes(s) for s in (14, 50, 136, 83, 700)]
    ['under 1 min', 'about 1 min', 'about 2.5 min', 'about 1.5 min', 'about 12 min']
    """
    if seconds < 45:
        return "under 1 min"
    m = seconds / 60
    return f"about {m:.0f} min" if m >= 9.5 or abs(m - round(m)) < 0.25 else f"about {round(m * 2) / 2:g} min"


def write_tables(rows: list[dict]) -> None:
    CSV.parent.mkdir(parents=True, exist_ok=True)
    with CSV.open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["# Running every cell of each notebook (default path)", "",
             "Written by `python benchmarks/notebook_times.py`: each notebook run top to bottom in a fresh kernel, "
             "`TRAIN = False`, with FER2013 already decoded but no kept predictions (a student's first run), one row "
             "per notebook and machine. The notebooks' headers and the README quote the "
             f"rows of the machine with {QUOTED}.", "",
             "| notebook | seconds | as a header says it | machine | shipped recipe's training images/s | date | note |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['notebook']} | {float(r['seconds']):.0f} | {minutes(float(r['seconds']))} | {r['machine']} | "
              f"{r['full_recipe_img_per_s']} | {r['date']} | {r.get('note') or ''} |" for r in rows]
    MD.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebooks to time, e.g. 03_training (default: all)")
    parser.add_argument("--write", action="store_true",
                        help="also save each executed notebook in place, with its outputs (then run "
                             "tools/strip_fer_faces.py on them)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    from machine import describe

    paths = sorted((REPO / "notebooks").glob("0*.ipynb"))
    if args.names:
        wanted = {n.removesuffix(".ipynb") for n in args.names}
        unknown = wanted - {p.stem for p in paths}
        if unknown:
            print(f"error: no notebook named {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        paths = [p for p in paths if p.stem in wanted]
    from class_recipe import throughput
    from emolib.data import DataError, load_fer2013
    from emolib.train import RECIPES

    try:
        full_img_s = throughput(RECIPES["full"], load_fer2013(progress=False))
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rows = {(r["notebook"], r["machine"]): r for r in csv.DictReader(CSV.open())} if CSV.is_file() else {}
    for path in paths:
        seconds = run_notebook(path, write=args.write)
        print(f"{path.stem}: {seconds:.0f} s", flush=True)
        machine = describe()["machine"]
        rows[(path.stem, machine)] = dict(notebook=path.stem, seconds=seconds, machine=machine,
                                          full_recipe_img_per_s=full_img_s, date=datetime.date.today().isoformat(),
                                          note=os.environ.get("ONEDNN_MAX_CPU_ISA") and
                                          f"ONEDNN_MAX_CPU_ISA={os.environ['ONEDNN_MAX_CPU_ISA']}" or "")
    write_tables([rows[k] for k in sorted(rows, key=lambda k: (not _quoted(k[1]), k[1], k[0]))])
    for changed in stamp():
        print("stamped", changed)


SAID = r"(under\s+1\s+min|about\s+[\d.]+\s+min)"


def stamp() -> list[str]:
    """Write the measured times (the QUOTED machine's rows) into each notebook's header ("Running every cell takes
    ...") and the README's course table; returns the files changed."""
    import re

    import nbformat

    changed = []
    readme_path = REPO / "README.md"
    readme = readme_path.read_text(encoding="utf-8")
    for name, row in quoted_rows().items():
        said = minutes(float(row["seconds"]))
        path = REPO / "notebooks" / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        header = nb.cells[0]
        new = re.sub(rf"Running every cell takes {SAID}", f"Running every cell takes {said}", header.source, count=1)
        if new != header.source:
            header.source = new
            nbformat.write(nb, path)
            changed.append(str(path))
        readme = re.sub(rf"(\| `{name}` \|.*\| ){SAID}( \|)", rf"\g<1>{said}\g<3>", readme, count=1)
    if readme != readme_path.read_text(encoding="utf-8"):
        readme_path.write_text(readme, encoding="utf-8")
        changed.append(str(readme_path))
    return changed


def quoted_rows() -> dict[str, dict]:
    """The table's rows that headers and the README quote: notebook name -> row of the machine with QUOTED."""
    return {r["notebook"]: r for r in csv.DictReader(CSV.open()) if _quoted(r["machine"])}


def _quoted(machine: str) -> bool:
    """Whether a machine, in benchmarks/machine.py's words, is the kind the headers quote.

    >>> _quoted("2 cores, AMD EPYC, AVX-512 + bf16"), _quoted("2 cores, AMD EPYC, AVX2 (no AVX-512, no bf16 units)")
    (True, False)
    """
    return QUOTED in machine and f"no {QUOTED}" not in machine
    print(MD.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
