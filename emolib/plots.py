"""Figures for the course: dataset overview, training curves, errors.

Every function builds and returns a :class:`matplotlib.figure.Figure` and saves
it when ``save=`` is given. The figure is detached from pyplot, so in a notebook
it shows exactly once when it is the last line of a cell, and loops or tests
never pile up open figures (call ``fig.savefig`` or display it yourself).
Each emotion keeps the same colour in every figure: :data:`CLASS_COLORS`.

Example
-------
>>> import numpy as np
>>> from emolib.data import Split
>>> fig = mean_faces(Split(np.zeros((7, 48, 48), np.uint8), np.arange(7)))
>>> fig.get_suptitle()
'Mean face per emotion (n = 7)'
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .data import CLASS_COLORS as _RGB
from .data import CLASS_NAMES, FER2013, Duplicates, Split, grey_level_counts
from .history import load_history

#: :data:`emolib.data.CLASS_COLORS` as matplotlib takes them (0-1): each emotion has the colour of its boxes.
CLASS_COLORS: dict[str, tuple[float, float, float]] = {k: tuple(c / 255 for c in v) for k, v in _RGB.items()}
#: Line styles / greys for the splits, chosen not to clash with the class colours.
SPLIT_STYLES: dict[str, dict[str, Any]] = {
    "train": {"color": "0.1", "linestyle": "-"},
    "val": {"color": "0.45", "linestyle": "--"},
    "test": {"color": "0.65", "linestyle": ":"},
}

PathLike = str | os.PathLike


def _figure(**kw: Any) -> Figure:
    """A new figure made through pyplot (this loads the notebook's inline backend, which
    renders returned figures) and then closed, i.e. detached from pyplot's bookkeeping."""
    import matplotlib.pyplot as plt

    fig = plt.figure(**kw)
    plt.close(fig)
    return fig


def _save(fig: Figure, save: PathLike | None) -> Figure:
    if save is not None:
        path = Path(save)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    return fig


def _class_color(name: str) -> tuple[float, float, float]:
    return CLASS_COLORS.get(name, (0.3, 0.3, 0.3))


def _as_gray(images: np.ndarray) -> np.ndarray:
    """(N, H, W) or (N, H, W, 1), uint8 or float -> (N, H, W) for imshow."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    return images


def _imshow(ax, img: np.ndarray, **kw) -> None:
    vmax = 1.0 if np.issubdtype(img.dtype, np.floating) and img.max() <= 1.0 else 255
    kw.setdefault("interpolation", "nearest")  # crisp pixels, and much smaller PNGs
    ax.imshow(img, cmap="gray", vmin=0, vmax=vmax, **kw)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


# --------------------------------------------------------------------------- dataset
def class_distribution(
    fer: FER2013, *, percent: bool = False, save: PathLike | None = None
) -> Figure:
    """Bar chart of the number of images of each emotion, one panel per split.

    ``percent=True`` shows shares instead of counts, to compare the splits.

    >>> import numpy as np
    >>> from emolib.data import FER2013, Split
    >>> sp = Split(np.zeros((3, 48, 48), np.uint8), np.array([0, 3, 3]))
    >>> class_distribution(FER2013(sp, sp, sp)).axes[0].get_ylabel()
    'images'
    """
    splits = fer.splits()
    fig = _figure(figsize=(13, 4), layout="constrained")
    axes = fig.subplots(1, len(splits), sharey=percent)
    names = list(fer.class_names)
    colors = [_class_color(c) for c in names]
    for ax, (split, sp) in zip(axes, splits.items()):
        counts = sp.class_counts()[: len(names)]
        values = 100 * counts / max(counts.sum(), 1) if percent else counts
        bars = ax.bar(names, values, color=colors, edgecolor="0.2", linewidth=0.5)
        ax.bar_label(bars, labels=[f"{v:.1f}%" if percent else f"{v:,}" for v in values], fontsize=8, padding=2)
        ax.set_title(f"{split} ({len(sp):,} images)")
        ax.set_xlabel("emotion")
        ax.set_ylabel("% of images" if percent else "images")
        ax.tick_params(axis="x", rotation=45)
        ax.margins(y=0.12)
        sns.despine(ax=ax)
    fig.suptitle("Number of images of each emotion per split" + (" (share)" if percent else ""))
    return _save(fig, save)


def sample_grid(
    split: Split,
    *,
    per_class: int = 8,
    class_names: Sequence[str] = CLASS_NAMES,
    seed: int = 0,
    title: str | None = None,
    save: PathLike | None = None,
) -> Figure:
    """A grid of random images: one row per emotion, ``per_class`` columns.

    >>> import numpy as np
    >>> from emolib.data import Split
    >>> fig = sample_grid(Split(np.zeros((14, 48, 48), np.uint8), np.arange(14) % 7), per_class=2)
    >>> fig.axes[0].get_ylabel()
    'angry'
    """
    rng = np.random.default_rng(seed)
    fig = _figure(figsize=(1.1 * per_class + 1, 1.15 * len(class_names) + 0.5), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(class_names), per_class, squeeze=False))
    images = _as_gray(split.images)
    for k, name in enumerate(class_names):
        idx = np.flatnonzero(split.labels == k)
        pick = rng.choice(idx, size=min(per_class, len(idx)), replace=False) if len(idx) else []
        for j, ax in enumerate(axes[k]):
            if j < len(pick):
                _imshow(ax, images[pick[j]])
            else:
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_frame_on(False)
        axes[k, 0].set_ylabel(name, color=_class_color(name), fontsize=11, fontweight="bold")
    fig.suptitle(title or f"Random images, {per_class} per emotion (seed {seed})")
    fig.supxlabel("random examples")
    return _save(fig, save)


def mean_faces(
    split: Split,
    *,
    class_names: Sequence[str] = CLASS_NAMES,
    difference: bool = False,
    save: PathLike | None = None,
) -> Figure:
    """The average image of each emotion.

    With ``difference=True`` a second row shows each mean minus the mean of all
    images (red: brighter than average, blue: darker), which shows what is
    distinctive about an emotion: a smiling mouth, raised eyebrows...
    """
    images = _as_gray(split.images)  # means summed in float64, without a float64 copy of every image
    overall = images.mean(axis=0, dtype=np.float64) if len(images) else np.zeros(images.shape[1:])
    rows = 2 if difference else 1
    fig = _figure(figsize=(1.7 * len(class_names), 2.0 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, len(class_names), squeeze=False)
    means = []
    for k, name in enumerate(class_names):
        sel = images[split.labels == k]
        means.append(sel.mean(axis=0, dtype=np.float64) if len(sel) else np.full(images.shape[1:], np.nan))
        _imshow(axes[0, k], np.nan_to_num(means[-1]).astype(np.uint8))
        axes[0, k].set_title(name, color=_class_color(name), fontweight="bold")
        axes[0, k].set_xlabel(f"n = {len(sel):,}")
    axes[0, 0].set_ylabel("mean face")
    if difference:
        diffs = [m - overall for m in means]
        lim = max(float(np.nanmax(np.abs(d))) for d in diffs) if diffs else 1.0
        for k, d in enumerate(diffs):
            ax = axes[1, k]
            im = ax.imshow(np.nan_to_num(d), cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel("minus overall mean")
        axes[1, 0].set_ylabel("difference")
        fig.colorbar(im, ax=axes[1, :].tolist(), shrink=0.8, label="grey levels")
    fig.suptitle(f"Mean face per emotion (n = {len(images):,})")
    return _save(fig, save)


def pixel_histogram(
    data: FER2013 | Split | Mapping[str, np.ndarray],
    *,
    by: str = "split",
    class_names: Sequence[str] = CLASS_NAMES,
    save: PathLike | None = None,
) -> Figure:
    """Distribution of pixel intensities (0 = black, 255 = white).

    ``by="split"``: one line per split (``data`` a FER2013 or a mapping name -> images);
    ``by="class"``: one line per emotion for the images of one Split (or ``fer.train``).
    """
    fig = _figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    bins = np.arange(257)
    if by == "split":
        groups = (
            {k: v.images for k, v in data.splits().items()} if isinstance(data, FER2013)
            else {"images": data.images} if isinstance(data, Split) else dict(data)
        )
        for name, imgs in groups.items():
            hist = grey_level_counts(imgs)
            style = SPLIT_STYLES.get(name, {"color": "0.3", "linestyle": "-"})
            ax.stairs(hist / max(hist.sum(), 1), bins, label=f"{name} ({len(imgs):,} images)", linewidth=1.5, **style)
        title = "Pixel intensities per split"
    elif by == "class":
        split = data.train if isinstance(data, FER2013) else data
        for k, name in enumerate(class_names):
            imgs = split.images[split.labels == k]
            hist = grey_level_counts(imgs)
            ax.stairs(hist / max(hist.sum(), 1), bins, label=name, color=_class_color(name), linewidth=1.5)
        title = "Pixel intensities per emotion"
    else:
        raise ValueError(f"by must be 'split' or 'class', not {by!r}")
    ax.set_xlim(0, 256)
    ax.set_xlabel("pixel value (0 = black, 255 = white)")
    ax.set_ylabel("fraction of pixels")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=9)
    sns.despine(ax=ax)
    return _save(fig, save)


def duplicate_groups(
    fer: FER2013, dups: Duplicates, *, n: int = 6, across_splits: bool | None = True, max_copies: int = 8,
    save: PathLike | None = None,
) -> Figure:
    """Show example groups of identical images: one row per group, one column per copy.

    Each copy is titled with its split and label, coloured by class, so label
    conflicts (the same picture filed under two emotions) stand out.
    """
    groups = dups.groups(n, across_splits=across_splits)
    rows = max(len(groups), 1)
    fig = _figure(figsize=(1.3 * max_copies + 1, 1.6 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, max_copies, squeeze=False)
    splits = fer.splits()
    for r in range(rows):
        g = groups[r] if r < len(groups) else None
        for c in range(max_copies):
            ax = axes[r, c]
            if g is not None and c < len(g):
                row = g.iloc[c]
                _imshow(ax, splits[row["split"]].images[row["index"]])
                ax.set_title(f"{row['split']}\n{row['class_name']}", fontsize=8, color=_class_color(row["class_name"]))
            else:
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_frame_on(False)
        if g is not None:
            axes[r, 0].set_ylabel(f"{len(g)} copies", fontsize=9)
    fig.suptitle("Exact duplicates" + (" across splits" if across_splits else ""))
    fig.supxlabel("copies (split, label)")
    return _save(fig, save)


# --------------------------------------------------------------------------- training
def _load_history(history: Mapping[str, Sequence[float]] | PathLike | Any) -> dict[str, list[float]]:
    if hasattr(history, "history") and isinstance(history.history, Mapping):  # keras History
        history = history.history
    if isinstance(history, (str, os.PathLike)):
        found = load_history(history)
        if found is None:
            raise FileNotFoundError(f"no history.json or history.csv at {history}")
        return found[0]
    return {k: [float(v) for v in vals] for k, vals in dict(history).items()}


def _acc_key(hist: Mapping[str, Any]) -> str | None:
    for key in ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy"):
        if key in hist:
            return key
    return next((k for k in hist if "acc" in k and not k.startswith("val_")), None)


def training_curves(
    history: Mapping[str, Sequence[float]] | PathLike | Any,
    *,
    title: str = "Training curves",
    save: PathLike | None = None,
) -> Figure:
    """Loss and accuracy per epoch, train (solid) vs validation (dashed), in two panels.

    ``history`` is a Keras ``History``, its ``.history`` dict, or a path to a
    ``history.json`` / ``history.csv`` (or the run folder holding one). The best
    validation epoch is marked; NaN values (epochs not measured) leave gaps.

    >>> fig = training_curves({"loss": [1.2, 0.9], "val_loss": [1.3, 1.1],
    ...                        "accuracy": [0.4, 0.6], "val_accuracy": [0.35, 0.5]})
    >>> [ax.get_title() for ax in fig.axes]
    ['Loss', 'Accuracy']
    """
    hist = _load_history(history)
    n = max((len(v) for v in hist.values()), default=0)
    epochs = np.asarray(hist["epoch"]).astype(int) + 1 if "epoch" in hist else np.arange(1, n + 1)
    fig = _figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    acc = _acc_key(hist)
    for ax, key, label in ((axes[0], "loss", "Loss"), (axes[1], acc, "Accuracy")):
        ax.set_title(label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label.lower())
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        sns.despine(ax=ax)
        if key is None or key not in hist:
            ax.text(0.5, 0.5, f"no {label.lower()} recorded", ha="center", va="center", transform=ax.transAxes)
            continue
        ax.plot(epochs[: len(hist[key])], hist[key], label="train", **SPLIT_STYLES["train"], marker=".")
        val = hist.get(f"val_{key}")
        if val and not np.all(np.isnan(np.asarray(val, float))):  # NaN: epoch not measured
            val = np.asarray(val, float)
            ax.plot(epochs[: len(val)], val, label="validation", color="tab:orange", linestyle="--", marker=".")
            best = int(np.nanargmin(val) if key == "loss" else np.nanargmax(val))
            ax.scatter([epochs[best]], [val[best]], s=80, facecolors="none", edgecolors="tab:red", zorder=3,
                       label=f"best val: {val[best]:.3f} (epoch {epochs[best]})")
        ax.legend(frameon=False, fontsize=9)
    fig.suptitle(title)
    return _save(fig, save)


def confusion_matrix_heatmap(
    cm: np.ndarray,
    class_names: Sequence[str] = CLASS_NAMES,
    *,
    normalize: str | None = "true",
    title: str | None = None,
    save: PathLike | None = None,
) -> Figure:
    """Seaborn heatmap of a confusion matrix (rows: true class, columns: predicted).

    ``normalize``: ``"true"`` (each row sums to 1: recall on the diagonal),
    ``"pred"`` (each column sums to 1: precision on the diagonal), or ``None`` (counts).

    >>> import numpy as np
    >>> fig = confusion_matrix_heatmap(np.eye(7, dtype=int) * 5)
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('predicted emotion', 'true emotion')
    """
    cm = np.asarray(cm, dtype=float)
    if normalize == "true":
        values, fmt = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1e-12), ".2f"
    elif normalize == "pred":
        values, fmt = cm / np.maximum(cm.sum(axis=0, keepdims=True), 1e-12), ".2f"
    elif normalize is None:
        values, fmt = cm, ".0f"
    else:
        raise ValueError(f"normalize must be 'true', 'pred' or None, not {normalize!r}")
    fig = _figure(figsize=(7.5, 6.2), layout="constrained")
    ax = fig.subplots()
    sns.heatmap(values, annot=True, fmt=fmt, cmap="Blues", square=True, ax=ax,
                xticklabels=list(class_names), yticklabels=list(class_names),
                vmin=0, vmax=1 if normalize else None, cbar_kws={"shrink": 0.8})
    for lbl in ax.get_xticklabels() + ax.get_yticklabels():
        lbl.set_color(_class_color(lbl.get_text()))
    ax.set_xlabel("predicted emotion")
    ax.set_ylabel("true emotion")
    default = {"true": "Confusion matrix (rows normalised: recall)", "pred": "Confusion matrix (columns normalised: precision)",
               None: "Confusion matrix (counts)"}[normalize]
    ax.set_title(title or default)
    return _save(fig, save)


def misclassified_grid(
    images: np.ndarray,
    y_true: Sequence[int],
    y_pred: Sequence[int],
    probs: np.ndarray | None = None,
    class_names: Sequence[str] = CLASS_NAMES,
    *,
    n: int = 24,
    ncols: int = 8,
    save: PathLike | None = None,
) -> Figure:
    """Misclassified images, titled "true -> predicted"; with ``probs`` (N, classes)
    the most confident mistakes come first and the confidence is shown.

    >>> import numpy as np
    >>> fig = misclassified_grid(np.zeros((3, 48, 48), np.uint8), [0, 1, 2], [0, 3, 2])
    >>> fig.axes[0].get_title()
    'disgust → happy'
    """
    images = _as_gray(images)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    wrong = np.flatnonzero(y_true != y_pred)
    if probs is not None:
        probs = np.asarray(probs)
        conf = probs[wrong, y_pred[wrong]]
        wrong = wrong[np.argsort(-conf, kind="stable")]
    wrong = wrong[:n]
    shown = max(len(wrong), 1)
    ncols = min(ncols, shown)
    nrows = -(-shown // ncols)
    fig = _figure(figsize=(1.45 * ncols + 0.5, 1.75 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    for ax, i in zip(axes, wrong):
        _imshow(ax, images[i])
        t, p = class_names[y_true[i]], class_names[y_pred[i]]
        ax.set_title(f"{t} → {p}", fontsize=8, color=_class_color(p))
        if probs is not None:
            ax.set_xlabel(f"p = {probs[i, y_pred[i]]:.2f}", fontsize=8)
    if not len(wrong):
        axes[0].text(0.5, 0.5, "no mistakes", ha="center", va="center", transform=axes[0].transAxes)
    order = "most confident first" if probs is not None else "in data order"
    fig.suptitle(f"Misclassified images: {len(wrong)} of {int((y_true != y_pred).sum())} ({order})")
    fig.supxlabel("title: true emotion → predicted emotion (colour of the prediction)")
    return _save(fig, save)


# --------------------------------------------------------------------------- models and training
def cartoon_face() -> np.ndarray:
    """A drawn 48x48 grey face (uint8) with its left eyebrow raised, so that flips and shifts show.

    Illustrations use it instead of a real face (FER2013 faces are not redistributed).

    >>> face = cartoon_face()
    >>> face.shape, face.dtype.name, bool((face != face[:, ::-1]).any())
    ((48, 48), 'uint8', True)
    """
    yy, xx = np.mgrid[:48, :48]
    img = np.full((48, 48), 40.0)
    img[((xx - 24) / 17) ** 2 + ((yy - 25) / 21) ** 2 < 1] = 170                # head
    for cx in (17, 31):
        img[(xx - cx) ** 2 + (yy - 20) ** 2 < 7] = 30                          # eyes
    img[(np.abs(xx - 17) < 5) & (np.abs(yy - 13) < 1)] = 30                    # raised eyebrow
    img[(np.abs(xx - 31) < 5) & (np.abs(yy - 15) < 1)] = 30                    # eyebrow
    img[(np.abs(np.hypot(xx - 24, yy - 26) - 10) < 1.5) & (yy > 30)] = 30      # smile
    return img.astype(np.uint8)


def augmentation_examples(
    face: np.ndarray,
    models: Mapping[str, Any],
    *,
    n: int = 7,
    title: str = "Training-time augmentation",
    save: PathLike | None = None,
) -> Figure:
    """One row per model: ``face`` (48x48, 0..255) and ``n`` random versions made by the model's
    augmentation (its first nested model, see ``emolib.models.augmentation``) in training mode.
    Each version is titled with its size (emonet's are 40x40 crops).

    >>> import keras
    >>> from emolib.models import augmentation
    >>> m = keras.Sequential([keras.Input((48, 48, 1)), augmentation("seed")])
    >>> augmentation_examples(cartoon_face(), {"seed": m}, n=2).axes[1].get_title()
    '48x48'
    """
    import keras

    fig = _figure(figsize=(1.4 * (n + 1), 1.7 * len(models)), layout="constrained")
    axes = fig.subplots(len(models), n + 1, squeeze=False)
    for row, (name, model) in zip(axes, models.items()):
        index = next(i for i, layer in enumerate(model.layers) if isinstance(layer, keras.Model))
        x = np.asarray(face, "float32")[None, :, :, None]
        for layer in model.layers[:index]:  # e.g. rescaling to 0..1: what the augmentation receives
            if not isinstance(layer, keras.layers.InputLayer):
                x = layer(x)
        _imshow(row[0], np.asarray(face))
        row[0].set_title("original", fontsize=9)
        row[0].set_ylabel(name, fontsize=9)
        for ax in row[1:]:
            out = np.asarray(model.layers[index](x, training=True))[0, :, :, 0]
            _imshow(ax, out.clip(0, None))
            ax.set_title(f"{out.shape[0]}x{out.shape[1]}", fontsize=8)
    fig.suptitle(title)
    return _save(fig, save)


def lr_schedule(
    schedule: Any, steps_per_epoch: int, epochs: int, *, title: str = "Learning rate per epoch",
    save: PathLike | None = None,
) -> Figure:
    """The learning rate of ``schedule`` (anything with ``lr_at(step, elapsed)``, such as
    ``emolib.train.CosineByBudget``) over ``epochs`` epochs, with no time budget.

    >>> from emolib.train import CosineByBudget
    >>> lr_schedule(CosineByBudget(1e-3, total_steps=100, warmup_steps=10), 10, 10).axes[0].get_ylabel()
    'learning rate'
    """
    steps = np.arange(epochs * steps_per_epoch)
    fig = _figure(figsize=(7, 3), layout="constrained")
    ax = fig.subplots()
    ax.plot(steps / steps_per_epoch, [schedule.lr_at(s, elapsed=0) for s in steps])
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title(title)
    sns.despine(ax=ax)
    return _save(fig, save)


def validation_accuracy(
    histories: Mapping[str, Mapping[str, Sequence[float]] | PathLike | Any],
    *,
    title: str = "Validation accuracy per epoch",
    save: PathLike | None = None,
) -> Figure:
    """Validation accuracy per epoch of several runs on one axes (histories as for :func:`training_curves`).

    >>> fig = validation_accuracy({"short": {"val_accuracy": [0.3, 0.5]}, "long": {"val_accuracy": [0.2, 0.4, 0.6]}})
    >>> [line.get_label() for line in fig.axes[0].get_lines()]
    ['short', 'long']
    """
    fig = _figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.subplots()
    for label, history in histories.items():
        val = np.asarray(_load_history(history).get("val_accuracy", []), float)
        ax.plot(np.arange(1, len(val) + 1), val, "o-" if len(val) <= 12 else "-", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (PublicTest)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.legend(frameon=False)
    sns.despine(ax=ax)
    return _save(fig, save)


def seed_comparison(
    runs: "pd.DataFrame",
    metric: str,
    *,
    groups: Sequence[str] | None = None,
    ylabel: str | None = None,
    title: str,
    mine: Mapping[str, float] | None = None,
    mine_label: str = "your run",
    save: PathLike | None = None,
) -> Figure:
    """Mean and spread over seeds of one ``metric`` per group of ``runs`` (one row per run; columns
    ``experiment`` and ``metric``): a bar per group (the mean) with every seed's run as a dot. ``mine`` (group ->
    value) adds your own runs as red stars, named ``mine_label`` in the legend.

    >>> import pandas as pd
    >>> runs = pd.DataFrame({"experiment": ["a", "a", "b", "b"], "val_accuracy": [0.5, 0.52, 0.4, 0.44]})
    >>> fig = seed_comparison(runs, "val_accuracy", title="t", mine={"b": 0.47})
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()], fig.axes[0].get_legend().texts[0].get_text()
    (['a', 'b'], 'your run')
    """
    groups = list(groups) if groups is not None else list(dict.fromkeys(runs["experiment"]))
    data = runs[runs["experiment"].isin(groups)]
    fig = _figure(figsize=(1.4 * len(groups) + 2.5, 3.5), layout="constrained")
    ax = fig.subplots()
    sns.barplot(data=data, x="experiment", y=metric, order=groups, errorbar=None, color="#a6cee3", ax=ax)
    sns.stripplot(data=data, x="experiment", y=metric, order=groups, color="#1f4e79", size=6, jitter=0.15, ax=ax)
    for k, g in enumerate(groups):
        values = data.loc[data["experiment"] == g, metric]
        ax.annotate(f"{values.mean():.1%}", (k, values.mean()), ha="center", va="bottom",
                    xytext=(0, 3), textcoords="offset points")
    if mine:
        unknown = sorted(set(mine) - set(groups))
        if unknown:
            raise ValueError(f"mine names groups that are not plotted: {unknown}; plotted: {groups}")
        ax.scatter([groups.index(g) for g in mine], list(mine.values()), marker="*", s=220, color="#d62728",
                   edgecolor="white", zorder=5, label=mine_label)
        ax.legend(loc="best", frameon=False)
    ax.set_xlabel("")
    ax.set_ylabel(ylabel or metric)
    ax.set_title(title)
    sns.despine(ax=ax)
    return _save(fig, save)


def comparison_bars(
    table: "pd.DataFrame", *, xlim: tuple[float, float] | None = None,
    title: str = "Our models (blue) and published results (grey)", save: PathLike | None = None,
) -> Figure:
    """Horizontal bars of PrivateTest accuracy from ``emolib.evaluate.comparison_table``: ours blue, others grey.

    ``xlim`` defaults to 50-80 %, widened in steps of 10 so that every bar ends inside the axes.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"name": ["ours", "theirs"], "PrivateTest %": [70.0, 71.2], "source": ["emolib", "published"]})
    >>> comparison_bars(t).axes[0].get_xlabel()
    'accuracy on FER2013 PrivateTest (%)'
    """
    fig = _figure(figsize=(8, 0.45 * len(table) + 1), layout="constrained")
    ax = fig.subplots()
    colors = ["tab:blue" if s == "emolib" else "0.65" for s in table["source"]]
    ax.barh(table["name"], table["PrivateTest %"], color=colors)
    ax.invert_yaxis()
    if xlim is None:
        acc = np.asarray(table["PrivateTest %"], float)
        acc = acc[np.isfinite(acc)]
        low, high = (acc.min(), acc.max()) if len(acc) else (50.0, 80.0)
        xlim = (min(50.0, 10 * np.floor((low - 5) / 10)), max(80.0, 10 * np.ceil((high + 5) / 10)))
    ax.set_xlim(*xlim)
    ax.set_xlabel("accuracy on FER2013 PrivateTest (%)")
    ax.set_ylabel("model")
    ax.set_title(title)
    for y, v in enumerate(table["PrivateTest %"]):
        ax.text(v + 0.3, y, f"{v:.1f}", va="center", fontsize=9)
    sns.despine(ax=ax)
    return _save(fig, save)


def model_cost_bars(
    table: "pd.DataFrame", *, reference: str | None = None, save: PathLike | None = None,
) -> Figure:
    """Parameters and compute per face of several models, from :func:`emolib.models.compare_models`.

    Two bar charts side by side; the title says how many times more compute per
    face each model needs than ``reference`` (default: the last row).

    >>> import pandas as pd
    >>> t = pd.DataFrame({"parameters (M)": [3.1, 1.2], "MACs per face (M)": [300.0, 60.0]}, index=["big", "small"])
    >>> model_cost_bars(t).get_suptitle()
    'Compute per face, relative to small: big 5.0x'
    """
    reference = reference if reference is not None else table.index[-1]
    fig = _figure(figsize=(9, 3.2), layout="constrained")
    axes = fig.subplots(1, 2)
    colors = ["tab:blue" if name == reference else "0.6" for name in table.index]
    for ax, col in zip(axes, ["parameters (M)", "MACs per face (M)"]):
        ax.bar(table.index.astype(str), table[col], color=colors)
        ax.set_title(col.replace(" (M)", ""))
        ax.set_xlabel("model")
        ax.set_ylabel("millions")
        sns.despine(ax=ax)
    macs = table["MACs per face (M)"]
    ratios = ", ".join(f"{name} {macs[name] / macs[reference]:.1f}x" for name in table.index if name != reference)
    fig.suptitle(f"Compute per face, relative to {reference}: {ratios}")
    return _save(fig, save)


# --------------------------------------------------------------------------- the demo
def face_crops(
    photos: Mapping[str, np.ndarray], boxes: Mapping[str, Sequence[Sequence[int]]], *,
    title: str = "Detected faces (yellow), the square we crop (red) and the 48x48 crop",
    save: PathLike | None = None,
) -> Figure:
    """Each photo with its detector boxes (dashed yellow) and the FER2013-style square crop (red),
    next to the last face's 48x48 grayscale crop (``emolib.faces.crop_face``).

    >>> photo = np.zeros((100, 120, 3), np.uint8)
    >>> [ax.get_title() for ax in face_crops({"p": photo}, {"p": [(30, 30, 40, 40)]}).axes]
    ['p', '48x48 crop']
    """
    from matplotlib.patches import Rectangle

    from .faces import crop_face, face_square

    fig = _figure(figsize=(6 * len(photos), 3.4), layout="constrained")
    axes = fig.subplots(1, 2 * len(photos), squeeze=False, width_ratios=[3, 1] * len(photos))[0]
    for (name, rgb), ax_photo, ax_face in zip(photos.items(), axes[::2], axes[1::2]):
        ax_photo.imshow(rgb)
        for box in boxes[name]:
            x, y, w, h = box
            ax_photo.add_patch(Rectangle((x, y), w, h, fill=False, ls="--", color="yellow"))
            sx, sy, side, _ = face_square(box)
            ax_photo.add_patch(Rectangle((sx, sy), side, side, fill=False, color="red", lw=2))
            _imshow(ax_face, crop_face(rgb, box))
        ax_photo.set_title(name)
        ax_face.set_title("48x48 crop")
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title)
    return _save(fig, save)


def photo_grid(images: Mapping[str, np.ndarray], *, title: str, save: PathLike | None = None) -> Figure:
    """RGB images side by side, each titled with its key (e.g. photos annotated by ``emolib.draw.annotate``).

    >>> photo_grid({"a": np.zeros((4, 4, 3), np.uint8)}, title="t").axes[0].get_title()
    'a'
    """
    fig = _figure(figsize=(3.5 * len(images), 4), layout="constrained")
    for ax, (name, rgb) in zip(fig.subplots(1, len(images), squeeze=False)[0], images.items()):
        ax.imshow(rgb)
        ax.set_title(name)
        ax.axis("off")
    fig.suptitle(title)
    return _save(fig, save)


def probability_bars(
    predictions: Sequence[tuple[str, Mapping[str, float]]], *,
    title: str = "Probability of each emotion", save: PathLike | None = None,
) -> Figure:
    """One panel per face: the seven probabilities as horizontal bars in the class colours,
    titled with the face's name and its most probable emotion.

    >>> p = dict(zip(CLASS_NAMES, [0.1, 0.0, 0.1, 0.6, 0.1, 0.05, 0.05]))
    >>> probability_bars([("photo.jpg", p)]).axes[0].get_title()
    'photo.jpg: happy'
    """
    fig = _figure(figsize=(4.5 * max(len(predictions), 1), 2.8), layout="constrained")
    axes = fig.subplots(1, max(len(predictions), 1), squeeze=False)[0]
    for ax, (name, probs) in zip(axes, predictions):
        names = list(probs)
        ax.barh(names, [probs[c] for c in names], color=[_class_color(c) for c in names])
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_title(f"{name}: {max(probs, key=probs.get)}")
        ax.set_xlabel("probability")
        ax.set_ylabel("emotion")
        sns.despine(ax=ax)
    fig.suptitle(title)
    return _save(fig, save)


def saliency_panels(
    items: Sequence[tuple[str, np.ndarray, np.ndarray]], *,
    title: str = "Where the network is sensitive (SmoothGrad saliency)", save: PathLike | None = None,
) -> Figure:
    """One row per face: the 48x48 input, its saliency map (``emolib.predict.saliency_map``) and both overlaid.
    ``items`` holds ``(caption, face, saliency)`` triples.

    >>> f = saliency_panels([("a: happy", np.zeros((48, 48), np.uint8), np.zeros((48, 48)))])
    >>> [ax.get_title() for ax in f.axes]
    ['a: happy\\n48x48 input', 'saliency', 'overlay']
    """
    fig = _figure(figsize=(7.5, 2.6 * max(len(items), 1) + 0.4), layout="constrained")
    axes = fig.subplots(max(len(items), 1), 3, squeeze=False)
    for row, (caption, face, sal) in zip(axes, items):
        _imshow(row[0], np.asarray(face))
        row[0].set_title(f"{caption}\n48x48 input", fontsize=9)
        row[1].imshow(sal, cmap="inferno")
        row[1].set_title("saliency", fontsize=9)
        _imshow(row[2], np.asarray(face))
        row[2].imshow(sal, cmap="inferno", alpha=0.5)
        row[2].set_title("overlay", fontsize=9)
        for ax in row:
            ax.axis("off")
    fig.suptitle(title)
    return _save(fig, save)


def emotion_timeline(
    table: "pd.DataFrame", faces: Sequence[int] | None = None, *, smooth: int = 1,
    title: str | None = None, save: PathLike | None = None,
) -> Figure:
    """Each emotion's probability over time, one panel per tracked face, from
    ``emolib.predict.predict_video``'s table (columns ``time_s``, ``face`` and one per class).

    ``faces``: which face numbers (default: all, in order). ``smooth``: a centred
    moving average over this many rows (1: none). Where a face is out of view
    for more than half a second its lines break. The title names the clip (``table.attrs["source"]``) unless given.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"time_s": [0.0, 0.1], "face": [1, 1], **{c: [1 / 7] * 2 for c in CLASS_NAMES}})
    >>> fig = emotion_timeline(t)
    >>> ax = fig.axes[0]
    >>> ax.get_title(), ax.get_xlabel(), ax.get_ylabel()
    ('face #1', 'time (s)', 'probability')
    """
    if faces is None:
        faces = sorted(int(f) for f in table["face"].unique())
    faces = list(faces)
    n = max(len(faces), 1)
    fig = _figure(figsize=(8, 1.2 + 2.2 * n), layout="constrained")
    axes = fig.subplots(n, 1, squeeze=False, sharex=True)[:, 0]
    fps = table.attrs.get("fps")
    for ax, face in zip(axes, faces):
        rows = table[table["face"] == face].sort_values("time_s")
        if rows.empty:
            ax.text(0.5, 0.5, f"face #{face} is not in this table", ha="center", va="center", transform=ax.transAxes)
        else:
            t = rows["time_s"].to_numpy(float)
            gap = np.diff(t) > max(0.5, 3 / fps if fps else 0.1)     # out of view for more than half a second
            for c in CLASS_NAMES:
                p = rows[c].rolling(smooth, center=True, min_periods=1).mean().to_numpy(float)
                # a NaN between frames where the face was out of view breaks the line there
                tt, pp = np.insert(t, np.nonzero(gap)[0] + 1, np.nan), np.insert(p, np.nonzero(gap)[0] + 1, np.nan)
                ax.plot(tt, pp, color=_class_color(c), label=c, lw=1.6)
        ax.set_ylim(0, 1)
        ax.set_ylabel("probability")
        ax.set_title(f"face #{face}")
        sns.despine(ax=ax)
    axes[-1].set_xlabel("time (s)")
    axes[0].legend(ncols=len(CLASS_NAMES), fontsize=8, frameon=False, loc="lower left", bbox_to_anchor=(0, 1.12))
    source = table.attrs.get("source")
    fig.suptitle(title or "Emotion over time" + (f": {Path(source).name}" if source else ""))
    return _save(fig, save)
