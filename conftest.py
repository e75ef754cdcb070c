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
"""
from __future__ import annotations

import re

import pytest

#: Notebooks that load the real FER2013 (as in notebooks/conftest.py).
NOTEBOOKS_WITH_DATA = re.compile(r"^0[1-4]_.*\.ipynb$")

#: Fixture name -> the marker a test using it gets.
FIXTURE_MARKERS = {"real_data": "real_data", "pypi": "network"}

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

