"""Evaluate a trained model on a FER2013 split: accuracy, top-2, per-class report, confusion matrix.

Every emolib model takes raw pixels, so the images go in exactly as
:func:`emolib.data.load_fer2013` returns them (uint8, (N, 48, 48)).

Example
-------
>>> from emolib.data import load_fer2013
>>> from emolib.models import load_pretrained
>>> from emolib.evaluate import evaluate
>>> result = evaluate(load_pretrained(), load_fer2013().test)   # doctest: +SKIP
>>> print(result.summary())                                     # doctest: +SKIP
accuracy 0.6... | top-2 0.8... | macro F1 0.6... | 3589 images
"""
from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from .data import CLASS_NAMES, IMAGE_SIZE, PREDICTIONS_DIR, Split, default_cache_dir

#: :func:`evaluate` keeps the predictions of this many (network, faces) pairs, the most recent.
CACHED_PREDICTIONS = 32

__all__ = ["EvaluationResult", "HUMAN_ACCURACY", "PUBLISHED_RESULTS", "check_images", "check_labels",
           "comparison_table", "evaluate", "from_probabilities", "load_reference", "load_results", "predict_proba", "prediction_key", "quiet_retracing",
           "top_k_accuracy", "training_summary"]


def check_images(images: Any, what: str = "images") -> np.ndarray:
    """Return ``images`` as a float32 (N, 48, 48, 1) model input, or raise a clear ValueError.

    Accepts uint8 (or any real-valued) arrays of shape (N, 48, 48) or (N, 48, 48, 1)
    with pixel values 0..255.

    >>> check_images(np.zeros((2, 48, 48), np.uint8)).shape
    (2, 48, 48, 1)
    >>> check_images(np.zeros((48, 48), np.uint8))
    Traceback (most recent call last):
    ...
    ValueError: images must have shape (N, 48, 48) or (N, 48, 48, 1), got (48, 48); for a single face use images[None]
    """
    x = np.asarray(images)
    ok = (x.ndim == 3 and x.shape[1:] == (IMAGE_SIZE, IMAGE_SIZE)) or (
        x.ndim == 4 and x.shape[1:] == (IMAGE_SIZE, IMAGE_SIZE, 1)
    )
    if not ok:
        hint = ""
        if x.shape == (IMAGE_SIZE, IMAGE_SIZE) or x.shape == (IMAGE_SIZE, IMAGE_SIZE, 1):
            hint = "; for a single face use images[None]"
        elif x.ndim == 4 and x.shape[-1] in (3, 4):
            hint = "; colour images must be converted to grayscale first"
        elif x.ndim in (3, 4):
            hint = "; resize the faces to 48x48 first (e.g. emolib.faces)"
        raise ValueError(
            f"{what} must have shape (N, {IMAGE_SIZE}, {IMAGE_SIZE}) or (N, {IMAGE_SIZE}, {IMAGE_SIZE}, 1), "
            f"got {x.shape}{hint}"
        )
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating) or x.dtype == bool):
        raise ValueError(f"{what} must hold numbers (pixel values 0..255), got dtype {x.dtype}")
    if x.ndim == 3:
        x = x[..., None]
    return x.astype(np.float32, copy=False)


def check_labels(labels: Any, n: int, num_classes: int = len(CLASS_NAMES)) -> np.ndarray:
    """Return ``labels`` as int64 (n,), or raise a clear ValueError.

    >>> check_labels([0, 6], 2)
    array([0, 6])
    >>> check_labels([0, 7], 2)
    Traceback (most recent call last):
    ...
    ValueError: labels must be class indices 0..6, found 7
    """
    y = np.asarray(labels)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"labels must have shape ({n},) to match the images, got {y.shape}")
    if len(y) and not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        bad = y[(y < 0) | (y >= num_classes)][0]
        raise ValueError(f"labels must be class indices 0..{num_classes - 1}, found {bad}")
    return y


@contextmanager
def quiet_retracing() -> Iterator[None]:
    """Keep TensorFlow's "triggered tf.function retracing" warnings out while inside: expected when one
    process predicts with many networks, or with batches of several sizes, as evaluations do.

    >>> with quiet_retracing():
    ...     pass
    """
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def predict_proba(model: Any, images: Any, batch_size: int = 256, tta: bool = False) -> np.ndarray:
    """Class probabilities, float32 (N, classes), for uint8 faces (N, 48, 48) or (N, 48, 48, 1).

    ``tta=True`` (test-time augmentation) averages the prediction for each face
    with that for its mirror image: faces are left-right symmetric, expressions
    nearly so, and the model was trained with random flips.

    >>> from emolib.models import load_pretrained
    >>> probs = predict_proba(load_pretrained(), faces, tta=True)   # doctest: +SKIP
    >>> probs.shape, probs.sum(axis=1).round(3)[:2]                  # doctest: +SKIP
    ((10, 7), array([1., 1.], dtype=float32))
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    x = check_images(images)
    n_out = int(model.output_shape[-1]) if hasattr(model, "output_shape") else len(CLASS_NAMES)
    if len(x) == 0:
        return np.zeros((0, n_out), np.float32)
    with quiet_retracing():
        probs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), np.float32)
        if tta:
            flipped = np.asarray(model.predict(x[:, :, ::-1, :], batch_size=batch_size, verbose=0), np.float32)
            probs = (probs + flipped) / 2
    if probs.ndim != 2 or len(probs) != len(x):
        raise ValueError(f"the model returned shape {probs.shape}; expected ({len(x)}, classes)")
    return probs


def top_k_accuracy(y_true: np.ndarray, probs: np.ndarray, k: int = 2) -> float:
    """Fraction of faces whose true class is among the ``k`` most probable.

    >>> top_k_accuracy(np.array([0, 1]), np.array([[.5, .3, .2], [.5, .3, .2]]), k=1)
    0.5
    >>> top_k_accuracy(np.array([0, 1]), np.array([[.5, .3, .2], [.5, .3, .2]]), k=2)
    1.0
    """
    if len(y_true) == 0:
        return float("nan")
    topk = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(topk == np.asarray(y_true)[:, None], axis=1)))


@dataclass
class EvaluationResult:
    """Metrics of one model on one split.

    ``report`` is scikit-learn's classification report as a DataFrame (one row
    per class plus ``macro avg`` and ``weighted avg``; columns precision,
    recall, f1-score, support); ``confusion[i, j]`` counts faces of true class
    ``i`` predicted as ``j``; ``confusion_normalized`` divides each row by its
    total (the diagonal is the per-class recall).
    """

    accuracy: float
    top2_accuracy: float
    report: pd.DataFrame
    confusion: np.ndarray
    confusion_normalized: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    probs: np.ndarray
    class_names: tuple[str, ...] = CLASS_NAMES
    tta: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def macro_f1(self) -> float:
        """Unweighted mean of the per-class F1 scores."""
        return float(self.report.loc["macro avg", "f1-score"])

    def summary(self) -> str:
        """One line: accuracy, top-2 accuracy, macro F1 and the number of faces."""
        return (f"accuracy {self.accuracy:.4f} | top-2 {self.top2_accuracy:.4f} | "
                f"macro F1 {self.macro_f1:.4f} | {len(self.y_true)} images" + (" | flip-TTA" if self.tta else ""))

    def misclassified(self, n: int | None = None, most_confident: bool = True) -> np.ndarray:
        """Indices of wrongly classified faces, the most confidently wrong first (or in data order)."""
        idx = np.flatnonzero(self.y_pred != self.y_true)
        if most_confident:
            conf = self.probs[idx, self.y_pred[idx]]
            idx = idx[np.argsort(-conf, kind="stable")]
        return idx if n is None else idx[:n]

    def __repr__(self) -> str:  # the arrays would flood a notebook
        return f"EvaluationResult({self.summary()})"


def evaluate(
    model: Any,
    split: Split | tuple[Any, Any],
    class_names: Sequence[str] = CLASS_NAMES,
    tta: bool = False,
    batch_size: int = 256,
    cache: bool = False,
) -> EvaluationResult:
    """Evaluate ``model`` on ``split`` (a :class:`~emolib.data.Split` or an ``(images, labels)`` pair).

    ``cache=True`` keeps a Keras model's predictions on disk (``predictions/`` in
    :func:`emolib.data.default_cache_dir`, the :data:`CACHED_PREDICTIONS` most recent), under a digest of
    everything they depend on: the network's architecture and weights, the faces, ``tta``, ``batch_size``
    and the TensorFlow version. Evaluating the same network on the same faces again with ``cache=True``
    reads them back instead of predicting (so do not time such a call); a network changed in any weight
    is predicted anew. ``make clean-cache`` deletes them. Other models (a
    :class:`~emolib.predict.LiteRTModel`, any object with ``predict``) are always predicted.

    >>> from emolib.models import load_pretrained
    >>> from emolib.data import load_fer2013
    >>> res = evaluate(load_pretrained(), load_fer2013().test, tta=True)  # doctest: +SKIP
    >>> res.accuracy, res.report.loc["happy", "recall"]                  # doctest: +SKIP
    (0.6..., 0.8...)
    >>> evaluate(None, (np.zeros((2, 32, 32)), [0, 1]))
    Traceback (most recent call last):
    ...
    ValueError: images must have shape (N, 48, 48) or (N, 48, 48, 1), got (2, 32, 32); resize the faces to 48x48 first (e.g. emolib.faces)
    """
    if isinstance(split, Split) or hasattr(split, "images"):
        images, labels = split.images, split.labels
    elif isinstance(split, (tuple, list)) and len(split) == 2:
        images, labels = split
    else:
        raise ValueError("split must be an emolib.data.Split or an (images, labels) pair, "
                         f"got {type(split).__name__}")
    x = check_images(images)
    y_true = check_labels(labels, len(x), len(tuple(class_names)))
    if len(x) == 0:
        raise ValueError("cannot evaluate on an empty split")
    key = prediction_key(model, x, batch_size, tta) if cache else None
    if key is None:
        probs = predict_proba(model, x, batch_size=batch_size, tta=tta)
    else:
        from joblib import Memory

        memory = Memory(default_cache_dir() / PREDICTIONS_DIR, verbose=0)
        probs = memory.cache(_predict_once, ignore=["model", "x"])(key, model, x, batch_size, tta)
        memory.reduce_size(items_limit=CACHED_PREDICTIONS)
    if probs.shape[1] != len(tuple(class_names)):
        raise ValueError(f"the model predicts {probs.shape[1]} classes but {len(tuple(class_names))} class names were given")
    return from_probabilities(probs, y_true, class_names, tta=tta)


def prediction_key(model: Any, images: Any, batch_size: int = 256, tta: bool = False) -> str | None:
    """A digest of everything a Keras model's predictions for ``images`` depend on, or None for a model that is
    not a Keras model (nothing to digest).

    >>> import keras
    >>> net = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(7)])
    >>> faces = np.zeros((2, 48, 48), np.uint8)
    >>> key = prediction_key(net, faces)
    >>> key == prediction_key(net, faces), key == prediction_key(net, faces + 1), key == prediction_key(net, faces, tta=True)
    (True, False, False)
    >>> net.layers[-1].bias.assign(np.ones(7))    # doctest: +ELLIPSIS
    <...>
    >>> key == prediction_key(net, faces), prediction_key(object(), faces)
    (False, None)
    """
    try:
        import keras

        if not isinstance(model, keras.Model):
            return None
        parts = [model.to_json(), keras.__version__]
        weights = model.get_weights()
    except Exception:           # a model Keras cannot describe: predicted every time
        return None
    import tensorflow as tf

    x = np.ascontiguousarray(check_images(images))
    h = hashlib.sha256()
    for part in parts + [tf.__version__, f"tta={bool(tta)} batch_size={int(batch_size)} faces={x.shape}"]:
        h.update(part.encode() + b"\0")
    for w in weights:
        h.update(f"{w.dtype}{w.shape}".encode())
        h.update(np.ascontiguousarray(w).tobytes())
    h.update(x.tobytes())
    return h.hexdigest()


def _predict_once(key: str, model: Any, x: np.ndarray, batch_size: int, tta: bool) -> np.ndarray:
    """:func:`predict_proba`, cached by :func:`evaluate` under ``key`` (the other arguments are not hashed)."""
    return predict_proba(model, x, batch_size=batch_size, tta=tta)


def from_probabilities(probs: Any, labels: Any, class_names: Sequence[str] = CLASS_NAMES,
                       tta: bool = False) -> EvaluationResult:
    """The metrics of :func:`evaluate` for probabilities already predicted, (N, classes) against N labels.

    Handy to combine predictions without running a network again, e.g. the average
    of two models' probabilities (an ensemble) or of a face and its mirror image.

    >>> res = from_probabilities([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]], [0, 1, 1], class_names=("no", "yes"))
    >>> round(res.accuracy, 3), res.confusion.tolist()
    (0.667, [[1, 0], [1, 1]])
    >>> from_probabilities([[0.5, 0.5]], [0], class_names=("a", "b", "c"))
    Traceback (most recent call last):
    ...
    ValueError: probs must have shape (N, 3) for 3 class names, got (1, 2)
    """
    from sklearn.metrics import classification_report, confusion_matrix

    class_names = tuple(class_names)
    probs = np.asarray(probs, np.float32)
    if probs.ndim != 2 or probs.shape[1] != len(class_names):
        raise ValueError(f"probs must have shape (N, {len(class_names)}) for {len(class_names)} class names, "
                         f"got {probs.shape}")
    y_true = check_labels(labels, len(probs), len(class_names))
    if len(probs) == 0:
        raise ValueError("cannot evaluate on an empty split")
    y_pred = probs.argmax(axis=1)
    labels_idx = list(range(len(class_names)))
    rep = classification_report(y_true, y_pred, labels=labels_idx, target_names=list(class_names),
                                output_dict=True, zero_division=0)
    rows = [*class_names, "macro avg", "weighted avg"]
    report = pd.DataFrame({r: rep[r] for r in rows}).T[["precision", "recall", "f1-score", "support"]]
    report["support"] = report["support"].astype(int)
    cm = confusion_matrix(y_true, y_pred, labels=labels_idx)
    totals = cm.sum(axis=1, keepdims=True)
    cm_norm = np.divide(cm, totals, out=np.zeros(cm.shape, float), where=totals > 0)
    return EvaluationResult(
        accuracy=float(np.mean(y_pred == y_true)),
        top2_accuracy=top_k_accuracy(y_true, probs, 2),
        report=report, confusion=cm, confusion_normalized=cm_norm,
        y_true=y_true, y_pred=y_pred, probs=probs, class_names=class_names, tta=tta,
    )


# --------------------------------------------------------------------------- comparison with published results
#: Where the lead records the shipped (and other) models' numbers; see :func:`load_results`.
RESULTS_PATH = __import__("pathlib").Path(__file__).resolve().parent / "assets" / "results.json"
RESULT_COLUMNS = ["name", "params", "epochs", "wall_time_min", "public_test", "private_test"]

#: Other people's models that we measured ourselves on the same splits (``benchmarks/benchmark_fer_package.py``);
#: same format as :data:`RESULTS_PATH`, each row with ``"source": "measured"``; see :func:`load_reference`.
REFERENCE_PATH = RESULTS_PATH.with_name("reference_results.json")

#: Reference accuracies on FER2013 PrivateTest (fractions), for comparison tables.
PUBLISHED_RESULTS: list[dict[str, Any]] = [
    {"name": "Ensemble record (Residual Masking Networks, Pham et al. 2020)", "private_test": 0.7682,
     "source": "published"},
    {"name": "Ensemble (Pramerdorfer & Kampel 2016)", "private_test": 0.752, "source": "published"},
    {"name": "Best single network, ImageNet-pretrained (Pham et al. 2020)",
     "private_test": 0.7414, "source": "published"},
    {"name": "Best single network, FER2013 only (Khaireddin & Chen 2021)", "private_test": 0.733,
     "source": "published"},
    {"name": "Kaggle 2013 winner (Tang 2013, CNN + SVM loss)", "private_test": 0.712, "source": "published"},
    {"name": "Seed project Emojimation (github.com/ktLearner/Emojimation), as reported",
     "private_test": 0.65, "source": "seed project"},
]

#: How often people agree with FER2013's labels: measured by Goodfellow et al. (2013) on a sample of its images,
#: not on PrivateTest, so it is not a row of :func:`comparison_table`.
HUMAN_ACCURACY = {"accuracy": 0.65, "plus_minus": 0.05, "source": "Goodfellow et al. 2013",
                  "measured_on": "a sample of FER2013's images, not PrivateTest"}


def load_results(path: str | "os.PathLike[str]" | None = None) -> pd.DataFrame:
    """Our models' recorded results as a DataFrame (one row per model); empty if the file is missing.

    The file is JSON: ``{"models": [{"name", "params", "epochs", "wall_time_min",
    "public_test", "private_test"}, ...]}`` with accuracies as fractions.

    >>> load_results("no/such/results.json").columns.tolist()
    ['name', 'params', 'epochs', 'wall_time_min', 'public_test', 'private_test']
    """
    import json
    from pathlib import Path

    p = Path(path) if path is not None else RESULTS_PATH
    if not p.is_file():
        return pd.DataFrame(columns=RESULT_COLUMNS)
    try:
        rows = json.loads(p.read_text())["models"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{p}: expected JSON {{\"models\": [...]}}: {err}") from None
    df = pd.DataFrame(rows)
    for col in RESULT_COLUMNS:
        if col not in df.columns:
            df[col] = np.nan
    return df[RESULT_COLUMNS + [c for c in df.columns if c not in RESULT_COLUMNS]]


def load_reference(path: str | "os.PathLike[str]" | None = None) -> pd.DataFrame:
    """Other people's models measured by us on FER2013 (default :data:`REFERENCE_PATH`), as :func:`load_results`.

    >>> ref = load_reference()
    >>> bool(ref["name"].str.startswith("fer ").any()), set(ref["source"])
    (True, {'measured'})
    """
    df = load_results(REFERENCE_PATH if path is None else path)
    return df.assign(source=df["source"].fillna("measured")) if "source" in df.columns else df.assign(source="measured")


def training_summary(row: Any) -> str:
    """How long a recorded model trained, in words, from a :func:`load_results` row (or a dict).

    Says when the run's time budget (``config["budget_s"]``) stopped it before its planned epochs.

    >>> training_summary({"epochs": 2, "wall_time_min": 15.0, "config": {"epochs": 40, "budget_s": 1200}})
    '2 epochs in 15 min (stopped by its 20-min budget)'
    >>> training_summary({"name": "published"})
    ''
    """
    get = row.get if hasattr(row, "get") else (lambda key, default=None: default)
    epochs, minutes = pd.to_numeric(get("epochs"), errors="coerce"), pd.to_numeric(get("wall_time_min"), errors="coerce")
    if pd.isna(epochs):
        return ""
    text = f"{epochs:.0f} epochs" + (f" in {minutes:.0f} min" if not pd.isna(minutes) else "")
    config = get("config")
    config = config if isinstance(config, dict) else {}
    budget, planned = config.get("budget_s"), config.get("epochs")
    if budget and planned and planned > epochs:
        text += f" (stopped by its {budget / 60:.0f}-min budget)"
    return text


def comparison_table(ours: pd.DataFrame | Sequence[dict] | None = None, published: bool = True,
                     missing: str | None = "\u2014") -> pd.DataFrame:
    """Published FER2013 results next to ours, sorted by PrivateTest accuracy (best first).

    ``published=True`` adds the reference rows: the published figures (:data:`PUBLISHED_RESULTS`) and the
    other people's models we measured (:func:`load_reference`, source ``measured``).
    ``ours`` defaults to :func:`load_results`; rows may also be dicts with the
    keys of :data:`RESULT_COLUMNS` (and ``config``, see :func:`training_summary`).
    Accuracies are shown in percent; ``training`` says how long each of our models
    trained. A figure a source does not report is shown as ``missing`` (a dash;
    ``missing=None`` keeps NaN, for computing with the table).

    >>> table = comparison_table([{"name": "mine", "private_test": 0.70}])
    >>> table["source"].tolist()[:3], table["PrivateTest %"].tolist()[:3], table["PublicTest %"].tolist()[0]
    (['published', 'published', 'published'], [76.8, 75.2, 74.1], '—')
    >>> bool(table.loc[table["source"] == "measured", "name"].str.startswith("fer ").all())
    True
    """
    ours_df = load_results() if ours is None else pd.DataFrame(list(ours) if not isinstance(ours, pd.DataFrame) else ours)
    if not len(ours_df):
        ours_df = pd.DataFrame(columns=RESULT_COLUMNS + ["source"])
    elif "source" in ours_df.columns:
        ours_df = ours_df.assign(source=ours_df["source"].fillna("emolib"))
    else:
        ours_df = ours_df.assign(source="emolib")
    parts = [ours_df] + ([load_reference(), pd.DataFrame(PUBLISHED_RESULTS)] if published else [])
    df = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else ours_df
    for col in RESULT_COLUMNS + ["source"]:
        if col not in df.columns:
            df[col] = np.nan
    out = pd.DataFrame({
        "name": df["name"],
        "params (M)": pd.to_numeric(df["params"], errors="coerce").div(1e6).round(2),
        "training": [training_summary(row) for _, row in df.iterrows()],
        "PublicTest %": pd.to_numeric(df["public_test"], errors="coerce").mul(100).round(1),
        "PrivateTest %": pd.to_numeric(df["private_test"], errors="coerce").mul(100).round(1),
        "source": df["source"],
    })
    out = out.sort_values("PrivateTest %", ascending=False, kind="stable").reset_index(drop=True)
    if missing is None:
        return out.replace({"training": {"": np.nan}})
    return out.astype({c: object for c in ("params (M)", "PublicTest %")}).fillna(missing).replace({"training": {"": missing}})
