"""Test tiers: each test carries a marker for what makes it slow or for what it needs.

The markers are listed in pyproject.toml (``[tool.pytest.ini_options] markers``). ``make test`` runs
the fast tier, the tests without any of them; ``make test-all`` runs everything. Most markers are set
here, from what a test is or uses, so that a new test gets them without anyone remembering:

* ``notebook``: every nbval cell of ``notebooks/*.ipynb``; notebooks 01-04 also get ``real_data``;
* ``real_data``: every test that uses the ``real_data`` fixture (tests/conftest.py), directly or
  through another fixture;
* ``network``: every test that uses the ``pypi`` fixture (tests/test_requirements.py);

Otherwise ``browser`` and ``slow`` are set in the test files themselves (``@pytest.mark.slow``,
``pytestmark``), as is ``real_data`` where a test looks for FER2013 without the fixture
(tests/test_student.py).

``make test`` and ``make test-all`` run the tests on two workers (pytest-xdist ``-n 2``; pyproject.toml adds
``--dist loadfile --no-loadscope-reorder``). Each file is one unit of work, given whole to one worker: a
notebook's cells run in order in one kernel, and a module's fixtures (a served app, a JupyterLab, the shipped
network on PrivateTest) start once. Files are handed out in the order collected, but the longest
(``LONGEST_FIRST``) go first, so that neither worker is left alone with one of them at the end.
"""
from __future__ import annotations

import re

import pytest

#: Notebooks that load the real FER2013 (as in notebooks/conftest.py).
NOTEBOOKS_WITH_DATA = re.compile(r"^0[1-4]_.*\.ipynb$")

#: Fixture name -> the marker a test using it gets.
FIXTURE_MARKERS = {"real_data": "real_data", "pypi": "network"}

#: The files that take longest in `make test-all` (--durations): pytest-xdist hands them out first, in this order.
LONGEST_FIRST = ("tests/test_grading.py", "notebooks/03_training.ipynb", "notebooks/04_evaluation.ipynb")

def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = getattr(item, "path", None)
        if path is not None and path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebook)
            if NOTEBOOKS_WITH_DATA.match(path.name):
                item.add_marker(pytest.mark.real_data)
        for fixture in getattr(item, "fixturenames", ()):
            if fixture in FIXTURE_MARKERS:
                item.add_marker(FIXTURE_MARKERS[fixture])
    order = {name: rank for rank, name in enumerate(LONGEST_FIRST)}
    items[:] = sorted(items, key=lambda item: order.get(item.nodeid.split("::")[0], len(order)))  # a stable sort
