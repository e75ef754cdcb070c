"""The student version of the notebooks (``make student``, tools/make_student.py, through nbgrader).

The notebooks in notebooks/ are the instructor version (nbgrader's conventions: solutions between
``### BEGIN SOLUTION`` / ``### END SOLUTION``, markdown answers in solution cells, checks in locked
grade cells). Here we generate the student version and check that it holds no solution and that every
exercise has its solution and its check. That the student version runs, that every check passes with the
solution and fails on the student's stub, is nbgrader's own loop in tests/test_grading.py
(``test_nbgrader_loop_end_to_end``: the student version with the solutions filled in gets every automatic
point, the untouched student version none).
"""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("0*.ipynb"))
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
