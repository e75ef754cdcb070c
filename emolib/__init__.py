"""emolib: the small, tested package behind the Emojimation course.

This file imports nothing heavy and keeps to old syntax, so that any Python can
run the version check below (``make setup`` does, before it creates ``.venv``).

>>> python_problem((3, 12)) is None
True
>>> print(python_problem((3, 10)))  # doctest: +ELLIPSIS
emolib needs Python 3.11 to 3.13; this is Python 3.10 ...
"""
from __future__ import annotations

import sys
import warnings

__version__ = "0.1.0"  # the package's only version string: pyproject.toml reads it

#: Oldest and newest Python (major, minor) that every pin in requirements.txt has wheels for
#: on Linux x86-64, macOS arm64 and Windows x86-64 (pyproject's requires-python says the same;
#: tests/test_requirements.py checks both).
SUPPORTED_PYTHON = ((3, 11), (3, 13))


def python_problem(version: tuple[int, int] | None = None) -> str | None:
    """A one-paragraph message when ``version`` (default: this Python) is not supported, else None."""
    version = tuple(version or sys.version_info[:2])
    low, high = SUPPORTED_PYTHON
    if low <= version <= high:
        return None
    span = "%d.%d to %d.%d" % (low + high)
    return (
        "emolib needs Python %s; this is Python %d.%d (%s). Install a supported Python "
        "(python.org; macOS: brew install python@3.12; Ubuntu/Debian: apt install python3.12-venv; "
        "Windows: py install 3.12 or python.org) and create the environment with it, e.g. "
        "`make setup PYTHON=python3.12` or `py -3.12 -m venv .venv`."
        % (span, version[0], version[1], sys.executable)
    )


if python_problem() is not None:
    warnings.warn(python_problem(), RuntimeWarning, stacklevel=2)
