"""Skip the data-hungry notebooks (01-04) when FER2013 is not available.

nbval runs every code cell of ``notebooks/*.ipynb`` as a test. Notebooks 01-04
load the real FER2013; without it each of their cells is skipped with the reason
(no kernel is even started). Under CI (``CI=true``) a missing dataset is a
failure instead: CI must provably run the notebooks on the real data.
Notebook 05 does not need FER2013 and always runs.
"""
from __future__ import annotations

import functools
import os
import re

import pytest

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The shipped file's 6 test-time views, whatever this machine's timing would choose ("auto",
# emolib.predict.choose_views): stored outputs and expected numbers stay the same on a busy machine.
os.environ.setdefault("EMOLIB_VIEWS", "6")
NEEDS_DATA = re.compile(r"^0[1-4]_.*\.ipynb$")


@functools.lru_cache(maxsize=1)
def _missing_data_reason() -> str | None:
    from emolib.data import DataError, find_data

    try:
        find_data()
    except DataError as err:
        return str(err)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    path = getattr(item, "path", None)
    if path is None or path.suffix != ".ipynb" or not NEEDS_DATA.match(path.name):
        return
    reason = _missing_data_reason()
    if reason is None:
        return
    if ON_CI:
        pytest.fail(f"CI=true but {path.name} needs FER2013, which is not available: {reason}", pytrace=False)
    pytest.skip(f"{path.name} needs FER2013: {reason}")
