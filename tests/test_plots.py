"""emolib.plots: every figure has a title and labelled axes, and saves to disk."""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.figure import Figure

from emolib import plots
from emolib.data import CLASS_NAMES, FER2013, Split, find_duplicates


@pytest.fixture(scope="module")
def fer() -> FER2013:
    rng = np.random.default_rng(0)

    def split(n):
        return Split(rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), np.arange(n, dtype=np.int64) % 7)

    tr = split(70)
    te = split(14)
    te.images[0] = tr.images[0]  # one leaked duplicate
    return FER2013(tr, split(14), te)


def titled(fig: Figure) -> bool:
    return bool(fig.get_suptitle()) or any(ax.get_title() for ax in fig.axes)


def assert_labelled(fig: Figure, xlabel: bool = True, ylabel: bool = True) -> None:
    """Each plotting axes (not colour bars) has the labels asked for."""
    assert isinstance(fig, Figure)
    assert titled(fig), "figure has no title"
    data_axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    for ax in data_axes:
        if xlabel:
            assert ax.get_xlabel(), f"axes {ax.get_title()!r} lacks an x label"
        if ylabel:
            assert ax.get_ylabel(), f"axes {ax.get_title()!r} lacks a y label"


def test_class_colors_one_per_class_and_distinct():
    assert list(plots.CLASS_COLORS) == list(CLASS_NAMES)
    assert len(set(plots.CLASS_COLORS.values())) == len(CLASS_NAMES)
    from emolib.draw import CLASS_COLORS as BOXES
    assert all(plots.CLASS_COLORS[c] == pytest.approx([v / 255 for v in BOXES[c]]) for c in CLASS_NAMES), \
        "one palette: a figure's colour for an emotion is its box colour"


def test_class_distribution(fer, tmp_path):
    fig = plots.class_distribution(fer, save=tmp_path / "figs" / "cd.png")
    assert_labelled(fig)
    assert fig.get_suptitle().startswith("Number of images of each emotion")
    assert len(fig.axes) == 3 and fig.axes[0].get_title() == "train (70 images)"
    bars = fig.axes[0].patches
    assert [b.get_height() for b in bars] == [10] * 7
    # the class colour is used for each bar
    assert tuple(bars[3].get_facecolor()[:3]) == pytest.approx(plots.CLASS_COLORS["happy"])
    assert (tmp_path / "figs" / "cd.png").stat().st_size > 1000
    pct = plots.class_distribution(fer, percent=True)
    assert pct.axes[0].get_ylabel() == "% of images"


def test_sample_grid(fer, tmp_path):
    fig = plots.sample_grid(fer.train, per_class=3, save=tmp_path / "sg.png")
    assert titled(fig) and fig.get_supxlabel()
    assert len(fig.axes) == 21
    assert [fig.axes[3 * k].get_ylabel() for k in range(7)] == list(CLASS_NAMES)
    assert (tmp_path / "sg.png").is_file()


def test_sample_grid_class_with_too_few_images(fer):
    sp = Split(fer.train.images[:8], fer.train.labels[:8])  # angry twice, others once
    fig = plots.sample_grid(sp, per_class=3)
    assert len(fig.axes) == 21


def test_mean_faces(fer, tmp_path):
    fig = plots.mean_faces(fer.train, save=tmp_path / "mf.png")
    assert titled(fig) and [ax.get_title() for ax in fig.axes] == list(CLASS_NAMES)
    assert all(ax.get_xlabel().startswith("n = ") for ax in fig.axes) and fig.axes[0].get_ylabel()
    assert (tmp_path / "mf.png").is_file()
    img = fig.axes[0].images[0].get_array()
    assert np.allclose(img, fer.train.images[fer.train.labels == 0].mean(axis=0).astype(np.uint8))
    diff = plots.mean_faces(fer.train, difference=True)
    assert len(diff.axes) == 15  # 2 rows of 7 + colour bar


@pytest.mark.parametrize("by", ["split", "class"])
def test_pixel_histogram(fer, tmp_path, by):
    fig = plots.pixel_histogram(fer, by=by, save=tmp_path / "ph.png")
    assert_labelled(fig)
    assert len(fig.axes[0].get_legend().get_texts()) == (3 if by == "split" else 7)
    assert (tmp_path / "ph.png").is_file()


def test_pixel_histogram_rejects_unknown_grouping(fer):
    with pytest.raises(ValueError, match="by must be"):
        plots.pixel_histogram(fer, by="colour")


def test_duplicate_groups(fer, tmp_path):
    fig = plots.duplicate_groups(fer, find_duplicates(fer), save=tmp_path / "dg.png")
    assert titled(fig) and fig.get_supxlabel()
    assert fig.axes[0].get_ylabel() == "2 copies"
    assert fig.axes[0].get_title() == "train\nangry" and fig.axes[1].get_title() == "test\nangry"
    assert (tmp_path / "dg.png").is_file()


HISTORY = {"epoch": [0, 1, 2], "loss": [1.5, 1.2, 1.0], "val_loss": [1.6, 1.3, 1.4],
           "accuracy": [0.3, 0.45, 0.55], "val_accuracy": [0.28, 0.4, 0.38]}


@pytest.mark.parametrize("kind", ["dict", "json", "csv", "run_dir", "keras_like"])
def test_training_curves(tmp_path, kind):
    if kind == "dict":
        src = HISTORY
    elif kind == "json":
        src = tmp_path / "history.json"
        src.write_text(json.dumps(HISTORY))
    elif kind in ("csv", "run_dir"):
        import pandas as pd

        pd.DataFrame(HISTORY).to_csv(tmp_path / "history.csv", index=False)
        src = tmp_path / "history.csv" if kind == "csv" else tmp_path
    else:
        src = type("History", (), {"history": {k: v for k, v in HISTORY.items() if k != "epoch"}})()
    fig = plots.training_curves(src, save=tmp_path / "tc.png")
    assert_labelled(fig)
    loss_ax, acc_ax = fig.axes
    assert (loss_ax.get_title(), acc_ax.get_title()) == ("Loss", "Accuracy")
    assert len(loss_ax.get_lines()) == 2 and len(acc_ax.get_lines()) == 2  # train and val
    assert list(loss_ax.get_lines()[0].get_xdata()) == [1, 2, 3]  # epochs counted from 1
    assert "epoch 2" in " ".join(t.get_text() for t in loss_ax.get_legend().get_texts())  # best val loss
    assert (tmp_path / "tc.png").is_file()


def test_training_curves_without_validation():
    fig = plots.training_curves({"loss": [1.0, 0.8], "acc": [0.5, 0.6]})
    assert_labelled(fig)
    assert len(fig.axes[1].get_lines()) == 1


@pytest.mark.parametrize("normalize", ["true", "pred", None])
def test_confusion_matrix_heatmap(tmp_path, normalize):
    cm = np.arange(49).reshape(7, 7) + np.eye(7, dtype=int) * 50
    fig = plots.confusion_matrix_heatmap(cm, CLASS_NAMES, normalize=normalize, save=tmp_path / "cm.png")
    assert_labelled(fig)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(CLASS_NAMES)
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 49
    if normalize == "true":
        assert float(texts[0]) == pytest.approx(50 / cm[0].sum(), abs=0.005)
    elif normalize is None:
        assert texts[1] == "1"
    assert (tmp_path / "cm.png").is_file()


def test_confusion_matrix_bad_normalize():
    with pytest.raises(ValueError, match="normalize"):
        plots.confusion_matrix_heatmap(np.eye(7), normalize="all")


def test_misclassified_grid(fer, tmp_path):
    x = fer.test.images[..., None].astype("float32") / 255  # model-style input works too
    y_true = fer.test.labels
    y_pred = (y_true + np.r_[np.zeros(10, int), np.ones(4, int)]) % 7  # 4 mistakes
    probs = np.full((14, 7), 0.1)
    probs[np.arange(14), y_pred] = np.linspace(0.2, 0.9, 14)
    fig = plots.misclassified_grid(x, y_true, y_pred, probs, CLASS_NAMES, ncols=2, save=tmp_path / "mc.png")
    assert titled(fig) and fig.get_supxlabel()
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 4
    assert titles[0] == f"{CLASS_NAMES[y_true[13]]} → {CLASS_NAMES[y_pred[13]]}"  # most confident first
    assert fig.axes[0].get_xlabel() == "p = 0.90"
    assert (tmp_path / "mc.png").is_file()


def test_misclassified_grid_no_mistakes(fer):
    fig = plots.misclassified_grid(fer.test.images, fer.test.labels, fer.test.labels)
    assert titled(fig) and "0 of 0" in fig.get_suptitle()


def test_augmentation_examples_show_each_models_crops(tmp_path):
    from emolib.models import build_emonet, build_seed_cnn

    face = plots.cartoon_face()
    assert face.shape == (48, 48) and face.dtype == np.uint8 and (face != face[:, ::-1]).any()
    fig = plots.augmentation_examples(face, {"seed CNN": build_seed_cnn(), "emonet": build_emonet(width=8)}, n=3,
                                      save=tmp_path / "aug.png")
    assert (tmp_path / "aug.png").stat().st_size > 0 and titled(fig)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["original", "48x48", "48x48", "48x48", "original", "40x40", "40x40", "40x40"]
    assert [fig.axes[i].get_ylabel() for i in (0, 4)] == ["seed CNN", "emonet"]
    shown = [ax.get_images()[0].get_array() for ax in fig.axes[1:4]]
    assert not all(np.array_equal(shown[0], s) for s in shown[1:]), "augmentation is random in training mode"


def test_lr_schedule_and_validation_accuracy(tmp_path):
    from emolib.train import CosineByBudget

    fig = plots.lr_schedule(CosineByBudget(1e-3, total_steps=100, warmup_steps=10), 10, 10, title="LR",
                            save=tmp_path / "lr.png")
    assert_labelled(fig)
    y = fig.axes[0].get_lines()[0].get_ydata()
    assert len(y) == 100 and np.argmax(y) in (9, 10) and y[-1] < y.max() / 50  # warm-up, then decay
    hist = tmp_path / "history.json"
    hist.write_text(json.dumps({"val_accuracy": [0.2, 0.4, float("nan"), 0.5]}))
    fig = plots.validation_accuracy({"quick": {"val_accuracy": [0.3, 0.5]}, "full": tmp_path})
    assert_labelled(fig)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["quick", "full"]
    assert list(lines[1].get_xdata()) == [1, 2, 3, 4]


def test_comparison_bars():
    from emolib.evaluate import comparison_table

    table = comparison_table([{"name": "mine", "private_test": 0.70}])
    fig = plots.comparison_bars(table)
    assert_labelled(fig)
    bars = fig.axes[0].patches
    assert [b.get_width() for b in bars] == list(table["PrivateTest %"])
    mine = list(table["name"]).index("mine")
    assert bars[mine].get_facecolor()[:3] != bars[mine - 1 if mine else 1].get_facecolor()[:3]
    assert fig.axes[0].get_xlim() == (50.0, 90.0), "the record, 76.8 %, and its label fit"


def test_comparison_bars_widen_to_show_a_weak_model():
    from emolib.evaluate import comparison_table

    table = comparison_table([{"name": "two epochs", "private_test": 0.305}])
    low, high = plots.comparison_bars(table).axes[0].get_xlim()
    assert low < 30.5 and low % 10 == 0 and high == 90.0
    assert plots.comparison_bars(table, xlim=(0, 100)).axes[0].get_xlim() == (0.0, 100.0)


def test_model_cost_bars(tmp_path):
    import pandas as pd

    table = pd.DataFrame({"parameters (M)": [3.06, 1.24], "MACs per face (M)": [384.3, 81.6]},
                         index=["seed CNN", "emonet"])
    fig = plots.model_cost_bars(table, reference="emonet", save=tmp_path / "cost.png")
    assert_labelled(fig)
    assert (tmp_path / "cost.png").stat().st_size > 0
    assert fig.get_suptitle() == "Compute per face, relative to emonet: seed CNN 4.7x"
    params, macs = fig.axes
    assert [b.get_height() for b in macs.patches] == [384.3, 81.6]
    assert params.patches[0].get_facecolor() != params.patches[1].get_facecolor()


def test_demo_figures(tmp_path):
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    fig = plots.face_crops({"a.jpg": photo}, {"a.jpg": [(40, 30, 50, 50)]}, save=tmp_path / "crops.png")
    assert [ax.get_title() for ax in fig.axes] == ["a.jpg", "48x48 crop"] and titled(fig)
    assert len(fig.axes[0].patches) == 2 and fig.axes[1].get_images()[0].get_array().shape == (48, 48)
    fig = plots.photo_grid({"a": photo, "b": photo}, title="Annotated")
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"] and fig.get_suptitle() == "Annotated"
    probs = dict(zip(CLASS_NAMES, [0.05, 0.05, 0.1, 0.1, 0.1, 0.5, 0.1]))
    fig = plots.probability_bars([("a.jpg", probs), ("b.jpg", probs)])
    assert_labelled(fig)
    assert fig.axes[1].get_title() == "b.jpg: surprise"
    assert [b.get_width() for b in fig.axes[0].patches] == list(probs.values())
    fig = plots.saliency_panels([("a: surprise", photo[:48, :48, 0], rng.random((48, 48)))])
    assert len(fig.axes) == 3 and titled(fig) and len(fig.axes[2].get_images()) == 2  # face + overlay
