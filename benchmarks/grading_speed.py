"""Parallel grading's speed (tools/grade.py): submissions per hour on 1 and 2 workers, one submission's wait,
and a class of 300.

Builds an nbgrader course in a temporary folder with one assignment per chosen notebook (as docs/TEACHING.md lays
out the course; default: notebook 01 alone, the quickest to measure; ``--notebooks all`` for a complete
submission of the five), fills it with the instructor's answers as each student's submission
(tools/grade_demo.py's ``solutions``), then grades every assignment at once, sandboxed as in a real run:
``--per-worker`` students per worker on a LocalCluster of 1 and of 2 workers (throughput), and one student on 2
workers (how long one complete submission waits, its assignments side by side).
Each run starts with tools/grade.py's warm-cache step (the source notebooks once); its time is recorded apart
(``warm_cache_s``) and left out of the submissions' wall time, as it is paid once per assignment.
From the measured time per submission on one worker it projects the hours that 300 students take on 8, 32 and
128 worker cores (one worker per core, scaling as from 1 to 2 workers here: a projection, not a measurement).

    python benchmarks/grading_speed.py                             # notebook 01, this machine
    ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/grading_speed.py --label "AVX2 cap"  # not the AVX2 machine's speed
    python benchmarks/grading_speed.py --notebooks all             # a complete submission (about 3 min each)

Results are merged into ``benchmarks/results/grading_speed.json`` (one entry per label) and printed. Needs
FER2013 (``EMOLIB_DATA``), dask[distributed] and bubblewrap. Measure on a quiet machine: the load average at
the start is recorded.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "grading_speed.json"
CLASS, CORES = 300, (8, 32, 128)


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # Dask sends its functions by value (tools/grade.py)
    spec.loader.exec_module(module)
    return module


def build(course: Path, names: list[str], students: int) -> None:
    """The course, one assignment per notebook (named as the notebook), and ``students`` answered submissions."""
    import nbformat

    demo = _load("grade_demo")
    course.mkdir(parents=True)
    shutil.copy(demo.CONFIG, course / "nbgrader_config.py")
    for name in names:
        (course / "source" / name).mkdir(parents=True)
        shutil.copy(demo.NOTEBOOKS / f"{name}.ipynb", course / "source" / name)
        for extra in demo.EXTRA:
            if (demo.NOTEBOOKS / extra).exists():
                shutil.copytree(demo.NOTEBOOKS / extra, course / "source" / name / extra)
        demo.nbgrader(course, "generate_assignment", name, "--force")
    instructor = {name: nbformat.read(demo.NOTEBOOKS / f"{name}.ipynb", as_version=4) for name in names}
    for i in range(students):
        for name in names:
            folder = course / "submitted" / f"s{i:03d}" / name
            shutil.copytree(course / "release" / name, folder)
            released = nbformat.read(folder / f"{name}.ipynb", as_version=4)
            nbformat.write(demo.solved(released, instructor[name]), folder / f"{name}.ipynb")


def measure(names: list[str], workers: int, students: int, sandbox: str) -> dict:
    """Grade ``students`` complete submissions (every assignment of ``names``) on ``workers`` workers."""
    grade = _load("grade")
    base = Path(tempfile.mkdtemp(prefix="emojimation-speed-"))
    base.chmod(0o755)
    try:
        build(base / "course", names, students)
        start = time.perf_counter()
        out = grade.run(base / "course", names, workers=workers, time_limit=900, sandbox=sandbox)
        wall = time.perf_counter() - start
        statuses = {r["status"] for r in out["results"].values()}
        if statuses != {"ok"}:
            raise SystemExit(f"grading failed: {statuses}\n{out['report']}")
        # once per assignment, before the submissions
        warm_s = round(sum(w["seconds"] for w in out["warm"].values()), 1) if out["warm"] else 0.0
        per_student: dict[str, float] = {}
        per_assignment: dict[str, list[float]] = {}
        for (assignment, student), r in out["results"].items():
            per_student[student] = round(per_student.get(student, 0.0) + r["seconds"], 1)
            per_assignment.setdefault(assignment, []).append(r["seconds"])
        return {"workers": workers, "threads": out["threads"], "submissions": students, "wall_s": round(wall - warm_s, 1),
                "warm_cache_s": warm_s,
                "submissions_per_hour": round(students / (wall - warm_s) * 3600, 1),
                "per_submission_s": list(per_student.values()), "per_assignment_s": per_assignment}
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="+", default=["01_exploring_fer2013"],
                        help="notebook names, or 'all' (default: 01_exploring_fer2013)")
    parser.add_argument("--per-worker", type=int, default=2, help="submissions per worker (default 2)")
    parser.add_argument("--sandbox", choices=("bwrap", "none"), default="bwrap")
    parser.add_argument("--label", default=None, help="the entry's name in the results (default: this machine)")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"results file (default {RESULTS.relative_to(REPO)})")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO / "benchmarks"))
    from machine import describe

    names = ([p.stem for p in sorted((REPO / "notebooks").glob("0*.ipynb"))] if args.notebooks == ["all"]
             else args.notebooks)
    load = os.getloadavg()[0]
    runs = [measure(names, w, w * args.per_worker, args.sandbox) for w in (1, 2)]
    alone = measure(names, 2, 1, args.sandbox)  # one student: the assignments side by side
    one = runs[0]["wall_s"] / runs[0]["submissions"]  # seconds per submission on one worker core
    label = args.label or describe()["machine"]
    entry = {"machine": describe()["machine"], "label": label, "notebooks": names, "sandbox": args.sandbox,
             "load_average_at_start": round(load, 2), "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
             "runs": runs, "seconds_per_submission_1_worker": round(one, 1),
             "one_submission_on_2_workers": alone,
             "projection_300_students_hours": {str(c): round(CLASS * one / c / 3600, 2) for c in CORES},
             "command": "python benchmarks/grading_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
             "date": time.strftime("%Y-%m-%d")}
    data = json.loads(args.out.read_text()) if args.out.is_file() else {}
    data[label] = entry
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"{label} ({', '.join(names)}; load average {load:.1f} at the start)")
    for r in runs:
        print(f"  {r['workers']} worker(s): {r['submissions']} submissions in {r['wall_s']:.0f} s = "
              f"{r['submissions_per_hour']:.0f} submissions/hour")
    print(f"  one submission alone on 2 workers (its {len(names)} assignment(s) side by side): {alone['wall_s']:.0f} s")
    print(f"  300 students, projected from {one:.0f} s per submission on one worker core:")
    for c in CORES:
        print(f"    {c:>3} worker cores: {entry['projection_300_students_hours'][str(c)]:.2f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
