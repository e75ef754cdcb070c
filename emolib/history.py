"""A training run's per-epoch history, read in one place: ``history.json`` or Keras' ``history.csv``.

:func:`emolib.train.train` writes both, the figures of :mod:`emolib.plots` and the notebooks read them back, and
the shipped model's is ``emolib/assets/history.json`` (:data:`SHIPPED_HISTORY_PATH`). No TensorFlow here.

Example
-------
>>> load_history("no/such/run") is None
True
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: Per-epoch history of the full training run of the shipped model (``emolib/assets/emonet.keras``).
SHIPPED_HISTORY_PATH = Path(__file__).resolve().parent / "assets" / "history.json"


def read_log(path: str | os.PathLike) -> "pd.DataFrame":
    """A ``history.csv`` (an epoch re-run after an interruption is logged twice: the last is kept, in epoch order)
    or a ``history.json``, as a table with a row per epoch."""
    import pandas as pd

    path = Path(path)
    if path.suffix == ".json":
        return pd.DataFrame(json.loads(path.read_text()))
    df = pd.read_csv(path)
    if "epoch" in df.columns:
        df = df.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)
    return df


def load_history(path: str | os.PathLike | None = None) -> tuple[dict[str, list[float]], Path] | None:
    """A run's per-epoch history as ``(dict of lists, file read)``, or None when there is none.

    ``path`` is a ``history.json``/``history.csv`` or a run folder (its ``history.json``, else its
    ``history.csv``). Without it: the shipped model's history, :data:`SHIPPED_HISTORY_PATH`.

    >>> hist, source = load_history()
    >>> source.name, len(hist["val_accuracy"]) == len(hist["accuracy"])
    ('history.json', True)
    """
    p = Path(path) if path is not None else SHIPPED_HISTORY_PATH
    for candidate in ([p / "history.json", p / "history.csv"] if p.is_dir() else [p]):
        if candidate.is_file():
            return {k: [float(v) for v in vals] for k, vals in read_log(candidate).to_dict(orient="list").items()}, \
                candidate
    return None


__all__ = ["SHIPPED_HISTORY_PATH", "load_history", "read_log"]
