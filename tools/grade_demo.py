"""nbgrader's whole loop on the course, as a teacher runs it (``make grade-demo``).

Builds an nbgrader course folder from ``notebooks/`` (with tools/nbgrader/nbgrader_config.py), then runs
nbgrader's own commands, as docs/TEACHING.md ("Grading with nbgrader") describes them:

1. ``nbgrader generate_assignment`` for every notebook (one assignment per notebook, named after it);
2. two simulated submissions per assignment in ``submitted/``: ``solutions`` (the student version with the
   instructor's answers filled in) and ``untouched`` (the student version as released);
3. ``nbgrader autograde`` of each submission, timed;
4. ``nbgrader generate_feedback`` and ``nbgrader export`` (grades.csv).

It prints each autograded cell's score for both submissions and writes them, with the times, to
``summary.json`` in the course folder. It needs FER2013 (``EMOLIB_DATA``) for notebooks 01-04.

    python tools/grade_demo.py --course /tmp/emojimation-course          # every notebook
    python tools/grade_demo.py --course /tmp/c 01_exploring_fer2013      # one notebook
    python tools/grade_demo.py --record benchmarks/results/grading_times.json  # also record the times

``--record`` merges each notebook's autograding times into that file (per notebook, so the course can be
measured in parts), with the machine they were measured on; docs/TEACHING.md quotes them. Measure on a quiet
machine.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
CONFIG = Path(__file__).resolve().parent / "nbgrader" / "nbgrader_config.py"
#: Files the notebooks read beside themselves (notebook 03: the three-seed results table).
EXTRA = ("results",)
STUDENTS = ("solutions", "untouched")
MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$\n?", re.M)


def with_scripts_on_path() -> None:
    """Put this interpreter's scripts folder first on PATH: nbgrader's gradebook runs ``alembic`` by name.

    Without it, nbgrader run as ``.venv/bin/python -m nbgrader`` from an unactivated virtual environment
    fails with "No such file or directory: 'alembic'".
    """
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


def nbgrader(course: Path, *args: str) -> float:
    """Run one nbgrader command in the course folder; its wall time in seconds. Raises with its output on failure."""
    with_scripts_on_path()
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return seconds


def make_course(course: Path, names: list[str]) -> None:
    """The course folder: the config and one source/<assignment>/ per notebook, with the files it reads."""
    course.mkdir(parents=True, exist_ok=True)
    shutil.copy(CONFIG, course / "nbgrader_config.py")
    for name in names:
        folder = course / "source" / name
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(NOTEBOOKS / f"{name}.ipynb", folder)
        for extra in EXTRA:
            if (NOTEBOOKS / extra).exists():
                shutil.copytree(NOTEBOOKS / extra, folder / extra, dirs_exist_ok=True)


def solved(released: nbformat.NotebookNode, instructor: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The released (student) notebook with every solution cell answered as the instructor did (markers dropped)."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in instructor.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.reads(nbformat.writes(released), as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = MARKER.sub("", answers[meta["grade_id"]])
    return nb


def submit(course: Path, names: list[str]) -> None:
    """submitted/<student>/<assignment>/: the released folder, its notebook solved or untouched."""
    for name in names:
        release = course / "release" / name
        for student in STUDENTS:
            folder = course / "submitted" / student / name
            if folder.exists():
                shutil.rmtree(folder)
            shutil.copytree(release, folder)
        instructor = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        released = nbformat.read(release / f"{name}.ipynb", as_version=4)
        nbformat.write(solved(released, instructor), course / "submitted" / "solutions" / name / f"{name}.ipynb")


def scores(course: Path, names: list[str]) -> dict:
    """{assignment: {student: {grade_id: [auto_score, max_score]}}} for the autograded (code) cells."""
    from nbgrader.api import Gradebook

    with_scripts_on_path()
    out: dict = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for name in names:
            for student in STUDENTS:
                nb = gb.find_submission_notebook(name, name, student)
                out.setdefault(name, {})[student] = {g.name: [g.auto_score, g.max_score] for g in nb.grades
                                                     if g.cell_type == "code"}
    return out


def run(course: Path, names: list[str]) -> dict:
    make_course(course, names)
    for name in names:
        nbgrader(course, "generate_assignment", name, "--force")
    submit(course, names)
    times: dict = {}
    for student in STUDENTS:
        for name in names:
            times.setdefault(student, {})[name] = round(nbgrader(course, "autograde", name, "--student", student,
                                                                 "--force"), 1)
    for name in names:
        nbgrader(course, "generate_feedback", name, "--force")
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    summary = {"notebooks": names, "scores": scores(course, names), "autograde_seconds": times,
               "machine": machine(),
               "nbgrader_config": "tools/nbgrader/nbgrader_config.py"}
    (course / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def machine() -> str:
    """The machine in the words of benchmarks/machine.py (e.g. "2 cores, AMD EPYC, AVX-512 + bf16")."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from machine import describe
    finally:
        sys.path.pop(0)
    return describe()["machine"]


def record(summary: dict, path: Path) -> dict:
    """Merge the summary's autograding times into the JSON file ``path``; the merged record."""
    data = json.loads(path.read_text()) if path.is_file() else {}
    if data.get("machine") not in (None, summary["machine"]):
        data = {}  # times from another machine are not mixed with these
    data["machine"] = summary["machine"]
    data["command"] = "python tools/grade_demo.py --record " + str(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
    data["nbgrader_timeout_s"] = 900
    for student, times in summary["autograde_seconds"].items():
        data.setdefault("autograde_seconds", {}).setdefault(student, {}).update(times)
    data["date"] = time.strftime("%Y-%m-%d")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
    return data


def report(summary: dict) -> str:
    lines = []
    for name, by_student in summary["scores"].items():
        for grade_id in by_student["solutions"]:
            got = {s: by_student[s][grade_id][0] for s in STUDENTS}
            lines.append(f"{grade_id:<18} max {by_student['solutions'][grade_id][1]:>4}   "
                         + "   ".join(f"{s} {got[s]:>4}" for s in STUDENTS))
    for student, times in summary["autograde_seconds"].items():
        lines.append(f"autograde, {student}: {sum(times.values()):.0f} s in all "
                     f"({', '.join(f'{n[:2]}: {t:.0f} s' for n, t in times.items())})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebook names without .ipynb (default: every numbered notebook)")
    parser.add_argument("--course", type=Path, default=REPO / "out" / "grade-demo",
                        help="the nbgrader course folder to create (default: out/grade-demo, git-ignored)")
    parser.add_argument("--record", type=Path, help="merge the autograding times into this JSON file")
    args = parser.parse_args(argv)
    names = args.notebooks or [p.stem for p in sorted(NOTEBOOKS.glob("0*.ipynb"))]
    missing = [n for n in names if not (NOTEBOOKS / f"{n}.ipynb").is_file()]
    if missing:
        print(f"error: no such notebook in notebooks/: {', '.join(missing)}", file=sys.stderr)
        return 2
    summary = run(args.course.resolve(), names)
    print(report(summary))
    if args.record:
        record(summary, args.record.resolve())
        print(f"times recorded in {args.record}")
    print(f"course folder: {args.course} (feedback/, grades.csv, summary.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
