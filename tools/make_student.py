"""Write the student version of the course notebooks (``make student``).

The notebooks in ``notebooks/`` are the instructor version: every exercise's answer
sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (or fills a markdown
cell marked as a solution), and checks may hold ``### BEGIN HIDDEN TESTS`` blocks,
following nbgrader's conventions. This script runs nbgrader's own preprocessors on
them, in the order ``nbgrader generate_assignment`` runs them: solutions become
``# YOUR CODE HERE`` / ``raise NotImplementedError()`` (``YOUR ANSWER HERE`` in
markdown), hidden tests and outputs are removed, check cells are locked and
checksummed. It needs no nbgrader course directory and no gradebook database;
a teacher who wants nbgrader's full workflow (release, collect, autograde) copies
``notebooks/`` into the course's ``source/`` folder instead (docs/TEACHING.md).

    python tools/make_student.py                     # notebooks/0*.ipynb -> student/
    python tools/make_student.py --out /tmp/student notebooks/01_exploring_fer2013.ipynb
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme, ClearOutput,
                                    ClearSolutions, ComputeChecksums, LockCells)

REPO = Path(__file__).resolve().parent.parent

# nbgrader's generate_assignment chain, less the steps that need its course directory or gradebook
# (IncludeHeaderFooter, InstantiateTests, SaveCells). ClearHiddenTests comes after the first checksums,
# and the checksums are computed again after it, as nbgrader does.
PREPROCESSORS = (LockCells, ClearSolutions, ClearOutput, CheckCellMetadata, ComputeChecksums,
                 ClearHiddenTests, ClearMarkScheme, ComputeChecksums, CheckCellMetadata)


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student version of an instructor notebook (a new notebook; ``nb`` is left as it is).

    >>> cell = nbformat.v4.new_code_cell("x = 1\\n### BEGIN SOLUTION\\nx = 42\\n### END SOLUTION")
    >>> cell.metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False,
    ...                              "grade_id": "demo-ex1", "schema_version": 3}
    >>> nb = nbformat.v4.new_notebook(cells=[cell])
    >>> print(student_version(nb).cells[0].source)
    x = 1
    # YOUR CODE HERE
    raise NotImplementedError()
    """
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)  # a deep copy
    resources: dict = {}
    for preprocessor in PREPROCESSORS:
        nb, resources = preprocessor().preprocess(nb, resources)
    return nb


def write_student_versions(paths: list[Path], out_dir: Path) -> list[Path]:
    """Write the student version of each notebook in ``paths`` to ``out_dir`` (same file names)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        target = out_dir / path.name
        nbformat.write(student_version(nbformat.read(path, as_version=4)), target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="instructor notebooks (default: the numbered notebooks in notebooks/)")
    parser.add_argument("--out", type=Path, default=REPO / "student", help="output folder (default: student/)")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((REPO / "notebooks").glob("0*.ipynb"))
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"error: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    for target in write_student_versions(paths, args.out):
        print(f"wrote {target.relative_to(REPO) if target.is_relative_to(REPO) else target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
