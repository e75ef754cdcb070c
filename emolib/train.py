"""Train any emolib model on FER2013 through a tf.data pipeline.

Example
-------
>>> from emolib.data import load_fer2013
>>> from emolib.train import train
>>> result = train(data=load_fer2013(), out_dir="runs/class", **RECIPES["class"])  # doctest: +SKIP
>>> result.epochs_run                                                               # doctest: +SKIP
15
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .data import CLASS_NAMES, FER2013, IMAGE_SIZE, Split
# first: it keeps TensorFlow's C++ start-up notices quiet
from .models import ARCHITECTURES, build_model, copy_weights, export_for_inference
from .precision import choose_precision, explain, policy
from .history import SHIPPED_HISTORY_PATH, load_history, read_log  # noqa: F401  (re-exported)
from .settings import Settings, check

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

if TYPE_CHECKING:
    import pandas as pd

#: The named training recipes, as :func:`train` keyword arguments (``python -m emolib train --recipe NAME``).
#:
#: * ``class``: the class-time recipe of notebook 03. A fixed amount of work (15 epochs of every training face, a
#:   narrower emonet on crops shrunk to 32x32, no dropout): the same recipe on every computer, only faster or slower
#:   (the weights it ends with differ a little between CPUs, thread counts and precisions). Each face's target is
#:   half its label, half what the shipped network says of it (knowledge
#:   distillation from the ``"shipped"`` teacher, see :func:`train`); the network is then used with a mirror view
#:   (:data:`RECIPE_VIEWS`). ``benchmarks/class_recipe.py`` measures its time against the ``full`` recipe's.
#: * ``full``: the recipe of the shipped network (``make train-full``): emonet width 48, cosine schedule over
#:   100 epochs or its 108-minute budget, whichever ends first.
#: * ``seed``: the seed project's CNN and schedule, shortened to a 20-minute budget (``make train-seed``).
RECIPES: dict[str, dict] = {
    "class": dict(arch="emonet", epochs=15, batch_size=128, schedule="cosine", warmup_epochs=1, seed=0,
                  model_kwargs={"width": 24, "size": 32, "dropout": 0.0}, teachers="shipped", distill_alpha=0.5),
    "full": dict(arch="emonet", epochs=100, schedule="cosine", seed=0, budget_s=108 * 60,
                 model_kwargs={"width": 48}),
    "seed": dict(arch="seed", epochs=40, schedule="plateau", patience=6, seed=0, budget_s=20 * 60),
}


#: Notebook 03's experiments on training choices (``benchmarks/lesson_experiments.py`` runs each with 3 seeds into
#: ``notebooks/results/lesson_experiments.csv``): the class recipe without its teacher (labels only), shortened to
#: 6 epochs of a stratified 8,000-face subset in batches of 64 (750 steps), ``LESSON_RUN``, with one change each.
#: ``quarter`` keeps the epochs, so it also takes a quarter of the steps; ``quarter_same_steps`` trains the quarter
#: for 4 times the epochs (and warm-up), the same 750 steps.
LESSON_RUN: dict = dict({k: v for k, v in RECIPES["class"].items() if k not in ("teachers", "distill_alpha")},
                        epochs=6, batch_size=64, train_size=8000)
LESSON_EXPERIMENTS: dict[str, dict] = {
    "cosine": {},
    "plateau": {"schedule": "plateau"},
    "class_weight": {"class_weight": True},
    "quarter": {"train_size": 2000},
    "quarter_same_steps": {"train_size": 2000, "epochs": 24, "warmup_epochs": 4},
}


def lesson_settings(experiment: str, seed: int = 0) -> dict:
    """The :func:`train` keyword arguments of one run of notebook 03's experiment table.

    >>> s = lesson_settings("quarter_same_steps", seed=1)
    >>> s["train_size"] * s["epochs"] == LESSON_RUN["train_size"] * LESSON_RUN["epochs"], s["seed"]
    (True, 1)
    """
    if experiment not in LESSON_EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; choose one of {sorted(LESSON_EXPERIMENTS)}")
    return dict(LESSON_RUN, seed=seed, **LESSON_EXPERIMENTS[experiment])


#: The test-time views each recipe's network is used with, as :func:`emolib.models.with_tta` arguments: the class
#: network averages each face and its mirror image (``with_tta(model, **RECIPE_VIEWS["class"])``); the shipped
#: network carries its views inside its file.
RECIPE_VIEWS: dict[str, dict] = {"class": dict(shifts=((0, 0),), flip=True)}


def recipe_of(config: dict) -> str | None:
    """The name of the recipe a run's ``config.json`` follows (every setting the recipe fixes), else None.

    >>> recipe_of(dict(RECIPES["class"], train_size=28709, patience=10))
    'class'
    >>> recipe_of(dict(RECIPES["class"], epochs=3)) is None
    True
    """
    for name, recipe in RECIPES.items():
        if all(_same(_setting(config, k), v) for k, v in recipe.items() if k != "model_kwargs") and all(
                _same((config.get("model_kwargs") or {}).get(k), v)
                for k, v in (recipe.get("model_kwargs") or {}).items()):
            return name
    return None


def _setting(config: dict, key: str):
    """A run's setting as a recipe writes it: teachers by name (a run's config keeps their fingerprints too)."""
    value = config.get(key)
    if key == "teachers" and value and not isinstance(value, str):
        names = [t["teacher"] if isinstance(t, dict) else t for t in value]
        return names[0] if len(names) == 1 else names
    return value


def _same(a, b) -> bool:
    return list(a) == list(b) if isinstance(b, (list, tuple)) and isinstance(a, (list, tuple)) else a == b


@dataclass
class TrainResult:
    """What a training run produced; also written to ``out_dir/result.json``."""

    arch: str
    out_dir: str
    model_path: str
    epochs_run: int
    best_epoch: int
    best_val_accuracy: float
    wall_time_s: float
    train_images: int
    params: int
    seed: int
    config: dict = field(default_factory=dict)
    #: seconds of every epoch logged, the earlier parts of a resumed run included (``wall_time_s`` is this call's)
    train_time_s: float | None = None
    #: CPU cores TensorFlow could use (its intra-op threads when set, else the cores this process may run on)
    cores: int | None = None
    #: seconds spent computing the teachers' soft targets (when distilling; the first computation when cached)
    teacher_targets_s: float | None = None


def make_dataset(
    split: Split, batch_size: int = 64, shuffle: bool = False, seed: int = 0, targets: np.ndarray | None = None
) -> tf.data.Dataset:
    """A batched ``tf.data.Dataset`` of (uint8 (B,48,48,1) images, one-hot labels).

    ``targets`` (N, 7), e.g. :func:`distillation_targets`, replaces the one-hot labels.

    >>> import numpy as np
    >>> ds = make_dataset(Split(np.zeros((5, 48, 48), np.uint8), np.arange(5)), batch_size=2)
    >>> [tuple(x.shape) for x, _ in ds]
    [(2, 48, 48, 1), (2, 48, 48, 1), (1, 48, 48, 1)]
    """
    x = split.images[..., None]
    if targets is None:
        y = keras.utils.to_categorical(split.labels, len(CLASS_NAMES)).astype("float32")
    else:
        y = np.asarray(targets, dtype="float32")
        if y.shape != (len(x), len(CLASS_NAMES)):
            raise ValueError(f"targets must have shape ({len(x)}, {len(CLASS_NAMES)}), got {y.shape}")
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def mixup(ds: tf.data.Dataset, alpha: float = 0.2, seed: int = 0) -> tf.data.Dataset:
    """Mixup (Zhang et al., 2018) on a batched dataset of (images, one-hot labels).

    Each image is blended with another of its batch, ``lam * a + (1 - lam) * b``,
    and so are the labels, with ``lam`` drawn per image from Beta(``alpha``,
    ``alpha``): a small ``alpha`` keeps most images close to one face. The images
    come out as float32 (the models rescale inside).

    >>> import numpy as np
    >>> ds = make_dataset(Split(np.zeros((4, 48, 48), np.uint8), np.arange(4)), batch_size=4)
    >>> x, y = next(iter(mixup(ds, alpha=0.2)))
    >>> x.dtype.name, np.allclose(y.numpy().sum(axis=1), 1.0)
    ('float32', True)
    """
    check("mixup_alpha", alpha)

    def blend(batch, key):
        x, y = batch
        x = tf.cast(x, tf.float32)
        n = tf.shape(x)[0]
        g1 = tf.random.stateless_gamma([n], seed=tf.stack([key, 1]), alpha=alpha)
        g2 = tf.random.stateless_gamma([n], seed=tf.stack([key, 2]), alpha=alpha)
        lam = g1 / tf.maximum(g1 + g2, 1e-12)  # Beta(alpha, alpha)
        partner = tf.argsort(tf.random.stateless_uniform([n], seed=tf.stack([key, 3])))
        lx = tf.reshape(lam, [-1, 1, 1, 1])
        ly = tf.reshape(lam, [-1, 1])
        x = lx * x + (1.0 - lx) * tf.gather(x, partner)
        y = ly * y + (1.0 - ly) * tf.gather(y, partner)
        return x, y

    # one key per batch, new ones each epoch (the same sequence for the same seed)
    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    # one batch at a time: with num_parallel_calls=AUTOTUNE, the map's threads competed with training for
    # 2 cores and about half the epochs took 40 % longer (benchmarks/FINDINGS.md)
    return tf.data.Dataset.zip((ds, keys)).map(blend)


def stratified_subset(split: Split, size: int, seed: int = 0) -> Split:
    """A class-stratified random subset of ``size`` images (the whole split if smaller)."""
    if size >= len(split):
        return split
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(
        np.arange(len(split)), train_size=size, stratify=split.labels, random_state=seed
    )
    idx = np.sort(idx)
    return Split(split.images[idx], split.labels[idx])


class CosineByBudget(keras.callbacks.Callback):
    """Linear warm-up then cosine decay, driven by whichever runs out first: epochs or wall time.

    Progress is ``max(step / total_steps, elapsed / budget_s)``, so a run that is
    slower than planned still anneals its learning rate to the end in time.
    """

    def __init__(self, base_lr: float, total_steps: int, warmup_steps: int = 0,
                 budget_s: float | None = None, min_lr: float = 1e-6) -> None:
        super().__init__()
        self.base_lr, self.total_steps, self.warmup = base_lr, max(1, total_steps), warmup_steps
        self.budget_s, self.min_lr = budget_s, min_lr
        self.step, self.t0 = 0, None

    def on_train_begin(self, logs=None):
        self.t0 = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        # after BackupAndRestore the epoch tells us where we are
        self.step = max(self.step, epoch * self.params.get("steps", 0) if self.params else 0)

    def lr_at(self, step: int, elapsed: float) -> float:
        if step < self.warmup:
            return self.base_lr * (step + 1) / self.warmup
        p = step / self.total_steps
        if self.budget_s:
            p = max(p, elapsed / self.budget_s)
        p = min(1.0, p)
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * p))

    def on_train_batch_begin(self, batch, logs=None):
        lr = self.lr_at(self.step, time.monotonic() - self.t0)
        self.model.optimizer.learning_rate.assign(lr)
        self.step += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())


class TimeBudget(keras.callbacks.Callback):
    """Stop at the end of the epoch after which another epoch would overrun ``budget_s``."""

    def __init__(self, budget_s: float) -> None:
        super().__init__()
        self.budget_s = budget_s

    def on_train_begin(self, logs=None):
        self.t0 = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self.te = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        if now - self.t0 + (now - self.te) > self.budget_s:
            print(f"\nTime budget of {self.budget_s:.0f} s reached after epoch {epoch + 1}; stopping.")
            self.model.stop_training = True


class SwapEMAWeights(keras.callbacks.SwapEMAWeights):
    """Keras' ``SwapEMAWeights`` that also ends a run stopped early (time budget) with the averaged weights.

    Keras copies the average into the model when ``fit`` ends; its callback prepares
    that only after the last planned epoch. Place it after :class:`TimeBudget`.
    """

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.swap_on_epoch and self.model.stop_training and epoch != self.params["epochs"] - 1:
            self._finalize_ema_values()


def check_split(split: Split, name: str = "split", allow_empty: bool = False) -> None:
    """Raise a clear ValueError unless ``split`` holds uint8 (N, 48, 48) images and N labels 0..6.

    >>> check_split(Split(np.zeros((2, 48, 48), np.uint8), np.array([0, 6])), "train")
    >>> check_split(Split(np.zeros((2, 64, 64), np.uint8), np.array([0, 6])), "train")
    Traceback (most recent call last):
    ...
    ValueError: train images must be uint8 with shape (N, 48, 48), got uint8 (2, 64, 64)
    """
    images, labels = np.asarray(split.images), np.asarray(split.labels)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"{name} images must be uint8 with shape (N, {IMAGE_SIZE}, {IMAGE_SIZE}), "
                         f"got {images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{name} labels must have shape ({len(images)},), got {labels.shape}")
    if len(labels) and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0
                        or labels.max() >= len(CLASS_NAMES)):
        raise ValueError(f"{name} labels must be integers 0..{len(CLASS_NAMES) - 1}")
    if not allow_empty and len(labels) == 0:
        raise ValueError(f"{name} split is empty")


def recalibrate_batchnorm(model: keras.Model, images: np.ndarray, batch_size: int = 1000) -> keras.Model:
    """Recompute each BatchNormalization layer's moving mean and variance on ``images`` ("precise BatchNorm").

    While it trains, a BatchNormalization layer keeps running averages of the
    statistics of *augmented* batches (rotated, zoomed, interpolated, with
    dropout upstream). At inference the network sees the plain central crop,
    whose statistics differ: in our shipped network the first layers' variance
    was 1.2 to 1.9 times the stored one. This replaces the running averages by
    the exact mean and variance over ``images`` as the network sees them at
    inference (no augmentation, no dropout), layer by layer from the input up
    (Wu & Johnson, 2021, "Rethinking 'Batch' in BatchNorm"). No weight is
    learnt; only those statistics change. Works in place and returns
    ``model``; for a :func:`emolib.models.with_tta` file or an ensemble it
    recalibrates the network(s) inside. On the shipped width-48 network, with
    the 28,709 training faces (about 6 min on 2 cores), PublicTest went from
    68.29 to 68.77 % for the network alone.

    >>> m = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Rescaling(1 / 255),
    ...                       keras.layers.BatchNormalization()])
    >>> x = np.full((4, 48, 48), 51, np.uint8)          # every pixel 51/255 = 0.2
    >>> bn = recalibrate_batchnorm(m, x).layers[-1]
    >>> round(float(bn.moving_mean.numpy()[0]), 4), round(float(bn.moving_variance.numpy()[0]), 4)
    (0.2, 0.0)
    """
    from .evaluate import check_images, quiet_retracing
    from .models import members

    x = check_images(images)
    if len(x) == 0:
        raise ValueError("no images to recalibrate BatchNormalization on")
    nets = members(model)
    bns = [(net, layer) for net in nets for layer in net.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not bns:
        raise ValueError(f"{model.name} has no BatchNormalization layer (at its top level) to recalibrate")
    with quiet_retracing():   # one sub-model per layer: TensorFlow's expected "retracing" warnings stay out
        for net, bn in bns:
            if bn.axis not in (-1, len(bn.input.shape) - 1):
                raise ValueError(f"{bn.name}: only channels-last BatchNormalization (axis -1) is supported")
            upstream = keras.Model(net.inputs, bn.input)  # inference mode, the layers below already updated
            total = squares = 0.0
            for start in range(0, len(x), batch_size):
                a = np.asarray(upstream.predict_on_batch(x[start:start + batch_size]), dtype=np.float64)
                a = a.reshape(-1, a.shape[-1])
                total, squares = total + a.sum(0), squares + (a * a).sum(0)
            count = len(x) * int(np.prod(bn.input.shape[1:-1]))
            mean = total / count
            var = np.maximum(squares / count - mean**2, 0.0)
            bn.moving_mean.assign(mean.astype(bn.moving_mean.dtype))
            bn.moving_variance.assign(var.astype(bn.moving_variance.dtype))
    return model


class EpochTimer(keras.callbacks.Callback):
    """Add each epoch's wall time in seconds to its logs as ``epoch_time_s`` (place it before the CSV logger)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_time_s"] = round(time.monotonic() - self.t0, 2)


def training_cores() -> int:
    """The CPU cores TensorFlow computes on: its intra-op threads when set (:func:`set_threads`), else the cores
    this process may run on."""
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    if threads:
        return int(threads)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# --------------------------------------------------------------------------- knowledge distillation
#: A teacher: a saved Keras file (path) or a loaded model, raw pixels (N, 48, 48, 1) in, 7 probabilities out.
Teacher = "str | os.PathLike[str] | keras.Model"
#: Where :func:`train` keeps the teachers' soft targets of a distilled run, in its ``out_dir``.
TEACHER_CACHE = "teacher_targets.npz"
#: A teacher given by this name is the network shipped with emolib (:func:`emolib.models.load_pretrained`) as one view
#: of each face, without its test-time views: a recipe can name it wherever it runs from.
SHIPPED_TEACHER = "shipped"


def _shipped_teacher() -> keras.Model:
    from .models import load_pretrained, without_tta

    model = without_tta(load_pretrained())
    model.name = SHIPPED_TEACHER
    return model


def _weights_sha256(model: keras.Model) -> str:
    h = hashlib.sha256()
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    return h.hexdigest()


def _as_list(teachers) -> list:
    if isinstance(teachers, (str, os.PathLike, keras.Model)):
        return [teachers]
    teachers = list(teachers)
    if not teachers:
        raise ValueError("no teacher given: pass a model file (e.g. emolib/assets/emonet.keras) or a loaded model")
    return teachers


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, in hex (how :func:`teacher_ids` and the model card tell model files apart)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def teacher_ids(teachers: Teacher | Sequence[Teacher]) -> list[dict]:
    """Name and fingerprint of each teacher: ``{"teacher": path, "sha256": of the file}``, for a loaded
    model ``{"teacher": "<name> (in memory)", "sha256": of its weights}``, for :data:`SHIPPED_TEACHER`
    ``{"teacher": "shipped", "sha256": of its weights}``. A missing file is a clear error.

    >>> teacher_ids("no/such/teacher.keras")
    Traceback (most recent call last):
    ...
    emolib.models.ModelFileError: model file not found: no/such/teacher.keras
    """
    from .models import ModelFileError

    ids = []
    for t in _as_list(teachers):
        if isinstance(t, str) and t == SHIPPED_TEACHER:
            ids.append({"teacher": SHIPPED_TEACHER, "sha256": _weights_sha256(_shipped_teacher())})
        elif isinstance(t, keras.Model):
            ids.append({"teacher": f"{t.name} (in memory)", "sha256": _weights_sha256(t)})
        else:
            if not Path(t).is_file():
                raise ModelFileError(f"model file not found: {t}")
            ids.append({"teacher": str(t), "sha256": file_sha256(t)})
    return ids


def check_model_files(roles: Sequence[tuple[str, Teacher | Sequence[Teacher] | None]]) -> None:
    """Check that the model files a run learns from exist, before any data is read: ``roles`` pairs a role
    (e.g. ``"teacher"``, ``"--init"``) with a path, a list of them, or None (nothing to check). The first missing
    file is a :class:`emolib.models.ModelFileError` that starts with its role.

    >>> check_model_files([("teacher", None), ("--init", "no/such/start.keras")])
    Traceback (most recent call last):
    ...
    emolib.models.ModelFileError: --init model file not found: no/such/start.keras
    """
    from .models import ModelFileError

    for role, paths in roles:
        if paths is None or (not isinstance(paths, (str, os.PathLike, keras.Model)) and not len(paths)):
            continue
        try:
            teacher_ids(paths)
        except ModelFileError as err:
            raise ModelFileError(f"{role} {err}") from None


def teacher_targets(teachers: Teacher | Sequence[Teacher], images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The teachers' averaged class probabilities (N, 7) for raw faces ``images`` (uint8, (N, 48, 48)).

    Each teacher is a Keras file, a loaded model or :data:`SHIPPED_TEACHER`; one with test-time views inside
    (:func:`emolib.models.load_pretrained`) averages its views itself. The faces are
    given as they are (no augmentation): these are the soft targets of offline
    knowledge distillation (:func:`train` with ``teachers``). A missing or unreadable
    file, or a model that does not map (48, 48, 1) faces to 7 probabilities, is a clear
    ``ValueError`` (:class:`emolib.models.ModelFileError` for files).

    >>> from emolib.models import load_pretrained
    >>> from emolib.data import load_fer2013
    >>> faces = load_fer2013().train.images[:100]                                   # doctest: +SKIP
    >>> probs = teacher_targets([load_pretrained(), "runs/other/best.keras"], faces)  # doctest: +SKIP
    >>> probs.shape                                                                 # doctest: +SKIP
    (100, 7)
    >>> teacher_targets("no/such/teacher.keras", np.zeros((1, 48, 48), np.uint8))
    Traceback (most recent call last):
    ...
    emolib.models.ModelFileError: model file not found: no/such/teacher.keras
    """
    from .evaluate import check_images
    from .models import INPUT_SHAPE, NUM_CLASSES, load_model_file

    teachers = _as_list(teachers)
    x = check_images(images, "teacher images")
    total = np.zeros((len(x), NUM_CLASSES), np.float64)
    for t in teachers:
        if isinstance(t, str) and t == SHIPPED_TEACHER:
            t = _shipped_teacher()
        model = t if isinstance(t, keras.Model) else load_model_file(t)  # checks input and output shapes
        name = model.name if isinstance(t, keras.Model) else str(t)
        if tuple(model.input_shape[1:]) != INPUT_SHAPE or model.output_shape[-1] != NUM_CLASSES:
            raise ValueError(f"teacher {name} is not an emotion model: input {model.input_shape}, output "
                             f"{model.output_shape}; expected input (None, 48, 48, 1) and 7 outputs")
        probs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), np.float64)
        if len(probs) and (probs.min() < -1e-6 or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)):
            raise ValueError(f"teacher {name} does not output probabilities (its outputs do not sum to 1; "
                             "a softmax layer is missing?)")
        total += probs
    return (total / len(teachers)).astype(np.float32)


def distillation_targets(labels: np.ndarray, teacher_probs: np.ndarray, alpha: float,
                         label_smoothing: float = 0.0) -> np.ndarray:
    """``alpha * teacher_probs + (1 - alpha) * one-hot labels``, the one-hot smoothed as Keras' loss does
    (``(1 - label_smoothing) * one_hot + label_smoothing / 7``). Rows sum to 1.

    >>> t = np.array([[0.5, 0, 0, 0.5, 0, 0, 0]], np.float32)
    >>> [round(float(v), 3) for v in distillation_targets(np.array([3]), t, alpha=0.5)[0]]
    [0.25, 0.0, 0.0, 0.75, 0.0, 0.0, 0.0]
    >>> [round(float(v), 3) for v in distillation_targets(np.array([3]), t, alpha=0.5, label_smoothing=0.14)[0]]
    [0.26, 0.01, 0.01, 0.69, 0.01, 0.01, 0.01]
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"distill_alpha is the teachers' share of the target, above 0 and at most 1, not {alpha!r}")
    k = len(CLASS_NAMES)
    probs = np.asarray(teacher_probs, np.float64)
    if probs.shape != (len(labels), k):
        raise ValueError(f"teacher probabilities must have shape ({len(labels)}, {k}), got {probs.shape}")
    hard = (1 - label_smoothing) * np.eye(k)[np.asarray(labels)] + label_smoothing / k
    return (alpha * probs + (1 - alpha) * hard).astype(np.float32)


def cached_teacher_targets(out_dir: str | os.PathLike, teachers: Teacher | Sequence[Teacher], images: np.ndarray,
                           batch_size: int = 256, verbose: bool = True) -> tuple[np.ndarray, list[dict], float]:
    """:func:`teacher_targets`, kept in ``out_dir/teacher_targets.npz`` with the teachers' fingerprints
    (:func:`teacher_ids`) and the images'; reused while both match, recomputed when a teacher or the faces
    changed. Returns the probabilities, the teachers' ids and the seconds their first computation took."""
    out = Path(out_dir)
    ids = teacher_ids(teachers)
    images = np.ascontiguousarray(images)
    faces = hashlib.sha256(images.tobytes() + repr(images.shape).encode()).hexdigest()
    cache = out / TEACHER_CACHE
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as z:
                same = ([i["sha256"] for i in json.loads(str(z["teachers"]))] == [i["sha256"] for i in ids]
                        and str(z["images_sha256"]) == faces)
                if same:
                    return z["probs"], ids, float(z["seconds"])
        except (OSError, ValueError, KeyError):  # unreadable or from another version: compute again
            pass
    if verbose:
        print(f"Computing the soft targets of {len(ids)} teacher(s) for {len(images):,} faces ...", flush=True)
    t0 = time.time()
    probs = teacher_targets(teachers, images, batch_size)
    seconds = round(time.time() - t0, 1)
    out.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")  # one per process: two may compute it at once
    with open(tmp, "wb") as fh:
        np.savez(fh, probs=probs, teachers=json.dumps(ids), images_sha256=faces, seconds=seconds)
    tmp.replace(cache)
    return probs, ids, seconds


def set_threads(threads: int | None) -> None:
    """Pin TensorFlow's thread pools (call before any TF op runs); None keeps the defaults."""
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


@dataclass
class TrainConfig(Settings):
    """Every setting of a training run (the fields of :class:`emolib.settings.Settings`, defined there once), checked
    when it is made, the architecture and model files too (a bad one is a ``ValueError`` naming it).

    :func:`train` takes these as keyword arguments and the command line builds one from ``--recipe`` and its options;
    a named recipe is ``TrainConfig(**RECIPES[name])``. See :func:`train` for what each setting does.

    >>> TrainConfig(**RECIPES["class"]).epochs
    15
    >>> TrainConfig(arch="resnet")
    Traceback (most recent call last):
    ...
    ValueError: unknown architecture 'resnet'; choose one of ['emonet', 'seed']
    """

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {sorted(ARCHITECTURES)}")
        super().__post_init__()
        if self.teachers is not None:
            self.teachers = _as_list(self.teachers)
        # files missing: an emolib.models.ModelFileError (a ValueError), before any data is read
        check_model_files([("teacher", [t for t in self.teachers or [] if t != SHIPPED_TEACHER]),
                           ("init_from", self.init_from)])


def _build(config: TrainConfig, strategy: tf.distribute.Strategy, precision: str) -> keras.Model:
    """The run's compiled model, built in ``strategy``'s scope under ``precision``; ``init_from``'s weights."""
    kwargs = dict(config.model_kwargs or {})
    if config.learning_rate is not None:
        kwargs["learning_rate"] = config.learning_rate
    source = None
    if config.init_from is not None:
        from .models import load_model_file, without_tta

        init = config.init_from
        source = without_tta(init if isinstance(init, keras.Model) else load_model_file(init))
    with policy(precision), strategy.scope():
        model = build_model(config.arch, seed=config.seed, **kwargs)
        # the optimizer's slots made now: made inside fit's first trace, they make TensorFlow trace it twice
        model.optimizer.build(model.trainable_variables)
    if source is not None:
        copy_weights(source, model)
    return model


def _distill(model: keras.Model, config: TrainConfig, split: Split, out: Path, strategy: tf.distribute.Strategy,
             verbose: bool) -> tuple[np.ndarray, dict, float]:
    """The teachers' mixed targets for ``split``, the model recompiled to take them as they are, and what the run's
    config records of it; returns ``(targets, record, seconds of the teachers' pass)``."""
    probs, ids, seconds = cached_teacher_targets(out, config.teachers, split.images, verbose=verbose)
    smoothing = float(getattr(model.loss, "label_smoothing", 0.0) or 0.0)
    targets = distillation_targets(split.labels, probs, config.distill_alpha, smoothing)
    with strategy.scope():  # the smoothing is in the targets now: the loss takes them as they are
        model.compile(optimizer=model.optimizer, loss=keras.losses.CategoricalCrossentropy(),
                      metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    return targets, dict(teachers=ids, distill_alpha=config.distill_alpha, distill_label_smoothing=smoothing), seconds


def _callbacks(config: TrainConfig, model: keras.Model, out: Path, steps: int, base_lr: float,
               best_so_far: float | None) -> list[keras.callbacks.Callback]:
    """The built-in callbacks, in the order they must run: checkpoint (and early stop), schedule, log, backup."""
    best_path = out / "best.keras"
    # on resume, only an epoch better than the interrupted run's best replaces best.keras
    checkpoint = keras.callbacks.ModelCheckpoint(str(best_path), monitor="val_accuracy", mode="max", save_best_only=True,
                                                 initial_value_threshold=best_so_far if best_path.is_file() else None)
    keepers: list[keras.callbacks.Callback] = [checkpoint]  # the callbacks that save or restore weights
    cbs: list[keras.callbacks.Callback] = [EpochTimer()]
    if config.schedule == "plateau":
        cbs.append(keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="max", factor=0.5,
                                                     patience=max(2, config.patience // 3), min_lr=1e-6, verbose=1))
        keepers.append(keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=config.patience,
                                                     restore_best_weights=True, verbose=1))
    else:
        cbs.append(CosineByBudget(base_lr, config.epochs * steps, config.warmup_epochs * steps, config.budget_s))
    # after the schedulers, which add the epoch's learning_rate to the logs it writes
    cbs.append(keras.callbacks.CSVLogger(str(out / "history.csv"), append=True))
    # an epoch counts as done for a resume only once it is logged
    cbs.append(keras.callbacks.BackupAndRestore(str(out / "backup")))
    if config.budget_s:
        cbs.append(TimeBudget(config.budget_s))
    if getattr(model.optimizer, "use_ema", False):
        # validation has used the averaged weights already; the swap puts them in the model until the next
        # epoch, so the keepers save them (the backup above keeps the raw ones, as a resume needs)
        return cbs + [SwapEMAWeights(swap_on_epoch=True)] + keepers
    return keepers + cbs


def _save_float32(*paths: Path) -> None:
    """Rewrite each saved mixed-precision model as a float32 one (same weights, no optimizer state)."""
    from .models import load_model_file

    for path in paths:
        if path.is_file():
            export_for_inference(load_model_file(path), path)


def _best_so_far(out: Path) -> float | None:
    """The best validation accuracy an interrupted run in ``out`` logged, or None (a fresh run, or no readable log)."""
    if not (out / "backup" / "training_metadata.json").is_file() or not (out / "history.csv").is_file():
        return None
    try:
        return float(read_log(out / "history.csv")["val_accuracy"].max())
    except Exception:  # an unreadable log: keep the checkpoint logic's default
        return None


def _history(out: Path) -> "pd.DataFrame":
    """Every logged epoch of the run in ``out`` (those of an interrupted earlier run too), also as history.json."""
    full = read_log(out / "history.csv")
    (out / "history.json").write_text(json.dumps({c: full[c].tolist() for c in full.columns}, indent=1))
    return full


def train(
    arch: str | None = None,
    data: FER2013 | None = None,
    out_dir: str | os.PathLike | None = None,
    *,
    config: TrainConfig | None = None,
    strategy: tf.distribute.Strategy | None = None,
    verbose: int | str = "auto",
    callbacks: list[keras.callbacks.Callback] | None = None,
    **settings,
) -> TrainResult:
    """Train on ``data.train``, select on ``data.val`` (PublicTest); never touches ``data.test``.

    The run's settings are a :class:`TrainConfig` (``config``), or its fields as keyword arguments (``arch`` and
    ``**settings``, e.g. ``train(data=fer, out_dir="runs/class", **RECIPES["class"])``); they are checked before
    anything is read or written. Run-time arguments: ``strategy`` (e.g. ``tf.distribute.MirroredStrategy()``) builds
    the model in its scope, the same code on one CPU or several GPUs; ``verbose`` is Keras'; ``callbacks`` are extra
    Keras callbacks, run after the built-in ones.

    Callbacks: EarlyStopping (on val accuracy, best weights restored) and
    ReduceLROnPlateau as in the seed (``schedule="plateau"``), or warm-up +
    cosine decay over the epoch/time budget (``schedule="cosine"``);
    ModelCheckpoint of the best val model to ``out_dir/best.keras``;
    BackupAndRestore in ``out_dir/backup`` so an interrupted run resumes;
    history in ``history.csv`` and ``history.json``. A model built with ``ema``
    (see :func:`emolib.models.build_emonet`) is validated and saved with its
    averaged weights, in ``best.keras`` and ``last.keras`` alike.

    ``train_size`` trains on a class-stratified random subset of that many faces.
    ``precision`` is ``"auto"`` (the default: mixed bfloat16 where the CPU has
    bfloat16 units, float32 elsewhere, see :func:`emolib.precision.choose_precision`),
    ``"float32"`` or ``"bfloat16"``; the choice is printed once and recorded in the
    run's config (``precision_used``). ``best.keras`` and ``last.keras`` are saved in
    float32 whatever the run computed in, so using them never emulates bfloat16.
    ``mixup_alpha`` (e.g. 0.2) blends the training images and labels in pairs
    (see :func:`mixup`); the logged training accuracy is then measured on those
    blends, validation is not.

    ``teachers`` (model files, loaded models, or ``"shipped"``: the network shipped
    with emolib, one view of each face) turn on offline knowledge distillation: the
    target of each training face becomes ``distill_alpha * p + (1 - distill_alpha)
    * y``, where ``p`` is the teachers' averaged probabilities for the plain face
    (:func:`teacher_targets`, computed once before training, no augmentation) and
    ``y`` its one-hot label smoothed as the model's loss would (0.1 for emonet).
    The loss then uses the targets as they are (its own smoothing is moved into
    ``y``, so the teachers' part is not smoothed again). ``distill_alpha=0.5``,
    the default, gives the teachers and the labels equal weight: FER2013's labels
    are noisy, but a teacher is wrong on some training faces too. The targets
    are kept in ``out_dir/teacher_targets.npz`` with the teachers' fingerprints,
    so a resumed run reuses them; they are recomputed when a teacher changed.
    ``train_size`` and ``mixup_alpha`` work with them (mixup blends the soft
    targets); validation stays on PublicTest's labels. The logged training
    accuracy compares with the soft targets' top class.

    ``init_from`` (a model file or a loaded model of the same architecture and
    width, e.g. ``emolib/assets/emonet.keras``) starts from its weights instead of
    random ones: fine-tuning, with its own (usually smaller) ``learning_rate``.
    Test-time views wrapped around the network (:func:`emolib.models.with_tta`)
    are taken off first; a network of another shape is a clear ``ValueError``.

    Calling ``train`` again on the ``out_dir`` of an interrupted run resumes it
    (weights and epoch from ``backup/``, history appended); on the folder of a
    finished run it starts afresh and replaces the history.
    """
    if config is None:
        config = TrainConfig(**({"arch": arch} if arch is not None else {}), **settings)
    elif arch is not None or settings:
        raise TypeError("give the settings either as config or as keyword arguments, not both")
    if data is None or out_dir is None:
        raise TypeError("train() needs data (an emolib.data.FER2013) and out_dir (the run's folder)")
    check_split(data.train, "train")
    check_split(data.val, "val (PublicTest)")
    keras.utils.set_random_seed(config.seed)
    strategy = strategy or tf.distribute.get_strategy()
    precision = choose_precision(config.precision)
    if verbose != 0:
        print(explain(precision), flush=True)
    model = _build(config, strategy, precision)  # reads init_from before anything is written
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    best_so_far = _best_so_far(out)
    resuming = (out / "backup" / "training_metadata.json").is_file()
    train_split = stratified_subset(data.train, config.train_size, config.seed) if config.train_size else data.train
    if not resuming:  # a fresh run: do not append to the history of an earlier, finished run
        (out / "history.csv").unlink(missing_ok=True)
    base_lr = float(model.optimizer.learning_rate.numpy())
    global_batch = config.batch_size * strategy.num_replicas_in_sync
    targets, distill, teacher_s = None, {}, None
    if config.teachers is not None:
        targets, distill, teacher_s = _distill(model, config, train_split, out, strategy, verbose != 0)
    train_ds = make_dataset(train_split, global_batch, shuffle=True, seed=config.seed, targets=targets)
    if config.mixup_alpha:
        train_ds = mixup(train_ds, config.mixup_alpha, config.seed)
    steps = math.ceil(len(train_split) / global_batch)
    cbs = _callbacks(config, model, out, steps, base_lr, best_so_far) + list(callbacks or [])

    cw = None
    if config.class_weight:
        counts = train_split.class_counts()
        cw = {i: float(len(train_split) / (len(counts) * max(c, 1))) for i, c in enumerate(counts)}
    # every setting (emolib.settings.TrainConfig), then what the run found: its precision, base rate, replicas
    record = dict(config.record(), train_size=len(train_split), precision_used=precision, base_lr=base_lr,
                  replicas=strategy.num_replicas_in_sync, teachers=None, distill_alpha=None,
                  init_from=None if config.init_from is None else {
                      ("model" if k == "teacher" else k): v for k, v in teacher_ids([config.init_from])[0].items()})
    record.update(distill)
    (out / "config.json").write_text(json.dumps(record, indent=2))

    t0 = time.time()
    model.fit(train_ds, validation_data=make_dataset(data.val, 256), epochs=config.epochs, callbacks=cbs,
              shuffle=False, class_weight=cw, verbose=verbose)
    wall = time.time() - t0
    if precision == "bfloat16":  # saved in float32, so that using them never emulates bfloat16
        export_for_inference(model, out / "last.keras")  # the final weights, next to the best-on-val checkpoint
        _save_float32(out / "best.keras")
    else:
        model.save(out / "last.keras")
    full = _history(out)
    val_acc = full["val_accuracy"].to_numpy()
    result = TrainResult(
        arch=config.arch, out_dir=str(out), model_path=str(out / "best.keras"), epochs_run=int(len(full)),
        best_epoch=int(np.argmax(val_acc)) + 1, best_val_accuracy=float(val_acc.max()),
        wall_time_s=round(wall, 1), train_images=len(train_split), params=int(model.count_params()),
        seed=config.seed, config=record, cores=training_cores(),
        train_time_s=round(float(full["epoch_time_s"].fillna(0).sum()), 1) if "epoch_time_s" in full else None,
        teacher_targets_s=teacher_s,
    )
    (out / "result.json").write_text(json.dumps(asdict(result), indent=2))
    return result


# --------------------------------------------------------------------------- the shipped class-recipe run
#: A run of the ``class`` recipe shipped with emolib (``best.keras`` without optimizer state, its history, config and
#: result), so that notebook 03 shows a trained network and its curves without waiting; see its MODEL_CARD.md.
#: ``python -m emolib ship class RUN`` writes it (:func:`emolib.ship.ship_class`).
CLASS_RUN_DIR = Path(__file__).resolve().parent / "assets" / "class_run"
CLASS_RUN_FILES = ("best.keras", "history.json", "config.json", "result.json")


def load_class_network(run_dir: str | os.PathLike = CLASS_RUN_DIR, views: bool = True) -> keras.Model:
    """A class-recipe run's ``best.keras`` (default: the shipped run), wrapped in the recipe's test-time views
    (:data:`RECIPE_VIEWS`, the face and its mirror) unless ``views=False``. Raw pixels in, as every emolib model.

    >>> model = load_class_network()                     # doctest: +SKIP
    >>> model.predict(faces).argmax(-1)                  # doctest: +SKIP
    """
    from .models import load_model_file, to_float32, with_tta

    network = to_float32(load_model_file(Path(run_dir) / "best.keras"))  # a run saved in bfloat16 computes in float32
    return with_tta(network, **RECIPE_VIEWS["class"], name="class_network_flip") if views else network
