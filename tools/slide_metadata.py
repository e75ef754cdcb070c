"""Give every cell of the course notebooks its slide type, so that ``jupyter nbconvert --to slides`` makes a
lecture deck of each (``make slides``).

The rule, from the notebook's own structure: the title cell and each ``##`` section open a slide, each ``###``
heading and each explanation that follows a code cell a sub-slide (reveal.js: one step down); exercise answers,
checks and the questionnaire's answers are left out of the deck (``skip``), as is the Colab set-up cell; every
other cell continues the slide before it (``-``). Only ``metadata.slideshow`` changes; outputs are kept.

    python tools/slide_metadata.py                 # every numbered notebook, in place
    python tools/slide_metadata.py --check         # exit 1 if a notebook's slide types differ from the rule
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent


def slide_type(cells: list, index: int) -> str:
    """The slide type of ``cells[index]`` under the rule above."""
    cell = cells[index]
    grading = cell.get("metadata", {}).get("nbgrader", {})
    if grading.get("solution") or grading.get("grade") or "colab-setup" in cell.get("metadata", {}).get("tags", []):
        return "skip"
    if index == 0:
        return "slide"
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().split("\n", 1)[0]
        if first.startswith("## "):
            return "slide"
        if first.startswith("### "):
            return "subslide"
        if cells[index - 1].cell_type == "code":
            return "subslide"
    return "-"


def apply(nb: nbformat.NotebookNode) -> bool:
    """Set every cell's slide type in place; whether anything changed."""
    changed = False
    for i, cell in enumerate(nb.cells):
        kind = slide_type(nb.cells, i)
        if cell.metadata.get("slideshow", {}).get("slide_type") != kind:
            cell.metadata["slideshow"] = {"slide_type": kind}
            changed = True
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/0*.ipynb")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a slide type is not the rule's")
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((REPO / "notebooks").glob("0*.ipynb"))
    stale = []
    for path in paths:
        if not path.is_file():
            print(f"error: no such notebook: {path}", file=sys.stderr)
            return 2
        nb = nbformat.read(path, as_version=4)
        if apply(nb):
            stale.append(path)
            if not args.check:
                nbformat.write(nb, path)
    for path in stale:
        print(f"{'slide types differ from the rule' if args.check else 'slide types set'}: {path.name}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
