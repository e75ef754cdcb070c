"""docs/RESULTS.md, the current figures for users, is what tools/results_page.py writes from the results files; the
research log (benchmarks/FINDINGS.md) is for contributors and the user documents do not send readers to it."""
from __future__ import annotations

import runpy
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
results_page = types.SimpleNamespace(**runpy.run_path(str(ROOT / "tools" / "results_page.py")))


def test_results_page_is_current():
    """Fails when a results file changed and the page was not written again: python tools/results_page.py"""
    assert results_page.PAGE.read_text(encoding="utf-8") == results_page.page(), \
        "docs/RESULTS.md is out of date: run  python tools/results_page.py"


def test_results_page_check_mode(tmp_path, capsys):
    """--check compares and writes nothing; without --check the page is written where --out says."""
    assert results_page.main(["--check"]) == 0
    page = tmp_path / "RESULTS.md"
    assert results_page.main(["--check", "--out", str(page)]) == 1 and not page.exists()
    assert "out of date: run  python tools/results_page.py" in capsys.readouterr().out
    assert results_page.main(["--out", str(page)]) == 0 and results_page.main(["--check", "--out", str(page)]) == 0
    assert page.read_text(encoding="utf-8") == results_page.PAGE.read_text(encoding="utf-8")


def test_every_results_table_row_names_its_command_and_machine():
    """Each figure of the shipped model and of the class recipe says what measured it and where."""
    page = results_page.PAGE.read_text(encoding="utf-8")
    figure_rows, inside = [], False
    for line in page.splitlines():
        if line == "| figure | value | measured by | machine |":
            inside = True
        elif inside and line.startswith("| ") and not line.startswith("|---"):
            figure_rows.append(line)
        elif not line.startswith("|"):
            inside = False
    assert len(figure_rows) >= 10
    for row in figure_rows:
        _, value, command, machine = (c.strip() for c in row.strip("| ").split(" | "))
        assert value and "`" in command and machine, row


@pytest.mark.parametrize("doc", ["README.md", "docs/TEACHING.md", "docs/TRAINING.md"])
def test_user_documents_link_the_results_not_the_research_log(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    assert "FINDINGS.md" not in text, f"{doc} sends users to the research log; link docs/RESULTS.md instead"
    if doc == "README.md":
        assert "(docs/RESULTS.md)" in text


def test_research_log_is_linked_from_contributing():
    assert "benchmarks/FINDINGS.md" in (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert (ROOT / "benchmarks" / "FINDINGS.md").is_file() and not (ROOT / "scripts").exists()
