"""Lecture decks: every notebook carries slide metadata (tools/slide_metadata.py) and ``make slides``'s
command builds one reveal.js deck per notebook."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("0*.ipynb"))
spec = importlib.util.spec_from_file_location("slide_metadata", REPO / "tools" / "slide_metadata.py")
slide_metadata = importlib.util.module_from_spec(spec)
spec.loader.exec_module(slide_metadata)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_cell_has_the_slide_type_of_the_rule(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        got = cell.metadata.get("slideshow", {}).get("slide_type")
        assert got == slide_metadata.slide_type(nb.cells, i), (
            f"{path.name}, cell {i}: slide type {got!r}; run python tools/slide_metadata.py")
    kinds = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    assert kinds.count("slide") >= 4, f"{path.name}: a deck of {kinds.count('slide')} slides"


def test_slide_rule_leaves_answers_out():
    cells = [nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_markdown_cell("## Section"),
             nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_markdown_cell("text after code"),
             nbformat.v4.new_markdown_cell("**Answer.** secret")]
    cells[-1].metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": "a", "points": 1}
    assert [slide_metadata.slide_type(cells, i) for i in range(5)] == ["slide", "slide", "-", "subslide", "skip"]


@pytest.mark.slow  # nbconvert on five notebooks: about 10 s
def test_make_slides_builds_a_deck_per_notebook(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "slides",
                           "--SlidesExporter.reveal_scroll=True", "--output-dir", str(tmp_path),
                           *map(str, NOTEBOOKS)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "$(BIN)/jupyter nbconvert --to slides --SlidesExporter.reveal_scroll=True --output-dir out/slides" in (
        REPO / "Makefile").read_text()
    for path in NOTEBOOKS:
        html = (tmp_path / f"{path.stem}.slides.html").read_text()
        assert html.count("<section") >= 4 and "reveal" in html.lower(), path.name
        assert "**Answer.**" not in html and "Answer.</strong>" not in html, f"{path.name}: an answer in the deck"
