"""Grading the course with nbgrader: its whole loop end to end, checks that fail on wrong answers, points.

* ``test_nbgrader_loop_end_to_end`` runs tools/grade_demo.py (``make grade-demo``): nbgrader's
  generate_assignment, autograde, generate_feedback and export on every notebook, for two simulated
  submissions. The instructor's solutions must get every automatic point, the untouched student version none.
* ``test_check_fails_on_a_wrong_answer`` runs each instructor notebook once in a kernel; after each check cell
  has passed on the solution, it runs the check's source again in a copy of the kernel's namespace holding a
  plausible wrong answer (:data:`WRONG`, two or more per check), and expects it to fail. The wrong answer also becomes
  the last entry of the copy's ``In``, as if the student had run it, for the checks that read how a value was computed.
  The kernel's own state is not touched.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest

from tests.conftest import require

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("0*.ipynb"))
TEACHING = REPO / "docs" / "TEACHING.md"
TIMES = REPO / "benchmarks" / "results" / "grading_times.json"
NEEDS_DATA = re.compile(r"^0[1-4]_")


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


grade_demo = _load("grade_demo")


def grade_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.metadata.get("nbgrader", {}).get("grade")]


#: notebook 02, exercise 4: the solution's network, compiled with one mistake
_NB02_MY_CNN = """def build_my_cnn():  # {what}
    inputs = keras.Input((48, 48, 1))
    x = layers.Rescaling(1 / 255)(inputs)
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.MaxPooling2D(2)(layers.ReLU()(layers.BatchNormalization()(x)))
        x = layers.Dropout(0.25)(x)
    model = keras.Model(inputs, layers.Dense(7, activation="softmax")(layers.GlobalAveragePooling2D()(x)), name="my_cnn")
    model.compile(optimizer="adam", loss={loss}, metrics={metrics})
    return model"""
#: notebook 03, exercise 2: a fit of 3 short epochs (256 faces, so that each wrong answer costs seconds) with one mistake
_NB03_CALLBACKS = ("[keras.callbacks.EarlyStopping(monitor='val_accuracy', patience=3, restore_best_weights=True), "
                   "keras.callbacks.ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=2)]")
_NB03_FIT = ("# {what}\ntrain_ds = make_pipeline(stratified_subset(fer.train, 256, seed=0), batch_size=32, training=True)\n"
             "model = build_emonet(**dict(RECIPES['class']['model_kwargs'], width=16))\n"
             "model.compile(optimizer={optimizer}, loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), "
             "metrics=['accuracy'])\n"
             "history = model.fit(train_ds, validation_data=val_ds, epochs=3, callbacks={callbacks}, shuffle=False, "
             "verbose=0)")


#: grade_id of a check -> plausible wrong answers, each Python run after the solution, in a copy of the namespace.
#: At least two per check, the wrong answers that issue 38 names among them.
WRONG: dict[str, list[str]] = {
    "nb01-ex2-check": ['brightest = "happy"  # the most common emotion, not the brightest',
                       "brightest = min(mean_brightness, key=mean_brightness.get)  # the darkest"],
    "nb01-ex3-check": ["leaked_per_class = leaked_per_class / np.bincount(fer.test.labels, minlength=7)  # shares, not counts",
                       "leaked_per_class = np.bincount(fer.test.labels, minlength=7)  # every test image, leaked or not"],
    "nb02-ex1-check": ["fc2_params = 256 * 512 + 512  # a bias counted where BatchNormalization follows",
                       'fc2_params = seed_cnn.get_layer("fc2").count_params()  # read from Keras',
                       'kernel = seed_cnn.get_layer("block3_2_conv").kernel\n'
                       "block3_2_conv_params = int(np.prod(kernel.shape))  # the kernel's shape, read from Keras"],
    "nb02-ex2-check": ["flatten_size_40 = 3 * 3 * 256  # the 48x48 length", "flatten_size_40 = 40 * 40 * 256  # no pooling",
                       "flatten_size_40 = 2 * 2 * 128  # the wrong number of filters"],
    "nb02-ex3-check": ["params = {w: build_emonet(width=32).count_params() for w in (16, 32, 64)}  # one width only",
                       "macs = {w: count_macs(build_emonet(width=32)) for w in (16, 32, 64)}  # one width only"],
    "nb02-ex4-check": ["""def build_my_cnn():  # no batch normalisation, far too small
    inputs = keras.Input((48, 48, 1))
    x = layers.Rescaling(1 / 255)(inputs)
    for filters in (32, 64):
        x = layers.MaxPooling2D()(layers.Conv2D(filters, 3, activation="relu")(x))
    model = keras.Model(inputs, layers.Dense(7, activation="softmax")(layers.GlobalAveragePooling2D()(x)))
    model.compile("adam", "categorical_crossentropy")
    return model""",
                       _NB02_MY_CNN.format(what="the loss of a regression", loss='"mse"', metrics='["accuracy"]'),
                       _NB02_MY_CNN.format(what="no metric", loss='"categorical_crossentropy"', metrics="[]")],
    "nb03-ex1-check": ["""def make_pipeline(split, batch_size=64, training=False, seed=0):  # never shuffled nor augmented
    images, labels = split.images[..., None], tf.one_hot(split.labels, 7)
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size)""",
                       """def make_pipeline(split, batch_size=64, training=False, seed=0):  # the validation faces augmented too
    ds = tf.data.Dataset.from_tensor_slices((split.images[..., None], keras.utils.to_categorical(split.labels, 7)))
    ds = ds.shuffle(len(split.images), seed=seed) if training else ds
    return ds.batch(batch_size).map(lambda x, y: (tf.image.random_flip_left_right(x, seed=seed), y))"""],
    "nb03-ex2-check": ["history = keras.callbacks.History()\nhistory.history = {'accuracy': [0.3]}  # fit without validation data",
                       _NB03_FIT.format(optimizer='"adamw"', callbacks=_NB03_CALLBACKS, what="AdamW's default weight decay"),
                       _NB03_FIT.format(optimizer="keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=0.05)",
                                        callbacks="[keras.callbacks.ReduceLROnPlateau(monitor='val_loss', factor=0.5, patience=2)]",
                                        what="no EarlyStopping"),
                       _NB03_FIT.format(optimizer="keras.optimizers.AdamW(learning_rate=1e-2, weight_decay=0.05)",
                                        callbacks=_NB03_CALLBACKS, what="learning rate 1e-2")],
    "nb03-ex3-check": ["epochs_before_resume = [0, 1, 2]  # the first call was never interrupted",
                       'RESUME_DIR = WORK / "resume_once"\ntrain("emonet", tiny, RESUME_DIR, **settings)\n'
                       "epochs_before_resume = [0, 1]  # hard-coded: the run was never interrupted",
                       'RESUME_DIR = WORK / "resume_half"\ntry:\n'
                       '    train("emonet", tiny, RESUME_DIR, callbacks=[StopInThirdEpoch()], **settings)\n'
                       "except KeyboardInterrupt:\n    pass\n"
                       "epochs_before_resume = [0, 1]  # interrupted, never resumed"],
    "nb03-ex4-check": ['better_schedule = "plateau"  # the wrong one',
                       'WORK = Path(tempfile.mkdtemp())\n(WORK / "plateau").mkdir()\n'
                       '(WORK / "plateau" / "config.json").write_text(json.dumps({"schedule": "cosine"}))  # not trained'],
    "nb03-ex5-check": ["recall_gain = -recall_gain  # cosine minus class_weight",
                       "WORK = Path(tempfile.mkdtemp())\n(WORK / 'weighted').mkdir()\n"
                       "(WORK / 'weighted' / 'config.json').write_text(json.dumps({'class_weight': False}))  # no weights"],
    "nb03-ex6-check": ["data_gain = 100 * data_gain  # points, not a fraction", "data_gain = -data_gain  # quarter minus all",
                       'data_gain = means["cosine"] - means["quarter"]  # fewer steps too: two things changed at once',
                       "steps_gain = -steps_gain  # quarter minus quarter_same_steps",
                       'WORK = Path(tempfile.mkdtemp())\n(WORK / "less").mkdir()\n'
                       '(WORK / "less" / "result.json").write_text(json.dumps({"train_images": len(DATA.train)}))'
                       "  # all the faces"],
    "nb03-ex7-check": ["first_500_accuracy = precise[0]  # a random sample's accuracy",
                       "first_500_accuracy = 100 * first_500_accuracy  # percent"],
    "nb04-ex1-check": ['gap = result.accuracy - shipped["public_test"]  # a fraction, not points', "se = se / 100  # a fraction, not points"],
    "nb04-ex2-check": ["accuracy_kept = np.array([correct.mean() for t in thresholds])  # on every face",
                       "accuracy_kept = accuracy_kept[::-1]  # thresholds in the wrong order"],
    "nb04-ex3-check": ['my_table = comparison_table(recorded.to_dict("records") + mine[:2])  # no class-recipe row',
                       "class_run = one_view  # the shipped network's result",
                       'class_net = network  # the shipped network, not the class recipe\'s\n'
                       "class_run = evaluate(class_net, fer.test)\n"
                       'my_table = comparison_table(recorded.to_dict("records") + mine[:2]\n'
                       '                            + [dict(mine[2], params=class_net.count_params(), private_test=class_run.accuracy)])'],
    "nb04-ex4-check": ["acc_plain_disagree = float(np.mean(plain == fer.test.labels))  # on every face",
                       "acc_plain_disagree = 100 * acc_plain_disagree  # percent"],
    "nb04-ex5-check": ["acc10, acc6 = 100 * acc10, 100 * acc6  # percent",
                       "acc6 = 1 - acc6  # the error rate"],
    "nb05-ex1-check": ["my_photo = load_image(photo_path)[..., 0]  # grey", "found = detect_faces(my_photo)  # boxes, no labels",
                       "loose = found  # the default threshold's faces",
                       "loose = detect_faces(my_photo)  # the default threshold, min_score=0.5",
                       "loose = detect_faces(my_photo[::2, ::2], min_score=0.3)  # a smaller copy of the photo"],
    "nb05-ex2-check": ["framing = np.stack([classify_faces(crop_face(rgb, box, scale=1.18)[None], model)[0]] * 3)  # one crop",
                       "framing = classify_faces(np.stack([crop_face(rgb, box)] * 3), model)  # the default crop three times"],
    "nb05-ex3-check": ["mirror_diff = 0.0  # the photo against itself", "mirror_diff = 100 * mirror_diff  # percent"],
    "nb05-ex4-check": ["sal_corr = float(np.corrcoef(sal_predicted.ravel(), sal_predicted.ravel())[0, 1])  # one map",
                       "sal_corr = float(np.corrcoef(sal_predicted, sal_other)[0, 1])  # two rows of one map, not the maps"],
    "nb05-ex5-check": ["other_results = results  # the same model",
                       "from emolib.models import build_emonet\nother_model = build_emonet()  # untrained\n"
                       "other_results = {name: predict_image(rgb, other_model) for name, rgb in photos.items()}",
                       "other_results = {name: predict_image(rgb) for name, rgb in photos.items()}  # model= forgotten"],
    "nb05-ex6-check": ["size_float, size_int8 = size_int8, size_float  # swapped",
                       "size_float, size_int8 = size_float / 1e6, size_int8 / 1e6  # megabytes, not bytes",
                       "p_int8 = p_float  # the float32 file twice"],
}


#: grade_id of a check -> right answers that the exercise's text allows, written otherwise than the solution; each is
#: run like a wrong answer and must pass.
RIGHT: dict[str, list[str]] = {
    "nb02-ex1-check": ["k, c_in, c_out = 3, 256, 256\nblock3_2_conv_params = k * k * c_in * c_out  # named factors"],
    "nb04-ex3-check": ["from emolib.train import load_class_network\nclass_net = load_class_network()  # with its mirror view\n"
                       "class_run = evaluate(class_net, fer.test)\n"
                       'my_table = comparison_table(recorded.to_dict("records") + mine[:2]\n'
                       '                            + [dict(mine[2], private_test=class_run.accuracy)])'],
    "nb05-ex1-check": ['loose = detect_faces(my_photo, "full", 0.3)  # min_score given by position'],
    "nb05-ex5-check": ["from emolib.train import load_class_network\nother_model = load_class_network()  # the class network\n"
                       "other_results = {name: predict_image(rgb, other_model) for name, rgb in photos.items()}"],
}


# --------------------------------------------------------------------------- fast: points and the documented cost
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_points_are_weighted_by_difficulty(path):
    cells = grade_cells(path)
    points = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"].get("points") for c in cells}
    assert all(isinstance(p, (int, float)) and p > 0 for p in points.values()), points
    assert len(set(points.values())) > 1, f"{path.name}: every graded cell is worth the same: {points}"


def test_every_check_has_at_least_two_wrong_answers():
    """Each autograded check of every notebook is tried on two plausible wrong answers or more (issue 38)."""
    checks = {c.metadata["nbgrader"]["grade_id"] for path in NOTEBOOKS for c in grade_cells(path) if c.cell_type == "code"}
    assert checks <= set(WRONG), f"checks without wrong answers: {sorted(checks - set(WRONG))}"
    assert not set(WRONG) - checks, f"wrong answers for no check: {sorted(set(WRONG) - checks)}"
    few = {g: len(WRONG[g]) for g in checks if len(WRONG[g]) < 2}
    assert not few, f"checks with fewer than two wrong answers: {few}"


def test_nbgrader_config_sets_the_timeout_the_course_and_passes_the_data_path(monkeypatch):
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("EMOLIB_DATA", "/srv/fer2013")
    monkeypatch.setenv("EMOLIB_TRAIN", "1")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO / "tools" / "nbgrader")).load_config()
    assert config.CourseDirectory.course_id == "emojimation"
    assert config.Execute.timeout >= 600, "notebook 03's cells take minutes on a slow CPU"
    assert os.environ["EMOLIB_DATA"] == "/srv/fer2013" and "EMOLIB_TRAIN" not in os.environ


def test_teaching_states_the_measured_grading_time():
    """TEACHING's figures for grading come from benchmarks/results/grading_times.json."""
    times = json.loads(TIMES.read_text())
    text = TEACHING.read_text()
    one = sum(times["autograde_seconds"]["solutions"].values()) / 60
    assert f"{one:.0f} min" in text, f"TEACHING should state autograding one submission: {one:.0f} min"
    assert f"{30 * one / 60:.1f} h" in text, f"TEACHING should state a class of 30: {30 * one / 60:.1f} h"
    assert times["machine"] in text


def test_solved_submission_fills_every_solution_cell():
    instructor = nbformat.read(NOTEBOOKS[0], as_version=4)
    released = _load("make_student").student_version(instructor)
    solved = grade_demo.solved(released, instructor)
    for cell in solved.cells:
        assert "NotImplementedError" not in cell.source and "YOUR ANSWER HERE" not in cell.source
        assert "### BEGIN SOLUTION" not in cell.source


# --------------------------------------------------------------------------- slow: nbgrader's loop, wrong answers
def _needs_data():
    from emolib.data import DataError, find_data

    try:
        find_data()
    except DataError as err:
        require(False, f"grading needs FER2013: {err}")


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.real_data
def test_nbgrader_loop_end_to_end(tmp_path):
    """Full automatic marks for the solutions, none for the untouched student version, on every autograded cell;
    feedback and grades.csv written. About 6 minutes on the 2-core AVX-512 machine (grading_times.json)."""
    _needs_data()
    start = time.perf_counter()
    summary = grade_demo.run(tmp_path / "course", [p.stem for p in NOTEBOOKS])
    print(grade_demo.report(summary))
    print(f"the whole loop: {time.perf_counter() - start:.0f} s")
    for path in NOTEBOOKS:
        by_student = summary["scores"][path.stem]
        expected = {c.metadata["nbgrader"]["grade_id"] for c in grade_cells(path) if c.cell_type == "code"}
        assert set(by_student["solutions"]) == expected
        for grade_id, (score, max_score) in by_student["solutions"].items():
            assert score == max_score > 0, f"the instructor's solution gets {score} of {max_score} on {grade_id}"
        for grade_id, (score, max_score) in by_student["untouched"].items():
            assert score == 0, f"the untouched student version gets {score} of {max_score} on {grade_id}"
        feedback = tmp_path / "course" / "feedback" / "solutions" / path.stem / f"{path.stem}.html"
        assert feedback.is_file()
    grades = (tmp_path / "course" / "grades.csv").read_text().splitlines()
    assert len(grades) == 1 + 2 * len(NOTEBOOKS), grades


def _probe(check_source: str, wrong: str) -> str:
    """Kernel code: the check's source in a copy of the namespace after ``wrong``; prints PASSED or FAILED."""
    # IPython keeps the source of every cell run in `In`: the wrong answer is the last one, as if the student ran it
    return (f"_ns = dict(globals())\n_ns['In'] = list(_ns.get('In', [])) + [{wrong!r}]\nexec({wrong!r}, _ns)\n"
            f"try:\n    exec({check_source!r}, _ns)\n"
            "except Exception as _err:\n    print('FAILED', type(_err).__name__, str(_err)[:200])\n"
            "else:\n    print('PASSED')\ndel _ns")


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("name", [pytest.param(p.name, marks=pytest.mark.real_data if NEEDS_DATA.match(p.name) else ())
                                  for p in NOTEBOOKS])
def test_check_fails_on_a_wrong_answer(name):
    """Every autograded check of the notebook fails on each of its plausible wrong answers and passes its right ones."""
    if NEEDS_DATA.match(name):
        _needs_data()
    from nbclient import NotebookClient

    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    checks = [c.metadata["nbgrader"]["grade_id"] for c in grade_cells(REPO / "notebooks" / name) if c.cell_type == "code"]
    missing = [g for g in checks if g not in WRONG]
    if missing:
        pytest.xfail(f"no wrong answers written yet for {missing}")
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO / "notebooks")}})
    outcomes = {}
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or "nbval-skip" in cell.metadata.get("tags", []):
                continue
            client.execute_cell(cell, i)  # raises if the instructor's solution fails
            meta = cell.metadata.get("nbgrader", {})
            answers = [*WRONG.get(meta.get("grade_id"), []), *RIGHT.get(meta.get("grade_id"), [])]
            for k, wrong in enumerate(answers if meta.get("grade") else []):
                grade_id = meta["grade_id"]
                probe = nbformat.v4.new_code_cell(_probe(cell.source, wrong))
                client.execute_cell(probe, i)
                text = "".join(o.get("text", "") for o in probe.outputs)  # TensorFlow may warn first
                outcomes[(grade_id, k, wrong.splitlines()[0])] = re.findall(r"^(?:PASSED|FAILED).*", text, re.M)[-1]
    for (grade_id, _, first_line), outcome in outcomes.items():  # with -s: what stopped each wrong answer
        print(f"{grade_id}: {first_line[:70]} -> {outcome[:160]}")
    passed = {k: v for k, v in outcomes.items() if k[1] < len(WRONG[k[0]]) and not v.startswith("FAILED")}
    assert not passed, f"checks that accept a wrong answer: {passed}"
    refused = {k: v for k, v in outcomes.items() if k[1] >= len(WRONG[k[0]]) and v != "PASSED"}
    assert not refused, f"checks that refuse a right answer: {refused}"
    assert {k[0] for k in outcomes} == set(checks)
