"""Model builders. Every model takes raw grayscale pixels, shape (48, 48, 1), values 0..255.

Rescaling and training-time augmentation are layers inside the model, so a saved
model needs no outside preprocessing and augmentation is inactive at inference.

Example
-------
>>> from emolib.models import build_model
>>> model = build_model("emonet")              # doctest: +SKIP
>>> model.input_shape, model.output_shape       # doctest: +SKIP
((None, 48, 48, 1), (None, 7))
"""
from __future__ import annotations

import os
from typing import Callable

# before TensorFlow loads: its C++ start-up notices (oneDNN, CPU features) stay out of notebooks and logs;
# set TF_CPP_MIN_LOG_LEVEL=0 yourself to see them
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

import keras  # noqa: E402
from keras import layers  # noqa: E402

from .data import CLASS_NAMES, IMAGE_SIZE  # noqa: E402
from .settings import check  # noqa: E402

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
NUM_CLASSES = len(CLASS_NAMES)


def augmentation(kind: str = "seed", seed: int = 0) -> keras.Sequential:
    """Training-time augmentation as Keras preprocessing layers (random parts inactive at inference).

    ``"seed"`` copies the seed project's ImageDataGenerator: horizontal flip,
    +-10 degree rotation, 10 % zoom and 10 % shifts at the full 48x48 size.
    ``"crop40"`` is ours: horizontal flip, +-10 degree rotation, 10 % zoom and a
    random 40x40 crop, built as a +-4 pixel random shift followed by a
    central 40x40 crop, so that at inference (no shift) the model sees the
    central 40x40 of the face, exactly the crop it was trained on on average.
    ``"crop40-erase"`` adds random erasing to ``"crop40"``: about half the crops
    get a mid-grey rectangle over up to ~30 % of the face (Zhong et al., 2017),
    so the network cannot rely on one region (the mouth, say) alone.

    >>> augmentation("crop40").name
    'augment_crop40'
    """
    common = [
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(10 / 360, fill_mode="reflect", seed=seed + 1),
        layers.RandomZoom(0.1, fill_mode="reflect", seed=seed + 2),
    ]
    if kind == "seed":
        extra = [layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed + 3)]
    elif kind in ("crop40", "crop40-erase"):
        extra = [
            layers.RandomTranslation(4 / IMAGE_SIZE, 4 / IMAGE_SIZE, fill_mode="reflect", seed=seed + 3),
            layers.CenterCrop(40, 40),
        ]
        if kind == "crop40-erase":  # pixels are in 0..1 here, after the model's Rescaling
            extra.append(layers.RandomErasing(factor=1.0, fill_value=0.5, value_range=(0, 1), seed=seed + 4))
    elif kind == "none":
        return keras.Sequential([], name="augment_none")
    else:
        raise ValueError(f"unknown augmentation {kind!r}; choose 'seed', 'crop40', 'crop40-erase' or 'none'")
    return keras.Sequential(common + extra, name=f"augment_{kind}")


def _conv_bn_relu(x, filters: int, name: str):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _vgg_blocks(x, filters: tuple[int, ...], convs: int | tuple[int, ...], dropout: float):
    per_block = (convs,) * len(filters) if isinstance(convs, int) else tuple(convs)
    for b, (f, n) in enumerate(zip(filters, per_block), start=1):
        for c in range(1, n + 1):
            x = _conv_bn_relu(x, f, f"block{b}_{c}")
        x = layers.MaxPooling2D(2, strides=2, name=f"block{b}_pool")(x)
        x = layers.Dropout(dropout, name=f"block{b}_drop")(x)
    return x


def _inputs(aug: str, seed: int):
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1 / 255.0, name="rescale")(inputs)
    x = augmentation(aug, seed)(x)
    return inputs, x


def build_seed_cnn(learning_rate: float = 1e-3, seed: int = 0) -> keras.Model:
    """The seed project's VGG-inspired CNN, as it describes it.

    4 convolution blocks of 2 conv sub-layers (3x3, ``same`` padding,
    BatchNormalization, ReLU) with 64, 128, 256 and 256 filters, each ending in
    2x2 max-pooling (stride 2) and Dropout 0.25; Flatten; fully connected layers
    of 256 and 512 units (BatchNormalization, ReLU, Dropout 0.5); softmax over 7
    classes; Adam. About 3.1 M parameters. Augmentation: the seed's
    flip/rotation/zoom/shift.

    >>> build_seed_cnn().count_params() > 3_000_000   # doctest: +SKIP
    True
    """
    keras.utils.set_random_seed(seed)
    inputs, x = _inputs("seed", seed)
    x = _vgg_blocks(x, (64, 128, 256, 256), convs=2, dropout=0.25)
    x = layers.Flatten(name="flatten")(x)
    for i, units in enumerate((256, 512), start=1):
        x = layers.Dense(units, use_bias=False, name=f"fc{i}")(x)
        x = layers.BatchNormalization(name=f"fc{i}_bn")(x)
        x = layers.ReLU(name=f"fc{i}_relu")(x)
        x = layers.Dropout(0.5, name=f"fc{i}_drop")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probs", dtype="float32")(x)  # float32 under bf16 too
    model = keras.Model(inputs, outputs, name="seed_cnn")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.CategoricalCrossentropy(),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    return model


#: emonet's optimizers and their defaults: (learning rate, weight decay).
OPTIMIZER_DEFAULTS: dict[str, tuple[float, float]] = {"adamw": (2e-3, 0.05), "sgd": (0.05, 5e-4)}


def build_emonet(
    width: int = 32, learning_rate: float | None = None, weight_decay: float | None = None,
    label_smoothing: float = 0.1, aug: str = "crop40", seed: int = 0, ema: float | None = None,
    optimizer: str = "adamw", dropout: float = 0.2, size: int = 40, convs: tuple[int, ...] = (2, 2, 2, 2),
) -> keras.Model:
    """Our CPU-friendly network: VGG-style blocks, random 40x40 crops, a global-pooling head.

    4 blocks of 2 conv layers (``width``, 2x, 4x, 8x filters: 32-64-128-256 by
    default), each with BatchNormalization and ReLU, 2x2 max-pooling and
    Dropout 0.2; GlobalAveragePooling; Dense 256 + Dropout 0.4; softmax.
    Works on 40x40 crops (a third fewer pixels than 48x48, so each step is
    cheaper): random crops in training, the central crop at inference.
    AdamW with label smoothing. About 1.2 M parameters. ``aug="crop40-erase"``
    adds random erasing to the training augmentation (see :func:`augmentation`).
    ``ema=0.999`` makes the optimizer keep an exponential moving average of the
    weights (Keras' ``use_ema``); :func:`emolib.train.train` then validates and
    saves those averaged weights. ``optimizer="sgd"`` trains with SGD, Nesterov
    momentum 0.9, instead of AdamW; ``learning_rate`` and ``weight_decay``
    default to :data:`OPTIMIZER_DEFAULTS` for the optimizer chosen.
    ``dropout`` sets the rate after each block (0.2); the head's is twice it
    (0.4), so ``dropout=0.1`` halves both.
    ``size`` resizes the 40x40 crop before the first convolution (``size=32``
    has 36 % fewer pixels, so every layer is cheaper; the class recipe uses it)
    and ``convs`` sets the number of conv layers in each of the 4 blocks
    (``(1, 2, 2, 2)`` drops the costliest, full-resolution one).

    >>> build_emonet().count_params() < 1_500_000   # doctest: +SKIP
    True
    """
    keras.utils.set_random_seed(seed)
    check("ema", ema)
    if aug not in ("crop40", "crop40-erase"):
        raise ValueError(f"emonet works on 40x40 crops: aug must be 'crop40' or 'crop40-erase', not {aug!r}")
    check("dropout", dropout)
    if optimizer not in OPTIMIZER_DEFAULTS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {sorted(OPTIMIZER_DEFAULTS)}")
    default_lr, default_wd = OPTIMIZER_DEFAULTS[optimizer]
    learning_rate = default_lr if learning_rate is None else learning_rate
    weight_decay = default_wd if weight_decay is None else weight_decay
    ema_kwargs = dict(use_ema=ema is not None, ema_momentum=ema or 0.99)
    if optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True, weight_decay=weight_decay, **ema_kwargs)
    else:
        opt = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, **ema_kwargs)
    if not 16 <= size <= 40:
        raise ValueError(f"size is the side of the crop the convolutions see, 16 to 40 pixels, not {size!r}")
    if len(convs) != 4 or min(convs) < 1:
        raise ValueError(f"convs gives the conv layers of each of the 4 blocks, at least 1 each, not {convs!r}")
    inputs, x = _inputs(aug, seed)
    if size != 40:
        x = layers.Resizing(size, size, name="resize")(x)
    x = _vgg_blocks(x, (width, 2 * width, 4 * width, 8 * width), convs=tuple(convs), dropout=dropout)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(256, activation="relu", name="fc1")(x)
    x = layers.Dropout(2 * dropout, name="fc1_drop")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probs", dtype="float32")(x)  # float32 under bf16 too
    model = keras.Model(inputs, outputs, name=f"emonet{width}")
    model.compile(
        optimizer=opt,
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    return model


def to_float32(model: keras.Model) -> keras.Model:
    """A float32 copy of a model trained under a mixed-precision policy (same weights, no optimizer).

    Mixed ``bfloat16`` training keeps its weights in float32 but computes in
    bfloat16; the copy computes in float32 everywhere, so it runs the same on
    any CPU. A model that is float32 already is returned unchanged.

    >>> m = keras.Sequential([keras.Input((4,)), layers.Dense(2, dtype="mixed_bfloat16")])
    >>> to_float32(m).layers[0].dtype_policy.name
    'float32'
    """
    import json

    config = model.get_config()
    if "bfloat16" not in json.dumps(config):
        return model

    def strip(obj):
        if isinstance(obj, dict):
            if obj.get("class_name") == "DTypePolicy":
                return "float32"
            # an InputLayer stores a plain dtype: under the mixed policy, nested ones hold "bfloat16"
            return {k: "float32" if k == "dtype" and v == "bfloat16" else strip(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    copy = model.__class__.from_config(strip(config))
    copy.set_weights(model.get_weights())
    return copy


ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {
    "seed": build_seed_cnn,
    "emonet": build_emonet,
}


def build_model(arch: str, **kwargs) -> keras.Model:
    """Build a compiled model by name (see :data:`ARCHITECTURES`).

    >>> build_model("resnet999")
    Traceback (most recent call last):
    ...
    ValueError: unknown architecture 'resnet999'; choose one of ['emonet', 'seed']
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[arch](**kwargs)


def layer_table(model: keras.Model) -> "pd.DataFrame":
    """One row per layer: name, type, output shape and parameter count (a compact ``model.summary()``).

    >>> m = keras.Sequential([keras.Input((48, 48, 1)), layers.Flatten(name="flat"), layers.Dense(7, name="out")])
    >>> layer_table(m)
       name     type  output shape  params
    0  flat  Flatten  (None, 2304)       0
    1   out    Dense     (None, 7)   16135
    """
    import pandas as pd

    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            shape = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            shape = None
        rows.append({"name": layer.name, "type": type(layer).__name__,
                     "output shape": str(shape) if shape is not None else "?", "params": layer.count_params()})
    return pd.DataFrame(rows)


def _layer_rows(model: keras.Model) -> list[tuple[str, str, int]]:
    """(type, output shape, parameters) of every layer in order, nested blocks (the augmentation) included."""
    rows = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):  # a nested block: its own layers, in order
            rows += _layer_rows(layer)
            continue
        try:
            shape = str(tuple(layer.output.shape))
        except (AttributeError, ValueError):
            shape = "?"
        rows.append((type(layer).__name__, shape, layer.count_params()))
    return rows


def architecture_differences(model: keras.Model, reference: keras.Model) -> list[str]:
    """Where ``model`` differs from ``reference``, layer by layer: type, output shape, parameter count.

    An empty list means the same architecture: the same layer types in the same order
    (inside nested blocks such as the augmentation too), with the same output shapes
    and parameter counts, and the same total. Layer names and weights are ignored.

    >>> def net(units): return keras.Sequential([keras.Input((48, 48, 1)), layers.Flatten(), layers.Dense(units)])
    >>> architecture_differences(net(7), net(7))
    []
    >>> architecture_differences(net(8), net(7))  # doctest: +NORMALIZE_WHITESPACE
    ['layer 2: Dense (None, 8) with 18440 parameters, expected Dense (None, 7) with 16135',
     'total: 18440 parameters, expected 16135']
    """
    mine, theirs = _layer_rows(model), _layer_rows(reference)
    diffs = [f"layer {i}: {a[0]} {a[1]} with {a[2]} parameters, expected {b[0]} {b[1]} with {b[2]}"
             for i, (a, b) in enumerate(zip(mine, theirs), start=1) if a != b]
    if len(mine) != len(theirs):
        diffs.append(f"{len(mine)} layers, expected {len(theirs)}")
    if model.count_params() != reference.count_params():
        diffs.append(f"total: {model.count_params()} parameters, expected {reference.count_params()}")
    return diffs


def count_macs(model: keras.Model, size: int = IMAGE_SIZE) -> int:
    """Multiply-accumulate operations for one face of ``size`` x ``size`` pixels at inference.

    Counts the Conv2D and Dense layers (the rest is negligible), following the
    spatial size through inference-time crops (``CenterCrop``, also inside the
    augmentation block), ``Resizing`` (emonet's ``size``) and the pooling layers. A measure of compute that does
    not depend on the machine.

    >>> m = keras.Sequential([keras.Input((48, 48, 1)), layers.Conv2D(8, 3, padding="same"),
    ...                       layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(7)])
    >>> count_macs(m) == 48 * 48 * 9 * 1 * 8 + 24 * 24 * 8 * 7
    True
    """
    hw = [size, size]
    macs = 0

    def walk(layer_list) -> None:
        nonlocal macs
        for layer in layer_list:
            if isinstance(layer, keras.Sequential) or (isinstance(layer, keras.Model) and layer is not model):
                walk(layer.layers)
            elif isinstance(layer, layers.CenterCrop):
                hw[0], hw[1] = min(hw[0], layer.height), min(hw[1], layer.width)
            elif isinstance(layer, layers.Resizing):
                hw[0], hw[1] = layer.height, layer.width
            elif isinstance(layer, layers.Conv2D):
                if layer.strides != (1, 1) or layer.padding != "same":
                    raise ValueError(f"count_macs handles stride-1 'same' convolutions only, not {layer.name}")
                kh, kw, cin, cout = layer.kernel.shape
                macs += hw[0] * hw[1] * kh * kw * cin * cout
            elif isinstance(layer, (layers.MaxPooling2D, layers.AveragePooling2D)):
                hw[0], hw[1] = hw[0] // layer.strides[0], hw[1] // layer.strides[1]
            elif isinstance(layer, layers.Dense):
                cin, cout = layer.kernel.shape
                macs += cin * cout

    walk(model.layers)
    return int(macs)


def params_by_part(model: keras.Model) -> "pd.Series":
    """Parameters per part of a VGG-style model: one entry per block, then the classifier head.

    Layers are grouped by the first part of their name (``block1_1_conv`` belongs
    to ``block1``); the dense layers count as ``fc``, the pooling head as ``head``.

    >>> m = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(2, 3, name="block1_1_conv"),
    ...                       layers.Flatten(name="flatten"), layers.Dense(7, name="probs")])
    >>> params_by_part(m).to_dict()
    {'block1': 20, 'head': 0, 'probs': 511}
    """
    t = layer_table(model)
    part = t["name"].str.split("_").str[0].replace({"fc2": "fc", "fc1": "fc", "gap": "head", "flatten": "head"})
    return t.groupby(part, sort=False)["params"].sum().rename(model.name)


def _pixels_seen(model: keras.Model) -> int:
    """The side of the square the network sees at inference: a ``Resizing``'s, else a ``CenterCrop``'s, else the
    input's."""
    side = IMAGE_SIZE
    for layer in model.layers:
        if isinstance(layer, keras.Model):  # a nested block, such as the augmentation
            side = min(side, _pixels_seen(layer))
        elif isinstance(layer, layers.CenterCrop):
            side = min(side, layer.height)
        elif isinstance(layer, layers.Resizing):
            side = layer.height
    return side


def compare_models(models: dict[str, keras.Model]) -> "pd.DataFrame":
    """Size and compute of several models side by side, one row each.

    Columns: parameters (M), float32 weights (MB), the pixels the network sees
    at inference (``"40x40"`` for emonet's central crop) and multiply-accumulate
    operations per face (M, :func:`count_macs`).

    >>> m = keras.Sequential([keras.Input((48, 48, 1)), layers.Flatten(), layers.Dense(7)])
    >>> t = compare_models({"linear": m})
    >>> t.loc["linear", "input seen (pixels)"], float(t.loc["linear", "parameters (M)"])
    ('48x48', 0.02)
    """
    import pandas as pd

    rows = {}
    for name, model in models.items():
        side = _pixels_seen(model)
        rows[name] = {"parameters (M)": round(model.count_params() / 1e6, 2),
                      "float32 weights (MB)": round(model.count_params() * 4 / 1e6, 1),
                      "input seen (pixels)": f"{side}x{side}",
                      "MACs per face (M)": round(count_macs(model) / 1e6, 1)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


# --------------------------------------------------------------------------- shipped model
ASSETS_DIR = __import__("pathlib").Path(__file__).resolve().parent / "assets"
PRETRAINED_PATH = ASSETS_DIR / "emonet.keras"


class ModelFileError(ValueError):
    """A model file is missing or cannot be read; the message names the file."""


def load_model_file(path: str | "os.PathLike[str]") -> keras.Model:
    """Load a saved ``.keras`` model with a clear error for a missing or corrupt file.

    >>> load_model_file("no/such/model.keras")
    Traceback (most recent call last):
    ...
    emolib.models.ModelFileError: model file not found: no/such/model.keras
    """
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        model = keras.models.load_model(p, compile=False)
    except Exception as err:  # zip, h5 and config errors all mean "not a usable model"
        raise ModelFileError(f"cannot load model file {path}: {type(err).__name__}: {err}") from None
    if tuple(model.input_shape[1:]) != INPUT_SHAPE or model.output_shape[-1] != NUM_CLASSES:
        raise ModelFileError(
            f"{path} is not an emotion model: input {model.input_shape}, output {model.output_shape}; "
            f"expected input (None, 48, 48, 1) and 7 outputs"
        )
    return model


def load_pretrained() -> keras.Model:
    """The model shipped inside emolib (see ``emolib/assets/MODEL_CARD.md``).

    It takes raw grayscale pixels (N, 48, 48, 1), 0..255, and returns 7 class
    probabilities in :data:`emolib.data.CLASS_NAMES` order.

    >>> model = load_pretrained()          # doctest: +SKIP
    >>> model.predict(faces).argmax(-1)    # doctest: +SKIP
    """
    return load_model_file(PRETRAINED_PATH)


def copy_weights(source: keras.Model, target: keras.Model) -> keras.Model:
    """Copy weights layer by layer, matched by layer name; returns ``target``.

    Used to move weights into a newer definition of the same architecture
    (augmentation layers carry no weights) and to start fine-tuning
    (:func:`emolib.train.train` with ``init_from``). A missing layer or a weight
    of another shape is a ``ValueError`` that names it.

    >>> import numpy as np
    >>> a, b = build_emonet(width=8, seed=1), build_emonet(width=8, seed=2)
    >>> bool(np.allclose(copy_weights(b, a).get_weights()[0], b.get_weights()[0]))
    True
    >>> copy_weights(build_emonet(width=16), build_emonet(width=8))
    Traceback (most recent call last):
    ...
    ValueError: cannot copy weights from emonet16: its layer block1_1_conv has weights of shapes [(3, 3, 1, 16)], this model's [(3, 3, 1, 8)] (another architecture or width?)
    """
    for layer in target.layers:
        if not layer.weights:
            continue
        try:
            theirs = source.get_layer(layer.name).get_weights()
        except ValueError:
            raise ValueError(f"cannot copy weights from {source.name}: it has no layer {layer.name!r} "
                             "(another architecture?)") from None
        mine = [tuple(w.shape) for w in layer.get_weights()]
        if [tuple(w.shape) for w in theirs] != mine:
            raise ValueError(f"cannot copy weights from {source.name}: its layer {layer.name} has weights of shapes "
                             f"{[tuple(w.shape) for w in theirs]}, this model's {mine} (another architecture or width?)")
        layer.set_weights(theirs)
    return target


def with_flip_tta(model: keras.Model) -> keras.Model:
    """Wrap ``model`` so that it averages its predictions on the face and on its mirror image.

    Test-time augmentation (TTA) inside the model, which holds an uncompiled
    copy of ``model`` (weights included): the result is a plain Keras
    model of built-in layers (the mirror is a frozen ``Dense`` layer holding a
    reversed identity matrix), so ``keras.models.load_model`` reads it without
    emolib, and raw pixels in give averaged probabilities out. The same as
    ``with_tta(model)``; :func:`with_tta` adds shifted views.

    >>> import numpy as np
    >>> m = keras.Sequential([keras.Input((48, 48, 1)), layers.Flatten(), layers.Dense(7, activation="softmax")])
    >>> tta = with_flip_tta(m)
    >>> x = np.random.default_rng(0).uniform(0, 255, (2, 48, 48, 1)).astype("float32")
    >>> expected = (m.predict(x, verbose=0) + m.predict(x[:, :, ::-1], verbose=0)) / 2
    >>> bool(np.allclose(tta.predict(x, verbose=0), expected, atol=1e-6))
    True
    """
    return with_tta(model, shifts=((0, 0),), flip=True, name=f"{model.name}_flip_tta")


def _shift(x, dy: int, dx: int, name: str):
    """Move the image content ``dy`` pixels down and ``dx`` right (zeros come in at the edges)."""
    cut = ((max(-dy, 0), max(dy, 0)), (max(-dx, 0), max(dx, 0)))  # (top, bottom), (left, right)
    x = layers.Cropping2D(cut, name=f"{name}_crop")(x)
    return layers.ZeroPadding2D((cut[0][::-1], cut[1][::-1]), name=f"{name}_pad")(x)  # put back on the other side


def with_tta(model: keras.Model, shifts: tuple[tuple[int, int], ...] = ((0, 0),), flip: bool = True,
             name: str | None = None, batched: bool = False) -> keras.Model:
    """Wrap ``model`` so that it averages its predictions over several views of each face.

    The views are the face moved by each ``(dy, dx)`` in ``shifts`` (pixels down
    and right; emonet's central 40x40 crop then sees the face a little off
    centre, like one of its random training crops), and with ``flip=True`` the
    mirror image of each. Shifts of at most 4 pixels keep the zeros that come in
    at the edges outside emonet's crop. Like :func:`with_flip_tta`, the result
    holds an uncompiled copy of ``model`` and built-in layers only (cropping,
    zero padding, a frozen mirror ``Dense``), so ``keras.models.load_model``
    reads it without emolib; :func:`without_tta` gives the network back.
    ``batched=True`` stacks the views along the batch axis and runs the network
    once on them (``keras.ops`` concatenate, reshape and mean, which plain Keras
    also reads): the same predictions from one larger call of the network, usually
    faster per face than one call per view (``benchmarks/benchmark_tta.py`` times
    the views on your machine).

    >>> import numpy as np
    >>> m = keras.Sequential([keras.Input((48, 48, 1)), layers.CenterCrop(40, 40), layers.Flatten(),
    ...                       layers.Dense(7, activation="softmax")])
    >>> tta = with_tta(m, shifts=((0, 0), (2, 0)), flip=False)
    >>> x = np.random.default_rng(0).uniform(0, 255, (2, 48, 48, 1)).astype("float32")
    >>> expected = (m.predict(x, verbose=0) + m.predict(np.roll(x, 2, axis=1), verbose=0)) / 2
    >>> bool(np.allclose(tta.predict(x, verbose=0), expected, atol=1e-6))
    True
    """
    shifts = tuple((int(dy), int(dx)) for dy, dx in shifts)
    if len(shifts) * (2 if flip else 1) < 2:
        raise ValueError("test-time augmentation needs at least 2 views: add shifts or flip=True")
    if any(abs(d) > 4 for shift in shifts for d in shift):
        raise ValueError(f"shifts must be at most 4 pixels (the border that emonet's 40x40 crop leaves), got {shifts}")
    network = type(model).from_config(model.get_config())  # uncompiled: no optimizer state in saved files
    network.set_weights(model.get_weights())
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    views = tta_views(inputs, shifts, flip)
    if batched:
        probs = network(keras.ops.concatenate(views, axis=0))  # (views * N, 7)
        mean = keras.ops.mean(keras.ops.reshape(probs, (len(views), -1, NUM_CLASSES)), axis=0)
        outputs = layers.Activation("linear", name="probs_tta")(mean)  # named, so that without_tta finds it
    else:
        outputs = layers.Average(name="probs_tta")([network(v) for v in views])
    return keras.Model(inputs, outputs, name=name or f"{model.name}_tta{len(views)}")


def tta_views(inputs, shifts: tuple[tuple[int, int], ...], flip: bool) -> list:
    """The views :func:`with_tta` averages over: ``inputs`` moved by each shift, then the same for its mirror image.

    >>> len(tta_views(keras.Input(INPUT_SHAPE), shifts=((0, 0), (2, 2)), flip=True))
    4
    """
    import numpy as np

    faces = [("", inputs)]
    if flip:
        rows = layers.Reshape((IMAGE_SIZE, IMAGE_SIZE), name="rows")(inputs)
        mirror = layers.Dense(IMAGE_SIZE, use_bias=False, trainable=False, name="mirror")
        faces.append(("mirror_", layers.Reshape(INPUT_SHAPE, name="mirrored")(mirror(rows))))
        mirror.set_weights([np.eye(IMAGE_SIZE, dtype="float32")[::-1]])
    return [face if (dy, dx) == (0, 0) else _shift(face, dy, dx, f"{prefix}shift_{dy}_{dx}".replace("-", "m"))
            for prefix, face in faces for dy, dx in shifts]


def ensemble(models: list[keras.Model], name: str = "ensemble") -> keras.Model:
    """One model that averages the probabilities of several networks (trained apart, e.g. with different seeds).

    Like :func:`with_flip_tta`, the result holds uncompiled float32 copies of the
    networks (renamed ``member_1``, ``member_2``, ...) and only built-in layers,
    so ``keras.models.load_model`` reads it without emolib; :func:`members`
    gives the networks back.

    >>> import numpy as np
    >>> def net(): return keras.Sequential([keras.Input((48, 48, 1)), layers.Flatten(), layers.Dense(7, activation="softmax")])
    >>> a, b = net(), net()
    >>> x = np.random.default_rng(0).uniform(0, 255, (2, 48, 48, 1)).astype("float32")
    >>> expected = (a.predict(x, verbose=0) + b.predict(x, verbose=0)) / 2
    >>> bool(np.allclose(ensemble([a, b]).predict(x, verbose=0), expected, atol=1e-6))
    True
    """
    if len(models) < 2:
        raise ValueError(f"an ensemble needs at least 2 models, got {len(models)}")
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    outputs = []
    for i, model in enumerate(models, start=1):
        model = to_float32(model)
        config = dict(model.get_config(), name=f"member_{i}")
        member = type(model).from_config(config)  # uncompiled: no optimizer state in saved files
        member.set_weights(model.get_weights())
        outputs.append(member(inputs))
    return keras.Model(inputs, layers.Average(name="probs_mean")(outputs), name=name)


def members(model: keras.Model) -> list[keras.Model]:
    """The networks inside an :func:`ensemble` (looking inside a :func:`with_flip_tta` wrapper); ``[model]`` otherwise.

    >>> m = keras.Sequential([keras.Input((48, 48, 1)), layers.Flatten(), layers.Dense(7)], name="net")
    >>> [n.name for n in members(with_flip_tta(ensemble([m, m])))], [n.name for n in members(m)]
    (['member_1', 'member_2'], ['net'])
    """
    model = without_tta(model)
    if "probs_mean" in {layer.name for layer in model.layers}:
        return [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return [model]


def without_tta(model: keras.Model) -> keras.Model:
    """The network inside a :func:`with_tta` or :func:`with_flip_tta` model (which sees each face once); other models as they are.

    >>> m = keras.Sequential([keras.Input((48, 48, 1)), layers.Flatten(), layers.Dense(7)], name="net")
    >>> without_tta(with_flip_tta(m)).name, without_tta(m).name
    ('net', 'net')
    """
    names = {layer.name for layer in model.layers}
    if "probs_tta" in names:
        return next(layer for layer in model.layers if isinstance(layer, keras.Model))
    return model


def export_for_inference(model: keras.Model, path: str | "os.PathLike[str]") -> int:
    """Save ``model`` in float32 without optimizer state (a third of the size); returns the file size in bytes."""
    import os

    clone = to_float32(model)  # a network trained in mixed bfloat16 is shipped computing in float32 (a new copy)
    if clone is model:
        clone = keras.Model.from_config(model.get_config())  # uncompiled: no optimizer state
        clone.set_weights(model.get_weights())
    clone.save(path)
    return os.path.getsize(path)


def export_litert(model: keras.Model, path: str | "os.PathLike[str]", quantize: bool = False) -> int:
    """Save ``model`` as a LiteRT (``.tflite``) file for fast inference; returns its size in bytes.

    Any batch size; :class:`emolib.predict.LiteRTModel` runs it with the
    ``ai-edge-litert`` package, without TensorFlow. Float32 by default: the
    Keras model's probabilities to about 1e-6. ``quantize=True`` stores the
    weights as 8-bit integers and quantizes activations on the fly (LiteRT's
    dynamic-range quantization, no calibration data): a quarter of the size, and
    faster on CPUs with fast 8-bit arithmetic (``benchmarks/benchmark_quantization.py``
    measures both copies on yours). Probabilities then differ slightly from the
    float32 model's, so check the accuracy of a quantized file (the shipped copy's
    figures are in its model card).

    >>> export_litert(build_emonet(width=8), "emonet8.tflite", quantize=True) > 0   # doctest: +SKIP
    True
    """
    import os

    from .faces import quiet_native_stderr

    options = {}
    if quantize:
        import tensorflow as tf

        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    with quiet_native_stderr():  # the converter's C++ log lines; Python errors still surface
        model.export(str(path), format="litert", verbose=False, **options)
    return os.path.getsize(path)
