"""Model builders, loading and exporting (no data needed)."""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from emolib.models import (ARCHITECTURES, PRETRAINED_PATH, ModelFileError, architecture_differences, augmentation,
                           build_model, export_for_inference, export_litert, load_model_file, load_pretrained,
                           with_flip_tta)
from emolib.predict import LITERT_PATH, LiteRTModel


@pytest.fixture(scope="module")
def models() -> dict[str, keras.Model]:
    return {arch: build_model(arch) for arch in ARCHITECTURES}


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1), dtype=np.uint8)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_shapes_and_probabilities(models, faces, arch):
    model = models[arch]
    assert model.input_shape == (None, 48, 48, 1)
    assert model.output_shape == (None, 7)
    probs = model.predict(faces, verbose=0)
    assert probs.shape == (4, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.optimizer is not None, "build_model returns a compiled model"


def test_parameter_counts(models):
    assert 3_000_000 < models["seed"].count_params() < 3_500_000
    assert 1_000_000 < models["emonet"].count_params() < 1_500_000


@pytest.mark.parametrize("arch, aug", [("seed", "augment_seed"), ("emonet", "augment_crop40")])
def test_rescaling_and_augmentation_are_inside(models, arch, aug):
    model = models[arch]
    names = [layer.name for layer in model.layers]
    assert names[1] == "rescale" and names[2] == aug
    rescale = model.get_layer("rescale")
    assert isinstance(rescale, keras.layers.Rescaling) and rescale.scale == pytest.approx(1 / 255)


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_augmentation_only_in_training(models, faces, arch):
    model = models[arch]
    aug = model.layers[2]
    x = faces.astype("float32") / 255
    # at inference: identity, except emonet's fixed central 40x40 crop
    expected = x[:, 4:44, 4:44] if arch == "emonet" else x
    np.testing.assert_array_equal(np.asarray(aug(x, training=False)), expected)
    y = np.asarray(aug(x, training=True))
    assert not np.allclose(y, expected), "training=True must change the faces"
    # inference is deterministic: augmentation and dropout are off
    np.testing.assert_array_equal(model.predict(faces, verbose=0), model.predict(faces, verbose=0))
    a, b = np.asarray(model(faces, training=True)), np.asarray(model(faces, training=True))
    assert not np.allclose(a, b), "in training mode augmentation/dropout make every call different"


def test_crop40_is_random_in_training_and_central_at_inference():
    aug = augmentation("crop40")
    x = np.arange(48 * 48, dtype="float32").reshape(1, 48, 48, 1)
    assert aug(x, training=True).shape == (1, 40, 40, 1)
    np.testing.assert_array_equal(np.asarray(aug(x, training=False)), x[:, 4:44, 4:44])
    assert len(augmentation("none").layers) == 0


def test_crop40_erase_greys_out_a_patch_in_training_only():
    aug = augmentation("crop40-erase", seed=1)
    white = np.ones((64, 48, 48, 1), dtype="float32")
    np.testing.assert_array_equal(np.asarray(aug(white, training=False)), white[:, 4:44, 4:44])
    y = np.asarray(aug(white, training=True))
    assert y.shape == (64, 40, 40, 1)
    grey = np.isclose(y, 0.5).reshape(64, -1).mean(axis=1)  # the erased share of each crop
    assert 0.2 < (grey > 0).mean() < 0.9, "about half the crops get a patch"
    assert 0 < grey.max() < 0.5, "a patch covers part of the face, never all of it"
    model = build_model("emonet", aug="crop40-erase")
    assert model.get_layer("augment_crop40-erase").layers[-1].name.startswith("random_erasing")
    with pytest.raises(ValueError, match="emonet works on 40x40 crops"):
        build_model("emonet", aug="seed")


def test_emonet_optimizer_choice_and_its_defaults():
    adamw = build_model("emonet")
    assert type(adamw.optimizer).__name__ == "AdamW"
    assert adamw.optimizer.weight_decay == pytest.approx(0.05)
    sgd = build_model("emonet", optimizer="sgd")
    assert type(sgd.optimizer).__name__ == "SGD" and sgd.optimizer.nesterov
    assert sgd.optimizer.momentum == pytest.approx(0.9) and sgd.optimizer.weight_decay == pytest.approx(5e-4)
    assert float(sgd.optimizer.learning_rate.numpy()) == pytest.approx(0.05)
    custom = build_model("emonet", optimizer="sgd", learning_rate=0.01, weight_decay=1e-4)
    assert float(custom.optimizer.learning_rate.numpy()) == pytest.approx(0.01)
    assert custom.optimizer.weight_decay == pytest.approx(1e-4)
    with pytest.raises(ValueError, match=r"unknown optimizer 'adam'; choose one of \['adamw', 'sgd'\]"):
        build_model("emonet", optimizer="adam")


def test_emonet_dropout_sets_blocks_and_twice_it_in_the_head():
    def rates(model):
        return {layer.name: layer.rate for layer in model.layers if layer.name.endswith("_drop")}

    shipped = rates(build_model("emonet"))
    assert shipped == {**{f"block{b}_drop": pytest.approx(0.2) for b in range(1, 5)}, "fc1_drop": pytest.approx(0.4)}
    less = rates(build_model("emonet", dropout=0.1))
    assert less == {**{f"block{b}_drop": pytest.approx(0.1) for b in range(1, 5)}, "fc1_drop": pytest.approx(0.2)}
    assert set(rates(build_model("emonet", dropout=0.0)).values()) == {0.0}
    for bad in (-0.1, 0.5):
        with pytest.raises(ValueError, match=f"dropout is a rate from 0 to below 0.5.*not {bad}"):
            build_model("emonet", dropout=bad)


def test_unknown_names():
    with pytest.raises(ValueError, match=r"unknown architecture 'vgg'; choose one of \['emonet', 'seed'\]"):
        build_model("vgg")
    with pytest.raises(ValueError, match="unknown augmentation 'mixup'"):
        augmentation("mixup")


def test_load_model_file_missing(tmp_path):
    with pytest.raises(ModelFileError, match="model file not found: .*nope.keras"):
        load_model_file(tmp_path / "nope.keras")


def test_load_model_file_corrupt(tmp_path):
    bad = tmp_path / "corrupt.keras"
    bad.write_bytes(b"this is not a keras zip archive" * 10)
    with pytest.raises(ModelFileError, match="cannot load model file .*corrupt.keras"):
        load_model_file(bad)
    truncated = tmp_path / "truncated.keras"
    export_for_inference(build_model("emonet", width=4), tmp_path / "ok.keras")
    truncated.write_bytes((tmp_path / "ok.keras").read_bytes()[:2000])
    with pytest.raises(ModelFileError, match="cannot load model file"):
        load_model_file(truncated)


@pytest.mark.parametrize("shape, classes", [((32, 32, 1), 7), ((48, 48, 3), 7), ((48, 48, 1), 10)])
def test_load_model_file_wrong_shape(tmp_path, shape, classes):
    other = keras.Sequential([keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(classes)])
    path = tmp_path / "other.keras"
    other.save(path)
    with pytest.raises(ModelFileError, match="is not an emotion model"):
        load_model_file(path)


@pytest.mark.slow
def test_export_round_trip(tmp_path, faces):
    model = build_model("emonet", width=8)
    model.fit(faces, np.eye(7)[[0, 1, 2, 3]], epochs=1, verbose=0)  # creates optimizer state
    full = tmp_path / "full.keras"
    model.save(full)
    small = tmp_path / "small.keras"
    size = export_for_inference(model, small)
    assert size == small.stat().st_size and size < full.stat().st_size
    loaded = keras.models.load_model(small)  # plain Keras, no emolib needed
    assert getattr(loaded, "optimizer", None) is None, "no optimizer state in the inference file"
    np.testing.assert_allclose(loaded.predict(faces, verbose=0), model.predict(faces, verbose=0), atol=1e-6)
    np.testing.assert_allclose(load_model_file(small).predict(faces, verbose=0), model.predict(faces, verbose=0),
                               atol=1e-6)


def test_flip_tta_model_averages_both_views_and_round_trips(tmp_path, faces):
    from emolib.models import with_flip_tta

    model = build_model("emonet", width=8)
    tta = with_flip_tta(model)
    assert tta.input_shape == (None, 48, 48, 1) and tta.output_shape == (None, 7)
    expected = (model.predict(faces, verbose=0) + model.predict(faces[:, :, ::-1], verbose=0)) / 2
    np.testing.assert_allclose(tta.predict(faces, verbose=0), expected, atol=1e-6)
    assert np.abs(expected - model.predict(faces, verbose=0)).max() > 1e-6, "the mirror view must matter"
    assert tta.count_params() == model.count_params() + 48 * 48  # the frozen mirror matrix
    size = export_for_inference(tta, tmp_path / "tta.keras")
    assert size < 1.1 * export_for_inference(model, tmp_path / "net.keras"), "no optimizer state, weights stored once"
    loaded = keras.models.load_model(tmp_path / "tta.keras")  # plain Keras, built-in layers only
    np.testing.assert_allclose(loaded.predict(faces, verbose=0), expected, atol=1e-6)


@pytest.mark.slow
def test_shift_tta_averages_shifted_and_mirrored_crops_and_round_trips(tmp_path, faces):
    from emolib.models import with_tta, without_tta

    model = build_model("emonet", width=8)
    shifts = ((0, 0), (2, 0), (0, -3), (-1, 4))
    tta = with_tta(model, shifts=shifts, flip=True)
    views = []
    for face in (faces, faces[:, :, ::-1]):
        # np.roll wraps the edge round; emonet's central 40x40 crop never sees the edge, so it equals zero padding
        views += [model.predict(np.roll(face, (dy, dx), axis=(1, 2)), verbose=0) for dy, dx in shifts]
    path = tmp_path / "tta.keras"
    tta.save(path)
    loaded = keras.models.load_model(path)  # built-in layers only
    for m in (tta, loaded):
        np.testing.assert_allclose(m.predict(faces, verbose=0), np.mean(views, axis=0), atol=1e-5)
    assert without_tta(loaded).name == model.name and loaded.name == f"{model.name}_tta8"
    with pytest.raises(ValueError, match="at most 4 pixels"):
        with_tta(model, shifts=((0, 0), (5, 0)))
    with pytest.raises(ValueError, match="at least 2 views"):
        with_tta(model, shifts=((0, 0),), flip=False)


@pytest.mark.slow
def test_batched_tta_gives_the_same_predictions_in_keras_and_litert(tmp_path, faces):
    from emolib.models import with_tta, without_tta

    model = build_model("emonet", width=8)
    shifts = ((0, 0), (3, 3), (-3, -3))  # the shipped file's six views
    want = with_tta(model, shifts=shifts).predict(faces, verbose=0)
    batched = with_tta(model, shifts=shifts, batched=True)
    export_for_inference(batched, tmp_path / "b.keras")
    loaded = keras.models.load_model(tmp_path / "b.keras")  # keras.ops nodes load with plain Keras too
    for m in (batched, loaded):
        np.testing.assert_allclose(m.predict(faces, verbose=0), want, atol=1e-5)
    assert without_tta(loaded).name == model.name
    export_litert(loaded, tmp_path / "b.tflite")
    lite = LiteRTModel(tmp_path / "b.tflite", num_threads=1)
    for batch in (faces[:1], faces):  # the views are stacked along the batch axis: any batch size works
        np.testing.assert_allclose(lite.predict_on_batch(batch), want[: len(batch)], atol=1e-5)


@pytest.mark.slow
def test_ensemble_averages_members_and_round_trips(tmp_path, faces):
    from emolib.models import ensemble, members, with_flip_tta, without_tta

    a, b = build_model("emonet", width=8, seed=1), build_model("emonet", width=8, seed=2)
    pa, pb = a.predict(faces, verbose=0), b.predict(faces, verbose=0)
    assert np.abs(pa - pb).max() > 1e-6, "different seeds, different networks"
    both = ensemble([a, b], name="pair")
    assert both.output_shape == (None, 7) and both.count_params() == a.count_params() + b.count_params()
    np.testing.assert_allclose(both.predict(faces, verbose=0), (pa + pb) / 2, atol=1e-6)
    assert getattr(both, "optimizer", None) is None and a.name == b.name == "emonet8"  # the originals are untouched
    tta = with_flip_tta(both)
    assert without_tta(tta).name == "pair" and [m.name for m in members(tta)] == ["member_1", "member_2"]
    export_for_inference(tta, tmp_path / "pair.keras")
    loaded = keras.models.load_model(tmp_path / "pair.keras")  # plain Keras, built-in layers only
    expected = (pa + pb + a.predict(faces[:, :, ::-1], verbose=0) + b.predict(faces[:, :, ::-1], verbose=0)) / 4
    np.testing.assert_allclose(loaded.predict(faces, verbose=0), expected, atol=1e-5)
    np.testing.assert_allclose(members(loaded)[1].predict(faces, verbose=0), pb, atol=1e-6)
    with pytest.raises(ValueError, match="at least 2 models"):
        ensemble([a])


@pytest.mark.slow
def test_litert_export_gives_the_keras_probabilities_for_any_batch(tmp_path, faces):
    model = with_flip_tta(build_model("emonet", width=8))
    path = tmp_path / "m.tflite"
    assert export_litert(model, path) == path.stat().st_size > 0
    lite = LiteRTModel(path, num_threads=1)
    assert lite.num_threads == 1 and lite.output_shape == (None, 7)
    want = model.predict(faces, verbose=0)
    for batch in (faces[:1], faces, faces[:3]):  # the interpreter is resized between calls
        np.testing.assert_allclose(lite.predict_on_batch(batch), want[: len(batch)], atol=1e-5)
    np.testing.assert_allclose(lite.predict(faces[..., 0], batch_size=3), want, atol=1e-5)  # (N, 48, 48) too
    assert lite.predict_on_batch(faces[:0]).shape == (0, 7)


@pytest.mark.slow
def test_quantized_litert_export_is_smaller_and_close(tmp_path, faces):
    model = with_flip_tta(build_model("emonet", width=8))
    full, small = export_litert(model, tmp_path / "f.tflite"), export_litert(model, tmp_path / "q.tflite", quantize=True)
    assert small < 0.4 * full  # int8 weights: about a quarter of float32
    lite = LiteRTModel(tmp_path / "q.tflite", num_threads=1)
    got = np.concatenate([lite.predict_on_batch(faces[:1]), lite.predict_on_batch(faces[1:])])
    np.testing.assert_allclose(got, model.predict(faces, verbose=0), atol=1e-3)


def test_shipped_litert_copy_matches_the_shipped_keras_file():
    """Fails when emonet.keras is re-shipped without re-exporting emonet.tflite (``python -m emolib ship`` does both).

    The copy is dynamic-range int8 (a quarter of the size), so its probabilities differ slightly; a copy of
    another model would differ by far more (and the real-data check is in test_evaluate.py)."""
    x = np.random.default_rng(1).integers(0, 256, (16, 48, 48, 1)).astype(np.float32)
    x[8:] = np.clip(x[8:] * 0.3 + 90, 0, 255)  # low-contrast faces too
    keras_probs = load_pretrained().predict(x, verbose=0)
    lite_probs = LiteRTModel(LITERT_PATH).predict_on_batch(x)
    np.testing.assert_allclose(lite_probs, keras_probs, atol=0.02)
    assert (lite_probs.argmax(1) == keras_probs.argmax(1)).all()
    assert LITERT_PATH.stat().st_size < 0.4 * PRETRAINED_PATH.stat().st_size, "emonet.tflite is not quantized"


@pytest.mark.skipif(not PRETRAINED_PATH.is_file(), reason="the shipped model is not in emolib/assets yet")
def test_shipped_model_loads(faces):
    model = load_pretrained()
    assert model.input_shape == (None, 48, 48, 1) and model.output_shape == (None, 7)
    probs = model.predict(faces, verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_compute_and_layer_table(models):
    from emolib.models import count_macs, layer_table

    assert count_macs(models["seed"]) == 384_257_536
    assert count_macs(models["emonet"]) == 81_628_928  # it sees the central 40x40 crop at inference
    table = layer_table(models["emonet"])
    assert table["params"].sum() == models["emonet"].count_params()
    assert table["name"].iloc[0] == "rescale" and table["type"].iloc[-1] == "Dense"


def vgg_macs(side: int, width: int, convs: tuple[int, ...] = (2, 2, 2, 2)) -> int:
    """emonet's multiply-accumulates counted by hand: 3x3 convolutions block by block, the side halved after each
    block, then the head's two dense layers."""
    macs, cin = 0, 1
    for block, n in enumerate(convs):
        cout = width * 2 ** block
        for _ in range(n):
            macs += side * side * 9 * cin * cout
            cin = cout
        side //= 2
    return macs + cin * 256 + 256 * 7


def test_compute_follows_the_resizing_layer():
    """The class network resizes its 40x40 crop to 32x32 before the first convolution: every conv layer works on
    36 % fewer pixels, and count_macs and compare_models say so."""
    from emolib.models import build_emonet, compare_models, count_macs

    small = build_emonet(width=24, size=32)
    assert count_macs(small) == vgg_macs(32, 24)
    assert count_macs(build_emonet(width=24)) == vgg_macs(40, 24)
    assert count_macs(small) < count_macs(build_emonet(width=24)) / 1.5
    assert compare_models({"class": small}).loc["class", "input seen (pixels)"] == "32x32"


def test_params_by_part_and_compare_models(models):
    from emolib.models import compare_models, params_by_part

    for arch, model in models.items():
        parts = params_by_part(model)
        assert parts.sum() == model.count_params(), arch
        assert [p for p in parts.index if p.startswith("block")] == ["block1", "block2", "block3", "block4"]
    assert params_by_part(models["seed"])["fc"] == 723_968  # two dense layers with their batch norms
    table = compare_models({"seed CNN": models["seed"], "emonet": models["emonet"]})
    assert list(table.index) == ["seed CNN", "emonet"]
    assert table.loc["seed CNN", "input seen (pixels)"] == "48x48"
    assert table.loc["emonet", "input seen (pixels)"] == "40x40"  # the central crop inside the augmentation block
    assert table.loc["emonet", "MACs per face (M)"] == 81.6
    assert table.loc["seed CNN", "parameters (M)"] == round(models["seed"].count_params() / 1e6, 2)


# --------------------------------------------------------------------------- notebook 02's layer-by-layer seed CNN
def notebook_02_seed_cell() -> str:
    """The code cell of notebook 02 that builds the seed CNN with keras.layers."""
    import nbformat

    path = Path(__file__).resolve().parent.parent / "notebooks" / "02_building_the_model.ipynb"
    cells = [c for c in nbformat.read(path, as_version=4).cells
             if c.cell_type == "code" and "my_seed_cnn = keras.Model(" in c.source]
    assert len(cells) == 1, "notebook 02 should build my_seed_cnn in exactly one cell"
    return cells[0].source


def run_seed_cell(source: str) -> keras.Model:
    namespace = {"keras": keras, "layers": keras.layers}  # what the notebook imports before the cell
    exec(compile(source, "notebook 02", "exec"), namespace)
    return namespace["my_seed_cnn"]


def test_notebook_02_builds_the_seed_cnn_of_build_seed_cnn(models):
    mine = run_seed_cell(notebook_02_seed_cell())
    assert architecture_differences(mine, models["seed"]) == []
    assert mine.count_params() == models["seed"].count_params()


def test_architecture_differences_names_what_changed(models):
    narrower = run_seed_cell(notebook_02_seed_cell().replace("(64, 128, 256, 256)", "(32, 128, 256, 256)"))
    diffs = architecture_differences(narrower, models["seed"])
    assert diffs[0].startswith("layer 6: Conv2D (None, 48, 48, 32) with 288 parameters, expected Conv2D")
    assert diffs[-1] == f"total: {narrower.count_params()} parameters, expected {models['seed'].count_params()}"
    no_dropout = run_seed_cell(notebook_02_seed_cell().replace("    x = layers.Dropout(0.25)(x)\n", ""))
    assert any("layers, expected" in d for d in architecture_differences(no_dropout, models["seed"]))
    assert architecture_differences(models["emonet"], models["seed"]), "emonet is not the seed CNN"
