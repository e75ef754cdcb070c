"""emolib.ship, the release pipeline behind ``python -m emolib ship``: the model cards from their templates, the
Compute line, the subcommands' messages, shipping into a folder of the caller's choice (the shipped network and the
class network of notebook 03), and its place at the top of emolib's import graph."""
from __future__ import annotations

import ast
import hashlib
import json
import string
from pathlib import Path

import numpy as np
import pytest

from emolib import ship
from emolib.__main__ import main
from emolib.data import CLASS_NAMES, FER2013, Split

REPO = Path(__file__).resolve().parent.parent
ASSETS = REPO / "emolib" / "assets"


def shipped_entry() -> tuple[dict, str]:
    """The committed results.json's shipped entry and its hardware."""
    results = json.loads((ASSETS / "results.json").read_text())
    return next(m for m in results["models"] if m["name"] == ship.SHIPPED), results["hardware"]


# --------------------------------------------------------------------------- the model card
def test_committed_card_is_the_template_filled_from_results():
    """MODEL_CARD.md is written by ship.write_card from results.json, never by hand: rendering it again changes
    nothing."""
    s, hardware = shipped_entry()
    assert ship.render_card(s, hardware) == (ASSETS / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_shipped_file_is_identified_by_its_sha256_and_version():
    """results.json and the card name the shipped file by its SHA-256 and the emolib version that shipped it:
    shipping a new network records both (and bumps the version, ship.stamp_identity)."""
    import emolib
    from emolib.train import file_sha256

    s, hardware = shipped_entry()
    assert s["sha256"] == file_sha256(ASSETS / "emonet.keras"), "emonet.keras changed without ship recording it"
    assert s["version"] == emolib.__version__, "a network shipped without a new emolib version"
    assert f"SHA-256 `{s['sha256']}`, shipped with emolib {s['version']}" in (ASSETS / "MODEL_CARD.md").read_text()


def test_stamp_identity_records_the_file_and_keeps_the_package_alone(tmp_path):
    """Into another folder: the file's SHA-256 and the current version, emolib's own __init__.py untouched."""
    import emolib
    from emolib.train import file_sha256

    (tmp_path / "emonet.keras").write_bytes(b"a network")
    before = (ASSETS.parent / "__init__.py").read_text()
    s = ship.stamp_identity({"sha256": "an older file"}, tmp_path)
    assert s == {"sha256": file_sha256(tmp_path / "emonet.keras"), "version": emolib.__version__}
    assert (ASSETS.parent / "__init__.py").read_text() == before


def test_card_template_fields_are_exactly_those_filled():
    """Every $name of the template has a value and every value a place (a field left out would raise; one never
    used would be dead code)."""
    template = string.Template(ship.CARD_TEMPLATE.read_text(encoding="utf-8"))
    assert template.is_valid()
    s, hardware = shipped_entry()
    assert set(template.get_identifiers()) == set(ship.card_fields(s, hardware))


def test_card_of_one_view_and_no_recalibration(tmp_path):
    """Without test-time views inside, the card gives the time per face and the flip-TTA row; without precise
    BatchNorm it has no such line. write_card writes into the folder given and returns the file."""
    s, hardware = shipped_entry()
    plain = dict(s, tta_views=1)
    plain.pop("precise_bn")
    path = ship.write_card(plain, hardware, tmp_path)
    card = path.read_text()
    assert path == tmp_path / "MODEL_CARD.md"
    assert f"* **Time per face** (batch of 1): {s['tta_candidates']['1']['latency_ms_keras']} ms." in card
    assert f"| PrivateTest with horizontal-flip TTA | {s['private_test_tta']:.2%} |" in card
    assert "Test-time augmentation inside the model" not in card and "Precise BatchNorm" not in card


def test_card_of_an_ensemble(tmp_path):
    """Several runs shipped as one: the members, their seeds, and how to ship them again."""
    s, hardware = shipped_entry()
    members = [dict(run=f"runs/m{i}", seed=i, epochs=30, wall_time_min=50.0 + i, chosen="best.keras", best_epoch=28,
                    params=s["params"] // 2) for i in (1, 2)]
    card = ship.render_card(dict(s, members=members, without_tta_inside=dict(
        s["without_tta_inside"], members_public_test=[0.66, 0.67])), hardware)
    assert "* **Ensemble of 2 networks**" in card and "`runs/m2`: seed 2, 30 epochs in 52.0 min" in card
    assert "seed 1, 2." in card and f"in all (2 networks of {s['params'] // 2:,})" in card
    assert "Reproduce: `python -m emolib ship run runs/m1 runs/m2` on runs trained side by side" in card



def test_compute_line_of_the_shipped_card_from_its_results():
    """The committed card's Compute line is what ship.py writes from results.json."""
    results = json.loads((ASSETS / "results.json").read_text())
    s = next(m for m in results["models"] if m["name"] == "emonet (shipped)")
    line = ship.compute_line(s, results["hardware"])
    assert line in (ASSETS / "MODEL_CARD.md").read_text()
    hours = (s["wall_time_min"] * 60 + s["precise_bn"]["seconds"]) / 3600
    assert f"{hours:.2f} h wall clock on 2 cores, {2 * hours:.2f} core-hours" in line and "no teachers" in line


def recorded(training_s: float, cores: int, precise_bn_s: float | None = None) -> dict:
    """A results.json entry whose compute record holds one run's training and, maybe, precise BatchNorm (a network
    shipped before the shipping itself was timed)."""
    run = dict(run="runs/x", training_s=training_s, teacher_targets_s=0.0, cores=cores, teachers=[], init=None)
    return {"compute": dict(runs=[run], shipping_s=None, shipping_cores=None, precise_bn_s=precise_bn_s,
                            precise_bn_cores=cores)}


def test_compute_of_a_distilled_run_counts_its_teachers(tmp_path):
    """Training (every epoch, a resumed run's included), the teachers' targets, shipping, and each teacher:
    the network shipped before (matched by sha256), a run folder, or not recorded."""
    def run(folder: Path, train_s: float, cores: int, teachers=None, targets_s=None) -> Path:
        folder.mkdir(parents=True)
        (folder / "best.keras").write_bytes(folder.name.encode())
        config = {"teachers": teachers}
        (folder / "config.json").write_text(json.dumps(config))
        (folder / "result.json").write_text(json.dumps(dict(wall_time_s=1.0, train_time_s=train_s, cores=cores,
                                                            teacher_targets_s=targets_s, config=config)))
        return folder

    teacher_run = run(tmp_path / "teacher", 3600, 4)  # 4 core-hours
    shipped_file = tmp_path / "emonet.keras"
    shipped_file.write_bytes(b"shipped")
    shipped = dict(sha256=hashlib.sha256(b"shipped").hexdigest(), hardware="2-core x86_64 CPU",
                   entry=recorded(training_s=3600, cores=2, precise_bn_s=360))
    ids = [{"teacher": str(shipped_file), "sha256": shipped["sha256"]},
           {"teacher": str(teacher_run / "best.keras"), "sha256": hashlib.sha256(b"teacher").hexdigest()}]
    student = run(tmp_path / "student", 7200, 8, teachers=ids, targets_s=360)
    s = {"compute": dict(runs=[ship.run_compute(student, shipped)], shipping_s=720, shipping_cores=2,
                         precise_bn_s=300)}
    c = ship.compute_summary(s, "")
    assert c["wall_h"] == pytest.approx(2 + 0.1 + 0.2)
    own = (7200 + 360) * 8 / 3600 + 720 * 2 / 3600
    shipped_before = (3600 + 360) * 2 / 3600
    assert c["own_core_hours"] == pytest.approx(own)
    assert c["core_hours"] == pytest.approx(own + shipped_before + 4)
    line = ship.compute_line(s, "")
    assert "2.30 h wall clock on 2 and 8 cores" in line and f"{own + shipped_before + 4:.2f} core-hours in all" in line
    assert "precise BatchNorm 5.0 min of it" in line and "the teachers' targets 6.0 min" in line
    # a teacher whose cost nobody recorded: the total is unknown, not understated
    lost = [{"teacher": str(tmp_path / "elsewhere.keras"), "sha256": "0" * 64}]
    s["compute"]["runs"] = [ship.run_compute(run(tmp_path / "student2", 7200, 8, teachers=lost), shipped)]
    assert ship.compute_summary(s, "")["core_hours"] is None
    assert "the total is unknown" in ship.compute_line(s, "")



def test_compute_of_a_fine_tuned_run_counts_the_network_it_started_from_once(tmp_path):
    """init_from adds the starting network's cost; when it is also the teacher (born-again fine-tuning) it counts once."""
    shipped = dict(sha256="a" * 64, hardware="2-core x86_64 CPU", entry=recorded(3600, 2))  # 2 core-hours
    folder = tmp_path / "ft"
    folder.mkdir()
    start = {"model": "emolib/assets/emonet.keras", "sha256": "a" * 64}
    config = {"teachers": [{"teacher": start["model"], "sha256": start["sha256"]}], "init_from": start}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "result.json").write_text(json.dumps(dict(wall_time_s=1.0, train_time_s=1800, cores=2,
                                                        teacher_targets_s=900, config=config)))
    s = {"compute": dict(runs=[ship.run_compute(folder, shipped)], shipping_s=0, shipping_cores=2)}
    c = ship.compute_summary(s, "")
    assert c["own_core_hours"] == pytest.approx(1.5) and c["core_hours"] == pytest.approx(1.5 + 2)
    line = ship.compute_line(s, "")
    assert ("fine-tuned from `emolib/assets/emonet.keras`: 2.00 core-hours (the network shipped before (its "
            "results.json entry)); distilled from 1 teacher(s), `emolib/assets/emonet.keras`: 2.00 core-hours") in line
    assert "3.50 core-hours in all, each network counted once" in line
    # fine-tuned from a network nobody recorded: unknown, not understated
    config["init_from"] = {"model": "elsewhere.keras", "sha256": "b" * 64}
    (folder / "config.json").write_text(json.dumps(config))
    s["compute"]["runs"] = [ship.run_compute(folder, shipped)]
    assert ship.compute_summary(s, "")["core_hours"] is None
    assert "fine-tuned from `elsewhere.keras`: not recorded" in ship.compute_line(s, "")

def test_card_of_a_distilled_network(tmp_path):
    """write_card on the shipped entry made distilled (config and compute as ship.py records them)."""
    results = json.loads((ASSETS / "results.json").read_text())
    s = next(m for m in results["models"] if m["name"] == "emonet (shipped)")
    (tmp_path / "emonet.keras").write_bytes(b"teacher")
    (tmp_path / "results.json").write_text(json.dumps(results))
    before = ship.shipped_before(tmp_path)
    assert before["sha256"] == hashlib.sha256(b"teacher").hexdigest() and before["entry"] == s
    teacher = {"teacher": "emolib/assets/emonet.keras", "sha256": before["sha256"]}
    run = dict(run="runs/x", training_s=3600.0, teacher_targets_s=0.0, cores=2,
               teachers=[ship.teacher_compute(teacher, before)])
    distilled = dict(s, config=dict(s["config"], teachers=[teacher], distill_alpha=0.5, distill_label_smoothing=0.1),
                     compute=dict(runs=[run], shipping_s=360.0, shipping_cores=2, precise_bn_s=300))
    ship.write_card(distilled, results["hardware"], tmp_path)
    card = (tmp_path / "MODEL_CARD.md").read_text()
    teacher_hours = ship.compute_summary(s, results["hardware"])["core_hours"]
    assert (f"distilled from 1 teacher(s), `emolib/assets/emonet.keras`: {teacher_hours:.2f} core-hours (the network "
            f"shipped before (its results.json entry)): {2.2 + teacher_hours:.2f} core-hours in all") in card
    assert "knowledge distillation: each training face's target is 0.5 × its teachers' averaged probabilities" in card
    assert "`make reproduce-2h`" not in card and "then the run with `--teacher`" in card


def test_card_of_a_fine_tuned_network(tmp_path):
    """write_card says where a fine-tuned network's weights started and how to rebuild it."""
    results = json.loads((ASSETS / "results.json").read_text())
    s = next(m for m in results["models"] if m["name"] == "emonet (shipped)")
    start = {"model": "emolib/assets/emonet.keras", "sha256": "c" * 64}
    tuned = dict(s, config=dict(s["config"], init_from=start, teachers=[{"teacher": start["model"], "sha256": "c" * 64}],
                                distill_alpha=0.5, distill_label_smoothing=0.1))
    ship.write_card(tuned, results["hardware"], tmp_path)
    card = (tmp_path / "MODEL_CARD.md").read_text()
    assert "trained from scratch;" not in card
    assert "fine-tuned from `emolib/assets/emonet.keras` (sha256 cccccccccccc..." in card
    assert "Reproduce: the network it starts from (`make reproduce-2h` for the two-hour one), then the fine-tuning" in card


# --------------------------------------------------------------------------- the command line
def test_ship_needs_a_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["ship"])
    assert exit_.value.code == 2 and "run,class,views,precise-bn,litert,baseline" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["run", "{tmp}/nowhere"], "{tmp}/nowhere is not a finished training run (missing result.json, config.json, "
                               "best.keras)"),
    (["run", "{tmp}/nowhere", "--baseline", "{tmp}/base"], "is not a finished training run"),
    (["baseline", "{tmp}/nowhere"], "{tmp}/nowhere is not a finished training run"),
    (["views", "--assets", "{tmp}"], "no shipped model to work on: {tmp} needs emonet.keras and results.json"),
    (["precise-bn", "--assets", "{tmp}"], "no shipped model to work on"),
    (["litert", "--assets", "{tmp}"], "no shipped model to work on"),
])
def test_ship_subcommands_stop_with_a_clear_message_before_reading_data(tmp_path, capsys, args, message):
    """Each subcommand checks what it works on before it reads FER2013 (here: none to read)."""
    code = main(["ship", *[a.format(tmp=tmp_path) for a in args], "--data", str(tmp_path / "no-fer2013")])
    assert code == 2
    assert message.format(tmp=tmp_path) in capsys.readouterr().err


def test_ship_without_fer2013_says_so(tmp_path, capsys):
    """A shipped model to work on but no dataset: the data's own message, exit code 2, nothing written."""
    (tmp_path / "emonet.keras").write_bytes(b"x")
    (tmp_path / "results.json").write_text(json.dumps({"models": [{"name": ship.SHIPPED}]}))
    assert main(["ship", "litert", "--assets", str(tmp_path), "--data", str(tmp_path / "no-fer2013")]) == 2
    assert f"error: FER2013 not found. Places tried: {tmp_path / 'no-fer2013'}" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emonet.keras", "results.json"]


def test_check_runs_names_the_missing_files(tmp_path):
    (tmp_path / "result.json").write_text("{}")
    with pytest.raises(ship.ShipError, match=r"missing config.json, best.keras\)"):
        ship.check_runs([tmp_path])


# --------------------------------------------------------------------------- import graph
def _emolib_imports() -> dict[str, set[str]]:
    """For each module of emolib, the emolib modules it imports (at the top or inside functions)."""
    graph = {}
    for path in sorted((REPO / "emolib").glob("*.py")):
        name, found = path.stem, set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
                elif node.module and node.module.split(".")[0] == "emolib":
                    parts = node.module.split(".")
                    found |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("emolib.")}
        graph[name] = {m for m in found if (REPO / "emolib" / f"{m}.py").is_file() and m != name}
    return graph


def test_emolib_import_graph_has_no_cycle_and_ship_is_on_top():
    """emolib's modules import each other without a cycle (so each has a layer below the ones that use it), and
    ship, the release pipeline, is imported by the command line alone."""
    graph = _emolib_imports()
    assert {name for name, deps in graph.items() if "ship" in deps} == {"__main__"}
    # shipping's parts, one module per concern, serve shipping alone
    assert {name for name, deps in graph.items() if deps & {"selection", "export", "card"}} <= {"ship", "selection"}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join(path + (name,))}"
        if name not in done:
            for dep in graph.get(name, ()):
                visit(dep, path + (name,))
            done.add(name)

    for name in graph:
        visit(name, ())


# --------------------------------------------------------------------------- shipping into a folder
def synthetic_split(per_class: int, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASS_NAMES)), per_class)
    images = np.clip(30 + 30 * labels[:, None, None] + rng.normal(0, 20, (len(labels), 48, 48)), 0, 255)
    return Split(images.astype(np.uint8), labels.astype(np.int64))


def assert_each_time_measured_once(entry: dict) -> None:
    """The shipped file's times per face are stored once, in tta_candidates, and every reader takes them there."""
    times = ship.shipped_times(entry)
    assert "latency_ms" not in entry and "latency_ms" not in entry["without_tta_inside"]
    assert not {"latency_ms", "latency_ms_keras"} & set(entry["litert"])
    assert times["litert"] > 0 and times["keras"] > 0 and times["network"] > 0
    card = ship.render_card(entry, "a machine")
    assert f"{times['litert']} ms, against {times['keras']} ms" in card


def test_shipped_times_per_face_are_one_measurement():
    assert_each_time_measured_once(shipped_entry()[0])


@pytest.mark.slow
def test_ship_a_run_into_a_folder_then_rework_it(tmp_path):
    """ship_runs writes every file of a shipped model into the folder given (emolib/assets untouched), keeps the
    baseline measured before, refuses a run that does not beat the shipped network unless told, and reship and
    measure_baseline work on what is there."""
    from emolib.train import train

    data = FER2013(train=synthetic_split(8, 0), val=synthetic_split(2, 1), test=synthetic_split(2, 2))
    run = tmp_path / "run"
    train("emonet", data, run, epochs=1, batch_size=16, model_kwargs={"width": 8}, verbose=0)
    assets = tmp_path / "assets"
    before = {p.name: p.stat().st_mtime_ns for p in ASSETS.iterdir() if p.is_file()}
    assert ship.ship_runs([run], data, assets, baseline=run, tta=1, replace=True, hardware="test machine")
    assert {"emonet.keras", "emonet.tflite", "emonet_1view.tflite", "history.json", "results.json", "MODEL_CARD.md"} <= \
        {p.name for p in assets.iterdir()}
    assert not (assets / "emonet.candidate.keras").exists()
    results = json.loads((assets / "results.json").read_text())
    assert results["hardware"] == "test machine"
    assert [m["name"] for m in results["models"]] == [ship.SHIPPED, ship.BASELINE]
    entry = results["models"][0]
    assert entry["tta_views"] == 1 and entry["compute"]["runs"][0]["run"] == str(run)
    assert (assets / "MODEL_CARD.md").read_text() == ship.render_card(entry, "test machine")
    assert_each_time_measured_once(entry)
    # the same run again does not beat itself: nothing replaced, the candidate removed
    shipped = (assets / "emonet.keras").read_bytes()
    assert not ship.ship_runs([run], data, assets, tta=1, precise_bn=False)
    assert (assets / "emonet.keras").read_bytes() == shipped and not (assets / "emonet.candidate.keras").exists()
    # the LiteRT copy alone, then the baseline alone
    entry = ship.reship(data, assets, views=False)
    assert entry["litert"]["quantization"] == "dynamic-range int8"
    assert_each_time_measured_once(entry)
    assert ship.measure_baseline(run, data, assets)["name"] == ship.BASELINE
    assert [m["name"] for m in json.loads((assets / "results.json").read_text())["models"]] == [ship.SHIPPED, ship.BASELINE]
    assert {p.name: p.stat().st_mtime_ns for p in ASSETS.iterdir() if p.is_file()} == before


# --------------------------------------------------------------------------- the class network (notebook 03)
CLASS_RUN = ASSETS / "class_run"


def class_card_inputs() -> tuple[dict, dict, dict, dict]:
    """What the committed class card is written from: its benchmark.json, its config.json, the shipped entry and
    its shipped.json."""
    bench, config, identity = (json.loads((CLASS_RUN / name).read_text())
                               for name in ("benchmark.json", "config.json", "shipped.json"))
    return bench, config, shipped_entry()[0], identity


def test_class_network_is_identified_by_its_sha256_and_version():
    """class_run/shipped.json names the file by its SHA-256 and the emolib version that shipped it, and so does
    its card: a best.keras replaced without `ship class` fails here."""
    from emolib.train import file_sha256

    identity = json.loads((CLASS_RUN / "shipped.json").read_text())
    assert identity["sha256"] == file_sha256(CLASS_RUN / "best.keras"), "best.keras changed without ship recording it"
    assert f"SHA-256 `{identity['sha256']}`, shipped with emolib {identity['version']}" in (
        CLASS_RUN / "MODEL_CARD.md").read_text()


def test_committed_class_card_is_the_template_filled_from_results():
    """class_run/MODEL_CARD.md is written by `ship class` from the results files, never by hand."""
    assert ship.render_class_card(*class_card_inputs()) == (CLASS_RUN / "MODEL_CARD.md").read_text(encoding="utf-8")


def test_class_card_template_fields_are_exactly_those_filled():
    template = string.Template(ship.CLASS_CARD_TEMPLATE.read_text(encoding="utf-8"))
    assert template.is_valid()
    assert set(template.get_identifiers()) == set(ship.class_card_fields(*class_card_inputs()))


def fake_class_run(folder: Path, recipe: str = "class", model: bool = False) -> Path:
    """A finished run folder whose result.json matches the committed benchmark.json's class run: a tiny network
    saved in mixed bfloat16 with its optimizer (``model``; else bytes standing for it)."""
    from emolib.train import RECIPES

    folder.mkdir(parents=True)
    config = dict(RECIPES[recipe], teachers=[{"teacher": "shipped", "sha256": "0" * 64}], precision_used="bfloat16")
    c = json.loads((CLASS_RUN / "benchmark.json").read_text())["class"]
    result = dict(epochs_run=c["epochs"], best_epoch=c["best_epoch"], params=c["params"], train_time_s=c["train_s"],
                  wall_time_s=c["train_s"] + 20, config=config)
    for name, value in (("config.json", config), ("result.json", result), ("history.json", {"loss": [1.0]})):
        (folder / name).write_text(json.dumps(value))
    if not model:
        (folder / "best.keras").write_bytes(b"a network")
        return folder
    import keras

    faces = keras.Input((48, 48, 1))  # functional, as emolib's networks are
    net = keras.Model(faces, keras.layers.Dense(7, activation="softmax", dtype="mixed_bfloat16")(
        keras.layers.Flatten()(faces)))
    net.compile("adam", "sparse_categorical_crossentropy")
    net.fit(np.zeros((2, 48, 48, 1)), np.zeros(2), verbose=0)  # optimizer state to leave out
    net.save(folder / "best.keras")
    return folder


def test_ship_class_writes_the_run_its_benchmark_and_card(tmp_path, capsys):
    """`python -m emolib ship class RUN --assets DIR`: into DIR/class_run/ the run's four files (best.keras in float32
    without optimizer state), benchmark.json and the card written from them; emolib/assets untouched."""
    import io
    import zipfile

    import h5py

    run = fake_class_run(tmp_path / "run", model=True)
    before = {p.name: p.stat().st_mtime_ns for p in CLASS_RUN.iterdir()}
    assert main(["ship", "class", str(run), "--assets", str(tmp_path / "assets"),
                 "--benchmark", str(CLASS_RUN / "benchmark.json")]) == 0
    out = tmp_path / "assets" / "class_run"
    assert f"shipped {run} to {out}" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["best.keras", "history.json", "config.json", "result.json", "benchmark.json", "shipped.json", "MODEL_CARD.md"])
    for name in ("history.json", "config.json", "result.json"):
        assert (out / name).read_bytes() == (run / name).read_bytes()
    assert (out / "benchmark.json").read_bytes() == (CLASS_RUN / "benchmark.json").read_bytes()
    def saved(path: Path) -> tuple[set, str]:
        """A .keras file's groups of weights and its model config."""
        with zipfile.ZipFile(path) as z, h5py.File(io.BytesIO(z.read("model.weights.h5"))) as weights:
            return set(weights), z.read("config.json").decode()

    assert "optimizer" in saved(run / "best.keras")[0] and "bfloat16" in saved(run / "best.keras")[1]
    groups, config = saved(out / "best.keras")
    assert "optimizer" not in groups, "shipped without optimizer state"
    assert "bfloat16" not in config, "shipped computing in float32"
    # its identity (a folder of its own: the version stays), and otherwise the committed card from the same results
    import emolib
    from emolib.train import file_sha256

    identity = json.loads((out / "shipped.json").read_text())
    assert identity == {"sha256": file_sha256(out / "best.keras"), "version": emolib.__version__}
    committed = json.loads((CLASS_RUN / "shipped.json").read_text())
    assert (out / "MODEL_CARD.md").read_text() == (CLASS_RUN / "MODEL_CARD.md").read_text().replace(
        f"SHA-256 `{committed['sha256']}`, shipped with emolib {committed['version']}",
        f"SHA-256 `{identity['sha256']}`, shipped with emolib {identity['version']}")
    assert {p.name: p.stat().st_mtime_ns for p in CLASS_RUN.iterdir()} == before


def test_ship_class_refuses_another_recipe_or_another_runs_benchmark(tmp_path, capsys):
    """No finished run, a run of another recipe, a missing benchmark, or a benchmark of another run: a clear error,
    nothing written."""
    bench = CLASS_RUN / "benchmark.json"
    assert main(["ship", "class", str(tmp_path / "nowhere"), "--assets", str(tmp_path / "out")]) == 2
    assert f"{tmp_path / 'nowhere'} is not a finished training run" in capsys.readouterr().err
    with pytest.raises(ship.ShipError, match="was not trained with the class recipe"):
        ship.ship_class(fake_class_run(tmp_path / "full", recipe="full"), tmp_path / "out", bench)
    run = fake_class_run(tmp_path / "class")
    with pytest.raises(ship.ShipError, match="no benchmark results at .*class_recipe.py --from-run"):
        ship.ship_class(run, tmp_path / "out", tmp_path / "none.json")
    other = json.loads(bench.read_text())
    other["class"]["best_epoch"] -= 1
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(ship.ShipError, match="measured another run than"):
        ship.ship_class(run, tmp_path / "out", tmp_path / "other.json")
    assert not (tmp_path / "out").exists()


def test_ship_class_never_writes_into_an_installed_emolib(tmp_path, monkeypatch, capsys):
    """Outside a checkout, neither emolib/assets by default nor given explicitly: the error names --assets."""
    import emolib.outputs

    monkeypatch.setattr(emolib.outputs, "in_checkout", lambda package=None: False)
    monkeypatch.setattr(ship, "in_checkout", lambda package=None: False)
    run = fake_class_run(tmp_path / "run")
    before = {p.name: p.stat().st_mtime_ns for p in CLASS_RUN.iterdir()}
    with pytest.raises(ship.ShipError, match="inside the installed emolib.*--assets DIR"):
        ship.ship_class(run, ship.ASSETS, CLASS_RUN / "benchmark.json")
    assert main(["ship", "class", str(run)]) == 2
    assert "ship never writes into an installed package" in capsys.readouterr().err
    assert {p.name: p.stat().st_mtime_ns for p in CLASS_RUN.iterdir()} == before
