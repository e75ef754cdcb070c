"""Training on a tiny synthetic FER2013 built in memory (seconds, no real data needed)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from emolib.__main__ import main
from emolib.data import CLASS_NAMES, FER2013, Split
from emolib.models import build_emonet, ensemble, load_model_file, with_tta, without_tta
from emolib.train import (QUICK_BUDGET_S, QUICK_EPOCHS, QUICK_RUN_DIR, QUICK_RUN_FILES, CosineByBudget, TimeBudget,
                          check_split, load_history, make_dataset, mixup, recalibrate_batchnorm, ship_quick_run,
                          stratified_subset, train)

SMALL = {"width": 8}  # a narrow emonet keeps every test to a few seconds
REPO = Path(__file__).resolve().parent.parent


def synthetic_split(per_class: int, seed: int = 0) -> Split:
    """Faces whose brightness encodes the class, plus noise: learnable, not trivial."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASS_NAMES)), per_class)
    base = 30 + 30 * labels[:, None, None]
    images = np.clip(base + rng.normal(0, 20, (len(labels), 48, 48)), 0, 255).astype(np.uint8)
    return Split(images, labels.astype(np.int64))


@pytest.fixture(scope="module")
def tiny() -> FER2013:
    return FER2013(train=synthetic_split(8, 0), val=synthetic_split(2, 1), test=synthetic_split(2, 2))


def history(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "history.csv")


def test_train_plateau_writes_everything(tiny, tmp_path):
    out = tmp_path / "run"
    res = train("emonet", tiny, out, epochs=2, batch_size=16, model_kwargs=SMALL, verbose=0)
    for name in ("best.keras", "history.csv", "history.json", "result.json", "config.json"):
        assert (out / name).is_file(), name
    assert not (out / "backup").exists(), "a finished run leaves no backup behind"
    saved = json.loads((out / "result.json").read_text())
    assert saved["epochs_run"] == res.epochs_run == 2
    assert saved["train_images"] == len(tiny.train)
    assert 0.0 <= res.best_val_accuracy <= 1.0 and 1 <= res.best_epoch <= 2
    hist = json.loads((out / "history.json").read_text())
    assert len(hist["val_accuracy"]) == 2 and {"loss", "accuracy", "val_loss"} <= set(hist)
    model = load_model_file(res.model_path)
    assert model.count_params() == res.params


def test_rerun_of_a_finished_run_starts_afresh(tiny, tmp_path):
    out = tmp_path / "run"
    train("emonet", tiny, out, epochs=1, batch_size=16, model_kwargs=SMALL, verbose=0)
    res = train("emonet", tiny, out, epochs=1, batch_size=16, model_kwargs=SMALL, verbose=0)
    assert res.epochs_run == 1 and len(history(out)) == 1


def test_train_cosine_warms_up_and_decays(tiny, tmp_path):
    res = train("emonet", tiny, tmp_path, epochs=3, batch_size=16, schedule="cosine", warmup_epochs=1,
                model_kwargs=SMALL, verbose=0)
    lr = history(tmp_path)["learning_rate"].to_numpy()
    base = res.config["base_lr"]
    assert len(lr) == 3 and lr[0] == pytest.approx(base, rel=1e-3)  # end of warm-up: the full rate
    assert lr[0] > lr[1] > lr[2]


def test_cosine_schedule_values():
    cb = CosineByBudget(1.0, total_steps=100, warmup_steps=10, budget_s=50, min_lr=0.0)
    assert cb.lr_at(0, 0) == pytest.approx(0.1)
    assert cb.lr_at(9, 0) == pytest.approx(1.0)
    assert cb.lr_at(55, 0) == pytest.approx(0.5 * (1 + np.cos(np.pi * 0.55)))
    assert cb.lr_at(20, 25) == pytest.approx(0.5), "half the time budget spent: half-way down"
    assert cb.lr_at(100, 0) == pytest.approx(0.0) and cb.lr_at(20, 1e9) == pytest.approx(0.0)


class Interrupt(keras.callbacks.Callback):
    """Simulate a crash (power cut, Ctrl-C) at the end of an epoch."""

    def __init__(self, after_epoch: int) -> None:
        super().__init__()
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.after_epoch:
            raise RuntimeError("simulated interruption")


@pytest.mark.parametrize("schedule", ["plateau", "cosine"])
def test_interrupted_run_resumes(tiny, tmp_path, schedule):
    kw = dict(epochs=4, batch_size=16, schedule=schedule, model_kwargs=SMALL, verbose=0)
    with pytest.raises(RuntimeError, match="simulated"):
        train("emonet", tiny, tmp_path, callbacks=[Interrupt(after_epoch=1)], **kw)
    assert (tmp_path / "backup" / "training_metadata.json").is_file()
    assert history(tmp_path)["epoch"].tolist() == [0, 1]

    res = train("emonet", tiny, tmp_path, **kw)  # same call again: picks up at epoch 3
    assert history(tmp_path)["epoch"].tolist() == [0, 1, 2, 3]
    assert res.epochs_run == 4 and not (tmp_path / "backup").exists()
    assert len(json.loads((tmp_path / "history.json").read_text())["epoch"]) == 4
    # best.keras is the best epoch of both parts together
    best = load_model_file(tmp_path / "best.keras")
    acc = float(np.mean(best.predict(tiny.val.images[..., None], verbose=0).argmax(1) == tiny.val.labels))
    assert acc == pytest.approx(res.best_val_accuracy, abs=1e-6)


def test_time_budget_stops_after_first_epoch(tiny, tmp_path, capsys):
    res = train("emonet", tiny, tmp_path, epochs=5, batch_size=16, budget_s=1e-3, model_kwargs=SMALL, verbose=0)
    assert res.epochs_run == 1
    assert "Time budget" in capsys.readouterr().out


def test_time_budget_callback_keeps_going_within_budget():
    cb = TimeBudget(3600)
    cb.set_model(keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)]))
    cb.model.stop_training = False
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    cb.on_epoch_end(0)
    assert cb.model.stop_training is False


def test_class_weights(tmp_path):
    # disgust is rare in FER2013; here too
    imb = synthetic_split(8)
    keep = np.flatnonzero((imb.labels != 1) | (np.arange(len(imb.labels)) % 8 == 0))
    data = FER2013(train=Split(imb.images[keep], imb.labels[keep]), val=synthetic_split(2, 1),
                   test=synthetic_split(2, 2))
    res = train("emonet", data, tmp_path, epochs=1, batch_size=16, class_weight=True, model_kwargs=SMALL, verbose=0)
    assert res.config["class_weight"] is True and res.epochs_run == 1


def test_explicit_default_strategy(tiny, tmp_path):
    res = train("emonet", tiny, tmp_path, epochs=1, batch_size=16, strategy=tf.distribute.get_strategy(),
                model_kwargs=SMALL, verbose=0)
    assert res.config["replicas"] == 1 and (tmp_path / "best.keras").is_file()


def test_bf16_trains_in_mixed_precision_and_leaves_the_global_policy_alone(tiny, tmp_path):
    from emolib.models import build_model, copy_weights, to_float32

    res = train("emonet", tiny, tmp_path, epochs=1, batch_size=16, bf16=True, model_kwargs=SMALL, verbose=0)
    assert res.config["bf16"] and keras.mixed_precision.global_policy().name == "float32"
    model = load_model_file(res.model_path)
    assert model.get_layer("block1_1_conv").dtype_policy.name == "mixed_bfloat16"
    assert model.output.dtype == "float32", "softmax stays in float32"
    f32 = to_float32(model)
    assert {layer.dtype_policy.name for layer in f32.layers} == {"float32"}
    faces = tiny.val.images[..., None]
    got, ref = f32.predict(faces, verbose=0), model.predict(faces, verbose=0)
    np.testing.assert_allclose(got.sum(axis=1), 1, atol=1e-5)
    assert np.abs(got - ref).max() < 0.05, "same weights: bf16 and float32 agree closely"
    assert "bfloat16" not in json.dumps(f32.get_config()), "no layer, nested input layers included, left in bfloat16"
    fresh = copy_weights(model, build_model("emonet", **SMALL))  # built in float32 from the start
    np.testing.assert_allclose(got, fresh.predict(faces, verbose=0), atol=1e-5)


def test_ema_validates_and_saves_the_averaged_weights(tiny, tmp_path):
    from emolib.models import build_model

    kernel = "block1_1_conv"
    initial = build_model("emonet", seed=0, **SMALL).get_layer(kernel).get_weights()[0]
    weights = []

    class Record(keras.callbacks.Callback):  # the raw weights at the end of each epoch, without ema
        def on_epoch_end(self, epoch, logs=None):
            weights.append(self.model.get_layer(kernel).get_weights()[0])

    train("emonet", tiny, tmp_path / "plain", epochs=4, batch_size=16, model_kwargs=SMALL, verbose=0,
          callbacks=[Record()])
    moved = np.abs(weights[-1] - initial).max()
    assert moved > 0.01, "16 training steps change the raw weights"
    # momentum 0.9999 over 16 steps: the average stays near the weights after the first step, which Keras copies
    out = tmp_path / "ema"
    res = train("emonet", tiny, out, epochs=4, batch_size=16, model_kwargs={**SMALL, "ema": 0.9999}, verbose=0)
    assert res.config["model_kwargs"]["ema"] == 0.9999
    for name in ("best.keras", "last.keras"):
        model = load_model_file(out / name)
        assert np.abs(model.get_layer(kernel).get_weights()[0] - initial).max() < moved / 4, name
    # the logged validation accuracy is that of the saved, averaged weights
    pred = load_model_file(res.model_path).predict(tiny.val.images[..., None], verbose=0).argmax(axis=1)
    logged = history(out)["val_accuracy"].iloc[res.best_epoch - 1]
    assert (pred == tiny.val.labels).mean() == pytest.approx(logged, abs=1e-6)
    # a run stopped by its time budget ends with the averaged weights too
    short = train("emonet", tiny, tmp_path / "short", epochs=5, batch_size=16, budget_s=1e-3,
                  model_kwargs={**SMALL, "ema": 0.9999}, verbose=0)
    assert short.epochs_run == 1
    last = load_model_file(tmp_path / "short" / "last.keras")
    assert np.abs(last.get_layer(kernel).get_weights()[0] - initial).max() < moved / 4


def test_ema_momentum_is_checked():
    from emolib.models import build_model

    with pytest.raises(ValueError, match="ema is a momentum between 0 and 1"):
        build_model("emonet", ema=1.5)


def test_mixup_blends_images_and_labels_in_pairs():
    # one flat image per class, each with its own brightness: a blend's pixels tell which faces it mixes
    brightness = np.array([10, 40, 70, 100, 130, 160, 190], np.float32)
    split = Split(np.repeat(brightness.astype(np.uint8), 48 * 48).reshape(7, 48, 48), np.arange(7))
    batches = list(mixup(make_dataset(split, batch_size=7).repeat(30), alpha=0.4, seed=3))
    x = np.concatenate([b[0].numpy() for b in batches])
    y = np.concatenate([b[1].numpy() for b in batches])
    assert x.dtype == np.float32 and x.shape == (210, 48, 48, 1)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=1e-6)
    assert ((y > 1e-6).sum(axis=1) <= 2).all(), "a blend mixes two faces at most"
    # each image is the same blend of pixels as its label is of classes
    np.testing.assert_allclose(x[:, 0, 0, 0], y @ brightness, rtol=1e-5)
    assert (x.std(axis=(1, 2, 3)) < 1e-3).all()
    share = y.max(axis=1)
    assert (share < 0.9).mean() > 0.2, "Beta(0.4, 0.4) blends a good share of images noticeably"
    assert (share > 0.99).mean() > 0.05, "and leaves some close to one face"
    # new blends every pass over the data, the same ones for the same seed
    ds = mixup(make_dataset(split, batch_size=7), alpha=0.4, seed=3)
    first, second = [next(iter(ds))[0].numpy() for _ in range(2)]
    assert not np.allclose(first, second)
    np.testing.assert_allclose(next(iter(mixup(make_dataset(split, batch_size=7), alpha=0.4, seed=3)))[0], first)
    with pytest.raises(ValueError, match="mixup alpha must be positive"):
        mixup(make_dataset(split), alpha=0)


def test_train_with_mixup_feeds_the_blends(tiny, tmp_path, monkeypatch):
    import emolib.train as train_module

    seen = []

    def spy(ds, alpha, seed):
        seen.append(alpha)
        return mixup(ds, alpha, seed)

    monkeypatch.setattr(train_module, "mixup", spy)
    res = train("emonet", tiny, tmp_path, epochs=1, batch_size=16, model_kwargs=SMALL, verbose=0, mixup_alpha=0.2)
    assert seen == [0.2] and res.config["mixup_alpha"] == 0.2
    assert np.isfinite(history(tmp_path)["loss"]).all()
    train("emonet", tiny, tmp_path / "plain", epochs=1, batch_size=16, model_kwargs=SMALL, verbose=0)
    assert seen == [0.2], "no mixup unless asked"
    with pytest.raises(ValueError, match="mixup alpha must be positive"):
        train("emonet", tiny, tmp_path, mixup_alpha=-1)


@pytest.mark.parametrize("alpha", ["0", "-0.2"])
def test_cli_mixup_not_positive_exit_code_2(tmp_path, capsys, alpha):
    code = main(["train", "--mixup", alpha, "--data", str(tmp_path), "--out", str(tmp_path / "run")])
    assert code == 2
    assert f"--mixup is a positive alpha (e.g. 0.2), not {float(alpha)}" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_seed_architecture_trains(tiny, tmp_path):
    res = train("seed", tiny, tmp_path, epochs=1, batch_size=16, verbose=0)
    assert res.arch == "seed" and res.params > 3_000_000


def test_quick_mode_caps_epochs_budget_and_warmup(tiny, tmp_path):
    res = train("emonet", tiny, tmp_path, epochs=60, batch_size=16, quick=True, train_size=21, budget_s=3600,
                warmup_epochs=5, model_kwargs=SMALL, verbose=0)
    assert res.config["quick"] and res.train_images == 21
    assert res.config["epochs"] == QUICK_EPOCHS and res.config["budget_s"] == QUICK_BUDGET_S
    assert res.config["warmup_epochs"] == 1


def test_wrong_data_is_rejected_clearly(tiny, tmp_path):
    bad = FER2013(train=Split(np.zeros((4, 64, 64), np.uint8), np.zeros(4, np.int64)), val=tiny.val, test=tiny.test)
    with pytest.raises(ValueError, match=r"train images must be uint8 with shape \(N, 48, 48\)"):
        train("emonet", bad, tmp_path)
    bad = FER2013(train=Split(tiny.train.images, tiny.train.labels + 3), val=tiny.val, test=tiny.test)
    with pytest.raises(ValueError, match="labels must be integers 0..6"):
        train("emonet", bad, tmp_path)
    with pytest.raises(ValueError, match="val .* split is empty"):
        check_split(Split(np.zeros((0, 48, 48), np.uint8), np.zeros(0, np.int64)), "val (PublicTest)")
    with pytest.raises(ValueError, match="unknown schedule"):
        train("emonet", tiny, tmp_path, schedule="linear")
    with pytest.raises(ValueError, match="unknown architecture 'resnet'"):
        train("resnet", tiny, tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_make_dataset_and_subset(tiny):
    sub = stratified_subset(tiny.train, 28, seed=0)
    assert len(sub) == 28 and (sub.class_counts() == 4).all()
    assert stratified_subset(tiny.train, 10_000) is tiny.train
    x, y = next(iter(make_dataset(sub, batch_size=8)))
    assert x.shape == (8, 48, 48, 1) and x.dtype == tf.uint8 and y.shape == (8, 7)


# --------------------------------------------------------------------------- command line
def write_csv(path: Path) -> None:
    rows = [("Training", synthetic_split(6, 0)), ("PublicTest", synthetic_split(2, 1)),
            ("PrivateTest", synthetic_split(2, 2))]
    with open(path, "w") as fh:
        fh.write("emotion,pixels,Usage\n")
        for usage, split in rows:
            for img, lab in zip(split.images, split.labels):
                fh.write(f"{lab},{' '.join(map(str, img.ravel()))},{usage}\n")


def test_cli_train_quick(tmp_path):
    write_csv(tmp_path / "fer2013.csv")
    env = {**os.environ, "EMOLIB_DATA": str(tmp_path), "EMOLIB_CACHE": str(tmp_path / "cache"),
           "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "emolib", "train", "--quick", "--epochs", "1", "--batch-size", "16",
         "--log-epochs", "--out", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "best val (PublicTest) accuracy" in proc.stdout
    result = json.loads((out / "result.json").read_text())
    assert result["config"]["quick"] is True and result["epochs_run"] == 1 and result["train_images"] == 42


def test_cli_unknown_arch_exit_code_2(tmp_path, monkeypatch, capsys):
    write_csv(tmp_path / "fer2013.csv")
    monkeypatch.setenv("EMOLIB_CACHE", str(tmp_path / "cache"))
    code = main(["train", "--arch", "resnet", "--quick", "--data", str(tmp_path / "fer2013.csv"),
                 "--out", str(tmp_path / "run")])
    assert code == 2
    err = capsys.readouterr().err
    assert "unknown architecture 'resnet'" in err and "emonet" in err


def test_cli_emonet_options_with_seed_arch_exit_code_2(tmp_path, capsys):
    code = main(["train", "--arch", "seed", "--ema", "0.999", "--data", str(tmp_path), "--out", str(tmp_path / "run")])
    assert code == 2
    assert "--width, --aug, --ema, --optimizer and --dropout apply to --arch emonet only" in capsys.readouterr().err
    for option, value in (("--optimizer", "sgd"), ("--dropout", "0.1"), ("--dropout", "0")):
        code = main(["train", "--arch", "seed", option, value, "--data", str(tmp_path), "--out", str(tmp_path / "run")])
        assert code == 2, (option, value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("rate", ["0.5", "-0.1"])
def test_cli_dropout_out_of_range_exit_code_2(tmp_path, capsys, rate):
    code = main(["train", "--dropout", rate, "--data", str(tmp_path), "--out", str(tmp_path / "run")])
    assert code == 2
    assert f"--dropout is a rate from 0 to below 0.5 (the head's is twice it), not {float(rate)}" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("momentum", ["0", "1.5", "-0.9"])
def test_cli_ema_out_of_range_exit_code_2(tmp_path, capsys, momentum):
    code = main(["train", "--ema", momentum, "--data", str(tmp_path), "--out", str(tmp_path / "run")])
    assert code == 2
    assert f"--ema is a momentum between 0 and 1 (e.g. 0.999), not {float(momentum)}" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_cli_missing_data_exit_code_2(tmp_path, monkeypatch, capsys):
    code = main(["train", "--data", str(tmp_path / "nothing-here"), "--out", str(tmp_path / "run")])
    assert code == 2
    assert "FER2013 not found" in capsys.readouterr().err


def test_load_history(tmp_path):
    from emolib.train import load_history

    assert load_history(tmp_path) is None
    (tmp_path / "history.csv").write_text("epoch,accuracy,val_accuracy\n0,0.2,0.25\n1,0.3,0.3\n1,0.35,0.4\n")
    hist, src = load_history(tmp_path)
    assert src.name == "history.csv" and hist["epoch"] == [0.0, 1.0] and hist["val_accuracy"] == [0.25, 0.4]
    (tmp_path / "history.json").write_text('{"epoch": [0], "val_accuracy": [0.5]}')
    hist, src = load_history(tmp_path)
    assert src.name == "history.json" and hist["val_accuracy"] == [0.5]
    assert load_history(tmp_path / "history.csv")[0]["accuracy"] == [0.2, 0.35]


def batchnorm_inputs(net: keras.Model, images: np.ndarray) -> dict[str, np.ndarray]:
    """Each BatchNormalization layer's input over ``images``, in inference mode, flattened to (pixels, channels)."""
    out = {}
    for layer in net.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            a = keras.Model(net.inputs, layer.input).predict(images, verbose=0)
            out[layer.name] = a.reshape(-1, a.shape[-1]).astype("float64")
    return out


def test_recalibrate_batchnorm_stores_the_inference_statistics():
    net = build_emonet(**SMALL)
    faces = synthetic_split(6, 3).images
    before = net.predict(faces[..., None], verbose=0)
    assert recalibrate_batchnorm(net, faces, batch_size=16) is net
    bn_layers = [layer for layer in net.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bn_layers) == 8
    # every layer's stored statistics are those of its input, given the layers below as recalibrated
    for name, a in batchnorm_inputs(net, faces[..., None].astype("float32")).items():
        bn = net.get_layer(name)
        np.testing.assert_allclose(bn.moving_mean.numpy(), a.mean(0), rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(bn.moving_variance.numpy(), a.var(0), rtol=1e-3, atol=1e-4)
    # an untrained network's running averages (0 and 1) were far from them: the predictions change
    assert not np.allclose(net.predict(faces[..., None], verbose=0), before, atol=1e-3)


def test_recalibrate_batchnorm_reaches_the_networks_inside_tta_and_ensembles():
    faces = synthetic_split(3, 4).images
    reference = recalibrate_batchnorm(build_emonet(**SMALL), faces)
    wrapped = with_tta(build_emonet(**SMALL), shifts=((0, 0), (2, 2)))
    recalibrate_batchnorm(wrapped, faces)
    both = ensemble([build_emonet(**SMALL), build_emonet(**SMALL)])
    recalibrate_batchnorm(both, faces)
    name = "block3_2_bn"
    expected = reference.get_layer(name).moving_variance.numpy()
    np.testing.assert_allclose(without_tta(wrapped).get_layer(name).moving_variance.numpy(), expected, rtol=1e-4)
    for member in ("member_1", "member_2"):
        np.testing.assert_allclose(both.get_layer(member).get_layer(name).moving_variance.numpy(), expected, rtol=1e-4)


def test_recalibrate_batchnorm_rejects_bad_input_clearly():
    net = build_emonet(**SMALL)
    with pytest.raises(ValueError, match="no images"):
        recalibrate_batchnorm(net, np.zeros((0, 48, 48), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        recalibrate_batchnorm(net, np.zeros((2, 64, 64), np.uint8))
    plain = keras.Sequential([keras.Input((48, 48, 1)), keras.layers.Flatten(), keras.layers.Dense(7)], name="plain")
    with pytest.raises(ValueError, match="plain has no BatchNormalization"):
        recalibrate_batchnorm(plain, np.zeros((2, 48, 48), np.uint8))


# --------------------------------------------------------------------------- the shipped quick run (notebook 03)
QUICK_SETTINGS = ("arch", "batch_size", "schedule", "base_lr", "warmup_epochs", "budget_s", "patience", "class_weight",
                  "quick", "seed", "bf16", "model_kwargs")


def test_shipped_quick_run_is_a_small_quick_mode_run():
    files = {p.name: p for p in QUICK_RUN_DIR.iterdir()}
    assert set(QUICK_RUN_FILES) | {"README.md"} == set(files)
    assert sum(p.stat().st_size for p in files.values()) < 8e6, "a few MB at most"
    config = json.loads(files["config.json"].read_text())
    result = json.loads(files["result.json"].read_text())
    assert config["quick"] is True and config["schedule"] == "cosine" and config["seed"] == 0
    assert config["arch"] == "emonet" and config["model_kwargs"] == {} and result["config"] == config
    assert not Path(result["out_dir"]).is_absolute(), "no machine path in a shipped file"
    hist, _ = load_history(QUICK_RUN_DIR)
    assert len(hist["val_accuracy"]) == result["epochs_run"] <= QUICK_EPOCHS
    assert max(hist["val_accuracy"]) == pytest.approx(result["best_val_accuracy"])
    model = load_model_file(files["best.keras"])
    assert model.count_params() == result["params"]
    assert "--quick --schedule cosine --seed 0" in files["README.md"].read_text()


def test_ship_quick_run_refuses_an_unfinished_or_full_run(tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match="holds no finished run"):
        ship_quick_run(tmp_path / "nothing", tmp_path / "out")
    train("emonet", tiny, tmp_path / "full", epochs=1, batch_size=16, model_kwargs=SMALL, verbose=0)
    with pytest.raises(ValueError, match="not trained in quick mode"):
        ship_quick_run(tmp_path / "full", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_quick_training_on_real_faces_gives_what_notebook_03_loads(real_data, tmp_path):
    """Notebook 03's TRAIN = True path, for real: quick mode on FER2013 faces (a stratified subset and one epoch,
    so that it takes seconds), with the settings of the shipped quick run, shipped the same way."""
    data = FER2013(train=real_data.train, val=stratified_subset(real_data.val, 350, seed=0), test=real_data.test)
    res = train("emonet", data, tmp_path / "quick", quick=True, schedule="cosine", seed=0, train_size=700, epochs=1,
                verbose=0)
    shipped = json.loads((QUICK_RUN_DIR / "config.json").read_text())
    assert {k: res.config[k] for k in QUICK_SETTINGS} == {k: shipped[k] for k in QUICK_SETTINGS}
    assert res.train_images == 700 and res.epochs_run == 1
    size = ship_quick_run(tmp_path / "quick", tmp_path / "asset")
    assert size == sum((tmp_path / "asset" / name).stat().st_size for name in QUICK_RUN_FILES)
    model = load_model_file(tmp_path / "asset" / "best.keras")
    probs = model.predict(data.val.images[:8, ..., None], verbose=0)
    assert probs.shape == (8, 7) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
