"""The automatic checks of the exercises catch wrong answers, not only the stub.

test_student.py shows that each notebook's first check fails on the student's stub and passes with the solution.
Here a check cell runs, hidden tests included, against the instructor's solution (it must pass) and against
plausible wrong answers (each must stop at the assert meant for it, with an AssertionError); and every assert of
the check is the one meant for at least one wrong answer, so none of them is dead weight. No training, no data:
the models are built and called on random pixels.
"""
from __future__ import annotations

import sys
import traceback
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest
from keras import layers

from emolib.models import build_emonet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_student import REPO, role  # noqa: E402


def cell_source(notebook: str, grade_id: str) -> str:
    """The source of the nbgrader cell ``grade_id`` of ``notebooks/<notebook>``, as committed (instructor version)."""
    cells = [c for c in nbformat.read(REPO / "notebooks" / notebook, as_version=4).cells
             if role(c) and c.metadata["nbgrader"]["grade_id"] == grade_id]
    assert len(cells) == 1, f"{notebook}: {len(cells)} cells with grade_id {grade_id}"
    return cells[0].source


def failing_assert(check: str, namespace: dict, filename: str) -> str | None:
    """Run ``check`` in ``namespace``: the line of the assert that fails, or None when every assert holds.

    Any other error than an AssertionError propagates: a check must fail by its asserts."""
    try:
        exec(compile(check, filename, "exec"), namespace)
    except AssertionError as err:
        line = [frame.lineno for frame in traceback.extract_tb(err.__traceback__) if frame.filename == filename][-1]
        return check.splitlines()[line - 1].strip()
    return None


def assert_lines(check: str) -> list[str]:
    return [line.strip() for line in check.splitlines() if line.strip().startswith("assert ")]


# --------------------------------------------------------------------------- notebook 02, exercise 4: build_my_cnn()
NB02 = "02_building_the_model.ipynb"
NB02_CHECK = "<nb02-ex4-check>"


def small_cnn(*, rescale=True, channels=1, convs=3, batchnorm=True, relu=True, pool=True, dropout=True, dense=0,
              classes=7, activation="softmax", compiled=True, loss="categorical_crossentropy",
              metrics=("accuracy",)) -> keras.Model:
    """A right answer to exercise 4 by default; each argument makes one plausible mistake."""
    inputs = keras.Input((48, 48, channels))
    x = layers.Rescaling(1 / 255)(inputs) if rescale else inputs
    for filters in (32, 64, 128)[:convs]:
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x) if batchnorm else x
        x = layers.ReLU()(x) if relu else x
        x = layers.MaxPooling2D(2)(x) if pool else x
        x = layers.Dropout(0.25)(x) if dropout else x
    x = layers.Dense(dense, activation="relu")(layers.Flatten()(x)) if dense else layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(classes, activation=activation)(x), name="my_cnn")
    if compiled:
        model.compile(optimizer="adam", loss=loss, metrics=list(metrics))
    return model


# (what the student did, their build_my_cnn, a piece of the assert that must stop it)
NB02_WRONG_ANSWERS = [
    ("forgot `return model`", lambda: None, "isinstance(my_cnn, keras.Model)"),
    ("RGB input, (48, 48, 3)", lambda: small_cnn(channels=3), "my_cnn.input_shape"),
    ("10 classes, as for MNIST", lambda: small_cnn(classes=10), "my_cnn.output_shape"),
    ("no Rescaling: raw 0..255 pixels into the convolutions", lambda: small_cnn(rescale=False), "layers.Rescaling"),
    ("a single convolution", lambda: small_cnn(convs=1), "layers.Conv2D"),
    ("no batch normalisation", lambda: small_cnn(batchnorm=False), "layers.BatchNormalization"),
    ("Flatten + Dense(512): 2.5 million parameters", lambda: small_cnn(dense=512), "n_params <= 2_000_000"),
    ("two small convolutions: 20,000 parameters", lambda: small_cnn(convs=2), "n_params <= 2_000_000"),
    ("not compiled", lambda: small_cnn(compiled=False), "assert compiled"),
    ("no pooling between the convolutions", lambda: small_cnn(pool=False), "layers.MaxPooling2D"),
    ("no dropout", lambda: small_cnn(dropout=False), "layers.Dropout"),
    ("7 scores, no softmax", lambda: small_cnn(activation=None), "noise_probs.sum"),
    ("7 sigmoids, not a softmax", lambda: small_cnn(activation="sigmoid"), "noise_probs.sum"),
    ("emolib's emonet instead of one's own", lambda: build_emonet(width=16), "my_cnn.name"),
    ("no ReLU after the convolutions", lambda: small_cnn(relu=False), "_relus(my_cnn)"),
    ('loss="mse", the loss of a regression', lambda: small_cnn(loss="mse"), "_loss_value is not None"),
    ("from_logits=True on probabilities", lambda: small_cnn(loss=keras.losses.CategoricalCrossentropy(from_logits=True)),
     "_loss_value is not None"),
    ("the sparse loss, for integer labels", lambda: small_cnn(loss="sparse_categorical_crossentropy"), "_loss_value is not None"),
    ("no metric", lambda: small_cnn(metrics=()), '"acc" in name'),
    ("the mean squared error as its metric", lambda: small_cnn(metrics=("mse",)), '"acc" in name'),
]

#: right answers that the statement allows, written differently from the solution
NB02_OTHER_RIGHT_ANSWERS = {
    "loss and metric as objects": lambda: small_cnn(loss=keras.losses.CategoricalCrossentropy(),
                                                    metrics=(keras.metrics.CategoricalAccuracy(),)),
    "label smoothing": lambda: small_cnn(loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1)),
    "the loss as a function": lambda: small_cnn(loss=keras.losses.categorical_crossentropy, metrics=("acc",)),
    "ReLU inside the convolution": lambda: relu_in_conv_cnn(),
}


def relu_in_conv_cnn() -> keras.Model:
    """Exercise 4 with Conv2D(activation="relu") before the batch normalisation, and a Sequential model."""
    model = keras.Sequential([keras.Input((48, 48, 1)), layers.Rescaling(1 / 255)], name="my_cnn")
    for filters in (32, 64, 128):
        model.add(layers.Conv2D(filters, 3, padding="same", activation="relu"))
        model.add(layers.BatchNormalization())
        model.add(layers.MaxPooling2D(2))
        model.add(layers.Dropout(0.25))
    model.add(layers.GlobalAveragePooling2D())
    model.add(layers.Dense(7, activation="softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def nb02_check() -> str:
    check = cell_source(NB02, "nb02-ex4-check")
    assert "### BEGIN HIDDEN TESTS" in check and "### END HIDDEN TESTS" in check
    return check


def nb02_namespace(**names) -> dict:
    return {"np": np, "keras": keras, "layers": layers, **names}  # what notebook 02 imports before the exercise


def test_nb02_ex4_check_passes_the_solution(nb02_check):
    namespace = nb02_namespace()
    exec(compile(cell_source(NB02, "nb02-ex4"), "<nb02-ex4>", "exec"), namespace)
    assert failing_assert(nb02_check, namespace, NB02_CHECK) is None
    assert namespace["n_params"] == namespace["my_cnn"].count_params() == 94_247


def test_nb02_ex4_check_passes_the_right_answer_the_wrong_ones_are_made_of(nb02_check):
    assert failing_assert(nb02_check, nb02_namespace(build_my_cnn=small_cnn), NB02_CHECK) is None


@pytest.mark.parametrize("build", NB02_OTHER_RIGHT_ANSWERS.values(), ids=NB02_OTHER_RIGHT_ANSWERS)
def test_nb02_ex4_check_passes_other_right_answers(nb02_check, build):
    assert failing_assert(nb02_check, nb02_namespace(build_my_cnn=build), NB02_CHECK) is None


@pytest.mark.parametrize("build, expected", [(build, expected) for _, build, expected in NB02_WRONG_ANSWERS],
                         ids=[mistake for mistake, _, _ in NB02_WRONG_ANSWERS])
def test_nb02_ex4_check_fails_a_wrong_answer_at_its_assert(nb02_check, build, expected):
    failed = failing_assert(nb02_check, nb02_namespace(build_my_cnn=build), NB02_CHECK)
    assert failed is not None, "the check passes a wrong answer"
    assert expected in failed, f"stopped by the wrong assert: {failed}"


def test_nb02_ex4_every_assert_of_the_check_stops_a_wrong_answer(nb02_check):
    asserts = assert_lines(nb02_check)
    hidden = assert_lines(nb02_check.split("### BEGIN HIDDEN TESTS")[1])
    assert len(asserts) >= 10 and len(hidden) >= 3, asserts
    for line in asserts:
        assert any(expected in line for _, _, expected in NB02_WRONG_ANSWERS), f"no wrong answer fails at: {line}"
    for _, _, expected in NB02_WRONG_ANSWERS:
        assert sum(expected in line for line in asserts) == 1, f"{expected!r} names no single assert"
