"""Shared fixtures and helpers.

``real_data`` gives the real FER2013 when it can be found (argument-free
``load_fer2013()``: ``$EMOLIB_DATA`` or ``data/fer2013``). Without it the test is
skipped with a reason, except under CI (``CI=true``), where a missing dataset
is a failure: CI must provably exercise the real data. :func:`require` does the same
for anything else a test needs (Chromium, PyPI, eslint): ``from tests.conftest import require``.

The tests keep their own cache (``EMOLIB_CACHE``, a fresh folder per session, removed at the end): they never
write into the user's cache, and a model's predictions are computed, never read back from an earlier run. The
workers of one session (pytest-xdist) share it, as the grading workers share theirs: what one computes, the
other reads (emolib writes each cache file whole, then renames it).
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(ok: object, why: str) -> None:
    """Go on when ``ok``; else skip the test with ``why``, or under CI (``CI=true``) fail it: CI must provably run
    every test, with the real data, the real browser and the real resolver."""
    if not ok:
        if ON_CI:
            pytest.fail(f"CI=true but {why}")
        pytest.skip(why)


def _tests_cache() -> Path:
    """This session's own cache folder. The decoded FER2013 arrays already in the user's cache are linked in (read,
    never written: a rebuild replaces the link), so the real-data tests do not decode the dataset again."""
    from emolib.data import user_cache_dir

    if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("EMOLIB_TESTS_CACHE"):
        return Path(os.environ["EMOLIB_TESTS_CACHE"])  # made by the session's controller, which removes it
    source = Path(os.environ.get("EMOLIB_CACHE") or user_cache_dir()).expanduser()
    folder = Path(tempfile.mkdtemp(prefix="emolib-tests-cache-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for arrays in source.glob("fer2013-cache-*.npz") if source.is_dir() else []:
        (folder / arrays.name).symlink_to(arrays)
    os.environ["EMOLIB_TESTS_CACHE"] = str(folder)
    return folder


os.environ["EMOLIB_CACHE"] = str(_tests_cache())   # inherited by the subprocesses and notebook kernels too
# The shipped file's 6 test-time views, whatever this machine's timing would choose ("auto",
# emolib.predict.choose_views): stored outputs and expected numbers stay the same on a busy machine.
os.environ.setdefault("EMOLIB_VIEWS", "6")


def require_real_data():
    """Return the real FER2013 or skip (fail under CI) with the reason."""
    from emolib.data import DataError, load_fer2013

    try:
        return load_fer2013(progress=False)
    except DataError as err:
        require(False, f"the real FER2013 is not available: {err}")


@pytest.fixture(scope="session")
def real_data():
    return require_real_data()
