"""Shared fixtures.

``real_data`` gives the real FER2013 when it can be found (argument-free
``load_fer2013()``: ``$EMOLIB_DATA`` or ``data/fer2013``). Without it the test is
skipped with a reason, except under CI (``CI=true``), where a missing dataset
is a failure: CI must provably exercise the real data.
"""
from __future__ import annotations

import os

import pytest

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The shipped file's 6 test-time views, whatever this machine's timing would choose ("auto",
# emolib.predict.choose_views): stored outputs and expected numbers stay the same on a busy machine.
os.environ.setdefault("EMOLIB_VIEWS", "6")


def require_real_data():
    """Return the real FER2013 or skip (fail under CI) with the reason."""
    from emolib.data import DataError, load_fer2013

    try:
        return load_fer2013(progress=False)
    except DataError as err:
        if ON_CI:
            pytest.fail(f"CI=true but the real FER2013 is not available: {err}")
        pytest.skip(f"real FER2013 not available: {err}")


@pytest.fixture(scope="session")
def real_data():
    return require_real_data()
