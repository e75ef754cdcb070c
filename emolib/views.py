"""Test-time views, defined once: which views each choice makes, the time budget, and the ``--views`` option.

``emolib.predict`` makes the views around the network in numpy (:func:`make_views`), ``emolib.ship`` wraps them
inside the shipped file (``emolib.models.with_tta``), and both command lines (``predict`` and ``app``) offer the same
``--views`` option (:func:`add_views_option`). No TensorFlow or OpenCV is imported here.

Example
-------
>>> sorted(VIEWS), VIEW_BUDGET_MS
([1, 2, 6], 10.0)
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

#: Test-time views: number of views -> (shifts (dy, dx), mirror each too), as ``emolib.models.with_tta`` makes
#: them. The shipped file holds 6.
VIEWS: dict[int, tuple[tuple[tuple[int, int], ...], bool]] = {
    1: (((0, 0),), False),                          # the face alone
    2: (((0, 0),), True),                           # the face and its mirror image
    6: (((0, 0), (3, 3), (-3, -3)), True),          # and each moved 3 pixels down-right and up-left
}
#: The one time budget per face of the views: ``"auto"`` at run time (``emolib.predict.choose_views``) takes the
#: most views whose time per face stays within it on this machine, and ``python -m emolib ship`` ships the most
#: accurate views whose LiteRT copy classifies one face alone (batch of 1, the slower case) within it. A 40-face
#: photo is then classified in well under a second.
VIEW_BUDGET_MS = 10.0
#: The values of ``--views`` (``predict``, ``app``) and ``--tta`` (``ship``).
VIEW_CHOICES = ["auto"] + [str(v) for v in VIEWS]
RESULTS_PATH = Path(__file__).resolve().parent / "assets" / "results.json"


def make_views(x: np.ndarray, views: int) -> np.ndarray:
    """The ``views`` test-time views of faces (N, 48, 48, 1) stacked along the batch axis, view by view
    (the order of ``emolib.models.tta_views``): the face moved by each shift (zeros come in at the
    edges), then the same for its mirror image.

    >>> make_views(np.arange(4, dtype=np.float32).reshape(1, 2, 2, 1), 2)[:, :, :, 0].tolist()
    [[[0.0, 1.0], [2.0, 3.0]], [[1.0, 0.0], [3.0, 2.0]]]
    """
    if views not in VIEWS:
        raise ValueError(f"views must be one of {sorted(VIEWS)}, not {views!r}")
    shifts, mirror = VIEWS[views]
    faces = [x, x[:, :, ::-1]] if mirror else [x]
    out = []
    for face in faces:
        for dy, dx in shifts:
            moved = np.zeros_like(face)
            h, w = face.shape[1:3]
            moved[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
                face[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
            out.append(moved)
    return np.concatenate(out)


def view_choices(path: str | Path = RESULTS_PATH) -> dict[int, float]:
    """PublicTest accuracy of the shipped network with each number of test-time views, read from
    ``assets/results.json`` (measured when it was shipped, ``python -m emolib ship``).

    >>> sorted(view_choices()) == sorted(VIEWS)
    True
    """
    entry = next(m for m in json.loads(Path(path).read_text())["models"] if m["name"] == "emonet (shipped)")
    return {int(v): float(c["public_test"]) for v, c in entry["tta_candidates"].items() if int(v) in VIEWS}


def add_views_option(parser: argparse.ArgumentParser, scope: str, timed: str) -> None:
    """Add ``--views`` (auto or a number of :data:`VIEWS`) to ``parser``; ``scope`` says for what, ``timed`` when.

    >>> p = argparse.ArgumentParser(); add_views_option(p, "per face", "when the model loads")
    >>> p.parse_args(["--views", "2"]).views
    '2'
    """
    try:
        accuracy = "PublicTest accuracy " + ", ".join(f"{v}: {100 * a:.1f} %%" for v, a in view_choices().items())
    except (OSError, ValueError, KeyError, StopIteration):
        accuracy = "accuracies in emolib/assets/results.json"
    parser.add_argument("--views", choices=VIEW_CHOICES, default=None,
                        help=f"test-time views {scope}: more views, a little more accuracy and more time "
                             f"({accuracy}); auto (the default, or $EMOLIB_VIEWS): the most views that classify a "
                             f"face within {VIEW_BUDGET_MS:g} ms on this computer, timed {timed}")


__all__ = ["RESULTS_PATH", "VIEWS", "VIEW_BUDGET_MS", "VIEW_CHOICES", "add_views_option", "make_views",
           "view_choices"]
