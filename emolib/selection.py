"""Which weights ship: each run's saved weights measured on PublicTest (never PrivateTest), precise BatchNorm kept
when it helps, several runs averaged into one ensemble, then the file made and measured (:mod:`emolib.export`).
Imported by :mod:`emolib.ship` alone.

Example
-------
>>> check_runs([Path("no/such/run")])
Traceback (most recent call last):
...
emolib.selection.ShipError: no/such/run is not a finished training run (missing result.json, config.json, best.keras)
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from .export import cpu_name, finish


class ShipError(ValueError):
    """Nothing to ship, or nothing shipped to work on; the message says which and what to do."""


def select_on_public_test(run: Path, data) -> tuple["keras.Model", str, dict]:
    """Rebuild the run's architecture from emolib (current definition), fill it with each
    saved set of weights (best.keras, last.keras, per-epoch snapshots in ``<run>-snapshots/``)
    and keep the one with the best PublicTest accuracy. PrivateTest is not looked at."""
    import keras

    from .evaluate import evaluate
    from .models import build_model, copy_weights, load_model_file

    res = json.loads((run / "result.json").read_text())
    cfg = json.loads((run / "config.json").read_text())
    trained = load_model_file(run / "best.keras")
    target = build_model(res["arch"], **cfg.get("model_kwargs", {}))
    candidates: list[tuple[str, object]] = [("best.keras", run / "best.keras")]
    if (run / "last.keras").exists():
        candidates.append(("last.keras", run / "last.keras"))
    snaps = run.parent / f"{run.name}-snapshots"
    candidates += [(f.stem.split(".")[0], f) for f in sorted(snaps.glob("epoch-*.weights.h5"))]
    best = ("", -1.0, None)
    scores: dict[str, float] = {}
    for name, path in candidates:
        if str(path).endswith(".h5"):
            trained.load_weights(path)
            src = trained
        else:
            src = load_model_file(path)
        copy_weights(src, target)
        acc = evaluate(target, data.val).accuracy
        scores[name] = float(acc)
        print(f"  {name}: PublicTest {acc:.4f}", flush=True)
        if acc > best[1]:
            best = (name, acc, [w.copy() for w in target.get_weights()])
    target.set_weights(best[2])
    return target, best[0], scores


def precise_batchnorm(model, data, before: float | None = None) -> tuple["keras.Model", dict]:
    """Try ``emolib.train.recalibrate_batchnorm`` on a copy of the network with every training face; keep the copy
    when its PublicTest accuracy (network alone) is higher than ``before`` (measured here if not given).
    Returns the network kept and the figures."""
    import time

    import keras

    from .evaluate import evaluate
    from .train import recalibrate_batchnorm

    before = float(evaluate(model, data.val).accuracy) if before is None else before
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    t0 = time.time()
    recalibrate_batchnorm(copy, data.train.images)
    seconds = time.time() - t0
    after = float(evaluate(copy, data.val).accuracy)
    info = dict(images=len(data.train.images), seconds=round(seconds), public_test_before=round(before, 4),
                public_test_after=round(after, 4), kept=after > before, measured_on=cpu_name())
    print(f"precise BatchNorm: {info}", flush=True)
    return (copy if after > before else model), info


def check_runs(runs: list[Path]) -> None:
    """Raise :class:`ShipError` naming the first folder that does not hold a finished run, and what it lacks."""
    for run in runs:
        missing = [f for f in ("result.json", "config.json", "best.keras") if not (Path(run) / f).is_file()]
        if missing:
            raise ShipError(f"{run} is not a finished training run (missing {', '.join(missing)})")


def summarize(runs: Path | list[Path], data, shipped_file: Path | None = None, tta: str | int = "auto",
              precise_bn: bool = True) -> dict:
    """Select each run's weights on PublicTest, try :func:`precise_batchnorm` on each (``precise_bn``), average
    several runs' networks (``ensemble``), then :func:`finish`: test-time views, export, and the exported file
    measured on raw pixels."""
    from .evaluate import evaluate
    from .models import ensemble

    runs = [runs] if isinstance(runs, Path) else list(runs)
    picked = []  # (run, result.json, config.json, model, chosen, scores) per run
    bn_info: dict[str, dict] = {}  # per run
    for run in runs:
        print(f"{run}:", flush=True)
        model, chosen, scores = select_on_public_test(run, data)
        if precise_bn:
            model, bn_info[str(run)] = precise_batchnorm(model, data, before=scores[chosen])
        picked.append((run, json.loads((run / "result.json").read_text()),
                       json.loads((run / "config.json").read_text()), model, chosen, scores))
    nets = [p[3] for p in picked]
    model = nets[0] if len(nets) == 1 else ensemble(nets, name="emonet_ensemble")
    measured = finish(model, data, shipped_file, tta)
    if len(picked) > 1:
        measured["without_tta_inside"]["members_public_test"] = [
            round(float(evaluate(m, data.val).accuracy), 4) for m in nets]
    runs_info = []
    for run, res, cfg, _m, chosen, scores in picked:
        best_epoch = int(chosen.split("-")[1]) if chosen.startswith("epoch-") else res["best_epoch"]
        if chosen == "last.keras":
            best_epoch = res["epochs_run"]
        runs_info.append(dict(run=str(run), epochs=res["epochs_run"], best_epoch=best_epoch, chosen=chosen,
                              wall_time_min=round(res["wall_time_s"] / 60, 1), seed=res["seed"], params=res["params"],
                              candidate_scores=scores))
    first = runs_info[0]
    res, cfg = picked[0][1], picked[0][2]
    # an ensemble's members train side by side: the wall clock is the longest member's
    return dict(measured, name=model.name, arch=res["arch"], params=sum(r["params"] for r in runs_info),
                epochs=max(r["epochs"] for r in runs_info), best_epoch=first["best_epoch"], chosen=first["chosen"],
                wall_time_min=max(r["wall_time_min"] for r in runs_info), seed=res["seed"], config=cfg,
                candidate_scores=first["candidate_scores"], members=runs_info if len(runs_info) > 1 else [],
                **({"precise_bn": bn_info[str(runs[0])]} if bn_info else {}))


