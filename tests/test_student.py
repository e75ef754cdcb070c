"""The student version of the notebooks (``make student``, tools/make_student.py, through nbgrader).

The notebooks in notebooks/ are the instructor version (nbgrader's conventions: solutions between
``### BEGIN SOLUTION`` / ``### END SOLUTION``, markdown answers in solution cells, checks in locked
grade cells). Here we generate the student version and check that it holds no solution, that it runs
up to its first exercise, and that each notebook's first check passes with the solution and fails on
the student's stub. One kernel per notebook, and only the cells up to that first check run.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("0*.ipynb"))
NEEDS_DATA = re.compile(r"^0[1-4]_")  # as in notebooks/conftest.py: notebook 05 runs without FER2013
ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def _make_student():
    spec = importlib.util.spec_from_file_location("make_student", REPO / "tools" / "make_student.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_student = _make_student()


def role(cell) -> str | None:
    """'solution', 'check' or None, from the cell's nbgrader metadata."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if meta.get("solution"):
        return "solution"
    if meta.get("grade"):
        return "check"
    return None


def is_questionnaire(cell) -> bool:
    """The questionnaire's answer cell at the end of a notebook (``nb01-quiz-answer``), graded like an answer."""
    return cell.metadata.get("nbgrader", {}).get("grade_id", "").endswith("-quiz-answer")


def exercise_of(cell) -> str:
    """``nb03-ex2`` for the cells ``nb03-ex2``, ``nb03-ex2-answer`` and ``nb03-ex2-check``."""
    return re.sub(r"-(answer|check)$", "", cell.metadata["nbgrader"]["grade_id"])


@pytest.fixture(scope="module")
def student_dir(tmp_path_factory) -> Path:
    """The student versions, written by the script as ``make student`` runs it (figures/ beside, as in the repo)."""
    root = tmp_path_factory.mktemp("course")
    (root / "figures").mkdir()
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "make_student.py"), "--out", str(root / "student")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return root / "student"


def load_pair(student_dir: Path, name: str) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    return (nbformat.read(REPO / "notebooks" / name, as_version=4),
            nbformat.read(student_dir / name, as_version=4))


def test_make_student_writes_every_numbered_notebook(student_dir):
    assert sorted(p.name for p in student_dir.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    assert len(NOTEBOOKS) >= 5


def test_make_student_names_a_missing_notebook(tmp_path, capsys):
    assert make_student.main([str(tmp_path / "nope.ipynb"), "--out", str(tmp_path / "out")]) == 2
    assert "no such notebook" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_grade_ids_are_unique_across_the_course():
    ids = [cell.metadata["nbgrader"]["grade_id"] for path in NOTEBOOKS
           for cell in nbformat.read(path, as_version=4).cells if role(cell)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_every_exercise_has_a_solution_and_every_notebook_a_check(name):
    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    prefix = "nb" + name[:2] + "-"
    headings = [h for c in nb.cells if c.cell_type == "markdown"
                for h in re.findall(r"^#+ Exercise \d+", c.source, re.M)]
    solved = {exercise_of(c) for c in nb.cells if role(c) == "solution" and not is_questionnaire(c)}
    checks = [c for c in nb.cells if role(c) == "check"]
    assert headings, f"{name} has no '### Exercise N' cell"
    assert len(solved) == len(headings), f"{name}: {len(headings)} exercises but solutions for {sorted(solved)}"
    assert checks, f"{name} has no automatic check"
    for cell in nb.cells:
        if role(cell):
            assert cell.metadata["nbgrader"]["grade_id"].startswith(prefix), cell.metadata["nbgrader"]
        if role(cell) == "solution" and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, cell.source[:200]
        if role(cell) == "solution" and cell.cell_type == "markdown":
            assert cell.source.startswith("**Answer.**"), cell.source[:200]
        if role(cell) == "check":
            assert exercise_of(cell) in solved, f"{cell.metadata['nbgrader']['grade_id']} checks no solved exercise"


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_student_version_holds_no_solution(student_dir, name):
    instructor, student = load_pair(student_dir, name)
    assert len(student.cells) == len(instructor.cells)
    for teacher_cell, cell in zip(instructor.cells, student.cells):
        assert not any(m in cell.source for m in MARKERS), cell.source[:300]
        assert not cell.get("outputs"), "the student version has no outputs"
        if role(teacher_cell) == "solution" and teacher_cell.cell_type == "markdown":
            assert cell.source == "YOUR ANSWER HERE"
        hidden = re.findall(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", teacher_cell.source, re.S)
        for _, block in hidden:
            for line in block.splitlines():
                if line.strip() and not line.strip().startswith("#"):
                    assert line not in cell.source.splitlines(), f"solution line left in the student version: {line}"
        if role(teacher_cell) == "solution" and teacher_cell.cell_type == "code":
            assert "raise NotImplementedError()" in cell.source
        if role(teacher_cell) == "check":
            assert cell.metadata["nbgrader"]["locked"] is True and "checksum" in cell.metadata["nbgrader"]


def runnable(cell) -> bool:
    return cell.cell_type == "code" and "nbval-skip" not in cell.get("metadata", {}).get("tags", [])


@pytest.mark.slow  # one kernel per notebook: 15-20 s for notebook 05, minutes for the others
@pytest.mark.parametrize("name", [pytest.param(p.name, marks=pytest.mark.real_data if NEEDS_DATA.match(p.name) else ())
                                  for p in NOTEBOOKS])
def test_student_runs_to_its_first_exercise_and_the_first_check_needs_the_solution(student_dir, name):
    """Student cells up to the first exercise run without error; the first check fails on the stub and
    passes with the solution (the cells in between run in their instructor version)."""
    if NEEDS_DATA.match(name):
        from emolib.data import DataError, find_data

        try:
            find_data()
        except DataError as err:
            if ON_CI:
                pytest.fail(f"CI=true but {name} needs FER2013: {err}")
            pytest.skip(f"{name} needs FER2013: {err}")
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    instructor, student = load_pair(student_dir, name)
    cells = instructor.cells
    first_solution = next(i for i, c in enumerate(cells) if role(c) == "solution")
    check = next(i for i, c in enumerate(cells) if role(c) == "check")
    exercise = exercise_of(cells[check])
    solution = next(i for i, c in enumerate(cells)
                    if role(c) == "solution" and c.cell_type == "code" and exercise_of(c) == exercise)
    assert first_solution <= solution < check

    client = NotebookClient(student, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(student_dir)}})

    def run(nb, index: int) -> str | None:
        """Run cell ``index`` of ``nb``; the error's name, or None when it ran."""
        try:
            client.execute_cell(nb.cells[index], index)
        except CellExecutionError as err:
            return err.ename
        return None

    with client.setup_kernel():
        for i in range(first_solution):
            if runnable(cells[i]):
                assert run(student, i) is None, f"student {name}, cell {i} fails before the first exercise"
        for i in range(first_solution, solution):  # earlier exercises: as the instructor solved them
            if runnable(cells[i]):
                assert run(instructor, i) is None, f"instructor {name}, cell {i} fails"
        stub_errors = {i: run(student, i) for i in range(solution, check + 1) if runnable(cells[i])}
        assert stub_errors[solution] == "NotImplementedError", stub_errors
        assert stub_errors[check] is not None, f"{name}: the check {exercise}-check passes on the student's stub"
        for i in range(solution, check + 1):
            if runnable(cells[i]):
                assert run(instructor, i) is None, f"instructor {name}, cell {i} fails: the solution does not pass"
        assert run(student, check) is None, f"{name}: the student's check fails on the solution"


NOISE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d|absl::InitializeLog|oneDNN custom operations|cpu_feature_guard|"
                   r"^WARNING:tensorflow", re.M)
MACHINE_PATH = re.compile(r"(/work/|/root/|/home/|/Users/|/tmp/|[A-Z]:\\\\Users)")


@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS])
def test_committed_notebook_is_clean(name):
    """nbval's cell tags instead of NBVAL comments; no TensorFlow log lines or machine paths in the outputs."""
    for i, cell in enumerate(nbformat.read(REPO / "notebooks" / name, as_version=4).cells):
        assert not re.search(r"#\s*NBVAL_", cell.source), f"{name}, cell {i}: use nbval's cell tags"
        for out in cell.get("outputs", []):
            text = out.get("text", "") + "".join(v if isinstance(v, str) else "".join(v)
                                                for k, v in out.get("data", {}).items() if k.startswith("text/"))
            text += "".join(out.get("traceback", []))
            assert not NOISE.search(text), f"{name}, cell {i}: TensorFlow log lines in the output"
            assert not MACHINE_PATH.search(text), f"{name}, cell {i}: a machine path in the output"
