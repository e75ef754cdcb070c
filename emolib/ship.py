"""Ship a finished training run as emolib's pretrained model, with its card: ``python -m emolib ship``.

    python -m emolib ship run RUN [RUN ...] [--baseline runs/seed] [--tta auto|1|2|6] [--replace]
    python -m emolib ship class RUN [--benchmark benchmarks/results/class_recipe.json]
    python -m emolib ship views [--tta auto|1|2|6]
    python -m emolib ship precise-bn [--tta auto|1|2|6]
    python -m emolib ship litert
    python -m emolib ship baseline runs/seed

``run`` writes emolib/assets/emonet.keras (without optimizer state), its LiteRT copy emonet.tflite (dynamic-range
int8; what ``emolib.predict`` runs by default), the network alone as emonet_1view.tflite (int8, for the views
``emolib.predict`` makes itself), history.json, results.json and MODEL_CARD.md (every subcommand
takes ``--assets DIR`` to write elsewhere). The accuracies in the card are measured here by loading the saved file
and predicting raw pixels. The run replaces the shipped model only when its network scores higher on PublicTest
(or with ``--replace``). ``--tta`` sets how many test-time views the file averages over
(``emolib.models.with_tta`` inside the model, see :data:`emolib.views.VIEWS`): 1 (the network alone), 2 (the face and
its mirror image) or 6 (the face shifted 3 pixels along a diagonal both ways, each mirrored). By default
(``auto``) it ships the candidate with the best PublicTest accuracy among those whose LiteRT copy classifies a
face within :data:`emolib.views.VIEW_BUDGET_MS`. The card reports every candidate.
Before the views, the selected network's BatchNorm statistics are recomputed on the training faces as the
network sees them at inference (``emolib.train.recalibrate_batchnorm``, "precise BatchNorm"); the recalibrated
network is kept when it scores higher on PublicTest (``--no-precise-bn`` skips the step).
``class`` ships a run of the class recipe (``emolib.train.RECIPES["class"]``) as notebook 03's network
(:func:`ship_class`): into ``class_run/`` of the assets folder its ``best.keras`` (float32, without optimizer state),
history.json, config.json, result.json, the results ``benchmarks/class_recipe.py --from-run RUN`` measured of it
(benchmark.json) and its MODEL_CARD.md, every number read from those files; it needs no FER2013.
``views`` keeps the shipped network and chooses its views again; ``precise-bn`` recalibrates the shipped network
first, as above; ``litert`` rewrites just the LiteRT copy and its figures; ``baseline`` (re)measures the seed
baseline into results.json and keeps everything else.
Several runs (trained side by side, as ``benchmarks/benchmark_recipes.py emonet-bf16-ensemble2-full`` does) ship
as one ``emolib.models.ensemble`` that averages their networks; each run's weights are selected on PublicTest first.
The card's **Compute** line states the time behind the shipped network (:func:`compute_line`): each run's training
(every epoch logged, the parts of a resumed run included) and its teachers' targets, the shipping's own time, on
the cores each used, and for a distilled run each teacher's own core-hours (recorded as ``compute`` in
results.json).

Each concern has its module, and this one strings them together (``results.json``, the version, the command line):
:mod:`emolib.selection` chooses the weights on PublicTest, :mod:`emolib.export` makes and times the shipped files,
:mod:`emolib.card` writes the model card from the results alone (the template
``emolib/templates/MODEL_CARD.md.tmpl``). This module is the top of emolib's import graph: only
``emolib.__main__`` imports it, and only it imports those three.
"""
from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

# one module per concern; their names stay importable from here (benchmarks and tests use them)
from .card import (CARD_TEMPLATE, CLASS_CARD_TEMPLATE, TTA_WORDS, card_fields, class_card_fields,  # noqa: F401
                   compute_line, compute_summary, cores_in, litert_card_line, render_card, render_class_card,
                   run_compute, shipped_times, teacher_compute, write_card, write_class_card)
from .export import (cpu_name, export_class_run, finish, latency_ms, litert_latency_ms, pick_views,  # noqa: F401
                     ship_litert, with_views)
from .outputs import in_checkout, not_into_install
from .selection import ShipError, check_runs, precise_batchnorm, select_on_public_test, summarize  # noqa: F401
from .views import VIEW_BUDGET_MS, VIEW_CHOICES

#: Where the shipped model lives; every function that writes takes its own ``assets`` folder instead.
ASSETS = Path(__file__).resolve().parent / "assets"
SHIPPED, BASELINE = "emonet (shipped)", "seed CNN (baseline)"  # the names of the two entries of results.json
DEFAULT_HARDWARE = "2-core x86_64 CPU (no GPU), TensorFlow 2.21 CPU"
#: What ``benchmarks/class_recipe.py`` measured of the class run (in a checkout of the course): ``ship class`` reads it.
CLASS_BENCHMARK = ASSETS.parent.parent / "benchmarks" / "results" / "class_recipe.json"


# --------------------------------------------------------------------------- shipping
def shipped_before(assets: Path = ASSETS) -> dict | None:
    """The network shipped in ``assets``: its sha256, results.json entry and hardware (for
    :func:`teacher_compute`), or None."""
    from .train import file_sha256

    results_file, model_file = Path(assets) / "results.json", Path(assets) / "emonet.keras"
    if not (results_file.is_file() and model_file.is_file()):
        return None
    results = json.loads(results_file.read_text())
    entry = next((m for m in results.get("models", []) if m.get("name") == SHIPPED), None)
    return entry and dict(sha256=file_sha256(model_file), entry=entry, hardware=results.get("hardware", ""))


def _read_results(assets: Path) -> dict:
    """``assets/results.json``, or an empty one."""
    path = Path(assets) / "results.json"
    return json.loads(path.read_text()) if path.is_file() else {"models": []}


def _write_results(results: dict, assets: Path) -> None:
    (Path(assets) / "results.json").write_text(json.dumps(results, indent=1))


def _beats_shipped(shipped: dict, current: Path, data) -> bool:
    """Whether the new network beats the one in ``current`` on PublicTest; like with like: the networks alone,
    each seeing every face once."""
    from .evaluate import evaluate
    from .models import load_model_file, without_tta

    now = float(evaluate(without_tta(load_model_file(current)), data.val).accuracy)
    new = shipped["without_tta_inside"]["public_test"]
    if new <= now:
        print(f"not shipped: PublicTest {new:.4f} does not beat the shipped network's {now:.4f} "
              "(--replace ships it anyway)")
        return False
    print(f"shipped: PublicTest {new:.4f} against {now:.4f} for the network shipped before", flush=True)
    return True


def _baseline_entry(baseline: Path, data) -> dict:
    """The seed baseline's results.json entry: its weights selected on PublicTest, no views, no recalibration."""
    return dict(summarize(Path(baseline), data, tta=1, precise_bn=False), name=BASELINE)


def ship_runs(runs: list[Path], data, assets: Path = ASSETS, *, baseline: Path | None = None,
              tta: str | int = "auto", precise_bn: bool = True, replace: bool = False,
              hardware: str = DEFAULT_HARDWARE) -> bool:
    """Ship finished runs (several: one ensemble) into ``assets``: :func:`summarize`, then, when the network beats
    the one shipped there on PublicTest (or ``replace``), emonet.keras, its LiteRT copy, history.json,
    results.json (with ``baseline`` measured, or the baseline measured before) and MODEL_CARD.md.
    Returns whether it shipped."""
    from .history import load_history

    runs = [Path(r) for r in runs]
    check_runs(runs + ([Path(baseline)] if baseline else []))
    assets = Path(assets)
    assets.mkdir(parents=True, exist_ok=True)
    before = shipped_before(assets)  # read before it is replaced: a teacher may be the network shipped now
    t_ship = time.time()
    candidate, current = assets / "emonet.candidate.keras", assets / "emonet.keras"
    shipped = summarize(runs, data, candidate, tta=tta, precise_bn=precise_bn)
    if current.is_file() and not replace and not _beats_shipped(shipped, current, data):
        candidate.unlink()
        return False
    candidate.replace(current)
    shipped["sha256"] = (before or {}).get("sha256")  # the file it replaces: a different one is a new version
    stamp_identity(shipped, assets)
    shipped["litert"] = ship_litert(data, assets, _timed(shipped))
    history = load_history(runs[0])  # an ensemble's history is its first member's, as the run logged it
    if history is not None:
        (assets / "history.json").write_text(json.dumps(history[0], indent=1))
    shipped["compute"] = dict(runs=[run_compute(r, before) for r in runs], shipping_s=round(time.time() - t_ship, 1),
                              shipping_cores=cores_in(cpu_name()) or 1,
                              precise_bn_s=(shipped.get("precise_bn") or {}).get("seconds"))
    models = [dict(shipped, name=SHIPPED)]
    if baseline:
        models.append(_baseline_entry(baseline, data))
    else:  # keep the baseline measured before (its run may be gone)
        models += [m for m in _read_results(assets)["models"] if m["name"] == BASELINE]
    _write_results({"hardware": hardware, "models": models}, assets)
    write_card(shipped, hardware, assets)
    print(json.dumps(models, indent=1))
    return True


def stamp_identity(s: dict, assets: Path, model_file: str = "emonet.keras") -> dict:
    """Record a shipped file's identity in its record ``s`` (the results.json entry, or the class network's
    shipped.json): the SHA-256 of ``assets/model_file`` and the emolib version that ships it, a new one
    (:func:`bump_version`) when emolib's own assets get a new file."""
    from .train import file_sha256

    sha = file_sha256(Path(assets) / model_file)
    own = ASSETS.resolve() in (Path(assets).resolve(), *Path(assets).resolve().parents)  # emolib's own assets
    if sha != s.get("sha256") and own and in_checkout():
        s["version"] = bump_version()
    s["sha256"] = sha
    s.setdefault("version", _version())
    return s


def _version(init: Path = ASSETS.parent / "__init__.py") -> str:
    return re.search(r'^__version__ = "([^"]+)"', init.read_text(encoding="utf-8"), re.M).group(1)


def bump_version(init: Path = ASSETS.parent / "__init__.py") -> str:
    """Raise the patch number of ``__version__`` in emolib's ``__init__.py`` (a new network is a new release of the
    package); returns the new version. Then ``pip install --no-deps -e .`` updates the installed metadata.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     init = Path(tmp) / "__init__.py"
    ...     _ = init.write_text('__version__ = "0.1.9"  # the only version string\\n')
    ...     bump_version(init), init.read_text()
    ('0.1.10', '__version__ = "0.1.10"  # the only version string\\n')
    """
    text = init.read_text(encoding="utf-8")
    major, minor, patch = _version(init).split(".")[:3]
    new = f"{major}.{minor}.{int(patch) + 1}"
    init.write_text(re.sub(r'^__version__ = "[^"]+"', f'__version__ = "{new}"', text, count=1, flags=re.M),
                    encoding="utf-8")
    return new


def _timed(s: dict) -> dict:
    """The shipped views' entry of ``tta_candidates``: where :func:`pick_views` stored their times per face."""
    return s["tta_candidates"][str(s["tta_views"])]


def _shipped_entry(results: dict, assets: Path) -> dict:
    """The shipped model's entry of ``results``; :class:`ShipError` when ``assets`` holds no shipped model."""
    s = next((m for m in results["models"] if m["name"] == SHIPPED), None)
    if s is None or not (Path(assets) / "emonet.keras").is_file():
        raise ShipError(f"no shipped model to work on: {assets} needs emonet.keras and results.json with an "
                        f"'{SHIPPED}' entry (ship a run first)")
    return s


def reship(data, assets: Path = ASSETS, *, views: bool = True, precise_bn: bool = False, tta: str | int = "auto",
           hardware: str = DEFAULT_HARDWARE) -> dict:
    """Work on the network shipped in ``assets`` without a run: recalibrate its BatchNorm (``precise_bn``), choose
    its test-time views again (``views``; always with ``precise_bn``), then rewrite its LiteRT copy, results.json
    and card. With neither, only the LiteRT copy and its figures. Returns its new results.json entry."""
    assets = Path(assets)
    results = _read_results(assets)
    s = _shipped_entry(results, assets)
    if views or precise_bn:
        from .models import load_model_file, without_tta

        t_ship = time.time()
        candidate = assets / "emonet.candidate.keras"
        network = without_tta(load_model_file(assets / "emonet.keras"))
        if precise_bn:
            network, s["precise_bn"] = precise_batchnorm(network, data)
        s.update(finish(network, data, candidate, tta))
        if s.get("compute"):  # this work adds to the shipping time
            s["compute"]["shipping_s"] = round(s["compute"]["shipping_s"] + time.time() - t_ship, 1)
            if precise_bn:
                s["compute"]["precise_bn_s"] = (s["compute"].get("precise_bn_s") or 0) + s["precise_bn"]["seconds"]
        candidate.replace(assets / "emonet.keras")
        stamp_identity(s, assets)
        s["litert"] = ship_litert(data, assets, _timed(s))
    else:  # a new LiteRT copy, timed again: the shipped views' figures take the new times (stored once)
        timed = _timed(s)
        for key in ("latency_ms_litert", "latency_ms_keras"):
            timed.pop(key)
        s["litert"] = ship_litert(data, assets, timed)
    _write_results(results, assets)
    write_card(s, results.get("hardware", hardware), assets)
    print(json.dumps(s, indent=1))
    return s


def measure_baseline(baseline: Path, data, assets: Path = ASSETS) -> dict:
    """(Re)measure the seed baseline into ``assets/results.json``, keeping the shipped model and its card."""
    check_runs([Path(baseline)])
    results = _read_results(assets)
    _shipped_entry(results, assets)
    base = _baseline_entry(baseline, data)
    results["models"] = [m for m in results["models"] if m["name"] != BASELINE] + [base]
    _write_results(results, assets)
    print(json.dumps(base, indent=1))
    return base


# --------------------------------------------------------------------------- the class run (notebook 03)
def _measured_run(bench: dict, result: dict) -> bool:
    """Whether the benchmark's figures ``bench["class"]`` were measured of the run whose result.json is ``result``
    (its epochs, best epoch, size and recorded training time).

    >>> _measured_run({"class": dict(epochs=15, best_epoch=14, params=7, train_s=9.5)},
    ...               dict(epochs_run=15, best_epoch=14, params=7, train_time_s=None, wall_time_s=9.5))
    True
    """
    c = bench.get("class", {})
    return ((c.get("epochs"), c.get("best_epoch"), c.get("params"), c.get("train_s"))
            == (result["epochs_run"], result["best_epoch"], result["params"],
                result.get("train_time_s") or result["wall_time_s"]))


def ship_class(run: Path, assets: Path = ASSETS, benchmark: Path = CLASS_BENCHMARK) -> Path:
    """Ship a finished class-recipe run as notebook 03's network into ``assets/class_run/``: its files
    (:func:`export_class_run`), ``benchmark`` as benchmark.json, the file's identity as shipped.json (its SHA-256
    and the emolib version that ships it, :func:`stamp_identity`) and the card (:func:`write_class_card`). Refuses a
    run of another recipe, a benchmark of another run and an installed emolib. Returns the folder written.

    >>> ship_class(Path("no/such/run"), Path("out"))
    Traceback (most recent call last):
    ...
    emolib.selection.ShipError: no/such/run is not a finished training run (missing result.json, config.json, best.keras)
    """
    run, benchmark = Path(run), Path(benchmark)
    check_runs([run])
    assets = assets_folder(Path(assets))
    from .train import CLASS_RUN_DIR, recipe_of

    if recipe_of(json.loads((run / "config.json").read_text())) != "class":
        raise ShipError(f"{run} was not trained with the class recipe (its config.json differs from "
                        f"emolib.train.RECIPES['class']); `ship run` ships other runs")
    if not benchmark.is_file():
        raise ShipError(f"no benchmark results at {benchmark}: measure the run first with `python "
                        f"benchmarks/class_recipe.py --from-run {run}` (or give --benchmark FILE)")
    if not _measured_run(json.loads(benchmark.read_text()), json.loads((run / "result.json").read_text())):
        raise ShipError(f"{benchmark} measured another run than {run}: measure it with `python "
                        f"benchmarks/class_recipe.py --from-run {run}` (or give its results with --benchmark FILE)")
    teacher = _shipped_entry(_read_results(ASSETS), ASSETS)  # the recipe's teacher: emolib's shipped network
    dest = assets / CLASS_RUN_DIR.name
    size = export_class_run(run, dest)
    (dest / "benchmark.json").write_text(benchmark.read_text())
    identity = dest / "shipped.json"  # the file shipped before, if any: a different one is a new version
    record = json.loads(identity.read_text()) if identity.is_file() else {}
    identity.write_text(json.dumps(stamp_identity(record, dest, "best.keras"), indent=1) + "\n")
    write_class_card(dest, teacher)
    print(f"shipped {run} to {dest} ({size / 1e6:.1f} MB) with benchmark.json, shipped.json and MODEL_CARD.md")
    return dest


# --------------------------------------------------------------------------- python -m emolib ship
def assets_folder(given: Path | None, package: Path = ASSETS.parent) -> Path:
    """The folder ``ship`` writes into: ``given``, else emolib/assets in a checkout; an installed emolib is never
    written into (:func:`emolib.outputs.not_into_install`), so there a folder must be given.

    >>> assets_folder(Path("out")).name
    'out'
    >>> assets_folder(None, Path("/usr/lib/python3/site-packages/emolib"))
    Traceback (most recent call last):
    ...
    emolib.selection.ShipError: emolib is installed (...), not a checkout of the course: ship never writes into an ...
    """
    if given is None and not in_checkout(package):
        raise ShipError(f"emolib is installed ({package}), not a checkout of the course: ship never writes into an "
                        f"installed package; give the folder to write into with --assets DIR")
    try:
        return not_into_install(package / "assets" if given is None else given, package)
    except ValueError as err:
        raise ShipError(f"{err} (--assets DIR)") from None


def add_parser(subparsers) -> argparse.ArgumentParser:
    """``python -m emolib ship`` and its subcommands, under ``subparsers`` (emolib.__main__'s)."""
    ship = subparsers.add_parser("ship", help="ship a finished run as emolib's pretrained model, with its card",
                                 description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ship.add_subparsers(dest="ship_command", required=True,
                              metavar="{run,class,views,precise-bn,litert,baseline}")
    folder = argparse.ArgumentParser(add_help=False)
    folder.add_argument("--assets", type=Path, default=None,
                        help="the folder the shipped model lives in (default, in a checkout of the course only: "
                             "emolib/assets; an installed emolib is never written into, so give a folder)")
    common = argparse.ArgumentParser(add_help=False, parents=[folder])
    common.add_argument("--data", default=None, help="FER2013 location (default: $EMOLIB_DATA or data/fer2013)")
    views = argparse.ArgumentParser(add_help=False)
    views.add_argument("--tta", choices=VIEW_CHOICES, default="auto",
                       help="test-time views inside the shipped file: auto (default) picks the best on PublicTest "
                            f"among those within {VIEW_BUDGET_MS:g} ms per face in LiteRT")
    hardware = argparse.ArgumentParser(add_help=False)
    hardware.add_argument("--hardware", default=DEFAULT_HARDWARE,
                          help=f"the training hardware the card names (default: {DEFAULT_HARDWARE})")
    r = sub.add_parser("run", parents=[common, views, hardware], help="ship one or more finished training runs")
    r.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                   help="a finished run folder; several runs (trained side by side) ship as one ensemble")
    r.add_argument("--baseline", type=Path, default=None, help="also measure this seed-baseline run")
    r.add_argument("--no-precise-bn", action="store_true",
                   help="ship the run's BatchNorm statistics as trained (by default they are recalibrated on the "
                        "training faces when that improves PublicTest)")
    r.add_argument("--replace", action="store_true",
                   help="ship even when the run does not beat the shipped model on PublicTest")
    c = sub.add_parser("class", parents=[folder],
                       help="ship a finished run of the class recipe (notebook 03's network) into class_run/ of the "
                            "assets folder, with its benchmark results and model card")
    c.add_argument("run", type=Path, metavar="RUN", help="a finished run of emolib.train.RECIPES['class']")
    c.add_argument("--benchmark", type=Path, default=CLASS_BENCHMARK,
                   help="what `python benchmarks/class_recipe.py --from-run RUN` measured of the run (default: "
                        "benchmarks/results/class_recipe.json of the checkout)")
    sub.add_parser("views", parents=[common, views, hardware],
                   help="keep the shipped network; choose its test-time views again (--tta) and rewrite "
                        "emonet.keras, its LiteRT copy, results.json and the card")
    sub.add_parser("precise-bn", parents=[common, views, hardware],
                   help="recalibrate the shipped network's BatchNorm statistics on the training faces, keep that "
                        "when PublicTest improves, then choose its test-time views again as `views`")
    sub.add_parser("litert", parents=[common, hardware],
                   help="keep the shipped model; only (re)write its LiteRT copies (emonet.tflite, emonet_1view.tflite) "
                        "and their figures")
    b = sub.add_parser("baseline", parents=[common],
                       help="keep the shipped model and its card; only (re)measure the baseline into results.json")
    b.add_argument("baseline", type=Path, metavar="RUN", help="the seed baseline's run folder")
    ship.set_defaults(func=main)
    return ship


def main(args: argparse.Namespace) -> int:
    """Run a parsed ``python -m emolib ship`` command: 0 when done, 1 when the run did not beat the shipped
    network, 2 with a message when it cannot start."""
    from .data import DataError, load_fer2013

    args.assets = assets_folder(args.assets)
    if args.ship_command == "class":
        ship_class(args.run, args.assets, args.benchmark)
        return 0
    tta = getattr(args, "tta", "auto")
    tta = tta if tta == "auto" else int(tta)
    for folder in getattr(args, "runs", []) + [b for b in [getattr(args, "baseline", None)] if b]:
        check_runs([folder])  # before the data is read
    if args.ship_command != "run":
        _shipped_entry(_read_results(args.assets), args.assets)
    try:
        data = load_fer2013(args.data, progress=False)
    except DataError as err:
        raise ShipError(str(err)) from None
    if args.ship_command == "run":
        return 0 if ship_runs(args.runs, data, args.assets, baseline=args.baseline, tta=tta,
                              precise_bn=not args.no_precise_bn, replace=args.replace, hardware=args.hardware) else 1
    if args.ship_command == "baseline":
        measure_baseline(args.baseline, data, args.assets)
    else:
        reship(data, args.assets, views=args.ship_command == "views", precise_bn=args.ship_command == "precise-bn",
               tta=tta, hardware=args.hardware)
    return 0
